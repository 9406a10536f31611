"""tools/bench.py, the runner behind ``make bench``: how it reads asv 0.6.6's output, on real output.

One group of tests runs tools/bench.py on a real asv run of a tiny suite (a throwaway repository
from asv_helpers, the development environment through ``--python=same``: no environment is built;
about 20 s); the others feed it output asv printed for the project's own suite, recorded once.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
from asv_helpers import ROOT, asv_environ, commit_all, have_tools, light_config, make_repo, suite_importable

RUNNER = ROOT / "tools" / "bench.py"


def load_runner():
    spec = importlib.util.spec_from_file_location("jitpi_bench_runner", RUNNER)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


bench = load_runner()

# ---------------------------------------------------------------------------------------------
# A real asv run of a tiny suite

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

    @skip_for_params([("a", "gpu")])  # n/a with no message: only asv's table tells it from a result
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
# Kinds a to c of the grid (6 of its 8 combinations: (d, *) stay unselected) and both tracks.
SELECT = ["-b", r"Grid\.time_grid\('[abc]'", "-b", r"\.track_"]
# One sample a combination; time_grid keeps its default 2 rounds, so both of asv's ways of
# running a round (quiet, then reported) are read.
FAST = ["-a", "repeat=1", "-a", "number=1", "-a", "warmup_time=0"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    reason = have_tools()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("bench-runner")
    repo = make_repo(root / "repo", light_config(benchmark_dir="tiny"))
    (repo / "tiny").mkdir()
    (repo / "tiny" / "__init__.py").write_text("", encoding="utf-8")
    (repo / "tiny" / "bench_tiny.py").write_text(TINY_SUITE, encoding="utf-8")
    commit_all(repo, "a tiny suite")
    done = subprocess.run(
        [sys.executable, str(RUNNER), "--", "--python=same", *FAST, *SELECT],
        cwd=repo,
        env=asv_environ(root / "home"),
        capture_output=True,
        text=True,
        timeout=240,
    )
    return repo, done


def test_exit_status_is_asvs(tiny_run):
    _, done = tiny_run
    assert done.returncode == 2, done.stdout + done.stderr  # asv run: 2 when a benchmark failed


def test_terminal_gets_plain_short_lines_and_the_log_gets_everything(tiny_run):
    repo, done = tiny_run
    out = done.stdout
    assert "\x1b" not in out, out  # not a terminal: no control characters
    assert "asv: skipped:" not in out and "Traceback" not in out and "Running (" not in out, out
    assert len(out.splitlines()) < 30, out
    log = (repo / ".asv" / "bench.log").read_text(encoding="utf-8")
    assert "asv: skipped: SkipNotImplemented('no GPU for b on this machine')" in log
    assert "Traceback (most recent call last)" in log and "Running 3 total benchmarks" in log


def test_names_each_benchmark_with_its_selection_and_round(tiny_run):
    _, done = tiny_run
    out = done.stdout
    assert "round 1/2, benchmark 1/1: bench_tiny.Grid.time_grid (6 of 8 combinations)" in out, out
    assert "round 2/2, benchmark 1/3: bench_tiny.Grid.time_grid (6 of 8 combinations)" in out, out
    assert "round 2/2, benchmark 3/3: bench_tiny.track_fails" in out, out


def test_failures_come_with_the_exception_and_the_log_line(tiny_run):
    repo, done = tiny_run
    out = done.stdout
    log = (repo / ".asv" / "bench.log").read_text(encoding="utf-8").splitlines()
    grid = re.search(
        r"FAILED bench_tiny\.Grid\.time_grid\('c', 'cpu'\): RuntimeError: kind c counts wrong"
        r"  \[\.asv/bench\.log:(\d+)\]",
        out,
    )
    assert grid, out
    assert log[int(grid[1]) - 1].strip() == "For parameters: 'c', 'cpu'"
    plain = re.search(
        r"FAILED bench_tiny\.track_fails: ValueError: a plain failure  \[\.asv/bench\.log:(\d+)\]", out
    )
    assert plain, out
    assert "Traceback" in log[int(plain[1]) - 1]
    # Reported as its benchmark finishes, before the next one is announced.
    assert out.index("FAILED bench_tiny.Grid.time_grid") < out.index("benchmark 2/3"), out


def test_summary_counts_and_groups_the_skips(tiny_run):
    repo, done = tiny_run
    out = done.stdout
    assert "3 benchmarks, 8 combinations: 2 measured, 2 failed, 4 skipped." in out, out
    assert re.search(r"^ +2  no GPU for … on this machine$", out, re.M), out
    assert re.search(r"^ +1  needs a device this machine lacks$", out, re.M), out
    assert re.search(r"^ +1  no reason given", out, re.M), out
    skipped = (repo / ".asv" / "skipped.txt").read_text(encoding="utf-8")
    assert "bench_tiny.Grid.time_grid('b', 'gpu'): no GPU for b on this machine" in skipped
    assert "bench_tiny.Grid.time_grid('c', 'gpu'): no GPU for c on this machine" in skipped
    assert "bench_tiny.Grid.time_grid('a', 'gpu'): no reason given" in skipped
    assert "bench_tiny.Single.track_skips: needs a device this machine lacks" in skipped
    assert "'d'" not in skipped  # unselected combinations are not skips


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="asv's processes are read from /proc")
def test_each_combination_is_timed_for_the_next_estimate(tiny_run):
    import json

    repo, _ = tiny_run
    times = json.loads((repo / ".asv" / "bench-times.json").read_text(encoding="utf-8"))
    (mode,) = times
    assert mode.startswith("full")
    assert set(times[mode]) >= {"bench_tiny.Grid.time_grid('a', 'cpu')", "bench_tiny.track_fails"}


# ---------------------------------------------------------------------------------------------
# Output recorded from the project's suite

# `asv run --python=same --quick -e -b "bench_accuracy.*'(numpy|python)'"` (asv 0.6.6, 80 columns),
# trailing blanks stripped; the table's rows for the ten other backends (unselected, n/a) are
# cut, and the benchmark below has those two backends only, as the table now does.
CPU_BOUND = (
    "16 calls at n=1e+06 is beyond the suite's CPU bound for python (shared), "
    "4e+06 samples (jitpi.registry's cpu_max_n)"
)
RECORDED = """
· Discovering benchmarks
· Running 1 total benchmarks (1 commits * 1 environments * 1 benchmarks)
[ 0.00%] ·· Benchmarking existing-py_work_main_.venv_bin_python
[100.00%] ··· bench_accuracy.Accuracy.track_rms_z                             ok
[100.00%] ··· ============ ========= ======== ===== ====================
                backend     variant   device    n
              ------------ --------- -------- ----- --------------------
                 python      naive     cpu     1e5   0.8473812272373332
                 python      naive     cpu     1e6   1.1677370616231673
                 python      naive     gpu     1e5          n/a
                 python      naive     gpu     1e6          n/a
                 python      native    cpu     1e5   1.1325110557024627
                 python      native    cpu     1e6   0.8557398236630116
                 python      native    gpu     1e5          n/a
                 python      native    gpu     1e6          n/a
                 python      shared    cpu     1e5   0.9247209438703196
                 python      shared    cpu     1e6          n/a
                 python      shared    gpu     1e5          n/a
                 python      shared    gpu     1e6          n/a
                 numpy       naive     cpu     1e5   0.9687928639315737
                 numpy       naive     cpu     1e6   1.1304437530106997
                 numpy       naive     gpu     1e5          n/a
                 numpy       naive     gpu     1e6          n/a
                 numpy       native    cpu     1e5   0.6685462631752027
                 numpy       native    cpu     1e6   0.7498684904219266
                 numpy       native    gpu     1e5          n/a
                 numpy       native    gpu     1e6          n/a
                 numpy       shared    cpu     1e5   0.9247209438703196
                 numpy       shared    cpu     1e6   1.1879882377304112
                 numpy       shared    gpu     1e5          n/a
                 numpy       shared    gpu     1e6          n/a
              ============ ========= ======== ===== ====================

