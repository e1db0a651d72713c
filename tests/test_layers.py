"""The package's layers point one way: read every module's imports (by parsing, nothing is run) and check them."""

from __future__ import annotations

import ast
import functools
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "birsweep"
ANALYSIS = PACKAGE.parent / "analysis"
MAX_LINES = 300  # a file longer than this is two concepts (house rule)

# Circles between files that other branches remove: this list is deleted when they are merged ("removed at merge").
KNOWN_FILE_CIRCLES = []
# Files over MAX_LINES outside the sweep package, shortened on other branches ("removed at merge").
KNOWN_LONG_FILES: set = set()


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


@functools.lru_cache(maxsize=1)  # parsed once per session; callers only read it
def file_graph() -> Dict[str, Set[str]]:
    """Module -> the modules of birsweep/ and analysis/ it imports (also under TYPE_CHECKING, also inside
    functions); ``from pkg import mod`` counts as importing ``pkg`` (its ``__init__``) and ``pkg.mod``."""
    paths = sorted(PACKAGE.rglob("*.py")) + sorted(ANALYSIS.rglob("*.py"))
    modules = {_module_name(path): path for path in paths}
    return {name: {dep for dep in _imports(path) if dep in modules and dep != name} for name, path in modules.items()}


def circles(graph: Dict[str, Set[str]]) -> List[Set[str]]:
    """Every set of nodes that import each other round a circle (the strongly connected components of two or more
    nodes; Tarjan's algorithm), in a stable order."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    found: List[Set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            members = set()
            while True:
                top = stack.pop()
                members.add(top)
                if top == node:
                    break
            if len(members) > 1:
                found.append(members)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found, key=lambda c: sorted(c))


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


def test_circles_finds_each_circle_once():
    assert circles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    assert circles({"a": {"b"}, "b": {"a", "c"}, "c": {"d"}, "d": {"c"}}) == [{"a", "b"}, {"c", "d"}]


def test_the_file_graph_sees_lazy_relative_and_package_imports():
    graph = file_graph()
    assert "birsweep.train.loop.run" in graph["birsweep.app"], "the parser misses imports inside functions"
    assert "birsweep.sweep" in graph["birsweep.sweep.search.trial_overrides"], "misses `from pkg import NAME`"
    assert "analysis.runs" in graph["analysis.diagnostics"]


def test_no_import_circle_between_files():
    """Two files that import each other (directly or round a circle) are one concept cut in two, or a lower file
    that reaches up: either way, neither can be read or tested without the other."""
    found = [c for c in circles(file_graph()) if c not in KNOWN_FILE_CIRCLES]
    assert found == [], "files import each other: " + "; ".join(" <-> ".join(sorted(c)) for c in found)


def test_no_file_is_over_the_line_limit():
    root = PACKAGE.parent
    paths = sorted(PACKAGE.rglob("*.py")) + sorted(ANALYSIS.rglob("*.py"))
    lengths = {str(p.relative_to(root)): len(p.read_text().splitlines()) for p in paths}
    long = {path: n for path, n in lengths.items() if n > MAX_LINES and path not in KNOWN_LONG_FILES}
    assert long == {}, f"over {MAX_LINES} lines (split by concept): {long}"
    assert not any(path.startswith("birsweep/sweep/") for path in KNOWN_LONG_FILES)


def test_the_sweepers_loop_reads_top_to_bottom_in_one_screenful_of_files():
    assert len((PACKAGE / "sweep" / "search" / "sweeper.py").read_text().splitlines()) <= 250
