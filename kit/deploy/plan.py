"""The push's ten steps by name, what they need, the element they ship for, and `plan_push`.

`plan_push` lists the steps `kit.deploy.push.push` runs, in the same order (`PUSH_STEPS`), as the
calls they would make, and the exact commitment, touching nothing and needing no credential:
what notebook 05 and `tvkit push --plan` show. Unknown values are written `<...>`.

Usage: from kit.deploy.plan import plan_push
       print(plan_push(load_settings(), "bundle/", "PlayerDetect_v1@1.0").format())
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from .. import KitError
from ..settings import Settings
from . import chutes_cli
from .commitment import commitment_payload, hotkey_ss58
from .common import deployments_dir

PushStep = Literal["checks", "upload", "render", "build", "deploy", "secret", "warmup", "health", "commit",
                   "publish"]
PUSH_STEPS: tuple[PushStep, ...] = ("checks", "upload", "render", "build", "deploy", "secret", "warmup", "health",
                                    "commit", "publish")
UNKNOWN_REVISION = "<revision: the upload's commit hash>"
UNKNOWN_FROM_CHUTES = "<from the Chutes API after the deploy>"


def step_names(deploy: bool = True, commit: bool = True) -> list[PushStep]:
    """The steps a push runs: all ten; without deploy, checks and upload; without commit, up to health."""
    if not deploy:
        return ["checks", "upload"]
    return list(PUSH_STEPS if commit else PUSH_STEPS[:PUSH_STEPS.index("commit")])


def required_settings(deploy: bool, commit: bool) -> list[str]:
    names = ["HF_USER", "HF_TOKEN"]
    if deploy:
        names += ["CHUTES_API_KEY", "CHUTES_USERNAME", "CHUTES_HF_TOKEN"]
        if commit:
            names += ["BITTENSOR_WALLET_COLD", "BITTENSOR_WALLET_HOT"]
    return names



def resolve_element(element_id: str | None, manifest: Any, choose: Callable[[list[str]], str] | None = None) -> str:
    """The element to compete in: the given id checked against the manifest, or one chosen from it.

    Args:
        element_id: the id, or None to choose.
        manifest: a kit.manifest.Manifest, or None when it could not be read (a given id is then
            used unchecked, as upstream uses it, open_source_miner.py:22-23).
        choose: asks the user for one of the ids (a terminal prompt); None: not interactive.

    Raises:
        KitError: an id the manifest lacks (with a did-you-mean), or none given and no way to ask.
    """
    if element_id:
        if manifest is not None:
            manifest.element(element_id)
        return element_id
    ids = list(manifest.ids) if manifest is not None else []
    if not ids:
        raise KitError("no --element given and no manifest to choose from: pass --element ID")
    if choose is None:
        raise KitError("which element does this model compete in? pass --element ID, one of: "
                       f"{', '.join(ids)} "
                       f"(from {manifest.describe()})")
    return choose(ids)



# --- the plan ------------------------------------------------------------------------------------

@dataclass
class Step:
    name: PushStep
    call: str
    detail: str = ""


@dataclass
class Plan:
    """A push's steps as the calls they would make, and the exact commitment (unknowns marked <...>)."""

    steps: list[Step]
    commitment: dict[str, Any] | None
    hf_repo: str
    chute_name: str
    element_id: str
    missing: list[str]
    notes: list[str]

    def metrics(self) -> dict[str, Any]:
        """What a run records of a plan (notebook 05; `tvkit run` prints planned_steps)."""
        return {"planned_steps": [st.name for st in self.steps], "missing_settings": list(self.missing),
                "element_id": self.element_id, "commitment": self.commitment}

    def to_dict(self) -> dict[str, Any]:
        return {"steps": [asdict(st) for st in self.steps], "commitment": self.commitment, "hf_repo": self.hf_repo,
                "chute_name": self.chute_name, "element_id": self.element_id, "missing": self.missing,
                "notes": self.notes}

    def format(self) -> str:
        import json

        width = max(len(st.name) for st in self.steps)
        lines = [f"{i:>2}. {st.name:<{width}}  {st.call}" + (f"\n    {'':<{width}}  {st.detail}" if st.detail else "")
                 for i, st in enumerate(self.steps, 1)]
        if self.commitment is not None:
            lines.append("commitment: " + json.dumps(self.commitment))
        lines += [f"note: {n}" for n in self.notes]
        if self.missing:
            lines.append("missing to run it for real: " + ", ".join(self.missing)
                         + " (`tvkit doctor --deploy` says how)")
        return "\n".join(lines)


def _template_origin(template: str | None) -> str:
    from ..chute.official import DEFAULT_COMMIT, obtain_template

    try:
        return obtain_template(template, download=False).describe()
    except KitError:
        return f"downloaded from score-technologies/turbovision at {DEFAULT_COMMIT[:7]} on first use"


