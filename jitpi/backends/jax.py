"""jax: ``jax.jit`` over a fixed chunk inside a ``lax.fori_loop`` with a traced trip count.

Shapes are static, so the chunk is the only static argument: one compilation serves every n, memory
is O(chunk), the tail is a mask. A call counts at most 2**30 samples into a uint32 and the host adds
calls in Python ints; 64-bit types are enabled per thread, never process-wide. ``native`` draws 64-bit
``jax.random`` philox4x32 bits, ``shared`` is Philox in ``jnp`` uint32 ops, ``naive`` the article's
whole arrays; several devices split the chunks with ``jax.shard_map`` and ``lax.psum``.

Design notes and measurements: docs/backends/jax.md
"""

from __future__ import annotations

import collections
import contextlib
import functools
import os
from collections.abc import Iterator

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh, PartitionSpec

from jitpi import philox
from jitpi.backends import available_memory_bytes, cpu_threads, naive_limit
from jitpi.chunking import ChunkPlan
from jitpi.contract import Backend, Chunks

CHUNKS = Chunks(
    native=1 << 18,  # samples per loop iteration (static: one compilation per chunk size)
    shared=1 << 18,  # SHARED // 2 Philox blocks per loop iteration
    # A GPU gets TensorFlow's and torch's GPU chunk: an iteration of XLA's while loop costs a GPU
    # some microseconds of loop control, as long as 2**18 samples take there (not yet measured).
    gpu=1 << 26,
    largest=1 << 28,
    largest_why="sample positions within a call are int32 lanes",
)

MAX_PER_CALL = 1 << 30
"""Samples counted by one compiled call, into a uint32 that cannot wrap."""

MAX_IN_FLIGHT = 4
"""Calls dispatched ahead of the oldest unfinished one (see ``_Counts``)."""

NATIVE_IMPL = "philox4x32"

NAIVE_BYTES_PER_SAMPLE = 32
"""Peak bytes per sample of the naive variant (measured 24.5 here: two float32 arrays and their
random bits), with a margin."""

NAIVE_HARD_MAX = 2**31 - 1
"""XLA indexes an array's elements with int32 on some paths: never ask for a longer array."""

AXIS = "chunks"
"""Name of the one mesh axis the chunk loop is sharded over."""


# ---------------------------------------------------------------------------------------------
# Older releases (``jitpi releases``, docs/releases.md): the same operations under older names, in
# this one place. ``jax.enable_x64`` as a context manager arrived in 0.8 (before it,
# ``jax.experimental.enable_x64``), ``lax.pcast`` in 0.8 and ``lax.mulhi`` in 0.10; before 0.10 the
# high word is the product widened to 64 bits and shifted, which is what ``lax.mulhi`` lowers to
# where XLA has no rule of its own (``_mulhi_workaround``): the same bits. Before 0.8 the chunks
# stay on one device (no ``lax.pcast`` to mark the loop's carry as varying over the mesh).

if hasattr(jax, "enable_x64"):
    _enable_x64 = jax.enable_x64
else:  # jax < 0.8
    from jax.experimental import enable_x64 as _enable_x64


def _missing_in_this_release() -> dict[str, str]:
    """Variants this jax cannot run: ``native`` is jax.random's philox4x32, new in jax 0.10."""
    try:  # abstract evaluation: no backend starts
        jax.eval_shape(lambda: jax.random.key(0, impl=NATIVE_IMPL))
    except ValueError:  # 'unrecognized PRNG implementation "philox4x32"'
        reason = f"jax.random has no {NATIVE_IMPL} generator before jax 0.10 (this is {jax.__version__})"
        return {"native": reason}
    return {}


NOT_IN_THIS_RELEASE = _missing_in_this_release()


CAN_SHARD = hasattr(lax, "pcast")
"""Whether this jax can shard the chunk loop over several devices (0.8 and later)."""

HAS_MULHI = hasattr(lax, "mulhi")
"""Whether this jax has ``lax.mulhi`` (0.10 and later); before, ``_mulhi`` widens the product."""


def _mulhi(word, multiplier):
    if HAS_MULHI:
        return lax.mulhi(word, multiplier)
    wide = word.astype(jnp.uint64) * multiplier.astype(jnp.uint64)  # jax < 0.10
    if wide.dtype != jnp.uint64:  # outside _scope(x64=True) the product would wrap at 32 bits
        raise RuntimeError(f"Philox's high words need 64-bit types in jax {jax.__version__}")
    return (wide >> jnp.uint64(32)).astype(jnp.uint32)


