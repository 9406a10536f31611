"""jitpi's comparison page (jitpi/suite/page.py) and its link from asv's front page (tools/asv_site.py).

The results are real asv result files, written with asv's own API (``asv.machine.Machine.save``,
``asv.results.Results.add_result`` and ``save``) for a tiny grid: three backends, two variants, two
devices, measured / skipped / failed the way ``asv run`` records them (a median and quartiles from
samples, NaN for a skip, None for a failure), plus a newer commit that measured nothing. The unit
tests read them into rows and curves; the browser test publishes them with ``asv publish`` and
tools/asv_site.py into a throwaway repository's site, writes the page, follows the front page's
link in Debian's Chromium and checks every chart has points for every backend that ran. A
screenshot stays in test-artifacts/.
"""

from __future__ import annotations

import ast
import itertools
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from asv_helpers import ROOT, git
from browser_helpers import chromium, serve

asv_results = pytest.importorskip("asv.results", reason="asv is not installed (pip install -e '.[dev]')")
from asv.machine import Machine  # noqa: E402
from asv.runner import BenchmarkResult  # noqa: E402
from asv.util import write_json  # noqa: E402

import jitpi  # noqa: E402
from jitpi import precision  # noqa: E402
from jitpi.results import Kind, State, from_sweep  # noqa: E402
from jitpi.suite import asv_results as reader  # noqa: E402
from jitpi.suite import grid, page  # noqa: E402
from jitpi.sweep.counts import UsageError  # noqa: E402
from jitpi.view import tables  # noqa: E402

ARTIFACTS = ROOT / "test-artifacts"
NAN = float("nan")
MACHINE = {
    "machine": "tiny",
    "arch": "x86_64",
    "cpu": "Test CPU @ 1.00GHz",
    "num_cpu": "2",
    "os": "Linux 6.0",
    "ram": str(8 * 2**30),
}
# Pip pins (package names, some of which are backends' too).
REQUIREMENTS = dict(numpy="2.4.6", numba="0.68.1", jax="0.10.2", jaxlib="0.10.2", rich="15.0.0")
RELEASE = dict(numba="0.60.0", numpy="2.0.2")  # an environment of jitpi.releases: one compiler
BACKENDS = list(jitpi.BACKENDS[:3])  # the reference loop, numpy and numba, in registry order
VARIANTS = ["native", "shared"]
DEVICES = ["cpu", "gpu"]
GRIDS = {
    grid.TIME: ("time", "seconds", "2", ["1e5", "1e7"]),
    grid.COLD: ("time", "seconds", "2", ["1e5"]),
    grid.MEMORY: ("memory", "bytes", "1", ["1e5", "1e8"]),
    grid.ACCURACY: ("track", "sigma", "1", ["1e5", "1e6"]),
}
# What the tiny run measured, per (benchmark, backend, variant, n) on the CPU: samples (a timing),
# a value (memory, accuracy), NAN (skipped) or None (failed). Anything not listed skipped.
MEASURED = {
    (grid.TIME, "numpy", "native", "1e5"): [0.9e-3, 1.0e-3, 1.2e-3],
    (grid.TIME, "numpy", "native", "1e7"): [0.09, 0.10, 0.11],
    (grid.TIME, "numba", "native", "1e5"): [1.9e-4, 2.0e-4, 2.4e-4],
    (grid.TIME, "numba", "native", "1e7"): [4.5e-3, 5.0e-3, 5.5e-3],
    (grid.TIME, "numba", "shared", "1e5"): [2.8e-4, 3.0e-4, 3.1e-4],
    (grid.TIME, "numba", "shared", "1e7"): None,
    (grid.TIME, "python", "native", "1e5"): [0.019, 0.020, 0.022],
    (grid.COLD, "numpy", "native", "1e5"): [0.09, 0.10, 0.13],
    (grid.COLD, "numba", "native", "1e5"): [1.0, 1.1, 1.3],
    (grid.COLD, "numba", "shared", "1e5"): [1.2, 1.25],
    (grid.COLD, "python", "native", "1e5"): [0.05, 0.06, 0.07],
    (grid.MEMORY, "numpy", "native", "1e5"): 41e6,
    (grid.MEMORY, "numpy", "native", "1e8"): 82e6,
    (grid.MEMORY, "numba", "native", "1e5"): 150e6,
    (grid.MEMORY, "numba", "native", "1e8"): 183e6,
    (grid.MEMORY, "numba", "shared", "1e5"): 151e6,
    (grid.MEMORY, "numba", "shared", "1e8"): 189e6,
    (grid.MEMORY, "python", "native", "1e5"): 37e6,
    (grid.ACCURACY, "numpy", "native", "1e5"): 0.67,
    (grid.ACCURACY, "numpy", "native", "1e6"): 0.75,
    (grid.ACCURACY, "numba", "native", "1e5"): 0.95,
    (grid.ACCURACY, "numba", "native", "1e6"): 0.82,
    (grid.ACCURACY, "numba", "shared", "1e5"): 1.02,
    (grid.ACCURACY, "numba", "shared", "1e6"): 1.19,
    (grid.ACCURACY, "python", "native", "1e5"): 2.5,
}
RAN = set(BACKENDS)  # the backends with a measured bench_time
# The yardstick's samples (bench_yardstick): a median of 0.5 s, so 8e7 samples/s at 4e7 samples.
YARDSTICK = [0.49, 0.5, 0.53]


