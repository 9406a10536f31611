"""mojo-specific properties: the cold compile that ``MODULAR_CACHE_DIR`` gives (each variant one
module, built in that folder and read back by the next process), counts that the thread count does
not change (and two threads doing the work), the shared stream at odd starts, around 2**32 blocks
and near 2**40 and the masked last vector of a task, native and naive against pure-Python models
of Mojo's generator, the vector multiplies in the generated code, and what the backend says when
something is missing."""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import require

import jitpi
from jitpi import philox, registry

ROOT = Path(jitpi.__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def backend():
    require("mojo")
    registry.load("mojo")
    from jitpi.backends import mojo as module

    return module


def _run(script: str, env: dict[str, str]) -> dict:
    env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# The cache.


def test_modular_cache_dir_gives_a_cold_compile_and_the_next_process_reads_it_back(tmp_path):
    """``registry.cold_cache_environment`` points ``MODULAR_CACHE_DIR`` at an empty folder: the first
    shared call compiles the shared module there (and only it), Mojo's own compile cache fills the
    same folder, nothing is built beside the package's sources, and a second process loads the
    library the first built instead of compiling again."""
    require("mojo")
    assert [cache.variable for cache in registry.REGISTRY["mojo"].jit_caches] == ["MODULAR_CACHE_DIR"]
    env = registry.cold_cache_environment(str(tmp_path / "caches"))
    folder = Path(env["MODULAR_CACHE_DIR"])
    assert folder.is_dir() and not any(folder.iterdir())
    script = textwrap.dedent(
        """
        import json, os, time
        began = time.perf_counter()
        import jitpi
        from jitpi import registry
        backend = registry.load("mojo")
        hits = jitpi.count_hits(100_003, backend="mojo", variant="shared", seed=3)
        seconds = time.perf_counter() - began
        from jitpi.backends import mojo
        root = os.environ["MODULAR_CACHE_DIR"]
        libraries = {}
        for path, _, files in os.walk(root):
            for name in files:
                if name.endswith(".so"):
                    libraries[os.path.join(path, name)] = os.stat(os.path.join(path, name)).st_mtime_ns
        own = sum(len(files) for _, _, files in os.walk(os.path.join(root, ".mojo_cache")))
        print(json.dumps({"hits": hits, "seconds": seconds, "libraries": libraries, "own_cache": own,
                          "folder": str(mojo.cache_folder()), "loaded": backend.compile_count()}))
        """
    )
    cold, warm = _run(script, env), _run(script, env)
    assert cold["hits"] == warm["hits"] == philox.shared_hits_reference(100_003, 3)
    assert cold["folder"] == str(folder / "jitpi")
    (library,) = cold["libraries"]  # the shared module alone
    assert library.startswith(
        str(folder / "jitpi" / "jitpi_mojo_shared" / "__mojocache__" / "jitpi_mojo_shared.")
    )
    assert cold["own_cache"] > 0  # the compiler's own cache (.mojo_cache) moved with the variable
    assert warm["libraries"] == cold["libraries"]  # read back, not rebuilt
    assert cold["loaded"] == warm["loaded"] == 1
    assert warm["seconds"] < cold["seconds"] / 2, (cold["seconds"], warm["seconds"])
    from jitpi.backends import mojo  # the sources stay as shipped: nothing compiled beside them

    assert sorted(path.name for path in mojo.SOURCES.iterdir()) == sorted(
        f"{name}.mojo" for name in mojo.MODULES.values()
    )


def test_a_compile_error_names_the_versions_the_sources_are_written_for(backend, tmp_path, monkeypatch):
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "jitpi_mojo_shared.mojo").write_text("fn gone():\n    pass\n")  # `fn` left the language
    monkeypatch.setattr(backend, "SOURCES", sources)
    monkeypatch.setattr(backend, "cache_folder", lambda: tmp_path / "cache")
    monkeypatch.setattr(backend, "_modules", {})
    monkeypatch.delitem(sys.modules, "jitpi_mojo_shared", raising=False)
    with pytest.raises(RuntimeError, match=r"written for mojo 1\.2\.0 and max 26\.7\.0.*jitpi\[mojo\]"):
        backend._module("shared")
    assert str(tmp_path / "cache" / "jitpi_mojo_shared") not in sys.path


