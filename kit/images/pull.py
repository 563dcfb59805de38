"""Detect data from the subnet's public surfaces: an element's starter pack, recent challenges.

Usage: `r = pull_element("manak0/Detect-fire", "data/pull/fire", challenges=20)`, then `print(r)`
and `r.data_yaml` for `tvkit train`; CLI `tvkit dataset pull --element ID --out DIR
[--lookback-days N] [--challenges N]`.

Where it reads (none of it is in the validator's code; detect_elements.md §6):
- The console: `GET {SCOREVISION_CONSOLE_URL}/api/v2/elements/<urlencoded id>?lookback_days=N`
  (default https://console.scorevision.io); `starterPack.starterAssets[]` = `{assetId, imageUrl,
  annotationUrl, frameIndex, objects, annotations: [{bbox, className}]}`. The annotation file
  at `annotationUrl` is the backend's ground truth (`class`, upstream validator/challenges.py:
  44-129 parses it); it is preferred, the inline `annotations` are used when it is missing (404).
- The public results bucket (`SCOREVISION_RESULTS_URL`, default https://turbo.scoredata.me):
  `manako/index.json` is a list of keys (or `{"entries": [{"path"}]}`), joined to the bucket's
  root (upstream utils/cloudflare_helpers.py:116-117, 795-808, 876-886). An evaluation shard
  `manako/<element id, / -> _>/<hotkey>/<commit_block:09d>/evaluation/<block:09d>-<challenge id>.json`
  is a JSON list of signed lines `{payload: {composite_score, telemetry: {miner: {hotkey, model,
  revision}, run: {responses_key}}}}`; the responses blob is `{video_url, frames: [{frame_id,
  url}], predictions}` where `predictions` is the chute answer's (cloudflare_helpers.py:392-472,
  500-600; utils/predict.py:176). Signatures are not verified (that needs the validators' keys).

What it writes in OUT:
- `starter/<assetId>.png` + `<assetId>.json`: the photos and their ground truth, as downloaded.
- `dataset/`: a YOLO set in the element's class order, written by `kit.images.importer` from
  `starter/` (classes by name: an unknown class is refused with a did-you-mean unless mapped or
  dropped; the downloads stay, so the rerun with `--map`/`--drop` downloads nothing).
- `challenges/images/<challenge id>.<ext>`: challenge photos, UNLABELLED, and
  `challenges/answers.json` = `{"element", "answers": {"<image name>": <the best miner's /predict
  answer>}, "pseudo_labels": true, "ground_truth": false, "miners": {"<image name>": [top miners'
  hotkey, model, revision, composite_score, answer]}}`: other miners' guesses, kept apart from the
  ground truth and never written into `dataset/`.
- `provenance.json`: every url, when it was fetched, what was reused, skipped and why.

Decisions:
- **Cached and resumable.** A download goes to `<name>.part` and is renamed only once whole and
  checked (the photo decodes, the JSON parses): a half-written file is never taken as done. A
  file already in place is never fetched again, so a second run downloads no photo, annotation,
  shard or blob; the two listings (the console's element detail, the results index) are
  re-read each run, since they are what says a new asset exists.
- **Offline** (connection refused, DNS failure, or a listing that keeps timing out) is said, and
  the cached listing is used; with nothing cached it is an error saying so.
- **Retries** (`kit.deploy.retry`): timeouts, transport errors, 429 and 5xx are retried with
  backoff; a 404 is not (the asset is skipped, or the element does not exist). A photo that does
  not decode is skipped, noted, and fetched again next run.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, urlparse

import cv2
import numpy as np
from tqdm import tqdm

from .. import KitError
from ..deploy.retry import RETRY_STATUSES, Backoff, with_retries

CONSOLE_ENV, RESULTS_ENV = "SCOREVISION_CONSOLE_URL", "SCOREVISION_RESULTS_URL"
CONSOLE_DEFAULT, RESULTS_DEFAULT = "https://console.scorevision.io", "https://turbo.scoredata.me"
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


class Unreachable(KitError):
    """The server could not be reached (offline, DNS, refused, or every try timed out)."""


def console_url() -> str:
    return os.environ.get(CONSOLE_ENV, CONSOLE_DEFAULT).rstrip("/")


def results_url() -> str:
    return os.environ.get(RESULTS_ENV, RESULTS_DEFAULT).rstrip("/")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- HTTP ----------------------------------------------------------------------------------------

@dataclass
class Fetcher:
    """GETs with timeouts and retries; says Unreachable for a server that cannot be reached."""

    timeout: float = 30.0
    backoff: Backoff = field(default_factory=lambda: Backoff(attempts=3, base=1.0, cap=8.0))
    fetched: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        import httpx

        self._httpx = httpx
        self.client = httpx.Client(timeout=httpx.Timeout(self.timeout), follow_redirects=True,
                                   headers={"User-Agent": "tvkit-pull"})

    def get(self, url: str, what: str):
        """The response (any status but a retried one that kept failing); Unreachable otherwise."""
        httpx = self._httpx

        def classify(outcome) -> tuple[bool, float | None]:
            if isinstance(outcome, httpx.ConnectError):
                return False, None  # refused / DNS: retrying will not help, say offline
            if isinstance(outcome, (httpx.TimeoutException, httpx.TransportError)):
                return True, None
            if isinstance(outcome, BaseException):
                return False, None
            return outcome.status_code in RETRY_STATUSES, None

        try:
            r = with_retries(lambda: self.client.get(url), classify, self.backoff, f"GET {what}")
        except httpx.ConnectError as e:
            raise Unreachable(f"{what}: cannot reach {_host(url)} ({_reason(e)}); offline?") from None
        except (httpx.TimeoutException, httpx.TransportError) as e:
            raise Unreachable(f"{what}: {_host(url)} did not answer in {self.timeout:g} s after "
                              f"{self.backoff.attempts} tries ({type(e).__name__})") from None
        self.fetched.append(url)
        return r

    def close(self) -> None:
        self.client.close()


def _host(url: str) -> str:
    return urlparse(url).netloc or url


def _reason(e: BaseException) -> str:
    text = str(e).lower()
    if "name or service" in text or "nodename" in text or "temporary failure in name" in text:
        return "DNS lookup failed"
    if "refused" in text:
        return "connection refused"
    return f"{type(e).__name__}: {e}"


# --- the cache: whole files only ------------------------------------------------------------------

def _write_done(dest: Path, data: bytes) -> None:
    """Write `dest` through `<dest>.part` + rename, so a present `dest` is always whole."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    part.write_bytes(data)
    os.replace(part, dest)


