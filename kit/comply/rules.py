"""The compliance runner's repo rules, checked on a bundle folder before anything of it runs.

Usage:
    from kit.comply.rules import check_repo
    for f in check_repo("bundle/", max_model_size_mb=30):
        print(f)          # [unsupported_artifact_suffix] pitch_template.png: ...

Upstream `scorevision/validator/audit/open_source/security.py` at ea7412f vets a miner's
Hugging Face repo in this order and stops at the first failure (security.py:556-560):
`miner.py` present; every path under the repo (`rglob("*")`, `__pycache__` and `.pyc`
skipped) must not be a symlink out of it, must not carry a refused suffix (`.so .dylib .dll
.exe .bin .pt .pth .ckpt .safetensors`) and, when it has a suffix, must carry an allowed one
(`.onnx .py .json .txt .md .yml .yaml .labels .csv`); the total must stay within
`CHECKER_MAX_MODEL_BYTES` (30 MiB) and at least one `.onnx` must be there
(security.py:189-214); `miner.py` at most 1 MiB, and its AST free of imports rooted at socket,
subprocess, ctypes, multiprocessing, requests, urllib, http, ftplib, telnetlib, paramiko and of
calls to eval, exec, __import__, open and os.system/popen/remove/unlink/rmdir/removedirs,
subprocess.Popen/run/call/check_output (security.py:35-64, 158-186). The miner is then loaded
and must offer `predict_batch` with `batch_images`, `offset` and `n_keypoints`
(security.py:253-260; checked here statically, and at load time by the worker).

The registry applies one more size rule: the whole repo against the element's
`max_model_size_mb` (`hf_repo_size_exceeds_max`, upstream scorevision/utils/miner_registry.py:
812-840, sizes in MiB, summed over `list_repo_tree`, so the `.gitattributes` the Hub adds to
every repo counts: `HF_GITATTRIBUTES_BYTES` is added here); a miner over it never gets
challenged. Both are checked here.

Differences, on purpose: every finding is reported (upstream stops at the first, which is
`findings[0]` here, in upstream's order), each with its file and line; rule names are the
strings upstream puts in its errors. The AST scan is upstream's, name for name: it does not
see `importlib.import_module("socket")` or `getattr(os, "system")`; the sandbox is what stops
those (kit.comply.sandbox).
"""

from __future__ import annotations

import ast
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, get_args

from .. import KitError

DISALLOWED_IMPORT_ROOTS = frozenset({"socket", "subprocess", "ctypes", "multiprocessing", "requests", "urllib",
                                     "http", "ftplib", "telnetlib", "paramiko"})
DISALLOWED_CALL_NAMES = frozenset({"eval", "exec", "__import__", "open"})
DISALLOWED_ATTR_CALLS = frozenset({("os", "system"), ("os", "popen"), ("os", "remove"), ("os", "unlink"),
                                   ("os", "rmdir"), ("os", "removedirs"), ("subprocess", "Popen"),
                                   ("subprocess", "run"), ("subprocess", "call"), ("subprocess", "check_output")})
ALLOWED_SUFFIXES = frozenset({".onnx", ".py", ".json", ".txt", ".md", ".yml", ".yaml", ".labels", ".csv"})
DISALLOWED_BINARY_SUFFIXES = frozenset({".so", ".dylib", ".dll", ".exe", ".bin", ".pt", ".pth", ".ckpt",
                                        ".safetensors"})
MAX_MINER_PY_BYTES = 1024 * 1024
#: settings.py CHECKER_MAX_MODEL_BYTES (31457280): the compliance runner's repo limit.
MAX_REPO_BYTES = 30 * 1024 * 1024
#: What DESIGN.md gives an element without its own max_model_size_mb.
DEFAULT_MAX_MODEL_SIZE_MB = 30.0
REQUIRED_PARAMS = ("batch_images", "offset", "n_keypoints")
#: The `.gitattributes` the Hub puts in every new repo (1519 bytes): the registry's size sum
#: (`list_repo_tree`, miner_registry.py:812-843) counts it, a local bundle does not have it.
HF_GITATTRIBUTES_BYTES = 1519

