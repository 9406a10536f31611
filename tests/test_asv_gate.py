"""The regression gate, proven end to end: ``asv continuous`` fails on a 2x slowdown, passes on no change.

A throwaway git repository holds the project as it stands and three commits on top: the base, a
commit that changes no code (a note in benchmarks/README.md), and one that makes numpy's native
kernel count every sample twice (2x slower, same hits). ``asv continuous --factor 1.5`` between the
first two must exit 0; between the last two it must exit non-zero and name the slowed benchmark.
The asv environment is the project's config with a numpy-only matrix; pip's download cache is
reused, so after the first run creating it takes seconds.
"""

from __future__ import annotations

import re
import time

import pytest
from asv_helpers import (
    asv,
    asv_environ,
    commit_all,
    git,
    have_tools,
    light_config,
    make_repo,
    register_machine,
)

pytestmark = pytest.mark.slow

FACTOR = "1.5"
# One combination, selected by its full name: n = 1e7 takes ~0.1 s a call on numpy, long enough
# for timer noise not to matter, short enough for many samples.
BENCH = "bench_time.CountHits.time_count_hits('numpy', 'native', 'cpu', '1e7')"
# asv matches -b against "name(params)" with re.search.
SELECT = re.escape(BENCH)
# Enough samples per commit for the Mann-Whitney test asv continuous applies besides the factor,
# taken in rounds interleaved across the two commits so that machine load hits both alike.
# With up to 80 samples a commit, a 2x change stays significant even when other processes load the
# machine, and the medians of unchanged code stay well inside the factor.
ATTRIBUTES = ["-a", "rounds=4", "-a", "repeat=(10, 20, 20.0)", "-a", "warmup_time=0.5"]

SLOWDOWN = """

# A deliberate 2x slowdown, for the regression gate's end-to-end test: count every sample twice.
import dataclasses

_native_once = native


def native(n, seed, **kwargs):
    _native_once(n, seed, **kwargs)
    return _native_once(n, seed, **kwargs)


BACKEND = dataclasses.replace(BACKEND, kernels={**BACKEND.kernels, "native": native})
"""


@pytest.fixture(scope="module")
def gate_repo(tmp_path_factory):
    reason = have_tools()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("gate")
    repo = make_repo(root / "repo", light_config())
    base = git(repo, "rev-parse", "HEAD")
    readme = repo / "benchmarks" / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + "\nA note, no code.\n", encoding="utf-8")
    no_change = commit_all(repo, "docs only")
    kernel = repo / "jitpi" / "backends" / "numpy.py"
    kernel.write_text(kernel.read_text(encoding="utf-8") + SLOWDOWN, encoding="utf-8")
    slowed = commit_all(repo, "numpy native counts twice")
    environ = asv_environ(root / "home")
    register_machine(repo, environ, "gate-test")
    return repo, environ, base, no_change, slowed


def continuous(repo, environ, before, after):
    started = time.monotonic()
    done = asv(
        repo,
        environ,
        "continuous",
        "--factor",
        FACTOR,
        "--interleave-rounds",
        "--show-stderr",
        "--machine",
        "gate-test",
        "-b",
        SELECT,
        *ATTRIBUTES,
        before,
        after,
    )
    took = time.monotonic() - started
    print(f"asv continuous {before[:8]} {after[:8]}: exit {done.returncode} in {took:.0f} s")
    return done, done.stdout + done.stderr


def test_no_code_change_passes_the_gate(gate_repo):
    repo, environ, base, no_change, _ = gate_repo
    done, output = continuous(repo, environ, base, no_change)
    assert done.returncode == 0, output
    assert "BENCHMARKS NOT SIGNIFICANTLY CHANGED" in output, output


def test_a_2x_slowdown_fails_the_gate_and_is_named(gate_repo):
    repo, environ, _, no_change, slowed = gate_repo
    done, output = continuous(repo, environ, no_change, slowed)
    assert done.returncode != 0, output
    assert "PERFORMANCE DECREASED" in output, output
    assert BENCH in output, output
    # The row asv prints for it: | + | before | after | ratio | name |
    ratio = re.search(r"\|\s*\+\s*\|[^|]*\|[^|]*\|\s*([\d.]+)\s*\|\s*" + re.escape(BENCH), output)
    assert ratio and float(ratio.group(1)) > float(FACTOR), output
