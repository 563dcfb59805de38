"""The validator's own chute: obtained from upstream, rendered as its CLI renders it, verified by its hash.

Usage:
    from kit.chute.official import render_official, verify_text
    chute = render_official("5f0c1e...40 hex", hf_user="alice", chutes_user="alice")
    verify_text(chute.text).match   # True: validators will accept this file

Every miner deploys one file: upstream's `turbovision_chute.py.j2` with four values filled
in. Validators fetch a deployed chute's code and compare its *integrity hash* with their own
template's (upstream scorevision/utils/chutes_helpers.py:461 `mask_and_encode`, :495
`validate_chute_integrity`): the four assignments masked to `NAME=""`, the source parsed,
`ast.dump(tree, include_attributes=False)`, sha256. Any other change, even one statement,
fails every challenge with "chute integrity hash mismatch". So the kit never writes a chute
of its own and never carries a copy of the template: it obtains the validator's file
(`obtain_template`, the source recorded), renders it exactly as `sv` does
(chutes_helpers.py:80 `render_chute_template`: plain Jinja2, the repo `<HF_USER>/ScoreVision`
from huggingface_helpers.py:13, the chute name from the revision as chutes_helpers.py:61-70
derives it) and checks the result with the validator's own algorithm (`integrity_hash`).

Where the template comes from, first found wins:
1. `template=` (a file, or a turbovision checkout whose tree holds it);
2. `$TVKIT_CHUTE_TEMPLATE` (same forms);
3. an installed `scorevision` package (`pip install` of turbovision);
4. the kit's cache of an earlier download, `~/.cache/tvkit/chute-template/<commit>/`;
5. the upstream repository at a pinned commit over https (`DEFAULT_COMMIT`, ea7412f, or
   `upstream_commit=`); a download of a commit whose file digest the kit knows is checked
   against it before it is cached.
The hash compares ASTs, and `ast.dump` differs between Python versions: both sides of a
comparison are always hashed here, by the same interpreter, exactly as a validator does.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import importlib.util
import json
import os
import re
import threading
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from random import Random

from .. import KitError, cache_dir

#: The template's path inside the turbovision repository (and, below `scorevision/`, the package).
TEMPLATE_RELPATH = "scorevision/miner/open_source/chute_template/turbovision_chute.py.j2"
#: The upstream commit the kit follows (2026-08-22, "hardening-latency-loop").
DEFAULT_COMMIT = "ea7412f6125df794e76bfa5a412930a07e16423e"
#: sha256 of the template file's bytes at commits the kit has read (a download is checked against it).
KNOWN_TEMPLATE_SHA256 = {
    DEFAULT_COMMIT: "657513559cd1d6c910bbf49e4d6b79e6b4ab0a0917742685ab04444a793330cc",
}
UPSTREAM_RAW_URL = "https://raw.githubusercontent.com/score-technologies/turbovision/{commit}/{path}"
ENV_TEMPLATE = "TVKIT_CHUTE_TEMPLATE"
ENV_RAW_URL = "TVKIT_UPSTREAM_RAW_URL"   # tests point the download at a local server
#: The assignments a validator masks before hashing; the four Jinja2 variables fill them.
MASKED = ("HF_REPO_NAME", "HF_REPO_REVISION", "CHUTES_USERNAME", "CHUTE_NAME")
HF_REPO_SUFFIX = "ScoreVision"


@dataclass(frozen=True)
class TemplateSource:
    """The template's text and where it came from (`origin`: path, env, scorevision, cache, upstream)."""

    text: str
    origin: str
    location: str
    commit: str | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def describe(self) -> str:
        at = f" at {self.commit[:7]}" if self.commit else ""
        return f"{self.origin}: {self.location}{at}"


def _from_path(given: str | os.PathLike, origin: str) -> TemplateSource:
    p = Path(given).expanduser()
    if p.is_dir():
        for candidate in (p / TEMPLATE_RELPATH, p / Path(TEMPLATE_RELPATH).relative_to("scorevision")):
            if candidate.is_file():
                p = candidate
                break
        else:
            raise KitError(f"{given}: no {TEMPLATE_RELPATH} in that folder; give the template file itself or a "
                           "turbovision checkout")
    if not p.is_file():
        raise KitError(f"{given}: no such chute template; give upstream's turbovision_chute.py.j2 (a file or a "
                       "turbovision checkout), or omit it to use the cache or the pinned upstream commit")
    return TemplateSource(p.read_text(encoding="utf-8"), origin, str(p.resolve()))