# ---------------------------------------------------------------------------------------------
# Devices.


def _gpu_devices() -> list:
    try:
        return jax.local_devices(backend="gpu")
    except RuntimeError:
        return []


def device_unavailable_reason(device: str) -> str | None:
    if device == "cpu":
        return None
    if _gpu_devices():
        return None
    platforms = sorted({d.platform for d in jax.devices()})
    return (
        f"no GPU: jax {jax.__version__} sees only {', '.join(platforms)} devices "
        f"(a GPU needs a CUDA/ROCm jaxlib, e.g. pip install 'jax[cuda12]=={jax.__version__}')"
    )


def _local_devices(device: str) -> list:
    """This process's JAX devices of the platform ``device`` names, first one first."""
    if device == "gpu":
        devices = _gpu_devices()
        if not devices:
            raise RuntimeError(device_unavailable_reason("gpu"))
        return devices
    return jax.local_devices(backend="cpu")


def _device(device: str):
    return _local_devices(device)[0]


def _mesh(device: str) -> Mesh | None:
    """The mesh ``native`` and ``shared`` shard their chunks over; None for a single device.

    Every local device of the platform; on the CPU no more than ``cpu_threads()`` (a Dask worker
    with ``JITPI_THREADS=1`` stays on one device).
    """
    devices = _local_devices(device)
    if devices[0].platform == "cpu":
        devices = devices[: cpu_threads()]
    if not CAN_SHARD:
        devices = devices[:1]
    return _mesh_of(tuple(devices))


@functools.lru_cache(maxsize=8)
def _mesh_of(devices: tuple) -> Mesh | None:
    return Mesh(np.array(devices), (AXIS,)) if len(devices) > 1 else None


def device_count(device: str = "cpu") -> int:
    """Devices the chunks of ``native`` and ``shared`` are sharded over on ``device``."""
    mesh = _mesh(device)
    return 1 if mesh is None else mesh.size


def describe(device: str) -> str:
    target = _device(device)
    threads = f", XLA intra-op pool of {_schedulable_cpus()} threads" if target.platform == "cpu" else ""
    count = device_count(device)
    sharding = (
        f"chunks sharded over {count} {target.platform} devices (jax.shard_map + psum)"
        if count > 1
        else f"1 {target.platform} device"
    )
    if not CAN_SHARD and len(_local_devices(device)) > 1:
        sharding += f" (sharding over several needs jax >= 0.8; this is {jax.__version__})"
    return (
        f"jax {jax.__version__}, XLA-compiled on {target.device_kind} ({target.platform}){threads}; "
        f"{sharding}; native RNG {NATIVE_IMPL}"
        + (" (not in this release)" if "native" in NOT_IN_THIS_RELEASE else "")
    )


