"""Synthetic football broadcast clips with exact ground truth.

A miner needs labelled frames before it has real ones, and the validator's keypoint metric
(SCORING.md, "floor markings alignment") rewards keypoints only when the homography they
define lays the template's white lines onto lines that are really in the picture. So this
generator paints the pitch from the template geometry of `kit.pitch` itself and projects
it through one known homography per frame: the keypoints of the ground truth are
`kit.pitch.project_keypoints` of that homography, and the painted lines are where the
metric expects them, by construction.

One clip is built in layers, each a module of this package:

- camera model (`camera`): a pinhole camera high behind the near touchline, looking across the pitch;
  pan, tilt and zoom follow the ball like a broadcast operator, with lag and inertia;
- pitch (`field`): a top-down grass texture (mowing stripes, wear, grain) in template coordinates,
  warped with one `cv2.warpPerspective`; the markings are the template's line bands,
  projected as exact polygons (a straight band stays a straight band under a homography,
  so widths are perspective-correct) and filled anti-aliased on a supersampled mask;
- stadium (`stadium`): advertising boards, stands, goals and corner flags, all textured planes in 3D
  projected by the same camera;
- people (`people`: kits and sprites; `match`: the roster and the play): 20 players in two
  kits, 2 goalkeepers, 1-3 referees and a ball, moved by a small match simulation
  (formations that shift with the ball, passes on the ground and in the air, pressing),
  drawn from a cache of pre-rendered sprites in painter's order;
- degradation (`render`, which paints the layers in order): motion blur from the camera
  motion, softness, light, sensor noise, JPEG;
- ground truth (`render`): boxes of each object's drawn extent, keypoints from the homography;
  files and the public entries in `clips`, the difficulty presets and the argument check in
  `presets`.

Ground truth, as DESIGN.md defines it, with these decisions:

- a box is the drawn extent of the object's sprite (a player's contact shadow included),
  clipped to the frame, widened by half the motion-blur smear of a degraded frame;
- partial occlusion keeps the whole (amodal) box; an object with less than
  `MIN_VISIBLE_SHARE` of its pixels visible (hidden behind others, or mostly out of the
  frame) gets no box: a detector should not be taught to find what cannot be seen;
- players carry team 1 or 2; goalkeepers, referees and the ball carry no team (the
  validator's team metric reads players only, and the wire format has no team for cls 1);
- track ids are stable over the clip: 0 the ball, 1-10 and 11-20 the two teams' players,
  21 and 22 the goalkeepers, 23-25 the referees;
- keypoints are `kit.pitch.project_keypoints(H)` of the frame's homography H.

Everything random flows from one seed through `numpy.random.SeedSequence`, so the same
seed gives the same frames and a bit-identical JSON:

    from kit.synth import generate_clip, render_frames
    video, truth = generate_clip("data/synth", index=0, n_frames=250, seed=7)
    for frame_bgr, gt_frame in render_frames(10, seed=7): ...

Units: the world is measured in template pixels (1 px = 10 cm, the template being the
105 x 68 m pitch at 1050 x 680); X runs along the far touchline, Y from the far touchline
towards the camera (template y), Z up. Frame pixels follow OpenCV's convention: integer
coordinates are pixel centres, as in `warpPerspective` and the keypoints.

Usage: from kit.synth import generate_clip; video, truth = generate_clip("data/synth", seed=7)
"""

from __future__ import annotations

from .camera import Camera
from .clips import clip_seed, generate_clip, generate_clips, render_frames
from .field import fill_shapes, line_bands
from .match import BALL_RADIUS, BALL_TRACK_ID, Person, Track, roster, simulate
from .people import N_POSES, REF_BODY_PX, STANDING, Kit, Look, SpriteBank
from .presets import DIFFICULTIES, MAX_SIDE, MIN_HEIGHT, MIN_VISIBLE_SHARE, MIN_WIDTH, PRESETS, Difficulty
from .render import ClipRenderer

# the public names of kit.synth before it became a package, then the rest of each part's public names
__all__ = [
    "DIFFICULTIES", "Difficulty", "ClipRenderer", "clip_seed", "render_frames", "generate_clip", "generate_clips",
    "Camera", "fill_shapes", "line_bands", "BALL_RADIUS", "BALL_TRACK_ID", "Person", "Track", "roster", "simulate",
    "N_POSES", "REF_BODY_PX", "STANDING", "Kit", "Look", "SpriteBank", "MAX_SIDE", "MIN_HEIGHT", "MIN_VISIBLE_SHARE",
    "MIN_WIDTH", "PRESETS",
]

# The three helpers the tests reach by the private spellings they had in the single-file kit/synth.py.
_fill_shapes, _line_bands, _roster = fill_shapes, line_bands, roster