[100.00%] ···· For parameters: 'python', 'naive', 'gpu', '1e5'
               asv: skipped: SkipNotImplemented('no GPU on this machine')

               For parameters: 'python', 'naive', 'gpu', '1e6'
               asv: skipped: SkipNotImplemented('no GPU on this machine')

               For parameters: 'python', 'native', 'gpu', '1e5'
               asv: skipped: SkipNotImplemented('no GPU on this machine')

               For parameters: 'python', 'native', 'gpu', '1e6'
               asv: skipped: SkipNotImplemented('no GPU on this machine')

               For parameters: 'python', 'shared', 'cpu', '1e6'
               {CPU_BOUND_SKIP}

               For parameters: 'python', 'shared', 'gpu', '1e5'
               asv: skipped: SkipNotImplemented('no GPU on this machine')

               For parameters: 'python', 'shared', 'gpu', '1e6'
               asv: skipped: SkipNotImplemented('no GPU on this machine')

               For parameters: 'numpy', 'naive', 'gpu', '1e5'
               asv: skipped: SkipNotImplemented('no GPU on this machine')

               For parameters: 'numpy', 'naive', 'gpu', '1e6'
               asv: skipped: SkipNotImplemented('no GPU on this machine')

               For parameters: 'numpy', 'native', 'gpu', '1e5'
               asv: skipped: SkipNotImplemented('no GPU on this machine')

               For parameters: 'numpy', 'native', 'gpu', '1e6'
               asv: skipped: SkipNotImplemented('no GPU on this machine')

               For parameters: 'numpy', 'shared', 'gpu', '1e5'
               asv: skipped: SkipNotImplemented('no GPU on this machine')

               For parameters: 'numpy', 'shared', 'gpu', '1e6'
               asv: skipped: SkipNotImplemented('no GPU on this machine')
