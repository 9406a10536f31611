"""taichi: ``@ti.kernel`` functions compiled by Taichi's LLVM back end, on all cores of the CPU (or
on CUDA), over a fixed chunk of samples per parallel index.

``shared`` is Philox4x32-10 built from ``jitpi.philox.rounds`` (Taichi runs plain Python functions
at compile time, so the rounds unroll into the kernel); ``native`` is SplitMix64 by position, the
stream of numba's native variant, because ``ti.random`` is seeded only process-wide and is not
reproducible with several threads; ``naive`` materialises n float32 pairs in two ndarrays.
``ti.init`` is process-wide: this module initialises Taichi once, at the first call, for the
device asked, and refuses the other device in the same process. Design notes, measurements and
generated code: docs/backends/taichi.md.
"""

# No ``from __future__ import annotations``: Taichi evaluates the kernels' annotations (ti.i64, ...).
import contextlib
import functools
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence

from jitpi import philox
from jitpi.backends import available_memory_bytes, cpu_threads, naive_limit
from jitpi.contract import Backend, Chunks, Words
from jitpi.registry import BackendUnavailable

# Taichi prints a banner on stdout at import (it would corrupt `jitpi list --json` and asv's cold
# start, which reads a time from stdout) and asks a web server for the newest version at every
# ti.init; both stay as the user set them, off by default. Older releases (1.6.0 and 1.7.0 tried)
# know no switch for the banner: it goes to stderr.
os.environ.setdefault("ENABLE_TAICHI_HEADER_PRINT", "0")
os.environ.setdefault("TI_SKIP_VERSION_CHECK", "ON")

with contextlib.redirect_stdout(sys.stderr):
    import taichi as ti
    from taichi._lib import core as _taichi_core
    from taichi.lang import impl as _taichi_impl

CHUNKS = Chunks(
    native=4096,
    shared=4096,
    gpu=64,
    smallest=1,
    largest=2**31 - 1,
    largest_why="a parallel index runs its samples in a 32-bit Taichi loop",
)
"""Samples per parallel index: each runs an inner loop over its chunk, which LLVM vectorises."""

GROUPS_PER_LAUNCH = 2**30
"""Parallel indices per kernel launch: Taichi cuts a loop bound to int32 (with only a warning), so
the host splits longer ranges into several launches."""

NAIVE_BYTES_PER_SAMPLE = 8
NAIVE_HARD_MAX = 2**31 - 1
"""A Taichi ndarray is indexed with int32: the naive variant's arrays hold at most 2**31 - 1 floats."""

_ARCHS = {"cpu": ti.cpu, "gpu": ti.cuda}
VERSION = ".".join(str(part) for part in ti.__version__)
_MASK32 = 0xFFFFFFFF


# ---------------------------------------------------------------------------------------------
# The process-wide Taichi runtime.

_lock = threading.RLock()


def _runtime_arch():
    """The arch Taichi runs on in this process, or None before anyone called ``ti.init``."""
    runtime = _taichi_impl.get_runtime()
    return None if runtime.prog is None else _taichi_impl.current_cfg().arch


def _arch_conflict(device: str) -> str | None:
    arch = _runtime_arch()
    if arch is None or arch == _ARCHS[device]:
        return None
    return (
        f"this process already runs Taichi on {_taichi_core.arch_name(arch)} (ti.init is process-wide: "
        f"one arch per process); run device={device!r} in a process of its own"
    )


@functools.cache
def cuda_missing_reason() -> str | None:
    """Why Taichi cannot run CUDA kernels on this machine (None if it can), without ``ti.init``."""
    if _taichi_core.with_cuda():  # loads libcuda (and logs on stderr where it is missing)
        return None
    return (
        f"taichi {VERSION} finds no CUDA driver (libcuda.so) here: device='gpu' needs an NVIDIA GPU "
        f"and its driver (the taichi wheel carries the rest of CUDA)"
    )


def device_unavailable_reason(device: str) -> str | None:
    """Why ``device`` cannot run in this process, without initialising Taichi."""
    conflict = _arch_conflict(device)
    if conflict is not None or device == "cpu":
        return conflict
    return cuda_missing_reason()


