"""No module of jitpi (outside ``jitpi/backends/``) takes part in an import circle.

The graph is read from the source with ``ast``, so it holds every ``jitpi.*`` import, those inside
functions included (a lazy import only hides a circle until someone moves it to the top). An edge goes
to the module named: ``from jitpi.sweep import results`` to ``jitpi.sweep.results`` (a submodule),
``from jitpi.sweep import Group`` to the package ``jitpi.sweep``. Python also imports a module's parent
packages first; those implicit edges are not counted, or every package whose ``__init__`` imports its
submodules would be a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "jitpi"
EXCLUDED = ("jitpi.backends",)

def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    found = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
    return {
        name: path
        for name, path in found.items()
        if not any(name == skip or name.startswith(skip + ".") for skip in EXCLUDED)
    }


def _resolve(name: str, known: set[str]) -> str | None:
    """The longest known module that ``name`` is or lies in (``jitpi.sweep.Group`` -> ``jitpi.sweep``)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Every jitpi module that ``name`` imports, anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str | None] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets.update(_resolve(alias.name, known) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                targets.add(submodule if submodule in known else _resolve(source, known))
    return {target for target in targets if target is not None and target != name}


def import_graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports_of(name, path, known) for name, path in found.items()}


def circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _path(graph: dict[str, set[str]], component: set[str]) -> str:
    """The shortest circle through the first module of ``component``, written out: ``a -> b -> a``."""
    start = min(component)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & component):
                if target == start:
                    trail = [node]
                    while trail[-1] != start:
                        trail.append(came_from[trail[-1]])
                    return " -> ".join([*reversed(trail), start])
                if target not in came_from:
                    came_from[target] = node
                    following.append(target)
        frontier = following
    return start


def test_the_graph_sees_lazy_and_package_imports():
    graph = import_graph()
    assert "jitpi.api" in graph and "jitpi.registry" in graph["jitpi.api"]
    assert "jitpi.plotting" in graph["jitpi.cli.documents"]  # imported inside a function
    assert "jitpi.sweep" in graph["jitpi.cli.run"]  # a name from a package: the package
    assert "jitpi.sweep.results" in graph["jitpi.sweep"]  # a package's own submodules
    assert not any(name.startswith("jitpi.backends") for name in graph)
    # the detector itself: a circle through a lazy import is found
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert circles({"a": {"b"}, "b": set()}) == []
    assert _path({"a": {"b"}, "b": {"c", "a"}, "c": {"a"}}, {"a", "b", "c"}) == "a -> b -> a"


def test_no_module_takes_part_in_an_import_circle():
    graph = import_graph()
    found = [_path(graph, component) for component in circles(graph)]
    assert not found, "import circles:\n  " + "\n  ".join(found)
