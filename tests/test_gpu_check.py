"""tools/gpu_check.py, the one command a GPU machine runs: its cross-check must catch a wrong count."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from jitpi.philox import shared_hits_reference

TOOL = Path(__file__).resolve().parent.parent / "tools" / "gpu_check.py"


def _crosscheck(out: Path, rows: list[dict]) -> subprocess.CompletedProcess:
    (out / "gpu-sweep.json").write_text(json.dumps({"rows": rows}))
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
        _row(name, n, shared_hits_reference(n, 3)) for name in ("torch", "triton") for n in (1000, 12_345)
    ]
    rows.append({**_row("jax", 10, 0), "variant": "native"})  # other variants are not cross-checked
    result = _crosscheck(tmp_path, rows)
    assert result.returncode == 0, result.stdout + result.stderr
    checks = json.loads((tmp_path / "crosscheck.json").read_text())["checks"]
    assert len(checks) == 4 and all(check["equal"] for check in checks)


def test_crosscheck_fails_on_one_wrong_count(tmp_path):
    rows = [
        _row("torch", 1000, shared_hits_reference(1000, 3)),
        _row("triton", 1000, shared_hits_reference(1000, 3) + 1),
    ]
    result = _crosscheck(tmp_path, rows)
    assert result.returncode == 1
    assert "DIFFERENT" in result.stdout and "failed stages: crosscheck" in result.stdout


@pytest.mark.parametrize("rows", [None, []])
def test_crosscheck_fails_without_gpu_rows(tmp_path, rows):
    if rows is None:
        command = [sys.executable, str(TOOL), "--out", str(tmp_path), "--stage", "crosscheck"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    else:
        result = _crosscheck(tmp_path, rows)
    assert result.returncode == 1
