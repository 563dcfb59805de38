"""Per-frame cost of each challenge mode in the validator's chute, against plain predict_batch.

The bundle is dry-run in the validator's own chute template under the real chutes runtime
(`kit.chute.dryrun`); a synthetic clip is sent as a validator sends it, once as a video url
and once as frames (base64 PNGs in the body; then again as frame urls only). Each whole HTTP
call is timed and divided by its frame count, and set against the miner's own
`predict_batch` time per frame on the same frames in this process (`kit.bundle.predict_video`).
The difference is what the chute adds: download, decode (video or PNG), JSON, HTTP.

Run: .venv/bin/python bench/bench_predict_path.py [--frames 250] [--frames-in-body 64] [--json]
"""
import argparse
import json
import tempfile
from pathlib import Path

from kit.bundle import package, predict_video
from kit.chute.dryrun import DryRun
from kit.chute.rehearse import rehearse
from kit.synth import generate_clip


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=250, help="frames of the clip (video mode)")
    ap.add_argument("--frames-in-body", type=int, default=64, help="frames sent in frames mode")
    ap.add_argument("--seed", type=int, default=6060)
    ap.add_argument("--bundle", help="default: the committed reference models, packaged")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        video, _ = generate_clip(Path(tmp) / "clips", n_frames=a.frames, seed=a.seed)
        bundle = Path(a.bundle) if a.bundle else package(f"{tmp}/bundle")
        local = predict_video(bundle, video)
        plain_ms = 1000.0 * sum(local.batch_seconds) / a.frames
        with DryRun(bundle) as run:
            rehearse(run.base_url, video, mode="frames", n_frames=4)   # warm-up: first-call allocations
            runs = {"video": rehearse(run.base_url, video, mode="video"),
                    "frames (base64 PNG)": rehearse(run.base_url, video, mode="frames", n_frames=a.frames_in_body),
                    "frames (urls only)": _urls_only(run.base_url, video, a.frames_in_body)}
    out = {"frames": a.frames, "frames_in_body": a.frames_in_body,
           "plain_predict_batch_ms_per_frame": round(plain_ms, 2),
           "modes": {k: {"ok": r.ok, "seconds": round(r.seconds, 3), "ms_per_frame": round(r.ms_per_frame, 2),
                         "overhead_ms_per_frame": round(r.ms_per_frame - plain_ms, 2),
                         "ratio_to_plain": round(r.ms_per_frame / plain_ms, 3)} for k, r in runs.items()}}
    if a.json:
        print(json.dumps(out, indent=2))
        return
    print(f"plain predict_batch: {plain_ms:.1f} ms per frame ({a.frames} frames, batches of 64, in process)")
    for k, m in out["modes"].items():
        print(f"  {k:<20} {m['ms_per_frame']:7.1f} ms per frame  (+{m['overhead_ms_per_frame']:.1f} ms, "
              f"x{m['ratio_to_plain']:.3f})  ok={m['ok']}")


def _urls_only(base_url, video, n):
    """Frames mode with each frame's url and no data: the chute fetches every PNG itself."""
    from kit.chute.dryrun import ClipServer
    from kit.chute.rehearse import Rehearsal, frames_challenge_for, post_challenge

    with ClipServer(video.parent) as server:
        body = frames_challenge_for(video, n, server=server, with_data=False)
        status, answer, seconds = post_challenge(base_url, body)
    return Rehearsal(status, answer, seconds, body, "frames")


if __name__ == "__main__":
    main()