def _from_scorevision() -> TemplateSource | None:
    try:
        spec = importlib.util.find_spec("scorevision")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        p = Path(root) / Path(TEMPLATE_RELPATH).relative_to("scorevision")
        if p.is_file():
            return TemplateSource(p.read_text(encoding="utf-8"), "scorevision", str(p))
    return None


def _cached(commit: str) -> TemplateSource | None:
    p = cache_dir() / "chute-template" / commit / "turbovision_chute.py.j2"
    return TemplateSource(p.read_text(encoding="utf-8"), "cache", str(p), commit) if p.is_file() else None


def _download(commit: str, timeout: float = 20.0) -> TemplateSource:
    import httpx

    url = os.environ.get(ENV_RAW_URL, UPSTREAM_RAW_URL).format(commit=commit, path=TEMPLATE_RELPATH)
    try:
        r = httpx.get(url, timeout=timeout, follow_redirects=True)
        r.raise_for_status()
    except httpx.HTTPError as e:
        raise KitError(f"could not download the validator's chute template from {url} ({e}). Offline? Give it as a "
                       f"file: --template PATH (a turbovision checkout, or {TEMPLATE_RELPATH} from it), or set "
                       f"{ENV_TEMPLATE}") from e
    text = r.text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    expected = KNOWN_TEMPLATE_SHA256.get(commit)
    if expected and digest != expected:
        raise KitError(f"{url}: the downloaded template's sha256 is {digest[:12]}..., not the {expected[:12]}... the "
                       f"kit recorded for commit {commit[:7]}; refusing it (nothing was cached)")
    folder = cache_dir() / "chute-template" / commit
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "turbovision_chute.py.j2.part"
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(folder / "turbovision_chute.py.j2")
    (folder / "source.json").write_text(json.dumps({"url": url, "commit": commit, "sha256": digest}, indent=1))
    return TemplateSource(text, "upstream", url, commit)


def obtain_template(template: str | os.PathLike | None = None, upstream_commit: str | None = None,
                    download: bool = True) -> TemplateSource:
    """The validator's chute template, from the first place that has it (see the module docstring).

    Args:
        template: a template file or a turbovision checkout; wins over everything else.
        upstream_commit: the commit to read from the cache or download (default `DEFAULT_COMMIT`).
        download: False never touches the network (the cache is then the last resort).

    Returns:
        A `TemplateSource`; `.describe()` says where it came from.

    Raises:
        KitError: a given path without the template, or nowhere to get it from.

    >>> obtain_template("../shared/reference/validator-ea7412f/turbovision_chute.py.j2").origin
    'path'
    """
    if template:
        return _from_path(template, "path")
    if os.environ.get(ENV_TEMPLATE):
        return _from_path(os.environ[ENV_TEMPLATE], "env")
    if upstream_commit is None:
        found = _from_scorevision()
        if found:
            return found
    commit = upstream_commit or DEFAULT_COMMIT
    if not re.fullmatch(r"[0-9a-f]{7,40}", commit):
        raise KitError(f"--upstream-commit {commit!r}: expected a git commit hash (7-40 hex digits)")
    found = _cached(commit)
    if found:
        return found
    if not download:
        raise KitError(f"the validator's chute template is not cached for commit {commit[:7]} and downloads are off; "
                       f"give --template PATH or set {ENV_TEMPLATE}")
    return _download(commit)


# --- names, as upstream derives them ------------------------------------------------------------

_PETNAME_LOCK = threading.Lock()


def nickname(revision: str) -> str:
    """One petname word seeded by the revision's hex value (upstream chutes_helpers.py:61)."""
    import petname

    try:
        seed = int(revision, 16)
    except (TypeError, ValueError):
        raise KitError(f"revision {revision!r} is not a hex commit hash; the chute name is derived from the "
                       "Hugging Face commit hash of the bundle") from None
    with _PETNAME_LOCK:  # upstream swaps the module's random source; do it under a lock, and put it back
        saved = petname.random
        petname.random = Random(seed)
        try:
            return petname.Generate(words=1, separator="-")
        finally:
            petname.random = saved


def hf_repo_name(hf_user: str) -> str:
    """The miner's Hugging Face repo as `sv` names it: `<HF_USER>/ScoreVision`."""
    if not hf_user or "/" in hf_user.strip("/") or not re.fullmatch(r"[A-Za-z0-9][\w.-]*", hf_user):
        raise KitError(f"HF_USER {hf_user!r}: expected a Hugging Face user or organisation name")
    return f"{hf_user}/{HF_REPO_SUFFIX}"


