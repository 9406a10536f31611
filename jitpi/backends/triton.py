"""triton: real ``@triton.jit`` kernels; compiled on a GPU, run by Triton's interpreter on the CPU.

All kernels read one Philox stream, ``tl.randint4x``/``tl.rand4x`` at int64 block offsets (the layout
of ``jitpi.philox``): ``shared`` with an exact integer test, ``native`` with float32 uniforms and no
FMA contraction (GPU and interpreter agree), ``naive`` as one launch over all n. Triton reads its
interpret switch when a kernel is decorated, so this module never sets ``TRITON_INTERPRET``: it
builds interpreted twins of the kernels explicitly, and one process can run both.

Design notes and measurements: docs/backends/triton.md
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable, Sequence
from functools import cache

import numpy as np
import torch
import triton
import triton.language as tl
from triton import knobs
from triton.runtime.interpreter import InterpretedFunction
from triton.runtime.jit import JITFunction

from jitpi._validation import MAX_N
from jitpi.contract import Backend, Chunks

CHUNKS = Chunks(
    native=1 << 20,  # samples per launch on the interpreter: 16 programs of 2**16 samples
    shared=1 << 20,
    gpu=1 << 28,  # samples per launch on a GPU: 8192 programs of 2 * BLOCK * ITERS = 32768 samples
)

INTERPRETER_BLOCK = 1 << 15
"""Philox blocks (two samples each) per interpreted program: large, as each program costs ~200
Python-level op dispatches, and no larger, as past 2**15 the numpy temporaries are mmap-sized and
page faults eat the gain (figures: docs/backends/triton.md). Smaller launches use the next power
of two (>= 16)."""
GPU_BLOCK = 1024
GPU_ITERS = 16
GPU_WARPS = 4
GPU_OPTIONS = {"num_warps": GPU_WARPS, "enable_fp_fusion": False}
"""No FMA contraction: float32 ``u*u + v*v`` rounds as in the interpreter (and Triton 3.9 warns when
the option is left to its changing default)."""

NAIVE_GPU_BLOCK = 1024
NAIVE_INTERPRETER_MAX_N = 10**7
"""The naive kernel spends two Philox blocks per sample; on the interpreter (about 1.8 M samples per
CPU second) 10**7 samples take 5-15 s. Above that it is a benchmark of numpy, not of
Triton, so it is refused (its memory, n / BLOCK partial counts, would allow far more)."""

INSIDE_BOUND = tl.constexpr(2**62)
"""x*x + y*y < 2**62, decided as x*x < 2**62 - y*y in int64 (both sides fit)."""
INTERPRETER = "interpreter (TRITON_INTERPRET=1): correct but slow, no CPU compiler"

_LOCK = threading.RLock()
"""The interpreter patches ``triton.language`` while a grid runs, and a compile in another thread
would see the patched builtins: launches are serialised."""


# ----------------------------------------------------------------------------------------------
# Kernels (plain functions: compiled and interpreted versions are built from them below). Triton
# compiles only its own kernel language, so they use ``tl.randint4x``, Triton's Philox, whose
# counter layout ``jitpi.philox`` follows, rather than ``philox.rounds``.
# ----------------------------------------------------------------------------------------------


def _shared_kernel(partials, first_block, start, end, seed, BLOCK: tl.constexpr, ITERS: tl.constexpr):
    pid = tl.program_id(0).to(tl.int64)
    lo = start.to(tl.int64)
    hi = end.to(tl.int64)
    base = first_block.to(tl.int64) + pid * (BLOCK * ITERS)
    lane = tl.arange(0, BLOCK).to(tl.int64)
    acc = tl.zeros([BLOCK], dtype=tl.int32)
    for it in range(ITERS):
        block = base + it * BLOCK + lane
        w0, w1, w2, w3 = tl.randint4x(seed, block)
        x0 = w0.to(tl.int32, bitcast=True).to(tl.int64)
        y0 = w1.to(tl.int32, bitcast=True).to(tl.int64)
        x1 = w2.to(tl.int32, bitcast=True).to(tl.int64)
        y1 = w3.to(tl.int32, bitcast=True).to(tl.int64)
        even = 2 * block
        first = (x0 * x0 < INSIDE_BOUND - y0 * y0) & (even >= lo) & (even < hi)
        second = (x1 * x1 < INSIDE_BOUND - y1 * y1) & (even + 1 >= lo) & (even + 1 < hi)
        acc += first.to(tl.int32) + second.to(tl.int32)
    count = tl.sum(acc, axis=0).to(tl.int64)
    tl.store(partials + pid, tl.load(partials + pid) + count)


def _native_kernel(partials, first_block, start, end, seed, BLOCK: tl.constexpr, ITERS: tl.constexpr):
    pid = tl.program_id(0).to(tl.int64)
    lo = start.to(tl.int64)
    hi = end.to(tl.int64)
    base = first_block.to(tl.int64) + pid * (BLOCK * ITERS)
    lane = tl.arange(0, BLOCK).to(tl.int64)
    acc = tl.zeros([BLOCK], dtype=tl.int32)
    for it in range(ITERS):
        block = base + it * BLOCK + lane
        u0, u1, u2, u3 = tl.rand4x(seed, block)
        even = 2 * block
        first = (u0 * u0 + u1 * u1 < 1.0) & (even >= lo) & (even < hi)
        second = (u2 * u2 + u3 * u3 < 1.0) & (even + 1 >= lo) & (even + 1 < hi)
        acc += first.to(tl.int32) + second.to(tl.int32)
    count = tl.sum(acc, axis=0).to(tl.int64)
    tl.store(partials + pid, tl.load(partials + pid) + count)


def _naive_kernel(partials, n, seed, BLOCK: tl.constexpr):
    pid = tl.program_id(0).to(tl.int64)
    offsets = pid * BLOCK + tl.arange(0, BLOCK).to(tl.int64)
    x = tl.rand(seed, 2 * offsets)
    y = tl.rand(seed, 2 * offsets + 1)
    inside = (x * x + y * y < 1.0) & (offsets < n.to(tl.int64))
    tl.store(partials + pid, tl.sum(inside.to(tl.int32), axis=0))


def _words_kernel(out, blocks, count, seed, BLOCK: tl.constexpr):
    pid = tl.program_id(0).to(tl.int64)
    index = pid * BLOCK + tl.arange(0, BLOCK).to(tl.int64)
    mask = index < count.to(tl.int64)
    block = tl.load(blocks + index, mask=mask, other=0)
    w0, w1, w2, w3 = tl.randint4x(seed, block)
    tl.store(out + 4 * index, w0.to(tl.int32, bitcast=True), mask=mask)
    tl.store(out + 4 * index + 1, w1.to(tl.int32, bitcast=True), mask=mask)
    tl.store(out + 4 * index + 2, w2.to(tl.int32, bitcast=True), mask=mask)
    tl.store(out + 4 * index + 3, w3.to(tl.int32, bitcast=True), mask=mask)


def _counter_words_kernel(out, counters, count, seed, BLOCK: tl.constexpr):
    """Philox4x32-10 (``tl.philox``, the round function ``tl.randint4x`` runs) of raw 4-word counters."""
    pid = tl.program_id(0).to(tl.int64)
    index = pid * BLOCK + tl.arange(0, BLOCK).to(tl.int64)
    mask = index < count.to(tl.int64)
    c0 = tl.load(counters + 4 * index, mask=mask, other=0).to(tl.uint32, bitcast=True)
    c1 = tl.load(counters + 4 * index + 1, mask=mask, other=0).to(tl.uint32, bitcast=True)
    c2 = tl.load(counters + 4 * index + 2, mask=mask, other=0).to(tl.uint32, bitcast=True)
    c3 = tl.load(counters + 4 * index + 3, mask=mask, other=0).to(tl.uint32, bitcast=True)
    w0, w1, w2, w3 = tl.philox(seed, c0, c1, c2, c3)
    tl.store(out + 4 * index, w0.to(tl.int32, bitcast=True), mask=mask)
    tl.store(out + 4 * index + 1, w1.to(tl.int32, bitcast=True), mask=mask)
    tl.store(out + 4 * index + 2, w2.to(tl.int32, bitcast=True), mask=mask)
    tl.store(out + 4 * index + 3, w3.to(tl.int32, bitcast=True), mask=mask)


# Scalar types for the compiled kernels: fixed, so that a value's size never selects another
# compile (a Python int is i32, u32, i64 or u64 by value otherwise), and not specialised (== 1,
# divisibility by 16). The interpreter types ints by value; the kernels cast them explicitly.
_SCALARS = {
    _shared_kernel: {"first_block": "i64", "start": "i64", "end": "i64", "seed": "u64"},
    _native_kernel: {"first_block": "i64", "start": "i64", "end": "i64", "seed": "u64"},
    _naive_kernel: {"n": "i64", "seed": "u64"},
    _words_kernel: {"count": "i64", "seed": "u64"},
    _counter_words_kernel: {"count": "i64", "seed": "u64"},
}


# ----------------------------------------------------------------------------------------------
# Building the compiled and the interpreted versions
# ----------------------------------------------------------------------------------------------


def _rebind(fn: Callable, namespace: dict) -> Callable:
    """``fn`` with ``namespace`` as its globals (same code, defaults and annotations)."""
    twin = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__, fn.__closure__)
    twin.__kwdefaults__ = fn.__kwdefaults__
    twin.__annotations__ = dict(fn.__annotations__)
    twin.__qualname__ = fn.__qualname__
    twin.__module__ = fn.__module__
    twin.__doc__ = fn.__doc__
    return twin


class _DeviceFunction(InterpretedFunction):
    """An interpreted library kernel called from an interpreted kernel.

    ``InterpretedFunction.__call__`` re-patches ``triton.language`` on every call (and never
    restores); the kernel's grid executor has already patched, and restores afterwards, every module
    these functions use, so the twin only runs its rewritten body. That is ~20% of the
    interpreter's time at BLOCK = 2**16."""

    def __call__(self, *args, **kwargs):
        return self.rewrite()(*args, **kwargs)


