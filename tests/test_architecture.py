"""The package's shape: no import circles, a Qt-free core, no module long without a reason.

Read from the source (``ast``), so they cost no imports, except the Qt check, which imports the core in a
fresh interpreter: what matters there is what actually gets loaded.
"""

import ast
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import HANG_S

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "dpf_gui"
MAX_LINES = 600
QT = ("PySide6", "pyqtgraph")


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _nodes(tree: ast.AST, runtime_only: bool):
    """Every node of ``tree``; with ``runtime_only``, without the bodies of ``if TYPE_CHECKING:`` blocks
    (annotations only: they never run, so they cannot close an import cycle)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if runtime_only and isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))


def _imported(name: str, path: Path, modules: dict[str, Path], runtime_only: bool = False):
    """The package's modules that ``name`` imports anywhere (top level, in functions and, unless
    ``runtime_only``, under TYPE_CHECKING), and the top-level names of everything it imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    inside, outside = set(), set()
    for node in _nodes(ast.parse(path.read_text(encoding="utf-8")), runtime_only):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                stem = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(stem + ([node.module] if node.module else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]  # `from pkg import module` names a module
        else:
            continue
        outside.update(t.split(".")[0] for t in targets if t)
        inside.update(t for t in targets if t in modules and t != name)
    return inside, outside


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _describe(cycles: list[set[str]], graph: dict[str, set[str]]) -> str:
    return "\n".join("; ".join(f"{m} -> {', '.join(sorted(graph[m] & c))}" for m in sorted(c)) for c in cycles)


def _graph() -> dict[str, set[str]]:
    """Who imports whom at run time (imports in functions count; TYPE_CHECKING blocks do not)."""
    modules = _modules()
    return {name: _imported(name, path, modules, runtime_only=True)[0] for name, path in modules.items()}


def test_no_import_cycles():
    graph = _graph()
    cycles = _cycles(graph)
    assert not cycles, "import cycles (module -> what it imports inside the cycle):\n" + _describe(cycles, graph)


def test_the_cycle_check_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def test_the_core_never_names_qt():
    """Not even in a function: the core runs on machines without a display (CLI, Ray workers, study pilots)."""
    modules = _modules()
    offenders = {name: sorted(set(QT) & _imported(name, path, modules)[1]) for name, path in modules.items()
                 if not name.startswith("dpf_gui.app")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_the_core_loads_no_qt():
    """Every module outside dpf_gui/app/, imported in a fresh interpreter, leaves PySide6 and pyqtgraph unloaded."""
    core = [name for name in _modules() if not name.startswith("dpf_gui.app")]
    code = ("import importlib, sys\n"
            f"for name in {core!r}:\n"
            "    importlib.import_module(name)\n"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {QT!r}))\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=HANG_S, env=env,
                          cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def _too_long() -> set[str]:
    """Modules over MAX_LINES lines whose docstring's first paragraph has no line starting "Long because:"."""
    out = set()
    for path in _modules().values():
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) <= MAX_LINES:
            continue
        first = (ast.get_docstring(ast.parse(text)) or "").split("\n\n")[0]
        if not any(line.strip().startswith("Long because:") for line in first.splitlines()):
            out.add(path.relative_to(REPO).as_posix())
    return out


def test_no_long_modules_at_all():
    long = sorted(_too_long())
    assert not long, f"over {MAX_LINES} lines: split them, or say why at the top (a line 'Long because: ...'): {long}"


def test_type_checking_imports_do_not_count_as_cycles():
    tree = ast.parse("from typing import TYPE_CHECKING\n"
                     "if TYPE_CHECKING:\n    import a\nelse:\n    import b\nimport c\n")
    names = {n.names[0].name for n in _nodes(tree, runtime_only=True) if isinstance(n, ast.Import)}
    assert names == {"b", "c"}


def _missing_names(paths) -> list[str]:
    """``from dpf_gui.X import name`` statements (anywhere in ``paths``) whose name is neither in X nor a
    submodule of it: an import that only breaks when its function or script runs."""
    import importlib.util

    missing = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").startswith("dpf_gui")):
                continue
            module = importlib.import_module(node.module)
            for alias in node.names:
                submodule = hasattr(module, "__path__") and importlib.util.find_spec(f"{node.module}.{alias.name}")
                if not hasattr(module, alias.name) and not submodule:
                    missing.append(f"{path}:{node.lineno} {node.module}.{alias.name}")
    return missing


def test_every_name_the_bench_scripts_and_the_core_import_from_the_package_exists(tmp_path):
    """A function moved to another module leaves no script importing it from the old place (bench scripts
    run only by hand, and imports inside functions only when called)."""
    paths = sorted((REPO / "bench").glob("*.py")) + list(_modules().values())
    assert _missing_names(paths) == []
    moved = tmp_path / "moved.py"  # the check can fail: a name imported from where it no longer is
    moved.write_text("from dpf_gui.intent.additive import _next_states\n", encoding="utf-8")
    assert _missing_names([moved]) == [f"{moved}:1 dpf_gui.intent.additive._next_states"]
