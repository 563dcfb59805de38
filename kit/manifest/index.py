"""Where manifests come from: the public index (picked by block, cached, offline-tolerant) and `load_manifest`.

The index is a JSON list of keys `manifest/<block>-<sha256>.yaml`; the active one is the highest
block not after the given block (upstream `_pick_manifest_url_for_block`). The index and manifests
are cached under `cache_dir()/manifests`; without the network the last cached index is used and the
manifest says so.

Usage: from kit.manifest.index import load_manifest; m = load_manifest("live", block=None)
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

from .. import cache_dir
from .example import example_manifest
from .model import Manifest, ManifestError
from .parse import parse_manifest, parse_text, read_manifest_file

DEFAULT_INDEX_URL = "https://turbo.scoredata.me/manifest/index.json"
INDEX_URL_ENV = "TVKIT_MANIFEST_INDEX_URL"


def index_url() -> str:
    return os.environ.get(INDEX_URL_ENV) or DEFAULT_INDEX_URL


def _join_key(index: str, key: str) -> str:
    """A manifest key joined to the index URL (upstream `_join_key_to_base`)."""
    key = str(key).strip()
    while key.startswith("./"):
        key = key[2:]
    if key.startswith(("http://", "https://")):
        return key
    u = urlparse(index)
    root = f"{u.scheme}://{u.netloc}/"
    if key.startswith(("manako/", "manifest/")):
        return root + key
    if key.startswith("/"):
        return root + key.lstrip("/")
    return urljoin(index.rsplit("/", 1)[0] + "/", key)


def index_keys(index: str, doc: Any) -> list[str]:
    """Manifest URLs listed by an index document: a list of keys, or {"entries": [{"path"}]}."""
    keys: list[str] = []
    if isinstance(doc, list):
        keys = [k for k in doc if isinstance(k, str)]
    elif isinstance(doc, dict) and isinstance(doc.get("entries"), list):
        keys = [e["path"] for e in doc["entries"] if isinstance(e, dict) and isinstance(e.get("path"), str)]
    return [_join_key(index, k) for k in keys]


def pick_for_block(urls: list[str], block: int | None) -> tuple[int, str] | None:
    """(block, url) of the manifest active at `block`: the highest key block not after it; with
    no block, or none that early, the highest (upstream `_pick_manifest_url_for_block`)."""
    pairs = []
    for u in urls:
        name = Path(urlparse(u).path).name
        try:
            pairs.append((int(name.split("-", 1)[0]), u))
        except ValueError:
            continue
    if not pairs:
        return None
    pairs.sort(key=lambda x: x[0])
    if block is None:
        return pairs[-1]
    eligible = [pr for pr in pairs if pr[0] <= block]
    return eligible[-1] if eligible else pairs[-1]


def _cache_name(url: str, suffix: str) -> str:
    h = hashlib.sha256(url.encode()).hexdigest()[:16]
    return f"{Path(urlparse(url).path).name or 'manifest'}.{h}.{suffix}"


def _http_get(url: str, timeout: float) -> str:
    import httpx

    r = httpx.get(url, timeout=timeout, follow_redirects=True)
    if r.status_code != 200:
        raise ManifestError(f"GET {url} answered HTTP {r.status_code}")
    return r.text


def pull_manifest(index: str | None = None, block: int | None = None, cache: Path | None = None,
                  timeout: float = 20.0) -> Manifest:
    """The manifest the public index names for `block` (the latest without one), cached.

    Args:
        index: the index URL (default $TVKIT_MANIFEST_INDEX_URL or DEFAULT_INDEX_URL).
        block: the chain block to pick for; None picks the latest.
        cache: the cache folder (default `cache_dir()/manifests`).
    Returns:
        The Manifest; `source` names its URL (and says when an offline cached index was used).
    Raises:
        ManifestError: offline with nothing cached, an empty index, a refused or expired manifest.

    >>> m = pull_manifest(block=8_300_000)  # doctest: +SKIP
    """
    import httpx

    index = index or index_url()
    cache = (cache or cache_dir() / "manifests")
    cache.mkdir(parents=True, exist_ok=True)
    index_file = cache / _cache_name(index, "json")
    note = ""
    try:
        text = _http_get(index, timeout)
        doc = json.loads(text)
        index_file.write_text(text)
    except (httpx.HTTPError, OSError) as e:
        if not index_file.is_file():
            raise ManifestError(f"cannot reach the manifest index {index} ({type(e).__name__}: {e}) and nothing is "
                                f"cached in {cache}. Offline? Use the kit's example manifest (the default), or a "
                                "manifest file: --manifest PATH") from None
        doc = json.loads(index_file.read_text())
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(index_file.stat().st_mtime))
        note = f" (offline: index cached {when})"
    except json.JSONDecodeError as e:
        raise ManifestError(f"{index}: the index is not JSON ({e.msg}); expected a list of manifest keys") from None
    picked = pick_for_block(index_keys(index, doc), block)
    if picked is None:
        raise ManifestError(f"{index}: the index lists no manifest key of the form manifest/<block>-<sha256>.yaml")
    picked_block, url = picked
    mfile = cache / _cache_name(url, "yaml")
    if not mfile.is_file():  # a key names its content (block and hash), so a cached copy stays valid
        try:
            body = _http_get(url, timeout)
        except httpx.HTTPError as e:
            raise ManifestError(f"cannot fetch manifest {url} ({type(e).__name__}: {e}); not cached either") from None
        tmp = mfile.with_suffix(".tmp")
        tmp.write_text(body)
        os.replace(tmp, mfile)
    m = parse_manifest(parse_text(mfile.read_text(), url), source=url + note)
    m.block = picked_block
    if block is not None and block > m.expiry_block:
        raise ManifestError(f"{url}: manifest expired at block {m.expiry_block}, asked for block {block}")
    return m



def load_manifest(source: str | os.PathLike | Manifest | None = None, block: int | None = None,
                  strict: bool = True) -> Manifest:
    """A manifest from wherever it is.

    Args:
        source: None or "example" (the kit's example, offline); "live" (the public index, or
            $TVKIT_MANIFEST_INDEX_URL); an http(s) URL (an index if it ends in .json and parses as
            one, else a manifest file); a path to a YAML/JSON manifest; or a Manifest (returned).
        block: for the index, the block to pick the manifest for (default: the latest).
        strict: refuse what the validator refuses (False: read it anyway, reasons in `problems`;
            for showing a file only).
    Returns:
        The Manifest.
    Raises:
        ManifestError: a missing/unreadable file, a manifest the validator refuses, offline.

    >>> load_manifest().example
    True
    >>> load_manifest("example").element("PitchCalib_v1@1.0").pillars
    {'iou': 1.0}
    """
    if isinstance(source, Manifest):
        return source
    if source is None or str(source) == "example":
        return example_manifest()
    s = str(source)
    if s == "live":
        return pull_manifest(block=block)
    if s.startswith(("http://", "https://")):
        if urlparse(s).path.endswith("index.json"):
            return pull_manifest(index=s, block=block)
        import httpx

        try:
            body = _http_get(s, 20.0)
        except httpx.HTTPError as e:
            raise ManifestError(f"cannot fetch manifest {s} ({type(e).__name__}: {e})") from None
        return parse_manifest(parse_text(body, s), source=s, strict=strict)
    return read_manifest_file(s, strict=strict)