class _InterpretedLanguage(types.ModuleType):
    """``triton.language`` as an interpreted kernel sees it: library kernels replaced by their
    interpreted twins, everything else (builtins, dtypes, patched by the interpreter during a run)
    looked up on the real module at call time."""

    def __getattr__(self, name: str):
        return getattr(tl, name)


@cache
def _interpreted_language() -> _InterpretedLanguage:
    language = _InterpretedLanguage("jitpi.backends.triton.interpreted_language")
    for module in (triton.language.standard, triton.language.random):
        namespace = dict(vars(module))
        for name, value in vars(module).items():
            # Private helpers stay as they are: the interpreter recognises reduction combiners
            # (``_sum_combine``) by identity and runs them as numpy (``np.sum``). Library kernels
            # that call a private helper directly (``sort``, ``topk``) are not usable here; ours
            # use only ``zeros``, ``sum``, ``rand``, ``rand4x`` and ``randint4x``.
            if isinstance(value, (JITFunction, InterpretedFunction)) and not name.startswith("_"):
                namespace[name] = _DeviceFunction(_rebind(value.fn, namespace))
                if getattr(tl, name, None) is value:
                    setattr(language, name, namespace[name])
    return language


@cache
def _interpreted(kernel: Callable) -> InterpretedFunction:
    namespace = dict(kernel.__globals__)
    namespace["tl"] = _interpreted_language()
    # The real modules must be visible in the kernel's globals: the interpreter patches (and, when
    # the grid is done, restores) exactly the ``triton.language`` modules it finds there.
    namespace["_triton_language"] = tl
    namespace["_triton_language_core"] = tl.core
    return InterpretedFunction(_rebind(kernel, namespace))


