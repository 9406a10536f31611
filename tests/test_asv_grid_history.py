"""asv over a history that inserts, appends and removes backends: every stored value belongs to its label.

asv discovers one parameter grid and files each commit's numbers by their position in it, so a grid
that moved with the installed jitpi filed one backend's numbers under another's name. The suite's
grid is fixed (jitpi/suite/grid.py); this runs real asv over real commits to show that it holds.

A throwaway git repository holds four commits:

- A: the project as it stands;
- B: a backend, ``numpy2``, inserted into jitpi's registry right after numpy, so that every later
  backend moves one place; it is numpy's module counting on streams offset by 1000, so a value of
  it filed under numpy's (or anyone's) label shows;
- C: another, ``numpy3`` (offset 2000), appended at the end of the registry;
- D: ``python`` removed from the registry.

One ``asv run`` covers A to D with the suite's own sampling, narrowed with ``-b`` to the accuracy
benchmark (every variant) and the steady-state time (native) at n = 1e5 on the CPU for python,
numpy, numba and mojo. asv discovers the grid at A, the first commit of the run, and runs it at
every commit. The environment is the project's config with a numpy-only matrix (pip's download
cache reused), so of those python and numpy run and numba and mojo skip as not installed. The tests
then read asv's stored results and its per-combination output (``--show-stderr``):

- every result file's grid is jitpi/suite/grid.py's;
- where the label's backend is present at that commit and installed, the accuracy value equals
  the RMS of z over the suite's seeds computed here, directly, and the time is a positive number;
- elsewhere the value is NaN (skipped), with the right reason: "jitpi at this commit has no
  backend 'python'" at D, "not installed" for the frameworks; nothing failed (no null).

One more reads the same output for tracebacks: nothing failed, not even the accuracy worker
(which must import the commit's installed jitpi, not the checkout's).

One fast test, without asv, shows the property the history depends on: the suite's parameters do
not move when the installed jitpi inserts a backend.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import itertools
import json
import math
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from asv_helpers import (
    ROOT,
    asv,
    asv_environ,
    commit_all,
    git,
    have_tools,
    light_config,
    make_repo,
    register_machine,
)

from benchmarks import grid
from jitpi import registry

pytestmark = pytest.mark.slow

MACHINE = "grid-history"
INSERTED, APPENDED, REMOVED = "numpy2", "numpy3", "python"
OFFSETS = {INSERTED: 1000, APPENDED: 2000}
# What a numpy-only environment runs (python needs nothing), read from the registry.
RUNS_HERE = tuple(name for name, info in registry.REGISTRY.items() if set(info.modules) <= {"numpy"})
# The backends whose combinations the run measures: those, a framework the environment lacks, and
# the grid's last backend.
MEASURED = (*RUNS_HERE, "numba", grid.BACKENDS[-1])
N = "1e5"
SELECTED = {
    grid.ACCURACY: [(backend, variant, "cpu", N) for backend in MEASURED for variant in grid.VARIANTS],
    grid.TIME: [(backend, "native", "cpu", N) for backend in MEASURED],
}
NOT_INSTALLED = "not installed"

# numpy's module again, counting on streams offset by OFFSET: a backend whose every count differs.
OFFSET_BACKEND = """

# A backend added for a test: numpy's kernels on the streams seed + OFFSET.
import dataclasses

OFFSET = {offset}


def _at_offset(kernel):
    def kernel_at_offset(n, seed, **kwargs):
        return kernel(n, seed + OFFSET, **kwargs)

    return kernel_at_offset