def _ensure_runtime(device: str) -> None:
    """Initialise Taichi for ``device`` at the first call; check an existing runtime otherwise."""
    if _runtime_arch() == _ARCHS[device] and _taichi_impl.get_runtime().default_ip == ti.i64:
        return
    with _lock:
        reason = device_unavailable_reason(device)
        if reason is not None:
            raise BackendUnavailable("taichi", device, reason)
        if _runtime_arch() is None:
            try:
                with contextlib.redirect_stdout(sys.stderr):  # "[Taichi] Starting on arch=..."
                    ti.init(
                        arch=_ARCHS[device],
                        enable_fallback=False,
                        default_ip=ti.i64,
                        cpu_max_num_threads=cpu_threads(),
                    )
            except Exception as error:  # a driver without a usable GPU fails here
                arch = _taichi_core.arch_name(_ARCHS[device])
                why = f"ti.init(arch=ti.{arch}) failed: {type(error).__name__}: {error}"
                raise BackendUnavailable("taichi", device, why) from error
        elif _taichi_impl.get_runtime().default_ip != ti.i64:
            raise BackendUnavailable(
                "taichi",
                device,
                "Taichi was initialised in this process with 32-bit integer literals; the kernels need "
                "ti.init(..., default_ip=ti.i64), which jitpi passes when its call comes first",
            )


def _current_device() -> str | None:
    arch = _runtime_arch()
    return None if arch is None else ("cpu" if arch == ti.cpu else "gpu")


def _threads() -> int | None:
    return _taichi_impl.current_cfg().cpu_max_num_threads if _runtime_arch() is not None else None


def describe(device: str) -> str:
    version = f"taichi {VERSION} (LLVM {_taichi_core.get_llvm_target_support()})"
    if device == "gpu":
        return f"{version}, CUDA kernels compiled through LLVM's NVPTX back end; native, shared, naive"
    threads = _threads()
    if threads is None:
        threads_text = f"{cpu_threads()} threads at ti.init (the first call)"
    else:
        threads_text = f"{threads} thread{'s' if threads != 1 else ''}"
    return f"{version}, LLVM-compiled for the host CPU, {threads_text}"


# ---------------------------------------------------------------------------------------------
# Building blocks, inlined into the kernels. Words are held in u64 lanes on the CPU (LLVM then takes
# a product's low half from the same 32 x 32 -> 64 multiply) and in u32 on CUDA (PTX mul.wide.u32).


@ti.func
def _mulhilo_u64_lanes(word, multiplier: ti.template()):
    """(high, low) of a 32-bit word times a 32-bit constant; only the low 32 bits of ``low`` count."""
    product = (ti.cast(word, ti.u64) & ti.u64(_MASK32)) * ti.u64(multiplier)
    return product >> ti.u64(32), product


@ti.func
def _bump_u64_lanes(key, increment: ti.template()):
    return (key + ti.u64(increment)) & ti.u64(_MASK32)


@ti.func
def _mulhilo_u32(word, multiplier: ti.template()):
    product = ti.cast(word, ti.u64) * ti.u64(multiplier)
    return ti.cast(product >> ti.u64(32), ti.u32), ti.cast(product, ti.u32)


@ti.func
def _bump_u32(key, increment: ti.template()):
    return key + ti.u32(increment)


@ti.func
def _philox_u64_lanes(counter_low, counter_high, k0, k1):
    zero = ti.u64(0)
    return philox.rounds(
        counter_low, counter_high, zero, zero, k0, k1, mulhilo=_mulhilo_u64_lanes, bump_key=_bump_u64_lanes
    )


@ti.func
def _philox_u32(counter_low, counter_high, k0, k1):
    zero = ti.u32(0)
    c0, c1 = ti.cast(counter_low, ti.u32), ti.cast(counter_high, ti.u32)
    key0, key1 = ti.cast(k0, ti.u32), ti.cast(k1, ti.u32)
    return philox.rounds(c0, c1, zero, zero, key0, key1, mulhilo=_mulhilo_u32, bump_key=_bump_u32)


@ti.func
def _low_signed(word):
    """The low 32 bits of a word as the signed 32-bit integer they encode, in i64."""
    return ti.cast(ti.cast(word, ti.i32), ti.i64)


@ti.func
def _inside(x_word, y_word):
    """1 if the point of two words is inside the quarter circle, else 0 (exact, in i64)."""
    return ti.cast(philox.inside_test(x_word, y_word, to_signed=_low_signed), ti.i64)


@ti.func
def _splitmix64_mix(z):
    z = (z ^ (z >> ti.u64(30))) * ti.u64(philox.SPLITMIX_MUL1)
    z = (z ^ (z >> ti.u64(27))) * ti.u64(philox.SPLITMIX_MUL2)
    return z ^ (z >> ti.u64(31))


