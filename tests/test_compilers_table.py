"""docs/compilers.md's versions are generated from pyproject.toml's pins (tools/compilers_table.py): the
page must be what the generator makes, so a pin changed without regenerating fails here, naming the
command that fixes it."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import jitpi

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "compilers_table.py"


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("jitpi_compilers_table", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _copy(tmp_path: Path) -> Path:
    """A repository of the three files the generator reads and writes."""
    for name in ("pyproject.toml", "asv.conf.json", "docs/compilers.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_the_page_is_what_the_generator_makes(tool):
    page = (ROOT / tool.DOC).read_text(encoding="utf-8")
    found = tool.current(page)
    assert found is not None, f"{tool.DOC} lost its markers {tool.BEGIN!r} ... {tool.END!r}"
    assert found == tool.table(), (
        f"{tool.DOC}'s table of compilers differs from pyproject.toml's pins: run {tool.COMMAND}"
    )


def test_every_backend_has_a_row_at_its_pins(tool):
    block = tool.table()
    pins = tool.pins()
    for name in jitpi.BACKENDS:
        assert f"\n| {name} | " in block, name
    for distribution, version in pins.items():
        # A name may carry extras in the table (mlx[cpu]).
        shown = re.escape(distribution) + r"(\[[^\]]*\])? " + re.escape(version)
        assert re.search(shown, block) or f"`{version}`" in block, (distribution, version)
    assert pins["jaxlib"] == pins["jax"], "jaxlib moves with jax"


def test_a_pin_bumped_without_regenerating_fails_the_check(tool, tmp_path):
    root = _copy(tmp_path)
    pyproject = root / "pyproject.toml"
    pins = tool.pins(root)
    old = f"drjit=={pins['drjit']}"
    pyproject.write_text(
        pyproject.read_text(encoding="utf-8").replace(old, "drjit==99.0.0"), encoding="utf-8"
    )
    assert tool.pins(root)["drjit"] == "99.0.0"

    def run(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, str(TOOL), "--root", str(root), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    stale = run("--check")
    assert stale.returncode == 1 and tool.COMMAND in stale.stderr, stale.stderr
    assert run().returncode == 0
    assert "drjit 99.0.0" in (root / tool.DOC).read_text(encoding="utf-8")
    assert run("--check").returncode == 0
    before, after = ((where / tool.DOC).read_text(encoding="utf-8") for where in (ROOT, root))
    assert before.replace(tool.current(before), "") == after.replace(tool.current(after), "")


def test_a_range_shows_the_version_asv_installs(tool, tmp_path):
    root = _copy(tmp_path)
    pyproject = root / "pyproject.toml"
    old = f"drjit=={tool.pins(root)['drjit']}"
    pyproject.write_text(pyproject.read_text(encoding="utf-8").replace(old, "drjit>=1,<99"), encoding="utf-8")
    row = next(line for line in tool.table(root).splitlines() if line.startswith("| drjit |"))
    assert row.endswith(f"| drjit `>=1,<99` (asv measures {tool.pins()['drjit']}) |"), row
