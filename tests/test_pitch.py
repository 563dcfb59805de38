import cv2
import numpy as np
import pytest

from kit import pitch


def test_template_shape_and_colours():
    t = pitch.render_template()
    assert t.shape == (680, 1050, 3) and t.dtype == np.uint8
    colours = np.unique(t.reshape(-1, 3), axis=0)
    assert {tuple(c) for c in colours} == {pitch.GROUND_BGR, pitch.LINE_BGR}
    with pytest.raises(ValueError):
        t[0, 0] = 0  # cached and read-only


def test_line_mask_matches_the_validator_template(reference_template):
    ref = cv2.cvtColor(reference_template, cv2.COLOR_BGR2GRAY)
    ours = cv2.cvtColor(pitch.render_template(), cv2.COLOR_BGR2GRAY)
    r, o = ref > 200, ours > 200
    iou = (r & o).sum() / (r | o).sum()
    assert iou >= 0.95, f"white-line IoU with the reference template is {iou:.4f}"
    # the ground mask (grey > 10) is what the validator's ground rules read: identical
    assert np.array_equal(ref > 10, ours > 10)


def test_template_is_pixel_identical_to_the_reference(reference_template):
    # one pixel decides the square-blob rule on some frames, so the kit aims at exact
    diff = (reference_template != pitch.render_template()).any(axis=2)
    assert diff.sum() == 0, f"{diff.sum()} pixels differ, first at {np.argwhere(diff)[:3].tolist()}"


def test_every_keypoint_sits_on_a_painted_marking():
    dist = cv2.distanceTransform((~pitch.line_mask()).astype(np.uint8), cv2.DIST_L2, 5)
    for kid, (x, y) in enumerate(pitch.KEYPOINTS, start=1):
        assert dist[int(y), int(x)] <= 3.5, f"keypoint {kid} ({x}, {y}) is {dist[int(y), int(x)]:.1f} px off the lines"


def test_keypoint_table_matches_design():
    k = pitch.KEYPOINTS
    assert k.shape == (32, 2)
    assert (tuple(k[0]) == (5, 5) and tuple(k[5]) == (5, 675)
            and tuple(k[24]) == (1045, 5) and tuple(k[29]) == (1045, 675))
    assert tuple(k[8]) == (110, 340) and tuple(k[21]) == (940, 340)
    assert tuple(k[30]) == (435, 340) and tuple(k[31]) == (615, 340)
    assert set(pitch.KEYPOINT_NAMES) == set(range(1, 33))


def test_flip_map_is_a_mirror_involution():
    f = np.array(pitch.FLIP_IDX)
    assert sorted(f) == list(range(32))
    assert np.array_equal(f[f], np.arange(32))
    # corners swap left and right, the halfway line stays put
    assert f[0] == 24 and f[5] == 29 and f[8] == 21 and f[30] == 31
    assert all(f[i] == i for i in (13, 14, 15, 16))
    mirrored = pitch.KEYPOINTS.copy()
    mirrored[:, 0] = pitch.TEMPLATE_W - mirrored[:, 0]
    assert np.abs(mirrored - pitch.KEYPOINTS[f]).max() <= 8


def camera():
    """A plausible broadcast view: the template squeezed into perspective."""
    src = np.float32([[0, 0], [1050, 0], [1050, 680], [0, 680]])
    dst = np.float32([[200, 120], [900, 110], [1150, 600], [-150, 620]])
    return cv2.getPerspectiveTransform(src, dst)


def test_fit_homography_recovers_the_camera():
    H = camera()
    kps = pitch.project_keypoints(H, 960, 540)
    vis = pitch.visible_mask(kps)
    assert 4 <= vis.sum() < 32  # some points leave the frame and become (0, 0)
    fitted = pitch.fit_homography(kps)
    proj = pitch.project(fitted, pitch.KEYPOINTS[vis])
    assert np.abs(proj - np.asarray(kps)[vis]).max() < 1.5  # integer rounding only
    back = pitch.unproject(fitted, np.asarray(kps, float)[vis])
    assert np.abs(back - pitch.KEYPOINTS[vis]).max() < 3


def test_fit_homography_needs_four_points():
    kps = [[0, 0]] * 32
    assert pitch.fit_homography(kps) is None
    kps = [[0, 0]] * 29 + [[10, 10], [20, 30], [40, 50]]
    assert pitch.fit_homography(kps) is None
    with pytest.raises(ValueError, match="expected 32 keypoints"):
        pitch.fit_homography([[1, 1]] * 31)


def test_project_keypoints_marks_outside_points_invisible():
    H = np.array([[1.0, 0, -500], [0, 1.0, 0], [0, 0, 1]])  # shift left by 500 px
    kps = pitch.project_keypoints(H, 960, 540)
    assert kps[0] == [0, 0]                       # x = -495: outside
    assert kps[24] == [545, 5]                    # top-right corner inside
    assert kps[5] == [0, 0]                       # bottom-left: outside


def test_warp_template_identity_is_the_template():
    warped = pitch.warp_template(np.eye(3), 1050, 680)
    assert np.array_equal(warped, pitch.render_template())


def test_outline_polylines_lie_on_the_lines():
    mask = pitch.line_mask()
    dist = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5)
    for poly in pitch.outline_polylines():
        for x, y in poly:
            xi, yi = min(int(round(x)), 1049), min(int(round(y)), 679)
            assert dist[yi, xi] <= 3.5


def test_numbered_drawing():
    img = pitch.draw_numbered_template(scale=0.5, margin=20)
    assert img.shape == (int(round((680 + 40) * 0.5)), int(round((1050 + 40) * 0.5)), 3)
    # markers are red: the drawing has pixels the plain template does not
    assert ((img[:, :, 2] > 180) & (img[:, :, 1] < 80)).sum() > 32 * 20


def test_line_blobs_match_the_reference(reference_template):
    """The square-blob rule looks at separate line blobs, so their layout must match exactly."""
    def blobs(mask):
        _, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
        return sorted(tuple(int(v) for v in s[:4]) for s in stats[1:])

    ref = cv2.cvtColor(reference_template, cv2.COLOR_BGR2GRAY) > 200
    assert blobs(pitch.line_mask()) == blobs(ref)
