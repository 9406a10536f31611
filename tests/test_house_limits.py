"""The sizes the project holds itself to: a module of jitpi at most 500 lines (a backend's 600, where
one framework's kernels and their notes live), a script of tools/ at most 400, the README at most
200. Past these, a module is doing two things, or a script has grown its own machinery."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LIMITS = [
    ("jitpi/backends", "*.py", 600),
    ("jitpi", "**/*.py", 500),
    ("tools", "*.py", 400),
]


def lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


@pytest.mark.parametrize(("folder", "pattern", "limit"), LIMITS)
def test_no_file_past_its_limit(folder, pattern, limit):
    backends = ROOT / "jitpi" / "backends"
    files = sorted((ROOT / folder).glob(pattern))
    assert files, f"nothing matches {folder}/{pattern}"
    if folder == "jitpi":  # the backends have their own limit
        files = [path for path in files if backends not in path.parents]
    over = {str(path.relative_to(ROOT)): lines(path) for path in files if lines(path) > limit}
    assert not over, f"over {limit} lines: {over}"


def test_the_readme_is_a_front_door():
    assert lines(ROOT / "README.md") <= 200
