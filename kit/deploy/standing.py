"""`tvkit standing`: a miner's commitments per element, checked against the subnet's public lists.

Usage: `print(standing(hotkey="5F...").format())`, or `tvkit standing [--hotkey SS58] [--json]`

A commitment can be on chain and still earn nothing. The validators' registry drops:
- a hotkey on the **blacklist** (miner_registry.py:627-629; the validators' copy is
  HARDCODED_BLACKLIST_HOTKEYS, scorevision/utils/blacklist.py:10, the same hotkeys as the
  repository's `blacklist` file, plus a private API only validators can sign for);
- a (hotkey, element, commit block) on the **inactive list** (miner_registry.py:643-655),
  which validators publish for commitments with more than 30 challenges (20 on private
  elements) that all scored 0 (validator/core/weights.py:58-59, 94-120);
- a (hotkey, element, commit block) on the public compliance checker's **failing list**
  (miner_registry.py:656-669), rows that carry a `latest_run_key` only
  (compliance_failures.py:57-61), with `latest_status` FAIL_LATENCY, FAIL_OUTPUT or
  FAIL_RUNTIME (validator/audit/open_source/compliance.py:201-245, 1320-1350).
The two tuple lists are keyed on the commit block, so a new commitment is a new tuple; that
is what clears them, except a latency failure, which a later passing checker run also lifts
(compliance.py:213-216). The chain is read through bittensor when it is installed; otherwise
the deployments ledger stands in for it (it knows what `tvkit push` committed here, not the
block), and the report says which, and marks a list match without a block as "maybe".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from .. import KitError
from ..settings import Settings
from .commitment import Commitment, CommitmentSource, hotkey_ss58, read_commitments
from .retry import Backoff, with_retries

ListName = Literal["compliance", "inactive", "blacklist"]
LIST_NAMES: tuple[ListName, ...] = ("compliance", "inactive", "blacklist")
#: listed: on the list for this very commitment; maybe: on it for this hotkey and element at a
#: block the kit cannot compare (ledger); clear: not on it; unknown: the list could not be read.
Status = Literal["listed", "maybe", "clear", "unknown"]

_NEW_COMMIT = ("push a new revision and commit it (`tvkit push --bundle DIR --element {element}`): the new "
               "commit block is a new (hotkey, element, block) tuple")
REASONS: dict[str, tuple[str, str]] = {
    "FAIL_LATENCY": ("the public compliance checker measured a p95 latency per frame above the element's threshold "
                     "(100 ms by default, plus 10 ms tolerance) on 2 vCPUs, 3 runs in a row",
                     "a later checker run whose p95 passes lifts it; to be sure, make it faster "
                     "(`tvkit bench latency`, `tvkit comply`), then " + _NEW_COMMIT),
    "FAIL_OUTPUT": ("the compliance checker re-ran your committed revision on 2 vCPUs and its outputs did not match "
                    "the answers your chute gave validators (boxes, IoU, drift), or it failed on some challenges",
                    "it stays for this commit: find the difference (`tvkit comply`), then " + _NEW_COMMIT),
    "FAIL_RUNTIME": ("the compliance checker could not run your committed revision (it did not load, no challenges "
                     "were found for it, or the commitment was missing)",
                     "it stays for this commit: check the bundle loads and answers (`tvkit comply`), then "
                     + _NEW_COMMIT),
    "inactive": ("validators saw more than 30 challenges (20 on private elements) for this commitment and every one "
                 "scored 0: the chute answered nothing usable",
                 "it never comes off for this commit: make the chute answer (`tvkit ping-chute --revision R`, `tvkit "
                 "test-chute --revision R`; is it hot, is its HF_TOKEN secret set?), then " + _NEW_COMMIT),
    "blacklist": ("the hotkey is on the subnet's published blacklist: validators skip it for every element",
                  "only the subnet owners take a hotkey off it (ask them); a new commitment does not help"),
}


@dataclass
class PublicList:
    """One public list as read: normalised rows, and why it could not be read (error) if so."""

    name: ListName
    url: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    ignored: int = 0  # compliance rows without latest_run_key: validators ignore them too


def _rows(data: Any) -> list[Any]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):  # compliance_failures.py:47 accepts these wrappers
        rows = data.get("tuples") or data.get("entries") or data.get("failures") or []
        return rows if isinstance(rows, list) else []
    return []


def _tuple_row(hotkey: Any, element_id: Any, block: Any, extra: dict[str, Any]) -> dict[str, Any] | None:
    try:
        hk, eid, blk = str(hotkey or "").strip(), str(element_id or "").strip(), int(block)
    except (TypeError, ValueError):
        return None
    if not hk or not eid or blk < 0:
        return None
    return {**extra, "hotkey": hk, "element_id": eid, "commit_block": blk}


def parse_tuples(data: Any, name: ListName) -> tuple[list[dict[str, Any]], int]:
    """(rows, ignored) of the compliance or inactive list, as upstream parses them
    (compliance_failures.py:42-76, inactive_miners.py:40-55)."""
    out, ignored = [], 0
    for row in _rows(data) if name == "compliance" else (data if isinstance(data, list) else []):
        item = None
        if isinstance(row, dict):
            if name == "compliance" and not str(row.get("latest_run_key") or "").strip():
                ignored += 1
                continue
            eid = row.get("element_id") or (row.get("element") if name == "compliance" else None)
            blk = row.get("commit_block", row.get("block")) if name == "compliance" else row.get("commit_block")
            item = _tuple_row(row.get("hotkey"), eid, blk, row)
        elif isinstance(row, (list, tuple)) and len(row) >= 3:
            item = _tuple_row(row[0], row[1], row[2], {})
        if item is not None:
            out.append(item)
    return out, ignored


def parse_blacklist(text: str) -> list[dict[str, Any]]:
    """Hotkeys (and reasons when given): the repository's file (one per line, '#' comments) or the
    API's JSON list of {hotkey, reason} (blacklist.py:57-62)."""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, list):
        rows = [r if isinstance(r, dict) else {"hotkey": r} for r in data]
        return [{**r, "hotkey": str(r["hotkey"]).strip()} for r in rows if str(r.get("hotkey") or "").strip()]
    return [{"hotkey": ln.strip()} for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]


