"""The ScoreVision console and the public results bucket on 127.0.0.1, as `tvkit dataset pull` reads them.

  GET /api/v2/elements/{urlencoded id}?lookback_days=N   element detail: element, starterPack.starterAssets[]
                                                        (assetId, imageUrl, annotationUrl, frameIndex, objects,
                                                        annotations [{bbox, className}]); 404 for an unknown id
  GET /files/{path}                                     the asset store (photos, annotation files `class`)
  GET /manako/index.json                                the results index: a list of keys
  GET /manako/{key}                                     evaluation shards (a list of signed lines) and
                                                        responses blobs {video_url, frames, predictions}

The shapes follow detect_elements.md §6.1 (a saved console scrape) and upstream
utils/cloudflare_helpers.py:392-472, 500-600 at ea7412f (the key layout, shard and blob).
`slow(pattern, seconds, times)` delays the next answers on matching paths (a timeout);
`fail(...)` (from StandIn) answers an error status instead.
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import unquote

from .base import Reply, StandIn


class ConsoleStandIn(StandIn):
    routes = [
        ("GET", r"/api/v2/elements/(?P<eid>.+)", "element_detail"),
        ("GET", r"/files/(?P<path>.+)", "file"),
        ("GET", r"/manako/index\.json", "index"),
        ("GET", r"/manako/(?P<key>.+)", "bucket"),
    ]

    def __init__(self):
        super().__init__()
        self.elements: dict[str, dict] = {}
        self.files: dict[str, bytes] = {}
        self.keys: list[str] = []
        self.objects: dict[str, Any] = {}
        self.slow_paths: list[list] = []  # [regex, seconds, times left]

    def slow(self, pattern: str, seconds: float, times: int = 1) -> None:
        with self.lock:
            self.slow_paths.append([pattern, seconds, times])

    def _delay(self, path: str) -> None:
        with self.lock:
            hit = next((s for s in self.slow_paths if s[2] > 0 and re.search(s[0], path)), None)
            if hit:
                hit[2] -= 1
        if hit:
            time.sleep(hit[1])

    # --- what a test puts in ---------------------------------------------------------------------

    def add_element(self, element_id: str, objects: list[str], assets: list[dict]) -> None:
        """`assets`: [{"id", "image": bytes, "annotations": [{bbox, class}], "frame": int,
        "inline": [...] (the console's copy; default the same boxes as `className`)}]."""
        starter = []
        for a in assets:
            img_path = f"files/manako/upcoming/u1/u2/assets/{a['id']}.png"
            ann_path = f"files/manako/upcoming/u1/u2/assets/{a['id']}.json"
            self.files[img_path[len("files/"):]] = a["image"]
            if a.get("annotation_file", True):
                self.files[ann_path[len("files/"):]] = _json_bytes({
                    "annotations": [{**x, "exemplar_enabled": True, "prompt_text": x["class"]}
                                    for x in a["annotations"]],
                    "frame_idx": a.get("frame", 0),
                    "image_key": f"synthetic-datasets/x/frames/{a.get('frame', 0):06d}.png"})
            inline = a.get("inline") or [{"bbox": x["bbox"], "className": x["class"]} for x in a["annotations"]]
            starter.append({"assetId": a["id"], "imageUrl": f"{self.url}/{img_path}",
                            "annotationUrl": f"{self.url}/{ann_path}", "frameIndex": a.get("frame", 0),
                            "objects": objects, "annotations": inline})
        self.elements[element_id] = {
            "element": {"id": element_id, "name": element_id.replace("-", " "), "objects": objects, "status": "Active",
                        "track": "public"},
            "starterPack": {"elementId": element_id, "displayMode": "starter_pack", "imageCount": len(starter),
                            "starterAssets": starter},
            "challengeDetails": [], "history": [], "latestAnnotatedChallenge": None, "leaderboard": []}

    def add_challenge(self, element_id: str, challenge_id: str, block: int, image: bytes,
                      miners: list[tuple[str, float, dict]], commit_block: int = 8160300) -> None:
        """One challenge: the photo, and per miner (hotkey, composite score, predictions) an
        evaluation shard and a responses blob under the upstream key layout."""
        safe = element_id.replace("/", "_")
        photo = f"challenge-objects/{challenge_id}/images/0.png"
        self.files[photo] = image
        for hotkey, score, predictions in miners:
            prefix = f"manako/{safe}/{hotkey}/{commit_block:09d}/"
            ev = f"{prefix}evaluation/{block:09d}-{challenge_id}.json"
            resp = f"{prefix}responses/{block:09d}-{challenge_id}.json"
            self.objects[resp] = {"video_url": None, "frames": [{"frame_id": 0, "url": f"{self.url}/files/{photo}"}],
                                  "predictions": predictions}
            payload = {"element_id": element_id, "composite_score": score, "lane": "public",
                       "telemetry": {"challenge_id": challenge_id, "block": block,
                                     "miner": {"hotkey": hotkey, "model": f"{hotkey}/ScoreVision", "revision": "abc"},
                                     "run": {"success": True, "responses_key": resp}}}
            self.objects[ev] = [{"version": "x", "payload": payload, "signature": "0x00", "hotkey": "validator"}]
            self.keys.append(ev)

    # --- routes --------------------------------------------------------------------------------

    def element_detail(self, seen, m):
        self._delay(seen.path)
        eid = unquote(m.group("eid"))
        if eid not in self.elements:
            raise Reply(404, {"error": f"element {eid} not found"})
        return 200, self.elements[eid], {}

    def file(self, seen, m):
        self._delay(seen.path)
        path = m.group("path")
        if path not in self.files:
            raise Reply(404, {"error": "NoSuchKey"})
        return 200, self.files[path], {"Content-Type": "application/octet-stream"}

    def index(self, seen, m):
        self._delay(seen.path)
        return 200, list(self.keys), {}

    def bucket(self, seen, m):
        self._delay(seen.path)
        key = "manako/" + m.group("key")
        if key not in self.objects:
            raise Reply(404, {"error": "NoSuchKey"})
        return 200, self.objects[key], {}


def _json_bytes(doc: Any) -> bytes:
    import json

    return json.dumps(doc).encode()
