"""The validator's side of a challenge, against any running chute: ping, post, check, score.

Usage:
    r = rehearse("http://127.0.0.1:8000", "clip.mp4", "clip.json", mode="frames")
    print(format_rehearsal(r))

`rehearse(base_url, video, truth, mode=...)` does what a validator does with one clip, in
either challenge mode (upstream scorevision/utils/challenges.py:325):
- `video`: the body carries the clip's url (served from 127.0.0.1 when the chute runs here);
- `frames`: a window of the clip's frames as base64 PNGs in `frames[]`, with their urls too
  when `frame_urls=True` (each frame then also served as a PNG), `frames_source: payload`
  and `min_frames_required`; the answer's frame ids are those frames' numbers in the clip.
Then it POSTs to `/predict` with `Authorization: Bearer <key>`, times the whole call, checks
the answer against the contract (frame ids, the element's objects, teams, keypoints) and,
with ground truth, scores it with the kit's evaluator.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlparse

from .. import KitError
from ..settings import Secret

PREDICT_TIMEOUT_S = 600.0
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "0.0.0.0")


def _headers(api_key: Secret | str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if api_key:
        value = api_key.reveal() if isinstance(api_key, Secret) else str(api_key)
        headers["Authorization"] = f"Bearer {value}"
    return headers


def _check_url(base_url: str) -> str:
    parsed = urlparse(base_url or "")
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise KitError(f"chute URL {base_url!r} is not http(s)://host[:port]; a dry run prints it "
                       "(e.g. http://127.0.0.1:8000)")
    return base_url.rstrip("/")


def ping(base_url: str, api_key: Secret | str | None = None, timeout: float = 10.0) -> dict[str, Any]:
    """POST /health; the chute's health object (status, model_loaded, memory_gb, cuda)."""
    import httpx

    from ..contract import validate_health

    url = f"{_check_url(base_url)}/health"
    try:
        r = httpx.post(url, json={}, headers=_headers(api_key), timeout=timeout)
    except httpx.HTTPError as e:
        raise KitError(f"{url}: no answer ({type(e).__name__}: {e}); is the chute running?") from e
    if r.status_code != 200:
        raise KitError(f"{url}: HTTP {r.status_code}: {r.text[:300]}")
    try:
        health = r.json()
    except ValueError as e:
        raise KitError(f"{url}: the answer is not JSON: {r.text[:300]!r}") from e
    problems = validate_health(health)
    if problems:
        raise KitError(f"{url}: the health answer breaks the contract: " + "; ".join(map(str, problems)))
    return health


ChallengeMode = Literal["video", "frames"]
CHALLENGE_MODES: tuple[str, ...] = get_args(ChallengeMode)


def challenge_for(video: str | os.PathLike, url: str, task_id: int | str | None = 1, seed: int | None = None,
                  batch_size: int = 64) -> dict[str, Any]:
    """The validator's video-mode body for a local clip served at `url` (frame count as OpenCV reads it)."""
    from ..contract import build_challenge
    from ..datasets import VideoReader

    with VideoReader(video) as reader:
        info = reader.info()
    return build_challenge(url, width=info.width, height=info.height, fps=info.fps, n_frames=info.n_frames,
                           task_id=task_id, seed=seed, batch_size=batch_size)


def frames_challenge_for(video: str | os.PathLike, n_frames: int | None = None, start: int = 0,
                         server: Any | None = None, with_data: bool = True, task_id: int | str | None = 1,
                         seed: int | None = None, batch_size: int = 64) -> dict[str, Any]:
    """The frames-mode body for `n_frames` consecutive frames of a local clip from `start` (all by default).

    With `server` (a `ClipServer`), each frame is also written beside the clip as a PNG and sent
    with its url, as validators do for frames that have one; `with_data=False` sends urls only.
    """
    import cv2

    from ..contract import build_frames_challenge
    from ..datasets import VideoReader

    video = Path(video)
    with VideoReader(video) as reader:
        total = reader.info().n_frames
        stop = total if n_frames is None else start + n_frames
        picked = [(fid, frame) for fid, frame in reader.frames() if start <= fid < stop]
    if not picked:
        raise KitError(f"{video}: no frames in {start}..{stop - 1} (the clip has {total})")
    urls = {}
    if server is not None:
        folder = server.folder / f".{video.stem}-frames"
        folder.mkdir(exist_ok=True)
        for fid, frame in picked:
            cv2.imwrite(str(folder / f"{fid:06d}.png"), frame)
            urls[fid] = server.url(folder / f"{fid:06d}.png")
    return build_frames_challenge(picked, n_frames_total=total, urls=urls, with_data=with_data, task_id=task_id,
                                  seed=seed, batch_size=batch_size)


