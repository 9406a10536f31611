"""tinygrad: tensor code traced into kernels, compiled to C by ``clang`` on the CPU (CUDA on a GPU).

Every chunked kernel is one ``TinyJit`` capture replayed per chunk, with the chunk's scalars bound
as int64 ``Variable``s, so one compile serves every n. tinygrad runs a CPU kernel on the thread that
replays it, one after another, so each thread replays a capture of its own (the GIL is released
while a kernel runs) and adds into its own int64 total on the device.

- ``native``: tinygrad's own Threefry (``Tensor.random_bits``) with the key (the seed) and the
  counter (the chunk index) as kernel inputs, so every chunk draws its own samples. A
  ``Tensor.rand`` captured by ``TinyJit`` replays the same samples on every call instead.
- ``shared``: ``jitpi.philox.rounds`` in tinygrad tensor ops, the exact int64 inside test; on the
  CPU over a ``Variable`` number of blocks, so one kernel serves every chunk size and n.
- ``naive``: the article's whole arrays: ``Tensor.rand(n)`` twice after ``Tensor.manual_seed``.

Design notes, measurements and the generated code: docs/backends/tinygrad.md
"""

from __future__ import annotations

import importlib.metadata
import math
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

from tinygrad import Context, Device, Tensor, TinyJit, UOp, dtypes
from tinygrad.codegen import to_program_cache

from jitpi import philox
from jitpi.backends import available_memory_bytes, cpu_threads, naive_limit
from jitpi.chunking import ChunkPlan, batches, split_range
from jitpi.contract import Backend, Chunks

VERSION = importlib.metadata.version("tinygrad")

TINYGRAD_DEVICES = {"cpu": "CPU", "gpu": "CUDA"}
"""jitpi's device -> tinygrad's device name."""

CHUNKS = Chunks(
    native=1 << 21,  # samples per replay: the Threefry draw has a fixed shape, compiled per chunk size
    shared=1 << 23,  # samples per replay on the CPU, where the block count is a Variable
    gpu=1 << 26,  # both variants on a GPU: a fixed grid of blocks, reduced in two steps
    largest=1 << 30,
    largest_why="kernel loop indices and Threefry's in-chunk counters are 32-bit",
)

MAX_BLOCKS = CHUNKS.largest // 2
"""The CPU shared kernel's largest block count per replay (the bound of its loop Variable)."""

MAX_POSITION = 2**62
"""Largest sample position (start + n) the int64 kernels take: twice a block index stays in int64."""

GPU_ROWS = 1 << 16
"""A GPU kernel's parallel rows: each sums its share of a chunk into a partial, then one kernel adds
the partials (a single reduction to a scalar becomes one workgroup in tinygrad's GPU code)."""

NAIVE_BYTES_PER_SAMPLE = 12
"""naive: x and y in float32 (8 B) and slack (measured 8.5 B per sample at n = 1e8)."""

NAIVE_HARD_MAX = 2**31 - 1
"""naive: arrays longer than this were not tried (tinygrad indexes shorter ones with int32)."""

THREADS = cpu_threads()
"""CPU lanes: one TinyJit capture replayed per thread (``JITPI_THREADS`` sets it)."""

_I64, _U64, _U32 = dtypes.int64, dtypes.uint64, dtypes.uint32
_lock = threading.RLock()
"""Held by every call: tinygrad's scheduling, capture and global settings are not thread-safe (the
replays that lanes run on pool threads are)."""
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


# ---------------------------------------------------------------------------------------------
# Devices and availability.


def _compiler() -> str:
    return os.environ.get("CC", "clang")


def device_unavailable_reason(device: str) -> str | None:
    # tinygrad compiles even its CPU device's own helper programs with clang; without it the device
    # fails to open with "no usable devices", so the reason is named here.
    if device == "cpu" and shutil.which(_compiler()) is None:
        return (
            f"tinygrad {VERSION} compiles CPU kernels with clang, and {_compiler()!r} is not on PATH "
            "(Debian/Ubuntu: apt-get install clang; or point CC at a clang)"
        )
    try:
        Device[TINYGRAD_DEVICES[device]]
    except Exception as error:  # each runtime fails its own way: missing library, no interface
        if device == "gpu":
            return f"no CUDA GPU for tinygrad here (opening its CUDA device: {error})"
        return f"tinygrad cannot open its CPU device: {type(error).__name__}: {error}"
    return None


