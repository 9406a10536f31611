"""warp: NVIDIA Warp kernels, JIT-compiled to native code by Warp's own Clang/LLVM on the CPU and by
NVRTC on a CUDA GPU.

``native`` draws with Warp's own generator (``wp.rand_init`` / ``wp.randf``, a PCG hash with a 32-bit
state), one state per coordinate, indexed by the sample's position; ``shared`` is Philox4x32-10
(``jitpi.philox``'s layout), on the CPU on 32-bit words held in uint64 lanes (which LLVM vectorises),
on a GPU on uint32 words; ``naive`` fills whole float32 arrays of x and y with ``wp.randf``, as
the founding article does.
One CPU launch runs on one thread, and ``wp.launch`` releases the GIL, so the host splits a count
into batches of lanes that a pool of Python threads launches. Design notes, measurements and the
generated code: ``docs/backends/warp.md``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import warp as wp

from jitpi import philox
from jitpi.backends import available_memory_bytes, cpu_threads, naive_limit
from jitpi.contract import Backend, Chunks, Words
from jitpi.registry import BackendUnavailable

EXACT_FROM = (1, 16)
"""The oldest Warp release whose CPU launches counted these kernels exactly in every process tried:
older releases are refused rather than trusted (what the older ones did: docs/backends/warp.md,
"Releases")."""

if tuple(int(part) for part in wp.config.version.split(".")[:2]) < EXACT_FROM:
    raise ImportError(
        f"warp-lang {wp.config.version} is older than {'.'.join(map(str, EXACT_FROM))}, the first release "
        "whose CPU launches count jitpi's kernels exactly (docs/releases.md); pip install 'jitpi[warp]'"
    )

CHUNKS = Chunks(
    native=1 << 18,  # samples per kernel lane (one Warp thread index) on the CPU
    shared=1 << 18,
    gpu=1 << 12,  # samples per GPU thread: n = 1e9 is 2.4e5 threads, about one wave on an H100/H200
    largest=1 << 30,
    largest_why="a lane's loop counter and hit count are int32 in the kernel",
)
LANES_PER_LAUNCH = 1 << 20
"""At most this many lanes in one launch (``wp.tid()`` is an int32): 2**32 samples on a GPU."""
BATCHES_PER_THREAD = 4
"""CPU: lanes are launched in about this many batches per thread, so a busy core delays no one."""
EPOCH = 1 << 32
"""native: ``wp.rand_init`` takes an int32 offset, so the stream is keyed afresh every 2**32 samples."""
NAIVE_BYTES_PER_SAMPLE = 8
"""naive: x and y as float32 arrays."""
NAIVE_LARGEST_N = (1 << 31) - 1
"""naive: one Warp thread per sample, and ``wp.tid()`` and ``wp.rand_init``'s offset are int32."""
HALF_STEP = 2.0**-25
"""``wp.randf`` returns k * 2**-24; adding half a step centres each value in its cell, exactly."""

_DRIVER_NOTICE = "Could not find or load the NVIDIA CUDA driver"


def _initialise() -> str:
    """``wp.init()`` without Warp's banner; returns what its native library wrote to stderr.

    Warp logs every module load at its default log level, so a default level is raised to warnings
    (a level the caller set is kept). Without a CUDA driver the library prints a notice to file
    descriptor 2; it is kept for ``device_unavailable_reason`` and anything else is passed on.
    """
    if wp.config.log_level == wp.LOG_INFO:
        wp.config.log_level = wp.LOG_WARNING
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            wp.init()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        text = captured.read().decode(errors="replace")
    others = "".join(line for line in text.splitlines(keepends=True) if _DRIVER_NOTICE not in line)
    if others:
        sys.stderr.write(others)
    return text


_INIT_NOTICE = _initialise()
_CPU = "cpu"
_GPU = "cuda"  # Warp's name for the current CUDA device


def _warp_device(device: str) -> str:
    return _GPU if device == "gpu" else _CPU


# ---------------------------------------------------------------------------------------------
# Kernels. Warp compiles a kernel from its Python source to C++, and a Warp function takes typed
# values only, never a Python callable, so the round logic is written here rather than taken from
# ``jitpi.philox.rounds``. Loops over samples are ``while`` loops: a ``for ... in range(count)``
# loop goes through Warp's range iterator, which LLVM did not vectorise.

