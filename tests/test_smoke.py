"""tools/smoke.py as users run it: the grid's backends in parallel groups, each group its own asv
run over the development environment, every combination once, nothing saved."""

from __future__ import annotations

import subprocess
import sys

import pytest
from asv_helpers import ROOT, have_tools


def run(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(ROOT / "tools" / "smoke.py"), *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=900)


def test_bad_arguments_name_what_is_allowed():
    done = run("--backends", "numpy,cupy")
    assert done.returncode == 2 and "--backends must name backends of the grid" in done.stderr
    done = run("--jobs", "0")
    assert done.returncode == 2 and "--jobs must be at least 1" in done.stderr


@pytest.mark.slow
def test_two_groups_run_at_once_and_each_runs_its_own_backends():
    reason = have_tools()
    if reason:
        pytest.skip(reason)
    done = run("--backends", "python,numpy", "--jobs", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "group 0: python" in done.stdout and "group 1: numpy" in done.stdout
    first = (ROOT / ".asv" / "smoke" / "group-0.log").read_text()
    second = (ROOT / ".asv" / "smoke" / "group-1.log").read_text()
    assert "'python'" in first and "'numpy'" not in first and "time_quarter_circle" in first
    assert "'numpy'" in second and "'python'" not in second
    assert "failed" not in done.stdout
