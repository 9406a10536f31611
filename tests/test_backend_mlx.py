"""mlx-specific properties: one trace per kernel, chunk and thread serves every n; the JIT cache under
$TMPDIR is honoured, so a cold first call really runs g++; a missing g++ (mx.compile then silently
compiles nothing) is reported; counts do not depend on the thread count, every thread computes, and
a process that used the threads exits cleanly; 64-bit block counters carry across 2**32 inside one
call; native's chunk keys are distinct."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import pytest
from conftest import require

from jitpi import philox, registry

mx = pytest.importorskip("mlx.core")


@pytest.fixture(autouse=True)
def _mlx_available():
    require("mlx")


@pytest.fixture
def backend():
    from jitpi.backends import mlx

    return mlx


def run_python(script: str, env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=pathlib.Path(__file__).resolve().parents[1],
    )


def test_one_trace_per_thread_serves_every_n(backend, monkeypatch):
    """MLX keeps traced functions per thread: a first call traces once in each thread, even when
    its n fits in one chunk, and no later n, seed or start traces again."""
    for threads in (1, 2):
        monkeypatch.setenv("JITPI_THREADS", str(threads))
        for kernel, chunk in ((backend.shared, 4094 + threads), (backend.native, 3000 + threads)):
            before = backend.compile_count()
            kernel(1, 7, chunk=chunk)
            assert backend.compile_count() == before + threads, kernel.__name__
            for n, seed in ((2, 1), (chunk + 1, 2), (5 * chunk + 3, 2**64 - 1)):
                kernel(n, seed, start=chunk, chunk=chunk)
            assert backend.compile_count() == before + threads, kernel.__name__


@pytest.mark.parametrize("variant", ["native", "shared"])
def test_thread_count_does_not_change_hits(backend, variant, monkeypatch):
    kernel = getattr(backend, variant)
    n, chunk = 200_003, 8192
    counts = {}
    for threads in (1, 2, 3):
        monkeypatch.setenv("JITPI_THREADS", str(threads))
        counts[threads] = kernel(n, 2**64 - 1, start=chunk, chunk=chunk)
    assert len(set(counts.values())) == 1, counts
    if variant == "shared":
        assert counts[1] == philox.shared_hits_reference(n, 2**64 - 1, chunk)


def test_every_thread_computes(backend, monkeypatch):
    """Each worker thread has its own MLX CPU stream, so two MLX threads share the arithmetic."""
    monkeypatch.setenv("JITPI_THREADS", "2")
    backend.shared(1000, 1)  # traces and builds outside the measured call

    def cpu_ticks() -> dict[str, int]:
        ticks = {}
        for task in pathlib.Path("/proc/self/task").iterdir():
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            ticks[task.name] = int(fields[11]) + int(fields[12])  # utime + stime
        return ticks

    before = cpu_ticks()
    backend.shared(10**7, 3)
    spent = {tid: ticks - before.get(tid, 0) for tid, ticks in cpu_ticks().items()}
    total = sum(spent.values())
    busy = [tid for tid, ticks in spent.items() if ticks >= 0.2 * total]
    assert len(busy) >= 2, (spent, total)


def test_process_using_threads_exits_cleanly():
    """Worker threads that used mx.compile must not end during exit: MLX then aborts the process
    ("terminate called without an active exception") in about one run in four."""
    script = """
        import jitpi
        print(jitpi.count_hits(300_001, backend="mlx", variant="shared", seed=1),
              jitpi.count_hits(300_001, backend="mlx", variant="native", seed=1))
    """
    env = dict(os.environ, JITPI_THREADS="2")
    for _ in range(3):
        result = run_python(script, env)
        assert result.returncode == 0, result.stderr[-2000:]


def test_block_counters_carry_past_two_to_the_32_inside_one_call(backend):
    """The low counter word's uint32 add carries into the high word within a chunk."""
    start = 2 * (2**32 - 3) - 1  # odd: the first block gives only its odd sample
    for seed in (0, 2**64 - 1):
        expected = philox.shared_hits_reference(41, seed, start)
        assert backend.shared(41, seed, start=start, chunk=64) == expected
        assert backend.shared(41, seed, start=start) == expected
    far = 2**40 - 2**16 - 1
    assert backend.shared(2**16 + 1, 5, start=far) == philox.shared_hits_reference(2**16 + 1, 5, far)


