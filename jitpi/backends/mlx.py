"""mlx: Apple's MLX on the CPU. ``mx.compile`` traces Python, fuses runs of elementwise ops and writes
each run as a C++ function that it builds with ``g++`` and loads.

``shared`` is ``jitpi.philox.rounds`` in ``mx`` uint32 ops (each product a uint64) with the exact
int64 inside test, over a fixed chunk of Philox blocks; ``native`` draws ``mx.random.uniform``
(Threefry) with a key per chunk; ``naive`` holds whole float32 arrays of n uniforms, uncompiled.
Every kernel input that changes with n, seed or start is an array, so one trace serves every call.
MLX runs the ops of one stream on one thread, so the chunks are split over a pool of Python threads,
each with its own CPU stream. Design notes, measurements and the generated C++:
``docs/backends/mlx.md``.
"""

from __future__ import annotations

import functools
import queue
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future

import mlx.core as mx

from jitpi import philox
from jitpi.backends import available_memory_bytes, cpu_threads, naive_limit
from jitpi.chunking import ChunkPlan
from jitpi.contract import Backend, Chunks, Words

CHUNKS = Chunks(
    native=1 << 16,
    shared=1 << 16,  # 2**15 Philox blocks: a call's uint64 arrays (256 KiB each) stay in L2
    largest=1 << 22,
    largest_why="shared holds 76 bytes a sample of intermediate arrays per call, two calls a thread",
)
NAIVE_BYTES_PER_SAMPLE = 32
"""naive: peak bytes per sample (21 measured with ``mx.get_peak_memory``), with a margin."""
NAIVE_LARGEST_N = (1 << 31) - 1
"""naive: an MLX array's dimensions are int32."""
COMPILER = "g++"
"""The compiler ``mx.compile`` runs on Linux (found on PATH)."""

_U32 = mx.uint32
_U64 = mx.uint64
_MASK32 = philox.MASK32
_KEY_WORDS = 2 * (philox.ROUNDS + 1)
"""Round keys passed to the shared kernel: (k0, k1) for rounds 1-10, and the pair the schedule
computes after round 10, which nothing reads."""


# ---------------------------------------------------------------------------------------------
# The compiler, devices, threads.


@functools.cache
def compiler_version() -> str | None:
    """``g++``'s first ``--version`` line, or None where ``mx.compile`` cannot find it on PATH."""
    path = shutil.which(COMPILER)
    if path is None:
        return None
    try:
        result = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = result.stdout.splitlines()
    return lines[0].strip() if result.returncode == 0 and lines else None


def device_unavailable_reason(device: str) -> str | None:
    if device != "cpu":
        return f"mlx has no {device.upper()} code in jitpi"
    if compiler_version() is None:
        return (
            f"mlx {mx.__version__} needs {COMPILER} on PATH: without it mx.compile silently runs every "
            f"op uncompiled (install it: apt-get install g++)"
        )
    return None


def describe(device: str) -> str:
    threads = cpu_threads()
    compiler = compiler_version() or f"{COMPILER} (missing: mx.compile compiles nothing)"
    return (
        f"mlx {mx.__version__}, mx.compile: fused C++ built by {compiler} at -O3 (no -march), "
        f"{threads} thread{'s' if threads != 1 else ''} (one MLX CPU stream each)"
    )


_STREAM = mx.new_thread_local_stream(mx.cpu)
"""Every thread that runs a kernel gets its own CPU stream, and so its own MLX worker thread."""
_lock = threading.Lock()
_thread_state = threading.local()


class _Workers:
    """Daemon threads that live as long as the process; ``submit(i, ...)`` runs on thread i.

    Each keeps the kernels it traced (MLX's compile cache is per thread). They are never joined: a
    thread that used ``mx.compile`` and ends while the process exits (as a ``ThreadPoolExecutor``'s
    do at exit) lets MLX's per-thread destructors race the process's and abort it ("terminate called
    without an active exception"), one run in four here.
    """

    def __init__(self, count: int) -> None:
        self._queues: list[queue.SimpleQueue] = [queue.SimpleQueue() for _ in range(count)]
        for number, tasks in enumerate(self._queues):
            name = f"jitpi-mlx-{count}-{number}"
            threading.Thread(target=self._serve, args=(tasks,), name=name, daemon=True).start()

    @staticmethod
    def _serve(tasks: queue.SimpleQueue) -> None:
        while True:
            function, args, future = tasks.get()
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(function(*args))
                except BaseException as error:  # handed to the caller, who raises it
                    future.set_exception(error)

    def submit(self, number: int, function: Callable, *args) -> Future:
        future: Future = Future()
        self._queues[number].put((function, args, future))
        return future


_workers: dict[int, _Workers] = {}


def _pool(count: int) -> _Workers:
    with _lock:
        if count not in _workers:
            _workers[count] = _Workers(count)
        return _workers[count]


