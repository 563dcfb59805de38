"""`tvkit push`: ship a bundle the way the subnet ships today (upstream `sv deploy-os-miner` at ea7412f).

Usage: `push("bundle/", "PlayerDetect_v1@1.0")`, or `tvkit push --bundle DIR --element ID [--plan]`

The steps, in upstream's order (scorevision/cli/open_source_miner.py:66-103,
utils/chutes_helpers.py:429-458, MINER.md section 5), each named once in `PUSH_STEPS`:

 1. checks   `kit.comply` on the bundle for the element, and what shipping needs: the
             credentials, the chutes CLI's config, CHUTES_HF_TOKEN a separate token that
             cannot write (the Hub's whoami says), bittensor and the wallet's hotkey.
 2. upload   the private repo `<HF_USER>/ScoreVision` (an existing public one is made private
             again, huggingface_helpers.py:97-101, 146-150), the bundle in ONE commit whose
             hash is the revision.
 3. render   the validator's own chute template, rendered as `sv` renders it, and verified
             with the validators' integrity hash (kit.chute.official).
 4. build    `chutes build F:chute --public --wait` (chutes_helpers.py:176-216).
 5. deploy   `chutes deploy F:chute --accept-fee`, then the chute's id and slug from the API.
 6. secret   CHUTES_HF_TOKEN set as the chute's HF_TOKEN secret through the Chutes API, so the
             chute can read the still private repo (chutes_helpers.py:255-291).
 7. warmup   the chute warmed until hot.
 8. health   its /health answers {"status": "healthy"} (chutes_helpers.py:294-334): it loaded
             the private model.
 9. commit   the commitment {role, model, revision, chute_id, slug, hotkey, element_id}
             (bittensor_helpers.py:178-223), with bittensor.
10. publish  the repo made public, only now: nobody can copy the model before the commit
             block that wins ties (open_source_miner.py:87-103).

A failure stops the push, says what is done and what to run next, records a ledger line, and
never makes the repo public. `--no-commit` stops after the health check, prints the
commitment and leaves the repo private; `--no-deploy` stops after the upload. A push of a
revision whose chute is already deployed (same name, same code) reuses it, so the command
printed after a failure resumes where it stopped. `plan_push` lists the same steps as the
calls they would make, and the exact commitment, touching nothing (`kit.deploy.plan`, which
also names the steps; its names are importable from here as before).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import KitError
from ..settings import Settings
from . import chutes_cli, ledger
from .commitment import CommitError, Committer, bittensor_available, bittensor_commit, commitment_payload, hotkey_ss58
from .common import MissingCredentials, chute_base_url, deployments_dir
from .plan import (
    PUSH_STEPS,
    UNKNOWN_FROM_CHUTES,
    UNKNOWN_REVISION,
    Plan,
    PushStep,
    Step,
    plan_push,
    required_settings,
    resolve_element,
    step_names,
)

# push's own names, then the plan's, which `from kit.deploy.push import ...` has always offered
__all__ = ["push", "PushResult", "PushFailed", "PUSH_STEPS", "PushStep", "UNKNOWN_FROM_CHUTES", "UNKNOWN_REVISION",
           "Plan", "Step", "plan_push", "required_settings", "resolve_element", "step_names"]


@dataclass
class PushResult:
    hf_repo: str
    element_id: str
    revision: str | None = None
    chute_name: str | None = None
    chute_id: str | None = None
    slug: str | None = None
    chute_file: str | None = None
    commitment: dict[str, Any] | None = None
    committed: bool = False
    commit_note: str = ""
    public: bool = False
    done: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def metrics(self) -> dict[str, Any]:
        """What a run records of a push (notebook 05)."""
        return {"revision": self.revision, "element_id": self.element_id, "chute_name": self.chute_name,
                "slug": self.slug, "deployed": "deploy" in self.done, "committed": self.committed,
                "public": self.public, "steps_done": list(self.done)}


class PushFailed(KitError):
    """A step failed: the message says which, what is done, that the repo stays private, what next."""

    def __init__(self, step: PushStep, error: BaseException, result: PushResult, next_step: str):
        self.step, self.result = step, result
        done = ", ".join(_done_words(result)) or "nothing"
        super().__init__(f"push stopped at step '{step}': {error}\n  done: {done}\n  the Hugging Face repo "
                         f"{result.hf_repo} {'is public' if result.public else 'stays private'}\n  next: {next_step}")


def _done_words(r: PushResult) -> list[str]:
    words = {"upload": f"upload (revision {r.revision})", "deploy": f"deploy (chute {r.chute_name}, slug {r.slug})"}
    return [words.get(d, d) for d in r.done]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class _Ctx:
    """Everything the steps share."""

    s: Settings
    bundle: Path | None
    element_id: str
    result: PushResult
    commit: bool
    echo: Callable[[str], None]
    committer: Committer
    template: str | None
    manifest: Any
    build_timeout: float
    warmup_seconds: float
    health_attempts: int
    health_delay: float
    hotkey: str | None = None
    rendered: Any = None
    reused: bool = False

    def resume_command(self) -> str:
        cmd = f"tvkit push --revision {self.result.revision} --element {self.element_id}"
        return cmd + (f" --bundle {self.bundle}" if self.bundle else "")

    def api(self):
        from .chutes_api import ChutesAPI

        return ChutesAPI(self.s.chutes_api_url, self.s.chutes_api_key)

    def hub(self):
        from .hub import Hub

        return Hub(self.s.hf_endpoint, self.s.hf_token)

    def cli_env(self) -> dict[str, str]:
        """What the chutes CLI needs to import the chute, which downloads the private repo."""
        return {"HF_TOKEN": self.s.chutes_hf_token.reveal(), "HF_ENDPOINT": self.s.hf_endpoint, "HF_HUB_OFFLINE": "0"}


# --- the steps ---------------------------------------------------------------------------------

def _step_checks(c: _Ctx) -> None:
    if c.bundle is not None:
        _comply(c)
    else:
        c.echo("checks: no --bundle, so no local bundle to check (the revision on the Hub is shipped as it is)")


def _comply(c: _Ctx) -> None:
    """The validator's compliance loop on the bundle (kit.comply); anything but PASS stops the push."""
    from ..comply import comply, format_report

    c.echo(f"checks: tvkit comply --bundle {c.bundle} --element {c.element_id} ...")
    element = c.manifest.get_element(c.element_id) if c.manifest is not None else None
    report = comply(c.bundle, element=element)
    if report.verdict != "PASS":
        raise KitError(f"the bundle does not pass `tvkit comply` ({report.verdict}):\n{format_report(report)}")
    c.echo(f"checks: comply PASS (p95 {report.latency.p95_ms:.1f} ms)" if report.latency else "checks: comply PASS")


