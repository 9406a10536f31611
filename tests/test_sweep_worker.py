"""The sweep's worker: a warm-up at every n keeps a per-n recompile out of the steady-state samples."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time

import pytest

import jitpi
from jitpi import registry
from jitpi.sweep.results import Group, Row
from jitpi.sweep.worker import measure_group

COMPILE_S = 0.05
"""The instrumented backend's compile time: longer than a sample (MIN_SAMPLE_S below)."""
MIN_SAMPLE_S = 0.02
NS = [1000, 2000, 3000]


def measure(group: Group, ns=NS, repeat: int = 3) -> list[Row]:
    """The rows the worker sends, read as the parent reads them (``Row.from_dict``: every field)."""
    events: list[dict] = []
    measure_group(
        group, ns, seed=3, repeat=repeat, row_budget_s=0, emit=events.append, min_sample_s=MIN_SAMPLE_S
    )
    sent = [json.loads(json.dumps(event["row"])) for event in events if event["event"] == "row"]
    rows = [Row.from_dict(row) for row in sent]
    assert [row.n for row in rows] == list(ns), events
    return rows


@pytest.fixture
def recompiling_backend(monkeypatch):
    """The python backend, its naive kernel instrumented like jax's: a compile at each new n, or
    (``every`` calls) a recompile in the steady state."""
    state = {"compiled": set(), "compiles": 0, "calls": 0, "every": None}
    real = registry.load("python")

    def naive(n: int, seed: int, *, device: str = "cpu") -> int:
        state["calls"] += 1
        every = state["every"]
        if n not in state["compiled"] or (every and state["calls"] % every == 0):
            state["compiled"].add(n)
            state["compiles"] += 1
            time.sleep(COMPILE_S)
        return real.kernel("naive")(n, seed, device=device)

    fake = dataclasses.replace(
        real, kernels={**real.kernels, "naive": naive}, compile_count=lambda: state["compiles"]
    )
    monkeypatch.setattr(registry, "load", lambda name: fake if name == "python" else real)
    return state


def test_a_compile_per_n_never_lands_in_a_sample(recompiling_backend):
    rows = measure(Group("python", "naive", "cpu"))
    assert recompiling_backend["compiles"] == len(NS)  # one compile per n, each one observed
    for row in rows:
        assert row.status == "ok" and row.message is None, row
        assert row.compiles_in_samples == 0, row
        assert row.max_s < COMPILE_S, row  # no sample holds a compile
        assert row.samples == 3
    assert rows[0].first_call_s >= COMPILE_S and rows[0].warmup_s is None
    for row in rows[1:]:
        assert row.warmup_s >= COMPILE_S and row.first_call_s is None  # the compile is the warm-up


def test_a_compile_inside_the_samples_is_reported(recompiling_backend):
    """The check above can fail: a backend that recompiles in the steady state is caught and named."""
    recompiling_backend["every"] = 7
    rows = measure(Group("python", "naive", "cpu"), ns=[1000])
    assert rows[0].compiles_in_samples > 0
    assert "compile(s) during the timed samples" in rows[0].message


def test_jax_naive_recompiles_per_n_only_in_warm_ups():
    """The real case: jax's naive program is compiled for each n; every compile is a warm-up."""
    ok, why = jitpi.availability("jax", "cpu", "naive")
    if not ok:
        pytest.skip(why)
    backend = registry.load("jax")
    before = backend.compile_count()
    ns = [1013, 2027, 4051]  # n no other test compiles
    rows = measure(Group("jax", "naive", "cpu"), ns=ns, repeat=2)
    assert backend.compile_count() - before == len(ns)
    for row in rows:
        assert row.status == "ok" and row.compiles_in_samples == 0, row
    for row in rows[1:]:
        assert row.warmup_s > 5 * row.median_s, row  # the warm-up held the compile


def test_worker_entry_point():
    command = [sys.executable, "-m", "jitpi.sweep.worker"]
    listing = subprocess.run(
        [*command, json.dumps({"mode": "list", "backend": "numpy"})],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listing.returncode == 0 and listing.stderr == "", listing.stderr  # no runpy warning either
    event = json.loads(listing.stdout)
    assert event["event"] == "list" and event["devices"]["cpu"]["available"] is True
    bad = subprocess.run([*command, "not json"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1 and "SPEC" in bad.stderr