_MULTIPLIER_A = wp.constant(wp.uint64(philox.MULTIPLIER_A))
_MULTIPLIER_B = wp.constant(wp.uint64(philox.MULTIPLIER_B))
_KEY_INCREMENT_A = wp.constant(wp.uint64(philox.KEY_INCREMENT_A))
_KEY_INCREMENT_B = wp.constant(wp.uint64(philox.KEY_INCREMENT_B))
_KEY_INCREMENT_A32 = wp.constant(wp.uint32(philox.KEY_INCREMENT_A))
_KEY_INCREMENT_B32 = wp.constant(wp.uint32(philox.KEY_INCREMENT_B))
_LOW32 = wp.constant(wp.uint64(philox.MASK32))
_SHIFT32 = wp.constant(wp.uint64(32))
_INSIDE_BOUND = wp.constant(wp.int64(philox.INSIDE_BOUND))
_HALF_STEP = wp.constant(wp.float64(HALF_STEP))


@wp.func
def _philox_lanes(c0: wp.uint64, c1: wp.uint64, c2: wp.uint64, c3: wp.uint64, k0: wp.uint64, k1: wp.uint64):
    """Philox4x32-10 on 32-bit words held in uint64 lanes (keys below 2**32): the CPU's form.

    Only the low 32 bits of each returned word are Philox's: a word is masked where it enters a
    multiply (one ``vpmuludq`` per product), and the readers take its low half.
    """
    for _ in range(10):
        product_a = (c0 & _LOW32) * _MULTIPLIER_A
        product_b = (c2 & _LOW32) * _MULTIPLIER_B
        next_c0 = (product_b >> _SHIFT32) ^ c1 ^ k0
        next_c2 = (product_a >> _SHIFT32) ^ c3 ^ k1
        c1 = product_b
        c3 = product_a
        c0 = next_c0
        c2 = next_c2
        k0 = (k0 + _KEY_INCREMENT_A) & _LOW32
        k1 = (k1 + _KEY_INCREMENT_B) & _LOW32
    return c0, c1, c2, c3


@wp.func
def _philox_words(c0: wp.uint32, c1: wp.uint32, c2: wp.uint32, c3: wp.uint32, k0: wp.uint32, k1: wp.uint32):
    """Philox4x32-10 on uint32 words: the GPU's form. Each product is a zero-extended word times a
    32-bit constant, which NVRTC compiles to one ``mul.wide.u32`` (the CPU's form gave ``mul.lo.s64``)."""
    for _ in range(10):
        product_a = wp.uint64(c0) * _MULTIPLIER_A
        product_b = wp.uint64(c2) * _MULTIPLIER_B
        next_c0 = wp.uint32(product_b >> _SHIFT32) ^ c1 ^ k0
        next_c2 = wp.uint32(product_a >> _SHIFT32) ^ c3 ^ k1
        c1 = wp.uint32(product_b)
        c3 = wp.uint32(product_a)
        c0 = next_c0
        c2 = next_c2
        k0 = k0 + _KEY_INCREMENT_A32
        k1 = k1 + _KEY_INCREMENT_B32
    return c0, c1, c2, c3


@wp.func
def _low_signed(word: wp.uint64) -> wp.int64:
    """The low 32 bits of a lane as the signed 32-bit integer they encode."""
    return wp.int64(wp.int32(word))


@wp.func
def _inside(x_word: wp.uint64, y_word: wp.uint64) -> wp.int32:
    """``jitpi.philox.inside_test`` on the low halves of two lanes, exactly in int64."""
    x = _low_signed(x_word)
    y = _low_signed(y_word)
    return wp.where(x * x < _INSIDE_BOUND - y * y, 1, 0)


@wp.func
def _block_hits_lanes(block: wp.int64, k0: wp.uint32, k1: wp.uint32, opaque_zero: wp.uint64):
    """Hits of the even and the odd sample of one Philox block, with the CPU's round function.

    ``opaque_zero`` is 0 at run time: xored into the y words, it keeps LLVM from folding the sign
    extension of a product's low half into a 64-bit multiply, so each square is one ``vpmuldq``.
    """
    counter = wp.uint64(block)
    zero = wp.uint64(0)
    w0, w1, w2, w3 = _philox_lanes(counter, counter >> _SHIFT32, zero, zero, wp.uint64(k0), wp.uint64(k1))
    return _inside(w0, w1 ^ opaque_zero), _inside(w2, w3 ^ opaque_zero)