BACKEND = dataclasses.replace(
    BACKEND,
    name="{name}",
    kernels={{variant: _at_offset(kernel) for variant, kernel in BACKEND.kernels.items()}},
)
"""
REGISTRY_END = "\n    )\n}\n"


@dataclasses.dataclass(frozen=True)
class Commit:
    name: str
    hash: str
    backends: tuple[str, ...]  # its jitpi's registry, in order


@dataclasses.dataclass(frozen=True)
class History:
    repo: Path
    commits: tuple[Commit, ...]
    output: str  # asv run's, with --show-stderr
    results: dict[str, dict[str, dict[tuple, float | None]]]  # hash -> benchmark -> label -> value
    grids: dict[str, dict[str, list[list[str]]]]  # hash -> benchmark -> params as stored
    said: dict[tuple[str, str, tuple], str]  # (hash8, benchmark, label) -> what it printed


def registry_line(source: str, backend: str) -> str:
    lines = [line for line in source.splitlines(True) if line.startswith(f'        BackendInfo("{backend}",')]
    assert len(lines) == 1, f"the registry line of {backend} moved: update this test"
    return lines[0]


def add_backend(repo: Path, name: str, *, after: str | None) -> None:
    """A copy of numpy's backend module named ``name``, inserted after ``after`` (None: appended)."""
    numpy_module = (repo / "jitpi" / "backends" / "numpy.py").read_text(encoding="utf-8")
    module = numpy_module + OFFSET_BACKEND.format(name=name, offset=OFFSETS[name])
    (repo / "jitpi" / "backends" / f"{name}.py").write_text(module, encoding="utf-8")
    registry = repo / "jitpi" / "registry.py"
    source = registry.read_text(encoding="utf-8")
    line = registry_line(source, "numpy").replace('BackendInfo("numpy",', f'BackendInfo("{name}",')
    if after is None:
        assert source.count(REGISTRY_END) == 1, "the REGISTRY tuple's end moved: update this test"
        source = source.replace(REGISTRY_END, "\n" + line.rstrip("\n") + REGISTRY_END)
    else:
        anchor = registry_line(source, after)
        source = source.replace(anchor, anchor + line)
    registry.write_text(source, encoding="utf-8")


def remove_backend(repo: Path, name: str) -> None:
    registry = repo / "jitpi" / "registry.py"
    source = registry.read_text(encoding="utf-8")
    registry.write_text(source.replace(registry_line(source, name), ""), encoding="utf-8")


def library_backends(repo: Path) -> tuple[str, ...]:
    """jitpi.BACKENDS of the repository's working tree, asked of a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", "import json, jitpi; print(json.dumps(jitpi.BACKENDS))"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return tuple(json.loads(done.stdout))


def selection() -> list[str]:
    """asv's -b patterns: exactly the selected combinations."""
    return [
        "^(" + "|".join(re.escape(grid.key(name, *label)) for label in labels) + ")$"
        for name, labels in SELECTED.items()
    ]


def read_results(repo: Path, commit: str):
    from asv.results import Results

    files = sorted((repo / ".asv" / "results" / MACHINE).glob(f"{commit[:8]}-*.json"))
    assert len(files) == 1, f"one result file per commit (one environment), found {files}"
    result = Results.load(str(files[0]))
    values, grids = {}, {}
    for name in SELECTED:
        params = result.get_result_params(name)
        grids[name] = params
        labels = (tuple(ast.literal_eval(part) for part in combo) for combo in itertools.product(*params))
        values[name] = dict(zip(labels, result.get_result_value(name, params), strict=True))
    return values, grids


