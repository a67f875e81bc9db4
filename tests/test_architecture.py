"""The package's layering, read from the source (every ``import`` of every module, those inside functions included):
no import cycle among lit_gans's modules, and the command layer (``lit_gans/commands/``, ``cli.py``,
``lightning_cli.py``) imported by nothing below it."""

from __future__ import annotations

import ast
from pathlib import Path

import lit_gans

PACKAGE = Path(lit_gans.__file__).parent
TOP = ("lit_gans.commands", "lit_gans.cli", "lit_gans.lightning_cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, modules: set[str]) -> set[str]:
    """The lit_gans modules ``path`` imports: ``from a.b import c`` names ``a.b.c`` when that is a module, else ``a.b``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module for a in node.names}
    return found & modules


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: imports(path, set(files)) - {name} for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of ``graph`` as a path ``[a, b, ..., a]``, or ``[]`` (depth-first search, three colours)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def test_find_cycle_finds_one_and_only_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_no_import_cycle_in_lit_gans():
    graph = import_graph()
    assert "lit_gans.models.base" in graph and graph["lit_gans.models"]  # the walk sees the package
    assert find_cycle(graph) == []


def test_nothing_below_the_commands_imports_them():
    upward = {(name, dep) for name, deps in import_graph().items() if not name.startswith(TOP)
              for dep in deps if dep.startswith(TOP)}
    assert upward == set()


#: the names a model goes by in callbacks, commands and the compression code
MODEL_NAMES = {"model", "pl_module", "teacher", "student"}


def model_probes(source: str) -> list[str]:
    """``hasattr``/``getattr`` on a model, and ``except TypeError`` (a call tried to see whether it works)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("hasattr", "getattr")
                and node.args and isinstance(node.args[0], ast.Name) and node.args[0].id in MODEL_NAMES):
            found.append(f"line {node.lineno}: {node.func.id}({node.args[0].id}, ...)")
        if isinstance(node, ast.ExceptHandler) and isinstance(node.type, ast.Name) and node.type.id == "TypeError":
            found.append(f"line {node.lineno}: except TypeError")
    return found


def test_model_probes_are_found():
    assert model_probes("k = pl_module.decode(t) if hasattr(pl_module, 'decode') else t") == ["line 1: hasattr(pl_module, ...)"]
    assert model_probes("try:\n    m.sample(1, labels=0)\nexcept TypeError:\n    pass") == ["line 3: except TypeError"]
    assert model_probes("x = getattr(datamodule, 'means', None)") == []


def test_callbacks_and_commands_use_the_sampling_interface_without_probing():
    files = [p for folder in ("callbacks", "commands", "compress") for p in sorted((PACKAGE / folder).glob("*.py"))]
    assert len(files) > 10
    probes = {p.name: found for p in files if (found := model_probes(p.read_text()))}
    assert probes == {}
