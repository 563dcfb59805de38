"""PyPI's JSON API and its file host, as `pip download` and the kit see them (plain GETs, no auth).

  GET /pypi/<name>/<version>/json   {"info": {"name", "version", ...}, "urls": [{"filename", "url",
                                    "digests": {"sha256", "md5"}, "packagetype", "size", ...}]}
                                    (https://docs.pypi.org/api/json/); 404 {"message": "Not Found"}
  GET /packages/<filename>          the file's bytes

Wheels are registered by path (`add`); their name and version come from the file name
(`<name>-<version>-...whl`, PEP 427). `lie_digest` lists a file with another sha256 and
`swap_bytes` serves other bytes under it, to test that the client checks both. `from_tmp_wheels()`
serves the real wheels in /tmp/wheels when that folder exists. Point the kit at it with
TVKIT_PYPI_URL (`env()`).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from .base import Reply, StandIn

TMP_WHEELS = Path("/tmp/wheels")


def _norm(name: str) -> str:
    """PEP 503 normalisation: runs of -, _ and . are one -, lower case."""
    return re.sub(r"[-_.]+", "-", name).lower()


class PyPIStandIn(StandIn):
    routes = [
        ("GET", r"/pypi/([^/]+)/([^/]+)/json", "release"),
        ("GET", r"/packages/([^/]+)", "file"),
    ]

    def __init__(self, wheels: list[Path] = ()):
        super().__init__()
        self.files: dict[str, bytes] = {}
        self.lie_digest: dict[str, str] = {}
        self.swap_bytes: dict[str, bytes] = {}
        for w in wheels:
            self.add(w)

    @classmethod
    def from_tmp_wheels(cls) -> PyPIStandIn:
        return cls(sorted(TMP_WHEELS.glob("*.whl")) if TMP_WHEELS.is_dir() else [])

    def add(self, wheel: Path) -> None:
        self.files[Path(wheel).name] = Path(wheel).read_bytes()

    def env(self) -> dict[str, str]:
        return {"TVKIT_PYPI_URL": self.url}

    def release(self, seen, m):
        name, version = _norm(m.group(1)), m.group(2)
        urls = []
        for fn, data in sorted(self.files.items()):
            parts = fn.split("-")
            if len(parts) < 2 or _norm(parts[0]) != name or parts[1] != version:
                continue
            sha = self.lie_digest.get(fn) or hashlib.sha256(data).hexdigest()
            urls.append({"filename": fn, "url": f"{self.url}/packages/{fn}", "packagetype": "bdist_wheel",
                         "python_version": "py3", "size": len(data), "yanked": False,
                         "digests": {"sha256": sha, "md5": hashlib.md5(data).hexdigest()}})
        if not urls:
            raise Reply(404, {"message": "Not Found"})
        return 200, {"info": {"name": m.group(1), "version": version}, "urls": urls}, {}

    def file(self, seen, m):
        fn = m.group(1)
        if fn not in self.files:
            raise Reply(404, "Not Found")
        return 200, self.swap_bytes.get(fn, self.files[fn]), {"Content-Type": "application/octet-stream"}
