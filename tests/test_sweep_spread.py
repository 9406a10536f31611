"""tools/spread.py, the benchmark of the sweep's spread goal: which rows it judges and how (no timing)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from conftest import BASELINES

import jitpi
from jitpi import registry
from jitpi.sweep import Row

SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "spread.py"


def load_script():
    spec = importlib.util.spec_from_file_location("spread_tool", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def row(backend: str, n: int, spread: float | None, status: str = "ok") -> Row:
    return Row(
        backend,
        "native",
        "cpu",
        n,
        0,
        status,
        spread=spread,
        samples=7,
        calls_per_sample=10,
        median_s=0.01,
        message=None if status == "ok" else "boom",
    )


def test_it_measures_every_backend_that_compiles():
    spread = load_script()
    chosen = spread.compiled_backends()
    assert chosen == [name for name in jitpi.BACKENDS if registry.REGISTRY[name].compiles]
    assert chosen and not set(BASELINES) & set(chosen)


def test_the_goal_holds_only_when_every_row_meets_it():
    spread = load_script()
    lines, met = spread.verdict([row("numba", 10**5, 0.01), row("jax", 10**6, 0.05)])
    assert met and len(lines) == 2 and all(line.endswith("ok") for line in lines)
    lines, met = spread.verdict([row("numba", 10**5, 0.01), row("jax", 10**6, 0.08)])
    assert not met and lines[1].endswith("ABOVE GOAL") and "8.0%" in lines[1]
    for bad in (row("torch", 10**5, None, status="failed"), row("torch", 10**5, None)):
        lines, met = spread.verdict([bad])
        assert not met and ("FAILED: boom" in lines[0] or "no spread" in lines[0])


def test_bad_arguments_exit_2(capsys):
    spread = load_script()
    assert spread.main(["--backend", "cupy"]) == 2
    assert spread.main(["--repeat", "1"]) == 2
    assert "error" in capsys.readouterr().err
