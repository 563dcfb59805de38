"""Render the chute file: `chute_template/` + a bundle's chute_config.yml -> one self-contained .py.

The rendered file inlines `setup.py`, `load.py` and `predict.py` (in that order) into
`chute.py.tmpl` and fixes the HF repo, revision, Chutes user, chute name and the bundle's
chute settings as constants, so `chutes build`, `chutes deploy` and `chutes run` all see one
file and nothing else from this repo. Rendering is deterministic: the same inputs give the
same bytes.

Chute names are lowercase `turbovision-<hf user>-<nickname>`; the nickname is two words and
a short id derived from the revision (for a commit hash, its first 7 characters), so a
revision always gets the same name and two revisions never share one.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import re
from pathlib import Path
from typing import Any

from .. import KitError

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_ROOT = REPO_ROOT / "chute_template"
PIECES = ("setup.py", "load.py", "predict.py")
TEMPLATE_FILE = "chute.py.tmpl"

_ADJECTIVES = ("amber", "bold", "brisk", "calm", "clever", "crisp", "daring", "deft", "eager", "fair", "fast",
               "fierce", "fleet", "fond", "gentle", "glad", "grand", "happy", "hardy", "keen", "kind", "lively",
               "lucky", "merry", "mighty", "neat", "nimble", "noble", "plucky", "proud", "quick", "quiet", "rapid",
               "ready", "brave", "sharp", "shiny", "sleek", "smart", "snappy", "solid", "spry", "steady", "still",
               "stout", "sunny", "supple", "swift", "tidy", "true", "vivid", "warm", "wise", "witty", "zesty",
               "agile", "breezy", "cosmic", "dashing", "electric", "golden", "jolly", "lunar", "polar")
_ANIMALS = ("badger", "bison", "condor", "cougar", "crane", "dingo", "eagle", "falcon", "ferret", "finch", "fox",
            "gazelle", "gecko", "heron", "hornet", "ibex", "impala", "jackal", "jaguar", "kestrel", "koala", "lemur",
            "lynx", "magpie", "marten", "merlin", "mink", "moose", "narwhal", "ocelot", "orca", "osprey", "otter",
            "owl", "panda", "panther", "puffin", "puma", "quokka", "raven", "robin", "salmon", "seal", "shrike",
            "sparrow", "stoat", "swallow", "swift", "tapir", "tern", "tiger", "toucan", "viper", "walrus", "weasel",
            "whale", "wolf", "wombat", "wren", "yak", "zebra", "bear", "hare", "lark")


def _slug(text: str) -> str:
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "-", text.lower())).strip("-")


def nickname(revision: str) -> str:
    """Two words and a short id from the revision, e.g. `swift-otter-1a2b3c4`; always the same."""
    if not revision or not revision.strip():
        raise KitError("the revision is empty; pass the Hugging Face commit (or branch/tag) to serve")
    revision = revision.strip()
    digest = hashlib.sha256(revision.encode()).digest()
    short = revision.lower()[:7] if re.fullmatch(r"[0-9a-fA-F]{7,64}", revision) else digest.hex()[:7]
    return f"{_ADJECTIVES[digest[0] % len(_ADJECTIVES)]}-{_ANIMALS[digest[1] % len(_ANIMALS)]}-{short}"


def split_repo(hf_repo: str) -> tuple[str, str]:
    """`user/name` -> (user, name), with a clear error otherwise."""
    parts = (hf_repo or "").strip().split("/")
    if len(parts) != 2 or not all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", p) for p in parts):
        raise KitError(f"Hugging Face repo {hf_repo!r} is not 'user/name' (letters, digits, '.', '_', '-'); "
                       "pass --hf-repo USER/NAME or set HF_USER")
    return parts[0], parts[1]


def chute_name(hf_repo: str, revision: str) -> str:
    """`turbovision-<hf user>-<nickname>`, lowercase, the name the chute is deployed under."""
    user, _ = split_repo(hf_repo)
    return f"turbovision-{_slug(user)}-{nickname(revision)}"


def load_chute_config(bundle: str | os.PathLike | None) -> dict[str, Any]:
    """The bundle's chute_config.yml (or the template bundle's), checked for the three sections."""
    import yaml

    from ..chute_rules import check_config

    folder = Path(bundle) if bundle else TEMPLATE_ROOT / "bundle"
    problems = check_config(folder)
    if problems:
        raise KitError("; ".join(p.message for p in problems))
    return yaml.safe_load((folder / "chute_config.yml").read_text())


@functools.lru_cache(maxsize=None)
def template_piece(name: str):
    """`chute_template/<name>.py` imported by path: the kit runs the chute's own code where it must
    agree with the chute (import classification, image tags), instead of a copy of it."""
    path = TEMPLATE_ROOT / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"tvkit_chute_piece_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _piece(path: Path) -> str:
    src = path.read_text()
    src = src.replace("from __future__ import annotations\n", "")
    return f"# --- {path.name} " + "-" * (94 - len(path.name)) + "\n\n" + src.strip() + "\n"


def render_chute(hf_repo: str, revision: str, chutes_user: str, config: dict[str, Any],
                 template_root: str | os.PathLike | None = None, file_stem: str = "chute_file") -> str:
    """The chute file's source text."""
    root = Path(template_root) if template_root else TEMPLATE_ROOT
    split_repo(hf_repo)
    if not chutes_user or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", chutes_user):
        raise KitError(f"Chutes user {chutes_user!r} is not a Chutes username; pass --chutes-user U or set "
                       "CHUTES_USERNAME (the name given to `chutes register --username`)")
    missing = [n for n in (*PIECES, TEMPLATE_FILE) if not (root / n).is_file()]
    if missing:
        raise KitError(f"{root}: the chute template lacks {', '.join(missing)}")
    name = chute_name(hf_repo, revision)
    text = (root / TEMPLATE_FILE).read_text()
    values = {"HF_REPO": hf_repo.strip(), "REVISION": revision.strip(), "CHUTES_USER": chutes_user.lower(),
              "CHUTE_NAME": name, "FILE": file_stem}
    for key, value in values.items():
        text = text.replace(f"@@{key}@@", value)
    text = text.replace("@@CHUTE_CONFIG@@", _literal(config))
    text = text.replace("# @@PIECES@@\n", "\n".join(_piece(root / n) for n in PIECES))
    leftover = re.findall(r"@@[A-Z_]+@@", text)
    if leftover:
        raise KitError(f"{root / TEMPLATE_FILE}: unknown placeholders {sorted(set(leftover))}")
    compile(text, f"{file_stem}.py", "exec")  # a template edit that breaks Python fails here, not in chutes
    return text


def _literal(value: Any, indent: int = 0) -> str:
    """A Python literal for plain YAML data, one key per line (readable in the rendered file)."""
    pad = "    " * (indent + 1)
    if isinstance(value, dict) and value:
        items = ",\n".join(f"{pad}{k!r}: {_literal(v, indent + 1)}" for k, v in value.items())
        return "{\n" + items + ",\n" + "    " * indent + "}"
    if isinstance(value, list) and value:
        return "[" + ", ".join(_literal(v, indent + 1) for v in value) + "]"
    return repr(value)


def write_chute_script(out: str | os.PathLike, hf_repo: str, revision: str, chutes_user: str,
                       bundle: str | os.PathLike | None = None,
                       template_root: str | os.PathLike | None = None) -> Path:
    """Render and write the chute file (atomically); its module name is the file's stem."""
    out = Path(out)
    if out.suffix != ".py":
        raise KitError(f"{out}: the chute file must end in .py (chutes imports it as a module)")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", out.stem):
        raise KitError(f"{out}: the file's stem must be a Python module name (letters, digits, _)")
    text = render_chute(hf_repo, revision, chutes_user, load_chute_config(bundle), template_root, out.stem)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text)
    tmp.replace(out)
    return out