def _decodes(data: bytes) -> bool:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) is not None


def _json_or_none(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _ext_of(url: str) -> str:
    ext = PurePosixPath(urlparse(url).path).suffix.lower()
    return ext if ext in IMAGE_EXTS else ".png"


def _fetch_image(f: Fetcher, url: str, dest: Path, what: str) -> str:
    """"cached", "downloaded", or why it was skipped; never leaves a broken file in place."""
    if dest.is_file():
        return "cached"
    r = f.get(url, what)
    if r.status_code != 200:
        return f"HTTP {r.status_code} for {url}"
    if not _decodes(r.content):
        return f"broken image ({len(r.content)} bytes that do not decode) at {url}; tried again next run"
    _write_done(dest, r.content)
    return "downloaded"


def _fetch_json(f: Fetcher, url: str, dest: Path, what: str) -> tuple[Any, str]:
    """(document, "cached" | "downloaded") or (None, why not)."""
    if dest.is_file():
        doc = _json_or_none(dest.read_bytes())
        if doc is not None:
            return doc, "cached"
    r = f.get(url, what)
    if r.status_code != 200:
        return None, f"HTTP {r.status_code} for {url}"
    doc = _json_or_none(r.content)
    if doc is None:
        return None, f"not JSON at {url}"
    _write_done(dest, r.content)
    return doc, "downloaded"


# --- the result --------------------------------------------------------------------------------

@dataclass
class PullResult:
    """What a pull fetched, reused, skipped; where the dataset and the challenge photos are."""

    element: str
    out: Path
    data_yaml: Path | None
    starter: dict[str, str] = field(default_factory=dict)  # assetId -> cached | downloaded | why skipped
    challenges: dict[str, str] = field(default_factory=dict)  # challenge id -> status
    offline: bool = False
    notes: list[str] = field(default_factory=list)
    import_summary: str = ""

    @property
    def downloaded(self) -> int:
        return sum(v == "downloaded" for v in (*self.starter.values(), *self.challenges.values()))

    def to_dict(self) -> dict[str, Any]:
        return {"element": self.element, "out": str(self.out), "data_yaml": str(self.data_yaml) if self.data_yaml
                else None, "starter": self.starter, "challenges": self.challenges, "offline": self.offline,
                "downloaded": self.downloaded, "notes": self.notes}

    def __str__(self) -> str:
        def tally(d: dict[str, str]) -> str:
            ok = sum(v in ("cached", "downloaded") for v in d.values())
            new = sum(v == "downloaded" for v in d.values())
            return f"{ok} of {len(d)} ({new} downloaded now, {ok - new} from the cache)"

        lines = [f"{self.element} -> {self.out}" + ("  (OFFLINE: from the cache)" if self.offline else ""),
                 f"  starter photos: {tally(self.starter)}"]
        if self.challenges:
            lines.append(f"  challenge photos (unlabelled; top miners' answers in challenges/answers.json, pseudo-"
                         f"labels): {tally(self.challenges)}")
        lines += [f"  skipped {k}: {v}" for k, v in {**self.starter, **self.challenges}.items()
                  if v not in ("cached", "downloaded")]
        lines += [f"  note: {n}" for n in self.notes]
        if self.import_summary:
            lines.append(self.import_summary)
        return "\n".join(lines)


# --- the starter pack ----------------------------------------------------------------------------

def _element_detail(f: Fetcher, element_id: str, lookback_days: int, out: Path, result: PullResult) -> dict:
    url = f"{console_url()}/api/v2/elements/{quote(element_id, safe='')}?lookback_days={int(lookback_days)}"
    cache = out / "element_detail.json"
    try:
        r = f.get(url, f"the console's element {element_id}")
    except Unreachable as e:
        if not cache.is_file():
            raise KitError(f"{e}; and nothing is cached in {out}: connect once, then the pull works offline") from None
        result.offline = True
        result.notes.append(f"{e}: used the cached element detail of {_mtime(cache)}")
        return json.loads(cache.read_text())
    if r.status_code == 404:
        raise KitError(f"the console has no element {element_id!r} ({url} -> 404); check the id with "
                       "`tvkit elements list --manifest live`")
    doc = _json_or_none(r.content) if r.status_code == 200 else None
    if not isinstance(doc, dict):
        raise KitError(f"{url}: HTTP {r.status_code}, {'not JSON' if r.status_code == 200 else 'an error'}; "
                       "try again later")
    _write_done(cache, r.content)
    return doc


def _mtime(p: Path) -> str:
    return datetime.fromtimestamp(p.stat().st_mtime, UTC).isoformat(timespec="seconds")


def _pull_asset(f: Fetcher, a: dict, folder: Path, prov: dict) -> str:
    aid = str(a.get("assetId") or "").strip()
    img_url, ann_url = a.get("imageUrl"), a.get("annotationUrl")
    if not aid or not isinstance(img_url, str):
        return "no assetId or imageUrl in the console's entry"
    img = folder / f"{aid}{_ext_of(img_url)}"
    truth = folder / f"{aid}.json"
    status = _fetch_image(f, img_url, img, f"starter photo {aid}")
    if status not in ("cached", "downloaded"):
        return status
    source = prov.get("annotation_source", "annotationUrl")
    if not truth.is_file():
        doc, why = (_fetch_json(f, ann_url, truth, f"annotation of {aid}") if isinstance(ann_url, str)
                    else (None, "no annotationUrl"))
        if doc is None:  # the console's own copy: same boxes, `className` (upstream parses both)
            if not isinstance(a.get("annotations"), list):
                img.unlink()
                return f"no ground truth ({why}, and no inline annotations)"
            _write_done(truth, json.dumps({"annotations": a["annotations"], "frame_idx": a.get("frameIndex")}).encode())
            source = f"inline annotations ({why})"
    prov.update({"imageUrl": img_url, "annotationUrl": ann_url, "frameIndex": a.get("frameIndex"),
                 "annotation_source": source, "sha256": hashlib.sha256(img.read_bytes()).hexdigest()})
    prov.setdefault("downloaded_at", _now())
    return status


def _pull_starter(f: Fetcher, detail: dict, out: Path, result: PullResult, prov: dict, progress: bool) -> None:
    pack = detail.get("starterPack") or {}
    assets = pack.get("starterAssets") if isinstance(pack, dict) else None
    if not isinstance(assets, list) or not assets:
        result.notes.append("the console lists no starter assets for this element")
        return
    folder = out / "starter"
    for part in folder.glob("*.part"):
        part.unlink()  # a killed run's leftovers: never taken as done
    for a in tqdm(assets, desc="starter pack", unit="photo", disable=not progress):
        aid = str(a.get("assetId") or f"#{len(result.starter)}") if isinstance(a, dict) else f"#{len(result.starter)}"
        entry = prov.setdefault(aid, {})
        try:
            status = _pull_asset(f, a, folder, entry) if isinstance(a, dict) else "not an object"
        except Unreachable as e:
            result.offline = True
            status = f"not fetched: {e}"
        result.starter[aid] = status
        if status not in ("cached", "downloaded"):
            entry["skipped"] = status
        else:
            entry.pop("skipped", None)


# --- recent challenges: photos and the miners' answers (pseudo-labels) ---------------------------------

def _join_key(base: str, key: str) -> str:
    """A key of the index as a url (upstream cloudflare_helpers.py:795-808: `manako/...` is from the
    bucket's root, an absolute url stays as it is)."""
    if key.startswith(("http://", "https://")):
        return key
    return f"{base}/{key.lstrip('/')}"


def _index_keys(doc: Any) -> list[str]:
    if isinstance(doc, list):
        return [k for k in doc if isinstance(k, str)]
    if isinstance(doc, dict) and isinstance(doc.get("entries"), list):
        return [e["path"] for e in doc["entries"] if isinstance(e, dict) and isinstance(e.get("path"), str)]
    raise KitError("the results index is neither a list of keys nor {\"entries\": [{\"path\"}]}")


def _recent_challenges(keys: list[str], element_id: str, n: int) -> dict[str, list[str]]:
    """challenge id -> its evaluation shard keys (one per miner), the `n` latest by block."""
    seg = f"/manako/{element_id.strip().replace('/', '_')}/"
    by_cid: dict[str, list[str]] = {}
    block: dict[str, int] = {}
    for k in keys:
        path = "/" + urlparse(k).path.lstrip("/") if "://" in k else "/" + k.lstrip("/")
        if seg not in path or "/evaluation/" not in path:
            continue
        stem = PurePosixPath(path).stem
        b, _, cid = stem.partition("-")
        if not b.isdigit() or not cid:
            continue
        by_cid.setdefault(cid, []).append(k)
        block[cid] = max(block.get(cid, -1), int(b))
    latest = sorted(by_cid, key=lambda c: (-block[c], c))[: max(0, n)]
    return {c: sorted(by_cid[c]) for c in latest}


def _cache_name(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:16] + ".json"


def _shard_rows(f: Fetcher, base: str, keys: list[str], cache: Path) -> list[dict]:
    """Each miner's (hotkey, model, revision, composite_score, responses url) for one challenge."""
    rows = []
    for k in keys:
        url = _join_key(base, k)
        doc, _ = _fetch_json(f, url, cache / _cache_name(url), "an evaluation shard")
        for line in doc if isinstance(doc, list) else [doc] if isinstance(doc, dict) else []:
            p = line.get("payload") if isinstance(line, dict) else None
            tel = p.get("telemetry") if isinstance(p, dict) else None
            if not isinstance(tel, dict):
                continue
            miner, run = tel.get("miner") or {}, tel.get("run") or {}
            try:
                score = float(p.get("composite_score"))
            except (TypeError, ValueError):
                continue
            if run.get("responses_key") and run.get("success", True) is not False:
                rows.append({"hotkey": miner.get("hotkey"), "model": miner.get("model"),
                             "revision": miner.get("revision"), "composite_score": score,
                             "responses": _join_key(base, run["responses_key"]), "shard": url})
    return sorted(rows, key=lambda r: -r["composite_score"])


def _image_url(blob: dict) -> str | None:
    frames = blob.get("frames") or []
    for fr in frames if isinstance(frames, list) else []:
        if isinstance(fr, dict) and isinstance(fr.get("url"), str):
            return fr["url"]
    url = blob.get("video_url")  # the image-url path keeps the photo's url here (challenges.py:456-521)
    return url if isinstance(url, str) and PurePosixPath(urlparse(url).path).suffix.lower() in IMAGE_EXTS else None


def _pull_challenge(f: Fetcher, base: str, cid: str, keys: list[str], folder: Path, top: int) -> tuple[str, dict]:
    """(status, {"image", "miners": [...]}) for one challenge."""
    rows = _shard_rows(f, base, keys, folder / "raw")
    answers, image_url = [], None
    for row in rows:
        if len(answers) >= top:
            break
        blob, _ = _fetch_json(f, row["responses"], folder / "raw" / _cache_name(row["responses"]), "a responses blob")
        if not isinstance(blob, dict) or not isinstance(blob.get("predictions"), dict):
            continue
        image_url = image_url or _image_url(blob)
        answers.append({k: row[k] for k in ("hotkey", "model", "revision", "composite_score")}
                       | {"answer": {"success": True, "predictions": blob["predictions"], "error": None}})
    if not answers or image_url is None:
        return "no miner's answer with a photo url in its responses blob", {}
    name = f"{cid}{_ext_of(image_url)}"
    status = _fetch_image(f, image_url, folder / "images" / name, f"challenge photo {cid}")
    return status, {"image": name, "imageUrl": image_url, "miners": answers}


def _pull_challenges(f: Fetcher, element_id: str, n: int, top: int, out: Path, result: PullResult, prov: dict,
                     progress: bool) -> None:
    base = results_url()
    folder = out / "challenges"
    cache = folder / "index.json"
    try:
        r = f.get(f"{base}/manako/index.json", "the results index")
        if r.status_code != 200:
            raise KitError(f"{base}/manako/index.json: HTTP {r.status_code}; try again later")
        _write_done(cache, r.content)
        doc = r.json()
    except Unreachable as e:
        if not cache.is_file():
            result.notes.append(f"{e}; no cached results index: no challenge photos")
            return
        result.offline = True
        result.notes.append(f"{e}: used the cached results index of {_mtime(cache)}")
        doc = json.loads(cache.read_text())
    picked = _recent_challenges(_index_keys(doc), element_id, n)
    if not picked:
        result.notes.append(f"the results index lists no evaluation of {element_id}")
    for part in folder.rglob("*.part"):
        part.unlink()
    answers_path = folder / "answers.json"
    old = json.loads(answers_path.read_text()) if answers_path.is_file() else {}
    answers, miners = dict(old.get("answers") or {}), dict(old.get("miners") or {})
    for cid, keys in tqdm(picked.items(), desc="challenges", unit="photo", disable=not progress):
        try:
            status, got = _pull_challenge(f, base, cid, keys, folder, top)
        except Unreachable as e:
            result.offline, status, got = True, f"not fetched: {e}", {}
        result.challenges[cid] = status
        if got and status in ("cached", "downloaded"):
            answers[got["image"]] = got["miners"][0]["answer"]
            miners[got["image"]] = got["miners"]
            prov[cid] = {"imageUrl": got["imageUrl"], "image": got["image"], "shards": keys,
                         "fetched_at": prov.get(cid, {}).get("fetched_at") or _now()}
        else:
            prov[cid] = {**prov.get(cid, {}), "skipped": status}
    if answers:
        _write_done(answers_path, json.dumps({
            "element": element_id, "answers": answers, "pseudo_labels": True, "ground_truth": False,
            "what": "other miners' published answers to these challenge photos (the best-scoring miner's in "
                    "`answers`, the top ones in `miners`): guesses, NOT ground truth",
            "miners": miners}, indent=1).encode())


# --- the whole pull -----------------------------------------------------------------------------

def _objects_of(detail: dict, objects: Iterable[str] | None) -> list[str]:
    if objects:
        return list(objects)
    el = detail.get("element") if isinstance(detail.get("element"), dict) else {}
    found = el.get("objects")
    if not found:
        assets = (detail.get("starterPack") or {}).get("starterAssets") or []
        found = next((a.get("objects") for a in assets if isinstance(a, dict) and a.get("objects")), None)
    if not found:
        raise KitError("the console's element detail names no objects; give the element's manifest (--manifest)")
    return [str(o) for o in found]


def pull_element(element_id: str, out: str | os.PathLike, *, objects: Iterable[str] | None = None,
                 lookback_days: int = 4, challenges: int = 0, top: int = 3, mapping: dict[str, str] | None = None,
                 drop: Iterable[str] = (), split: str = "group", timeout: float = 30.0,
                 backoff: Backoff | None = None, progress: bool = True) -> PullResult:
    """Pull an element's starter pack (and `challenges` recent challenge photos) into `out`.

    Args:
        element_id: `manak0/Detect-fire`; objects: the element's objects in order (default:
            the console's `element.objects`); lookback_days: the console's window (CS used 4).
        challenges: how many recent challenges' photos to fetch (0: none); top: miners kept a photo.
        mapping / drop: as for `import_images` (a starter class the element does not name).
    Returns:
        PullResult: what was downloaded, reused, skipped; `data_yaml` of the starter set.
    Raises:
        KitError: no such element, offline with nothing cached, an unmatched class.

    >>> r = pull_element("manak0/Detect-fire", "data/pull/fire", challenges=5)  # doctest: +SKIP
    >>> r.data_yaml.name, r.downloaded  # doctest: +SKIP
    ('data.yaml', 12)
    """
    from .importer import import_images

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    prov_path = out / "provenance.json"
    prov = json.loads(prov_path.read_text()) if prov_path.is_file() else {}
    result = PullResult(element_id, out.resolve(), None)
    f = Fetcher(timeout, backoff or Backoff(attempts=3, base=1.0, cap=8.0))
    try:
        detail = _element_detail(f, element_id, lookback_days, out, result)
        objs = _objects_of(detail, objects)
        _pull_starter(f, detail, out, result, prov.setdefault("starter", {}), progress)
        if challenges:
            _pull_challenges(f, element_id, challenges, top, out, result, prov.setdefault("challenges", {}), progress)
    finally:
        f.close()
        prov.update({"element": element_id, "console": console_url(), "results": results_url(),
                     "lookback_days": lookback_days, "last_pull": _now(), "offline": result.offline,
                     "fetched_now": f.fetched, "notes": result.notes})
        _write_done(prov_path, json.dumps(prov, indent=1).encode())
    if any(v in ("cached", "downloaded") for v in result.starter.values()):
        r = import_images(out / "starter", out / "dataset", objs, mapping=mapping, drop=drop, size=None,
                          split=split if sum(v in ("cached", "downloaded") for v in result.starter.values()) >= 3
                          else "keep", fmt="api", progress=progress)
        result.data_yaml, result.import_summary = r.data_yaml, str(r)
    return result


__all__ = ["CONSOLE_ENV", "RESULTS_ENV", "PullResult", "Unreachable", "console_url", "pull_element", "results_url"]
