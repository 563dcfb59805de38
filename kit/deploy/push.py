"""`tvkit push`: bundle -> Hugging Face -> chute file -> chutes build -> chutes deploy -> slug -> commitment.

`push(...)` does it and records it in the deployments ledger; `plan_push(...)` lists the same
steps as the calls they would make (method and URL), touching nothing, so a miner can see
what shipping does before any credential exists. A failed step raises with what to do and
leaves a ledger line saying how far it got (the upload, if done, stays on the Hub).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from .. import KitError
from ..settings import Settings
from . import chutes_cli, ledger
from .common import deployments_dir, hf_repo_of, require

NETUID = 44
PLACEHOLDER_REVISION = "0" * 40


@dataclass
class Step:
    name: str
    call: str
    detail: str = ""


@dataclass
class PushResult:
    hf_repo: str
    revision: str
    chute_name: str
    deployed: bool = False
    chute_id: str | None = None
    slug: str | None = None
    chute_file: str | None = None
    commitment: dict[str, Any] | None = None
    committed: str = "not attempted"
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def hotkey_ss58(s: Settings) -> str | None:
    """The hotkey's public address from the wallet's hotkey file (public, not a secret), if present."""
    path = s.hotkey_file
    if path is None or not path.is_file():
        return None
    try:
        return json.loads(path.read_text()).get("ss58Address")
    except (ValueError, OSError, AttributeError):
        return None


def commitment_payload(hf_repo: str, revision: str, chute_id: str | None, slug: str | None,
                       hotkey: str | None) -> dict[str, Any]:
    """What a miner commits on chain for validators to find the chute (subnet 44)."""
    return {"role": "miner", "model": hf_repo, "revision": revision, "chute_id": chute_id, "slug": slug,
            "hotkey": hotkey}


def commit_on_chain(s: Settings, payload: dict[str, Any]) -> str:
    """Commit the payload with bittensor when it is installed; otherwise say why not (no error)."""
    try:
        import bittensor as bt  # noqa: F401
    except ImportError:
        return ("not committed: bittensor is not installed in this environment (`pip install bittensor`, then "
                "`tvkit push --revision R` again, or commit the payload above yourself with your wallet)")
    if not (s.wallet_cold and s.wallet_hot):
        return "not committed: set BITTENSOR_WALLET_COLD and BITTENSOR_WALLET_HOT (your registered hotkey)"
    # Not exercised by the tests (bittensor is not a dependency of the kit).
    wallet = bt.Wallet(name=s.wallet_cold, hotkey=s.wallet_hot, path=str(s.wallet_path))
    subtensor = bt.Subtensor()
    subtensor.set_reveal_commitment(wallet=wallet, netuid=NETUID, data=json.dumps(payload), blocks_until_reveal=1)
    return f"committed on subnet {NETUID} (revealed after 1 block)"


def _image_uid(chutes_user: str, name: str, revision: str) -> str:
    """The image id the chutes CLI computes (uuid5 of user/name:tag), with the tag chute_template/setup.py makes."""
    import uuid

    from ..chute.render import template_piece

    tag = template_piece("setup").image_tag(revision)
    return str(uuid.uuid5(uuid.NAMESPACE_OID, f"{chutes_user}/{name}:{tag}".lower()))


def required_settings(hf_repo: str | None, deploy: bool) -> list[str]:
    names = ["HF_TOKEN"] + ([] if hf_repo else ["HF_USER"])
    if deploy:
        names += ["CHUTES_API_KEY", "CHUTES_USERNAME"]
    return names


def plan_push(s: Settings, bundle: str | None = None, revision: str | None = None, hf_repo: str | None = None,
              deploy: bool = True, commit: bool = True) -> tuple[list[Step], list[str]]:
    """The steps of a push as the calls they would make; (steps, the settings that are missing)."""
    from ..chute.render import chute_name

    missing = s.missing(*required_settings(hf_repo, deploy))
    repo = hf_repo or f"{s.hf_user or '<HF_USER>'}/turbovision-miner"
    rev = revision or PLACEHOLDER_REVISION
    user = (s.chutes_username or "<chutes-user>").lower()
    name = chute_name(repo if "<" not in repo else "hf-user/turbovision-miner", rev)
    hf, ch = s.hf_endpoint, s.chutes_api_url
    steps = [Step("settings", f"Hugging Face {hf}, Chutes API {ch}",
                  "" if revision else f"chute names below use a placeholder revision {rev[:7]}: the real one is "
                  "the upload's commit hash")]
    steps += [Step("check bundle", "local: kit.chute_rules.check_bundle",
                  f"{bundle or '<model path>'}: every chute rule, self-test on a 540 x 960 frame")]
    if revision and not bundle:
        steps.append(Step("check revision", f"GET {hf}/api/models/{repo}/revision/{revision}",
                          "the revision must exist; its commit hash is what the chute serves"))
    else:
        steps += [
            Step("create repo", f"POST {hf}/api/repos/create", f'{{"name": "{repo.split("/")[1]}", "visibility": '
                 '"private"}; 409 (exists) is fine'),
            Step("list remote files", f"GET {hf}/api/models/{repo}/tree/main?recursive=True",
                 "files the bundle no longer has are deleted in the same commit"),
            Step("upload modes", f"POST {hf}/api/models/{repo}/preupload/main", "which files go as LFS/Xet"),
            Step("upload weights", "LFS/Xet storage of the Hub", "the .onnx files, by content hash"),
            Step("commit", f"POST {hf}/api/models/{repo}/commit/main",
                 "ONE commit with every file; its commit hash is the revision"),
        ]
    if not deploy:
        steps.append(Step("ledger", f"append {ledger.ledger_path()}", "revision and chute name, deployed: false"))
        return steps, missing
    chute_file = deployments_dir() / "chutes" / f"{name.replace('-', '_')}.py"
    uid = _image_uid(user, name, rev)
    steps += [
        Step("render chute", f"local: {chute_file}", f"chute {name} for {repo}@<revision>"),
        Step("name free?", f"GET {ch}/chutes/{name}", "404 expected; an existing chute means the name is taken"),
        Step("chutes build", f"chutes build {chute_file.stem}:chute --wait",
             f"GET {ch}/images/{uid}, POST {ch}/images/, GET {ch}/images/{uid}/logs (signed with your hotkey)"),
        Step("chutes deploy", f"chutes deploy {chute_file.stem}:chute --accept-fee",
             f"GET {ch}/images/{uid}, POST {ch}/chutes/?accept_fee=true (signed with your hotkey)"),
        Step("resolve", f"GET {ch}/chutes/{name}", "chute_id and slug"),
        Step("commitment", "bittensor set_reveal_commitment" if commit else "printed only (--no-commit)",
             '{"role": "miner", "model", "revision", "chute_id", "slug", "hotkey"}'),
        Step("ledger", f"append {ledger.ledger_path()}", "revision, chute name, id and slug"),
    ]
    return steps, missing


def format_plan(steps: list[Step], missing: list[str]) -> str:
    width = max(len(st.name) for st in steps)
    lines = [f"{i:>2}. {st.name:<{width}}  {st.call}" + (f"\n    {'':<{width}}  {st.detail}" if st.detail else "")
             for i, st in enumerate(steps, 1)]
    if missing:
        lines.append("missing to run it for real: " + ", ".join(missing) + " (`tvkit doctor --deploy` says how)")
    return "\n".join(lines)


def push(bundle: str | Path | None = None, revision: str | None = None, hf_repo: str | None = None,
         deploy: bool = True, commit: bool = True, s: Settings | None = None, private: bool = True,
         echo: Callable[[str], None] = _stderr, build_timeout: float = 7200.0) -> PushResult:
    """Ship a bundle (or an existing revision): see the module docstring. Appends to the ledger."""
    from ..chute.render import chute_name, write_chute_script
    from ..chute_rules import BundleError, check_bundle
    from .chutes_api import ChutesAPI
    from .hub import Hub

    if s is None:
        from ..settings import load_settings

        s = load_settings()
    if not bundle and not revision:
        raise KitError("nothing to push: give --model-path DIR (upload a bundle) or --revision R (ship a revision "
                       "already on the Hub)")
    require(s, *required_settings(hf_repo, deploy), what="tvkit push" + ("" if deploy else " --no-deploy"))
    repo = hf_repo_of(s, hf_repo)
    if deploy:
        _, warnings = chutes_cli.check_config(s.chutes_api_url)
        for w in warnings:
            echo(f"warning: {w}")
    if bundle:
        bundle = Path(bundle)
        echo(f"checking {bundle} against the chute rules ...")
        violations = check_bundle(bundle)
        if violations:
            raise BundleError(bundle, violations)

    hub = Hub(s.hf_endpoint, s.hf_token)
    if revision:
        rev = hub.resolve(repo, revision)
        echo(f"{repo}@{revision} exists: commit {rev}" + (f" (files: {bundle})" if bundle else ""))
    else:
        echo(f"uploading {bundle} to {s.hf_endpoint}/{repo} (private, one commit) ...")
        rev = hub.publish(repo, bundle, message=f"tvkit push: {Path(bundle).name}", private=private)
        echo(f"revision {rev}")
    name = chute_name(repo, rev)
    result = PushResult(repo, rev, name)
    record: dict[str, Any] = {"hf_repo": repo, "revision": rev, "chute_name": name,
                              "bundle": str(bundle) if bundle else None, "deployed": False}
    if not deploy:
        result.notes.append("--no-deploy: uploaded only; `tvkit push --revision " + rev + "` deploys it")
        ledger.append("push", {**record, "status": "uploaded"})
        return result

    step = "render"
    try:
        chute_file = deployments_dir() / "chutes" / f"{name.replace('-', '_')}.py"
        write_chute_script(chute_file, repo, rev, s.chutes_username, bundle=bundle)
        result.chute_file = record["chute_file"] = str(chute_file)
        echo(f"chute file {chute_file}")
        with ChutesAPI(s.chutes_api_url, s.chutes_api_key) as api:
            step = "name check"
            existing = api.find_chute(name)
            if existing is not None:
                raise KitError(_name_taken(name, rev, existing))
            step = "build"
            echo(f"chutes build {chute_file.stem}:chute --wait ...")
            r = chutes_cli.build(chute_file, s.chutes_api_url, timeout=build_timeout, echo=echo)
            if not r.ok:
                raise KitError(f"`chutes build` failed: {'; '.join(r.errors)}{_hint(r.errors)}\n{r.tail()}")
            step = "deploy"
            echo(f"chutes deploy {chute_file.stem}:chute --accept-fee ...")
            r = chutes_cli.deploy(chute_file, s.chutes_api_url, echo=echo)
            if not r.ok:
                taken = api.find_chute(name) if any("exist" in e or "409" in e for e in r.errors) else None
                if taken is not None:
                    raise KitError(_name_taken(name, rev, taken))
                raise KitError(f"`chutes deploy` failed: {'; '.join(r.errors)}{_hint(r.errors)}\n{r.tail()}")
            step = "resolve"
            chute = api.get_chute(name)
    except KitError as e:
        ledger.append("push", {**record, "status": f"failed at {step}", "error": str(e).splitlines()[0][:300]})
        raise
    result.deployed = record["deployed"] = True
    result.chute_id = record["chute_id"] = chute.get("chute_id")
    result.slug = record["slug"] = chute.get("slug")
    result.commitment = commitment_payload(repo, rev, result.chute_id, result.slug, hotkey_ss58(s))
    result.committed = commit_on_chain(s, result.commitment) if commit else "not committed (--no-commit)"
    ledger.append("push", {**record, "status": "deployed", "commitment": result.commitment,
                           "committed": result.committed})
    return result


def _name_taken(name: str, rev: str, chute: dict[str, Any]) -> str:
    return (f"chute name {name} is taken: a chute with that name exists (id {chute.get('chute_id')}, slug "
            f"{chute.get('slug')}), most likely an earlier push of revision {rev[:12]}. Use it "
            f"(`tvkit ping-chute --revision {rev}`), or retire it first (`tvkit delete-chute --revision {rev}`)")


def _hint(errors: list[str]) -> str:
    text = " ".join(errors).lower()
    if any(w in text for w in ("authorization", "401", "403", "developer", "permission", "hotkey", "signature")):
        return (" -- Chutes refused the request: deploying needs a developer-enabled Chutes account (ask Chutes "
                "support), and the hotkey in ~/.chutes/config.ini must be the one you registered")
    if "402" in text or "balance" in text or "fee" in text:
        return " -- your Chutes balance does not cover the deployment fee; top it up and push again"
    if "not available" in text:
        return " -- the image is not built (yet); check `chutes images list` and push again when it is"
    return ""