_COMPILED: dict[Callable, JITFunction] = {}


def _compiled(kernel: Callable) -> JITFunction:
    """The kernel as a ``JITFunction`` (built once; it compiles per device on its first launch)."""
    with _LOCK:
        if kernel not in _COMPILED:
            scalars = _SCALARS[kernel]
            annotated = _rebind(kernel, kernel.__globals__)
            annotated.__annotations__.update(scalars)
            _COMPILED[kernel] = JITFunction(annotated, do_not_specialize=list(scalars))
        return _COMPILED[kernel]


def _interpret_knob_reason() -> str | None:
    """Why compiled kernels cannot run in this process, if TRITON_INTERPRET was set."""
    if knobs.runtime.interpret or isinstance(tl.randint4x, InterpretedFunction):
        return (
            "TRITON_INTERPRET=1 is set in this process, so Triton interprets every kernel; unset it "
            "(before triton is imported) to compile for the GPU"
        )
    return None


def device_unavailable_reason(device: str) -> str | None:
    if device == "cpu":
        return None
    reason = _interpret_knob_reason()
    if reason is not None:
        return reason
    if not torch.cuda.is_available():
        return f"no GPU: torch {torch.__version__} sees no CUDA or ROCm device"
    try:
        triton.runtime.driver.active.get_current_target()
    except Exception as error:  # any driver failure means no GPU for Triton
        return f"Triton found no usable GPU driver: {type(error).__name__}: {error}"
    return None