def test_loading_a_module_leaves_the_environment_as_it_was(tmp_path):
    """Mojo's runtime sets PYTHONEXECUTABLE (the ``python3`` on PATH), PYTHONPATH and
    MOJO_PYTHON_LIBRARY in the C environment when it loads a module; the backend puts them back, so
    a child process of a virtual environment's Python still starts in that environment."""
    require("mojo")
    script = textwrap.dedent(
        """
        import ctypes, json, subprocess, sys
        libc = ctypes.CDLL(None)
        libc.getenv.restype = ctypes.c_char_p
        from jitpi.backends import mojo
        read = lambda: {name: (libc.getenv(name.encode()) or b"").decode() for name in mojo.MOJO_ENVIRONMENT}
        before = read()
        for variant in ("shared", "native", "naive"):
            mojo.BACKEND.kernel(variant)(1001, 3)
        child = "import importlib.util, sys; print(sys.prefix, importlib.util.find_spec('mojo') is not None)"
        done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True)
        after = read()
        child = done.stdout.split()
        print(json.dumps({"before": before, "after": after, "child": child, "prefix": sys.prefix}))
        """
    )
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "MOJO_PYTHON")}
    result = _run(script, env)
    assert result["after"] == result["before"], result
    assert result["child"] == [result["prefix"], "True"], result


# ---------------------------------------------------------------------------------------------
# Threads.


def _thread_ticks() -> dict[str, int]:
    """CPU time (clock ticks) each thread of this process has used so far."""
    ticks = {}
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # a thread that ended
            continue
        ticks[task] = int(fields[11]) + int(fields[12])
    return ticks


