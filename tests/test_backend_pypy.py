"""pypy-specific properties: the same hits as the python backend under another interpreter, hits
independent of the number of worker processes, the kernel the worker writes from jitpi.philox (both
of its multiplies), a JIT that keeps no disk cache, the availability reasons, and the worker
processes' lifecycle (a crash, Ctrl-C and the parent's death leave no orphan)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from conftest import require

from jitpi import philox, registry
from jitpi.backends import pypy
from jitpi.backends import python as python_backend

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _pypy_available():
    require("pypy")


@pytest.mark.parametrize("seed", [0, 2**64 - 1])
def test_native_and_naive_count_what_cpython_counts(seed):
    """One Mersenne Twister stream, two interpreters: the counts are equal, tails and chunks too."""
    for n in (1, 2, 3, 65_535, 65_537, 150_001):
        assert pypy.native(n, seed) == python_backend.native(n, seed), n
        assert pypy.naive(n, seed) == python_backend.naive(n, seed), n
    start, chunk = 3 * 1000, 1000
    assert pypy.native(5_001, seed, start=start, chunk=chunk) == python_backend.native(
        5_001, seed, start=start, chunk=chunk
    )


@pytest.mark.parametrize("variant", ["native", "shared"])
def test_worker_count_does_not_change_hits(monkeypatch, variant):
    monkeypatch.setattr(pypy, "SAMPLES_PER_WORKER", 4096)  # so that a small n is split
    kernel = getattr(pypy, variant)
    n, start = 40 * 4096 + 11, 4096 * 3
    counts = {}
    for workers in ("1", "3"):
        monkeypatch.setenv("JITPI_THREADS", workers)
        counts[workers] = kernel(n, 2**64 - 1, start=start, chunk=4096)
    assert len(pypy.worker_pids()) >= 3
    assert counts["1"] == counts["3"], counts
    if variant == "shared":
        assert counts["1"] == philox.shared_hits_reference(n, 2**64 - 1, start)


def test_concurrent_calls_from_threads_are_exact():
    expected = philox.shared_hits_reference(50_001, 9)
    results = []
    threads = [threading.Thread(target=lambda: results.append(pypy.shared(50_001, 9))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 4


def _run_pypy(script: str) -> str:
    result = subprocess.run(
        [pypy.interpreter(), "-B", "-E", "-s", "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.mark.parametrize("use_intop", [True, False])
def test_the_written_kernel_keeps_random123_with_either_multiply(use_intop):
    """The kernel traced from philox.rounds, with PyPy's wrapping multiply and with the portable
    16-bit split (whose products stay below 2**63, so PyPy never falls back to big integers)."""
    cases = [[list(counter), list(key)] for counter, key, _ in philox.KNOWN_ANSWERS]
    blocks = [0, 2**32 - 1, 2**32, 2**40 - 7]
    cases += [
        [[block & philox.MASK32, block >> 32, 0, 0], [philox.MASK32, philox.MASK32]] for block in blocks
    ]
    output = _run_pypy(
        f"""
        import json, sys
        sys.path.insert(0, "jitpi/backends")
        import _pypy_worker as worker
        philox = worker.load_philox("jitpi/philox.py")
        source = worker.write_kernel(philox, use_intop={use_intop})
        kernel = worker.compile_kernel(source)
        words = [list(kernel.block_words(*c, *k, *kernel.round_keys(*k))) for c, k in {cases!r}]
        print(json.dumps({{"words": words, "source": source}}))
        """
    )
    reply = json.loads(output)
    expected = [list(answer) for _, _, answer in philox.KNOWN_ANSWERS]
    expected += [list(words) for words in philox.words_scalar([tuple(c) for c, _ in cases[3:]], cases[3][1])]
    assert reply["words"] == expected
    body = reply["source"].split("def block_words")[1].split("def inside")[0]
    assert " for " not in body and "while" not in body  # ten rounds, unrolled
    assert ("int_mul(" in body) == use_intop


def test_after_the_warm_up_no_n_compiles_a_trace_or_a_bridge():
    """The warm-up runs each loop as requests do: a loop traced on range(0, n), whose iterator has
    another class than range(1, n)'s, would leave through a bridge on every block of a request."""
    output = _run_pypy(
        """
        import json, sys
        sys.path.insert(0, "jitpi/backends")
        import _pypy_worker as worker
        import pypyjit
        kernels = worker.Kernels(worker.load_philox("jitpi/philox.py"))
        kernels.warm_up()
        compiled = []
        pypyjit.set_compile_hook(lambda info: compiled.append(info.type), operations=False)
        for seed, (first, end) in enumerate([(1, 200001), (2**32 - 5, 2**32 + 99999), (2**39, 2**39 + 5**7)]):
            kernels.shared(first - 1, end + 1, 2 * first - 1, 2 * end + 1, seed)
        kernels.native(3, 5, 4, 65536, 200000)
        kernels.naive(200000, 7)
        print(json.dumps(compiled))
        """
    )
    assert json.loads(output) == []