def benchmark_entry(name: str) -> dict:
    if name == grid.YARDSTICK:
        return {
            "name": name,
            "code": "def time_quarter_circle(self): ...",
            "type": "time",
            "unit": "seconds",
            "version": grid.YARDSTICK_VERSION,
            "param_names": [],
            "params": [],
        }
    kind, unit, version, n_grid = GRIDS[name]
    return {
        "name": name,
        "code": f"def {name.rsplit('.', 1)[-1]}(self, backend, variant, device, n): ...",
        "type": kind,
        "unit": unit,
        "version": version,
        "param_names": ["backend", "variant", "device", "n"],
        "params": [[repr(v) for v in values] for values in (BACKENDS, VARIANTS, DEVICES, n_grid)],
    }


def outcome(name: str, combination: tuple[str, str, str, str], *, nothing: bool, measured: dict):
    """(result, samples, number) of one combination, as asv_runner hands them to Results."""
    backend, variant, device, n = combination
    value = NAN if nothing or device == "gpu" else measured.get((name, backend, variant, n), NAN)
    if isinstance(value, list):
        return _median(value), value, 1
    return value, None, None


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def write_results(
    results_dir: Path,
    commit: str,
    date_ms: int,
    *,
    names=tuple(GRIDS),
    nothing: bool = False,
    record_samples: bool = True,
    machine: dict = MACHINE,
    requirements: dict = REQUIREMENTS,
    measured: dict = MEASURED,
    yardstick: list[float] | float | None = None,
    yardstick_version: str = grid.YARDSTICK_VERSION,
) -> None:
    """One commit's results for ``machine``, through asv's own classes; with ``yardstick`` (its
    samples, or NAN for a skip) the yardstick's result too, at ``yardstick_version``."""
    info = Machine()
    info.__dict__.update(machine)
    info.save(str(results_dir))
    params = {**machine, "python": "3.11", **requirements}
    env_name = "virtualenv-py3.11-" + "-".join(f"{k}{v}" for k, v in sorted(requirements.items()))
    results = asv_results.Results(params, requirements, commit, date_ms, "3.11", env_name, {})
    for name in names:
        entry = benchmark_entry(name)
        combinations = itertools.product(*([ast.literal_eval(v) for v in vs] for vs in entry["params"]))
        outcomes = [
            outcome(name, combination, nothing=nothing, measured=measured) for combination in combinations
        ]
        result = BenchmarkResult(
            result=[o[0] for o in outcomes],
            samples=[o[1] for o in outcomes],
            number=[o[2] for o in outcomes],
            errcode=0,
            stderr="",
            profile=None,
        )
        results.add_result(entry, result, record_samples=record_samples)
    if yardstick is not None:
        entry = {**benchmark_entry(grid.YARDSTICK), "version": yardstick_version}
        value, samples = (_median(yardstick), yardstick) if isinstance(yardstick, list) else (yardstick, None)
        result = BenchmarkResult(
            result=[value], samples=[samples], number=[1], errcode=0, stderr="", profile=None
        )
        results.add_result(entry, result, record_samples=record_samples)
    results.save(str(results_dir))
    listed = [*GRIDS, grid.YARDSTICK]
    write_json(
        str(results_dir / "benchmarks.json"), {name: benchmark_entry(name) for name in listed}, api_version=2
    )