def _schedulable_cpus() -> int:
    """XLA sizes its CPU thread pool from the cores this process may run on (not JITPI_THREADS)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def _scope(device: str, *, x64: bool = True) -> Iterator[None]:
    """64-bit types for this thread only, and computations placed on ``device``."""
    with _enable_x64(x64), jax.default_device(_device(device)):
        yield


# ---------------------------------------------------------------------------------------------
# Sharding the chunk loop over devices.


def _on_mesh(hits, mesh: Mesh | None):
    """``hits`` as is on one device, else run on every device of ``mesh`` (replicated arguments)."""
    if mesh is None:
        return hits
    spec = PartitionSpec()
    return jax.shard_map(hits, mesh=mesh, in_specs=spec, out_specs=spec)


def _sum_over_chunks(chunk_hits, n_chunks, mesh: Mesh | None):
    """Sum of the uint32 ``chunk_hits(i)`` over chunk indices ``i`` in [0, n_chunks).

    On a mesh of D devices (inside ``_on_mesh``) device d takes ``i = d, d + D, ...`` and
    ``lax.psum`` adds the devices' sums, so every device ends with the same total.
    """
    if mesh is None:
        return lax.fori_loop(jnp.int64(0), n_chunks, lambda i, acc: acc + chunk_hits(i), jnp.uint32(0))
    size = mesh.size
    index = lax.axis_index(AXIS).astype(jnp.int64)
    trips = (n_chunks - index + (size - 1)) // size
    zero = lax.pcast(jnp.uint32(0), AXIS, to="varying")
    local = lax.fori_loop(jnp.int64(0), trips, lambda t, acc: acc + chunk_hits(t * size + index), zero)
    return lax.psum(local, AXIS)


@functools.lru_cache(maxsize=1)
def _mulhi_workaround():
    """Lowering parameters that give ``lax.mulhi`` JAX's fallback rule (None where this jax has no
    ``lax.mulhi``: ``_mulhi`` already widens the product there, and there is nothing to override).

    jaxlib 0.10.2 cannot compile ``lax.mulhi`` in a program partitioned over several devices
    (docs/backends/jax.md); the fallback widens to 64 bits, multiplies and shifts: the same bits.
    """
    if not HAS_MULHI:
        return None
    from jax._src.interpreters import mlir
    from jax._src.lax import lax as lax_internal

    rule = mlir.lower_fun(lax_internal._mulhi_impl, multiple_results=False)
    return mlir.LoweringParameters(override_lowering_rules=((lax_internal.mulhi_p, rule),))


_MULTI_DEVICE_EXECUTABLES: dict = {}
"""(variant, mesh, static arguments) -> executable compiled ahead of time for that mesh."""


def _run(variant: str, args: tuple, mesh: Mesh | None, **static):
    """Dispatch one call of a variant's kernel: the ``jit`` on one device, else its mesh executable.

    Returns the (asynchronous) uint32 count. Callers are inside ``_scope``: the arguments' types,
    and so the executable, are the same on every call.
    """
    kernel = _KERNELS[variant]
    if mesh is None:
        return kernel(*args, mesh=None, **static)
    key = (variant, mesh, tuple(sorted(static.items())))
    executable = _MULTI_DEVICE_EXECUTABLES.get(key)
    if executable is None:
        traced = kernel.trace(*args, mesh=mesh, **static)
        workaround = _mulhi_workaround()
        lowered = traced.lower() if workaround is None else traced.lower(_private_parameters=workaround)
        executable = lowered.compile()
        _MULTI_DEVICE_EXECUTABLES[key] = executable
    return executable(*args)


class _Counts:
    """Python-int sum of the calls' uint32 counts, with at most ``MAX_IN_FLIGHT`` calls pending.

    ``int()`` waits for a call's asynchronous result. The bound matters on a mesh: with more than
    about 32 psum programs in flight jaxlib 0.10.2's CPU client deadlocks and aborts the process
    (docs/backends/jax.md). Waiting costs nothing here: a call counts up to 2**30 samples.
    """

    def __init__(self) -> None:
        self._pending: collections.deque = collections.deque()
        self._total = 0

    def add(self, count) -> None:
        self._pending.append(count)
        if len(self._pending) > MAX_IN_FLIGHT:
            self._total += int(self._pending.popleft())

    def total(self) -> int:
        while self._pending:
            self._total += int(self._pending.popleft())
        return self._total


# ---------------------------------------------------------------------------------------------
# native: jax.random philox4x32, keyed per chunk.


def _as_float32(bits):
    return lax.bitcast_convert_type(bits, jnp.float32)


def _unit_midpoint(words):
    return philox.unit_midpoint(words, bitcast_float32=_as_float32)


@functools.partial(jax.jit, static_argnames=("chunk", "mesh"))
def _native_call(key, first_chunk, n_chunks, count, *, chunk, mesh=None):
    """Hits among the first ``count`` samples of chunks ``first_chunk``, ``first_chunk + 1``, ..."""

    def hits(key, first_chunk, n_chunks, count):
        lane = lax.iota(jnp.int32, chunk)  # int32 lanes: an int64 mask halves the kernel's speed

        def chunk_hits(i):
            index = first_chunk + i.astype(jnp.uint64)
            chunk_key = jax.random.fold_in(key, (index >> jnp.uint64(32)).astype(jnp.uint32))
            chunk_key = jax.random.fold_in(chunk_key, index.astype(jnp.uint32))
            words = jax.random.bits(chunk_key, (chunk,), jnp.uint64)
            x = _unit_midpoint((words >> jnp.uint64(32)).astype(jnp.uint32))
            y = _unit_midpoint(words.astype(jnp.uint32))
            valid = jnp.minimum(count - i * chunk, chunk).astype(jnp.int32)
            inside = (x * x + y * y < jnp.float32(1.0)) & (lane < valid)
            return jnp.sum(inside, dtype=jnp.uint32)

        return _sum_over_chunks(chunk_hits, n_chunks, mesh)

    return _on_mesh(hits, mesh)(key, first_chunk, n_chunks, count)


@functools.lru_cache(maxsize=64)
def _native_key(seed: int, device: str):
    with _scope(device):
        return jax.random.key(np.uint64(seed), impl=NATIVE_IMPL)


def native(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    """Hits among samples [start, start + n) of stream ``seed``; ``start`` is a multiple of the chunk."""
    plan = ChunkPlan(start, n, CHUNKS.pick(chunk, "native", device))  # checks that start is on a chunk edge
    chunk = plan.chunk
    per_call = max(1, MAX_PER_CALL // chunk) * chunk
    key = _native_key(seed, device)
    mesh = _mesh(device)
    counts = _Counts()
    with _scope(device):
        first, remaining = plan.first_chunk, n
        while remaining:
            count = min(remaining, per_call)
            n_chunks = -(-count // chunk)
            args = (key, np.uint64(first), np.int64(n_chunks), np.int64(count))
            counts.add(_run("native", args, mesh, chunk=chunk))
            first += n_chunks
            remaining -= count
        return counts.total()


# ---------------------------------------------------------------------------------------------
# shared: Philox4x32-10 in jnp uint32 ops.


def _mulhilo(word, multiplier: int):
    multiplier = jnp.uint32(multiplier)
    return _mulhi(word, multiplier), word * multiplier


def _wrapping_add(key, increment: int):
    return key + jnp.uint32(increment)  # uint32 arithmetic wraps modulo 2**32


def _philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 on uint32 arrays: ``lax.mulhi`` (``_mulhi``) and a wrapping uint32 product."""
    return philox.rounds(c0, c1, c2, c3, k0, k1, mulhilo=_mulhilo, bump_key=_wrapping_add)