@wp.func
def _block_hits_words(block: wp.int64, k0: wp.uint32, k1: wp.uint32, opaque_zero: wp.uint64):
    """Hits of the even and the odd sample of one Philox block, with the GPU's round function.

    The keys arrive as uint32: truncating uint64 keys here made NVRTC keep every word in 64-bit
    registers (``mul.lo.s64`` and ``xor.b64`` instead of ``mul.wide.u32`` and ``xor.b32``).
    """
    counter = wp.uint64(block)
    zero = wp.uint32(0)
    w0, w1, w2, w3 = _philox_words(wp.uint32(counter), wp.uint32(counter >> _SHIFT32), zero, zero, k0, k1)
    return _inside(wp.uint64(w0), wp.uint64(w1)), _inside(wp.uint64(w2), wp.uint64(w3))


def _shared_kernel(block_hits):
    """The shared variant's kernel around one round function (Warp builds one module per kernel)."""

    @wp.kernel(enable_backward=False, module="unique")
    def shared_kernel(
        first_block: wp.int64,
        end_block: wp.int64,
        blocks_per_lane: wp.int32,
        dropped_even: wp.int64,
        dropped_odd: wp.int64,
        k0: wp.uint32,
        k1: wp.uint32,
        opaque_zero: wp.uint64,
        hits: wp.array(dtype=wp.int64),
    ):
        """Hits of both samples of this lane's Philox blocks, less the even sample of block
        ``dropped_even`` and the odd one of ``dropped_odd`` (-1: none), the edges of an odd range.

        The loop keeps no mask and counts in int32 (a lane holds at most 2**30 samples): both cost
        a third of the throughput when the loop carried them.
        """
        lane_first = first_block + wp.int64(wp.tid()) * wp.int64(blocks_per_lane)
        count = wp.int32(wp.min(wp.int64(blocks_per_lane), end_block - lane_first))
        total = wp.int32(0)
        i = wp.int32(0)
        while i < count:
            even_hit, odd_hit = block_hits(lane_first + wp.int64(i), k0, k1, opaque_zero)
            total += even_hit + odd_hit
            i += 1
        lane_end = lane_first + wp.int64(count)
        if dropped_even >= lane_first and dropped_even < lane_end:
            even_hit, odd_hit = block_hits(dropped_even, k0, k1, opaque_zero)
            total -= even_hit
        if dropped_odd >= lane_first and dropped_odd < lane_end:
            even_hit, odd_hit = block_hits(dropped_odd, k0, k1, opaque_zero)
            total -= odd_hit
        wp.atomic_add(hits, 0, wp.int64(total))

    return shared_kernel


SHARED_KERNELS = {"cpu": _shared_kernel(_block_hits_lanes), "gpu": _shared_kernel(_block_hits_words)}
"""Each device's shared kernel; either runs on either device, counting the same hits."""


@wp.kernel(enable_backward=False, module="unique")
def _native_kernel(
    first: wp.int64,
    end: wp.int64,
    samples_per_lane: wp.int32,
    seed_x: wp.int32,
    seed_y: wp.int32,
    hits: wp.array(dtype=wp.int64),
):
    """Hits of samples [first, end) of one epoch (positions within it, so below 2**32) in this lane.

    Each coordinate has its own Warp generator state, ``wp.rand_init(seed, offset)`` with the
    sample's position as offset; the inside test is exact in float64 (squares of multiples of 2**-25).
    """
    lane_first = first + wp.int64(wp.tid()) * wp.int64(samples_per_lane)
    count = wp.int32(wp.min(wp.int64(samples_per_lane), end - lane_first))
    total = wp.int32(0)
    i = wp.int32(0)
    while i < count:
        offset = wp.int32(wp.uint32(wp.uint64(lane_first + wp.int64(i)) & _LOW32))
        state_x = wp.rand_init(seed_x, offset)
        state_y = wp.rand_init(seed_y, offset)
        x = wp.float64(wp.randf(state_x)) + _HALF_STEP
        y = wp.float64(wp.randf(state_y)) + _HALF_STEP
        total += wp.where(x * x + y * y < wp.float64(1.0), 1, 0)
        i += 1
    wp.atomic_add(hits, 0, wp.int64(total))


