"""A Chutes API stand-in speaking what the kit's client and the real `chutes` 0.6.11rc2 CLI call.

Management (kit, `Authorization: Bearer <key>`; or the CLI's hotkey signature headers
X-Chutes-Hotkey / -Nonce / -Signature / -UserID, verified with bittensor_wallet):
  GET  /images/{id or name}            GET /images/{id}/logs (text/plain: build done)
  POST /images/                         multipart build upload (signed over sha256(body)) -> 202 {image_id}
  DELETE /images/{id}
  POST /chutes/?accept_fee=true         the CLI's deploy body -> {chute_id, version}; 409 name taken
  GET  /chutes/?limit=&page=&include_public=[&name=]   {total, items, cord_refs}
  GET  /chutes/{id or name}             DELETE /chutes/{id}
  GET  /chutes/code/{id}                the deployed code (text)
  GET  /chutes/warmup/{id or name}      server-sent events {status, log}; `never_hot` keeps it warming
  POST /secrets/ {purpose, key, value}  a chute's secret -> {secret_id}; 409 "already exists"
  GET  /instances/{id}/logs?backfill=N  server-sent events {log}
Invocation (what CHUTES_CHUTE_URL points at in tests, `{url}/run/{slug}`):
  POST /run/{slug}/health               the template's answer: {"status": "healthy", ...} once the chute is
                                        hot and (with `hf_read_tokens`) holds an HF_TOKEN secret that can
                                        read the private repo; else the template's "Failed to load" status
  POST /run/{slug}/predict              downloads `url`, answers every frame

Keys: a user with developer=False gets 401 "developer access required" on management calls
and on deploy, as a non-developer account does.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field

from .base import Reply, StandIn, sse


@dataclass
class User:
    username: str
    api_key: str
    hotkey: str | None = None  # ss58 address
    developer: bool = True
    user_id: str = field(default_factory=lambda: str(uuid.uuid4()))


def slugify(text: str) -> str:
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9]+", "-", text.lower())).strip("-")


class ChutesStandIn(StandIn):
    routes = [
        ("GET", r"/images/(?P<ref>[^/]+)/logs", "image_logs"),
        ("GET", r"/images/(?P<ref>[^/]+)", "get_image"),
        ("DELETE", r"/images/(?P<ref>[^/]+)", "delete_image"),
        ("POST", r"/images/", "post_image"),
        ("POST", r"/chutes/", "post_chute"),
        ("GET", r"/chutes/", "list_chutes"),
        ("GET", r"/chutes/warmup/(?P<ref>[^/]+)", "warmup"),
        ("GET", r"/chutes/code/(?P<ref>[^/]+)", "chute_code"),
        ("POST", r"/secrets/", "post_secret"),
        ("GET", r"/chutes/(?P<ref>[^/]+)", "get_chute"),
        ("DELETE", r"/chutes/(?P<ref>[^/]+)", "delete_chute"),
        ("GET", r"/instances/(?P<iid>[^/]+)/logs", "instance_logs"),
        ("POST", r"/run/(?P<slug>[^/]+)/health", "invoke_health"),
        ("POST", r"/run/(?P<slug>[^/]+)/predict", "invoke_predict"),
    ]

    def __init__(self, users: list[User], hf_read_tokens=None):
        super().__init__()
        self.users = list(users)
        self.images: dict[str, dict] = {}
        self.chutes: dict[str, dict] = {}
        self.instance_log_lines: dict[str, list[str]] = {}
        self.secrets: dict[tuple[str, str], str] = {}  # (chute id, key) -> value
        self.hf_read_tokens = None if hf_read_tokens is None else set(hf_read_tokens)
        self.never_hot = False

    # --- auth ----------------------------------------------------------------------------------

    def _user(self, seen, developer: bool = True) -> User:
        if "x-chutes-hotkey" in seen.headers:
            user = self._verify_signature(seen)
        else:
            value = seen.headers.get("authorization", "")
            key = value[7:] if value.startswith("Bearer ") else value
            user = next((u for u in self.users if key and u.api_key == key), None)
            if user is None:
                raise Reply(401, {"detail": "Invalid token."})
        if developer and not user.developer:
            raise Reply(401, {"detail": "developer access required: this account may not manage chutes or images"})
        return user

    def _verify_signature(self, seen) -> User:
        from bittensor_wallet import Keypair

        hotkey, nonce = seen.headers["x-chutes-hotkey"], seen.headers.get("x-chutes-nonce", "")
        signature = seen.headers.get("x-chutes-signature", "")
        user = next((u for u in self.users if u.hotkey == hotkey), None)
        if user is None or seen.headers.get("x-chutes-userid") != user.user_id:
            raise Reply(401, {"detail": "Unknown hotkey or user id."})
        if abs(time.time() - int(nonce or 0)) > 600:
            raise Reply(401, {"detail": "Stale nonce."})
        purposes = [hashlib.sha256(seen.body).hexdigest()] if seen.body else ["images", "chutes", "me", "logs"]
        kp = Keypair(ss58_address=hotkey)
        if not any(kp.verify(f"{hotkey}:{nonce}:{p}".encode(), bytes.fromhex(signature)) for p in purposes):
            raise Reply(401, {"detail": "Invalid signature."})
        return user

    def _find(self, table: dict[str, dict], ref: str, user: User, what: str) -> dict:
        for obj in table.values():
            if obj["user_id"] == user.user_id and ref in (obj["id"], obj["name"]):
                return obj
        raise Reply(404, {"detail": f"{what} not found, or does not belong to you"})

    # --- images --------------------------------------------------------------------------------

    def get_image(self, seen, m):
        img = self._find(self.images, m["ref"], self._user(seen), "Image")
        return 200, self._image_view(img), {}

    def image_logs(self, seen, m):
        img = self._find(self.images, m["ref"], self._user(seen), "Image")
        return (200, f"build of {img['name']}:{img['tag']}\nsuccessfully built and pushed\n",
                {"Content-Type": "text/plain"})

    def _image_view(self, img: dict) -> dict:
        return {"image_id": img["id"], "name": img["name"], "tag": img["tag"], "status": img["status"],
                "public": False, "created_at": img["created_at"]}

    def post_image(self, seen, m):
        user = self._user(seen)
        fields = _multipart(seen.headers.get("content-type", ""), seen.body)
        name, tag = fields["name"].decode(), fields["tag"].decode()
        image_id = str(uuid.uuid5(uuid.NAMESPACE_OID, f"{fields['username'].decode()}/{name}:{tag}".lower()))
        if image_id in self.images:
            raise Reply(409, {"detail": f"Image with name={name} and tag={tag} already exists"})
        assert "build_context" in fields and fields["dockerfile"].startswith(b"FROM ")
        self.images[image_id] = {"id": image_id, "name": name, "tag": tag, "status": "built and pushed",
                                 "user_id": user.user_id, "created_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        return 202, {"image_id": image_id}, {}

    def delete_image(self, seen, m):
        img = self._find(self.images, m["ref"], self._user(seen), "Image")
        del self.images[img["id"]]
        return 200, {"image_id": img["id"], "deleted": True}, {}

    # --- chutes --------------------------------------------------------------------------------

    def post_chute(self, seen, m):
        user = self._user(seen)
        if seen.query.get("accept_fee") != ["true"]:
            raise Reply(402, {"detail": "Deploying a chute has a fee; pass accept_fee=true to accept it"})
        body = seen.json()
        img = self.images.get(body["image"])
        if img is None or img["status"] != "built and pushed":
            raise Reply(400, {"detail": f"Image {body['image']} is not available"})
        if any(c["name"] == body["name"] and c["user_id"] == user.user_id for c in self.chutes.values()):
            raise Reply(409, {"detail": f"A chute with name={body['name']} already exists"})
        for key in ("code", "node_selector", "cords", "filename"):
            if not body.get(key):
                raise Reply(422, {"detail": f"missing {key}"})
        chute_id = str(uuid.uuid4())
        instance = str(uuid.uuid4())
        self.chutes[chute_id] = {
            "id": chute_id, "name": body["name"], "user_id": user.user_id,
            "slug": slugify(f"{user.username}-{body['name']}"),
            "hot": False, "image": img, "code": body["code"], "node_selector": body["node_selector"],
            "cords": body["cords"], "created_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "instances": [instance],
        }
        self.instance_log_lines[instance] = [f"loading {body['name']}", "miner loaded; self-test passed",
                                             "/predict success=True frames=60"]
        return 200, {"chute_id": chute_id, "version": hashlib.sha1(body["code"].encode()).hexdigest()[:12]}, {}

    def _chute_view(self, c: dict) -> dict:
        return {"chute_id": c["id"], "name": c["name"], "slug": c["slug"], "hot": c["hot"],
                "created_at": c["created_at"], "cord_ref_id": c["id"],
                "image": self._image_view(c["image"]),
                "instances": [{"instance_id": i, "active": c["hot"], "verified": True, "region": "local"}
                              for i in c["instances"]]}

    def list_chutes(self, seen, m):
        user = self._user(seen, developer=False)  # listing works for any valid key
        name = (seen.query.get("name") or [None])[0]
        limit, page = int(seen.query.get("limit", ["25"])[0]), int(seen.query.get("page", ["0"])[0])
        mine = [c for c in self.chutes.values() if c["user_id"] == user.user_id and (not name or name in c["name"])]
        items = [self._chute_view(c) for c in mine[page * limit:(page + 1) * limit]]
        return 200, {"total": len(mine), "page": page, "limit": limit, "items": items, "cord_refs": {}}, {}

    def get_chute(self, seen, m):
        c = self._find(self.chutes, m["ref"], self._user(seen), "Chute")
        return 200, self._chute_view(c), {}

    def delete_chute(self, seen, m):
        c = self._find(self.chutes, m["ref"], self._user(seen), "Chute")
        del self.chutes[c["id"]]
        return 200, {"chute_id": c["id"], "deleted": True}, {}

    def warmup(self, seen, m):
        c = self._find(self.chutes, m["ref"], self._user(seen), "Chute")
        events = [{"status": "cold", "log": "scaling up: 1 instance requested"},
                  {"status": "warming", "log": "instance starting"}]
        if self.never_hot:
            return sse(events)
        c["hot"] = True
        return sse(events + [{"status": "hot", "log": f"chute {c['name']} is hot"}])

    def chute_code(self, seen, m):
        c = self._find(self.chutes, m["ref"], self._user(seen), "Chute")
        return 200, c["code"], {"Content-Type": "text/plain"}

    def post_secret(self, seen, m):
        user = self._user(seen)
        body = seen.json()
        if not all(isinstance(body.get(k), str) and body[k] for k in ("purpose", "key", "value")):
            raise Reply(422, {"detail": "purpose, key and value are required"})
        chute = self._find(self.chutes, body["purpose"], user, "Chute")
        if (chute["id"], body["key"]) in self.secrets:
            raise Reply(409, {"detail": f"Secret {body['key']} already exists for this purpose"})
        self.secrets[(chute["id"], body["key"])] = body["value"]
        return 200, {"secret_id": str(uuid.uuid4()), "purpose": chute["id"], "key": body["key"]}, {}

    def instance_logs(self, seen, m):
        self._user(seen)
        lines = self.instance_log_lines.get(m["iid"])
        if lines is None:
            raise Reply(404, {"detail": "Instance not found"})
        n = int(seen.query.get("backfill", ["100"])[0])
        return sse([{"log": ln} for ln in lines[-n:]])

    # --- invocation ------------------------------------------------------------------------------

    def _invoked(self, seen, m) -> dict:
        self._user(seen, developer=False)
        chute = next((c for c in self.chutes.values() if c["slug"] == m["slug"]), None)
        if chute is None:
            raise Reply(404, {"detail": "No matching chute found!"})
        return chute

    def invoke_health(self, seen, m):
        chute = self._invoked(seen, m)
        token = self.secrets.get((chute["id"], "HF_TOKEN"))
        if not chute["hot"]:
            raise Reply(503, {"detail": "No instances available (yet) for this chute"})
        if self.hf_read_tokens is not None and token not in self.hf_read_tokens:
            why = "no HF_TOKEN secret" if token is None else "HF_TOKEN cannot read the repo"
            return 200, {"status": f"\u274c Failed to load miner: 401 Client Error: Repository Not Found ({why})",
                         "model_loaded": "None", "memory_gb": None, "cuda": "cpu"}, {}
        return 200, {"status": "healthy", "model_loaded": "<miner.Miner object>", "memory_gb": 0.4, "cuda": "cpu"}, {}

    def invoke_predict(self, seen, m):
        import cv2

        self._invoked(seen, m)
        body = seen.json()
        n_kp = int(body["meta"].get("n_keypoints", 32))
        with tempfile.NamedTemporaryFile(suffix=".mp4") as tmp:
            with urllib.request.urlopen(body["url"], timeout=30) as r:
                tmp.write(r.read())
            tmp.flush()
            cap = cv2.VideoCapture(tmp.name)
            n = 0
            while cap.grab():
                n += 1
            cap.release()
        frames = [{"frame_id": i, "boxes": [], "keypoints": [[0, 0]] * n_kp} for i in range(n)]
        return 200, {"success": True, "predictions": {"frames": frames}, "error": None}, {}


def _multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        raise Reply(400, {"detail": "not multipart"})
    out = {}
    for part in body.split(b"--" + m.group(1).encode()):
        head, sep, value = part.partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]+)"', head)
        if sep and name:
            out[name.group(1).decode()] = value[:-2] if value.endswith(b"\r\n") else value
    return out