def fetch_list(name: ListName, url: str, timeout: float = 15.0, backoff: Backoff | None = None) -> PublicList:
    """Read one list; a failure is recorded on the result (never raised): the report says 'unknown'."""
    out = PublicList(name, url)

    def classify(outcome):
        if isinstance(outcome, httpx.Response):
            return outcome.status_code in (429, 500, 502, 503, 504), None
        return isinstance(outcome, httpx.TransportError), None

    try:
        r = with_retries(lambda: httpx.get(url, timeout=timeout, follow_redirects=True), classify,
                         backoff or Backoff(attempts=2, base=0.5), f"GET {url}")
        if r.status_code != 200:
            out.error = f"HTTP {r.status_code}"
        elif name == "blacklist":
            out.rows = parse_blacklist(r.text)
        else:
            out.rows, out.ignored = parse_tuples(r.json(), name)
    except (httpx.HTTPError, ValueError, KitError) as e:
        out.error = f"{type(e).__name__}: {e}"
    return out


def list_urls(s: Settings) -> dict[ListName, str]:
    return {"compliance": s.failing_tuples_url, "inactive": s.inactive_miners_url, "blacklist": s.blacklist_url}


def fetch_public_lists(s: Settings) -> dict[ListName, PublicList]:
    """The three lists, read now (a list that cannot be read is kept with its error)."""
    return {name: fetch_list(name, url) for name, url in list_urls(s).items()}


def offline_lists(s: Settings, why: str = "not read (offline)") -> dict[ListName, PublicList]:
    """The three lists, unread: a standing from them shows the commitments with every list 'unknown'."""
    return {name: PublicList(name, url, error=why) for name, url in list_urls(s).items()}


@dataclass
class Finding:
    list: ListName
    status: Status
    reason: str = ""
    clears: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ElementStanding:
    element_id: str
    commitment: Commitment
    findings: list[Finding]

    @property
    def verdict(self) -> str:
        states = {f.status for f in self.findings}
        for status, word in (("listed", "NOT COUNTED"), ("maybe", "CHECK"), ("unknown", "UNKNOWN")):
            if status in states:
                return word
        return "OK"


def _finding(lst: PublicList, c: Commitment) -> Finding:
    if lst.error:
        return Finding(lst.name, "unknown", f"could not read {lst.url}: {lst.error}")
    if lst.name == "blacklist":
        rows = [r for r in lst.rows if r["hotkey"] == c.hotkey]
        reason, clears = REASONS["blacklist"]
        given = "; ".join(str(r["reason"]) for r in rows if r.get("reason"))
        if not rows:
            return Finding("blacklist", "clear")
        return Finding("blacklist", "listed", reason + (f" ({given})" if given else ""), clears, rows)
    rows = [r for r in lst.rows if r["hotkey"] == c.hotkey and r["element_id"] == c.element_id]
    exact = [r for r in rows if c.block is not None and r["commit_block"] == c.block]
    if not rows or (c.block is not None and not exact):
        return Finding(lst.name, "clear")
    hit = exact or rows
    key = str(hit[0].get("latest_status") or "FAIL_RUNTIME") if lst.name == "compliance" else "inactive"
    reason, clears = REASONS.get(key, REASONS["FAIL_RUNTIME"])
    if lst.name == "compliance":
        reason = f"{key}: {reason}" + (f"; run {hit[0]['latest_run_url']}" if hit[0].get("latest_run_url") else "")
    if not exact:
        blocks = ", ".join(str(r["commit_block"]) for r in rows)
        reason += (f" (listed at block {blocks}; the ledger does not know your commit's block, so this may be an "
                   "earlier commitment: with bittensor installed `tvkit standing` compares blocks)")
    return Finding(lst.name, "listed" if exact else "maybe", reason, clears.format(element=c.element_id), hit)