def post_challenge(base_url: str, body: Any, api_key: Secret | str | None = None,
                   timeout: float = PREDICT_TIMEOUT_S) -> tuple[int, Any, float]:
    """POST /predict; (HTTP status, parsed JSON or raw text, seconds the whole call took)."""
    import httpx

    url = f"{_check_url(base_url)}/predict"
    t0 = time.perf_counter()
    try:
        if isinstance(body, (bytes, str)):
            r = httpx.post(url, content=body, headers=_headers(api_key), timeout=timeout)
        else:
            r = httpx.post(url, json=body, headers=_headers(api_key), timeout=timeout)
    except httpx.HTTPError as e:
        raise KitError(f"{url}: no answer ({type(e).__name__}: {e})") from e
    seconds = time.perf_counter() - t0
    try:
        return r.status_code, r.json(), seconds
    except ValueError:
        return r.status_code, r.text, seconds


@dataclass
class Rehearsal:
    """One validator-style call: the answer, its timing, contract problems and the score."""

    status: int
    answer: Any
    seconds: float
    body: dict[str, Any]
    mode: str = "video"
    problems: list[str] = field(default_factory=list)
    scores: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == 200 and isinstance(self.answer, dict) and self.answer.get("success") is True \
            and not self.problems

    @property
    def n_frames(self) -> int:
        frames = self.body.get("frames") or []
        return len(frames) if frames else int(self.body["meta"]["n_frames_total"])

    @property
    def ms_per_frame(self) -> float:
        return 1000.0 * self.seconds / max(self.n_frames, 1)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "ok": self.ok, "mode": self.mode, "seconds": round(self.seconds, 3),
                "frames": self.n_frames, "ms_per_frame": round(self.ms_per_frame, 2), "problems": self.problems[:20],
                "scores": self.scores,
                "error": self.answer.get("error") if isinstance(self.answer, dict) else str(self.answer)[:300]}


def rehearse(base_url: str, video: str | os.PathLike, truth: str | os.PathLike | None = None,
             api_key: Secret | str | None = None, clip_url: str | None = None, seed: int | None = None,
             mode: ChallengeMode = "video", n_frames: int | None = None, frame_urls: bool = False,
             element: Any = None) -> Rehearsal:
    """Send `video` to the chute like a validator, check and (with `truth`) score the answer.

    Args:
        mode: "video" (the clip's url) or "frames" (base64 PNGs in the body).
        n_frames: frames mode: how many frames from the start of the clip (all by default).
        frame_urls: frames mode: also send each frame's url (served from 127.0.0.1).
        element: a `kit.manifest.Element` (or id) to check cls_ids against and score for.

    Returns:
        `Rehearsal`: `.ok`, `.answer`, `.seconds`, `.ms_per_frame`, `.problems`, `.scores`.

    >>> r = rehearse(run.base_url, "clip.mp4", "clip.json", mode="frames", n_frames=16)
    >>> r.ok, len(r.answer["predictions"]["frames"])
    (True, 16)
    """
    from ..contract import parse_challenge, validate_answer
    from .dryrun import ClipServer

    if mode not in CHALLENGE_MODES:
        raise KitError(f"challenge mode {mode!r}: expected one of {', '.join(CHALLENGE_MODES)}")
    video = Path(video)
    if not video.is_file():
        raise KitError(f"{video}: no such clip; make one with `tvkit synth --out DIR`")
    base_url = _check_url(base_url)
    local = urlparse(base_url).hostname in LOCAL_HOSTS
    needs_server = (mode == "video" and clip_url is None) or (mode == "frames" and frame_urls)
    if needs_server and not local:
        raise KitError(f"{base_url} is not on this machine, so it cannot fetch {video} from a local server; "
                       "put the clip where the chute can reach it and pass --clip-url URL")
    server = ClipServer(video.parent).start() if needs_server else None
    try:
        if mode == "video":
            body = challenge_for(video, clip_url or server.url(video.resolve()), seed=seed)
        else:
            body = frames_challenge_for(video, n_frames, server=server, seed=seed)
        status, answer, seconds = post_challenge(base_url, body, api_key)
    finally:
        if server is not None:
            server.stop()
    challenge = parse_challenge(body)
    result = Rehearsal(status, answer, seconds, body, mode)
    if status != 200 or not isinstance(answer, dict):
        result.problems.append(f"HTTP {status}: {str(answer)[:300]}")
        return result
    element = _element(element)
    meta = challenge.meta
    result.problems = [str(p) for p in validate_answer(
        answer, meta.n_frames_total, meta.width, meta.height, meta.n_keypoints, frame_ids=challenge.frame_ids,
        n_objects=len(element.objects) if element is not None and element.objects else None)]
    if truth is not None:
        result.scores = _score(answer, truth, video, element, challenge.frame_ids if challenge.frames else None)
    return result


ImageSource = Literal["image_url", "payload"]
IMAGE_SOURCES: tuple[str, ...] = get_args(ImageSource)