def describe(device: str) -> str:
    with _lock, _working(device):  # the renderer the kernels get, whatever DEV says outside
        renderer = type(Device[TINYGRAD_DEVICES[device]].renderer).__name__
    if device == "gpu":
        return f"tinygrad {VERSION}, compiled (TinyJit), {renderer} kernels, device gpu"
    if renderer == "ClangRenderer":
        renderer = f"C compiled by {_compiler()} -O2 -march=native"
    return (
        f"tinygrad {VERSION}, compiled (TinyJit), {renderer}, {THREADS} threads (a TinyJit each), device cpu"
    )


def compile_count() -> int:
    """Kernels tinygrad has lowered and compiled (or loaded from its cache) in this process."""
    return len(to_program_cache)


# ---------------------------------------------------------------------------------------------
# Philox words in tinygrad ops.


@dataclass(frozen=True)
class Words:
    """How a kernel holds Philox's 32-bit words.

    On the CPU in uint64 lanes: the 32 x 32 -> 64-bit product is one vector multiply and its halves
    a shift and a mask, with no packing between 32- and 64-bit vectors (uint32 words cost a fifth
    more there). On a GPU as uint32, which its integer units handle natively.
    """

    dtype: object
    split: Callable  # int64 block index -> (low word, high word)
    mulhilo: Callable  # (word, multiplier) -> (high word, low word)
    bump_key: Callable  # the key schedule's add modulo 2**32
    to_signed: Callable  # word -> int64 of its signed 32-bit reading


def _mulhilo_wide(word, multiplier: int):
    product = word * multiplier  # below 2**64: no wrap
    return product >> 32, product & philox.MASK32


def _mulhilo_narrow(word, multiplier: int):
    product = word.cast(_U64) * multiplier
    return (product >> 32).cast(_U32), product.cast(_U32)


CPU_WORDS = Words(
    dtype=_U64,
    split=lambda block: ((block & philox.MASK32).cast(_U64), (block >> 32).cast(_U64)),
    mulhilo=_mulhilo_wide,
    bump_key=lambda key, increment: (key + increment) & philox.MASK32,
    to_signed=lambda word: (word.bitcast(_I64) ^ 0x80000000) - 0x80000000,
)
GPU_WORDS = Words(
    dtype=_U32,
    split=lambda block: (block.cast(_U32), (block >> 32).cast(_U32)),
    mulhilo=_mulhilo_narrow,
    bump_key=lambda key, increment: key + increment,  # uint32 wraps
    to_signed=lambda word: word.bitcast(dtypes.int32).cast(_I64),
)


def _block_hits(blocks: Tensor, start, end, key_low, key_high, words: Words) -> Tensor:
    """Hits (0, 1 or 2) of each block of ``blocks`` (int64 indices) among samples [start, end)."""
    low, high = words.split(blocks)
    zero = low.full_like(0, buffer=False)
    w0, w1, w2, w3 = philox.rounds(
        low, high, zero, zero, key_low.cast(words.dtype), key_high.cast(words.dtype),
        mulhilo=words.mulhilo, bump_key=words.bump_key,
    )  # fmt: skip
    take_even, take_odd = philox.sample_masks(blocks * 2, start, end)
    even = philox.inside_test(w0, w1, to_signed=words.to_signed) & take_even
    odd = philox.inside_test(w2, w3, to_signed=words.to_signed) & take_odd
    return even.cast(_I64) + odd.cast(_I64)