@ti.func
def _unit(word):
    """A 32-bit word as a float32 in (0, 1) (``jitpi.philox.unit_midpoint``)."""
    return philox.unit_midpoint(ti.cast(word, ti.u32), bitcast_float32=_bitcast_float32)


def _bitcast_float32(bits):
    """Called at compile time on a Taichi expression (a ti.func cannot hold a lambda). The shift and
    or of ``unit_midpoint`` widen the word to the default i64; the value fits in 32 bits."""
    return ti.bit_cast(ti.cast(bits, ti.u32), ti.f32)


@ti.func
def _group_bounds(first, last, group, per):
    """[base, base + count) of parallel index ``group``: int64 offsets from an int32 index."""
    base = first + ti.cast(group, ti.i64) * per
    return base, ti.cast(ti.min(ti.cast(per, ti.i64), last - base), ti.i32)


# ---------------------------------------------------------------------------------------------
# Kernels. Every offset and count is i64; the parallel index and the inner trip count are i32,
# as Taichi's loops need, and bounded by GROUPS_PER_LAUNCH and the chunk.


def _shared_kernel(philox_block):
    """The shared kernel around one round function (a ti.func): u64 lanes on the CPU, u32 on CUDA."""

    @ti.kernel
    def shared_kernel(
        start: ti.i64, end: ti.i64, per: ti.i32, k0: ti.u64, k1: ti.u64, opaque: ti.u64
    ) -> ti.i64:
        """Hits of samples [start, end): the blocks that hold them, each sample masked by its index."""
        total = ti.i64(0)
        first_block, end_block = philox.block_range(start, end - start)
        groups = ti.cast((end_block - first_block + per - 1) // per, ti.i32)
        for group in range(groups):
            base, count = _group_bounds(first_block, end_block, group, per)
            hits = ti.i64(0)
            for offset in range(count):
                block = base + offset
                counter = ti.cast(block, ti.u64)
                w0, w1, w2, w3 = philox_block(counter, counter >> ti.u64(32), k0, k1)
                take_even, take_odd = philox.sample_masks(2 * block, start, end)
                # ``opaque`` is 0 at run time: xored into y, it keeps LLVM from folding the sign
                # extension into a 64-bit multiply (vpmullq); see docs/backends/taichi.md.
                hits += (_inside(w0, w1 ^ opaque) & ti.cast(take_even, ti.i64)) + (
                    _inside(w2, w3 ^ opaque) & ti.cast(take_odd, ti.i64)
                )
            total += hits
        return total

    return shared_kernel


@ti.kernel
def _native_kernel(start: ti.i64, end: ti.i64, per: ti.i32, key: ti.u64) -> ti.i64:
    """Hits of samples [start, end) of SplitMix64 by position: sample i is mix(key + (i + 1) * GAMMA)."""
    total = ti.i64(0)
    groups = ti.cast((end - start + per - 1) // per, ti.i32)
    for group in range(groups):
        base, count = _group_bounds(start, end, group, per)
        state = key + ti.cast(base + 1, ti.u64) * ti.u64(philox.SPLITMIX_GAMMA)
        hits = ti.i64(0)
        for _ in range(count):
            word = _splitmix64_mix(state)
            state += ti.u64(philox.SPLITMIX_GAMMA)  # an induction: one vector add, no multiply
            hits += _inside(word, word >> ti.u64(32))
        total += hits
    return total


_FLOATS = ti.types.ndarray(dtype=ti.f32, ndim=1)


@ti.kernel
def _naive_fill(xs: _FLOATS, ys: _FLOATS, key: ti.u64):
    for index in range(xs.shape[0]):
        word = _splitmix64_mix(key + ti.cast(index + 1, ti.u64) * ti.u64(philox.SPLITMIX_GAMMA))
        xs[index] = _unit(word)
        ys[index] = _unit(word >> ti.u64(32))


@ti.kernel
def _naive_count(xs: _FLOATS, ys: _FLOATS) -> ti.i64:
    hits = ti.i64(0)
    for index in range(xs.shape[0]):
        if xs[index] * xs[index] + ys[index] * ys[index] < 1.0:
            hits += 1
    return hits


@ti.kernel
def _philox_words_kernel(
    c0: ti.u64, c1: ti.u64, c2: ti.u64, c3: ti.u64, k0: ti.u64, k1: ti.u64
) -> ti.types.vector(4, ti.u64):
    """One block through the CPU kernel's round function, from any 4-word counter."""
    w0, w1, w2, w3 = philox.rounds(
        c0, c1, c2, c3, k0, k1, mulhilo=_mulhilo_u64_lanes, bump_key=_bump_u64_lanes
    )
    mask = ti.u64(_MASK32)
    return ti.Vector([w0 & mask, w1 & mask, w2 & mask, w3 & mask], dt=ti.u64)


_SHARED_KERNELS = {"cpu": _shared_kernel(_philox_u64_lanes), "gpu": _shared_kernel(_philox_u32)}
_KERNELS = (*_SHARED_KERNELS.values(), _native_kernel, _naive_fill, _naive_count, _philox_words_kernel)


def _launch(kernel: Callable[..., object], *args: object) -> object:
    """``kernel(*args)``; its first call compiles it, quietly: the ti.funcs call jitpi.philox's plain
    Python functions at compile time on purpose, which Taichi would warn about at every compile."""
    if kernel._primal.compiled_kernels:
        return kernel(*args)
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r'.*Calling non-taichi function "philox\.', category=SyntaxWarning
        )
        return kernel(*args)


def compile_count() -> int:
    """Kernels Taichi has compiled (or loaded from its offline cache) in this runtime."""
    return sum(len(kernel._primal.compiled_kernels) for kernel in _KERNELS)


# ---------------------------------------------------------------------------------------------
# The variants.


def _launches(start: int, end: int, samples_per_launch: int) -> Iterator[tuple[int, int]]:
    """[first, last) ranges of at most ``samples_per_launch`` samples covering [start, end)."""
    for first in range(start, end, samples_per_launch):
        yield first, min(first + samples_per_launch, end)


def shared(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    """Hits among samples [start, start + n) of the shared Philox stream; any start works."""
    per = max(1, CHUNKS.pick(chunk, "shared", device) // 2)  # Philox blocks per parallel index
    _ensure_runtime(device)
    kernel = _SHARED_KERNELS[device]
    k0, k1 = philox.split_seed(seed)
    with _lock:
        return sum(
            _launch(kernel, first, last, per, k0, k1, 0)
            for first, last in _launches(start, start + n, 2 * per * GROUPS_PER_LAUNCH)
        )


def native(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    """Hits among samples [start, start + n) of SplitMix64 stream ``seed``; any start works."""
    per = CHUNKS.pick(chunk, "native", device)
    _ensure_runtime(device)
    key = philox.splitmix64(seed)
    with _lock:
        return sum(
            _launch(_native_kernel, first, last, per, key)
            for first, last in _launches(start, start + n, per * GROUPS_PER_LAUNCH)
        )


def naive_max_n(device: str = "cpu") -> int:
    """Largest n whose two float32 arrays fit in half the free host memory and int32 indexing (on a
    GPU too: Taichi does not report the device's memory before ``ti.init``)."""
    return min(NAIVE_HARD_MAX, naive_limit(NAIVE_BYTES_PER_SAMPLE, available_memory_bytes()))


def naive(n: int, seed: int, *, device: str = "cpu") -> int:
    """The article's approach: whole arrays of n x and n y uniforms, then one count over them."""
    if not 0 <= n <= NAIVE_HARD_MAX:
        raise ValueError(
            f"n must be in [0, {NAIVE_HARD_MAX}] for taichi's naive variant (int32 indexing), got {n}"
        )
    if n == 0:
        return 0
    _ensure_runtime(device)
    with _lock:
        xs = ti.ndarray(ti.f32, shape=n)
        ys = ti.ndarray(ti.f32, shape=n)
        _launch(_naive_fill, xs, ys, philox.splitmix64(seed))
        return int(_launch(_naive_count, xs, ys))


def philox_words(counters: Sequence[Words], key: tuple[int, int]) -> list[Words]:
    """Raw Philox4x32-10 words from the shared kernel's CPU round function (test hook)."""
    _ensure_runtime(_current_device() or "cpu")
    with _lock:
        rows = [_launch(_philox_words_kernel, *counter, *key) for counter in counters]
    return [tuple(int(word) for word in row) for row in rows]  # type: ignore[misc]


BACKEND = Backend(
    name="taichi",
    describe=describe,
    kernels={"naive": naive, "native": native, "shared": shared},
    chunks=CHUNKS,
    philox_words=philox_words,
    devices=("cpu", "gpu"),
    device_unavailable_reason=device_unavailable_reason,
    naive_max_n=naive_max_n,
    compile_count=compile_count,
)