def test_kernel_source_is_straight_line_and_branch_free():
    source = pypy.kernel_source()
    inside = source.split("def inside")[1].split("def count_blocks")[0]
    assert " if " not in inside and "<" not in inside.replace("<<", "")
    assert "round_keys(k0, k1)" in source.split("def count_blocks")[1]


def test_describe_names_pypy_not_cpython():
    version = pypy.interpreter_version()
    assert int(version.split(".")[0]) >= 7
    text = pypy.describe("cpu")
    assert f"PyPy {version}" in text and "worker process" in text
    assert registry.load("pypy").describe("cpu") == text


def test_availability_names_what_is_missing_and_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(pypy.INTERPRETER_VARIABLE, raising=False)
    reason = pypy.device_unavailable_reason("cpu")
    assert "pypy3 is not on PATH" in reason and "apt-get install pypy3" in reason
    monkeypatch.setenv(pypy.INTERPRETER_VARIABLE, str(tmp_path / "no-such-pypy"))
    assert "JITPI_PYPY=" in pypy.device_unavailable_reason("cpu")
    monkeypatch.setenv(pypy.INTERPRETER_VARIABLE, sys.executable)
    reason = pypy.device_unavailable_reason("cpu")
    assert "cpython" in reason and "not PyPy" in reason


def test_a_cold_start_compiles_again_and_nothing_is_cached_on_disk(tmp_path):
    """PyPy's JIT keeps no disk cache (the registry line names none): a fresh process compiles the
    kernels' loops again, and its workers write nothing under HOME, TMPDIR or the source tree."""
    assert registry.REGISTRY["pypy"].jit_caches == ()
    environment = registry.cold_cache_environment(str(tmp_path / "caches"))
    environment.update(HOME=str(tmp_path / "home"), TMPDIR=str(tmp_path / "tmp"), JITPI_THREADS="1")
    for folder in ("home", "tmp"):
        (tmp_path / folder).mkdir()
    before = sorted((ROOT / "jitpi").rglob("*.pypy*.pyc"))
    script = "from jitpi.backends import pypy; pypy.shared(10**5, 1); print(pypy.compile_count())"
    counts = [
        subprocess.run(
            [sys.executable, "-c", script],
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
        for _ in range(2)
    ]
    assert [run.returncode for run in counts] == [0, 0], counts[0].stderr[-2000:]
    assert counts[0].stdout == counts[1].stdout and int(counts[0].stdout) >= 1
    assert not any((tmp_path / "home").iterdir()) and not any((tmp_path / "tmp").iterdir())
    assert sorted((ROOT / "jitpi").rglob("*.pypy*.pyc")) == before


def test_a_crashed_worker_raises_and_the_next_call_restarts_it():
    pypy.shared(1001, 1)
    with pytest.raises(pypy.WorkerCrashed, match=r"exited with code 7 during 'crash'.*fresh worker"):
        pypy._POOL.run("crash", [[7]])
    assert pypy.shared(30_001, 3) == philox.shared_hits_reference(30_001, 3)
    idle = pypy._POOL.workers[0].process
    idle.kill()  # dies while idle: replaced at the next call
    idle.wait(timeout=10)
    assert pypy.naive(10_001, 3) == python_backend.naive(10_001, 3)


def test_a_worker_error_is_reported_and_the_worker_lives_on():
    pypy.shared(11, 1)
    pids = pypy.worker_pids()
    with pytest.raises(RuntimeError, match="failed in 'shared'"):
        pypy._POOL.run("shared", [["not a number"]])
    assert pypy.shared(1001, 2) == philox.shared_hits_reference(1001, 2)
    assert pypy.worker_pids()[: len(pids)] == pids


_PARENT = """
import json, sys, time
from jitpi.backends import pypy
pypy.shared(1001, 1)
print(json.dumps(pypy.worker_pids()), flush=True)
try:
    pypy.naive(10**10, 1)  # minutes: interrupted or killed long before it ends
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(0)
"""


def _start_parent() -> tuple[subprocess.Popen, list[int]]:
    # A session of its own, so that Ctrl-C can be sent to its whole process group as a terminal does.
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT], stdout=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=True
    )
    pids = json.loads(parent.stdout.readline())
    assert pids and all(_alive(pid) for pid in pids)
    return parent, pids


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _gone_soon(pids: list[int], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(_alive(pid) for pid in pids):
            return True
        time.sleep(0.05)
    return False


def test_ctrl_c_stops_the_busy_workers():
    parent, pids = _start_parent()
    time.sleep(0.5)
    os.killpg(parent.pid, signal.SIGINT)  # the workers, in the same group, ignore it
    assert parent.wait(timeout=30) == 0 and parent.stdout.read().strip() == "interrupted"
    assert _gone_soon(pids)


def test_workers_exit_when_their_parent_dies():
    parent, pids = _start_parent()
    parent.kill()
    parent.wait()
    assert _gone_soon(pids)
