"""The on-chain commitment: what a miner commits, committing it, and reading it back.

Usage: `payload = commitment_payload("alice/ScoreVision", rev, chute_id, slug, hotkey, "PlayerDetect_v1@1.0")`

The payload is upstream's (scorevision/utils/bittensor_helpers.py:191-200), in its key
order: `role` ("miner"), `model`, `revision`, `chute_id`, `slug`, `hotkey`, `element_id`. The
validators' registry reads a hotkey's revealed commitments, keeps those with role "miner" and
the element it scores, and takes the latest one (miner_registry.py:352-382); a commitment
without `element_id` is invisible to every element's registry, and the commit's *block*
decides ties between equivalent models (earlier wins) and keys the public compliance and
inactive lists (see `standing.py`).

Committing: `bittensor` (not a dependency of the kit: it is large and only this step needs it)
`Subtensor(network=BITTENSOR_SUBTENSOR_ENDPOINT).set_reveal_commitment(wallet, netuid, data,
blocks_until_reveal=1)` with the wallet of BITTENSOR_WALLET_COLD/HOT (bittensor_helpers.py:
207-223). A failure raises `CommitError`: the caller then keeps the repo private
(open_source_miner.py:87-103). Reading: through bittensor when it is installed
(`get_revealed_commitment_by_hotkey` / `get_all_revealed_commitments`, as the registry does),
else from the deployments ledger, which records what `tvkit push` committed; `read_commitments`
says which.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from .. import KitError
from ..settings import Settings

CommitmentSource = Literal["chain", "ledger"]
#: A committer takes (settings, payload) and returns a one-line description of what it did, or raises.
Committer = Callable[[Settings, dict[str, Any]], str]


class CommitError(KitError):
    """The commitment was not made on chain."""


def commitment_payload(model: str, revision: str, chute_id: str | None, slug: str | None, hotkey: str | None,
                       element_id: str | None) -> dict[str, Any]:
    """The commitment, in upstream's key order (bittensor_helpers.py:191-200).

    >>> list(commitment_payload("a/ScoreVision", "f" * 40, "id", "s", "5F..", "PlayerDetect_v1@1.0"))
    ['role', 'model', 'revision', 'chute_id', 'slug', 'hotkey', 'element_id']
    """
    payload: dict[str, Any] = {"role": "miner", "model": model, "revision": revision, "chute_id": chute_id,
                               "slug": slug, "hotkey": hotkey}
    if element_id is not None:
        payload["element_id"] = str(element_id)
    return payload


def hotkey_ss58(s: Settings) -> str | None:
    """The hotkey's public address from the wallet's hotkey file (public, not a secret), if present."""
    path = s.hotkey_file
    if path is None or not path.is_file():
        return None
    try:
        return json.loads(path.read_text()).get("ss58Address")
    except (ValueError, OSError, AttributeError):
        return None


def bittensor_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("bittensor") is not None


def bittensor_commit(s: Settings, payload: dict[str, Any]) -> str:
    """Commit with bittensor (not exercised by the tests: no chain is reachable here).

    Raises:
        CommitError: bittensor missing, wallet not set, or the chain refused it.
    """
    if not bittensor_available():
        raise CommitError("bittensor is not installed in this environment: `pip install bittensor`, or push with "
                          "--no-commit and commit the printed payload yourself")
    if not (s.wallet_cold and s.wallet_hot):
        raise CommitError("set BITTENSOR_WALLET_COLD and BITTENSOR_WALLET_HOT (your registered hotkey)")
    import inspect

    import bittensor as bt

    try:
        wallet = bt.Wallet(name=s.wallet_cold, hotkey=s.wallet_hot, path=str(s.wallet_path))
        subtensor = bt.Subtensor(network=s.subtensor_endpoint)
        kwargs = {"wallet": wallet, "netuid": s.netuid, "data": json.dumps(payload), "blocks_until_reveal": 1}
        if "raise_error" in inspect.signature(subtensor.set_reveal_commitment).parameters:
            kwargs["raise_error"] = True  # upstream passes it (bittensor_helpers.py:215); older SDKs lack it
        response = subtensor.set_reveal_commitment(**kwargs)
    except Exception as e:  # noqa: BLE001 - any chain or wallet error means: not committed
        raise CommitError(f"the chain did not take the commitment ({type(e).__name__}: {e})") from e
    ok = getattr(response, "success", None)
    if ok is None and isinstance(response, tuple) and response:
        ok = bool(response[0])
    if ok is False:
        message = getattr(response, "message", None) or (response[1] if isinstance(response, tuple)
                                                         and len(response) > 1 else "no reason given")
        raise CommitError(f"the chain did not take the commitment: {message}")
    return f"committed on subnet {s.netuid} ({s.subtensor_endpoint}); revealed after 1 block"


@dataclass
class Commitment:
    """One miner commitment of a hotkey: its element, block (None when only the ledger knows it)."""

    hotkey: str
    element_id: str | None
    block: int | None
    model: str | None
    revision: str | None
    chute_id: str | None
    slug: str | None
    source: CommitmentSource
    time: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _from_payload(hotkey: str, block: int | None, data: Any, source: CommitmentSource,
                  when: str | None = None) -> Commitment | None:
    obj = data
    if isinstance(data, str):
        try:
            obj = json.loads(data)
        except ValueError:
            return None
    if not isinstance(obj, dict) or obj.get("role") != "miner":
        return None  # the registry reads only role "miner" (miner_registry.py:369-371)
    eid = obj.get("element_id")
    return Commitment(str(obj.get("hotkey") or hotkey), str(eid).strip() if eid is not None else None, block,
                      obj.get("model"), obj.get("revision"), obj.get("chute_id"), obj.get("slug"), source, when)


def chain_commitments(s: Settings, hotkey: str) -> list[Commitment]:
    """The hotkey's revealed commitments on chain, through bittensor (oldest first)."""
    import bittensor as bt

    subtensor = bt.Subtensor(network=s.subtensor_endpoint)
    try:
        rows = subtensor.get_revealed_commitment_by_hotkey(netuid=s.netuid, hotkey_ss58_address=hotkey)
    except (AttributeError, TypeError):
        rows = (subtensor.get_all_revealed_commitments(s.netuid) or {}).get(hotkey)
    out = [_from_payload(hotkey, int(block), data, "chain") for block, data in (rows or [])]
    return sorted((c for c in out if c), key=lambda c: c.block or 0)