@dataclass
class StandingReport:
    hotkey: str
    source: CommitmentSource
    source_detail: str
    elements: list[ElementStanding]
    unscoped: list[Commitment]  # role miner without element_id: no element's registry sees them
    lists: dict[ListName, PublicList]

    def to_dict(self) -> dict[str, Any]:
        return {"hotkey": self.hotkey, "source": self.source, "source_detail": self.source_detail,
                "elements": [{"element_id": e.element_id, "verdict": e.verdict,
                              "commitment": e.commitment.to_dict(),
                              "lists": {f.list: {"status": f.status, "reason": f.reason, "clears": f.clears}
                                        for f in e.findings}} for e in self.elements],
                "without_element_id": [c.to_dict() for c in self.unscoped],
                "lists": {n: {"url": lst.url, "rows": len(lst.rows), "error": lst.error, "ignored": lst.ignored}
                          for n, lst in self.lists.items()}}

    def metrics(self) -> dict[str, Any]:
        """What a run records of a standing (notebook 06)."""
        return {"standing_source": self.source, "standing": {e.element_id: e.verdict for e in self.elements}}

    def format(self) -> str:
        lines = [f"hotkey {self.hotkey}", f"commitments read from the {self.source_detail}"]
        for name, lst in self.lists.items():
            state = f"unreadable ({lst.error})" if lst.error else f"{len(lst.rows)} row(s)"
            lines.append(f"  {name:<10} {lst.url}: {state}" + (f", {lst.ignored} without latest_run_key (ignored "
                                                                "by validators too)" if lst.ignored else ""))
        if not self.elements and not self.unscoped:
            lines.append("no commitments for this hotkey" + (" in the ledger" if self.source == "ledger" else ""))
        for e in self.elements:
            c = e.commitment
            block = f"block {c.block}" if c.block is not None else "block unknown (ledger)"
            lines.append(f"\n{e.element_id}: {e.verdict}  {c.model}@{(c.revision or '?')[:12]}  slug {c.slug}  {block}")
            for f in e.findings:
                lines.append(f"  {f.list:<10} {f.status}" + (f": {f.reason}" if f.reason else ""))
                if f.clears and f.status in ("listed", "maybe"):
                    lines.append(f"  {'':<10} what clears it: {f.clears}")
        for c in self.unscoped:
            lines.append(f"\n(no element_id) {c.model}@{(c.revision or '?')[:12]}: no element's registry reads a "
                         "commitment without element_id; commit again with --element")
        return "\n".join(lines)


def default_hotkey(s: Settings, entries: list[dict[str, Any]] | None = None) -> str:
    """The wallet's hotkey, else the hotkey of the latest commitment in the ledger."""
    from . import ledger

    hk = hotkey_ss58(s)
    if hk:
        return hk
    for e in reversed(ledger.read() if entries is None else entries):
        if isinstance(e.get("commitment"), dict) and e["commitment"].get("hotkey"):
            return str(e["commitment"]["hotkey"])
    raise KitError("whose standing? pass --hotkey SS58, or set BITTENSOR_WALLET_COLD/HOT (the wallet's hotkey file "
                   "gives its address)")


def standing(hotkey: str | None = None, s: Settings | None = None, source: CommitmentSource | None = None,
             entries: list[dict[str, Any]] | None = None,
             lists: dict[ListName, PublicList] | None = None) -> StandingReport:
    """A hotkey's latest commitment per element and whether each is on a public list.

    Args:
        hotkey: SS58 address (default: the wallet's hotkey, else the ledger's latest commitment's).
        s: settings (default: load them); the list URLs come from them.
        source: "chain" or "ledger"; default: the chain when bittensor is installed, else the ledger.
        entries: ledger entries (default: read the ledger).
        lists: already read lists (default: fetch them).

    Returns:
        StandingReport (`.format()`, `.to_dict()`).

    Raises:
        KitError: no hotkey to look at, or `source="chain"` without bittensor.

    >>> standing("5F...", source="ledger").format()  # doctest: +SKIP
    """
    from ..settings import load_settings

    s = s or load_settings()
    hotkey = hotkey or default_hotkey(s, entries)
    commitments, detail = read_commitments(s, hotkey, source, entries)
    lists = lists if lists is not None else fetch_public_lists(s)
    latest: dict[str, Commitment] = {}
    for c in commitments:  # oldest first: the last one per element wins, as in the registry
        if c.element_id:
            latest[c.element_id] = c
    elements = [ElementStanding(eid, c, [_finding(lists[n], c) for n in LIST_NAMES]) for eid, c in latest.items()]
    return StandingReport(hotkey, "chain" if detail.startswith("chain") else "ledger", detail, elements,
                          [c for c in commitments if not c.element_id], lists)