def combination_output(output: str) -> dict[tuple[str, str, tuple], str]:
    """What each combination printed, as asv's --show-stderr gives it: per commit, per benchmark,
    "For parameters: 'python', 'naive', 'cpu', '1e5'" and the lines below it."""
    sections: dict[tuple[str, str, tuple], str] = {}
    commit = benchmark = label = None
    for line in output.splitlines():
        progress = line.startswith("[")
        if found := re.search(r"For jitpi commit ([0-9a-f]{8})", line):
            commit, benchmark, label = found.group(1), None, None
        elif progress and (found := re.search(r"·{3} (bench_\w+\.\w+\.\w+)\s", line)):
            benchmark, label = found.group(1), None
        elif found := re.search(r"For parameters: (.*)$", line):
            label = ast.literal_eval(found.group(1))
            sections[commit, benchmark, label] = ""
        elif progress:
            label = None
        elif label is not None:
            sections[commit, benchmark, label] += line.strip() + "\n"
    return sections


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> History:
    reason = have_tools()
    if reason:
        pytest.skip(reason)
    started = time.monotonic()
    root = tmp_path_factory.mktemp("grid-history")
    repo = make_repo(root / "repo", light_config())
    backends = library_backends(repo)
    commits = [Commit("A", git(repo, "rev-parse", "HEAD"), backends)]

    add_backend(repo, INSERTED, after="numpy")
    at = backends.index("numpy") + 1
    backends = (*backends[:at], INSERTED, *backends[at:])
    commits.append(Commit("B", commit_all(repo, f"insert {INSERTED} after numpy"), backends))

    add_backend(repo, APPENDED, after=None)
    backends = (*backends, APPENDED)
    commits.append(Commit("C", commit_all(repo, f"append {APPENDED}"), backends))

    remove_backend(repo, REMOVED)
    backends = tuple(name for name in backends if name != REMOVED)
    commits.append(Commit("D", commit_all(repo, f"remove {REMOVED}"), backends))
    assert library_backends(repo) == backends  # the history is what it says (checked at D)

    hashes = root / "hashes"
    hashes.write_text("".join(commit.hash + "\n" for commit in commits), encoding="utf-8")
    environ = asv_environ(root / "home")
    register_machine(repo, environ, MACHINE)
    patterns = [arg for pattern in selection() for arg in ("-b", pattern)]
    done = asv(repo, environ, "run", "--machine", MACHINE, "--show-stderr", *patterns, f"HASHFILE:{hashes}")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-5000:]
    results, grids = {}, {}
    for commit in commits:
        results[commit.hash], grids[commit.hash] = read_results(repo, commit.hash)
    print(f"the history and asv run over it: {time.monotonic() - started:.0f} s")
    return History(repo, tuple(commits), output, results, grids, combination_output(output))


@functools.cache
def rms_z(backend: str, variant: str, device: str, n: str) -> float:
    """The combination's accuracy, computed here with this tree's jitpi (A's, and in python's and
    numpy's modules every commit's)."""
    from benchmarks.common import rms_z

    return rms_z(backend, variant, device, grid.size(n))


def expectation(commit: Commit, backend: str) -> str | None:
    """Why the backend's combinations skip at the commit (a phrase of the reason), or None: it runs."""
    if backend not in commit.backends:
        return f"jitpi at this commit has no backend {backend!r}"
    if backend not in RUNS_HERE:
        return NOT_INSTALLED
    return None


def test_the_history_inserts_appends_and_removes(history):
    a, b, c, d = (commit.backends for commit in history.commits)
    assert a == grid.BACKENDS
    assert b.index(INSERTED) == b.index("numpy") + 1 and b.index("numba") == a.index("numba") + 1
    assert c[-1] == APPENDED and REMOVED in c and REMOVED not in d


def test_every_commit_files_its_numbers_under_the_fixed_grid(history):
    ns = {grid.ACCURACY: grid.ACCURACY_N, grid.TIME: grid.N_GRID + grid.GPU_ONLY_N}
    for commit in history.commits:
        for name, params in history.grids[commit.hash].items():
            labels = tuple(tuple(ast.literal_eval(value) for value in axis) for axis in params)
            expected = (grid.BACKENDS, grid.VARIANTS, grid.DEVICES, ns[name])
            assert labels == expected, f"{commit.name}: {name}'s grid is not jitpi/suite/grid.py's"


def test_every_value_belongs_to_its_label(history):
    wrong = []
    for commit in history.commits:
        for name, labels in SELECTED.items():
            for label in labels:
                value = history.results[commit.hash][name][label]
                where = f"{commit.name}: {grid.key(name, *label)} = {value!r}"
                reason = expectation(commit, label[0])
                if value is None:
                    wrong.append(f"{where}: failed")
                elif reason is not None:
                    if not math.isnan(value):
                        wrong.append(f"{where}: a number where it must skip ({reason})")
                elif math.isnan(value):
                    wrong.append(f"{where}: skipped where it runs")
                elif name == grid.ACCURACY:
                    expected = rms_z(*label)
                    if not abs(value - expected) <= 1e-12:
                        wrong.append(f"{where}: its label's accuracy is {expected!r}")
                elif not (math.isfinite(value) and value > 0):
                    wrong.append(f"{where}: not a time")
    assert not wrong, "\n".join(wrong)