def chute_name(revision: str, hf_user: str) -> str:
    """`turbovision-<hf user>-<nickname>`, lower case (upstream chutes_helpers.py:66)."""
    return f"turbovision-{hf_user.replace('/', '-')}-{nickname(revision)}".lower()


def chute_slug(revision: str, hf_user: str, chutes_user: str) -> str:
    """Upstream's guess of the slug when the API gives none (chutes_helpers.py:73)."""
    return f"{chutes_user.replace('_', '-')}-{chute_name(revision, hf_user)}"


@dataclass(frozen=True)
class RenderedChute:
    text: str
    hf_repo: str
    revision: str
    chutes_user: str
    chute_name: str
    source: TemplateSource

    def write(self, path: str | os.PathLike) -> Path:
        """Write the chute file (atomically) and return its path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        tmp.write_text(self.text, encoding="utf-8")
        tmp.replace(path)
        return path


def render_official(revision: str, hf_user: str, chutes_user: str, template: str | os.PathLike | None = None,
                    upstream_commit: str | None = None, source: TemplateSource | None = None) -> RenderedChute:
    """The chute file for one revision, exactly as `sv` renders it.

    Args:
        revision: the Hugging Face commit hash of the miner's bundle (40 hex).
        hf_user: HF_USER; the repo is `<hf_user>/ScoreVision`.
        chutes_user: CHUTES_USERNAME.
        template, upstream_commit: where the template comes from (`obtain_template`).
        source: an already obtained template (skips `obtain_template`).

    Returns:
        `RenderedChute` with `.text`, `.hf_repo`, `.chute_name`, `.source`; `.write(path)`.

    >>> c = render_official("ab" * 20, "alice", "alice", template=REF)
    >>> c.hf_repo, c.chute_name.startswith("turbovision-alice-")
    ('alice/ScoreVision', True)
    """
    from jinja2 import Template

    if not re.fullmatch(r"[0-9a-f]{40}", revision or ""):
        raise KitError(f"revision {revision!r}: expected the 40-hex Hugging Face commit hash of the bundle")
    if not chutes_user or not re.fullmatch(r"[A-Za-z0-9][\w.-]*", chutes_user):
        raise KitError(f"CHUTES_USERNAME {chutes_user!r}: expected your Chutes user name")
    source = source or obtain_template(template, upstream_commit)
    repo, name = hf_repo_name(hf_user), chute_name(revision, hf_user)
    text = Template(source.text).render(huggingface_repository_name=repo, huggingface_repository_revision=revision,
                                        chute_username=chutes_user, chute_name=name)
    return RenderedChute(text, repo, revision, chutes_user, name, source)


# --- the integrity hash, as a validator computes it ------------------------------------------------

def _masked(text: str) -> str:
    for name in MASKED:
        text = re.sub(name + r"""\s*=\s*["'].*?["']""", f'{name}=""', text)
    return text


def integrity_hash(content: str | bytes) -> str:
    """The validator's integrity hash of a chute file (upstream chutes_helpers.py:461).

    Raises:
        KitError: the file is not Python the validator can parse (it would reject it too).
    """
    text = content.decode("utf-8", errors="replace") if isinstance(content, bytes) else content
    try:
        tree = ast.parse(_masked(text))
    except SyntaxError as e:
        raise KitError(f"the chute file does not parse (line {e.lineno}: {e.msg}); validators reject it") from e
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode("utf-8")).hexdigest()


def repo_and_revision(text: str) -> tuple[str | None, str | None]:
    """HF_REPO_NAME and HF_REPO_REVISION as a validator reads them from a chute's code."""
    name = re.search(r"""HF_REPO_NAME\s*=\s*['"]([^'"]+)['"]""", text)
    rev = re.search(r"""HF_REPO_REVISION\s*=\s*['"]([^'"]+)['"]""", text)
    return (name.group(1) if name else None), (rev.group(1) if rev else None)


