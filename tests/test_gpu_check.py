"""tools/gpu_check.py, the one command a GPU machine runs: its cross-check must catch a wrong count."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import jitpi
from jitpi.philox import shared_hits_reference

TOOL = Path(__file__).resolve().parent.parent / "tools" / "gpu_check.py"


def _crosscheck(out: Path, rows: list[dict], unavailable: tuple = ()) -> subprocess.CompletedProcess:
    (out / "gpu-sweep-test.json").write_text(json.dumps({"rows": rows, "unavailable": list(unavailable)}))
    command = [
        sys.executable,
        str(TOOL),
        "--out",
        str(out),
        "--stage",
        "crosscheck",
        "--cpu-reference",
        "numpy",
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def _row(backend: str, n: int, hits: int, **extra) -> dict:
    return {
        "backend": backend,
        "variant": "shared",
        "device": "gpu",
        "n": n,
        "seed": 3,
        "status": "ok",
        "hits": hits,
        **extra,
    }


def test_crosscheck_passes_when_every_gpu_count_is_the_streams(tmp_path):
    rows = [
        _row(name, n, shared_hits_reference(n, 3)) for name in jitpi.BACKENDS[-2:] for n in (1000, 12_345)
    ]
    rows.append({**_row(jitpi.BACKENDS[2], 10, 0), "variant": "native"})  # only shared is checked
    result = _crosscheck(tmp_path, rows)
    assert result.returncode == 0, result.stdout + result.stderr
    checks = json.loads((tmp_path / "crosscheck.json").read_text())["checks"]
    assert len(checks) == 4 and all(check["equal"] for check in checks)


def test_crosscheck_reads_every_sweep_file_and_reports_rows_it_could_not_check(tmp_path):
    (tmp_path / "gpu-sweep-jax.json").write_text(
        json.dumps({"rows": [_row("jax", 999, shared_hits_reference(999, 3))]})
    )
    skipped = {**_row("triton", 10**11, 0), "status": "skipped", "message": "over the row budget"}
    missing = {"backend": "tensorflow", "variant": "shared", "device": "gpu", "reason": "not installed"}
    rows = [_row("triton", 1000, shared_hits_reference(1000, 3)), skipped]
    result = _crosscheck(tmp_path, rows, unavailable=[missing])
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "crosscheck.json").read_text())
    assert sorted(report["sweeps"]) == ["gpu-sweep-jax.json", "gpu-sweep-test.json"]
    assert {(check["backend"], check["n"]) for check in report["checks"]} == {("jax", 999), ("triton", 1000)}
    assert "not checked: triton n=1e+11 skipped: over the row budget" in result.stdout
    assert "not checked: tensorflow unavailable: not installed" in result.stdout


def test_crosscheck_fails_on_one_wrong_count(tmp_path):
    rows = [
        _row("torch", 1000, shared_hits_reference(1000, 3)),
        _row("triton", 1000, shared_hits_reference(1000, 3) + 1),
    ]
    result = _crosscheck(tmp_path, rows)
    assert result.returncode == 1
    assert "DIFFERENT" in result.stdout and "failed stages: crosscheck" in result.stdout


@pytest.mark.parametrize("rows", [None, []])
def test_crosscheck_fails_without_gpu_rows(tmp_path, rows, monkeypatch):
    if rows is None:  # and a relative --out, from outside the checkout: resolved against the caller
        monkeypatch.chdir(tmp_path)
        command = [sys.executable, str(TOOL), "--out", "relative", "--stage", "crosscheck"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert (tmp_path / "relative" / "gpu-check.log").exists()
    else:
        result = _crosscheck(tmp_path, rows)
    assert result.returncode == 1


def test_env_stage_fails_where_no_backend_has_a_gpu(tmp_path):
    import jitpi

    any_gpu = any(jitpi.availability(name, "gpu")[0] for name in jitpi.BACKENDS)
    command = [sys.executable, str(TOOL), "--out", str(tmp_path), "--stage", "env"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == (0 if any_gpu else 1), result.stdout + result.stderr
    assert "backends with a GPU here:" in result.stdout
