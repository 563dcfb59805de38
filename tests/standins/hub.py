"""A Hugging Face Hub stand-in speaking the endpoints huggingface_hub 2.4's HfApi calls for a push.

  POST /api/repos/create                                 {"name", "organization", "visibility"|"private"}
  GET  /api/models/{repo}[/revision/{rev}]               model info (id, sha, private, siblings)
  GET  /api/models/{repo}/tree/{rev}                     files (type, path, size, oid)
  POST /api/models/{repo}/preupload/{rev}                upload modes: .onnx (and > 10 MB) -> lfs
  POST /{repo}.git/info/lfs/objects/batch                LFS batch: upload + verify actions
  PUT  /lfs-upload/{oid}, POST /lfs-verify               the LFS object store (sha256 checked)
  POST /api/models/{repo}/commit/{rev}                   ndjson commit -> commitOid
  PUT  /api/models/{repo}/settings                       {"visibility": "private"|"public"} (update_repo_settings)
  GET  /api/whoami-v2                                    the token's owner and role (read / write / fineGrained)
  GET|HEAD /{repo}/resolve/{rev}/{path}                  file download (what snapshot_download fetches)

Tokens: `write_tokens` may write, `read_tokens` may only read (403 on writes), `fine_grained`
tokens carry their own permission list; any other token is refused (401). A private repo is
invisible (404 RepoNotFound, as the real Hub answers) without a token; a public one is read
by anyone. `visibility_log` records every visibility change, in order.
Errors carry the Hub's X-Error-Code headers (RepoNotFound, RevisionNotFound) as the real Hub does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time

from .base import Reply, StandIn

REPO = r"(?P<repo>[^/]+/[^/.]+)"
GITATTRIBUTES = b"*.onnx filter=lfs diff=lfs merge=lfs -text\n*.pt filter=lfs diff=lfs merge=lfs -text\n"


class HubStandIn(StandIn):
    routes = [
        ("POST", r"/api/repos/create", "create_repo"),
        ("GET", rf"/api/models/{REPO}", "model_info"),
        ("GET", rf"/api/models/{REPO}/revision/(?P<rev>[^/]+)", "model_info"),
        ("GET", rf"/api/models/{REPO}/tree/(?P<rev>[^/]+)", "tree"),
        ("POST", rf"/api/models/{REPO}/preupload/(?P<rev>[^/]+)", "preupload"),
        ("POST", rf"/{REPO}\.git/info/lfs/objects/batch", "lfs_batch"),
        ("PUT", r"/lfs-upload/(?P<oid>[0-9a-f]{64})", "lfs_put"),
        ("POST", r"/lfs-verify", "lfs_verify"),
        ("POST", rf"/api/models/{REPO}/commit/(?P<rev>[^/]+)", "commit"),
        ("PUT", rf"/api/models/{REPO}/settings", "settings"),
        ("GET", r"/api/whoami-v2", "whoami"),
        ("GET", rf"/{REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
    ]

    def __init__(self, write_tokens=(), read_tokens=(), fine_grained=None, user="hfminer"):
        super().__init__()
        self.write_tokens, self.read_tokens = set(write_tokens), set(read_tokens)
        self.fine_grained: dict[str, list[str]] = dict(fine_grained or {})  # token -> permissions
        self.user = user
        self.visibility_log: list[tuple[str, str]] = []  # (repo, "private"|"public")
        self.repos: dict[str, dict] = {}  # repo -> {"private", "branches": {name: oid}, "commits": {oid: files}}
        self.lfs: dict[str, bytes] = {}

    # --- helpers -------------------------------------------------------------------------------

    def _token(self, seen) -> str | None:
        value = seen.headers.get("authorization", "")
        return value[7:] if value.startswith("Bearer ") else None

    def _auth(self, seen, write: bool, repo: str | None = None) -> None:
        token = self._token(seen)
        if token is None and not write and repo is not None:
            if not self.repos.get(repo, {}).get("private", True):
                return  # anyone reads a public repo
            raise Reply(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
        if token in self.write_tokens:
            return
        if token in self.fine_grained:
            if write and not any("write" in p for p in self.fine_grained[token]):
                raise Reply(403, {"error": "This fine-grained token may not write"})
            return
        if token in self.read_tokens:
            if write:
                raise Reply(403, {"error": "You don't have the rights to create a model under this namespace"})
            return
        raise Reply(401, {"error": "Invalid credentials in Authorization header"})

    def _repo(self, name: str) -> dict:
        repo = self.repos.get(name)
        if repo is None:
            raise Reply(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
        return repo

    def _commit_of(self, repo: dict, rev: str) -> str:
        if rev in repo["branches"]:
            return repo["branches"][rev]
        matches = [oid for oid in repo["commits"] if oid.startswith(rev) and len(rev) >= 7]
        if len(matches) == 1:
            return matches[0]
        raise Reply(404, {"error": f"Invalid rev id: {rev}"}, {"X-Error-Code": "RevisionNotFound"})

    def _new_commit(self, repo: dict, files: dict[str, dict]) -> str:
        h = hashlib.sha1(json.dumps(sorted((k, v["oid"]) for k, v in files.items())).encode())
        h.update(str(time.time_ns()).encode())
        oid = h.hexdigest()
        repo["commits"][oid] = files
        repo["branches"]["main"] = oid
        return oid

    def files_at(self, name: str, rev: str = "main") -> dict[str, bytes]:
        """What the repo holds at a revision (LFS content resolved): for assertions."""
        repo = self.repos[name]
        files = repo["commits"][self._commit_of(repo, rev)]
        return {p: (self.lfs[f["lfs"]] if f.get("lfs") else f["content"]) for p, f in files.items()}

    # --- routes --------------------------------------------------------------------------------

    def create_repo(self, seen, m):
        self._auth(seen, write=True)
        body = seen.json()
        name = f"{body.get('organization')}/{body['name']}"
        if name in self.repos:
            raise Reply(409, {"error": "You already created this model repo", "url": f"{self.url}/{name}"})
        private = body.get("private", body.get("visibility") == "private")
        repo = {"private": bool(private), "branches": {}, "commits": {}}
        self.repos[name] = repo
        self._new_commit(repo, {".gitattributes": {"content": GITATTRIBUTES,
                                                   "oid": hashlib.sha1(GITATTRIBUTES).hexdigest()}})
        return 200, {"url": f"{self.url}/{name}", "name": name, "id": name}, {}

    def model_info(self, seen, m):
        self._auth(seen, write=False, repo=m["repo"])
        repo = self._repo(m["repo"])
        oid = self._commit_of(repo, m.groupdict().get("rev") or "main")
        return 200, {"id": m["repo"], "modelId": m["repo"], "sha": oid, "private": repo["private"],
                     "siblings": [{"rfilename": p} for p in repo["commits"][oid]]}, {}

    def tree(self, seen, m):
        self._auth(seen, write=False, repo=m["repo"])
        repo = self._repo(m["repo"])
        files = repo["commits"][self._commit_of(repo, m["rev"])]
        return 200, [{"type": "file", "path": p, "oid": f["oid"], "size": f.get("size", len(f.get("content", b"")))}
                     for p, f in sorted(files.items())], {}

    def preupload(self, seen, m):
        self._auth(seen, write=True)
        repo = self._repo(m["repo"])
        head = repo["commits"][self._commit_of(repo, m["rev"])]
        out = []
        for f in seen.json()["files"]:
            lfs = f["path"].endswith((".onnx", ".pt")) or f["size"] > 10 * 2**20
            out.append({"path": f["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False,
                        "oid": head.get(f["path"], {}).get("oid")})
        return 200, {"files": out, "commitOid": repo["branches"]["main"]}, {}

    def lfs_batch(self, seen, m):
        self._auth(seen, write=True)
        self._repo(m["repo"])
        body = seen.json()
        objects = []
        for o in body["objects"]:
            entry = {"oid": o["oid"], "size": o["size"], "authenticated": True}
            if o["oid"] not in self.lfs:
                entry["actions"] = {"upload": {"href": f"{self.url}/lfs-upload/{o['oid']}"},
                                    "verify": {"href": f"{self.url}/lfs-verify"}}
            objects.append(entry)
        return 200, {"transfer": "basic", "objects": objects}, {}

    def lfs_put(self, seen, m):
        if hashlib.sha256(seen.body).hexdigest() != m["oid"]:
            raise Reply(400, {"error": "sha256 mismatch"})
        self.lfs[m["oid"]] = seen.body
        return 200, {}, {}

    def lfs_verify(self, seen, m):
        self._auth(seen, write=True)
        body = seen.json()
        if body["oid"] not in self.lfs or len(self.lfs[body["oid"]]) != body["size"]:
            raise Reply(422, {"error": "object not uploaded"})
        return 200, {"success": True}, {}

    def commit(self, seen, m):
        self._auth(seen, write=True)
        repo = self._repo(m["repo"])
        files = dict(repo["commits"][self._commit_of(repo, m["rev"])])
        lines = [json.loads(ln) for ln in seen.body.decode().splitlines() if ln.strip()]
        if not lines or lines[0]["key"] != "header" or not lines[0]["value"].get("summary"):
            raise Reply(400, {"error": "commit header missing"})
        for item in lines[1:]:
            v = item["value"]
            if item["key"] == "file":
                content = base64.b64decode(v["content"]) if v.get("encoding") == "base64" else v["content"].encode()
                files[v["path"]] = {"content": content, "oid": hashlib.sha1(content).hexdigest(), "size": len(content)}
            elif item["key"] == "lfsFile":
                if v["oid"] not in self.lfs:
                    raise Reply(422, {"error": f"LFS object {v['oid']} was not uploaded"})
                files[v["path"]] = {"lfs": v["oid"], "oid": v["oid"], "size": v["size"]}
            elif item["key"] == "deletedFile":
                if v["path"] not in files:
                    raise Reply(404, {"error": "A file with this name doesn't exist"},
                                {"X-Error-Code": "EntryNotFound"})
                del files[v["path"]]
            else:
                raise Reply(400, {"error": f"unknown commit operation {item['key']}"})
        oid = self._new_commit(repo, files)
        return 200, {"commitUrl": f"{self.url}/{m['repo']}/commit/{oid}", "commitOid": oid,
                     "pullRequestUrl": None}, {}

    def settings(self, seen, m):
        self._auth(seen, write=True)
        repo = self._repo(m["repo"])
        visibility = seen.json().get("visibility")
        if visibility not in ("private", "public"):
            raise Reply(400, {"error": f"invalid visibility {visibility!r}"})
        repo["private"] = visibility == "private"
        self.visibility_log.append((m["repo"], visibility))
        return 200, {}, {}

    def whoami(self, seen, m):
        token = self._token(seen)
        if token in self.write_tokens or token in self.read_tokens:
            access = {"displayName": "tvkit-test", "role": "write" if token in self.write_tokens else "read"}
        elif token in self.fine_grained:
            access = {"displayName": "tvkit-test", "role": "fineGrained", "fineGrained": {
                "global": [], "scoped": [{"entity": {"type": "model", "name": f"{self.user}/ScoreVision"},
                                          "permissions": self.fine_grained[token]}]}}
        else:
            raise Reply(401, {"error": "Invalid credentials in Authorization header"})
        return 200, {"type": "user", "name": self.user, "auth": {"type": "access_token", "accessToken": access}}, {}

    def resolve(self, seen, m):
        self._auth(seen, write=False, repo=m["repo"])
        repo = self._repo(m["repo"])
        oid = self._commit_of(repo, m["rev"])
        f = repo["commits"][oid].get(m["path"])
        if f is None:
            raise Reply(404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"})
        data = self.lfs[f["lfs"]] if f.get("lfs") else f["content"]
        headers = {"X-Repo-Commit": oid, "ETag": f'"{f["oid"]}"', "Content-Type": "application/octet-stream"}
        if f.get("lfs"):
            headers.update({"X-Linked-Etag": f'"{f["oid"]}"', "X-Linked-Size": str(len(data))})
        return 200, data, headers