@wp.kernel(enable_backward=False, module="jitpi_warp_naive")
def _naive_fill(seed: wp.int32, x: wp.array(dtype=wp.float32), y: wp.array(dtype=wp.float32)):
    """The article's arrays: one Warp generator per sample, ``wp.rand_init(seed, i)``."""
    i = wp.tid()
    state = wp.rand_init(seed, i)
    x[i] = wp.randf(state)
    y[i] = wp.randf(state)


@wp.kernel(enable_backward=False, module="jitpi_warp_naive")
def _naive_count(
    x: wp.array(dtype=wp.float32), y: wp.array(dtype=wp.float32), hits: wp.array(dtype=wp.int64)
):
    """The article's reduction (compared in float64, so no FMA contraction changes a count)."""
    i = wp.tid()
    xi = wp.float64(x[i])
    yi = wp.float64(y[i])
    if xi * xi + yi * yi < wp.float64(1.0):
        wp.atomic_add(hits, 0, wp.int64(1))


@wp.kernel(enable_backward=False, module="unique")
def _philox_words_kernel(
    counters: wp.array(dtype=wp.uint32, ndim=2),
    k0: wp.uint64,
    k1: wp.uint64,
    lanes: wp.array(dtype=wp.uint32, ndim=2),
    words: wp.array(dtype=wp.uint32, ndim=2),
):
    """Both round functions on raw counters: the CPU's into ``lanes``, the GPU's into ``words``."""
    i = wp.tid()
    l0, l1, l2, l3 = _philox_lanes(
        wp.uint64(counters[i, 0]),
        wp.uint64(counters[i, 1]),
        wp.uint64(counters[i, 2]),
        wp.uint64(counters[i, 3]),
        k0,
        k1,
    )
    lanes[i, 0] = wp.uint32(l0 & _LOW32)
    lanes[i, 1] = wp.uint32(l1 & _LOW32)
    lanes[i, 2] = wp.uint32(l2 & _LOW32)
    lanes[i, 3] = wp.uint32(l3 & _LOW32)
    w0, w1, w2, w3 = _philox_words(
        counters[i, 0], counters[i, 1], counters[i, 2], counters[i, 3], wp.uint32(k0), wp.uint32(k1)
    )
    words[i, 0] = w0
    words[i, 1] = w1
    words[i, 2] = w2
    words[i, 3] = w3


# ---------------------------------------------------------------------------------------------
# Loading, threads and launches.

_lock = threading.Lock()
_ready: set[tuple[str, str]] = set()
_pool: ThreadPoolExecutor | None = None
_pool_key: tuple[int, int] = (0, 0)


def _load(kernel, device: str) -> None:
    """Build (or read from Warp's kernel cache) the kernel's module for ``device``, once.

    Each variant's kernels form a module of their own, so a first call builds one module, and
    loading it here, before any thread launches, keeps the build out of the worker threads.
    """
    key = (kernel.module.name, device)
    if key in _ready:
        return
    with _lock:
        if key not in _ready:
            reason = device_unavailable_reason(device)
            if reason is not None:
                raise BackendUnavailable("warp", device, reason)
            wp.load_module(kernel.module, device=_warp_device(device))
            _ready.add(key)


def compile_count() -> int:
    """Kernel modules made ready in this process, one per variant and device: each built by Warp's
    compiler, or read from its kernel cache where that already holds it."""
    return len(_ready)


def _threads_pool(threads: int) -> ThreadPoolExecutor:
    """The launching threads, made afresh when the thread count changes or in a forked child
    (which inherits the pool but not its threads)."""
    global _pool, _pool_key
    with _lock:
        if _pool is None or _pool_key != (threads, os.getpid()):
            if _pool is not None and _pool_key[1] == os.getpid():
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="jitpi-warp")
            _pool_key = (threads, os.getpid())
        return _pool


Launch = tuple[int, int, tuple]
"""(first unit, end unit, the kernel's other inputs) of one range of work."""