""".replace("{CPU_BOUND_SKIP}", f'asv: skipped: SkipNotImplemented("{CPU_BOUND}")')


def accuracy_bench():
    params = [
        ["'python'", "'numpy'"],
        ["'naive'", "'native'", "'shared'"],
        ["'cpu'", "'gpu'"],
        ["'1e5'", "'1e6'"],
    ]
    return bench.Bench("bench_accuracy.Accuracy.track_rms_z", params, list(range(24)), 1)


def feed(run, text):
    for number, line in enumerate(text.splitlines(), start=1):
        run.feed(line, number)


@pytest.fixture
def recorded_run(monkeypatch):
    accuracy = accuracy_bench()
    rounds = [[bench.Entry(accuracy, idx, 1) for idx in accuracy.selected]]
    monkeypatch.setattr(bench, "load_suite", lambda args: ({accuracy.name: accuracy}, rounds, False))
    return bench.Run(["--quick"], {})


def test_recorded_output_gives_every_combination_its_outcome(recorded_run):
    run = recorded_run
    feed(run, RECORDED.strip("\n"))
    run.close()
    outcomes = {outcome.key: outcome for outcome in run.outcomes}
    assert len(outcomes) == 24
    assert bench.counts(run.outcomes) == {"measured": 11, "skipped": 13}
    first = outcomes["bench_accuracy.Accuracy.track_rms_z('python', 'naive', 'cpu', '1e5')"]
    assert (first.status, first.detail) == ("measured", "0.8473812272373332")
    bound = outcomes["bench_accuracy.Accuracy.track_rms_z('python', 'shared', 'cpu', '1e6')"]
    assert (bound.status, bound.detail) == ("skipped", CPU_BOUND)
    gpu = outcomes["bench_accuracy.Accuracy.track_rms_z('numpy', 'native', 'gpu', '1e6')"]
    assert (gpu.status, gpu.detail) == ("skipped", "no GPU on this machine")
    groups = bench.reason_groups([outcome for outcome in run.outcomes if outcome.status == "skipped"])
    assert [(label, len(members)) for label, members in groups] == [
        ("no GPU on this machine", 12),
        (CPU_BOUND, 1),
    ]


def test_a_benchmark_is_reported_as_soon_as_the_next_one_begins(recorded_run):
    """asv prints the next benchmark's name and nothing more until it ends: that half line is enough."""
    run = recorded_run
    feed(run, RECORDED.strip("\n"))
    assert run.outcomes == []  # the skip messages might go on
    run.partial("[100.00%] ··· bench_cold.ColdStart.timeraw_first_call")
    assert len(run.outcomes) == 24


