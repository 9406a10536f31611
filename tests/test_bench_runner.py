"""tools/bench.py (the runner behind ``make bench``) and tools/suite_costs.py (the costs table).

One group runs tools/bench.py as ``make bench`` does, as a subprocess, on real asv runs of a tiny
suite (a throwaway repository from asv_helpers, the development environment through
``--python=same``: no environment is built; a few seconds each), and checks what a user relies
on: asv's exit status, the log, the counts against asv's results file, the skip reasons, the
yardstick, plain lines in a pipe. Another checks the one line format of asv's console the runner
reads (documented in its docstring), on lines asv 0.6.6 printed. The last regenerates the costs
table from a results file and checks it against the raw JSON. Nothing depends on how fast it runs.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from asv_helpers import ROOT, asv_environ, commit_all, have_tools, light_config, make_repo

from jitpi.suite.grid import BACKENDS, DEVICES, N_GRID, TIME, VARIANTS, YARDSTICK
from jitpi.view import format as fmt

RUNNER = ROOT / "tools" / "bench.py"
COSTS = ROOT / "tools" / "suite_costs.py"


def load(path: Path, name: str):
    sys.path.insert(0, str(path.parent))  # suite_costs imports bench from its folder
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


bench = load(RUNNER, "jitpi_bench_runner")
suite_costs = load(COSTS, "jitpi_suite_costs")

# ---------------------------------------------------------------------------------------------
# Real asv runs of a tiny suite

TINY_SUITE = """
from asv_runner.benchmarks.mark import SkipNotImplemented, skip_for_params


class Grid:
    params = (["a", "b", "c", "d"], ["cpu", "gpu"])
    param_names = ("kind", "device")

    def setup(self, kind, device):
        if device == "gpu":
            raise SkipNotImplemented(f"no GPU for {kind} on this machine")
        if kind == "c":
            raise RuntimeError(f"kind {kind} counts wrong")

    @skip_for_params([("a", "gpu")])  # NaN with no reason printed
    def time_grid(self, kind, device):
        sum(range(100))


class Single:
    def setup(self):
        raise SkipNotImplemented("needs a device this machine lacks")

    def track_skips(self):
        return 1.0


def track_fails():
    raise ValueError("a plain failure")
"""
# The yardstick under the suite's name for it: module, class and method from the grid's name.
YARDSTICK_MODULE, YARDSTICK_CLASS, YARDSTICK_METHOD = YARDSTICK.split(".")
YARDSTICK_SUITE = f"""
class {YARDSTICK_CLASS}:
    def {YARDSTICK_METHOD}(self):
        sum(range(1000))
"""
GRID = "bench_tiny.Grid.time_grid"
# Kinds a to c of the grid (6 of its 8 combinations: (d, *) stay unselected) and both tracks.
SELECT = ["-b", r"Grid\.time_grid\('[abc]'", "-b", r"\.track_"]
# One sample a combination; time_grid keeps asv's default 2 rounds.
FAST = ["-a", "repeat=1", "-a", "number=1", "-a", "warmup_time=0"]


def runner(repo: Path, environ: dict, *args: str) -> subprocess.CompletedProcess:
    """tools/bench.py as ``make bench`` runs it, its output a pipe."""
    return subprocess.run(
        [sys.executable, str(RUNNER), *args],
        cwd=repo,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Three runs: the tiny suite saved (a failure: exit 2), the yardstick alone saved (exit 0),
    and the whole selection with --quick (asv saves nothing)."""
    reason = have_tools()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("bench-runner")
    repo = make_repo(root / "repo", light_config(benchmark_dir="tiny"))
    (repo / "tiny").mkdir()
    (repo / "tiny" / "__init__.py").write_text("", encoding="utf-8")
    (repo / "tiny" / "bench_tiny.py").write_text(TINY_SUITE, encoding="utf-8")
    (repo / "tiny" / f"{YARDSTICK_MODULE}.py").write_text(YARDSTICK_SUITE, encoding="utf-8")
    sha = commit_all(repo, "a tiny suite")
    environ = asv_environ(root / "home")
    saved = ["--python=same", "--set-commit-hash", sha, *FAST]
    runs = {  # each with a log and a list of skips of its own
        "suite": runner(repo, environ, "--", *saved, *SELECT),
        "yardstick": runner(
            repo, environ, "--no-machine", "--log", "y.log", "--", *saved, "-b", re.escape(YARDSTICK)
        ),
        "quick": runner(
            repo,
            environ,
            *("--no-machine", "--log", "quick.log", "--skipped", "quick-skipped.txt"),
            *("--", "--python=same", "--quick", *SELECT),
        ),
    }
    (results,) = (repo / ".asv" / "results").glob(f"*/{sha[:8]}-*.json")
    return repo, runs, json.loads(results.read_text(encoding="utf-8"))