def _step_upload(c: _Ctx) -> None:
    hub, r = c.hub(), c.result
    if c.result.revision:  # --revision: ship a revision already on the Hub, kept private until the commit
        rev = hub.resolve(r.hf_repo, c.result.revision)
        hub.set_visibility(r.hf_repo, private=True)
        c.echo(f"upload: {r.hf_repo}@{c.result.revision} exists (commit {rev}); the repo is private")
    else:
        c.echo(f"upload: {c.bundle} -> {c.s.hf_endpoint}/{r.hf_repo} (private, one commit) ...")
        rev = hub.publish(r.hf_repo, c.bundle, message=f"tvkit push: {c.bundle.name} for {c.element_id}",
                          private=True)
        c.echo(f"upload: revision {rev}")
    r.revision = rev


def _step_render(c: _Ctx) -> None:
    from ..chute.official import render_official, verify_text

    r = c.result
    c.rendered = render_official(r.revision, c.s.hf_user, c.s.chutes_username, template=c.template)
    check = verify_text(c.rendered.text, source=c.rendered.source)
    if not check.match:
        raise KitError(f"the rendered chute does not pass the validators' integrity check:\n{check.format()}")
    r.chute_name = c.rendered.chute_name
    path = c.rendered.write(deployments_dir() / "chutes" / f"{r.chute_name.replace('-', '_')}.py")
    r.chute_file = str(path)
    c.echo(f"render: {path} from {c.rendered.source.describe()} (integrity hash matches)")