def test_time_left_comes_from_the_last_run_of_the_same_kind(monkeypatch):
    accuracy = accuracy_bench()
    rounds = [[bench.Entry(accuracy, idx, 1) for idx in accuracy.selected]]
    monkeypatch.setattr(bench, "load_suite", lambda args: ({accuracy.name: accuracy}, rounds, False))
    history = {accuracy.key(idx): 2.0 for idx in accuracy.selected}
    for known, expect_rough in ((history, False), ({}, True)):
        run = bench.Run(["--quick"], known)
        feed(run, "\n".join(RECORDED.strip("\n").splitlines()[:3]))  # up to "Benchmarking ..."
        run.partial("[100.00%] ··· bench_accuracy.Accuracy.track_rms_z")  # what asv prints next
        run.process_started(accuracy.name, 0, "run")
        run.process_ended(accuracy.name, 0, "run")
        run.process_started(accuracy.name, 1, "run")
        status = run.status()
        assert (status["done"], status["total"], status["in_block"]) == (1, 24, 1)
        seconds, rough = status["eta"]
        assert rough is expect_rough
        if not rough:
            assert 45 <= seconds <= 46  # 22 combinations to come at 2 s, and the one running now
    assert bench.history_mode(["--quick", "-b", "numpy"]) == "quick"
    assert bench.history_mode(["-a", "repeat=1", "HEAD^!"]) == "full repeat=1"


def test_a_phase_is_announced_while_its_line_is_unfinished():
    """asv ends "· Creating environments" only when the next message begins, minutes later."""
    run = bench.Run([], {})
    run.partial("· Creating environments")
    assert run.events == [("phase", "Creating environments")]
    run.feed("· Creating environments", 1)
    run.partial("· Discovering benchmarks")
    assert run.events[1:] == [("phase", "Discovering benchmarks")]
    run.feed("· Discovering benchmarks", 2)
    run.partial("[ 12.50%] ··· Running (bench_time.CountHits.time_count_hits--).")
    assert len(run.events) == 2  # a round's progress is not a phase


def test_what_asv_waits_for_is_named():
    assert bench.describe_process(["/e/bin/python", "-m", "pip", "install", "-v", "torch==2.13.0"]) == (
        "pip install torch==2.13.0"
    )
    assert bench.describe_process(["/e/bin/python", "/x/asv/benchmark.py", "discover", "/b", "/tmp/r"]) == (
        "importing the suite to discover its benchmarks"
    )
    assert bench.describe_process(["/e/bin/python", "/x/asv/benchmark.py", "run", "/b", "m.f-1", "{}"]) == ""


def test_skip_reasons_group_across_backends_and_sizes():
    reasons = [
        (
            ["python", "native", "cpu", "1e9"],
            "n=1e+09 is beyond the suite's CPU bound for python (native), "
            "1e+07 samples (jitpi.registry's cpu_max_n)",
        ),
        (
            ["numpy", "shared", "cpu", "1e9"],
            "n=1e+09 is beyond the suite's CPU bound for numpy (shared), "
            "1e+08 samples (jitpi.registry's cpu_max_n)",
        ),
        (["numba", "naive", "gpu", "1e5"], "no GPU on this machine"),
    ]
    skips = [
        bench.Outcome("b", f"b{i}", "skipped", reason, None, values)
        for i, (values, reason) in enumerate(reasons)
    ]
    groups = bench.reason_groups(skips)
    assert [(label, len(members)) for label, members in groups] == [
        ("n=1e+09 is beyond the suite's CPU bound for … (…), … samples (jitpi.registry's cpu_max_n)", 2),
        ("no GPU on this machine", 1),
    ]


def test_arguments_after_the_separator_go_to_asv_run_with_show_stderr():
    own, asv_args = bench.parse_args(["--log", "x.log", "--", "-b", "numpy", "--quick", "HEAD^!"])
    assert own.log == Path("x.log")
    assert asv_args == ["--show-stderr", "-b", "numpy", "--quick", "HEAD^!"]
    _, asv_args = bench.parse_args(["--", "-e", "HEAD^!"])
    assert asv_args == ["-e", "HEAD^!"]


