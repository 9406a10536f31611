"""The same answers from the same files: what the page, the report, the precision tables and the
release tables say, held to the numbers the reporting code gave before it was rebuilt on one results
model (``tests/data/answers-before.json``, written by the earlier code from these very inputs: the
synthetic asv results of test_site_page, ``docs/cpu-sweep.json`` and ``docs/releases/results``).

Then every rendering of a model is held to the model: each number the Markdown and the HTML write is
the model's, through the one formatter.
"""

from __future__ import annotations

import json
import math

import pytest
from asv_helpers import ROOT

pytest.importorskip("asv.results", reason="asv is not installed (pip install -e '.[dev]')")

import test_site_page as fixture

from jitpi import precision
from jitpi.results import from_sweep
from jitpi.suite import asv_results, grid
from jitpi.sweep.results import load_results
from jitpi.view import tables

BEFORE = json.loads((ROOT / "tests" / "data" / "answers-before.json").read_text(encoding="utf-8"))
SWEEP = ROOT / "docs" / "cpu-sweep.json"


def same(new, old) -> bool:
    if old is None or new is None:
        return old is None and new is None
    return math.isclose(new, old, rel_tol=1e-9, abs_tol=1e-12)


@pytest.fixture(scope="module")
def asv_run(tmp_path_factory):
    results = tmp_path_factory.mktemp("answers") / "results"
    fixture.write_results(results, fixture.OLD, fixture.OLD_DATE, yardstick=fixture.YARDSTICK)
    fixture.write_results(results, fixture.NEW, fixture.NEW_DATE, names=(grid.TIME,), nothing=True)
    return asv_results.load(results)


@pytest.fixture(scope="module")
def sweep_run():
    return from_sweep(load_results(str(SWEEP)), str(SWEEP))


def check_leaderboard(board: tables.Leaderboard, old_rows: list[dict]) -> None:
    assert [list(row.key) for row in board.rows] == [row["key"] for row in old_rows]
    for new, old in zip(board.rows, old_rows, strict=True):
        label = "/".join(old["key"])
        assert new.state.value == old["status"], label
        assert same(new.throughput, old["throughput"]), label
        assert new.throughput_n == old["throughput_n"], label
        assert same(new.cold_s, old["cold_s"]), label
        assert same(new.memory_bytes, old["memory_bytes"]) and new.memory_n == old["memory_n"], label
        assert same(new.rms_z, old["rms_z"]), label


def check_curves(curves: list[precision.Curve], old: dict) -> None:
    assert sorted("/".join(c.key) for c in curves) == sorted(old)
    best = precision.best_per_backend(curves)
    for curve in curves:
        before = old["/".join(curve.key)]
        startup = curve.startup()
        assert same(startup and startup.seconds, before["startup"]), curve.label
        assert same(curve.throughput, before["throughput"]) and (curve in best) == before["best"]
        for k in (3, 4, 5, 6, 7, 8, 10):
            n = precision.samples_for(k)
            cold = curve.cold(n)
            assert same(cold and cold.seconds, before[f"cold{k}"]), (curve.label, k)
            assert same(curve.warm(n).seconds, before[f"warm{k}"]), (curve.label, k)


def test_the_page_from_asv_gives_the_same_leaderboard(asv_run):
    old = BEFORE["page_asv"]
    assert asv_run.source.commit == old["commit"]
    assert same(asv_run.yardstick.rate, old["yardstick_rate"])
    check_leaderboard(tables.leaderboard(asv_run), old["leaderboard"])


def test_the_page_from_asv_gives_the_same_throughput_table(asv_run):
    table = tables.throughput_table(asv_run)
    found = {"/".join(key): {str(n): value for n, value in by_n.items()} for key, by_n in table.rows}
    assert found.keys() == BEFORE["page_asv"]["throughput"].keys()
    for key, by_n in found.items():
        old = BEFORE["page_asv"]["throughput"][key]
        assert by_n.keys() == old.keys() and all(same(by_n[n], old[n]) for n in by_n), key


def test_the_same_time_to_a_precision_from_asv_and_from_a_sweep(asv_run, sweep_run):
    check_curves(precision.curves(asv_run), BEFORE["page_asv"]["precision"])
    check_curves(precision.curves(sweep_run), BEFORE["page_sweep"]["precision"])


def test_the_page_from_a_sweep_gives_the_same_leaderboard(asv_run, sweep_run):
    check_leaderboard(tables.leaderboard(sweep_run, memory=asv_run), BEFORE["page_sweep"]["leaderboard"])


def test_the_report_gives_the_same_throughput_first_call_and_z(sweep_run):
    """The README's and docs/results.md's leaderboard: each series at its largest n."""
    board = tables.leaderboard(sweep_run)
    rows = {"/".join(row.key): row for row in board.rows if row.throughput is not None}
    old = BEFORE["report_sweep"]
    assert rows.keys() == old.keys()
    for key, row in rows.items():
        assert row.throughput_n == old[key]["n"], key
        assert same(row.throughput, old[key]["samples_per_s"]), key
    for key, before in old.items():  # the cold first call was the first call alone, plus the import
        cold = sweep_run.series(tables.Kind.COLD)[tuple(key.split("/"))]
        (measurement,) = cold.values()
        assert same(dict(measurement.parts)["first call"], before["first_call_s"]), key


def test_the_release_tables_give_the_same_rows_and_steps():
    from jitpi.suite import releases

    rows = releases.load_rows(ROOT / "docs" / "releases" / "results", "vm")
    old = BEFORE["releases"]
    assert [(r.backend, r.release.version, r.variant) for r in rows] == [
        (o["backend"], o["version"], o["variant"]) for o in old
    ]
    for row, before in zip(rows, old, strict=True):
        label = f"{row.backend} {row.release.version} {row.variant}"
        assert (row.state, row.commit) == (before["state"], before["commit"]), label
        assert same(row.throughput(releases.TIME_N[-1]), before["rate_1e9"]), label
        assert same(row.throughput(releases.TIME_N[0]), before["rate_1e5"]), label
        for mine, theirs in ((row.first_call, "cold"), (row.peak_memory, "memory"), (row.rms_z, "rms_z")):
            assert same(mine.value if mine else None, before[theirs]), (label, theirs)
    large = releases.TIME_N[-1]
    found = releases.steps(rows, "time at 1e9", lambda row: row.time.get(large))
    found += releases.steps(rows, "first call", lambda row: row.first_call)
    assert len(found) == len(BEFORE["release_steps"])
    for step, before in zip(found, BEFORE["release_steps"], strict=True):
        assert {**vars(step), "moved": list(step.moved), "ratio": 0} == {**before, "ratio": 0}
        assert same(step.ratio, before["ratio"]), step
