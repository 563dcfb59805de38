"""A Detect (image) element's dry run: its photos, as the validator sends them, to the official chute here.

Usage:
    r = dry_run_images("build/fire", element, images=None)   # or `tvkit dry-run --bundle B --element ID`
    print(format_image_dry_run(r)); r.ok                      # PASS, or why not

For each photo (up to `max_images`, the element's test photos by default:
`kit.images.predict.element_images`) the chute, started by `kit.chute.dryrun.DryRun` under the
real chutes runtime with the unchanged template, gets the two bodies upstream can build for
a Detect challenge (scorevision/utils/challenges.py at ea7412f):

- `image_url` (:456-521): frame 0 with the photo's url (served from 127.0.0.1) and its
  base64 PNG, meta n_frames_total 1, min_frames_required 1, the element's challenge_type_id;
- `payload` (:337-444): the photo as a payload frame under an API id (1, 2, ...: the answer
  must carry the payload's id, not the miner's offset), base64 PNG only.

A challenge passes when the chute answers HTTP 200, `success: true`, one frame with the
payload's id, boxes inside the photo and cls_ids inside the element's objects
(`kit.contract.validate_answer`), and its boxes are the ones the bundle's miner gives in
this process for the same photo (`kit.images.predict`), judged with the compliance loop's
own parity rule (mean same-class IoU >= 0.95, `kit.comply.parity`): the validator bans a
miner whose CPU re-run disagrees with the chute's answers.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import KitError

DEFAULT_MAX_IMAGES = 3


@dataclass
class ImageCheck:
    """One challenge: the chute's reply, and how it compares with the in-process answer."""

    image: str
    source: str
    rehearsal: Any                 # kit.chute.rehearse.Rehearsal
    parity_ok: bool = False
    parity: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.rehearsal.ok and self.parity_ok

    def why(self) -> str | None:
        r = self.rehearsal
        if not r.ok:
            err = r.answer.get("error") if isinstance(r.answer, dict) else None
            return err or "; ".join(r.problems[:3]) or f"HTTP {r.status}"
        if not self.parity_ok and "mean_iou" not in self.parity:
            return self.parity.get("reason") or "no parity check"
        if not self.parity_ok:
            return (f"the chute's boxes differ from the miner's in process (mean IoU "
                    f"{self.parity.get('mean_iou', 0):.3f} < 0.95; {self.parity.get('reason') or 'iou_mismatch'})")
        return None


@dataclass
class ImageDryRun:
    element: str
    bundle: str
    checks: list[ImageCheck]
    health: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def metrics(self) -> dict[str, Any]:
        return {"dry_run_ok": self.ok, "dry_run_challenges": len(self.checks),
                "dry_run_failed": sum(not c.ok for c in self.checks)}


def _serve_copies(paths: list[Path], folder: Path) -> list[Path]:
    """The photos linked (or copied) into one folder a ClipServer can serve."""
    out = []
    for i, p in enumerate(paths):
        dest = folder / f"{i:03d}-{p.name}"
        try:
            os.link(p, dest)
        except OSError:
            shutil.copy2(p, dest)
        out.append(dest)
    return out


def _check(run_url: str, photo: Path, served: Path, server: Any, element: Any, source: str, fid: int,
           local: dict[str, Any]) -> ImageCheck:
    from ..comply.parity import compare_frames
    from .rehearse import rehearse_image

    url = server.url(served) if source == "image_url" else None
    r = rehearse_image(run_url, photo, element, source, url=url, frame_id=fid)
    check = ImageCheck(photo.name, source, r)
    if r.ok and local.get("success"):
        chute_frames = r.answer["predictions"]["frames"]
        mine = [dict(f, frame_id=chute_frames[0]["frame_id"]) for f in local["predictions"]["frames"]]
        check.parity_ok, check.parity = compare_frames(chute_frames, mine)
    elif not local.get("success"):
        check.parity = {"reason": f"the miner fails in this process: {local.get('error')}"}
    return check


def dry_run_images(bundle: str | os.PathLike, element: Any, images: Any = None, max_images: int = DEFAULT_MAX_IMAGES,
                   template: str | os.PathLike | None = None, port: int | None = None) -> ImageDryRun:
    """Serve `bundle` in the official chute and send it each photo as an image_url and a payload challenge.

    Args:
        element: the image element (an `Element`); its objects and challenge_type_id apply.
        images: a folder, photo or list of them (default: the element's test photos).
        max_images: photos to send (two challenges each).
    Returns:
        ImageDryRun: `.ok`, `.checks` (one per challenge, each with `.why()`), `.health`.
    Raises:
        KitError: no photos, or a chute that does not start (with the chute's own reason).

    >>> r = dry_run_images("build/fire", manifest.element("manak0/Detect-fire"))
    >>> r.ok, len(r.checks)
    (True, 6)
    """
    from ..images.predict import element_images, find_images, predict_images
    from .dryrun import ClipServer, DryRun

    if getattr(element, "kind", None) != "image":
        raise KitError(f"element {getattr(element, 'id', element)} is not an image element; its dry run sends clips "
                       "(`tvkit test-chute --local`)")
    paths = (find_images(images) if images is not None else element_images(element))[:max(1, max_images)]
    local = predict_images(bundle, paths, element=element.id)
    checks: list[ImageCheck] = []
    with tempfile.TemporaryDirectory(prefix="tvkit-dry-images-") as tmp:
        served = _serve_copies(paths, Path(tmp))
        with ClipServer(tmp) as server, DryRun(bundle, port=port, template=template) as run:
            for i, (photo, copy) in enumerate(zip(paths, served)):
                for source, fid in (("image_url", 0), ("payload", i + 1)):
                    checks.append(_check(run.base_url, photo, copy, server, element, source, fid,
                                         local.answers[photo.name]))
            health = dict(run.health)
    return ImageDryRun(element.id, str(bundle), checks, health)


def format_image_dry_run(r: ImageDryRun) -> str:
    lines = [f"dry run of {r.bundle} for {r.element} in the validator's chute: {len(r.checks)} image challenges"]
    for c in r.checks:
        rh = c.rehearsal
        n = len(rh.answer["predictions"]["frames"][0].get("boxes") or []) if rh.ok else 0
        tail = (f"{n} boxes, contract ok, same boxes as in process (mean IoU {c.parity.get('mean_iou', 1.0):.3f})"
                if c.ok else f"NOT OK: {c.why()}")
        lines.append(f"  {c.source:<9} {c.image}: HTTP {rh.status} in {rh.seconds * 1000:.0f} ms, {tail}")
    bad = [c for c in r.checks if not c.ok]
    lines.append("dry run: PASS" if r.ok else f"dry run: FAIL ({len(bad)} of {len(r.checks)} challenges): "
                 f"{bad[0].source} {bad[0].image}: {bad[0].why()}" if bad else "dry run: FAIL (no challenge sent)")
    return "\n".join(lines)
