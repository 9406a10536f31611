"""tensorflow: XLA through ``tf.function(jit_compile=True)``, TensorFlow's own stateless Philox.

``native`` and ``shared`` are each one XLA program, a ``tf.while_loop`` over fixed chunks whose trip
count and tail are tensors: one trace and one compile for every n, O(chunk) memory. ``native`` reads
TensorFlow's Philox words as a ``[blocks, 4]`` array by column, the layout XLA fuses into one Philox
per block; ``shared`` is Philox in TF ops; ``naive`` is the article's whole arrays, compiled per n.
The import hides TF's known absl lines; Triton must be imported before TensorFlow.

Design notes and measurements: docs/backends/tensorflow.md
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator

from jitpi import philox
from jitpi.backends import available_memory_bytes, cpu_threads, naive_limit
from jitpi.chunking import ChunkPlan
from jitpi.contract import Backend, Chunks

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # INFO and WARNING; errors still print

_IMPORT_NOISE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|^I\d{4} [\d:. ]+\d+ port\.cc:\d+\] oneDNN custom operations are on"
)


@contextlib.contextmanager
def _filtered_stderr() -> Iterator[None]:
    """Hold back what C++ writes to fd 2 meanwhile; re-emit all of it but the known import noise."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (embedded interpreters): filter nothing
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            lines = held.read().decode("utf-8", "replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not _IMPORT_NOISE.search(line))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


with _filtered_stderr():
    import tensorflow as tf

CHUNKS = Chunks(
    native=1 << 20,  # two samples per Philox block; one int32 count per block (2 MiB) is all XLA stores
    shared=1 << 21,  # SHARED // 2 Philox blocks per loop step
    gpu=1 << 26,  # both variants on a GPU, where a CPU-sized chunk would leave most of it idle
    largest=1 << 30,
    largest_why="int32 per-chunk counts",
)
NAIVE_BYTES_PER_SAMPLE = 24
"""naive: two float32 uniforms (8 B) plus XLA's temporaries (the RNG's uint32 bits, the mask)."""

_PHILOX = tf.random.Algorithm.PHILOX.value
_lock = threading.Lock()
_functions: dict[tuple[str, int], Callable] = {}


def _configure_threads() -> int:
    """Use every core for XLA:CPU (TF's intra-op pool); keep the caller's if TF is already running."""
    threads = cpu_threads()
    with contextlib.suppress(RuntimeError):  # raised once the TF runtime is initialised
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    return tf.config.threading.get_intra_op_parallelism_threads() or threads


THREADS = _configure_threads()


def device_unavailable_reason(device: str) -> str | None:
    if device == "cpu":
        return None
    if tf.config.list_physical_devices("GPU"):
        return None
    build = "this TensorFlow build has no CUDA" if not tf.test.is_built_with_cuda() else "no GPU is visible"
    return f"no GPU for TensorFlow here ({build}; GPU users install 'tensorflow[and-cuda]')"


def describe(device: str) -> str:
    where = f"{THREADS} intra-op threads" if device == "cpu" else "GPU:0"
    return f"tensorflow {tf.__version__}, XLA (tf.function(jit_compile=True)), {where}, device {device}"


def native(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    plan = ChunkPlan(start, n, CHUNKS.pick(chunk, "native", device))
    run = _function("native", plan.chunk)
    with _device(device):
        total = run(_i64(_as_signed64(seed)), _i64(plan.first_chunk), _i64(plan.full_chunks), _i64(plan.tail))
        return int(total.numpy())  # .numpy() waits for the result


def shared(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    blocks = max(1, CHUNKS.pick(chunk, "shared", device) // 2)
    end = start + n
    first_block, end_block = start // 2, (end + 1) // 2
    steps = -(-(end_block - first_block) // blocks)
    run = _function("shared", blocks)
    with _device(device):
        total = run(_i64(_as_signed64(seed)), _i64(start), _i64(end), _i64(steps))
        return int(total.numpy())


def naive(n: int, seed: int, *, device: str = "cpu") -> int:
    low, high = philox.split_seed(seed)
    pair = tf.bitcast(tf.constant([low, high], tf.uint32), tf.int32)  # injective: seed -> int32 pair
    with _device(device):
        return int(_naive_run(n, pair).numpy())


def naive_max_n(device: str) -> int:
    return naive_limit(NAIVE_BYTES_PER_SAMPLE, available_memory_bytes())


@tf.function(jit_compile=True, reduce_retracing=False)
def _naive_run(n: int, seed_pair: tf.Tensor) -> tf.Tensor:
    # n is a Python int: a static shape, traced and compiled anew for each n, as in the article.
    xy = tf.random.stateless_uniform([2, n], seed=seed_pair, alg="philox")
    x, y = xy[0], xy[1]
    return tf.reduce_sum(tf.cast(x * x + y * y < 1.0, tf.int64))


def philox_words(counters, key: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """Raw Philox4x32-10 words of ``_philox`` for a list of 4-word counters (known-answer tests)."""
    words = tf.constant(counters, tf.uint32)
    k0, k1 = (tf.constant(k, tf.uint32) for k in key)
    out = _philox_jit(words[:, 0], words[:, 1], words[:, 2], words[:, 3], k0, k1)
    return [tuple(int(w) for w in row) for row in tf.stack(out, axis=1).numpy()]


def _mulhilo(word, multiplier: int):
    """One uint64 product of the zero-extended word; its halves as uint32 words."""
    product = tf.cast(word, tf.uint64) * tf.constant(multiplier, tf.uint64)
    return _high32(product), tf.cast(product, tf.uint32)  # uint64 -> uint32 keeps the low word


def _wrapping_add(key, increment: int):
    return key + tf.constant(increment, tf.uint32)  # uint32 addition wraps


def _philox(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 on uint32 tensors."""
    return philox.rounds(
        c0, c1, c2, c3, k0, k1, mulhilo=_mulhilo, bump_key=_wrapping_add, xor=tf.bitwise.bitwise_xor
    )


_philox_jit = tf.function(_philox, jit_compile=True)


def _high32(value):
    return tf.cast(tf.bitwise.right_shift(value, tf.constant(32, value.dtype)), tf.uint32)


def _signed64(words):
    return tf.cast(tf.bitcast(words, tf.int32), tf.int64)


def _inside(x_words, y_words):
    return philox.inside_test(x_words, y_words, to_signed=_signed64)


def _function(kind: str, size: int) -> Callable:
    """The compiled function for a variant and chunk size, built once per process."""
    with _lock:
        if (kind, size) not in _functions:
            _functions[kind, size] = (_build_native if kind == "native" else _build_shared)(size)
        return _functions[kind, size]


_SCALAR = tf.TensorSpec([], tf.int64)


def native_words(seed: int, chunk_index: int, blocks: int) -> list[tuple[int, int, int, int]]:
    """The Philox words of the first ``blocks`` blocks of native's chunk ``chunk_index`` (for tests)."""
    words = _native_words_jit(_i64(_as_signed64(seed)), _i64(chunk_index), blocks)
    return [tuple(int(w) for w in row) for row in words.numpy()]


def _native_words(seed, chunk_index, blocks: int):
    """uint32 [blocks, 4]: row b is Philox4x32-10 of counter (b, 0, chunk_index + 1), key seed."""
    key = tf.reshape(tf.bitcast(seed, tf.uint64), [1])
    counter = tf.stack([tf.constant(0, tf.uint64), tf.bitcast(chunk_index + 1, tf.uint64)])
    return tf.raw_ops.StatelessRandomUniformFullIntV2(
        shape=[blocks, 4], key=key, counter=counter, alg=_PHILOX, dtype=tf.uint32
    )


_native_words_jit = tf.function(_native_words, jit_compile=True)


def _as_float32(bits):
    return tf.bitcast(bits, tf.float32)


def _uint32_op(op):
    return lambda words, constant: op(words, tf.constant(constant, tf.uint32))


def _unit_midpoint(words):
    return philox.unit_midpoint(
        words,
        bitcast_float32=_as_float32,
        shift=_uint32_op(tf.bitwise.right_shift),
        bitwise_or=_uint32_op(tf.bitwise.bitwise_or),
    )


def _build_native(chunk: int) -> Callable:
    blocks = (chunk + 1) // 2

    @tf.function(jit_compile=True, input_signature=[_SCALAR] * 4)
    def run(seed, first_chunk, full_chunks, tail):
        block = tf.range(blocks, dtype=tf.int32)  # int32 lanes for the mask, as in shared
        chunks = full_chunks + tf.cast(tail > 0, tf.int64)
        zero = tf.constant(0, tf.int64)

        # One loop over every chunk, the tail masked: a second RNG call site for the tail (tf.cond
        # after the loop) stopped XLA from inlining the RNG computation and halved the throughput.
        def body(i, total):
            words = _native_words(seed, first_chunk + i, blocks)
            # Column slices, never the [blocks, 4] array itself: XLA then fuses one Philox per block.
            x0, y0, x1, y1 = (_unit_midpoint(words[:, k]) for k in range(4))
            valid = tf.cast(tf.where(i < full_chunks, tf.constant(chunk, tf.int64), tail), tf.int32)
            even = (x0 * x0 + y0 * y0 < 1.0) & (block < (valid + 1) // 2)  # sample 2b < valid
            odd = (x1 * x1 + y1 * y1 < 1.0) & (block < valid // 2)  # sample 2b + 1 < valid
            hits = tf.cast(even, tf.int32) + tf.cast(odd, tf.int32)
            return i + 1, total + tf.cast(tf.reduce_sum(hits), tf.int64)

        return tf.while_loop(lambda i, _: i < chunks, body, (zero, zero))[1]

    return run


def _build_shared(blocks: int) -> Callable:
    @tf.function(jit_compile=True, input_signature=[_SCALAR] * 4)
    def run(seed, start, end, steps):
        seed_bits = tf.bitcast(seed, tf.uint64)
        k0, k1 = tf.cast(seed_bits, tf.uint32), _high32(seed_bits)
        offsets = tf.range(blocks, dtype=tf.int64)
        zero = tf.constant(0, tf.int64)

        def body(step, total):
            block = start // 2 + step * blocks + offsets
            block_bits = tf.bitcast(block, tf.uint64)
            low, high, zero_words = (
                tf.cast(block_bits, tf.uint32),
                _high32(block_bits),
                tf.zeros([blocks], tf.uint32),
            )
            w0, w1, w2, w3 = _philox(low, high, zero_words, zero_words, k0, k1)
            even = 2 * block
            hits = tf.cast(_inside(w0, w1) & (even >= start) & (even < end), tf.int32) + tf.cast(
                _inside(w2, w3) & (even + 1 >= start) & (even + 1 < end), tf.int32
            )  # one int32 count per block, so the Philox fusion is not duplicated per sample
            return step + 1, total + tf.cast(tf.reduce_sum(hits), tf.int64)

        _, total = tf.while_loop(lambda step, _: step < steps, body, (zero, zero))
        return total

    return run


def tracing_count(kind: str, size: int | None = None) -> int:
    """How often the compiled function of a variant was traced (each trace is one XLA compile)."""
    size = size or {"native": CHUNKS.native, "shared": CHUNKS.shared // 2}[kind]
    return _function(kind, size).experimental_get_tracing_count()


def _as_signed64(value: int) -> int:
    """The 64 bits of an unsigned seed as a signed int64 (bit-cast back to uint64 in the graph)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _i64(value: int) -> tf.Tensor:
    return tf.constant(value, tf.int64)


def _device(device: str):
    return tf.device("/GPU:0" if device == "gpu" else "/CPU:0")


def compile_count() -> int:
    """Traces (each one XLA compile) of every compiled function held, the naive per-n ones included."""
    with _lock:
        held = list(_functions.values())
    return sum(function.experimental_get_tracing_count() for function in held) + (
        _naive_run.experimental_get_tracing_count()
    )


BACKEND = Backend(
    name="tensorflow",
    describe=describe,
    kernels={"naive": naive, "native": native, "shared": shared},
    chunks=CHUNKS,
    devices=("cpu", "gpu"),
    device_unavailable_reason=device_unavailable_reason,
    native_keyed_per_chunk=True,
    naive_max_n=naive_max_n,
    philox_words=philox_words,
    compile_count=compile_count,
)