def _count(kernel, device: str, ranges: Sequence[Launch], per_lane: int) -> int:
    """Hits of every range, each cut into lanes of ``per_lane`` units (samples or Philox blocks).

    On the CPU the lanes go in batches to a pool of ``cpu_threads()`` Python threads, one launch
    each; on a GPU, one launch per ``LANES_PER_LAUNCH`` lanes. Each launch adds its lanes' hits to
    an int64 of its own, so the sum is exact and independent of the split.
    """
    _load(kernel, device)
    target = _warp_device(device)
    threads = cpu_threads() if device == "cpu" else 1
    batches = []
    total_lanes = sum(-(-(end - first) // per_lane) for first, end, _ in ranges)
    lanes_per_batch = max(1, min(LANES_PER_LAUNCH, -(-total_lanes // (threads * BATCHES_PER_THREAD))))
    if device != "cpu":
        lanes_per_batch = LANES_PER_LAUNCH
    for first, end, inputs in ranges:
        units_per_batch = lanes_per_batch * per_lane
        for batch_first in range(first, end, units_per_batch):
            batch_end = min(batch_first + units_per_batch, end)
            batches.append((-(-(batch_end - batch_first) // per_lane), batch_first, batch_end, inputs))

    def launch(batch) -> int:
        lanes, batch_first, batch_end, inputs = batch
        hits = wp.zeros(1, dtype=wp.int64, device=target)
        wp.launch(
            kernel,
            dim=lanes,
            inputs=[wp.int64(batch_first), wp.int64(batch_end), wp.int32(per_lane), *inputs, hits],
            device=target,
        )
        return int(hits.numpy()[0])

    if threads == 1 or len(batches) == 1:
        return sum(launch(batch) for batch in batches)
    return sum(_threads_pool(threads).map(launch, batches))


# ---------------------------------------------------------------------------------------------
# Variants.


def shared(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    """Hits among samples [start, start + n) of the shared Philox stream; any start works."""
    blocks_per_lane = max(1, CHUNKS.pick(chunk, "shared", device) // 2)
    return _shared_hits(SHARED_KERNELS[device], device, n, seed, start, blocks_per_lane)


def _shared_hits(kernel, device: str, n: int, seed: int, start: int, blocks_per_lane: int) -> int:
    first_block, end_block = philox.block_range(start, n)
    k0, k1 = philox.split_seed(seed)
    dropped_even = first_block if start % 2 else -1  # the first block's even sample precedes start
    dropped_odd = end_block - 1 if (start + n) % 2 else -1  # the last block's odd one is past the end
    inputs = (wp.int64(dropped_even), wp.int64(dropped_odd), wp.uint32(k0), wp.uint32(k1), wp.uint64(0))
    return _count(kernel, device, [(first_block, end_block, inputs)], blocks_per_lane)


def native_seeds(seed: int, epoch: int) -> tuple[int, int]:
    """The ``wp.rand_init`` seeds (as uint32) of x and y for samples [epoch * 2**32, (epoch + 1) * 2**32).

    Sample ``i`` draws x from ``rand_init(seed_x, i mod 2**32)`` and y from ``rand_init(seed_y, ...)``.
    ``seed_y - seed_x`` is odd and differs between epochs (``2 * (d + epoch) + 1`` for a per-seed
    ``d``), so no two samples of one seed share both generator states, whatever n. See the design
    notes for what two different seeds can share.
    """
    seed_x = philox.splitmix64((seed + epoch * philox.SPLITMIX_GAMMA) & philox.MASK64) & philox.MASK32
    spread = philox.splitmix64(seed ^ philox.SPLITMIX_MUL2) >> 32
    seed_y = (seed_x + 2 * (spread + epoch) + 1) & philox.MASK32
    return seed_x, seed_y


def _as_int32(word: int) -> int:
    return word - (1 << 32) if word & 0x80000000 else word


def native(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    """Hits among samples [start, start + n) of Warp's generator keyed by ``seed``; any start works."""
    per_lane = CHUNKS.pick(chunk, "native", device)
    end = start + n
    ranges = []
    for epoch in range(start // EPOCH, (end - 1) // EPOCH + 1):
        base = epoch * EPOCH
        seed_x, seed_y = native_seeds(seed, epoch)
        inputs = (wp.int32(_as_int32(seed_x)), wp.int32(_as_int32(seed_y)))
        ranges.append((max(start, base) - base, min(end, base + EPOCH) - base, inputs))
    return _count(_native_kernel, device, ranges, per_lane)


def naive_max_n(device: str = "cpu") -> int:
    if device == "gpu" and wp.is_cuda_available():
        memory = wp.get_device(_GPU).free_memory
    else:
        memory = available_memory_bytes()
    return min(NAIVE_LARGEST_N, naive_limit(NAIVE_BYTES_PER_SAMPLE, memory))


def naive(n: int, seed: int, *, device: str = "cpu") -> int:
    """The article's whole arrays: n float32 x and y from ``wp.randf``, then the count.

    ``wp.rand_init`` takes an int32 seed: the naive stream is keyed by ``seed mod 2**32``.
    """
    if n > NAIVE_LARGEST_N:
        raise ValueError(f"n={n} is above {NAIVE_LARGEST_N}, the largest the naive warp variant accepts")
    _load(_naive_fill, device)
    target = _warp_device(device)
    x = wp.empty(n, dtype=wp.float32, device=target)
    y = wp.empty(n, dtype=wp.float32, device=target)
    hits = wp.zeros(1, dtype=wp.int64, device=target)
    wp.launch(_naive_fill, dim=n, inputs=[wp.int32(_as_int32(seed & philox.MASK32)), x, y], device=target)
    wp.launch(_naive_count, dim=n, inputs=[x, y, hits], device=target)
    return int(hits.numpy()[0])


# ---------------------------------------------------------------------------------------------
# What the backend says of itself.


def device_unavailable_reason(device: str) -> str | None:
    version = wp.config.version
    if device == "cpu":
        if wp.is_cpu_available():
            return None
        return (
            f"warp-lang {version} cannot compile CPU kernels here: its bundled Clang/LLVM library "
            f"(warp/bin/warp-clang.so) did not load; reinstall warp-lang (pip install 'jitpi[warp]')"
        )
    if wp.is_cuda_available():
        return None
    toolkit = wp.get_cuda_toolkit_version()
    if not toolkit or toolkit == (0, 0):
        return f"no CUDA GPU for Warp here: this warp-lang {version} build has no CUDA support"
    driver = wp.get_cuda_driver_version()
    if driver is None or _DRIVER_NOTICE in _INIT_NOTICE:
        detail = "the NVIDIA CUDA driver (libcuda.so) could not be loaded; a CUDA GPU needs NVIDIA's driver"
    else:
        detail = f"CUDA driver {driver[0]}.{driver[1]} sees no CUDA device"
    return (
        f"no CUDA GPU for Warp here (warp-lang {version}, CUDA toolkit {toolkit[0]}.{toolkit[1]}: {detail}); "
        f"Warp's NVRTC still compiles its CUDA kernels to PTX without one"
    )


def describe(device: str) -> str:
    version = wp.config.version
    if device == "gpu":
        gpu = wp.get_device(_GPU)
        return (
            f"warp {version}, CUDA kernels compiled by NVRTC for {gpu.name} (sm_{gpu.arch}), "
            f"{CHUNKS.gpu} samples per GPU thread"
        )
    threads = cpu_threads()
    target = "this CPU's features" if "-march=native" in (wp.config.cpu_compiler_flags or "") else "generic"
    return (
        f"warp {version}, JIT-compiled by Warp's own Clang/LLVM ({target}), {threads} "
        f"thread{'s' if threads != 1 else ''} (one single-threaded Warp launch per Python thread)"
    )


def philox_words(counters: Sequence[Words], key: tuple[int, int]) -> list[Words]:
    """Raw Philox4x32-10 words of the shared kernels' round functions, run on the CPU.

    Returns the CPU's form, and raises if the GPU's form (uint32 words) gives other words, so
    checking this hook checks both.
    """
    _load(_philox_words_kernel, "cpu")
    array = wp.array(np.asarray(counters, dtype=np.uint32).reshape(-1, 4), dtype=wp.uint32, device=_CPU)
    lanes = wp.zeros(array.shape, dtype=wp.uint32, device=_CPU)
    words = wp.zeros(array.shape, dtype=wp.uint32, device=_CPU)
    k0, k1 = (word & philox.MASK32 for word in key)
    inputs = [array, wp.uint64(k0), wp.uint64(k1), lanes, words]
    wp.launch(_philox_words_kernel, dim=array.shape[0], inputs=inputs, device=_CPU)
    cpu_form, gpu_form = lanes.numpy(), words.numpy()
    if not np.array_equal(cpu_form, gpu_form):
        raise RuntimeError(
            f"the CPU and GPU round functions disagree: {cpu_form.tolist()} != {gpu_form.tolist()}"
        )
    return [tuple(int(word) for word in row) for row in cpu_form]


BACKEND = Backend(
    name="warp",
    describe=describe,
    kernels={"naive": naive, "native": native, "shared": shared},
    chunks=CHUNKS,
    philox_words=philox_words,
    devices=("cpu", "gpu"),
    device_unavailable_reason=device_unavailable_reason,
    naive_max_n=naive_max_n,
    compile_count=compile_count,
)