def test_nothing_failed(history):
    for commit in history.commits:
        for name, values in history.results[commit.hash].items():
            failed = [label for label, value in values.items() if value is None]
            assert not failed, f"{commit.name}: {name} failed for {failed}"


def test_every_skip_says_why(history):
    wrong = []
    for commit in history.commits:
        for name, labels in SELECTED.items():
            for label in labels:
                reason = expectation(commit, label[0])
                if reason is None:
                    continue
                said = history.said.get((commit.hash[:8], name, label), "")
                skipped = [line for line in said.splitlines() if line.startswith("asv: skipped:")]
                if len(skipped) != 1 or reason not in skipped[0]:
                    wrong.append(
                        f"{commit.name}: {grid.key(name, *label)} must skip ({reason}), said {said!r}"
                    )
    assert not wrong, "\n".join(wrong)


def test_the_removed_backend_skips_for_that_reason_only_where_removed(history):
    said = [
        (commit, name, label)
        for (commit, name, label), text in history.said.items()
        if f"jitpi at this commit has no backend {REMOVED!r}" in text
    ]
    removed_at = {commit.hash[:8] for commit in history.commits if REMOVED not in commit.backends}
    assert said and {commit for commit, _, _ in said} == removed_at
    assert {label for _, _, label in said} == {
        label for labels in SELECTED.values() for label in labels if label[0] == REMOVED
    }


def test_no_combination_printed_a_traceback(history):
    """Nothing failed, not even in the accuracy worker that setup starts (setup recovers from a worker
    that died by computing its own value, so the result alone does not show it)."""
    tracebacks = {key: text for key, text in history.said.items() if "Traceback" in text}
    assert not tracebacks, "\n\n".join(f"{key}:\n{text}" for key, text in tracebacks.items())


DISCOVER_WITH_AN_INSERTED_BACKEND = """
import dataclasses, json, sys
import jitpi, jitpi.api, jitpi.registry as registry
# The library as a commit that inserts a backend right after numpy has it.
names = list(registry.REGISTRY)
names.insert(names.index("numpy") + 1, "numpy2")
infos = {**registry.REGISTRY, "numpy2": dataclasses.replace(registry.REGISTRY["numpy"], name="numpy2")}
registry.REGISTRY = {name: infos[name] for name in names}
registry.BACKENDS = jitpi.BACKENDS = jitpi.api.BACKENDS = tuple(names)
from asv_runner.discovery import disc_benchmarks
print(json.dumps({bench.name: bench._params for bench in disc_benchmarks(sys.argv[1]) if bench._params}))
"""


def test_the_suites_grid_does_not_move_when_the_library_inserts_a_backend():
    """What the history above depends on, without asv: discovered with a jitpi whose registry has a
    backend inserted after numpy, the suite's parameters are still jitpi/suite/grid.py's, so numba's
    combinations keep their positions (a grid read from the library would move each one place on,
    and file the inserted backend's numbers under numba's label)."""
    pytest.importorskip("asv_runner")
    done = subprocess.run(
        [sys.executable, "-c", DISCOVER_WITH_AN_INSERTED_BACKEND, str(ROOT / "benchmarks")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    discovered = json.loads(done.stdout)
    assert grid.TIME in discovered and grid.ACCURACY in discovered
    label = ("numba", "native", "cpu", "1e9")
    fixed = list(itertools.product(grid.BACKENDS, grid.VARIANTS, grid.DEVICES, grid.N_GRID + grid.GPU_ONLY_N))
    moved = list(itertools.product(*discovered[grid.TIME]))
    where = fixed.index(label)
    assert moved[where] == label, (
        f"with a backend inserted into the library, position {where} of {grid.TIME} is {moved[where]}, "
        f"not {label}: the grid follows the installed jitpi"
    )
    for name, params in discovered.items():
        assert tuple(params[0]) == grid.BACKENDS, f"{name}: the backend axis follows the installed jitpi"