def test_exit_status_is_asvs(tiny):
    _, runs, _ = tiny
    assert runs["suite"].returncode == 2, runs["suite"].stdout  # asv run: 2 when a benchmark failed
    assert runs["yardstick"].returncode == 0, runs["yardstick"].stdout
    assert runs["quick"].returncode == 2, runs["quick"].stdout


def raw_counts(raw: dict, name: str, indices: list[int] | None = None) -> dict[str, int]:
    """measured / failed / skipped from asv's JSON itself: a number, null, NaN."""
    row = dict(zip(raw["result_columns"], raw["results"][name], strict=False))
    values = row["result"]
    if values is None:  # asv writes null for "every combination failed"
        values = [None] * math.prod(len(values) for values in row["params"])
    values = values if indices is None else [values[i] for i in indices]
    return {
        "measured": sum(v is not None and not math.isnan(v) for v in values),
        "failed": sum(v is None for v in values),
        "skipped": sum(v is not None and math.isnan(v) for v in values),
    }


def test_the_summary_counts_what_asv_recorded(tiny):
    _, runs, raw = tiny
    out = runs["suite"].stdout
    selected = {GRID: list(range(6)), "bench_tiny.Single.track_skips": None, "bench_tiny.track_fails": None}
    for name, indices in selected.items():  # the grid's (a|b|c, cpu|gpu): its product's first six
        counts = raw_counts(raw, name, indices)
        said = ", ".join(f"{counts[k]} {k}" for k in ("measured", "failed", "skipped"))
        assert re.search(rf"^  {re.escape(name)}: {said}( \(asv's report: log line \d+\))?$", out, re.M), out
    assert raw_counts(raw, GRID, selected[GRID]) == {"measured": 2, "failed": 1, "skipped": 3}
    assert "Combinations of the 3 benchmarks run: 2 measured, 2 failed, 4 skipped." in out, out
    assert YARDSTICK not in out  # not selected: no yardstick line


def test_every_skip_has_its_reason_once(tiny):
    repo, runs, _ = tiny
    out = runs["suite"].stdout
    log = (repo / ".asv" / "bench.log").read_text(encoding="utf-8")
    # asv prints a failing benchmark's stderr twice (in its table and on its own): counted once.
    assert log.count("asv: skipped: SkipNotImplemented('no GPU for c on this machine')") == 2
    assert "4 skipped, by reason (the most frequent 4):" in out, out
    for reason in ("no GPU for b on this machine", "no GPU for c on this machine", bench.NO_REASON):
        assert re.search(rf"^ +1  {re.escape(reason)}$", out, re.M), out
    skipped = (repo / ".asv" / "skipped.txt").read_text(encoding="utf-8").splitlines()
    assert f"{GRID}      1  no GPU for b on this machine" in skipped
    assert f"{GRID}      1  {bench.NO_REASON}" in skipped
    assert "bench_tiny.Single.track_skips      1  needs a device this machine lacks" in skipped