@dataclass
class Verification:
    """A chute file against the template: `match`, both hashes, and where they differ."""

    match: bool
    file_hash: str
    template_hash: str
    source: TemplateSource
    hf_repo: str | None = None
    revision: str | None = None
    differences: list[str] = field(default_factory=list)

    def format(self, name: str = "chute file") -> str:
        lines = [f"{'MATCH' if self.match else 'MISMATCH'}: {name}",
                 f"  file hash      {self.file_hash}",
                 f"  template hash  {self.template_hash}  ({self.source.describe()})",
                 f"  HF repo {self.hf_repo or '(not found)'} at revision {self.revision or '(not found)'}"]
        if not self.match:
            lines.append("  validators answer this chute's challenges with 'chute integrity hash mismatch' (score 0);")
            lines.append("  re-render it: tvkit generate-chute-script --revision R. Where it differs:")
            lines += [f"    {d}" for d in self.differences[:20]]
            if len(self.differences) > 20:
                lines.append(f"    ... and {len(self.differences) - 20} more")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {"match": self.match, "file_hash": self.file_hash, "template_hash": self.template_hash,
                "template": self.source.describe(), "hf_repo": self.hf_repo, "revision": self.revision,
                "differences": self.differences}


_NESTED = ("body", "handlers", "orelse", "finalbody", "cases")


def _statements(body: list, lines: list[str], depth: int = 0):
    """(header dump, first line, the header's source lines) of every statement, depth first.

    A compound statement's own header (its nested bodies emptied) is compared apart from its
    body, so a difference is pinned on the innermost statement that holds it.
    """
    for node in body:
        head = copy.copy(node)
        nested = [getattr(node, f) for f in _NESTED if isinstance(getattr(node, f, None), list)]
        for f in _NESTED:
            if isinstance(getattr(head, f, None), list):
                setattr(head, f, [])
        first = getattr(node, "lineno", 1)
        inner = [n.lineno for sub in nested for n in sub if hasattr(n, "lineno")]
        last = (min(inner) - 1) if inner else getattr(node, "end_lineno", first)
        yield depth, ast.dump(head, include_attributes=False), first, lines[first - 1:max(last, first)]
        for sub in nested:
            if sub and isinstance(sub[0], ast.AST):
                yield from _statements(sub, lines, depth + 1)


def _differences(file_text: str, template_text: str) -> list[str]:
    def flat(text: str):
        masked = _masked(text)
        return list(_statements(ast.parse(masked).body, masked.splitlines()))

    a, b = flat(file_text), flat(template_text)
    keys_a, keys_b = [(d, h) for d, h, _, _ in a], [(d, h) for d, h, _, _ in b]
    out = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, keys_a, keys_b, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        theirs = {ln.strip() for _, _, _, src in b[j1:j2] for ln in src}
        ours = {ln.strip() for _, _, _, src in a[i1:i2] for ln in src}
        for _, _, first, src in a[i1:i2]:
            changed = [(first + k, ln.strip()) for k, ln in enumerate(src) if ln.strip() not in theirs] or \
                [(first, src[0].strip() if src else "")]
            out += [f"file line {n}: {t[:100]}" for n, t in changed]
        for _, _, first, src in b[j1:j2]:
            changed = [(first + k, ln.strip()) for k, ln in enumerate(src) if ln.strip() not in ours]
            out += [f"template line {n}: {t[:100]}" for n, t in changed]
    return out


def verify_text(text: str | bytes, template: str | os.PathLike | None = None, upstream_commit: str | None = None,
                source: TemplateSource | None = None) -> Verification:
    """A chute's code checked as a validator checks it, against the template.

    Returns:
        `Verification`: `.match` (True when validators accept it), both hashes, the HF repo and
        revision a validator reads from it, and the differing statements when it does not match.

    >>> verify_text(render_official("ab" * 20, "alice", "alice", template=REF).text, template=REF).match
    True
    """
    text = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else text
    source = source or obtain_template(template, upstream_commit)
    file_hash, template_hash = integrity_hash(text), integrity_hash(source.text)
    repo, rev = repo_and_revision(text)
    v = Verification(file_hash == template_hash, file_hash, template_hash, source, repo, rev)
    if not v.match:
        v.differences = _differences(text, source.text) or ["the statements agree but their ASTs do not (e.g. a "
                                                           "comment-free change inside an expression)"]
    return v


def fetch_deployed_code(chute_id: str) -> str:
    """A deployed chute's source as validators read it: GET {CHUTES_API_URL}/chutes/code/{id}."""
    from ..deploy.chutes_api import ChutesAPI
    from ..settings import load_settings

    s = load_settings()
    if not s.chutes_api_key:
        raise KitError("reading a deployed chute's code needs CHUTES_API_KEY (in the environment or .env)")
    with ChutesAPI(s.chutes_api_url, s.chutes_api_key) as api:
        return api.request("GET", f"/chutes/code/{chute_id}", f"read the code of chute {chute_id}").text
