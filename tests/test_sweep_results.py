"""The sweep's row model: ``Row`` from the worker's dict, back to the JSON and CSV files unchanged."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math

import pytest

import jitpi
from jitpi.sweep.results import ROW_FIELDS, SCHEMA, Group, Results, Row, new_row, upgrade

GROUP = Group("numpy", "native", "cpu")


def measured(n: int = 10_000, hits: int = 7_853) -> dict:
    """A measured row as the worker sends it: ``new_row``, then its statistics and ``times_s``."""
    row = new_row(GROUP, n, 3, import_s=0.25, first_call_s=0.5)
    row.update(
        status="ok",
        hits=hits,
        pi_hat=4 * hits / n,
        abs_error=abs(4 * hits / n - math.pi),
        sigma=jitpi.standard_error(n),
        z=jitpi.z_score(hits, n),
        samples=3,
        calls_per_sample=10,
        median_s=2e-4,
        iqr_s=1e-5,
        spread=0.05,
        unstable=False,
        min_s=1.9e-4,
        max_s=2.2e-4,
        samples_per_s=n / 2e-4,
        compiles_in_samples=None,
        times_s=[1.9e-4, 2e-4, 2.2e-4],
    )
    return row


def skipped(n: int = 10**9) -> dict:
    return new_row(GROUP, n, 3, status="skipped", message="n above what numpy does in reasonable time")


def test_a_row_has_every_field_in_the_files_order():
    names = [item.name for item in dataclasses.fields(Row)]
    assert names == [*ROW_FIELDS, "times_s"]
    assert ROW_FIELDS[:6] == ("backend", "variant", "device", "n", "seed", "status")
    row = Row("numpy", "native", "cpu", 1000, 0, "failed")
    assert all(getattr(row, name) is None for name in names[6:])
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.status = "ok"  # type: ignore[misc]


@pytest.mark.parametrize("sent", [measured(), skipped()], ids=["measured", "skipped"])
def test_as_dict_gives_back_the_dict_it_was_read_from(sent):
    """Keys, their order and values: the JSON row is what the worker sent (``times_s`` only where timed)."""
    wire = json.loads(json.dumps(sent))
    row = Row.from_dict(wire)
    assert row.as_dict() == wire and list(row.as_dict()) == list(wire)
    assert ("times_s" in row.as_dict()) is (row.status == "ok")
    assert json.dumps(row.as_dict()) == json.dumps(sent)


def test_from_dict_refuses_a_missing_field():
    incomplete = measured()
    del incomplete["spread"], incomplete["hits"]
    with pytest.raises(ValueError, match=r"numpy native cpu 10000.*without fields 'hits', 'spread'"):
        Row.from_dict(incomplete)
    with pytest.raises(ValueError, match="without field 'status'"):
        Row.from_dict({name: value for name, value in skipped().items() if name != "status"})


def test_from_dict_refuses_an_unknown_field():
    with pytest.raises(ValueError, match="with unknown field 'repeat'"):
        Row.from_dict({**measured(), "repeat": 3})
    both = {**skipped(), "median": 1.0}
    del both["z"]
    with pytest.raises(ValueError, match="without field 'z' and with unknown field 'median'"):
        Row.from_dict(both)


def test_an_upgraded_schema_1_row_is_a_whole_row():
    old = {key: value for key, value in measured().items() if key not in ("iqr_s", "spread", "unstable")}
    old.update(repeat=3, samples=None, calls_per_sample=None)
    data = upgrade({"schema": "jitpi-sweep/1", "rows": [old]})
    row = Row.from_dict(data["rows"][0])
    assert (row.samples, row.calls_per_sample, row.times_s) == (3, 1, (1.9e-4, 2e-4, 2.2e-4))


def test_the_files_hold_the_rows_as_the_worker_sent_them():
    sent = [measured(1000, 790), measured(), skipped()]
    results = Results(settings={"n": [1000, 10_000, 10**9]}, machine={"cpu": "test", "logical_cores": 2})
    results.rows.extend(Row.from_dict(row) for row in sent)
    data = json.loads(json.dumps(results.as_dict(), allow_nan=False))
    assert data["schema"] == SCHEMA and data["rows"] == sent
    assert [list(row) for row in data["rows"]] == [list(row) for row in sent]
    lines = list(csv.reader(io.StringIO(results.csv_text())))
    assert lines[0][: len(ROW_FIELDS) + 1] == [*ROW_FIELDS, "version"]
    header = lines[0]
    for line, row in zip(lines[1:], sent, strict=True):
        cells = dict(zip(header, line, strict=True))
        assert cells["n"] == str(row["n"])
        assert cells["median_s"] == ("" if row["median_s"] is None else "0.0002")
        assert cells["unstable"] == {None: "", False: "false"}[row["unstable"]]
        assert cells["machine_cpu"] == "test" and cells["machine_logical_cores"] == "2"
    assert [row.n for row in results.failed] == []
    results.rows.append(Row("numpy", "naive", "cpu", 5, 3, "failed", message="boom"))
    assert [row.message for row in results.failed] == ["boom"]