Rule = Literal[
    "missing_miner_file", "symlink_escapes_repo", "disallowed_binary_artifact", "unsupported_artifact_suffix",
    "repo_size_exceeded", "hf_repo_size_exceeds_max", "no_onnx_model_found", "miner_py_too_large",
    "miner_py_unparseable", "disallowed_import", "disallowed_call", "missing_miner_class",
    "miner_missing_predict_batch", "predict_batch_signature_invalid", "runtime_failed", "worker_infer_error",
]
RULES: tuple[str, ...] = get_args(Rule)


@dataclass(frozen=True)
class Finding:
    """One broken rule: its upstream name, the file (relative to the bundle), the line (or None)."""

    rule: Rule
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"[{self.rule}] {where}: {self.message}"

    def as_dict(self) -> dict:
        return asdict(self)


def _mib(n: float) -> str:
    return f"{n / 2 ** 20:.2f} MiB"


def symlink_root(bundle: Path) -> Path:
    """Where links may point (security.py:144-155): the repo, or the Hugging Face cache folder
    (`models--...`) that holds a snapshot's blobs."""
    resolved = bundle.resolve()
    return next((p for p in resolved.parents if p.name.startswith(("models--", "datasets--"))), resolved)


def _artifacts(bundle: Path, root: Path) -> tuple[list[Finding], int, int]:
    """security.py:189-208: the walk, symlinks out, refused and unknown suffixes; (findings, bytes, onnx)."""
    out: list[Finding] = []
    total = onnx = 0
    for p in sorted(bundle.rglob("*")):
        rel = str(p.relative_to(bundle))
        if p.is_symlink() and not p.resolve().is_relative_to(root):
            out.append(Finding("symlink_escapes_repo", rel, None, f"a symlink to {p.resolve()}, outside the repo; "
                               "copy the file in (the runner refuses to follow it)"))
            continue
        if not p.is_file() or "__pycache__" in p.parts or p.suffix.lower() == ".pyc":
            continue
        total += p.stat().st_size
        suffix = p.suffix.lower()
        onnx += suffix == ".onnx"
        if suffix in DISALLOWED_BINARY_SUFFIXES:
            out.append(Finding("disallowed_binary_artifact", rel, None, f"{suffix} files are refused; ship the "
                               "model as .onnx (export it with `tvkit train` or kit.train.export_onnx)"))
        elif suffix and suffix not in ALLOWED_SUFFIXES:
            out.append(Finding("unsupported_artifact_suffix", rel, None, f"{suffix} is not an allowed suffix "
                               f"({' '.join(sorted(ALLOWED_SUFFIXES))}, or none); embed or derive it in miner.py, "
                               "or store it as .json/.txt"))
    return out, total, onnx


def _sizes(total: int, onnx: int, max_repo_bytes: int, max_model_size_mb: float | None) -> list[Finding]:
    out = []
    if total > max_repo_bytes:   # security.py:210
        out.append(Finding("repo_size_exceeded", ".", None, f"{total} bytes ({_mib(total)}) > {max_repo_bytes} "
                           f"({_mib(max_repo_bytes)}); use smaller models or quantise the ONNX"))
    hub_total = total + HF_GITATTRIBUTES_BYTES   # the Hub's own .gitattributes counts too (list_repo_tree)
    if max_model_size_mb and hub_total / 2 ** 20 > max_model_size_mb:   # miner_registry.py:830
        out.append(Finding("hf_repo_size_exceeds_max", ".", None, f"{_mib(hub_total)} (with the ~1.5 kB "
                           f".gitattributes the Hub adds) > the element's max_model_size_mb {max_model_size_mb:g}; "
                           "the registry never challenges this miner"))
    if onnx == 0:   # security.py:212
        out.append(Finding("no_onnx_model_found", ".", None, "no .onnx file in the repo; the runner needs one"))
    return out


def _call_finding(node: ast.Call) -> Finding | None:
    func = node.func
    if isinstance(func, ast.Name) and func.id in DISALLOWED_CALL_NAMES:
        hint = " (read files with pathlib: Path.read_text / read_bytes, or cv2/onnxruntime by path)" \
            if func.id == "open" else ""
        return Finding("disallowed_call", "miner.py", node.lineno, f"calls {func.id}(){hint}")
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and \
            (func.value.id, func.attr) in DISALLOWED_ATTR_CALLS:
        return Finding("disallowed_call", "miner.py", node.lineno, f"calls {func.value.id}.{func.attr}()")
    return None