def _signed64(words):
    return lax.bitcast_convert_type(words, jnp.int32).astype(jnp.int64)


def _inside(x_words, y_words):
    return philox.inside_test(x_words, y_words, to_signed=_signed64)


@jax.jit
def _philox_words(counters, key):
    return jnp.stack(_philox4x32(*counters.T, *key), axis=1)


def philox_words(counters, key: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """Raw Philox4x32-10 words of this backend's round function for 4-word counters (for tests)."""
    with _scope("cpu"):
        words = _philox_words(jnp.asarray(counters, jnp.uint32), jnp.asarray(key, jnp.uint32))
        return [tuple(int(w) for w in row) for row in np.asarray(words)]


@functools.partial(jax.jit, static_argnames=("blocks", "mesh"))
def _shared_call(k0, k1, first_block, skip, count, n_chunks, *, blocks, mesh=None):
    """Hits among samples [2 * first_block + skip, ... + count) of the stream keyed (k0, k1).

    Per-element work is in 32-bit lanes (the block counter's two words, sample positions relative
    to this call, which stay below 2**31); 64-bit only where exactness needs it, in the squares.
    """

    def hits(k0, k1, first_block, skip, count, n_chunks):
        lane = lax.iota(jnp.uint32, blocks)
        zero = jnp.zeros((blocks,), jnp.uint32)
        count = count.astype(jnp.int32)

        def chunk_hits(i):
            base = first_block + i.astype(jnp.uint64) * jnp.uint64(blocks)
            base_lo = base.astype(jnp.uint32)
            c0 = base_lo + lane
            c1 = (base >> jnp.uint64(32)).astype(jnp.uint32) + (c0 < base_lo).astype(jnp.uint32)
            w0, w1, w2, w3 = _philox4x32(c0, c1, zero, zero, k0, k1)
            even = (i * (2 * blocks) - skip).astype(jnp.int32) + 2 * lane.astype(jnp.int32)
            hits_even = _inside(w0, w1) & (even >= 0) & (even < count)
            hits_odd = _inside(w2, w3) & (even + 1 < count)
            # One reduction over both samples: two would make XLA fuse (and run) Philox twice.
            both = hits_even.astype(jnp.uint32) + hits_odd.astype(jnp.uint32)
            return jnp.sum(both, dtype=jnp.uint32)

        return _sum_over_chunks(chunk_hits, n_chunks, mesh)

    return _on_mesh(hits, mesh)(k0, k1, first_block, skip, count, n_chunks)


_KERNELS = {"native": _native_call, "shared": _shared_call}


def shared(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    """Hits among samples [start, start + n) of the shared Philox stream; any start works."""
    blocks = max(1, CHUNKS.pick(chunk, "shared", device) // 2)
    k0, k1 = (np.uint32(word) for word in philox.split_seed(seed))
    mesh = _mesh(device)
    counts = _Counts()
    with _scope(device):
        position, remaining = start, n
        while remaining:
            count = min(remaining, MAX_PER_CALL)
            skip = position % 2
            n_chunks = -(-(skip + count) // (2 * blocks))
            args = (k0, k1, np.uint64(position // 2), np.int64(skip), np.int64(count), np.int64(n_chunks))
            counts.add(_run("shared", args, mesh, blocks=blocks))
            position += count
            remaining -= count
        return counts.total()


# ---------------------------------------------------------------------------------------------
# naive: whole arrays, n static.


@functools.partial(jax.jit, static_argnums=(1,))
def _naive_call(key, n):
    key_x, key_y = jax.random.split(key)
    x = jax.random.uniform(key_x, (n,), jnp.float32)
    y = jax.random.uniform(key_y, (n,), jnp.float32)
    return jnp.sum(x * x + y * y < 1.0, dtype=jnp.uint32)


@functools.lru_cache(maxsize=64)
def _naive_key(seed: int, device: str):
    with _scope(device):
        return jax.random.key(np.uint64(seed))  # threefry2x32: key data (seed div 2**32, seed mod 2**32)


def naive_max_n(device: str = "cpu") -> int:
    """Largest n whose whole arrays fit in half the memory free now on ``device``."""
    target = _device(device)
    memory = available_memory_bytes()
    if target.platform != "cpu":
        stats = target.memory_stats() or {}
        memory = stats.get("bytes_limit", 0) - stats.get("bytes_in_use", 0) or memory
    return min(NAIVE_HARD_MAX, naive_limit(NAIVE_BYTES_PER_SAMPLE, memory))


def naive(n: int, seed: int, *, device: str = "cpu") -> int:
    """The article's whole-array estimate: one compilation and O(n) memory per n."""
    key = _naive_key(seed, device)
    with _scope(device, x64=False):
        return int(_naive_call(key, n))


# ---------------------------------------------------------------------------------------------
# Introspection, for tests and benchmarks.


def compile_counts() -> dict[str, int]:
    """Compiled executables held per variant: one per chunk size and mesh, or per n (naive)."""
    meshes = [variant for variant, _, _ in list(_MULTI_DEVICE_EXECUTABLES)]
    counts = {variant: kernel._cache_size() + meshes.count(variant) for variant, kernel in _KERNELS.items()}
    return {**counts, "naive": _naive_call._cache_size()}


def multi_device_executables() -> dict:
    """The executables compiled for a mesh of devices, keyed (variant, device count, static args)."""
    return {
        (variant, mesh.size, static): executable
        for (variant, mesh, static), executable in list(_MULTI_DEVICE_EXECUTABLES.items())
    }


def compiled_temp_bytes(device: str = "cpu") -> tuple[int, int]:
    """XLA's temporary buffer sizes of the compiled native and shared kernels (independent of n)."""
    with _scope(device):
        key = _native_key(0, device)
        native = _native_call.lower(key, np.uint64(0), np.int64(1), np.int64(1), chunk=CHUNKS.native)
        shared = _shared_call.lower(
            np.uint32(0),
            np.uint32(0),
            np.uint64(0),
            np.int64(0),
            np.int64(1),
            np.int64(1),
            blocks=CHUNKS.shared // 2,
        )
        return tuple(  # type: ignore[return-value]
            lowered.compile().memory_analysis().temp_size_in_bytes for lowered in (native, shared)
        )


def compile_count() -> int:
    return sum(compile_counts().values())


BACKEND = Backend(
    name="jax",
    describe=describe,
    kernels={"naive": naive, "native": native, "shared": shared},
    chunks=CHUNKS,
    devices=("cpu", "gpu"),
    device_unavailable_reason=device_unavailable_reason,
    not_in_this_release=NOT_IN_THIS_RELEASE,
    native_keyed_per_chunk=True,
    naive_max_n=naive_max_n,
    philox_words=philox_words,
    compile_count=compile_count,
)