OLD, NEW = "a" * 40, "b" * 40
OLD_DATE, NEW_DATE = 1_796_173_597_000, 1_796_176_322_000


@pytest.fixture
def results_dir(tmp_path) -> Path:
    """A full run at OLD and, like a ``-b ...gpu`` run after it, a newer commit that measured nothing."""
    results = tmp_path / "results"
    write_results(results, OLD, OLD_DATE)
    write_results(results, NEW, NEW_DATE, names=(grid.TIME,), nothing=True)
    return results


# --- reading asv's results --------------------------------------------------------------------


def test_the_newest_commit_with_a_measurement_is_read_and_the_newer_empty_one_named(results_dir):
    run = reader.load(results_dir)
    assert run.source.commit == OLD and run.source.machine_name == "tiny"
    assert run.notes == [
        f"the newest commit with a measurement; newer: {NEW[:8]} measured nothing "
        "(24 combinations, all skipped)"
    ]
    assert run.source.versions == REQUIREMENTS and run.source.python == "3.11"
    assert MACHINE["cpu"] in run.source.machine
    every = run.series(Kind.TIME, measured_only=False)
    timing = every[("numpy", "native", "cpu")][10**7]
    assert timing.state == State.MEASURED and timing.value == pytest.approx(0.10)
    assert timing.samples == (0.09, 0.10, 0.11) and timing.q25 < timing.value < timing.q75
    assert every[("numba", "shared", "cpu")][10**7].state == State.FAILED
    assert every[("python", "native", "cpu")][10**7].state == State.SKIPPED


def test_environments_that_pin_fewer_frameworks_are_left_out(results_dir):
    """jitpi.releases measures one compiler per environment into the same results folder: at the
    same commit, and alone at a later one. Neither may replace the project's environment."""
    slow = {
        key: [10 * t for t in value] if isinstance(value, list) else value
        for key, value in MEASURED.items()
        if key[1] == "numba"
    }
    write_results(results_dir, OLD, OLD_DATE, requirements=RELEASE, measured=slow)
    write_results(results_dir, "c" * 40, NEW_DATE + 1000, requirements=RELEASE, measured=slow)
    run = reader.load(results_dir)
    assert run.source.commit == OLD and run.source.versions == REQUIREMENTS
    newer, others = run.notes
    assert newer == (
        f"the newest commit with a measurement; newer: {'c' * 8} has results only in 1 other environment; "
        f"{NEW[:8]} measured nothing (24 combinations, all skipped)"
    )
    assert others.startswith("not shown: 1 other asv environment of this commit that pin")
    rows = {row.key: row for row in tables.rows(run)}
    assert rows[("numba", "native", "cpu")].throughput == pytest.approx(1e7 / 5.0e-3)


def test_a_release_environment_gets_its_own_section(tmp_path, results_dir):
    """The one release environment's compiler (RELEASE) gets a chart across its releases."""
    slow = {key: value for key, value in MEASURED.items() if key[1] == "numba"}
    write_results(results_dir, "c" * 40, NEW_DATE + 1000, requirements=RELEASE, measured=slow)
    text = page.write_page(results_dir, tmp_path / "out").read_text()
    backend = next(iter(RELEASE))
    assert '<section id="releases"' in text and f'src="releases/releases-{backend}.png"' in text
    assert (tmp_path / "out" / "releases" / f"releases-{backend}.png").stat().st_size > 0
    assert '<a href="#releases">' in text


