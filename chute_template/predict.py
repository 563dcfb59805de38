"""Chute piece 3 of 3, predict: one validator challenge in, one answer out.

`answer_challenge(miner, body)` is the whole `/predict` path:
1. read the body: `{"url": <mp4 url>, "meta": {"batch_size", "n_keypoints", "n_frames_total", ...}}`;
2. download the clip to a temporary file (streamed, size-capped, timed out);
3. decode it with OpenCV in batches of `meta.batch_size` and call
   `miner.predict_batch(frames, offset, n_keypoints)` on each;
4. answer `{"success": true, "predictions": {"frames": [...]}, "error": null}` with one entry
   per frame of the video, frame ids 0..n-1, or `{"success": false, "predictions": null,
   "error": "..."}` saying what was wrong. The temporary file is always removed.

It never raises: a bad body, an unreachable URL, bytes that are not a video, an empty or an
oversized video each become `success: false`, and the chute keeps serving. Per-stage
seconds (download, decode, inference, serialise) are returned beside the answer for the
chute's log and the kit's benchmark; they are not part of the answer.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from typing import Any

MAX_VIDEO_BYTES = 1 << 30      # 1 GiB: a 750-frame challenge clip is a few MB
MAX_FRAMES = 9000              # 6 minutes at 25 fps; challenges are ~750 frames
DOWNLOAD_TIMEOUT_S = 60.0
CHUNK = 1 << 20


class ChallengeError(ValueError):
    """A challenge this chute cannot answer; the message goes into the answer's `error`."""


def read_challenge(body: Any) -> tuple[str, dict[str, Any]]:
    """The url and meta of a challenge body, with meta's defaults; ChallengeError if malformed."""
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except ValueError as e:
            raise ChallengeError(f"the body is not JSON ({e})") from e
    if not isinstance(body, dict):
        raise ChallengeError(f"the body must be a JSON object with url and meta, got {type(body).__name__}")
    url = body.get("url")
    if not isinstance(url, str) or not url.strip():
        raise ChallengeError("the body has no 'url' (the challenge video's http(s) address)")
    if not url.lower().startswith(("http://", "https://")):
        raise ChallengeError(f"url {url[:80]!r} is not http(s)")
    meta = body.get("meta")
    meta = {} if meta is None else meta
    if not isinstance(meta, dict):
        raise ChallengeError("'meta' must be an object")
    out = dict(meta)
    for key, default, low, high in (("batch_size", 64, 1, 512), ("n_keypoints", 32, 1, 1000)):
        value = meta.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ChallengeError(f"meta.{key} must be an integer in [{low}, {high}], got {value!r}")
        out[key] = value
    return url.strip(), out


def download(url: str, folder: str, timeout: float = DOWNLOAD_TIMEOUT_S, max_bytes: int = MAX_VIDEO_BYTES) -> str:
    """Stream `url` into a file in `folder`; ChallengeError if unreachable, failing or too large."""
    path = os.path.join(folder, "challenge.mp4")
    request = urllib.request.Request(url, headers={"User-Agent": "turbovision-chute"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, open(path, "wb") as out:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise ChallengeError(f"the video is {int(declared) / 2**20:.0f} MiB, over the "
                                     f"{max_bytes / 2**20:.0f} MiB this chute accepts")
            got = 0
            while chunk := response.read(CHUNK):
                got += len(chunk)
                if got > max_bytes:
                    raise ChallengeError(f"the video is over the {max_bytes / 2**20:.0f} MiB this chute accepts")
                out.write(chunk)
    except ChallengeError:
        raise
    except urllib.error.HTTPError as e:
        raise ChallengeError(f"downloading the video failed: HTTP {e.code} {e.reason}") from e
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise ChallengeError(f"cannot download the video: {reason}") from e
    if got == 0:
        raise ChallengeError("the video URL answered 0 bytes")
    return path


def predict_video(miner: Any, path: str, batch_size: int, n_keypoints: int,
                  timings: dict[str, float]) -> list[dict[str, Any]]:
    """Decode `path` in batches and run the miner; one result per frame, ids 0..n-1."""
    import cv2

    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise ChallengeError(f"the downloaded file ({os.path.getsize(path)} bytes) is not a video OpenCV can open: "
                             "not a video at all, or a video with no frames")
    try:
        declared = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if declared > MAX_FRAMES:
            raise ChallengeError(f"the video has {declared} frames, over the {MAX_FRAMES} this chute accepts")
        frames: list[dict[str, Any]] = []
        batch: list = []
        while True:
            t0 = time.perf_counter()
            ok, frame = cap.read()
            timings["decode"] += time.perf_counter() - t0
            if ok:
                batch.append(frame)
            if batch and (len(batch) == batch_size or not ok):
                t0 = time.perf_counter()
                out = miner.predict_batch(batch, len(frames), n_keypoints)
                timings["inference"] += time.perf_counter() - t0
                if not isinstance(out, list) or len(out) != len(batch):
                    raise ChallengeError(f"predict_batch returned {len(out) if isinstance(out, list) else 'no list'}"
                                         f" results for a batch of {len(batch)} frames")
                frames += out
                batch = []
                if len(frames) > MAX_FRAMES:
                    raise ChallengeError(f"the video has more than {MAX_FRAMES} frames, the most this chute accepts")
            if not ok:
                break
    finally:
        cap.release()
    if not frames:
        raise ChallengeError("the video has no frame OpenCV can decode")
    # The validator counts frames with OpenCV's frame count: frames that would not decode at
    # the end still need an entry, or the whole answer is gated to 0.
    empty = [[0, 0] for _ in range(n_keypoints)]
    frames += [{"frame_id": i, "boxes": [], "keypoints": [list(p) for p in empty]}
               for i in range(len(frames), min(declared, MAX_FRAMES))]
    return frames


def answer_challenge(miner: Any, body: Any) -> tuple[dict[str, Any], dict[str, float]]:
    """The `/predict` answer for a challenge body, and seconds per stage. Never raises."""
    timings = {"download": 0.0, "decode": 0.0, "inference": 0.0, "serialise": 0.0}
    folder = tempfile.mkdtemp(prefix="turbovision-challenge-")
    try:
        url, meta = read_challenge(body)
        t0 = time.perf_counter()
        path = download(url, folder)
        timings["download"] = time.perf_counter() - t0
        frames = predict_video(miner, path, meta["batch_size"], meta["n_keypoints"], timings)
        t0 = time.perf_counter()
        answer = {"success": True, "predictions": {"frames": _plain(frames)}, "error": None}
        json.dumps(answer)  # fail here, not in the server, if something is not JSON
        timings["serialise"] = time.perf_counter() - t0
        return answer, timings
    except ChallengeError as e:
        return {"success": False, "predictions": None, "error": str(e)}, timings
    except Exception as e:  # the miner's own failure: report it, keep serving
        return {"success": False, "predictions": None, "error": f"{type(e).__name__}: {e}"}, timings
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _plain(value: Any) -> Any:
    """numpy scalars and arrays to plain Python, so the answer is JSON as the contract says."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    return value
