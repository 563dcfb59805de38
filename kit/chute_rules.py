"""The chute's rules for a miner bundle, checked before anything ships.

A bundle is the Hugging Face repo folder: `miner.py`, `chute_config.yml` and the weights.
The chute (DESIGN.md, SCORING.md's compliance checks) loads it under rules that fail a
deployment late and opaquely; this module fails it early and by name. Each check returns
`Violation(rule, message)`; `check_bundle` runs them all and reports every violation at once,
so a miner fixes them in one go.

The rules, by name:

- `size`: at most 30 MB of artifacts in the folder (the later subnet limit);
- `memory`: the loaded miner at most 5 GB; the weights' size on disk is the proxy (an ONNX
  or .pt file loads to roughly its size; activations come on top, which the note says);
- `miner_file`: `miner.py` exists and parses;
- `local_import`: imports only stdlib and site-packages modules; a module that resolves to a
  file or package beside `miner.py` (other than `miner.py` itself), or a relative import, is
  refused: the chute loads `miner.py` alone by path, so such a module is missing there;
- `missing_module`: an imported module that is neither stdlib nor installed here;
- `forbidden_import`: process modules (subprocess, multiprocessing, pty, ...), by `import`,
  `from ... import` or `__import__`/`import_module` (the chute template refuses subprocesses);
- `network_import`: network modules (socket, requests, urllib, httpx, ...), the same ways
  (a newer subnet rule: `tvkit package` refuses them, a dry run warns);
- `process_call`: `os.system`, `os.popen`, `os.spawn*`, `os.exec*`, `os.fork`, `pty.spawn`...;
- `miner_class`: a class `Miner` with `__init__(self, path_hf_repo)`;
- `predict_signature`: `predict_batch(self, batch_images, offset, n_keypoints)` exactly;
- `chute_config`: `chute_config.yml` with Image (base image, pip installs), NodeSelector
  (gpu_count, min_vram_gb_per_gpu, include, exclude) and Chute (concurrency, max_instances,
  scaling_threshold);
- `self_test`: the miner loads from the folder and answers one random 540 x 960 frame with
  one result, frame id 0, boxes and exactly `n_keypoints` integer pairs (the wire contract).
"""

from __future__ import annotations

import ast
import importlib.util
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import KitError

MAX_BUNDLE_BYTES = 30 * 1024 * 1024
MAX_MINER_BYTES = 5 * 1024 ** 3
WEIGHT_SUFFIXES = (".onnx", ".pt", ".pth", ".bin", ".safetensors", ".engine", ".tflite", ".ckpt")
PROCESS_MODULES = frozenset({"subprocess", "multiprocessing", "pty", "pexpect", "paramiko", "asyncssh"})
NETWORK_MODULES = frozenset({
    "socket", "socketserver", "ssl", "requests", "urllib", "urllib2", "urllib3", "httpx", "http", "aiohttp",
    "websocket", "websockets", "ftplib", "smtplib", "telnetlib", "poplib", "imaplib", "xmlrpc", "grpc",
})
FORBIDDEN_MODULES = PROCESS_MODULES | NETWORK_MODULES
PROCESS_CALLS = frozenset({
    "os.system", "os.popen", "os.fork", "os.forkpty", "os.posix_spawn", "os.posix_spawnp", "os.startfile",
    "os.spawnl", "os.spawnle", "os.spawnlp", "os.spawnlpe", "os.spawnv", "os.spawnve", "os.spawnvp", "os.spawnvpe",
    "os.execl", "os.execle", "os.execlp", "os.execlpe", "os.execv", "os.execve", "os.execvp", "os.execvpe",
    "pty.spawn", "pty.fork",
})
PREDICT_PARAMS = ("self", "batch_images", "offset", "n_keypoints")
CONFIG_KEYS = {"Image": ("from_base", "run_command"),
               "NodeSelector": ("gpu_count", "min_vram_gb_per_gpu", "include", "exclude"),
               "Chute": ("concurrency", "max_instances", "scaling_threshold")}
RULES = ("size", "memory", "miner_file", "local_import", "missing_module", "forbidden_import", "network_import",
         "process_call", "miner_class", "predict_signature", "chute_config", "self_test")


@dataclass(frozen=True)
class Violation:
    rule: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.message}"


class BundleError(KitError):
    """A bundle that breaks chute rules; `violations` lists each, named by rule."""

    def __init__(self, bundle: Path, violations: list[Violation]):
        self.violations = violations
        lines = "\n".join(f"  {v}" for v in violations)
        super().__init__(f"{bundle}: the bundle breaks {len(violations)} chute rule(s):\n{lines}")


def _bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


