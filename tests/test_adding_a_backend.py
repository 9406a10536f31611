"""The README's "Adding a backend", followed literally: its toy module, its registry line and its
name appended to the suite's grid, added to a copy of this tree, light up in ``jitpi list``,
``jitpi run``, the contract tests and the asv suite, with no other edit; without the grid step the
suite's coverage guard fails."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COPIED = ("jitpi", "tests", "benchmarks", "pyproject.toml", "asv.conf.json", "README.md")


def readme_steps() -> tuple[str, str, str]:
    """The module, the registry line and the grid line: the section's three Python blocks."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Adding a backend", 1)[1].split("\n## ", 1)[0]
    module, line, grid_line = re.findall(r"```python\n(.*?)```", section, flags=re.S)[:3]
    return module, line, grid_line


def copy_with_toy(copy: Path, *, in_grid: bool) -> Path:
    """A copy of the project with the toy backend added as the README says (the grid step or not)."""
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, copy / name)
    module, line, grid_line = readme_steps()
    (copy / "jitpi" / "backends" / "toy.py").write_text(module, encoding="utf-8")
    registry = copy / "jitpi" / "registry.py"
    source = registry.read_text(encoding="utf-8")
    end_of_registry = "\n    )\n}\n"
    assert source.count(end_of_registry) == 1, "the REGISTRY tuple's end moved: update this test"
    registry.write_text(source.replace(end_of_registry, "\n" + line.rstrip("\n") + end_of_registry), "utf-8")
    if in_grid:
        grid = copy / "jitpi" / "suite" / "grid.py"
        source = grid.read_text(encoding="utf-8")
        end_of_backends = "\n)\nVARIANTS = "
        assert source.count(end_of_backends) == 1, "the grid's BACKENDS end moved: update this test"
        grid.write_text(
            source.replace(end_of_backends, "\n" + grid_line.rstrip("\n") + end_of_backends), "utf-8"
        )
    return copy


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A copy of the project with the toy backend added exactly as the README says."""
    return copy_with_toy(tmp_path_factory.mktemp("with-toy"), in_grid=True)


def run(tree: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(tree), "JITPI_REQUIRE_ALL": ""}
    return subprocess.run(
        [sys.executable, *args], cwd=tree, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_the_readme_has_every_step():
    module, line, grid_line = readme_steps()
    assert "BACKEND = Backend(" in module and 'name="toy"' in module
    assert line.strip().startswith('BackendInfo("toy"')
    assert grid_line.strip() == '"toy",'


GUARD = (
    "-m",
    "pytest",
    "-q",
    "-p",
    "no:cacheprovider",
    "tests/test_asv_suite.py",
    "-k",
    "covers_the_library",
)


def test_without_the_grid_step_the_suites_coverage_guard_fails(tmp_path):
    """The suite's grid is fixed: a backend the library has and the grid lacks is never measured,
    so the guard must catch the missing step (and pass once it is taken: the tree fixture)."""
    without = copy_with_toy(tmp_path / "without-grid", in_grid=False)
    done = run(without, *GUARD)
    assert done.returncode == 1, done.stdout[-3000:]
    assert "['toy'] that jitpi/suite/grid.py lacks" in done.stdout, done.stdout[-3000:]


def test_with_the_grid_step_the_guard_passes(tree):
    done = run(tree, *GUARD)
    assert done.returncode == 0, done.stdout[-3000:]


def test_the_copy_imports_its_own_jitpi(tree):
    done = run(tree, "-c", "import jitpi; print(jitpi.__file__); print(','.join(jitpi.BACKENDS))")
    assert done.returncode == 0, done.stderr
    where, backends = done.stdout.split()
    assert Path(where).is_relative_to(tree) and backends.split(",")[-1] == "toy"


def test_jitpi_list_shows_it(tree):
    done = run(tree, "-m", "jitpi", "list", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    listing = json.loads(done.stdout)
    assert "toy" in json.dumps(listing)
    assert "a toy backend" in done.stdout


def test_jitpi_run_measures_it(tree, tmp_path):
    out = tmp_path / "toy.json"
    done = run(
        tree,
        "-m",
        "jitpi",
        "run",
        "-b",
        "toy",
        "--variant",
        "native,shared",
        "--n",
        "1e4,1e5",
        "--json",
        str(out),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert {(row["variant"], row["n"]) for row in rows} == {
        (v, n) for v in ("native", "shared") for n in (10**4, 10**5)
    }
    assert all(row["backend"] == "toy" and row["status"] == "ok" for row in rows), rows


def test_the_contract_tests_hold_it_to_the_contract(tree):
    done = run(
        tree,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/test_contract.py",
        "tests/test_shared.py",
        "-k",
        "toy",
    )
    assert done.returncode == 0, done.stdout[-5000:]
    passed = int(re.search(r"(\d+) passed", done.stdout).group(1))
    assert passed >= 30, done.stdout[-2000:]


def test_the_asv_suite_measures_it(tree):
    script = textwrap.dedent(
        """
        import itertools, json
        from asv_runner.discovery import disc_benchmarks
        found = {bench.name: bench for bench in disc_benchmarks("benchmarks")}
        ran = {}
        for name, bench in sorted(found.items()):
            grid = enumerate(itertools.product(*bench._params))
            combos = [i for i, p in grid if p[:3] == ("toy", "native", "cpu")]
            if not combos:
                continue
            bench.set_param_idx(combos[0])
            skipped = bench.do_setup()
            result = None if skipped else bench.func(*bench._current_params)
            bench.do_teardown()
            ran[name] = [skipped, result if isinstance(result, (int, float)) else None]
        print(json.dumps(ran))
        """
    )
    done = run(tree, "-c", script)
    assert done.returncode == 0, done.stderr[-3000:]
    ran = json.loads(done.stdout.strip().splitlines()[-1])
    kinds = {name.split(".")[-1].split("_")[0] for name in ran}
    assert kinds == {"time", "timeraw", "peakmem", "track"}, ran
    assert all(skipped is False for skipped, _ in ran.values()), ran