def test_the_log_holds_asvs_output_and_the_failures_point_into_it(tiny):
    repo, runs, _ = tiny
    log = (repo / ".asv" / "bench.log").read_text(encoding="utf-8").splitlines()
    assert log[0].startswith("# tools/bench.py: asv run --show-stderr --python=same")
    text = "\n".join(log)
    assert "Running 3 total benchmarks" in text and "RuntimeError: kind c counts wrong" in text
    assert "ValueError: a plain failure" in text
    for name in (GRID, "bench_tiny.track_fails"):
        # the same line in the progress and in the summary
        (line_no,) = set(
            re.findall(rf"{re.escape(name)}: .*\(asv's report: log line (\d+)\)", runs["suite"].stdout)
        )
        assert bench.parse_step(log[int(line_no) - 1]).text.startswith(name), log[int(line_no) - 1]


def test_a_pipe_gets_plain_timestamped_lines(tiny):
    _, runs, _ = tiny
    out = runs["suite"].stdout
    assert "\x1b" not in out, out  # no control characters
    progress, _, summary = out.partition("\n\nDone in ")
    assert all(re.match(r"\[\d\d:\d\d:\d\d\] ", line) for line in progress.splitlines()), progress
    assert f"of asv's steps begun: {GRID} (6 of 8 combinations), round 2 of 2" in progress
    assert "✗ bench_tiny.track_fails: failed" in progress
    assert "Traceback" not in out and "asv: skipped:" not in out
    assert re.match(r"\S+ \S+, asv exit status 2\.\n", summary), summary


def test_the_yardstick_line_appears_when_it_ran(tiny):
    _, runs, raw = tiny
    out = runs["yardstick"].stdout
    (value,) = dict(zip(raw["result_columns"], raw["results"][YARDSTICK], strict=False))["result"]
    assert f"Yardstick {YARDSTICK}: {fmt.seconds(value)} a call (" in out, out
    assert "Combinations of the 1 benchmarks run: 1 measured, 0 failed, 0 skipped." in out, out


def test_without_saved_results_the_statuses_and_reasons_still_come(tiny):
    repo, runs, _ = tiny
    out = runs["quick"].stdout
    assert "asv saved no results (--quick" in out, out
    assert f"  {GRID}: 1/8 failed (asv's report: log line" in out, out
    assert "  bench_tiny.Single.track_skips: n/a" in out
    assert re.search(r"^ +1  needs a device this machine lacks$", out, re.M), out
    assert (repo / "quick.log").exists()  # --log


def test_the_costs_table_of_a_real_run_matches_its_json(tiny, tmp_path):
    repo, _, raw = tiny
    (path,) = (repo / ".asv" / "results").glob("*/*-*.json")
    rows = table_rows(suite_costs.cost_table(path))
    for name in raw["results"]:
        counts = raw_counts(raw, name)
        assert rows[name][:3] == (counts["measured"], counts["skipped"], counts["failed"]), name


def test_the_time_left_comes_from_the_fullest_earlier_run(tiny):
    repo, _, raw = tiny
    seconds = dict(zip(raw["result_columns"], raw["results"][GRID], strict=False))["duration"]
    ran = 3  # (a|b|c, cpu): two measured, one failed; the rest NaN
    for indices, share in (([0, 1, 2, 3, 4, 5], 3 / ran), ([2], 1 / ran), ([1, 3], 0)):
        selection = {GRID: bench.Selected(size=8, indices=indices, rounds=1, round_share=0.5)}
        expected = bench.history(repo / ".asv" / "results", selection)
        assert expected == ({GRID: pytest.approx(seconds * share * 0.5)} if share else {}), indices


# ---------------------------------------------------------------------------------------------
# The step line: asv 0.6.6's console, as printed in the runs above

PADDING = " " * 40