def _existing_chute(c: _Ctx, api) -> dict[str, Any] | None:
    """The chute of this name if it is already ours with exactly this code (reuse it); KitError if it differs."""
    from ..chute.official import integrity_hash

    chute = api.find_chute(c.result.chute_name)
    if chute is None:
        return None
    code = api.chute_code(chute["chute_id"])
    if integrity_hash(code) != integrity_hash(c.rendered.text) or c.result.revision not in code:
        raise KitError(f"chute name {c.result.chute_name} is taken by a chute with other code (id "
                       f"{chute.get('chute_id')}); retire it first: "
                       f"`tvkit delete-chute --revision {c.result.revision}`")
    return chute


def _step_build(c: _Ctx) -> None:
    with c.api() as api:
        chute = _existing_chute(c, api)
    if chute is not None:
        c.reused = True
        c.result.chute_id, c.result.slug = chute.get("chute_id"), chute.get("slug")
        c.echo(f"build: chute {c.result.chute_name} is already deployed with this code (id {c.result.chute_id}); "
               "reusing it")
        return
    path = Path(c.result.chute_file)
    c.echo(f"build: chutes {' '.join(chutes_cli.build_args(path))} ...")
    out = chutes_cli.build(path, c.s.chutes_api_url, timeout=c.build_timeout, echo=c.echo, env=c.cli_env())
    if not out.ok:
        raise KitError(f"`chutes build` failed: {'; '.join(out.errors)}{_hint(out.errors)}\n{out.tail()}")


def _step_deploy(c: _Ctx) -> None:
    from ..chute.official import chute_slug

    r = c.result
    if not c.reused:
        path = Path(r.chute_file)
        c.echo(f"deploy: chutes {' '.join(chutes_cli.deploy_args(path))} ...")
        out = chutes_cli.deploy(path, c.s.chutes_api_url, echo=c.echo, env=c.cli_env())
        if not out.ok:
            raise KitError(f"`chutes deploy` failed: {'; '.join(out.errors)}{_hint(out.errors)}\n{out.tail()}")
    with c.api() as api:
        chute = api.get_chute(r.chute_name)
    r.chute_id = chute.get("chute_id")
    r.slug = chute.get("slug") or chute_slug(r.revision, c.s.hf_user, c.s.chutes_username)
    if not r.chute_id:
        raise KitError(f"the Chutes API gave no chute_id for {r.chute_name}")
    c.echo(f"deploy: chute {r.chute_name} id {r.chute_id} slug {r.slug}")


def _step_secret(c: _Ctx) -> None:
    with c.api() as api:
        how = api.create_secret(c.result.chute_id, "HF_TOKEN", c.s.chutes_hf_token)
    c.echo(f"secret: HF_TOKEN of chute {c.result.chute_id} {'set' if how == 'created' else 'was already set'} "
           "(CHUTES_HF_TOKEN)")


def _step_warmup(c: _Ctx) -> None:
    with c.api() as api:
        status = api.warm_until_hot(c.result.chute_id, seconds=c.warmup_seconds,
                                    echo=lambda ln: c.echo(f"warmup: {ln}"))
    if status != "hot":
        raise KitError(f"chute {c.result.chute_name} was not hot after {c.warmup_seconds:.0f} s "
                       f"(last status: {status})")


def _step_health(c: _Ctx) -> None:
    base = chute_base_url(c.s, c.result.slug)
    with c.api() as api:
        health = api.health(base, attempts=c.health_attempts, delay=c.health_delay)
    c.echo(f"health: {base}/health answered healthy (model loaded: {health.get('model_loaded')})")


def _step_commit(c: _Ctx) -> None:
    note = c.committer(c.s, c.result.commitment)
    c.result.committed, c.result.commit_note = True, note
    c.echo(f"commit: {note}")