def describe(device: str) -> str:
    if device == "cpu":
        return f"triton {triton.__version__}, {INTERPRETER}; numpy on torch CPU tensors, 1 thread"
    name = torch.cuda.get_device_name() if torch.cuda.is_available() else "GPU"
    return (
        f"triton {triton.__version__}, compiled for {name}; BLOCK={GPU_BLOCK}, ITERS={GPU_ITERS}, "
        f"num_warps={GPU_WARPS}, {CHUNKS.gpu} samples per launch"
    )


# ----------------------------------------------------------------------------------------------
# Launching
# ----------------------------------------------------------------------------------------------


def _torch_device(device: str) -> torch.device:
    return torch.device("cuda" if device == "gpu" else "cpu")


def _interpreter_block(blocks: int) -> int:
    return max(16, min(INTERPRETER_BLOCK, 1 << max(0, blocks - 1).bit_length()))


def _chunked(
    kernel: Callable, variant: str, n: int, seed: int, start: int, chunk: int | None, device: str
) -> int:
    """Hits among samples [start, start + n), one launch per ``chunk`` samples."""
    chunk = CHUNKS.pick(chunk, variant, device)
    if device == "gpu":
        block, iters, launch_options = GPU_BLOCK, GPU_ITERS, GPU_OPTIONS
    else:  # the interpreter compiles nothing: size the programs to the work
        block, iters, launch_options = _interpreter_block(min(n, chunk) // 2 + 2), 1, {}
    per_program = block * iters
    max_programs = -(-(chunk // 2 + 2) // per_program)
    partials = torch.zeros(max_programs, dtype=torch.int64, device=_torch_device(device))
    function = _compiled(kernel) if device == "gpu" else _interpreted(kernel)
    end = start + n
    with _LOCK:
        for first in range(start, end, chunk):
            last = min(first + chunk, end)
            first_block, end_block = first // 2, (last + 1) // 2
            programs = -(-(end_block - first_block) // per_program)
            function[(programs,)](
                partials, first_block, first, last, seed, BLOCK=block, ITERS=iters, **launch_options
            )
        return int(partials.sum(dtype=torch.int64).item())


def shared(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    """Hits among samples [start, start + n) of the shared stream (exact integer inside test)."""
    return _chunked(_shared_kernel, "shared", n, seed, start, chunk, device)


def native(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    """Hits among samples [start, start + n) with ``tl.rand4x`` uniforms and a float32 test.

    The stream is indexed by sample, not by chunk, so ``start`` may be anything and the count does
    not depend on ``chunk``.
    """
    return _chunked(_native_kernel, "native", n, seed, start, chunk, device)


def naive_max_n(device: str) -> int:
    if device != "gpu":
        return NAIVE_INTERPRETER_MAX_N
    free, _ = torch.cuda.mem_get_info()
    by_memory = free // 2 // 4 * NAIVE_GPU_BLOCK  # one int32 partial per program of BLOCK samples
    by_grid = (2**31 - 1) * NAIVE_GPU_BLOCK  # CUDA's limit on grid dimension x
    return max(1, min(MAX_N, by_memory, by_grid))


def naive(n: int, seed: int, *, device: str = "cpu") -> int:
    """One launch over all n samples: x = tl.rand(seed, 2i), y = tl.rand(seed, 2i + 1)."""
    if device == "gpu":
        block, launch_options = NAIVE_GPU_BLOCK, GPU_OPTIONS
    else:
        block, launch_options = _interpreter_block(n), {}
    programs = -(-n // block)
    partials = torch.zeros(programs, dtype=torch.int32, device=_torch_device(device))
    function = _compiled(_naive_kernel) if device == "gpu" else _interpreted(_naive_kernel)
    with _LOCK:
        function[(programs,)](partials, n, seed, BLOCK=block, **launch_options)
        return int(partials.sum(dtype=torch.int64).item())


def block_words(blocks: Sequence[int] | np.ndarray, seed: int, *, device: str = "cpu") -> np.ndarray:
    """Raw ``tl.randint4x(seed, b)`` words for int64 offsets ``blocks``: uint32 array (len, 4)."""
    offsets = torch.as_tensor(np.asarray(blocks, dtype=np.int64), device=_torch_device(device))
    count = offsets.numel()
    out = torch.zeros(4 * max(count, 1), dtype=torch.int32, device=offsets.device)
    if count:
        if device == "gpu":
            block, function, launch_options = GPU_BLOCK, _compiled(_words_kernel), GPU_OPTIONS
        else:
            block, function, launch_options = _interpreter_block(count), _interpreted(_words_kernel), {}
        with _LOCK:
            function[(-(-count // block),)](out, offsets, count, seed, BLOCK=block, **launch_options)
    return out[: 4 * count].cpu().numpy().view(np.uint32).reshape(count, 4)


def counter_words(counters, key: tuple[int, int], *, device: str = "cpu") -> list[tuple[int, int, int, int]]:
    """``tl.philox`` on raw 4-word counters under key (k0, k1), i.e. seed ``k0 + 2**32 k1``."""
    words = np.asarray(counters, dtype=np.uint32).reshape(-1, 4).view(np.int32)
    where = _torch_device(device)
    flat = torch.as_tensor(words.reshape(-1).copy(), device=where)
    count = len(words)
    out = torch.zeros(4 * max(count, 1), dtype=torch.int32, device=where)
    seed = (key[0] & 0xFFFFFFFF) | (key[1] & 0xFFFFFFFF) << 32
    if count:
        if device == "gpu":
            block, function, options = GPU_BLOCK, _compiled(_counter_words_kernel), GPU_OPTIONS
        else:
            block, function, options = _interpreter_block(count), _interpreted(_counter_words_kernel), {}
        with _LOCK:
            function[(-(-count // block),)](out, flat, count, seed, BLOCK=block, **options)
    rows = out[: 4 * count].cpu().numpy().view(np.uint32).reshape(count, 4)
    return [tuple(int(word) for word in row) for row in rows]


def compile_count() -> int:
    """Kernels compiled for the GPU so far (the interpreter compiles nothing)."""
    with _LOCK:
        built = list(_COMPILED.values())
    return sum(len(caches[0]) for function in built for caches in function.device_caches.values())


BACKEND = Backend(
    name="triton",
    describe=describe,
    kernels={"naive": naive, "native": native, "shared": shared},
    chunks=CHUNKS,
    devices=("cpu", "gpu"),
    device_unavailable_reason=device_unavailable_reason,
    naive_max_n=naive_max_n,
    philox_words=counter_words,
    compile_count=compile_count,
)