@pytest.mark.parametrize(
    ("line", "step", "found"),
    [
        (f"[12.50%] ··· Running ({TIME}--)..", (12.5, 3, f"Running ({TIME}--).."), (TIME, False, None)),
        (f"[ 5.00%] ··· Running ({TIME}--)", (5.0, 3, f"Running ({TIME}--)"), (TIME, False, None)),
        (f"[62.50%] ··· {TIME}", (62.5, 3, TIME), (TIME, True, None)),  # the last round, running
        (
            f"[62.50%] ··· {TIME}{PADDING}1/8 failed",
            (62.5, 3, f"{TIME}{PADDING}1/8 failed"),
            (TIME, True, "1/8 failed"),
        ),
        (
            f"[100.00%] ··· {YARDSTICK}{PADDING}233±30ms  ",
            (100.0, 3, f"{YARDSTICK}{PADDING}233±30ms"),
            (YARDSTICK, True, "233±30ms"),
        ),
        (f"[75.00%] ··· {TIME}{PADDING}n/a\n", (75.0, 3, f"{TIME}{PADDING}n/a"), (TIME, True, "n/a")),
        (
            "[ 0.00%] ·· Benchmarking existing-py_venv_bin_python",
            (0.0, 2, "Benchmarking existing-py_venv_bin_python"),
            None,
        ),
        ("[62.50%] ··· ====== ============ =====", (62.5, 3, "====== ============ ====="), None),
        ("· Discovering benchmarks", None, None),  # before the run has a total: no percentage
        ("               asv: skipped: SkipNotImplemented('x')", None, None),  # a continuation line
        ("[62.50%] ···· For parameters: 'b', 'gpu'", (62.5, 4, "For parameters: 'b', 'gpu'"), None),
    ],
)
def test_the_step_line(line, step, found):
    parsed = bench.parse_step(line)
    assert (tuple(parsed) if parsed else None) == step
    assert bench.Run([]).benchmark(parsed) == found


def test_a_line_deeper_than_its_benchmark_is_never_a_benchmark():
    run = bench.Run([], say=lambda text: None)
    run.stepping = True  # no asv here to read the selection from
    run.feed(f"[62.50%] ··· {TIME}{PADDING}ok", 10)
    assert run.benchmark(bench.parse_step(f"[62.50%] ···· {YARDSTICK} warned")) is None
    assert run.benchmark(bench.parse_step(f"[75.00%] ··· {YARDSTICK}")) == (YARDSTICK, True, None)


RECORDED = f"""\
[ 0.00%] ·· Benchmarking existing-py_work_main_.venv_bin_python
[12.50%] ··· Running ({GRID}--)..
[62.50%] ··· {GRID}{PADDING}1/8 failed
[62.50%] ··· ====== ============ =====
             ====== ============ =====
               c       failed     n/a
             ====== ============ =====
             For parameters: 'b', 'gpu'
             asv: skipped: SkipNotImplemented('no GPU for b on this machine')

             For parameters: 'c', 'cpu'
             RuntimeError: kind c counts wrong

[62.50%] ···· For parameters: 'b', 'gpu'
              asv: skipped: SkipNotImplemented('no GPU for b on this machine')

              For parameters: 'c', 'cpu'
              RuntimeError: kind c counts wrong
              asv: benchmark failed (exit status 1)

[75.00%] ··· bench_tiny.Single.track_skips{PADDING}n/a
[75.00%] ···· asv: skipped: SkipNotImplemented("needs a device this machine lacks")
[100.00%] ··· {YARDSTICK}{PADDING}16.1±2μs
"""
"""Cut from the tiny suite's run above (asv 0.6.6, tools/bench.py's COLUMNS): the skip of (b, gpu)
is printed twice, in the failing benchmark's table and in its stderr message."""


def test_recorded_output_gives_statuses_and_each_reason_once():
    shown = []
    run = bench.Run([], say=shown.append)
    run.stepping = True
    for number, line in enumerate(RECORDED.splitlines(), start=1):
        run.feed(line, number)
    assert run.statuses == {
        GRID: ("1/8 failed", 3),
        "bench_tiny.Single.track_skips": ("n/a", 21),
        YARDSTICK: ("16.1±2μs", 23),
    }
    assert run.reasons == {
        GRID: {"no GPU for b on this machine": 1},
        "bench_tiny.Single.track_skips": {"needs a device this machine lacks": 1},
    }
    assert f"✗ {GRID}: 1/8 failed (asv's report: log line 3)" in shown
    assert "asv: Benchmarking existing-py_work_main_.venv_bin_python" in shown