def _step_publish(c: _Ctx) -> None:
    c.hub().set_visibility(c.result.hf_repo, private=False)
    c.result.public = True
    c.echo(f"publish: {c.result.hf_repo} is public now that the commitment is on chain")


_STEP_FUNCS: dict[str, Callable[[_Ctx], None]] = {
    "checks": _step_checks, "upload": _step_upload, "render": _step_render, "build": _step_build,
    "deploy": _step_deploy, "secret": _step_secret, "warmup": _step_warmup, "health": _step_health,
    "commit": _step_commit, "publish": _step_publish}


def _next_step(step: PushStep, c: _Ctx) -> str:
    resume = f"`{c.resume_command()}`"
    if step == "checks":
        return "fix what the check names, then run the same command again (nothing was uploaded)"
    if step == "upload":
        return "run the same command again once the cause is fixed (nothing was committed on the Hub)"
    if step == "render":
        return (f"give the validator's template (--template PATH, or TVKIT_CHUTE_TEMPLATE), then {resume}")
    if step in ("build", "deploy"):
        return f"{resume} (the upload is kept; it starts again from the build)"
    if step in ("secret", "warmup", "health"):
        return (f"{resume} once the chute is fixed (it is kept and reused; `tvkit warmup --revision "
                f"{c.result.revision}`, `tvkit chute-logs --instance ID` show it)")
    if step == "commit":
        return f"{resume} once the cause is fixed (the chute is reused and the commit tried again)"
    return ("the commitment IS on chain; make the repo public with `tvkit publish` (not another push: a new commit "
            "would move your commit block later)")


# --- preflight ---------------------------------------------------------------------------------

def _preflight(c: _Ctx, steps: list[PushStep], using_bittensor: bool) -> None:
    """What the later steps need, checked before anything is uploaded (part of the checks step)."""
    s = c.s
    missing = s.missing(*required_settings("render" in steps, "commit" in steps))
    if missing:
        raise MissingCredentials(missing, "tvkit push")
    if "render" not in steps:
        return
    for warning in chutes_cli.check_config(s.chutes_api_url)[1]:
        c.echo(f"warning: {warning}")
    _check_read_token(s)
    if "commit" in steps:
        c.hotkey = hotkey_ss58(s)
        if not c.hotkey:
            raise KitError(f"no hotkey file at {s.hotkey_file}: the commitment names your hotkey; create and register "
                           "it (`tvkit doctor --deploy` says how), or push with --no-commit")
        if using_bittensor and not bittensor_available():
            raise KitError("bittensor is not installed, so the commitment cannot be made: `pip install bittensor`, or "
                           "push with --no-commit (the payload is printed and the repo stays private)")
    else:
        c.hotkey = hotkey_ss58(s)


def _check_read_token(s: Settings) -> None:
    """CHUTES_HF_TOKEN goes to Chutes: it must not be the write token, nor able to write (MINER.md section 5)."""
    from .hub import token_access

    if s.chutes_hf_token == s.hf_token:
        raise KitError("CHUTES_HF_TOKEN is your write token (HF_TOKEN): Chutes keeps it on the chute, so give it a "
                       "fine-grained token with read access to your ScoreVision repo only "
                       "(https://huggingface.co/settings/tokens)")
    access = token_access(s.hf_endpoint, s.chutes_hf_token)
    if access["can_write"]:
        raise KitError(f"CHUTES_HF_TOKEN can write (role {access['role']}): Chutes keeps it on the chute, so make a "
                       "fine-grained token with read access to your ScoreVision repo only "
                       "(https://huggingface.co/settings/tokens)")



# --- push ----------------------------------------------------------------------------------------