def check_size(bundle: Path, limit: int = MAX_BUNDLE_BYTES) -> list[Violation]:
    total = _bytes(bundle)
    if total > limit:
        big = sorted((p for p in bundle.rglob("*") if p.is_file()), key=lambda p: -p.stat().st_size)[:3]
        names = ", ".join(f"{p.relative_to(bundle)} {p.stat().st_size / 2**20:.1f} MB" for p in big)
        return [Violation("size", f"{total / 2**20:.1f} MB of artifacts, over the {limit / 2**20:.0f} MB limit "
                                  f"(largest: {names}); use smaller models or quantise the ONNX")]
    return []


def check_memory(bundle: Path, limit: int = MAX_MINER_BYTES) -> list[Violation]:
    """Weights on disk as a proxy for the loaded miner (activations and runtimes come on top)."""
    weights = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    if weights > limit:
        return [Violation("memory", f"{weights / 2**30:.2f} GB of weights, over the {limit / 2**30:.0f} GB the "
                                    "chute allows a loaded miner (weights load to about their size on disk)")]
    return []


def _classify_module(name: str, bundle: Path) -> str | None:
    """None if fine, else a rule name: local_import, missing_module."""
    from .chute.render import template_piece

    home = template_piece("load").module_home(name, bundle)
    return {"local": "local_import", "missing": "missing_module"}.get(home)


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def check_source(bundle: Path) -> tuple[list[Violation], ast.Module | None]:
    """Static rules on miner.py: imports, process calls, the Miner class and its signatures."""
    miner = bundle / "miner.py"
    if not miner.is_file():
        return [Violation("miner_file", f"{miner}: no miner.py in the bundle (the chute imports it by path)")], None
    try:
        tree = ast.parse(miner.read_text(), filename=str(miner))
    except SyntaxError as e:
        return [Violation("miner_file", f"{miner}:{e.lineno}: does not parse ({e.msg})")], None
    out: list[Violation] = []
    aliases: dict[str, str] = {}  # local name -> module or module.attr it stands for

    def module_rules(name: str, line: int) -> None:
        top = name.split(".")[0]
        if top in PROCESS_MODULES or name in PROCESS_MODULES:
            out.append(Violation("forbidden_import", f"miner.py:{line}: imports {name!r}, a process module the "
                                                     "chute forbids (no subprocesses); remove it"))
            return
        if top in NETWORK_MODULES or name in NETWORK_MODULES:
            out.append(Violation("network_import", f"miner.py:{line}: imports {name!r}, a network module; newer "
                                                   "subnet versions refuse them (the chute has no network); remove it"))
            return
        kind = _classify_module(name, bundle)
        if kind == "local_import":
            out.append(Violation("local_import", f"miner.py:{line}: imports {name!r}, which resolves to code beside "
                                                 "miner.py or outside site-packages; the chute loads miner.py alone: "
                                                 "inline that code into miner.py or install it as a package"))
        elif kind == "missing_module":
            out.append(Violation("missing_module", f"miner.py:{line}: imports {name!r}, which is neither stdlib nor "
                                                   "installed here; add it to chute_config.yml's pip installs and to "
                                                   "this environment"))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                module_rules(a.name, node.lineno)
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                out.append(Violation("local_import", f"miner.py:{node.lineno}: relative import "
                                                     f"'from {'.' * node.level}{node.module or ''} import ...'; the "
                                                     "chute loads miner.py alone, outside any package"))
                continue
            module_rules(node.module or "", node.lineno)
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
                if f"{node.module}.{a.name}" in FORBIDDEN_MODULES:
                    module_rules(f"{node.module}.{a.name}", node.lineno)
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name is None:
                continue
            head, _, rest = name.partition(".")
            full = f"{aliases.get(head, head)}.{rest}" if rest else aliases.get(head, head)
            if full in PROCESS_CALLS or full.startswith("subprocess."):
                out.append(Violation("process_call", f"miner.py:{node.lineno}: calls {full}(), which starts a "
                                                     "process; the chute forbids subprocesses"))
            if full in ("__import__", "importlib.import_module") and node.args and \
                    isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                module_rules(node.args[0].value, node.lineno)
    out += _check_miner_class(tree)
    return out, tree


def _params(fn: ast.FunctionDef) -> tuple[str, ...]:
    a = fn.args
    return tuple(p.arg for p in (*a.posonlyargs, *a.args))