def test_an_unfinished_line_says_what_runs_now():
    shown = []
    run = bench.Run([], say=shown.append)
    run.stepping = True
    run.selection = {TIME: bench.Selected(size=12, indices=[0, 1, 2], rounds=2, round_share=1.0)}
    run.look(bench.parse_step(f"[62.50%] ··· {TIME}"))
    run.look(bench.parse_step(f"[62.50%] ··· {TIME}"))  # said once
    assert shown == [f" 62% of asv's steps begun: {TIME} (3 of 12 combinations), round 2 of 2"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("asv: skipped: SkipNotImplemented('no GPU on this machine') ", "no GPU on this machine"),
        ('   asv: skipped: NotImplementedError("it\'s missing")', "it's missing"),
        ("asv: skipped: SkipNotImplemented()", bench.NO_REASON),
        ("For parameters: 'b', 'gpu'", None),
    ],
)
def test_skip_reasons(text, reason):
    assert bench.skip_reason(text) == reason


def test_reasons_group_across_the_grids_values():
    def bound(backend, variant, n):
        return f"n={n} is beyond the suite's CPU bound for {backend} ({variant}), 1e+07 samples"

    one = bench.MASK.sub("…", bound(BACKENDS[0], VARIANTS[0], N_GRID[-1]))
    assert one == bench.MASK.sub("…", bound(BACKENDS[-1], VARIANTS[-1], N_GRID[0]))
    assert one == "n=… is beyond the suite's CPU bound for … (…), … samples"
    assert bench.MASK.sub("…", f"no {DEVICES[-1]} here") == "no … here"


def test_the_time_left(monkeypatch):
    monkeypatch.setattr(bench.time, "time", lambda: 1000.0)
    run = bench.Run([])
    run.selection = {TIME: None, YARDSTICK: None}
    run.expected, run.finished, run.anchor = {TIME: 300.0, YARDSTICK: 120.0}, {TIME}, 940.0
    assert run.left() == f"about {fmt.duration(60.0)} left"  # 120 s expected, 60 s since TIME ended
    run.anchor = 800.0
    assert run.left() == "over the estimate"
    run.expected, run.started, run.percent = {}, 900.0, 25.0  # no history: asv's percentage
    assert run.left() == f"roughly {fmt.duration(300.0)} left"


def test_arguments_after_the_separator_go_to_asv_run_with_show_stderr():
    own, asv_args = bench.parse_args(["--log", "x.log", "--plain", "--", "-b", "numpy", "--quick", "HEAD^!"])
    assert own.log == Path("x.log") and own.plain
    assert asv_args == ["--show-stderr", "-b", "numpy", "--quick", "HEAD^!"]
    _, asv_args = bench.parse_args(["--", "-e", "HEAD^!"])
    assert asv_args == ["-e", "HEAD^!"]
    own, asv_args = bench.parse_args(["--no-machine", "--quick", "HEAD^!"])  # no separator
    assert own.no_machine and asv_args == ["--show-stderr", "--quick", "HEAD^!"]


def test_make_bench_runs_the_runner_with_bench_args():
    recipe = re.search(r"^bench:.*?(?=^\S)", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M | re.S)
    assert recipe, "the Makefile has no bench target"
    assert "tools/bench.py" in recipe[0] and "$(BENCH_ARGS)" in recipe[0], recipe[0]


def test_the_runner_is_small():
    assert len(RUNNER.read_text(encoding="utf-8").splitlines()) <= 400


# ---------------------------------------------------------------------------------------------
# The costs table, from a results file in asv's format