def _run_split(count_part: Callable[[Sequence], int], work: Sequence, trace: Callable[[], object]) -> int:
    """Sum of ``count_part`` over ``cpu_threads()`` contiguous slices of ``work``, one per thread.

    Every thread traces the kernel (``trace``, called and never evaluated) before its first slice,
    even an empty one: the first call of a kernel and chunk pays every thread's trace, and no later
    n brings a new one.
    """
    threads = cpu_threads()
    if threads == 1:
        return _on_own_stream(count_part, work, trace)
    size = -(-len(work) // threads)
    pool = _pool(threads)
    futures = [
        pool.submit(number, _on_own_stream, count_part, work[number * size : (number + 1) * size], trace)
        for number in range(threads)
    ]
    return sum(future.result() for future in futures)


def _on_own_stream(count_part: Callable[[Sequence], int], part: Sequence, trace: Callable[[], object]) -> int:
    with mx.stream(_STREAM):
        traced = _thread_state.__dict__.setdefault("traced", set())
        if trace not in traced:
            trace()
            traced.add(trace)
        return count_part(part) if len(part) else 0


def _sum_counts(counts: Iterable[mx.array]) -> int:
    """Sum of lazy scalar counts as a Python int; the next is dispatched before the last is read."""
    total = 0
    pending = None
    for count in counts:
        mx.async_eval(count)
        if pending is not None:
            total += pending.item()
        pending = count
    return total + (pending.item() if pending is not None else 0)


_traces = 0


def compile_count() -> int:
    """Traces so far: one per kernel, chunk size and thread (the C++ is built once per process)."""
    return _traces


def _counted(function: Callable) -> Callable:
    """``function`` as ``mx.compile`` traces it, counting its traces (its body runs only then)."""

    @functools.wraps(function)
    def traced(*args):
        global _traces
        with _lock:
            _traces += 1
        return function(*args)

    return mx.compile(traced)


@functools.lru_cache(maxsize=8)
def _positions(size: int) -> mx.array:
    """0, 1, ..., size - 1 as uint32, evaluated once and passed to the kernels as an input."""
    positions = mx.arange(size, dtype=_U32)
    mx.eval(positions)
    return positions


def _word(value: int) -> mx.array:
    return mx.array(value, dtype=_U32)


# ---------------------------------------------------------------------------------------------
# shared: Philox4x32-10 by block.


def _mulhilo(word: mx.array, multiplier: int) -> tuple[mx.array, mx.array]:
    product = word.astype(_U64) * multiplier
    return (product >> 32).astype(_U32), product.astype(_U32)


def _to_signed(word: mx.array) -> mx.array:
    return word.astype(mx.int32).astype(mx.int64)


def round_keys(key: tuple[int, int]) -> list[int]:
    """The key schedule of one 2-word key, k0 and k1 of each round in turn, in Python ints."""
    k0, k1 = key
    words = []
    for _ in range(philox.ROUNDS + 1):
        words += [k0, k1]
        k0 = (k0 + philox.KEY_INCREMENT_A) & _MASK32
        k1 = (k1 + philox.KEY_INCREMENT_B) & _MASK32
    return words


def _philox(c0, c1, c2, c3, keys: Sequence[mx.array]):
    """``philox.rounds`` in mx ops. The key schedule depends on the seed alone, so the host computes
    it (``round_keys``) and each round's key add reads the next input: traced, the 18 scalar adds
    would run as unfused ops on every call."""
    schedule = iter(keys[2:])

    def next_round_key(key: mx.array, increment: int) -> mx.array:
        return next(schedule)

    return philox.rounds(
        c0, c1, c2, c3, keys[0], keys[1], mulhilo=_mulhilo, bump_key=next_round_key, xor=mx.bitwise_xor
    )


@_counted
def _shared_kernel(positions, first_lo, first_hi, start, end, *keys):
    """Hits among local samples [start, end) of the blocks ``first + positions``.

    ``first`` is a 64-bit block index in two words; the carry of the low word's add goes to the
    high word. ``start`` (0 or 1) and ``end`` count samples from block ``first``'s even sample.
    """
    c0 = first_lo + positions
    c1 = first_hi + (c0 < first_lo).astype(_U32)
    zero = mx.array(0, dtype=_U32)
    w0, w1, w2, w3 = _philox(c0, c1, zero, zero, keys)
    take_even, take_odd = philox.sample_masks(2 * positions, start, end)
    even = philox.inside_test(w0, w1, to_signed=_to_signed) & take_even
    odd = philox.inside_test(w2, w3, to_signed=_to_signed) & take_odd
    return (even.astype(_U32) + odd.astype(_U32)).sum()


def shared(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    """Hits among samples [start, start + n) of the shared Philox stream; any start works."""
    blocks_per_call = max(1, CHUNKS.pick(chunk, "shared", device) // 2)
    first_block, end_block = philox.block_range(start, n)
    keys = [_word(word) for word in round_keys(philox.split_seed(seed))]
    positions = _positions(blocks_per_call)
    end = start + n

    def count_part(firsts: Sequence[int]) -> int:
        def counts():
            for first in firsts:
                local_start = max(start - 2 * first, 0)
                local_end = min(end - 2 * first, 2 * blocks_per_call)
                first_words = (_word(first & _MASK32), _word(first >> 32))
                yield _shared_kernel(positions, *first_words, _word(local_start), _word(local_end), *keys)

        return _sum_counts(counts())

    return _run_split(
        count_part, range(first_block, end_block, blocks_per_call), _shared_trace(blocks_per_call)
    )


@functools.lru_cache(maxsize=8)
def _shared_trace(blocks: int) -> Callable[[], mx.array]:
    """Traces the shared kernel for ``blocks`` blocks a call in the calling thread (not evaluated)."""
    return lambda: _shared_kernel(_positions(blocks), *[_word(0)] * (4 + _KEY_WORDS))


def philox_words(counters: Sequence[Words], key: tuple[int, int]) -> list[Words]:
    """Raw Philox4x32-10 words from the shared kernel's round function, compiled like the kernel."""
    columns = [mx.array([counter[i] for counter in counters], dtype=_U32) for i in range(4)]
    keys = [_word(word) for word in round_keys(key)]
    words = _philox_words_kernel(*columns, *keys)
    mx.eval(words)
    rows = zip(*(column.tolist() for column in words), strict=True)
    return [tuple(int(word) for word in row) for row in rows]  # type: ignore[misc]


@_counted
def _philox_words_kernel(c0, c1, c2, c3, *keys):
    return _philox(c0, c1, c2, c3, keys)


# ---------------------------------------------------------------------------------------------
# native: mx.random.uniform (Threefry) with a key per chunk.


def chunk_key(seed: int, index: int) -> mx.array:
    """The Threefry key of chunk ``index`` of stream ``seed``: ``mx.random.key`` of SplitMix64 at
    ``splitmix64(seed) + index``, a bijection of the index for each seed, so no two chunks of a
    stream share a key."""
    return mx.random.key(philox.splitmix64((philox.splitmix64(seed) + index) & philox.MASK64))


@_counted
def _native_kernel(positions, key, count):
    """Hits among the first ``count`` samples of a chunk; x and y are the chunk's two rows of
    uniforms, so a partial chunk is a prefix of the full one."""
    x, y = mx.random.uniform(shape=(2, positions.size), key=key)
    inside = (x * x + y * y < 1.0) & (positions < count)
    return inside.astype(_U32).sum()


def native(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    """Hits among samples [start, start + n) of stream ``seed``; start is a multiple of the chunk."""
    plan = ChunkPlan(start, n, CHUNKS.pick(chunk, "native", device))
    positions = _positions(plan.chunk)
    end = start + n

    def count_part(indices: Sequence[int]) -> int:
        return _sum_counts(
            _native_kernel(
                positions, chunk_key(seed, index), _word(min(plan.chunk, end - index * plan.chunk))
            )
            for index in indices
        )

    return _run_split(count_part, range(plan.first_chunk, plan.end_chunk), _native_trace(plan.chunk))


@functools.lru_cache(maxsize=8)
def _native_trace(chunk: int) -> Callable[[], mx.array]:
    """Traces the native kernel for ``chunk`` samples a call in the calling thread (not evaluated)."""
    return lambda: _native_kernel(_positions(chunk), mx.random.key(0), _word(0))


# ---------------------------------------------------------------------------------------------
# naive: whole arrays, as the founding article.


def naive_max_n(device: str = "cpu") -> int:
    return min(NAIVE_LARGEST_N, naive_limit(NAIVE_BYTES_PER_SAMPLE, available_memory_bytes()))


def naive(n: int, seed: int, *, device: str = "cpu") -> int:
    """Two whole float32 arrays of n uniforms from the two halves of ``split(key(seed))``."""
    x_key, y_key = mx.random.split(mx.random.key(seed))
    with mx.stream(_STREAM):
        x = mx.random.uniform(shape=(n,), key=x_key)
        y = mx.random.uniform(shape=(n,), key=y_key)
        return int((x * x + y * y < 1.0).astype(_U32).sum().item())


BACKEND = Backend(
    name="mlx",
    describe=describe,
    kernels={"naive": naive, "native": native, "shared": shared},
    chunks=CHUNKS,
    philox_words=philox_words,
    device_unavailable_reason=device_unavailable_reason,
    native_keyed_per_chunk=True,
    naive_max_n=naive_max_n,
    compile_count=compile_count,
)