def _check_miner_class(tree: ast.Module) -> list[Violation]:
    cls = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Miner"), None)
    if cls is None:
        return [Violation("miner_class", "miner.py defines no top-level class Miner (the chute calls "
                                         "Miner(path_hf_repo) then miner.predict_batch(...))")]
    out = []
    methods = {n.name: n for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    init = methods.get("__init__")
    if init is None or len(_params(init)) < 2 or (len(_params(init)) > 2 and len(init.args.defaults) <
                                                   len(_params(init)) - 2):
        out.append(Violation("miner_class", "Miner.__init__ must take (self, path_hf_repo: Path) and load "
                                            "everything from that folder"))
    pb = methods.get("predict_batch")
    if pb is None:
        out.append(Violation("predict_signature", "Miner has no predict_batch(self, batch_images, offset, "
                                                  "n_keypoints) method"))
    elif isinstance(pb, ast.AsyncFunctionDef) or _params(pb) != PREDICT_PARAMS or pb.args.vararg or pb.args.kwonlyargs:
        out.append(Violation("predict_signature", f"Miner.predict_batch takes ({', '.join(_params(pb))}); the chute "
                                                  f"calls it as ({', '.join(PREDICT_PARAMS)}), a plain method"))
    return out


def check_config(bundle: Path) -> list[Violation]:
    import yaml

    path = bundle / "chute_config.yml"
    if not path.is_file():
        return [Violation("chute_config", f"{path}: missing (Image, NodeSelector and Chute settings)")]
    try:
        cfg = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        return [Violation("chute_config", f"{path}: not valid YAML ({e})")]
    out = []
    for section, keys in CONFIG_KEYS.items():
        block = cfg.get(section) if isinstance(cfg, dict) else None
        if not isinstance(block, dict):
            out.append(Violation("chute_config", f"{path}: no {section} section (needs {', '.join(keys)})"))
            continue
        missing = [k for k in keys if k not in block]
        if missing:
            out.append(Violation("chute_config", f"{path}: {section} lacks {', '.join(missing)}"))
    return out


def load_miner_module(bundle: Path, name: str | None = None):
    """Import bundle/miner.py by path, as the chute does (no sys.path change, fresh module)."""
    miner = Path(bundle) / "miner.py"
    if not miner.is_file():
        raise KitError(f"{miner}: no miner.py there (pass the bundle folder that `tvkit package` wrote)")
    mod_name = name or f"tvkit_bundle_miner_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(mod_name, miner)
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception:
        sys.modules.pop(mod_name, None)
        raise
    return module


_counter = itertools.count()


def load_miner(bundle: str | Path):
    """A `Miner` instance from the bundle folder (the chute's load path)."""
    bundle = Path(bundle)
    module = load_miner_module(bundle)
    if not hasattr(module, "Miner"):
        raise KitError(f"{bundle / 'miner.py'}: defines no class Miner")
    return module.Miner(bundle)


def self_test(bundle: Path, n_keypoints: int = 32, miner: Any = None) -> list[Violation]:
    """Load the miner and answer one random 540 x 960 frame; the answer must follow the contract."""
    import numpy as np

    from .contract import answer_ok, validate_answer

    try:
        m = miner if miner is not None else load_miner(bundle)
        frame = np.random.default_rng(0).integers(0, 256, (540, 960, 3), dtype=np.uint8)
        res = m.predict_batch([frame], 0, n_keypoints)
    except Exception as e:  # the chute fails the same way: report what broke
        return [Violation("self_test", f"loading the miner or predict_batch on a random 540 x 960 frame raised "
                                       f"{type(e).__name__}: {e}")]
    if not isinstance(res, list) or len(res) != 1:
        return [Violation("self_test", f"predict_batch on one frame returned "
                                       f"{len(res) if isinstance(res, list) else type(res).__name__} results, not 1")]
    kps = res[0].get("keypoints") if isinstance(res[0], dict) else None
    if not isinstance(kps, list) or len(kps) != n_keypoints:
        n = len(kps) if isinstance(kps, list) else "no"
        return [Violation("self_test", f"the self-test answer has {n} keypoints, not exactly n_keypoints = "
                                       f"{n_keypoints}")]
    problems = validate_answer(answer_ok(res), 1, 960, 540)
    if problems:
        return [Violation("self_test", "the self-test answer breaks the wire contract: "
                                       + "; ".join(str(p) for p in problems[:5]))]
    return []


def check_bundle(bundle: str | Path, run_self_test: bool = True, n_keypoints: int = 32) -> list[Violation]:
    """Every rule on a bundle folder; an empty list means it may ship.

    The self-test runs only if the static rules pass: importing code that breaks them would
    run it, which is exactly what the rules are there to prevent.
    """
    bundle = Path(bundle)
    if not bundle.is_dir():
        raise KitError(f"{bundle}: not a folder (pass the bundle folder with miner.py, chute_config.yml, weights)")
    out = check_size(bundle) + check_memory(bundle)
    src, _ = check_source(bundle)
    out += src + check_config(bundle)
    if run_self_test and not src:
        out += self_test(bundle, n_keypoints)
    return out


def ensure_bundle(bundle: str | Path, run_self_test: bool = True) -> None:
    """check_bundle, raising BundleError naming every broken rule."""
    v = check_bundle(bundle, run_self_test)
    if v:
        raise BundleError(Path(bundle), v)