def fixture_results() -> dict:
    """A results file as asv 0.6.6 writes one (format 2): the time benchmark over a small grid
    (cpu measured, gpu skipped, one failure), a benchmark that failed whole (null), the yardstick."""
    params = [
        [repr(b) for b in BACKENDS[:2]],
        [repr(v) for v in VARIANTS],
        [repr(d) for d in DEVICES],
        [repr(n) for n in N_GRID],
    ]
    values = []
    for i in range(2 * len(VARIANTS) * len(DEVICES) * len(N_GRID)):
        device = DEVICES[(i // len(N_GRID)) % len(DEVICES)]
        values.append(float("nan") if device != DEVICES[0] else None if i == 0 else 0.001 * (i + 1))
    started = 1796700000000  # ms
    return {
        "commit_hash": "0123456789abcdef0123456789abcdef01234567",
        "env_name": "virtualenv-py3.11",
        "date": started - 3600_000,
        "params": {"machine": "vm", "cpu": "AMD EPYC", "num_cpu": "2", "os": "Linux 6.18", "python": "3.11"},
        "python": "3.11",
        "requirements": {},
        "env_vars": {},
        "result_columns": ["result", "params", "version", "started_at", "duration"],
        "results": {
            TIME: [values, params, "1", started + 1000, 456.0],
            "bench_other.Broken.time_it": [None, [["'x'", "'y'"]], "1", started + 500, 3.0],
            YARDSTICK: [[0.49], [], "1", started, 12.0],
        },
        "durations": {"<build>": 30.0, "<setup_cache bench_accuracy:40>": 6.0},
        "version": 2,
    }


def table_rows(table: str) -> dict[str, tuple]:
    rows = re.findall(r"^\| `(.+?)` \| (\d+) \| (\d+) \| (\d+) \| ([\d.]+) \|$", table, re.M)
    return {name: (*map(int, counts), float(minutes)) for name, *counts, minutes in rows}


def test_the_costs_table_matches_the_raw_json(tmp_path):
    raw = fixture_results()
    results = tmp_path / "vm" / "01234567-virtualenv-py3.11.json"
    results.parent.mkdir()
    results.write_text(json.dumps(raw), encoding="utf-8")  # NaN as asv writes it
    readme = tmp_path / "README.md"
    readme.write_text(
        f"# Suite\n\nbefore\n\n{suite_costs.BEGIN}\nold table\n{suite_costs.END}\n\nafter\n", encoding="utf-8"
    )
    done = subprocess.run(
        [sys.executable, str(COSTS), str(results), "--readme", str(readme)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    text = readme.read_text(encoding="utf-8")
    suite_costs.write_costs(readme, results)
    assert readme.read_text(encoding="utf-8") == text  # the command is the function
    assert (
        text.startswith("# Suite\n\nbefore\n\n") and text.endswith("\n\nafter\n") and "old table" not in text
    )
    rows = table_rows(text)
    assert list(rows) == [TIME, YARDSTICK, "bench_other.Broken.time_it"]  # the grid's first
    for name, row in raw["results"].items():
        counts = raw_counts(raw, name)
        assert rows[name] == (counts["measured"], counts["skipped"], counts["failed"], round(row[4] / 60, 1))
    assert rows[TIME][:3] == (17, 18, 1)
    other = sum(raw["durations"].values()) / 60
    assert f"| asv's build and `setup_cache` | | | | {other:.1f} |" in text
    total = sum(row[4] for row in raw["results"].values()) / 60 + other
    assert f"| all | 18 | 18 | 3 | {total:.1f} |" in text
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(raw["results"][YARDSTICK][3] / 1000))
    assert f"Yardstick (`{YARDSTICK}`): {fmt.seconds(0.49)} a call" in text
    assert f"Run of {started}, commit `01234567`, machine `vm` (AMD EPYC, 2, Linux 6.18)" in text


def test_the_suites_readme_has_the_costs_markers():
    text = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    assert text.count(suite_costs.BEGIN) == 1 and text.count(suite_costs.END) == 1
    assert text.index(suite_costs.BEGIN) < text.index(suite_costs.END)
