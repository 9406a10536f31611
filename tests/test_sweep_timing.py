"""The row timing of ``jitpi run``: calibrated samples, median and interquartile range, the row budget."""

from __future__ import annotations

import pytest

from jitpi.sweep import timing


class FakeClock:
    """``time.perf_counter`` for ``jitpi.sweep.timing``: only the calls of ``call`` advance it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def call(self, seconds: float):
        def call() -> int:
            self.now += seconds
            return 7

        return call


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(timing.time, "perf_counter", fake)
    return fake


def test_summary_is_median_and_interquartile_range():
    summary = timing.summarise([5.0, 1.0, 4.0, 2.0, 3.0])
    assert summary["median_s"] == 3.0 and (summary["min_s"], summary["max_s"]) == (1.0, 5.0)
    assert summary["iqr_s"] == 2.0  # quartiles 2 and 4, numpy's default (linear) method
    assert summary["spread"] == pytest.approx(2 / 3) and summary["unstable"] is True
    steady = timing.summarise([1.00, 1.01, 0.99, 1.02, 1.00])
    assert steady["spread"] < timing.UNSTABLE_SPREAD and steady["unstable"] is False


def test_one_sample_has_no_spread():
    summary = timing.summarise([0.5])
    assert summary["median_s"] == 0.5 and summary["iqr_s"] is None
    assert summary["spread"] is None and summary["unstable"] is False


def test_calls_per_sample_make_a_sample_last_the_minimum_time(clock):
    calibration = timing.calibrate(clock.call(0.002), min_sample_s=0.05)
    assert calibration.kept is None and calibration.calls_per_sample == 25  # 0.05 s / 2 ms
    assert [probe.calls for probe in calibration.probes] == [1, 3]  # until a probe lasts 5 ms
    block = timing.time_block(clock.call(0.002), calibration.calls_per_sample)
    assert block.seconds == pytest.approx(0.05) and block.hits == (7,)


def test_calibration_trusts_the_fastest_probe(clock):
    """A probe slowed by a hiccup must not make samples shorter than the minimum."""
    durations = iter([0.004, 0.001, 0.001, 0.001, 0.001])

    def call() -> int:
        clock.now += next(durations, 0.001)
        return 7

    calibration = timing.calibrate(call, min_sample_s=0.05)
    assert calibration.per_call_s == pytest.approx(0.001) and calibration.calls_per_sample == 50


def test_fast_calls_are_grouped_up_to_the_cap(clock):
    calibration = timing.calibrate(clock.call(1e-9), min_sample_s=0.1)
    assert calibration.calls_per_sample == timing.MAX_CALLS_PER_SAMPLE


def test_a_slow_call_is_its_own_sample(clock):
    calibration = timing.calibrate(clock.call(0.03), min_sample_s=0.02)
    assert calibration.calls_per_sample == 1 and calibration.kept is calibration.probes[0]


def test_row_budget_limits_samples_but_keeps_one():
    assert timing.samples_within_budget(5, 0.1, 10.0) == 5
    assert timing.samples_within_budget(5, 3.0, 10.0) == 3
    assert timing.samples_within_budget(5, 30.0, 10.0) == 1
    assert timing.samples_within_budget(5, 30.0, 0.0) == 5  # a budget of 0 never limits


def test_blocks_count_compiles_and_pause_the_collector():
    compiled = []
    seen_collector = []

    def call() -> int:
        compiled.append(1)
        import gc

        seen_collector.append(gc.isenabled())
        return 1

    block = timing.time_block(call, 3, compile_count=lambda: len(compiled))
    assert block.compiles == 3 and block.calls == 3 and seen_collector == [False] * 3
    timing.time_block(call, 1, collect_garbage=True)
    assert seen_collector[-1] is True
    assert timing.time_block(call, 1).compiles is None  # no compile_count: the backend does not say