def philox_words(
    counters: Sequence[Sequence[int]], key: tuple[int, int], *, words: Words = CPU_WORDS
) -> list[tuple[int, ...]]:
    """Raw Philox4x32-10 words of the shared kernel's round function for 4-word counters."""
    if not counters:
        return []
    with _lock, _working("cpu"):
        columns = Tensor([list(c) for c in counters], dtype=_U64, device="CPU").cast(words.dtype)
        keys = Tensor(list(key), dtype=_U64, device="CPU").cast(words.dtype)
        out = philox.rounds(
            *(columns[:, i] for i in range(4)),
            keys[0],
            keys[1],
            mulhilo=words.mulhilo,
            bump_key=words.bump_key,
        )
        rows = Tensor.stack(*out, dim=1).cast(_U64).tolist()
    return [tuple(int(word) for word in row) for row in rows]


# ---------------------------------------------------------------------------------------------
# Captured kernels, one per thread.


def _variable(name: str, high: int) -> UOp:
    """An int64 kernel scalar. A Variable of tinygrad's default (weak int) type is rendered as a
    32-bit int, and values past 2**31 wrap in the kernel without an error."""
    return UOp.variable(name, 0, high, _I64)


FIRST_BLOCK = _variable("first_block", MAX_POSITION // 2)
START = _variable("start", MAX_POSITION)
END = _variable("end", MAX_POSITION)
KEY_LOW = _variable("key_low", philox.MASK32)
KEY_HIGH = _variable("key_high", philox.MASK32)
CHUNK_LOW = _variable("chunk_low", philox.MASK32)
CHUNK_HIGH = _variable("chunk_high", philox.MASK32)
LIMIT = _variable("limit", CHUNKS.largest)
BLOCKS = UOp.variable("blocks", 1, MAX_BLOCKS)  # a loop bound: 32-bit, below 2**31


class Lane:
    """One ``TinyJit`` capture of ``body`` and the int64 total it adds into, on one device.

    ``body(*bound_variables)`` returns int64 hits: a scalar, or one partial per row (a GPU grid),
    summed in a second kernel. The first two calls of a TinyJit run eagerly and capture (never on
    two threads at once); later ones replay the captured kernels with new Variable values.
    """

    def __init__(self, body: Callable[..., Tensor], device: str) -> None:
        self.total = Tensor.zeros(1, dtype=_I64, device=device).contiguous().realize()
        self.partials: Tensor | None = None
        self.body = body
        self.device = device
        self.calls = 0
        self.jit = TinyJit(self._step)

    def _step(self, *scalars: UOp) -> None:
        hits = self.body(*scalars)
        if hits.ndim:
            if self.partials is None:
                self.partials = (
                    Tensor.zeros(hits.shape, dtype=_I64, device=self.device).contiguous().realize()
                )
            self.partials.assign(hits).realize()
            hits = self.partials.sum()
        self.total.assign(self.total + hits.reshape(1)).realize()

    def __call__(self, *scalars: UOp) -> None:
        self.jit(*scalars)
        self.calls += 1

    def read(self) -> int:
        return int(self.total.item())


class Kernel:
    """A variant's lanes on one device: the first captures and compiles, the rest reuse its kernels."""

    def __init__(self, body: Callable[..., Tensor], device: str, threads: int) -> None:
        self.lanes = [Lane(body, device) for _ in range(threads)]

    def run(self, jobs_per_lane: Sequence[Iterable[tuple[UOp, ...]]]) -> int:
        """Hits of every job (a tuple of bound Variables), each lane replaying its own, lazily made
        jobs: in parallel on pool threads where there are several lanes."""
        busy = [(lane, iter(jobs)) for lane, jobs in zip(self.lanes, jobs_per_lane, strict=False)]
        before = sum(lane.read() for lane, _ in busy)
        for lane, jobs in busy:  # capture serially: tinygrad's scheduler and capture are not thread-safe
            while lane.calls < 2 and (scalars := next(jobs, None)) is not None:
                lane(*scalars)
        if len(busy) == 1:
            _replay(*busy[0])
        else:
            pool = _executor(len(busy))
            futures = [pool.submit(_replay, lane, jobs) for lane, jobs in busy]
            wait(futures)  # every lane stops before the lock is released, even when one fails
            for future in futures:
                future.result()
        return sum(lane.read() for lane, _ in busy) - before


def _replay(lane: Lane, jobs: Iterator[tuple[UOp, ...]]) -> None:
    for scalars in jobs:
        lane(*scalars)


def _executor(workers: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    if _pool is None or _pool_size < workers:
        if _pool is not None:
            _pool.shutdown()
        _pool, _pool_size = ThreadPoolExecutor(workers, thread_name_prefix="jitpi-tinygrad"), workers
    return _pool


_kernels: dict[tuple, Kernel] = {}


def _kernel(key: tuple, body: Callable[..., Tensor], device: str, threads: int) -> Kernel:
    if key not in _kernels:
        _kernels[key] = Kernel(body, TINYGRAD_DEVICES[device], threads)
    return _kernels[key]


def _lanes(device: str) -> int:
    return THREADS if device == "cpu" else 1


def _working(device: str) -> Context:
    """tinygrad's settings for the duration of a call.

    ``DEV``: tensors built from constants have no device until they meet one, and asking for the
    default makes tinygrad try to open every runtime it knows (seconds; a GPU where there is one).
    ``PARALLEL=0``: compile in this process; with two or more new kernels tinygrad otherwise starts
    a pool of worker processes that each import it (seconds on a cold call).
    """
    return Context(DEV=TINYGRAD_DEVICES[device], PARALLEL=0)


def _check_range(start: int, n: int) -> None:
    if start < 0 or start + n > MAX_POSITION:
        raise ValueError(
            f"start must be in [0, 2**62 - n] (int64 sample positions), got start={start}, n={n}"
        )


# ---------------------------------------------------------------------------------------------
# The variants.


def _shared_cpu_body(
    first_block: UOp, blocks: UOp, start: UOp, end: UOp, key_low: UOp, key_high: UOp
) -> Tensor:
    indices = Tensor.arange(MAX_BLOCKS, dtype=_I64)[:blocks] + first_block
    return _block_hits(indices, start, end, key_low, key_high, CPU_WORDS).sum()


def _shared_grid_body(blocks: int, words: Words) -> Callable[..., Tensor]:
    rows = math.gcd(blocks, GPU_ROWS)

    def body(first_block: UOp, start: UOp, end: UOp, key_low: UOp, key_high: UOp) -> Tensor:
        indices = Tensor.arange(blocks, dtype=_I64).reshape(rows, blocks // rows) + first_block
        return _block_hits(indices, start, end, key_low, key_high, words).sum(axis=1)

    return body


def shared(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    blocks_per_call = max(1, CHUNKS.pick(chunk, "shared", device) // 2)
    _check_range(start, n)
    first_block, end_block = philox.block_range(start, n)
    key_low, key_high = philox.split_seed(seed)
    constants = (START.bind(start), END.bind(start + n), KEY_LOW.bind(key_low), KEY_HIGH.bind(key_high))
    with _lock, _working(device):
        if device == "cpu":  # one kernel for every chunk: the block count is a Variable
            kernel = _kernel(("shared", device), _shared_cpu_body, device, THREADS)
            parts = split_range(end_block - first_block, len(kernel.lanes))
            jobs = [
                _shared_jobs(first_block + first, count, blocks_per_call, constants) for first, count in parts
            ]
        else:  # a fixed grid, its blocks past the range masked
            body = _shared_grid_body(blocks_per_call, GPU_WORDS)
            kernel = _kernel(("shared", device, blocks_per_call), body, device, 1)
            jobs = [_shared_jobs(first_block, end_block - first_block, blocks_per_call, constants, grid=True)]
        return kernel.run(jobs)


def _shared_jobs(
    first_block: int, blocks: int, per_call: int, constants: tuple[UOp, ...], *, grid: bool = False
) -> Iterator[tuple[UOp, ...]]:
    """The bound Variables of blocks [first_block, first_block + blocks), ``per_call`` at a time."""
    for offset, count in batches(blocks, per_call):
        if grid:  # a fixed number of blocks per call
            yield (FIRST_BLOCK.bind(first_block + offset), *constants)
        else:
            yield (FIRST_BLOCK.bind(first_block + offset), BLOCKS.bind(count), *constants)


def _word_pair(low: UOp, high: UOp) -> Tensor:
    """A uint32 tensor [low, high] from two int64 Variables."""
    return (Tensor.arange(2) == 0).where(low, high).cast(_U32)


def _native_body(chunk: int, rows: int) -> Callable[..., Tensor]:
    def body(key_low: UOp, key_high: UOp, chunk_low: UOp, chunk_high: UOp, limit: UOp) -> Tensor:
        # What Tensor.rand draws, with the key and the counter given instead of kept in tinygrad's
        # global state: Threefry2x32 of (chunk index; seed) keys the chunk, one block per sample.
        bits = Tensor.random_bits(_word_pair(key_low, key_high), _word_pair(chunk_low, chunk_high), 2 * chunk)
        uniform = philox.unit_midpoint(bits, bitcast_float32=lambda words: words.bitcast(dtypes.float32))
        x, y = uniform[:chunk], uniform[chunk:]  # the two words of one Threefry block
        inside = ((x * x + y * y) < 1.0) & (Tensor.arange(chunk, dtype=_I64) < limit)
        hits = inside.cast(_I64)
        return hits.sum() if rows == 1 else hits.reshape(rows, chunk // rows).sum(axis=1)

    return body


def native(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    plan = ChunkPlan(start, n, CHUNKS.pick(chunk, "native", device))
    _check_range(start, n)
    key_low, key_high = philox.split_seed(seed)
    key = (KEY_LOW.bind(key_low), KEY_HIGH.bind(key_high))
    rows = 1 if device == "cpu" else math.gcd(plan.chunk, GPU_ROWS)
    with _lock, _working(device):
        kernel = _kernel(
            ("native", device, plan.chunk), _native_body(plan.chunk, rows), device, _lanes(device)
        )
        parts = split_range(plan.end_chunk - plan.first_chunk, len(kernel.lanes))
        return kernel.run([_native_jobs(plan, key, first, count) for first, count in parts])


def _native_jobs(plan: ChunkPlan, key: tuple[UOp, UOp], first: int, count: int) -> Iterator[tuple[UOp, ...]]:
    """The bound Variables of chunks [first, first + count) of ``plan`` (counted from its first)."""
    for offset in range(first, first + count):
        index = plan.first_chunk + offset
        samples = plan.chunk if offset < plan.full_chunks else plan.tail
        yield (*key, CHUNK_LOW.bind(index & philox.MASK32), CHUNK_HIGH.bind(index >> 32), LIMIT.bind(samples))


def _naive_seed(seed: int) -> int:
    """Tensor.manual_seed keeps 32 bits (a uint32 tensor): seeds are mixed into those first."""
    return philox.splitmix64(seed) & philox.MASK32


def naive_max_n(device: str = "cpu") -> int:
    return min(naive_limit(NAIVE_BYTES_PER_SAMPLE, available_memory_bytes()), NAIVE_HARD_MAX)


def naive(n: int, seed: int, *, device: str = "cpu") -> int:
    with _lock, _working(device):  # tinygrad's generator is process-wide
        Tensor.manual_seed(_naive_seed(seed))
        x = Tensor.rand(n, device=TINYGRAD_DEVICES[device])
        y = Tensor.rand(n, device=TINYGRAD_DEVICES[device])
        return int(((x * x + y * y) < 1.0).sum(dtype=_I64).item())


BACKEND = Backend(
    name="tinygrad",
    describe=describe,
    kernels={"naive": naive, "native": native, "shared": shared},
    chunks=CHUNKS,
    philox_words=philox_words,
    devices=("cpu", "gpu"),
    device_unavailable_reason=device_unavailable_reason,
    not_on_gpu={"naive": "tinygrad reports no free GPU memory to bound whole arrays by"},
    native_keyed_per_chunk=True,
    naive_max_n=naive_max_n,
    compile_count=compile_count,
)