def scan_miner(source: str, filename: str = "miner.py") -> list[Finding]:
    """security.py:158-186: the AST scan of miner.py's imports and calls, every hit with its line."""
    try:
        tree = ast.parse(source, filename=filename)
    except (SyntaxError, RecursionError, ValueError) as e:
        return [Finding("miner_py_unparseable", "miner.py", getattr(e, "lineno", None),
                        f"does not parse ({type(e).__name__}: {getattr(e, 'msg', e)})")]
    out: list[Finding] = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            root = name.split(".", 1)[0]
            if root in DISALLOWED_IMPORT_ROOTS:
                out.append(Finding("disallowed_import", "miner.py", node.lineno,
                                   f"imports {name!r} ({root} is refused: the runner has no network, "
                                   "no subprocesses, no ctypes)"))
        if isinstance(node, ast.Call) and (f := _call_finding(node)):
            out.append(f)
    return sorted(out, key=lambda f: f.line or 0) + interface_findings(tree)


def interface_findings(tree: ast.Module) -> list[Finding]:
    """A top-level `Miner` whose `predict_batch` takes batch_images, offset, n_keypoints.

    Statically only what is certain: a class with bases may inherit predict_batch, and a
    `Miner` bound by assignment or import is left to the worker's check at load time."""
    bound = {t.id for n in tree.body if isinstance(n, (ast.Assign, ast.AnnAssign))
             for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)}
    bound |= {a.asname or a.name.split(".")[0] for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
              for a in n.names}
    cls = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Miner"), None)
    if cls is None:
        if "Miner" in bound:
            return []
        return [Finding("missing_miner_class", "miner.py", None, "no top-level class Miner (the runner loads "
                        "Miner(path_hf_repo=...) and calls predict_batch)")]
    fn = next((n for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
               and n.name == "predict_batch"), None)
    if fn is None:
        if cls.bases:
            return []
        return [Finding("miner_missing_predict_batch", "miner.py", cls.lineno, "class Miner has no predict_batch")]
    a = fn.args
    params = {p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)}
    missing = [p for p in REQUIRED_PARAMS if p not in params]
    if missing:
        return [Finding("predict_batch_signature_invalid", "miner.py", fn.lineno,
                        f"predict_batch lacks {', '.join(missing)}; the runner calls it as "
                        "predict_batch(batch_images=..., offset=..., n_keypoints=...)")]
    return []


def check_repo(bundle: str | Path, max_model_size_mb: float | None = DEFAULT_MAX_MODEL_SIZE_MB,
               max_repo_bytes: int = MAX_REPO_BYTES) -> list[Finding]:
    """Every repo rule the compliance runner (and the registry's size rule) applies to `bundle`.

    Args:
        bundle: the Hugging Face repo folder (miner.py, chute_config.yml, the .onnx models).
        max_model_size_mb: the element's `max_model_size_mb` (None: no registry size rule).
        max_repo_bytes: the runner's own limit, `CHECKER_MAX_MODEL_BYTES` (30 MiB).

    Returns:
        Findings in upstream's order (the first is the one the runner reports); [] if it passes.

    Raises:
        KitError: `bundle` is not a folder.

    Example:
        >>> [f.rule for f in check_repo("chute_template/bundle")]   # no models in the template
        ['no_onnx_model_found']
    """
    bundle = Path(bundle)
    if not bundle.is_dir():
        raise KitError(f"{bundle}: not a folder; pass the bundle folder `tvkit package` wrote")
    miner = bundle / "miner.py"
    if not miner.is_file():   # security.py:556-558, before anything else
        return [Finding("missing_miner_file", "miner.py", None, "no miner.py at the top of the repo")]
    artifacts, total, onnx = _artifacts(bundle, symlink_root(bundle))
    out = artifacts + _sizes(total, onnx, max_repo_bytes, max_model_size_mb)
    size = miner.stat().st_size
    if size > MAX_MINER_PY_BYTES:   # security.py:159-161
        return out + [Finding("miner_py_too_large", "miner.py", None, f"{size} bytes > {MAX_MINER_PY_BYTES}; "
                              "move data into .json/.onnx files beside it")]
    return out + scan_miner(miner.read_text(encoding="utf-8", errors="replace"))