def test_rows_hold_throughput_cold_start_memory_and_accuracy_at_the_largest_n(results_dir):
    rows = {row.key: row for row in tables.rows(reader.load(results_dir))}
    numpy = rows[("numpy", "native", "cpu")]
    assert numpy.state == State.MEASURED and not numpy.failed
    assert numpy.throughput == pytest.approx(1e7 / 0.10) and numpy.throughput_n == 10**7
    assert numpy.cold_s == pytest.approx(0.10)  # the median of bench_cold's samples
    assert numpy.memory_bytes == 82e6 and numpy.memory_n == 10**8
    assert numpy.rms_z == 0.75 and numpy.rms_note == "at 1e6"
    python = rows[("python", "native", "cpu")]
    assert python.throughput_n == 10**5 and python.memory_n == 10**5  # its largest measured n
    shared = rows[("numba", "shared", "cpu")]
    assert shared.state == State.MEASURED and shared.failed == ["time at n = 1e7"]
    assert shared.throughput_n == 10**5
    assert rows[("python", "shared", "cpu")].state == State.SKIPPED
    assert rows[("numpy", "native", "gpu")].state == State.SKIPPED


def test_the_leaderboard_ranks_by_throughput_and_folds_what_skipped(results_dir):
    ranked = tables.ranked(tables.rows(reader.load(results_dir)))
    measured = [row.key for row in ranked if row.state == State.MEASURED]
    assert measured == [
        ("numba", "native", "cpu"),  # 2e3 M samples/s at 1e7
        ("numba", "shared", "cpu"),  # 333 at 1e5, the largest n it measured
        ("numpy", "native", "cpu"),  # 100 at 1e7
        ("python", "native", "cpu"),
    ]
    skipped = [(row.backend, row.variant, row.device) for row in ranked if row.state == State.SKIPPED]
    assert skipped == [
        ("python", "shared", "cpu"),
        ("numpy", "shared", "cpu"),
        ("every backend", "native, shared", "gpu"),
    ]


def test_curves_start_at_the_cold_start_n_with_the_cold_samples(results_dir):
    curves = {(c.backend, c.variant, c.device): c for c in precision.curves(reader.load(results_dir))}
    assert set(curves) == {
        ("numpy", "native", "cpu"),
        ("numba", "native", "cpu"),
        ("numba", "shared", "cpu"),
        ("python", "native", "cpu"),
    }
    numba = curves[("numba", "native", "cpu")]
    assert [point.n for point in numba.points] == [10**5, 10**7]
    assert numba.points[0].median_s == pytest.approx(2.0e-4) and numba.points[0].iqr_s > 0
    assert numba.startup_s == (1.0, 1.1, 1.3)
    assert numba.startup().seconds == pytest.approx(1.1 - 2.0e-4)


def test_without_recorded_samples_the_cold_start_is_its_quartiles(tmp_path):
    results = tmp_path / "results"
    write_results(results, OLD, OLD_DATE, record_samples=False)
    run = reader.load(results)
    curve = next(c for c in precision.curves(run) if (c.backend, c.variant) == ("numba", "native"))
    measure = run.series(Kind.COLD)[("numba", "native", "cpu")][10**5]
    assert measure.samples == ()
    assert curve.startup_s == (measure.q25, measure.value, measure.q75)
    rows = {row.key: row for row in tables.rows(run)}
    assert rows[("numba", "native", "cpu")].cold_s == pytest.approx(1.1)


def test_a_sweep_file_gives_the_leaderboard_and_the_curves(tmp_path, results_dir):
    data = json.loads((ROOT / "docs" / "cpu-sweep.json").read_text())
    rows = {row.key: row for row in tables.rows(from_sweep(data))}
    ok = [r for r in data["rows"] if (r["backend"], r["variant"], r["status"]) == ("numba", "native", "ok")]
    numba = rows[("numba", "native", "cpu")]
    assert numba.throughput_n == max(r["n"] for r in ok) and numba.state == State.MEASURED
    assert numba.throughput == pytest.approx(max(ok, key=lambda r: r["n"])["samples_per_s"])
    first = min(ok, key=lambda r: r["n"])
    assert numba.cold_s == pytest.approx(first["import_s"] + first["first_call_s"])
    assert numba.rms_z == pytest.approx(math.sqrt(sum(r["z"] ** 2 for r in ok) / len(ok)))

    written = page.write_page(results_dir, tmp_path / "out", sweep_json=ROOT / "docs" / "cpu-sweep.json")
    text = written.read_text()
    board = text[text.index('id="leaderboard"') : text.index('id="throughput"')]
    assert "cpu-sweep.json" in board and "peak memory, which jitpi run does not measure" in board
    precision = text[text.index('<section id="precision"') :]
    assert "cpu-sweep.json" in precision.split("</p>")[0]
    assert (
        "asv results" in text[text.index('<section id="throughput"') : text.index('<section id="precision"')]
    )