def test_int32_bounds(backend):
    """MLX array dimensions are int32: the naive arrays and the chunk are bounded below 2**31."""
    assert 1 <= backend.naive_max_n("cpu") <= 2**31 - 1
    with pytest.raises(ValueError, match="chunk must be in"):
        backend.shared(10, 1, chunk=backend.CHUNKS.largest + 1)
    assert backend.CHUNKS.largest < 2**31


def test_native_chunk_keys_are_distinct(backend):
    keys = set()
    for seed in (0, 1, 2, 2**64 - 1):
        for index in range(500):
            keys.add(tuple(backend.chunk_key(seed, index).tolist()))
    assert len(keys) == 2000
    assert backend.chunk_key(9, 2**34).tolist() == backend.chunk_key(9, 2**34).tolist()


def _compiler_wrapper(folder: pathlib.Path, log: pathlib.Path) -> None:
    """A ``g++`` first on PATH that logs its arguments and runs the real one."""
    real = shutil.which("g++")
    assert real is not None
    folder.mkdir()
    wrapper = folder / "g++"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real}" "$@"\n')
    wrapper.chmod(0o755)


def test_cold_first_call_builds_in_the_tmpdir_cache(tmp_path):
    """With the registry's cold-cache environment, the first process runs g++ and leaves the
    libraries under $TMPDIR/mlx; a second process with the same folder runs g++ for nothing."""
    log = tmp_path / "g++.log"
    _compiler_wrapper(tmp_path / "bin", log)
    env = registry.cold_cache_environment(str(tmp_path / "cold"))
    env["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}{env['PATH']}"
    script = """
        import jitpi
        print(jitpi.count_hits(1001, backend="mlx", variant="native", seed=2**64 - 1))
    """
    builds, counts = [], set()
    for _ in range(2):
        result = run_python(script, env)
        assert result.returncode == 0, result.stderr[-2000:]
        counts.add(result.stdout.strip())
        lines = log.read_text().splitlines() if log.exists() else []
        builds.append([line for line in lines if " -shared " in line])
        log.unlink(missing_ok=True)
    libraries = list(pathlib.Path(env["TMPDIR"], "mlx").glob(f"{mx.__version__}/cpu/*.so"))
    assert builds[0] and len(libraries) == len(builds[0]), (builds[0], libraries)
    assert all(env["TMPDIR"] in line and "-march" not in line for line in builds[0]), builds[0]
    assert builds[1] == [] and len(counts) == 1


def test_missing_compiler_is_reported(tmp_path):
    """Without g++ on PATH, mx.compile builds nothing and says nothing; the backend says why."""
    (tmp_path / "empty").mkdir()
    env = dict(os.environ, PATH=str(tmp_path / "empty"), TMPDIR=str(tmp_path))
    script = """
        import json, pathlib, tempfile
        import mlx.core as mx
        import jitpi
        twice = mx.compile(lambda x: x * 2 + 1)
        value = twice(mx.arange(4)).tolist()
        built = [str(p) for p in pathlib.Path(tempfile.gettempdir()).rglob("*.so")]
        print(json.dumps({"availability": jitpi.availability("mlx"), "value": value, "built": built}))
    """
    result = run_python(script, env)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["value"] == [1, 3, 5, 7] and report["built"] == []
    available, reason = report["availability"]
    assert not available
    assert "g++" in reason and "PATH" in reason and "apt-get install g++" in reason, reason


def test_describe_names_version_compiler_and_threads(backend, monkeypatch):
    monkeypatch.setenv("JITPI_THREADS", "2")
    text = backend.describe("cpu")
    assert mx.__version__ in text and "g++" in text and "2 threads" in text, text
