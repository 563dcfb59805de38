"""The project's own files agree with each other: pins, README commands, CI."""
import re
import tomllib

from conftest import REPO


def pyproject():
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def test_environment_yml_mirrors_the_pins():
    proj = pyproject()["project"]
    extras = proj["optional-dependencies"]
    pins = set(proj["dependencies"]) | set(extras["test"]) | set(extras["scale"])
    env = (REPO / "environment.yml").read_text()
    pip_section = env.split("- pip:", 1)[1]
    listed = {m.group(1).strip() for m in re.finditer(r"^\s*- (?!-e )(\S.*)$", pip_section, re.M)}
    assert listed == pins


def test_required_pins():
    deps = pyproject()["project"]["dependencies"]
    for pin in ("torch==2.14.*", "torchvision==0.29.*", "ultralytics==8.4.*", "supervision==0.31.*",
                "chutes==0.6.11rc2"):
        assert pin in deps


def test_readme_quickstart_and_ci_agree():
    readme = (REPO / "README.md").read_text()
    quick = readme.split("## Quickstart", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [ln.split("#")[0].strip() for ln in quick.strip().splitlines()]
    assert commands == ["make run", "make test"]
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)


# --- the kit's import graph -------------------------------------------------------------------

def kit_imports() -> tuple[dict[str, set[str]], set[tuple[str, str, str]]]:
    """kit module -> the kit modules it imports when it is imported (top-level statements, also inside a top-level
    if/try; function bodies and `if TYPE_CHECKING:` are not run then), and every (module, from, name) import of a
    private `_name` from another kit module."""
    import ast

    files = {".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): p
             for p in (REPO / "kit").rglob("*.py")}
    graph, private = {}, set()
    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        graph[mod] = set()
        for top in ast.parse(path.read_text()).body:
            if isinstance(top, ast.If) and "TYPE_CHECKING" in ast.unparse(top.test):
                continue
            for node in ast.walk(top) if isinstance(top, (ast.If, ast.Try)) else [top]:
                if isinstance(node, ast.Import):
                    graph[mod] |= {a.name for a in node.names if a.name in files}
                elif isinstance(node, ast.ImportFrom):
                    base = ".".join(package.split(".")[: len(package.split(".")) + 1 - node.level] + [node.module or ""]
                                    ).strip(".") if node.level else node.module
                    for a in node.names:
                        target = f"{base}.{a.name}" if f"{base}.{a.name}" in files else base
                        if target in files and target != mod:
                            graph[mod].add(target)
                            if a.name.startswith("_") and not a.name.startswith("__"):
                                private.add((mod, target, a.name))
    return graph, private


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every circle as a path a -> b -> ... -> a, one per strongly connected group of modules."""
    circles, done = [], set()
    for start in sorted(graph):
        if start in done:
            continue
        stack, seen = [(start, [start])], set()
        while stack:
            mod, path = stack.pop()
            for nxt in sorted(graph[mod]):
                if nxt == start:
                    circles.append(path + [start])
                    done.update(path)
                    stack = []
                    break
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, path + [nxt]))
    return circles


def test_import_graph_sees_a_circle():
    circles = import_circles({"kit.a": {"kit.b"}, "kit.b": {"kit.c"}, "kit.c": {"kit.a", "kit.d"}, "kit.d": set()})
    assert circles == [["kit.a", "kit.b", "kit.c", "kit.a"]]
    assert import_circles({"kit.a": {"kit.b"}, "kit.b": set()}) == []
    graph, _ = kit_imports()
    assert "kit.datasets.core" in graph["kit.datasets.exports"] and "kit.deploy.common" in graph["kit.deploy.ops"]


def test_no_import_circle():
    circles = import_circles(kit_imports()[0])
    assert not circles, "import circles in kit/ (cut each on its seam: move what both need into a third module):\n" \
        + "\n".join(" -> ".join(c) for c in circles)


def test_no_private_name_imported_across_modules():
    new = sorted(kit_imports()[1])
    assert not new, "a module imports another's private name (make it public where it is defined):\n" \
        + "\n".join(f"{m}: from {t} import {n}" for m, t, n in new)


# --- the kit's rooms: file and function sizes -------------------------------------------------

MAX_FILE_LINES, MAX_FUNCTION_LINES = 600, 60

#: Allowed over the function limit: argument tables (argparse wiring, one `add_argument` or
#: `set_defaults` per line and no logic, long by nature: a table, not a procedure). Each entry
#: must still be over the limit (no stale entry).
ARGUMENT_TABLES = {
    ("kit/chute/cli.py", "add_chute_commands"),
    ("kit/deploy/cli.py", "add_deploy_commands"),
}


def oversized(root) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """Under root/kit: files over MAX_FILE_LINES lines {path: lines}, and functions (methods and nested ones
    too) over MAX_FUNCTION_LINES lines from `def` to their last line, docstring included, decorators not
    {(path, name): lines}; paths relative to root, with '/'."""
    import ast

    files, functions = {}, {}
    for path in sorted((root / "kit").rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        text = path.read_text()
        if len(text.splitlines()) > MAX_FILE_LINES:
            files[rel] = len(text.splitlines())
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    functions[(rel, node.name)] = max(n, functions.get((rel, node.name), 0))
    return files, functions


def test_size_check_sees_a_long_file_and_a_long_function(tmp_path):
    (tmp_path / "kit" / "sub").mkdir(parents=True)
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES - 1))  # + the def line: exactly the limit
    (tmp_path / "kit" / "ok.py").write_text(f"def fits():\n{body}")
    (tmp_path / "kit" / "sub" / "big.py").write_text(
        f"class A:\n    async def long(self):\n    {body.replace(chr(10), chr(10) + '    ')}    return 1\n"
        + "\n" * (MAX_FILE_LINES - MAX_FUNCTION_LINES))
    files, functions = oversized(tmp_path)
    assert files == {"kit/sub/big.py": MAX_FILE_LINES + 2}
    assert functions == {("kit/sub/big.py", "long"): MAX_FUNCTION_LINES + 1}


def test_no_kit_file_over_600_lines():
    files, _ = oversized(REPO)
    assert not files, f"kit/ files over {MAX_FILE_LINES} lines (cut each on its seams into modules that say their " \
        "job):\n" + "\n".join(f"{p}: {n} lines" for p, n in sorted(files.items()))


def test_no_kit_function_over_60_lines():
    _, functions = oversized(REPO)
    over = {k: n for k, n in functions.items() if k not in ARGUMENT_TABLES}
    assert not over, f"functions over {MAX_FUNCTION_LINES} lines (split each into named steps):\n" \
        + "\n".join(f"{p} {name}: {n} lines" for (p, name), n in sorted(over.items()))
    stale = ARGUMENT_TABLES - set(functions)
    assert not stale, f"no longer over {MAX_FUNCTION_LINES} lines, drop from ARGUMENT_TABLES: {sorted(stale)}"
