"""The regression gate, end to end: ``python tools/gate.py BASE HEAD`` as CI and a person run it.

A throwaway git repository holds the project as it stands and commits on top: one that makes
numpy's native kernel count every sample twice (2x slower, the same hits), one that breaks numpy's
shared kernel, and one that changes no code. The gate runs with the suite's own sampling (its
default rounds, asv's attributes untouched), narrowed with --bench to two combinations, in an
asv environment with numpy alone; pip's download cache is reused. The HOME it runs in has no asv
machine file: the gate makes one.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest
from asv_helpers import asv_environ, commit_all, have_tools, light_config, make_repo

pytestmark = pytest.mark.slow

SLOWED = "bench_time.CountHits.time_count_hits('numpy', 'native', 'cpu', '1e7')"
BROKEN = "bench_time.CountHits.time_count_hits('numpy', 'shared', 'cpu', '1e5')"
SELECT = ["--bench", re.escape(SLOWED), "--bench", re.escape(BROKEN)]
MACHINE = "gate-test"

SLOWDOWN = """

# A deliberate 2x slowdown, for the regression gate's end-to-end test: count every sample twice.
import dataclasses

_native_once = native


def native(n, seed, **kwargs):
    _native_once(n, seed, **kwargs)
    return _native_once(n, seed, **kwargs)


BACKEND = dataclasses.replace(BACKEND, kernels={**BACKEND.kernels, "native": native})
"""

BREAKAGE = """

# A deliberate failure, for the regression gate's end-to-end test.
def shared(n, seed, **kwargs):
    raise ValueError("the shared kernel was broken on purpose")


BACKEND = dataclasses.replace(BACKEND, kernels={**BACKEND.kernels, "shared": shared})
"""


@pytest.fixture(scope="module")
def gate_repo(tmp_path_factory):
    reason = have_tools()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("gate")
    repo = make_repo(root / "repo", light_config())
    base = commit_all(repo, "base")
    kernel = repo / "jitpi" / "backends" / "numpy.py"
    kernel.write_text(kernel.read_text(encoding="utf-8") + SLOWDOWN, encoding="utf-8")
    slowed = commit_all(repo, "numpy native counts twice")
    kernel.write_text(kernel.read_text(encoding="utf-8") + BREAKAGE, encoding="utf-8")
    broken = commit_all(repo, "numpy shared raises")
    readme = repo / "benchmarks" / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + "\nA note, no code.\n", encoding="utf-8")
    no_change = commit_all(repo, "docs only")
    environ = asv_environ(root / "home")
    return repo, environ, {"base": base, "slowed": slowed, "broken": broken, "no_change": no_change}


def gate(repo, environ, before, after):
    """The gate command as the workflow and the Makefile run it, in the throwaway repository."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "tools/gate.py", before, after, "--machine", MACHINE, *SELECT],
        cwd=repo,
        env=environ,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    print(f"gate {before[:8]} {after[:8]}: exit {done.returncode} in {time.monotonic() - started:.0f} s")
    report = repo / ".asv" / "gate.md"
    return done.returncode, done.stdout + done.stderr, report.read_text() if report.exists() else ""


def row(report: str, key: str) -> list[str]:
    """The cells of ``key``'s row in the gate's Markdown table."""
    for line in report.splitlines():
        if f"`{key}`" in line:
            return [cell.strip() for cell in line.strip().strip("|").split("|")]
    raise AssertionError(f"{key} is not in the table:\n{report}")


def test_a_2x_slowdown_fails_the_gate_named_with_its_ratio(gate_repo):
    repo, environ, commits = gate_repo
    status, output, report = gate(repo, environ, commits["base"], commits["slowed"])
    assert status == 1, output
    assert (repo.parent / "home" / ".asv-machine.json").exists(), "the gate must make asv's machine file"
    mark, _key, _base, _head, ratio, base_rounds, head_rounds = row(report, SLOWED)
    assert mark == "+" and float(ratio) > 1.5, report
    assert len(base_rounds.split(", ")) == len(head_rounds.split(", ")) == 3, report
    assert re.search(rf"REGRESSION {re.escape(SLOWED)}: [\d.]+x", output), output
    # numpy's shared variant did not change: no alarm (under load its BASE rounds may all be slower
    # than HEAD's quietest, which reads as an improvement and fails nothing)
    assert row(report, BROKEN)[0] in ("", "-"), report
    assert "jitpi gate: 1 regression(s)" in report


def test_a_benchmark_head_broke_exits_2_with_its_traceback(gate_repo):
    repo, environ, commits = gate_repo
    status, output, report = gate(repo, environ, commits["slowed"], commits["broken"])
    assert status == 2, output
    assert row(report, BROKEN)[0] == "!", report
    for text in (output, report):
        assert "ValueError: the shared kernel was broken on purpose" in text
        assert "Traceback" in text


def test_unchanged_code_passes_and_a_benchmark_broken_in_both_does_not_fail(gate_repo):
    repo, environ, commits = gate_repo
    status, output, report = gate(repo, environ, commits["broken"], commits["no_change"])
    assert status == 0, output
    assert row(report, BROKEN)[0] == "x", report
    assert f"broken in both commits (not HEAD's doing): {BROKEN}" in output
    mark, _key, _base, _head, ratio, *_ = row(report, SLOWED)
    assert mark in ("", "-") and float(ratio) < 1.3, report  # no alarm (see above)
    assert "jitpi gate: no regression" in report
