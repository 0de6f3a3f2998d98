"""The import graph of the library: no module of cddgan/ takes part in an import cycle, and none imports
the `baselines` package (the registry finds it by name; the library must not depend on a baseline).

Every import statement counts, also those under `if TYPE_CHECKING:` and inside functions: a cycle that
only a lazy import hides still ties the two modules' designs together. An import of `pkg.mod` is an edge
to `pkg.mod` (the package's `__init__` that Python runs first is not counted, since a package re-exporting
its modules would otherwise be a cycle with each of them).
"""

from __future__ import annotations

import ast
from pathlib import Path

from smoke import REPO

PACKAGE = REPO / "cddgan"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported_names(path: Path, name: str, known: dict[str, Path]) -> list[str]:
    """Every module name that `path` (module `name`) imports, relative imports resolved: `from x import y`
    is `x.y` when that is a module of `known`, else `x`."""
    is_package = path.name == "__init__.py"
    out: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".") if is_package else name.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, *([base] if base else [])])
            out += [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the cddgan modules it imports (the longest known prefix of each imported name)."""
    known = modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        edges = set()
        for target in imported_names(path, name, known):
            parts = target.split(".")
            while parts and ".".join(parts) not in known:
                parts.pop()
            if parts and ".".join(parts) != name:
                edges.add(".".join(parts))
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_lazy_and_type_checking_imports():
    """The parser must count what the cycle check relies on: a function-level and a TYPE_CHECKING import."""
    graph = import_graph()
    assert "cddgan.training.loop" in graph["cddgan.cli"]  # imported inside the train command
    assert "cddgan.methods.base" in graph["cddgan.cli"]  # imported under TYPE_CHECKING
    assert "cddgan.methods.base" in graph["cddgan.methods"]  # a package's re-exports


def test_no_import_cycle_in_the_library():
    found = cycles(import_graph())
    assert not found, "import cycles in cddgan/:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_a_cycle_is_found_when_there_is_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_library_module_imports_the_baselines():
    known = modules()
    offenders = [
        name
        for name, path in known.items()
        if any(target.split(".")[0] == "baselines" for target in imported_names(path, name, known))
    ]
    assert not offenders, f"cddgan modules importing baselines: {offenders}"
