"""The package's layers point one way: read every module's imports (by parsing, nothing is run) and check them."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "birsweep"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[str]:
    """Every module a file imports, at the top or inside a function (lazy imports are dependencies too)."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this file's package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)  # `from birsweep import io`


def _unit(module: str) -> str:
    """The layer a birsweep module belongs to: its subpackage (``data``, ``train``, ...) or top-level module."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "birsweep"


def import_graph() -> Dict[str, Set[str]]:
    """Layer -> the other birsweep layers it imports."""
    graph: Dict[str, Set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        src = _unit(_module_name(path))
        deps = graph.setdefault(src, set())
        for name in _imports(path):
            if name.split(".")[0] == "birsweep" and "." in name and _unit(name) not in (src, "birsweep"):
                deps.add(_unit(name))
    return graph


def find_cycle(graph: Dict[str, Set[str]]) -> List[str]:
    """One cycle as a path ``[a, b, ..., a]``, or [] when the graph has none."""
    state: Dict[str, int] = {}  # 1 on the current path, 2 done
    stack: List[str] = []

    def visit(node: str) -> List[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def modules_importing(prefix: str, under: str) -> List[Tuple[str, str]]:
    """(file, imported module) for every import of ``prefix`` by a file under ``birsweep/<under>``."""
    hits = []
    for path in sorted((PACKAGE / under).rglob("*.py")):
        for name in _imports(path):
            if name == prefix or name.startswith(prefix + "."):
                hits.append((str(path.relative_to(PACKAGE.parent)), name))
    return hits


def test_the_graph_sees_the_known_layers():
    graph = import_graph()
    assert {"data", "models", "methods", "train", "tracking", "sweep"} <= set(graph)
    assert "data" in graph["train"] and "models" in graph["methods"], "the parser misses plain imports"
    assert "train" in graph["app"], "the parser misses imports inside functions"


def test_find_cycle_finds_a_cycle_and_only_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycle_between_birsweeps_packages():
    graph = import_graph()
    assert find_cycle(graph) == [], f"layers import each other: {' -> '.join(find_cycle(graph))}"


@pytest.mark.parametrize(
    "lower, upper",
    [
        ("data", "models"),
        ("models", "train"),
        ("methods", "train"),
        ("data", "train"),
        ("train", "sweep"),
        ("tracking", "train"),
        ("train", "loggers"),
        ("tracking", "loggers"),
        ("gen_eval", "train"),
        ("gen_eval", "loggers"),
        ("gen_eval", "sweep"),
    ],
)
def test_lower_layers_do_not_import_upper_ones(lower, upper):
    assert modules_importing(f"birsweep.{upper}", lower) == []


def test_nothing_imports_analysis():
    assert modules_importing("analysis", ".") == []


def test_the_training_loop_does_not_import_optuna():
    assert modules_importing("optuna", "train") == []