def _plan_steps(s: Settings, bundle: str | None, element: str, repo: str, rev: str, name: str,
                commit: bool, template: str | None) -> list[Step]:
    hf, ch = s.hf_endpoint, s.chutes_api_url
    f = f"{name.replace('-', '_')}.py" if "<" not in name else "<chute name>.py"
    chute_file = deployments_dir() / "chutes" / f
    if "<" not in rev:
        upload = Step("upload", f"GET {hf}/api/models/{repo}/revision/{rev}; PUT {hf}/api/models/{repo}/settings",
                      '{"visibility": "private"}: the revision must exist; the repo stays private until the commit')
    else:
        upload = Step("upload", f"POST {hf}/api/repos/create; PUT {hf}/api/models/{repo}/settings; POST "
                      f"{hf}/api/models/{repo}/preupload/main; LFS; POST {hf}/api/models/{repo}/commit/main",
                      '{"visibility": "private"} at creation and again through the settings (an existing public '
                      f"repo is made private again); ONE commit of {bundle or '<bundle>'}, its commit hash the "
                      "revision")
    return [
        Step("checks", f"local: tvkit comply --bundle {bundle or '<bundle>'} --element {element}",
             "and: the credentials, ~/.chutes/config.ini, CHUTES_HF_TOKEN not the write token (GET "
             f"{hf}/api/whoami-v2), " + ("bittensor and the wallet's hotkey" if commit else "the wallet's hotkey")),
        upload,
        Step("render", f"local: {chute_file}", f"upstream's chute template ({_template_origin(template)}) for "
             f"{repo}@{rev}, checked with the validators' integrity hash"),
        Step("build", f"chutes {' '.join(chutes_cli.build_args(chute_file))}",
             f"GET {ch}/chutes/{name} first (an existing chute with the same code is reused); signed with your "
             "hotkey; the CLI reads the private repo with CHUTES_HF_TOKEN"),
        Step("deploy", f"chutes {' '.join(chutes_cli.deploy_args(chute_file))}",
             f"POST {ch}/chutes/?accept_fee=true (signed), then GET {ch}/chutes/{name}: chute_id and slug"),
        Step("secret", f"POST {ch}/secrets/", '{"purpose": <chute_id>, "key": "HF_TOKEN", "value": <CHUTES_HF_TOKEN>}'),
        Step("warmup", f"GET {ch}/chutes/warmup/<chute_id>", 'until {"status": "hot"}'),
        Step("health", f"POST {s.chutes_chute_url}/health", '{} until {"status": "healthy"}: the private model loaded'),
        *([Step("commit", "bittensor Subtensor.set_reveal_commitment", f"netuid {s.netuid} on {s.subtensor_endpoint}, "
                "blocks_until_reveal=1, the commitment below, signed by your wallet"),
           Step("publish", f"PUT {hf}/api/models/{repo}/settings", '{"visibility": "public"}: only after the commit')]
          if commit else []),
    ]


def _size_note(bundle: str, element: Any) -> str:
    """The repo as the Hub will hold it (every file pushed + its .gitattributes) against the element's cap."""
    from ..bundle import repo_files

    total = sum(n for _, n in repo_files(bundle)) / 2 ** 20
    cap = getattr(element, "max_model_size_mb", None)
    if not cap:
        return f"the repo will be {total:.2f} MiB (every file pushed and the Hub's .gitattributes)"
    verdict = "fits" if total <= cap else "OVER: the registry never challenges it"
    return (f"the repo will be {total:.2f} MiB of the element's {cap:g} MiB cap (every file pushed and the Hub's "
            f".gitattributes): {verdict}")


def plan_push(s: Settings, bundle: str | None = None, element_id: str | None = None, revision: str | None = None,
              deploy: bool = True, commit: bool = True, manifest: Any = None, template: str | None = None) -> Plan:
    """What `push` would do, as calls, and the exact commitment; touches nothing, needs no credential.

    Args:
        s: settings (placeholders stand in for what is missing).
        bundle, element_id, revision, deploy, commit, template: as for `push`.
        manifest: when given, the element id is checked against it.

    Returns:
        Plan (`.format()`, `.to_dict()`); unknown values are written `<...>`.

    >>> plan_push(load_settings(), element_id="PlayerDetect_v1@1.0").commitment["role"]  # doctest: +SKIP
    'miner'
    """
    from ..chute.official import chute_name, hf_repo_name

    notes: list[str] = []
    if element_id:
        element = resolve_element(element_id, manifest)
    else:
        element = "<element-id>"
        notes.append("no --element: " + (f"a push asks for one of {', '.join(manifest.ids)} ({manifest.describe()})"
                                            if manifest is not None else "a push needs one"))
    repo = hf_repo_name(s.hf_user) if s.hf_user else "<HF_USER>/ScoreVision"
    known = bool(revision) and len(revision) == 40 and all(ch in "0123456789abcdef" for ch in revision)
    rev = revision if known else UNKNOWN_REVISION
    name = chute_name(revision, s.hf_user) if known and s.hf_user else \
        f"turbovision-{(s.hf_user or '<HF_USER>').lower()}-<nickname of the revision>"
    if revision and not known:
        notes.append(f"--revision {revision} is resolved to its 40-hex commit hash by the upload step")
    steps = _plan_steps(s, bundle, element, repo, rev, name, commit, template)
    keep = set(step_names(deploy, commit))
    steps = [st for st in steps if st.name in keep]
    commitment = None
    if deploy:
        commitment = commitment_payload(repo, rev, UNKNOWN_FROM_CHUTES, UNKNOWN_FROM_CHUTES,
                                        hotkey_ss58(s) or "<ss58 address of BITTENSOR_WALLET_COLD/HOT's hotkey>",
                                        element)
    if deploy and not commit:
        notes.append("--no-commit: stops after the health check; the commitment is printed and the repo stays private")
    if manifest is not None and getattr(manifest, "example", False):
        notes.append(f"element checked against {manifest.describe()}; a real push checks the live manifest")
    if bundle and Path(bundle).is_dir():
        notes.append(_size_note(bundle, manifest.get_element(element) if manifest is not None else None))
    missing = s.missing(*required_settings(deploy, commit))
    return Plan(steps, commitment, repo, name, element, missing, notes)
