"""One source for the backend list: nothing outside the registry and a backend's own files names
backends in a list, so that adding a backend is one module, one registry line and one extra; and
the one exception, the asv suite's grid (jitpi/suite/grid.py), written out because asv keys results
by position and must never follow the installed library, is held to the library by a guard test
(tests/test_asv_suite.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import jitpi

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("jitpi", "benchmarks", "tools", "tests")


def _own_files(path: Path) -> bool:
    """The registry, and files that belong to one backend (its module, tests and helpers)."""
    relative = path.relative_to(ROOT).as_posix()
    if relative in ("jitpi/registry.py", "jitpi/suite/grid.py") or relative.startswith("jitpi/backends/"):
        return True
    return any(f"_{name}" in path.stem or path.stem == name for name in jitpi.BACKENDS)


def backend_lists(source: str, names: set[str]) -> list[tuple[int, list[str]]]:
    """Every tuple, list, set or dict literal (keys) holding two or more backend names."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Dict):
            elements = [key for key in node.keys if key is not None]
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            elements = node.elts
        else:
            continue
        named = [e.value for e in elements if isinstance(e, ast.Constant) and e.value in names]
        if len(named) >= 2:
            found.append((node.lineno, named))
    return found


def test_the_scanner_finds_a_list_of_backend_names():
    first, second, third, *_ = jitpi.BACKENDS
    source = (
        f"FAST = ({first!r}, {second!r})\nCOLOURS = {{{third!r}: 1, {first!r}: 2}}\nONE = [{first!r}, 'x']\n"
    )
    expected = [(1, [first, second]), (2, [third, first])]
    assert backend_lists(source, set(jitpi.BACKENDS)) == expected


def test_no_hard_coded_backend_list_outside_the_registry():
    names = set(jitpi.BACKENDS)
    offenders = []
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if _own_files(path):
                continue
            for line, named in backend_lists(path.read_text(encoding="utf-8"), names):
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {named}")
    assert not offenders, "derive these from jitpi.BACKENDS:\n" + "\n".join(offenders)
