"""The engine never imports Qt: checked on every module, in a fresh interpreter."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_engine_imports_no_qt():
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in (ROOT / "engine").rglob("*.py") if p.name != "__main__.py"
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m.removesuffix('.__init__'))\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6', 'desktop')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_engine_import_is_light():
    """Importing the pipeline must not pull torch, transformers or llama_cpp."""
    code = (
        "import sys, engine.session, engine.cli, engine.experts.registry\n"
        "heavy = [m for m in ('torch', 'transformers', 'llama_cpp', 'onnxruntime') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# -- the import graph ----------------------------------------------------------------------
def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every module ``path`` imports, anywhere in it (function-level imports included),
    as absolute names with the line number."""
    import ast

    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            found.append((origin, node.lineno))
            found += [(f"{origin}.{alias.name}", node.lineno) for alias in node.names]
    return found


def _engine_graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in (ROOT / "engine").rglob("*.py") if p.name != "__main__.py"}
    graph = {}
    for name, path in files.items():
        targets = set()
        for target, _ in _imports(path):
            while target and target not in files:  # engine.x.Name -> engine.x
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):  # a package's own parent
                targets.add(target)
        graph[name] = targets
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_engine_modules_import_each_other_in_no_cycle():
    """No two engine modules import each other, directly or around a loop, even
    inside a function: the layers read from the bottom up."""
    assert _cycles(_engine_graph()) == []


def test_the_cycle_check_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_desktop_imports_only_the_engine_package():
    """The window uses the engine's public surface (``from engine import …``), never a module inside it."""
    inside = [f"{p.relative_to(ROOT)}:{line} imports {target}"
              for p in sorted((ROOT / "desktop").rglob("*.py"))
              for target, line in _imports(p)
              if target.startswith("engine.") and target.partition(".")[2] not in _public_names()]
    assert inside == []


def _public_names() -> set[str]:
    import engine

    return set(engine.__all__)
