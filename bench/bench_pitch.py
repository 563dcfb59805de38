"""Pitch geometry costs per frame: template render, homography fit, warp to 960 x 540.

Run: .venv/bin/python bench/bench_pitch.py
"""
import time

import cv2
import numpy as np

from kit import pitch


def timed(fn, n):
    fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e3


def main():
    cv2.setNumThreads(2)
    src = np.float32([[0, 0], [1050, 0], [1050, 680], [0, 680]])
    dst = np.float32([[200, 120], [900, 110], [1150, 600], [-150, 620]])
    H = cv2.getPerspectiveTransform(src, dst)
    kps = pitch.project_keypoints(H, 960, 540)

    def render():
        pitch._template.cache_clear()
        pitch.render_template()

    r = timed(render, 20)
    f = timed(lambda: pitch.fit_homography(kps), 500)
    w = timed(lambda: pitch.warp_template(H, 960, 540), 200)
    p = timed(lambda: pitch.project_keypoints(H, 960, 540), 500)
    print(f"template render (uncached) {r:8.3f} ms")
    print(f"homography fit             {f:8.3f} ms")
    print(f"keypoint projection        {p:8.3f} ms")
    print(f"warp to 960x540            {w:8.3f} ms")
    print(f"fit+warp per frame         {f + w:8.3f} ms  -> {750 * (f + w) / 1e3:.2f} s for a 750-frame clip")
    print(f"ratio render/warp          {r / w:8.2f}x (why the template is cached)")


if __name__ == "__main__":
    main()