def push(bundle: str | Path | None, element_id: str, revision: str | None = None, *, deploy: bool = True,
         commit: bool = True, s: Settings | None = None, manifest: Any = None,
         echo: Callable[[str], None] = _stderr, committer: Committer | None = None, template: str | None = None,
         build_timeout: float = 7200.0, warmup_seconds: float = 900.0, health_attempts: int = 30,
         health_delay: float = 10.0) -> PushResult:
    """Ship a bundle (or a revision already on the Hub) for one element; see the module docstring.

    Args:
        bundle: the bundle folder (checked with `kit.comply`, uploaded); None with `revision`.
        element_id: the manifest element the model competes in (goes into the commitment).
        revision: ship this revision already on the Hub instead of uploading (resume after a failure).
        deploy: False uploads only; commit: False stops after the health check, repo private.
        s: settings (default: load them); manifest: the Manifest `element_id` is checked against.
        committer: commits the payload (default: bittensor); tests pass their own.
        template: the validator's chute template (default: kit.chute.official finds it).

    Returns:
        PushResult: revision, chute name/id/slug, the commitment, committed, public, the steps done.

    Raises:
        PushFailed: a step failed; its message says what is done and what to run next.
        KitError: nothing to push.

    >>> push("bundle", "PlayerDetect_v1@1.0", commit=False).commitment["element_id"]  # doctest: +SKIP
    'PlayerDetect_v1@1.0'
    """
    from ..chute.official import hf_repo_name
    from ..settings import load_settings

    s = s or load_settings()
    if bundle is None and revision is None:
        raise KitError("nothing to push: give --bundle DIR (upload a bundle) or --revision R (a revision already "
                       "on the Hub)")
    steps = step_names(deploy, commit)
    result = PushResult(hf_repo_name(s.hf_user) if s.hf_user else "<HF_USER>/ScoreVision", element_id,
                        revision=revision)
    c = _Ctx(s, Path(bundle) if bundle else None, element_id, result, commit, echo, committer or bittensor_commit,
             template, manifest, build_timeout, warmup_seconds, health_attempts, health_delay)
    for i, step in enumerate(steps, 1):
        echo(f"[{i}/{len(steps)}] {step}")
        try:
            if step == "checks":
                _preflight(c, steps, using_bittensor=committer is None)
            _STEP_FUNCS[step](c)
            if step == "health":
                result.commitment = commitment_payload(result.hf_repo, result.revision, result.chute_id,
                                                       result.slug, c.hotkey, element_id)
        except (KitError, CommitError) as e:
            if result.done:  # a push that changed nothing leaves no line
                _record(c, f"failed at {step}", str(e).splitlines()[0][:300])
            raise PushFailed(step, e, result, _next_step(step, c)) from e
        result.done.append(step)
    _finish_notes(c, deploy, commit)
    _record(c, "public" if result.public else ("deployed" if deploy else "uploaded"))
    return result


def _finish_notes(c: _Ctx, deploy: bool, commit: bool) -> None:
    r = c.result
    if not deploy:
        r.notes.append(f"--no-deploy: uploaded only, the repo stays private; `tvkit push --revision {r.revision} "
                       f"--element {c.element_id}` deploys it")
    elif not commit:
        r.commit_note = "not committed (--no-commit)"
        r.notes.append(f"--no-commit: the repo {r.hf_repo} stays private. Commit the payload above yourself, then "
                       f"`tvkit publish`; or `tvkit push --revision {r.revision} --element {c.element_id}` "
                       "commits and publishes")


def _record(c: _Ctx, status: str, error: str | None = None) -> None:
    """One ledger line for this push (a failure to write it is reported, never hides the push's own error)."""
    r = c.result
    entry = {"hf_repo": r.hf_repo, "revision": r.revision, "chute_name": r.chute_name, "element_id": c.element_id,
             "bundle": str(c.bundle) if c.bundle else None, "deployed": "deploy" in r.done, "chute_id": r.chute_id,
             "slug": r.slug, "chute_file": r.chute_file, "commitment": r.commitment, "committed": r.committed,
             "commit_note": r.commit_note or None, "public": r.public, "done": list(r.done), "status": status}
    if error:
        entry["error"] = error
    try:
        ledger.append("push", entry)
    except (KitError, OSError) as e:
        c.echo(f"warning: the deployments ledger was not written ({e})")


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
