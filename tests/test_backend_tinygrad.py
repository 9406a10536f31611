"""tinygrad-specific properties: one CPU shared kernel for every chunk size, the CACHEDB cache that a
cold call empties, counts independent of the thread count, the int32 pitfalls of Variables and
constants, the reason given without clang, TinyJit's replay of Tensor.rand against the native
kernel, and the GPU forms (counted on the CPU, rendered to PTX without a GPU)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading

import pytest
from conftest import require

from jitpi import philox, registry
from jitpi.stats import chi2_sf, dispersion, z_score


@pytest.fixture(scope="module")
def tg():
    require("tinygrad")
    registry.load("tinygrad")
    from jitpi.backends import tinygrad as module

    return module


def _run(script: str, env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", textwrap.dedent(script)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def test_one_cpu_shared_kernel_serves_every_chunk_size(tg):
    """The block count per replay is a Variable: a new chunk size, n or start compiles nothing."""
    tg.shared(1001, 1)
    compiled = tg.compile_count()
    for n, chunk in ((2_003, 2), (20_003, 1002), (20_003, 4097), (20_003, 1 << 20), (20_003, None)):
        assert tg.shared(n, 9, start=3, chunk=chunk) == philox.shared_hits_reference(n, 9, 3)
    assert tg.compile_count() == compiled


def test_counts_do_not_depend_on_the_thread_count(tg, monkeypatch):
    """Each thread replays its own capture over its share of the range; the sum is the same integer."""
    expected_shared = philox.shared_hits_reference(300_001, 2**64 - 1, 7)
    native_counts = set()
    for threads in (1, 3):
        monkeypatch.setattr(tg, "THREADS", threads)
        monkeypatch.setattr(tg, "_kernels", {})
        replays = set()
        replay = tg._replay

        def recording(lane, jobs, replay=replay, replays=replays):
            replays.add((id(lane), threading.current_thread() is threading.main_thread()))
            replay(lane, jobs)

        monkeypatch.setattr(tg, "_replay", recording)
        assert tg.shared(300_001, 2**64 - 1, start=7, chunk=1 << 14) == expected_shared
        native_counts.add(tg.native(20 * 4096 + 5, 11, chunk=4096))
        assert len({lane for lane, _ in replays}) == 2 * threads  # every lane of both variants replayed
        assert {on_main for _, on_main in replays} == {threads == 1}  # several lanes: on pool threads
    assert len(native_counts) == 1, native_counts


def test_int32_pitfalls(tg):
    """Why every kernel scalar is an int64 Variable and every index arithmetic int64.

    In tinygrad 0.14 a Variable of the default (weak int) type renders as a 32-bit int, and a Python
    constant past 2**31 added to an int32 tensor is cut to 32 bits, both without an error.
    """
    from tinygrad import Context, Tensor, UOp, dtypes

    far = 2**33 + 5
    with Context(DEV="CPU"):
        weak = UOp.variable("far_weak", 0, 2**40)
        wide = UOp.variable("far_wide", 0, 2**40, dtypes.int64)
        assert (Tensor.arange(2) + weak.bind(far)).dtype == dtypes.int32
        assert (Tensor.arange(2) + 2**33).tolist() == [0, 1]  # 2**33 mod 2**32
        assert (Tensor.arange(2, dtype=dtypes.int64) + wide.bind(far)).tolist() == [far, far + 1]
    for variable in (tg.FIRST_BLOCK, tg.START, tg.END, tg.KEY_LOW, tg.CHUNK_LOW, tg.LIMIT):
        assert variable.dtype == dtypes.int64
    assert tg.MAX_BLOCKS < 2**31  # the one 32-bit scalar: the CPU kernel's loop bound
    # Blocks whose counter crosses 2**32 and positions past 2**33, exactly.
    start = 2**33 - 1001
    assert tg.shared(3001, 0, start=start) == philox.shared_hits_reference(3001, 0, start)


def test_availability_names_clang(tg, monkeypatch):
    monkeypatch.setenv("CC", "/nonexistent/clang")
    reason = tg.device_unavailable_reason("cpu")
    assert "clang" in reason and "apt-get install clang" in reason and "not on PATH" in reason
    env = {key: value for key, value in os.environ.items() if key != "CC"}
    env["PATH"] = "/nonexistent"  # Debian's clang lives on PATH; the interpreter is called by its path
    result = _run(
        """
        import json, jitpi
        print(json.dumps(jitpi.availability("tinygrad")))
        """,
        env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ok, reason = json.loads(result.stdout.strip().splitlines()[-1])
    assert not ok and "'clang' is not on PATH" in reason, reason


def test_the_cache_variable_is_the_one_tinygrad_reads(tmp_path):
    """A cold first call (registry.cold_cache_environment) compiles with clang into a fresh CACHEDB;
    a second process on that file compiles nothing (tinygrad's ASSERT_COMPILE would raise)."""
    require("tinygrad")
    (cache,) = [c for c in registry.REGISTRY["tinygrad"].jit_caches]
    assert cache.variable == "CACHEDB" and cache.file
    env = registry.cold_cache_environment(str(tmp_path))
    script = """
        from jitpi.backends import tinygrad as tg
        print(tg.shared(1001, 1))
        """
    cold = _run(script, env)
    assert cold.returncode == 0, cold.stderr[-3000:]
    with sqlite3.connect(env["CACHEDB"]) as db:
        tables = [name for (name,) in db.execute("select name from sqlite_master where type = 'table'")]
        objects = sum(db.execute(f"select count(*) from '{name}'").fetchone()[0] for name in tables)
    assert any(name.startswith("compile_clang") for name in tables) and objects >= 2, tables
    warm = _run(script, {**env, "ASSERT_COMPILE": "1"})
    assert warm.returncode == 0, warm.stderr[-3000:]
    assert warm.stdout == cold.stdout


def _replaying_chunk_counts(seed: int, chunk: int, chunks: int) -> list[int]:
    """Chunk after chunk, reseeded from (seed, chunk) and drawn by a TinyJit-captured Tensor.rand."""
    from tinygrad import Context, Tensor, TinyJit, dtypes

    with Context(DEV="CPU", PARALLEL=0):

        @TinyJit
        def count() -> Tensor:
            x, y = Tensor.rand(chunk), Tensor.rand(chunk)
            return ((x * x + y * y) < 1.0).sum(dtype=dtypes.int64).realize()

        counts = []
        for index in range(chunks):
            Tensor.manual_seed(philox.splitmix64(seed * chunks + index) & philox.MASK32)
            counts.append(int(count().item()))
    return counts


def _passes_the_statistics(counts: list[int], chunk: int) -> bool:
    """jitpi's accuracy checks: |z| < 5 for the whole run, and sum(z**2) over chunks not in either tail."""
    statistic, dof = dispersion(z_score(count, chunk) for count in counts)
    whole = z_score(sum(counts), chunk * len(counts))
    return abs(whole) < 5 and 1e-4 < chi2_sf(statistic, dof) < 1 - 1e-4


def test_replayed_rand_fails_the_statistics_and_native_passes(tg):
    """After its capture a TinyJit ignores Tensor.manual_seed and every replay draws the capture
    call's samples again. With 256 repeats of one count no z can pass both checks; native keys each
    chunk through its inputs and passes them."""
    chunk, chunks = 1 << 14, 256
    replayed = _replaying_chunk_counts(3, chunk, chunks)
    assert len(set(replayed[1:])) == 1, replayed[:8]  # every replay repeats the capture call
    assert not _passes_the_statistics(replayed, chunk)

    native = [tg.native(chunk, 3, start=index * chunk, chunk=chunk) for index in range(chunks)]
    assert len(set(native)) > chunks // 4  # consecutive chunks differ
    assert _passes_the_statistics(native, chunk)
    assert tg.native(chunk * chunks, 3, chunk=chunk) == sum(native)  # deterministic, split or whole


def test_gpu_forms_count_exactly_on_the_cpu(tg):
    """The GPU kernels' graphs (uint32 words, a fixed grid of rows, partial sums) run on the CPU."""
    for counter, key, expected in philox.KNOWN_ANSWERS:
        assert tg.philox_words([counter], key, words=tg.GPU_WORDS) == [expected]
    blocks, n, start, seed = 4096, 3 * 8192 + 5, 2**33 - 3, 2**64 - 1
    low, high = philox.split_seed(seed)
    constants = (tg.START.bind(start), tg.END.bind(start + n), tg.KEY_LOW.bind(low), tg.KEY_HIGH.bind(high))
    first, end = philox.block_range(start, n)
    with tg._lock, tg._working("cpu"):
        kernel = tg.Kernel(tg._shared_grid_body(blocks, tg.GPU_WORDS), "CPU", 1)
        jobs = tg._shared_jobs(first, end - first, blocks, constants, grid=True)
        assert kernel.run([jobs]) == philox.shared_hits_reference(n, seed, start)
        rows = tg.Kernel(tg._native_body(4096, 64), "CPU", 1)
        plan = tg.ChunkPlan(0, n, 4096)
        keys = (tg.KEY_LOW.bind(5), tg.KEY_HIGH.bind(0))
        counted = rows.run([tg._native_jobs(plan, keys, 0, plan.end_chunk)])
    assert counted == tg.native(n, 5, chunk=4096)


def test_gpu_kernels_render_to_ptx(tmp_path):
    """tinygrad's own PTX renderer (no GPU, no CUDA toolkit): a grid of parallel rows, int64 scalars."""
    require("tinygrad")
    env = {**os.environ, "DEV": "MOCK+NULL:PTX:sm_80", "CACHEDB": str(tmp_path / "cache.db")}
    result = _run(
        """
        import json
        from tinygrad import Context
        from tinygrad.codegen import to_program_cache
        from jitpi import philox
        from jitpi.backends import tinygrad as tg

        with Context(PARALLEL=0):
            shared = tg.Lane(tg._shared_grid_body(1 << 18, tg.GPU_WORDS), "NULL")
            native = tg.Lane(tg._native_body(1 << 18, 1 << 12), "NULL")
            key = (tg.KEY_LOW.bind(1), tg.KEY_HIGH.bind(2))
            for _ in range(2):  # an eager call and the capture
                shared(tg.FIRST_BLOCK.bind(0), tg.START.bind(0), tg.END.bind(9), *key)
                native(*key, tg.CHUNK_LOW.bind(3), tg.CHUNK_HIGH.bind(0), tg.LIMIT.bind(9))
        sources = [s.arg for p in to_program_cache.values() for s in p.src if s.op.name == "SOURCE"]
        print(json.dumps(sources))
        """,
        env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    sources = json.loads(result.stdout.strip().splitlines()[-1])
    assert sources and all(".entry" in source for source in sources)
    # Both variants' main kernels run on a grid of blocks and take the int64 Variables as s64.
    heavy = [source for source in sources if "%ctaid.x" in source and ".param .s64" in source]
    assert len(heavy) >= 2, [source.split("(")[0] for source in sources]
    assert any(source.count("mul.lo.u64") >= 20 for source in heavy)  # Philox's 32 x 32 -> 64 products


@pytest.mark.gpu
def test_gpu_counts():
    """On a GPU: the shared stream equals the reference (blocks past 2**32 too), native is
    deterministic and unbiased, and a run of 2**32 + 7 samples near 2**40 keeps |z| < 5."""
    require("tinygrad", "gpu")
    from jitpi.backends import tinygrad as tg

    n, start = 10**7 + 3, 2**32 - 5_000_001
    assert tg.shared(n, 5, device="gpu", start=start) == philox.shared_hits_reference(n, 5, start)
    assert tg.shared(1001, 5, device="gpu", chunk=1002) == philox.shared_hits_reference(1001, 5)
    hits = tg.native(n, 5, device="gpu")
    assert hits == tg.native(n, 5, device="gpu") and abs(z_score(hits, n)) < 5
    far = tg.shared(2**32 + 7, 9, device="gpu", start=2**40 - 2**32 - 7)
    assert abs(z_score(far, 2**32 + 7)) < 5