# --- the machine's yardstick -------------------------------------------------------------------


def _leaderboard(text: str) -> str:
    return text[text.index('<section id="leaderboard"') : text.index('<section id="throughput"')]


def _row(board: str, backend: str, variant: str) -> str:
    start = board.index(f'data-series="throughput-{backend}-{variant}-cpu ')
    return board[start : board.index("</tr>", start)]


def test_throughput_is_also_shown_relative_to_the_yardstick_of_the_same_results(tmp_path):
    results = tmp_path / "results"
    write_results(results, OLD, OLD_DATE, yardstick=YARDSTICK)
    run = reader.load(results)
    assert run.yardstick is not None and run.yardstick.seconds == pytest.approx(0.5)
    assert run.yardstick.rate == pytest.approx(grid.YARDSTICK_SAMPLES / 0.5)
    assert run.yardstick.numpy == REQUIREMENTS["numpy"]

    text = page.write_page(results, tmp_path / "out").read_text()
    board = _leaderboard(text)
    # numba native: 1e7 / 5 ms = 2e9 samples/s = 25 yardsticks of 8e7; numpy native 1e8: 1.25.
    assert "<td class=num>2,000 <small>· 25× yardstick</small></td>" in _row(board, "numba", "native")
    assert "· 1.2× yardstick" in _row(board, "numpy", "native")
    assert "· 0.062× yardstick" in _row(board, "python", "native")  # 1e5 / 20 ms = 5e6
    line = (
        f"Yardstick: numpy {REQUIREMENTS['numpy']}, one thread, 4e7 samples of a fixed quarter-circle "
        "count (bench_yardstick, code no jitpi commit changes), 80 M samples/s on this machine at this commit"
    )
    assert board.count(line) == 1
    table = text[text.index('<section id="throughput"') : text.index('<section id="precision"')]
    assert "2,000 <small>· 25×</small>" in table  # numba native at 1e7
    assert "N× = N yardsticks (80 M samples/s here)" in table


def test_without_a_yardstick_the_page_shows_absolute_figures_only(tmp_path, results_dir):
    """Results older than the yardstick, one of another version (another workload), one that
    skipped: no relative figure, no error."""
    other = tmp_path / "other-version"
    write_results(other, OLD, OLD_DATE, yardstick=YARDSTICK, yardstick_version="0")
    skipped = tmp_path / "skipped"
    write_results(skipped, OLD, OLD_DATE, yardstick=NAN)
    for results in (results_dir, other, skipped):
        assert reader.load(results).yardstick is None, results
        text = page.write_page(results, tmp_path / results.name / "out").read_text()
        assert "× yardstick</small>" not in text and "×</small>" not in text
        assert "<td class=num>2,000</td>" in _row(_leaderboard(text), "numba", "native")
        assert "No yardstick in these results" in _leaderboard(text)


def test_a_sweep_leaderboard_is_not_divided_by_asvs_yardstick(tmp_path):
    """A jitpi run --json file ran at another time, perhaps elsewhere: only asv's own throughput
    table gets the relative figure."""
    results = tmp_path / "results"
    write_results(results, OLD, OLD_DATE, yardstick=YARDSTICK)
    text = page.write_page(results, tmp_path / "out", sweep_json=ROOT / "docs" / "cpu-sweep.json").read_text()
    board = _leaderboard(text)
    assert "yardstick" not in board.lower()
    assert "×</small>" in text[text.index('<section id="throughput"') :]


# --- errors name the argument and what is allowed ----------------------------------------------