def test_make_bench_runs_the_runner_with_bench_args():
    recipe = re.search(r"^bench:.*?(?=^\S)", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M | re.S)
    assert recipe, "the Makefile has no bench target"
    assert "tools/bench.py" in recipe[0] and "$(BENCH_ARGS)" in recipe[0], recipe[0]


def test_forked_processes_are_named_as_the_runner_reads_them():
    """Under asv's forkserver the suite names each process; the runner reads the class back from
    the name's tag, so every class of the suite needs a tag of its own."""
    with suite_importable():
        from test_asv_suite import _suite_classes

        from benchmarks.common import process_name
    tags = {}
    for module, cls in _suite_classes():
        name = process_name(cls.__name__, 287)
        match = bench.FORKED_COMBINATION.match(name)
        assert len(name) <= 15 and match and match["idx"] == "287", name
        assert bench.class_tag(f"{module.__name__.split('.')[-1]}.{cls.__name__}.time_it") == match["tag"]
        tags.setdefault(match["tag"], []).append(cls.__name__)
    assert all(len(names) == 1 for names in tags.values()), tags


def test_the_yardstick_is_the_suites_unparametrised_yardstick_benchmark():
    """The summary's yardstick is benchmarks/bench_yardstick.py's one benchmark, as asv names it
    (not parametrised: its bare name), so that any run that does not deselect it prints it."""
    with suite_importable():
        from benchmarks.bench_yardstick import Yardstick
    assert not getattr(Yardstick, "params", None)
    single = bench.Bench(f"bench_yardstick.{Yardstick.__name__}.time_quarter_circle", [], [None], 2)
    assert hasattr(Yardstick, single.name.rsplit(".", 1)[-1])
    assert single.key(None) == bench.YARDSTICK


YARDSTICK_RUN = """
· Discovering benchmarks
· Running 1 total benchmarks (1 commits * 1 environments * 1 benchmarks)
[ 0.00%] ·· Benchmarking existing-py_work_main_.venv_bin_python
[50.00%] ··· Running (bench_yardstick.Yardstick.time_quarter_circle--).
[100.00%] ··· bench_yardstick.Yardstick.time_quarter_circle                                   233±30ms
"""
"""`asv run --python=same -b Yardstick` (asv 0.6.6, through tools/bench.py), trailing blanks cut."""


def test_the_yardstick_read_from_asvs_output_ends_the_summary(monkeypatch):
    single = bench.Bench(bench.YARDSTICK, [], [None], 2)
    rounds = [[bench.Entry(single, None, 2)], [bench.Entry(single, None, 1)]]
    monkeypatch.setattr(bench, "load_suite", lambda args: ({single.name: single}, rounds, False))
    run = bench.Run([], {})
    feed(run, YARDSTICK_RUN.strip("\n"))
    run.close()
    assert [(o.key, o.status, o.detail) for o in run.outcomes] == [(bench.YARDSTICK, "measured", "233±30ms")]
    (line,) = bench.yardstick_lines(run.outcomes)
    assert "233±30ms a call" in line and bench.YARDSTICK in line and "no jitpi commit changes" in line


def test_the_summary_gives_the_yardstick_only_where_the_run_measured_it():
    measured = bench.Outcome(bench.YARDSTICK, bench.YARDSTICK, "measured", "213±2ms")
    line = bench.yardstick_lines([measured])
    assert len(line) == 1 and "213±2ms a call" in line[0] and bench.YARDSTICK in line[0]
    failed = bench.Outcome(bench.YARDSTICK, bench.YARDSTICK, "failed", "MemoryError")
    other = bench.Outcome(
        "bench_time.CountHits.time_count_hits",
        "bench_time.CountHits.time_count_hits('numba', 'shared', 'cpu', '1e9')",
        "measured",
        "603±2ms",
    )
    assert bench.yardstick_lines([failed, other]) == []
    # A run of several commits measures it once each.
    again = bench.Outcome(bench.YARDSTICK, bench.YARDSTICK, "measured", "221±3ms")
    assert "213±2ms, 221±3ms a call" in bench.yardstick_lines([measured, other, again])[0]