def test_thread_count_changes_nothing(backend, monkeypatch):
    counts = {}
    for threads in (1, 2, 3):
        monkeypatch.setenv("JITPI_THREADS", str(threads))
        counts[threads] = (
            backend.shared(400_003, 7, start=3, chunk=1000),
            backend.native(400_003, 7, start=3, chunk=1000),
        )
    assert len(set(counts.values())) == 1, counts
    assert counts[1][0] == philox.shared_hits_reference(400_003, 7, 3)


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux's /proc")
@pytest.mark.parametrize(("variant", "n"), [("shared", 3 * 10**8), ("native", 2 * 10**7)])
def test_two_threads_do_the_work(backend, monkeypatch, variant, n):
    """With two threads, MAX's runtime runs the tasks on two threads of its own, both busy."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("this process may run on one core only")
    monkeypatch.setenv("JITPI_THREADS", "2")
    kernel = getattr(backend, variant)
    kernel(10_000, 1)  # the runtime's threads exist from here on
    before = _thread_ticks()
    kernel(n, 1)
    after = _thread_ticks()
    busy = [task for task, ticks in after.items() if ticks - before.get(task, 0) >= 2]
    assert len(busy) >= 2, (before, after)


# ---------------------------------------------------------------------------------------------
# shared: edges, tails and offsets against the reference.

SHARED_CASES = [
    # (n, start, chunk): odd and even starts and ends, a block index crossing 2**32 (samples
    # around 2**33), the contract's last samples, and chunks that leave every task a partial vector.
    (1, 0, None),
    (1, 1, None),
    (2, 1, None),
    (3, 5, None),
    (1001, 2**33 - 501, None),
    (1000, 2**33 - 1000, None),
    (3001, 2**40 - 3001, None),
    (2001, 2**32 - 1001, None),
    (5003, 12_345, 34),  # tasks of 17 blocks: one full vector of 16 and one lane
    (5003, 12_344, 62),  # 31 blocks: 16 and 15
    (4096, 2**40 - 4096, 1 << 20),
]


@pytest.mark.parametrize(("n", "start", "chunk"), SHARED_CASES)
def test_shared_is_the_reference_at_edges_and_far_offsets(backend, n, start, chunk):
    for seed in (0, 2**64 - 1, 2**33 + 5):
        assert backend.shared(n, seed, start=start, chunk=chunk) == philox.shared_hits_reference(
            n, seed, start
        )


@pytest.mark.parametrize("start", [0, 1])
def test_the_last_vector_is_masked(backend, start):
    """Ranges of 1 to 70 samples end anywhere in the 16-lane vector (blocks past the end must not
    count), and so do tasks of 1 to 40 blocks."""
    counts = [backend.shared(n, 11, start=start) for n in range(1, 71)]
    assert counts == [philox.shared_hits_reference(n, 11, start) for n in range(1, 71)]
    expected = philox.shared_hits_reference(2001, 11, start)
    assert {backend.shared(2001, 11, start=start, chunk=2 * blocks) for blocks in range(1, 41)} == {expected}


def test_shared_many_tasks_past_two_to_the_32_blocks(backend):
    n, start = 2_000_003, 2**33 - 1_000_001
    assert backend.shared(n, 9, start=start, chunk=4099) == philox.shared_hits_reference(n, 9, start)


# ---------------------------------------------------------------------------------------------
# native: Mojo's generator, modelled in Python.

STEP_SCALE = np.float32(4.6566127342e-10)
"""``std.random.philox.Random.step_uniform``: ``(word & 0x7FFFFFFF)`` as float32, times this float32."""


def _native_model(n: int, seed: int, start: int) -> int:
    """Sample i: step i // 2 of Random(seed=splitmix64(seed)), i.e. Philox words of counter
    (i // 2, 0, 0) under that key; lanes (0, 1) for even i, (2, 3) for odd i."""
    key = philox.split_seed(philox.splitmix64(seed))
    first_block, end_block = philox.block_range(start, n)
    blocks = np.arange(first_block, end_block, dtype=np.uint64)
    zeros = np.zeros(blocks.shape, dtype=np.uint32)
    lo, hi = (
        (blocks & np.uint64(philox.MASK32)).astype(np.uint32),
        (blocks >> np.uint64(32)).astype(np.uint32),
    )
    words = philox.philox4x32(lo, hi, zeros, zeros, *key)
    u = [(w & np.uint32(0x7FFFFFFF)).astype(np.float32) * STEP_SCALE for w in words]
    points = np.stack([np.stack([u[0], u[1]], axis=1), np.stack([u[2], u[3]], axis=1)], axis=1).reshape(-1, 2)
    points = points[start - 2 * first_block : start - 2 * first_block + n].astype(np.float64)
    return int(np.count_nonzero(points[:, 0] ** 2 + points[:, 1] ** 2 < 1.0))


@pytest.mark.parametrize("start", [0, 1, 2**32 - 7, 2**33 + 3, 2**40 - 301])
def test_native_is_mojos_generator(backend, start):
    for seed in (0, 5, 2**64 - 1):
        expected = _native_model(301, seed, start)
        for chunk in (None, 7, 64):
            assert backend.native(301, seed, start=start, chunk=chunk) == expected, (seed, start, chunk)


def test_native_splits_anywhere_and_seeds_differ(backend):
    whole = backend.native(100_001, 4)
    assert backend.native(33_333, 4) + backend.native(66_668, 4, start=33_333, chunk=999) == whole
    assert len({backend.native(10_000, seed) for seed in (0, 1, 2, 2**32, 2**64 - 1)}) == 5
    assert backend.native_key(3) == philox.splitmix64(3)


# ---------------------------------------------------------------------------------------------
# naive: seed and rand.


def _naive_model(n: int, seed: int) -> int:
    """``seed(s)``: the process's Random(seed=s) from counter 0; each float64 is two consecutive
    words (w, w') as ((w << 32 | w') >> 11) * 2**-53; x is the first n of them, y the next n."""
    blocks = np.arange(n + 1, dtype=np.uint64)  # 2n floats, two a block
    zeros = np.zeros(blocks.shape, dtype=np.uint32)
    words = philox.philox4x32(blocks.astype(np.uint32), zeros, zeros, zeros, *philox.split_seed(seed))
    flat = np.stack(words, axis=1).reshape(-1).astype(np.uint64)
    values = ((flat[0::2] << np.uint64(32) | flat[1::2]) >> np.uint64(11)).astype(np.float64) * 2.0**-53
    x, y = values[:n], values[n : 2 * n]
    return int(np.count_nonzero(x * x + y * y < 1.0))


@pytest.mark.parametrize("seed", [0, 7, 2**63 + 11, 2**64 - 1])
def test_naive_is_seed_and_rand(backend, seed):
    for n in (1, 2, 1001):
        assert backend.naive(n, seed) == _naive_model(n, seed), (n, seed)


def test_naive_is_bounded_by_memory(backend, monkeypatch):
    assert 1 <= backend.naive_max_n("cpu") <= 2**40
    monkeypatch.setattr(backend, "naive_max_n", lambda device="cpu": 1000)
    with pytest.raises(ValueError, match="naive mojo"):
        backend.naive(1001, 1)


# ---------------------------------------------------------------------------------------------
# The generated code.


def _loops(assembly: str) -> list[list[list[str]]]:
    """The instructions (split into words) of every loop: from a label to a jump back to it."""
    lines = [line.split() for line in assembly.splitlines()]
    labels, loops = {}, []
    for index, words in enumerate(lines):
        if len(words) == 1 and words[0].startswith(".LBB") and words[0].endswith(":"):
            labels[words[0][:-1]] = index
        elif len(words) == 2 and words[0].startswith("j") and labels.get(words[1], index) < index:
            body = lines[labels[words[1]] + 1 : index + 1]
            loops.append([words for words in body if words and not words[0].startswith((".", "#"))])
    return loops


@pytest.mark.skipif(platform.machine() != "x86_64", reason="reads x86-64 assembly")
def test_shared_kernel_is_vector_multiplies(backend, tmp_path, monkeypatch):
    """``mojo build --emit asm`` of the shared module: the kernel's loop computes Philox's products as
    32x32->64 vector multiplies (vpmuludq; vpmullq where LLVM could not see a word's high half is
    zero), 19 for each vector of blocks, and the exact squares as signed ones (vpmuldq), on 512-bit
    registers where the CPU has AVX-512."""
    from mojo.run import subprocess_run_mojo

    source = backend.SOURCES / "jitpi_mojo_shared.mojo"
    out = tmp_path / "shared.s"
    monkeypatch.setenv("MODULAR_CACHE_DIR", str(tmp_path / "cache"))  # read by subprocess_run_mojo
    done = subprocess_run_mojo(
        ["build", str(source), "--emit", "asm", "-o", str(out)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    kernel = min(
        (loop for loop in _loops(out.read_text()) if sum(words[0] == "vpmuludq" for words in loop) >= 19),
        key=len,
    )
    products = [words for words in kernel if words[0] in ("vpmuludq", "vpmullq")]
    squares = [words for words in kernel if words[0] == "vpmuldq"]
    vectors = 1 if "%zmm" in products[0][-1] else 2 if "%ymm" in products[0][-1] else 4  # 16 lanes of 64 bits
    assert len(products) == 19 * 2 * vectors and len(squares) == 4 * 2 * vectors, (
        len(products),
        len(squares),
    )
    assert len(kernel) < 16 * 2 * 8  # under 8 instructions a sample (175 for 32 samples with AVX-512)
    if "avx512f" in Path("/proc/cpuinfo").read_text():
        assert all("%zmm" in words[-1] for words in products + squares)


# ---------------------------------------------------------------------------------------------
# What the backend says.


def test_gpu_reason_names_the_driver(backend):
    ok, reason = jitpi.availability("mojo", "gpu")
    assert not ok and reason == backend.GPU_REASON and "driver" in reason and "CPU kernels only" in reason
    for variant in ("naive", "native", "shared"):
        with pytest.raises(jitpi.BackendUnavailable, match="CPU kernels only"):
            backend.BACKEND.kernel(variant)(10, 1, device="gpu")


def _pins() -> dict[str, str]:
    """pyproject.toml's pins, as tools/compilers_table.py reads them."""
    spec = importlib.util.spec_from_file_location(
        "jitpi_compilers_table", ROOT / "tools" / "compilers_table.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.pins(ROOT)


def test_describe_names_versions_and_threads(backend, monkeypatch):
    monkeypatch.setenv("JITPI_THREADS", "2")
    text = backend.describe("cpu")
    pins = _pins()
    assert f"mojo {pins['mojo']}" in text and f"max {pins['max']}" in text and "2 threads" in text, text
    # The Mojo sources are written for the pinned releases: a pin bump is a check of the sources too.
    assert {name: pins[name] for name in backend.TESTED_WITH} == backend.TESTED_WITH


def test_a_missing_package_is_named_with_the_extra(monkeypatch):
    """Without the max wheel (or the mojo one) the registry names it and the extra to install."""
    real = registry.importlib.util.find_spec
    for missing in ("max", "mojo"):
        monkeypatch.setattr(
            registry.importlib.util, "find_spec", lambda name, m=missing: None if name == m else real(name)
        )
        assert registry._missing_modules("mojo") == f"{missing} is not installed (pip install 'jitpi[mojo]')"


def test_a_missing_max_mojo_package_is_named(backend, tmp_path, monkeypatch):
    """The max wheel's Python package present but MAX's Mojo package (max.mojoc) absent."""
    import mojo._package_root

    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "mojo").touch()
    (tmp_path / "lib" / "mojo").mkdir(parents=True)
    monkeypatch.setattr(mojo._package_root, "get_package_root", lambda: tmp_path)
    with pytest.raises(ImportError, match=r"max\.mojoc.*parallelize.*pip install 'jitpi\[mojo\]'"):
        backend._check_installation()
    (tmp_path / "bin" / "mojo").unlink()
    with pytest.raises(ImportError, match=r"compiler .*bin/mojo.* is missing"):
        backend._check_installation()


def test_one_module_per_variant_built_once(backend):
    for variant in ("shared", "native", "naive"):
        backend.BACKEND.kernel(variant)(11, 1)
    assert backend.compile_count() == 3
    for n, start in ((1, 0), (1001, 2**32 - 7), (3, 2**40 - 3)):
        backend.native(n, 5, start=start)
        backend.shared(n, 5, start=start)
        backend.naive(n, 5)
    assert backend.compile_count() == 3