def image_challenge_for(image: str | os.PathLike, element: Any = None, frames_source: ImageSource = "image_url",
                        url: str | None = None, frame_id: int = 0, task_id: int | str | None = 1,
                        seed: int | None = None) -> dict[str, Any]:
    """A Detect challenge body for one photo, as upstream builds it (scorevision/utils/challenges.py at
    ea7412f): `image_url` (:456-521): frame 0 with the image's url AND its base64 PNG, meta
    n_frames_total 1, min_frames_required 1; `payload` (:337-444): the frame under the API's id
    (`frame_id`), base64 PNG (and its url when it has one), min_frames_required min(3, 1) = 1. The
    photo is decoded with OpenCV and re-encoded as PNG (lossless), as upstream sends it;
    challenge_type_id is the element's."""
    import cv2

    from ..contract import build_frames_challenge

    if frames_source not in IMAGE_SOURCES:
        raise KitError(f"frames_source {frames_source!r}: expected one of {', '.join(IMAGE_SOURCES)}")
    if frames_source == "image_url" and not url:
        raise KitError("an image_url challenge carries the image's url: pass url= (a ClipServer serves it)")
    img = cv2.imread(str(image), cv2.IMREAD_COLOR)
    if img is None:
        raise KitError(f"{image}: OpenCV cannot read this image")
    fid = 0 if frames_source == "image_url" else int(frame_id)
    element = _element(element)
    return build_frames_challenge([(fid, img)], n_frames_total=1, urls={fid: url} if url else None,
                                  frames_source=frames_source, min_frames_required=1, task_id=task_id, seed=seed,
                                  challenge_type_id=getattr(element, "challenge_type_id", None))


def rehearse_image(base_url: str, image: str | os.PathLike, element: Any, frames_source: ImageSource = "image_url",
                   url: str | None = None, frame_id: int = 0, api_key: Secret | str | None = None,
                   seed: int | None = None) -> Rehearsal:
    """One Detect challenge for `image` to the chute: POST, time, check the answer (one frame with the
    payload's id, boxes inside the photo, cls_ids inside the element's objects)."""
    from ..contract import parse_challenge, validate_answer

    element = _element(element)
    body = image_challenge_for(image, element, frames_source, url, frame_id, seed=seed)
    status, answer, seconds = post_challenge(_check_url(base_url), body, api_key)
    result = Rehearsal(status, answer, seconds, body, f"image ({frames_source})")
    if status != 200 or not isinstance(answer, dict):
        result.problems.append(f"HTTP {status}: {str(answer)[:300]}")
        return result
    meta = parse_challenge(body).meta
    result.problems = [str(p) for p in validate_answer(
        answer, 1, meta.width, meta.height, meta.n_keypoints, frame_ids=[body["frames"][0]["frame_id"]],
        n_objects=len(element.objects) if element is not None and element.objects else None)]
    return result


def _element(element: Any):
    if element is None or not isinstance(element, str):
        return element
    from ..manifest import example_manifest

    return example_manifest().element(element)


def _score(answer: dict[str, Any], truth: str | os.PathLike, video: Path, element: Any,
           frame_ids: list[int] | None) -> dict[str, Any]:
    """The evaluator's flat breakdown; a frames challenge is scored on the frames it sent, as upstream does.

    No latency is passed: the RTF gate reads the p95 of `predict_batch` calls, which a whole
    HTTP call does not measure (`tvkit comply` and `tvkit bench latency` do).
    """
    from dataclasses import replace

    from ..contract import load_ground_truth
    from ..evaluate import evaluate

    gt = load_ground_truth(truth)
    if frame_ids is not None:
        wanted = set(frame_ids)
        gt = replace(gt, frames=[f for f in gt.frames if f.frame_id in wanted])
    gate = {"min_frames_required": len(frame_ids)} if frame_ids is not None else {}
    ev = evaluate(answer, gt, video, elements=[element.id] if element is not None else None, **gate)
    return dict(ev.breakdown)


def format_rehearsal(r: Rehearsal) -> str:
    lines = [f"{r.mode} challenge, {r.n_frames} frames: HTTP {r.status} in {r.seconds:.2f} s "
             f"({r.ms_per_frame:.1f} ms per frame)"]
    if isinstance(r.answer, dict) and r.answer.get("success") is False:
        lines.append(f"success: false, error: {r.answer.get('error')}")
    if r.problems:
        lines.append(f"{len(r.problems)} contract problem(s):")
        lines += [f"  {p}" for p in r.problems[:10]]
    elif r.status == 200:
        lines.append("every frame answered; the answer follows the contract")
    for k, v in r.scores.items():
        if isinstance(v, (int, float)):
            lines.append(f"  {k:<26} {v:.4f}")
    return "\n".join(lines)