def ledger_commitments(entries: list[dict[str, Any]], hotkey: str | None = None) -> list[Commitment]:
    """What `tvkit push` committed, from the deployments ledger (oldest first; block when recorded)."""
    out = []
    for e in entries:
        if e.get("event") != "push" or not e.get("committed") or not isinstance(e.get("commitment"), dict):
            continue
        c = _from_payload(e["commitment"].get("hotkey") or "", e.get("commit_block"), e["commitment"], "ledger",
                          e.get("time"))
        if c and (hotkey is None or c.hotkey == hotkey):
            out.append(c)
    return out


def read_commitments(s: Settings, hotkey: str, source: CommitmentSource | None = None,
                     entries: list[dict[str, Any]] | None = None) -> tuple[list[Commitment], str]:
    """(commitments, where they were read) from the chain when bittensor is installed, else the ledger.

    Raises:
        KitError: `source="chain"` without bittensor, or the chain could not be read.
    """
    from . import ledger

    if source == "chain" or (source is None and bittensor_available()):
        if not bittensor_available():
            raise KitError("reading commitments from the chain needs bittensor (`pip install bittensor`); "
                           "without it the deployments ledger is read")
        try:
            return chain_commitments(s, hotkey), f"chain: subnet {s.netuid} on {s.subtensor_endpoint} (bittensor)"
        except Exception as e:  # noqa: BLE001 - say it and fall back only when the caller did not insist
            if source == "chain":
                raise KitError(f"could not read commitments from {s.subtensor_endpoint}: {type(e).__name__}: {e}") \
                    from e
            why = f"the chain could not be read ({type(e).__name__}: {e})"
    else:
        why = "as asked" if source == "ledger" else "bittensor is not installed, so the chain is out of reach"
    rows = ledger.read() if entries is None else entries
    return ledger_commitments(rows, hotkey), f"ledger: {ledger.ledger_path()} ({why}; it knows only what " \
                                             "`tvkit push` committed from this machine)"