def test_errors_name_the_argument_and_what_is_allowed(tmp_path, results_dir):
    with pytest.raises(UsageError, match=r"--asv-results .*no such folder.*results_dir"):
        reader.load(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match=r"--asv-results .*no asv results found"):
        reader.load(tmp_path / "empty")
    with pytest.raises(UsageError, match=r"--machine 'other': no results for it .*machines: tiny"):
        reader.load(results_dir, "other")
    write_results(results_dir, OLD, OLD_DATE, machine={**MACHINE, "machine": "second"})
    with pytest.raises(UsageError, match=r"--machine: .*several machines; choose one of second, tiny"):
        reader.load(results_dir)
    assert reader.load(results_dir, "tiny").source.commit == OLD
    # Where one of several machines is this host as asv names it, that one is asv's default too.
    here = Machine.get_unique_machine_name()
    write_results(results_dir, OLD, OLD_DATE, machine={**MACHINE, "machine": here})
    assert reader.load(results_dir).source.machine_name == here

    only_skips = tmp_path / "skips"
    write_results(only_skips, NEW, NEW_DATE, nothing=True)
    with pytest.raises(UsageError, match=r"no commit has a measured result for machine 'tiny'"):
        reader.load(only_skips)
    not_json = tmp_path / "results.json"
    not_json.write_text("{}")
    with pytest.raises(UsageError, match=r"^--json: .*not a jitpi results file"):
        page.write_page(results_dir, tmp_path / "out", sweep_json=not_json, machine="tiny")


