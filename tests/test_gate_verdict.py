"""The gate's verdict (tools/gate.py), from round values, without asv: what each outcome means for
the exit status, and the statistic that keeps a burst of load from deciding it."""

from __future__ import annotations

import importlib.util
import math
import re
import subprocess
import sys

import pytest
from asv_helpers import ROOT

NAN = math.nan


@pytest.fixture(scope="module")
def gate():
    spec = importlib.util.spec_from_file_location("jitpi_gate", ROOT / "tools" / "gate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def combination(gate, key, base, head, unit="seconds"):
    c = gate.Combination(key, unit)
    c.rounds = {"base": list(base), "head": list(head)}
    return c


def test_each_outcome_and_its_exit_status(gate):
    groups = {
        "regressed": combination(gate, "slower", [1.0, 1.1, 1.0], [2.0, 2.1, 2.0]),
        "improved": combination(gate, "faster", [2.0, 2.0, 2.2], [1.0, 1.0, 1.1]),
        "broken": combination(gate, "broken", [1.0, 1.0, 1.0], [None, None, None]),
        "broken_in_both": combination(gate, "both", [None, None, None], [None, None, None]),
        "no_longer_measured": combination(gate, "gone", [1.0, 1.0, 1.0], [NAN, NAN, NAN]),
        "new": combination(gate, "added", [NAN, NAN, NAN], [1.0, 1.0, 1.0]),
    }
    same = combination(gate, "same", [1.0, 1.02, 0.99], [1.01, 0.98, 1.0])
    verdict = gate.judge([*groups.values(), same], factor=1.3)
    for name, member in groups.items():
        assert getattr(verdict, name) == [member], name
    assert verdict.exit_code == 2  # a benchmark HEAD broke outranks a regression
    verdict.broken.clear()
    assert verdict.exit_code == 1
    verdict.regressed.clear()
    assert verdict.exit_code == 0  # broken in both, gone, new and improved do not fail


def test_a_round_failed_at_head_is_a_failure_not_a_number(gate):
    """One failed round (asv did not reach it, or it crashed) fails the combination: a flaky
    crash is a bug, and a stale value must never stand in for it."""
    flaky = combination(gate, "flaky", [1.0, 1.0, 1.0], [1.0, None, 1.0])
    assert gate.judge([flaky], factor=1.3).broken == [flaky]


def test_a_burst_in_some_rounds_decides_nothing(gate):
    """Load adds time. A burst that slows up to all but one of a commit's rounds (24x: numba's
    parallel region waiting for a descheduled thread) leaves the smallest sample, so unchanged
    code passes and a real 2x slowdown is still caught when the burst hits BASE instead."""
    unchanged = combination(gate, "same", [72e-6, 73e-6, 71e-6], [1.74e-3, 1.7e-3, 72e-6])
    assert gate.judge([unchanged], factor=1.3).exit_code == 0
    slowed = combination(gate, "slowed", [1.74e-3, 72e-6, 1.7e-3], [150e-6, 151e-6, 149e-6])
    verdict = gate.judge([slowed], factor=1.3)
    assert verdict.regressed == [slowed] and slowed.ratio == pytest.approx(149 / 72)


def test_the_table_and_the_record_say_the_same(gate):
    slowed = combination(gate, "bench_time.X('a')", [1e-3, 1.1e-3, 1e-3], [2e-3, 2e-3, 2.2e-3])
    memory = combination(gate, "bench_memory.Y('a')", [300 * 2**20] * 3, [301 * 2**20] * 3, "bytes")
    yardstick = combination(gate, gate.YARDSTICK, [0.2, 0.21, 0.2], [0.21, 0.2, 0.2])
    verdict = gate.judge([slowed, memory], factor=1.3)
    text = gate.markdown("a" * 40, "b" * 40, 1.3, 3, verdict, [slowed, memory], yardstick, "vm", {})
    assert text.startswith("<!-- jitpi-gate -->\n## jitpi gate: 1 regression(s)")
    assert re.search(r"\| \+ \| `bench_time\.X\('a'\)` \| 1 ms \| 2 ms \| 2\.00 \|", text), text
    assert "| 315 MB | 316 MB | 1.00 |" in text  # jitpi.view.format's MB, 10**6 bytes
    assert "Machine yardstick" in text and "ratio 1.00" in text
    # the console's summary is the same sentences as the report's list
    for line in gate.findings(verdict, 1.3, [slowed, memory], yardstick):
        assert f"- {line}.\n" in text
    assert "- REGRESSION bench_time.X('a'): 2.00x (1 ms -> 2 ms), more than 1.3x." in text
    record = gate.record("a" * 40, "b" * 40, 1.3, verdict, [slowed, memory], yardstick)
    assert record["exit"] == 1 and record["yardstick"]["ratio"] == pytest.approx(1.0)
    by_key = {entry["key"]: entry for entry in record["combinations"]}
    assert by_key["bench_time.X('a')"]["verdict"] == "regressed"
    assert by_key["bench_memory.Y('a')"]["verdict"] == "unchanged"


def test_it_imports_jitpi_and_no_framework():
    """The gate job installs asv and jitpi without frameworks (numpy and rich): the gate needs no more."""
    from jitpi.registry import REGISTRY

    # Every backend's modules but numpy's, which the gate's jitpi needs (the plain-Python one has none).
    frameworks = sorted({module for info in REGISTRY.values() for module in info.modules} - {"numpy"})
    code = (
        "import runpy, sys; runpy.run_path('tools/gate.py'); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(sys.argv[1:])))"
    )
    done = subprocess.run([sys.executable, "-c", code, *frameworks], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--factor", "1.0"], "--factor must be above 1"),
        (["--rounds", "1"], "--rounds must be at least 2"),
        (["--bench", "("], "is not a regular expression"),
    ],
)
def test_bad_arguments_are_refused_with_what_is_allowed(arguments, message):
    done = subprocess.run(
        [sys.executable, "tools/gate.py", "main", "HEAD", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and message in done.stderr, done.stderr


def test_the_default_selection_is_the_stated_subset(gate):
    """The gated subset, as asv's -b sees it: the native and shared variants' steady state at 1e5
    and 1e9, the shared variant's cold start, the chunked variants' peak memory at 1e8; no naive
    variant, no 1e7, no accuracy, no GPU."""
    from benchmarks import grid

    def gated(key):
        return any(re.search(regex, key) for regex in gate.GATED)

    chunked = (grid.NATIVE, grid.SHARED)
    for backend in grid.BACKENDS:
        for variant in grid.VARIANTS:
            for n in grid.N_GRID:
                key = grid.key(grid.TIME, backend, variant, "cpu", n)
                assert gated(key) == (variant in chunked and n in ("1e5", "1e9")), key
                assert not gated(grid.key(grid.TIME, backend, variant, "gpu", n))
            assert gated(grid.key(grid.COLD, backend, variant, "cpu", "1e5")) == (variant == grid.SHARED)
            assert gated(grid.key(grid.MEMORY, backend, variant, "cpu", "1e8")) == (variant in chunked)
            assert not gated(grid.key(grid.MEMORY, backend, variant, "cpu", "1e5"))
            assert not gated(grid.key(grid.ACCURACY, backend, variant, "cpu", "1e6"))
    assert not gated(gate.YARDSTICK)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--slowdowns", "1.5,1.0"], "--slowdowns must all be above 1"),
        (["--unchanged", "-1"], "--unchanged must be 0 or more"),
        (["--load", "30"], "--load must be ON:OFF seconds"),
        (["--load", "a:b"], "--load must be ON:OFF seconds"),
        (["--slowdowns", "fast"], "--slowdowns must be numbers above 1"),
        (["--gated", "--bench", "numpy"], "--gated and --bench are two selections"),
    ],
)
def test_the_trial_refuses_bad_arguments_before_making_any_commit(arguments, message):
    done = subprocess.run(
        [sys.executable, "tools/gate_trial.py", *arguments], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 2 and message in done.stderr, done.stderr
    refs = subprocess.run(
        ["git", "for-each-ref", "refs/gate-trial"], cwd=ROOT, capture_output=True, text=True
    )
    assert refs.stdout == ""


def test_a_rounds_values_as_the_gate_reads_them_from_asvs_results(tmp_path):
    """jitpi.suite.asv_results.values_since, on a result file asv's own classes write: the smallest
    sample, None for a failure, NaN for a skip, the yardstick by its bare name, and a benchmark run
    before the round (not reached in it) left out."""
    from datetime import UTC, datetime, timedelta

    asv_results = pytest.importorskip("asv.results", reason="asv is not installed")
    from asv.runner import BenchmarkResult

    from jitpi.suite import grid
    from jitpi.suite.asv_results import values_since

    commit, now = "c0ffee" + "0" * 34, datetime.now(UTC)
    params = dict(machine="vm", python="3.11", numpy="2.4.6")
    results = asv_results.Results(params, {"numpy": "2.4.6"}, commit, 0, "3.11", "env-numpy", {})

    def add(name, grid_params, values, samples, started):
        entry = {"name": name, "params": grid_params, "version": "1", "type": "time", "unit": "seconds"}
        run = BenchmarkResult(values, samples, [1] * len(values), errcode=0, stderr="", profile=None)
        results.add_result(entry, run, started_at=started, record_samples=True)

    variants = [["'numpy'"], ["'naive'", "'native'", "'shared'"], ["'cpu'"], ["'1e5'"]]
    add(grid.TIME, variants, [2e-3, None, NAN], [[3e-3, 1e-3, 2e-3], None, None], now)
    add(grid.YARDSTICK, [], [0.45], [[0.5, 0.4]], now)
    add(grid.COLD, variants, [1.0, 1.0, 1.0], [[1.0]] * 3, now - timedelta(hours=1))
    results.save(str(tmp_path))
    since = (now - timedelta(minutes=1)).timestamp() * 1000
    values = values_since(tmp_path, "vm", commit, since)
    assert set(values) == {
        *(grid.key(grid.TIME, "numpy", v, "cpu", "1e5") for v in grid.VARIANTS),
        grid.YARDSTICK,
    }
    assert values[grid.key(grid.TIME, "numpy", "naive", "cpu", "1e5")] == 1e-3
    assert values[grid.key(grid.TIME, "numpy", "native", "cpu", "1e5")] is None
    assert math.isnan(values[grid.key(grid.TIME, "numpy", "shared", "cpu", "1e5")])
    assert values[grid.YARDSTICK] == 0.4
    assert values_since(tmp_path, "vm", "f" * 40, since) == {}
    assert values_since(tmp_path, "another", commit, since) == {}