def test_the_command_writes_the_page_or_says_what_is_wrong(tmp_path, results_dir, capsys):
    from jitpi.cli import main

    assert main(["page", "--asv-results", str(tmp_path / "missing"), "--out", str(tmp_path / "out")]) == 2
    assert "--asv-results" in capsys.readouterr().err
    assert main(["page", "--asv-results", str(results_dir), "--out", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "out" / "index.html")


def test_the_page_has_every_backends_series_and_says_where_the_numbers_come_from(tmp_path, results_dir):
    text = page.write_page(results_dir, tmp_path / "out").read_text()
    for backend, variant in [
        ("numpy", "native"),
        ("numba", "native"),
        ("numba", "shared"),
        ("python", "native"),
    ]:
        assert f'<g id="throughput-{backend}-{variant}-cpu">' in text
    for backend in RAN:
        assert f'<g id="precision-warm-{backend}-cpu">' in text
        assert f'<g id="precision-cold-{backend}-cpu">' in text
    assert "throughput-python-shared" not in text  # skipped: no series
    assert f"commit {OLD[:8]}" in text and f"{NEW[:8]} measured nothing" in text
    assert "Test CPU @ 1.00GHz" in text and "numba 0.68.1" in text and "numpy 2.4.6" in text
    assert text.count("Source: asv results") == 3
    assert '<section id="releases"' not in text  # no release environment measured
    assert "<?xml" not in text and "<metadata>" not in text  # inlined: no prolog, no RDF block


# --- the front page's link ----------------------------------------------------------------------


def test_asv_site_links_the_page_from_asvs_navigation_bar_once(tmp_path):
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import asv_site
    finally:
        sys.path.remove(str(ROOT / "tools"))
    www = Path(asv_results.__file__).parent / "www" / "index.html"
    index = tmp_path / "index.html"
    shutil.copy(www, index)
    assert asv_site.link_jitpi_page(tmp_path) is True
    assert asv_site.link_jitpi_page(tmp_path) is False
    text = index.read_text()
    assert text.count('href="jitpi/index.html"') == 1
    nav = text[text.index('<nav id="nav"') : text.index("</nav>")]
    assert 'id="nav-li-jitpi"' in nav


# --- in a real browser --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    """asv publish of the tiny results in a throwaway repository, tools/asv_site.py, then the page."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = tmp_path_factory.mktemp("published")
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commits = []
    for message in ("first", "second"):
        git(repo, "commit", "-q", "--allow-empty", "-m", message)
        commits.append((git(repo, "rev-parse", "HEAD"), int(git(repo, "log", "-1", "--format=%ct")) * 1000))
    results = repo / ".asv" / "results"
    write_results(results, *commits[0], yardstick=YARDSTICK)
    write_results(results, *commits[1], names=(grid.TIME,), nothing=True)
    conf = {
        "version": 1,
        "project": "jitpi",
        "repo": ".",
        "branches": ["main"],
        "environment_type": "existing",
        "results_dir": ".asv/results",
        "html_dir": ".asv/html",
    }
    (repo / "asv.conf.json").write_text(json.dumps(conf))
    done = subprocess.run(
        [sys.executable, "-m", "asv", "publish"], cwd=repo, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    html = repo / ".asv" / "html"
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "asv_site.py"), str(html)], capture_output=True, text=True
    )
    assert done.returncode == 0 and "jitpi/index.html" in done.stdout, done.stdout + done.stderr
    if "served from" not in done.stdout:
        pytest.skip(f"asv's JavaScript could not be vendored (npm): {done.stderr.strip()}")
    done = subprocess.run(
        [sys.executable, "-m", "jitpi", "page", "--asv-results", str(results), "--out", str(html / "jitpi")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return html


@pytest.fixture(scope="module")
def server(published):
    with serve(published) as address:
        yield address


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


SERIES = """() => {
    const groups = {};
    for (const figure of document.querySelectorAll('figure svg')) {
        for (const g of figure.querySelectorAll('g[id^="throughput-"], g[id^="precision-"]')) {
            if (g.id.includes('-iqr-')) continue;
            const path = g.querySelector('path');
            groups[g.id] = {
                markers: g.querySelectorAll('use').length,
                length: path ? path.getTotalLength() : 0,
                visible: g.getBoundingClientRect().width > 0,
            };
        }
    }
    const ids = [...document.querySelectorAll('[id]')].map(e => e.id);
    const rows = [...document.querySelectorAll('#leaderboard-table tbody tr')].map(tr => ({
        backend: tr.cells[1].textContent.trim(), status: tr.cells[tr.cells.length - 1].textContent.trim()}));
    return {groups, duplicates: ids.filter((id, i) => ids.indexOf(id) !== i), rows,
            charts: document.querySelectorAll('figure svg').length};
}"""


@pytest.mark.slow
def test_the_front_page_links_to_a_page_whose_charts_show_every_backend_that_ran(server, browser):
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(f"console: {message.text}"))
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    page.on("requestfailed", lambda request: errors.append(f"request failed: {request.url}"))
    page.on(
        "response",
        lambda response: response.status >= 400 and errors.append(f"{response.status}: {response.url}"),
    )
    outside: list[str] = []
    page.on("request", lambda request: request.url.startswith(server) or outside.append(request.url))

    page.goto(f"{server}/index.html", wait_until="networkidle")
    link = page.locator("#nav-li-jitpi a")
    assert link.is_visible()
    link.click()
    page.wait_for_url(f"{server}/jitpi/index.html")
    page.wait_for_load_state("networkidle")
    found = page.evaluate(SERIES)
    page.hover("#leaderboard-table tbody tr:first-child")  # the highlight script runs without an error
    ARTIFACTS.mkdir(exist_ok=True)
    page.mouse.move(0, 0)
    page.screenshot(path=str(ARTIFACTS / "jitpi-site-page.png"), full_page=True)
    page.close()

    assert not errors, errors
    assert not outside, f"the page loaded from outside its own server: {outside}"
    assert found["charts"] == 2 and not found["duplicates"], found
    groups = found["groups"]
    for backend, variant, points in [
        ("numpy", "native", 2),
        ("numba", "native", 2),
        ("numba", "shared", 1),
        ("python", "native", 1),
    ]:
        series = groups[f"throughput-{backend}-{variant}-cpu"]
        assert series["markers"] == points and series["visible"], (backend, variant, series)
    for backend in RAN:
        for kind in ("cold", "warm"):
            series = groups[f"precision-{kind}-{backend}-cpu"]
            assert series["length"] > 50 and series["visible"], (backend, kind, series)
    ran = {row["backend"] for row in found["rows"] if row["status"].startswith("measured")}
    assert ran == RAN
