"""torch: ``torch.compile`` (Inductor: C++/OpenMP kernels on CPU, Triton kernels on a GPU).

Each chunked variant compiles one fixed-size chunk that Inductor fuses into one kernel, and Python
loops over chunks with the chunk index kept on the device. ``native`` feeds Inductor's fused Philox
RNG keys computed from (seed, chunk), so chunk streams never collide; ``shared`` is Philox in int64
ops that never overflow (signed overflow is undefined in the C++ Inductor emits); ``naive`` is the
article's eager ``torch.rand(n)`` arrays and a compiled sum.

Design notes and measurements: docs/backends/torch.md
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable

import torch
import torch._dynamo.config
import torch._dynamo.eval_frame
import torch._inductor.config
import torch._inductor.inductor_prims  # registers prims.inductor_random

from jitpi import philox
from jitpi.backends import available_memory_bytes, cpu_threads, naive_limit
from jitpi.chunking import ChunkPlan
from jitpi.contract import Backend, Chunks

CHUNKS = Chunks(
    native=1 << 20,  # samples per compiled call (two float32 uniforms each, never materialised)
    shared=1 << 21,  # samples per compiled call (SHARED // 2 Philox blocks)
    gpu=1 << 26,  # both variants on a GPU, where a CPU-sized chunk would leave most of it idle
    largest=1 << 30,
    largest_why="Inductor's RNG offsets are int32",
)
MAX_CPU_CHUNKS = 1 << 31
"""native on the CPU: two 32-bit keys per chunk, distinct for chunk indices below 2**31."""
NAIVE_BYTES_PER_SAMPLE = 12
"""naive: x and y in float32 (8 B) and slack; the compiled reduction allocates no temporaries."""

MASK32 = philox.MASK32

torch.set_num_threads(cpu_threads())
_lock = threading.Lock()
_functions: dict[tuple, Callable] = {}


def device_unavailable_reason(device: str) -> str | None:
    if device == "cpu" or torch.cuda.is_available():
        return None
    build = "a CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda}, no GPU visible"
    return f"no CUDA GPU for torch here (torch {torch.__version__} is {build}; GPU users install CUDA torch)"


def describe(device: str) -> str:
    if device == "gpu":
        where = f"Triton kernels on {torch.cuda.get_device_name()}" if torch.cuda.is_available() else "GPU"
    else:
        where = f"C++/OpenMP kernels, {torch.get_num_threads()} threads"
    return f"torch {torch.__version__}, torch.compile (Inductor), {where}, device {device}"


def native(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    plan = ChunkPlan(start, n, CHUNKS.pick(chunk, "native", device))
    where = _torch_device(device)
    if where.type == "cpu" and plan.end_chunk > MAX_CPU_CHUNKS:
        raise ValueError(
            f"torch native on the CPU keys chunks with 32-bit Philox keys: start + n must be at most "
            f"{MAX_CPU_CHUNKS} chunks of {plan.chunk} (got {plan.end_chunk}); use a larger chunk"
        )
    refusal = _compiled_rng_refusal(where)
    if refusal:
        raise RuntimeError(f"torch native needs Inductor's fused RNG, keyed by the kernel: {refusal}")
    run = _function("native", plan.chunk, where)
    base, index = _scalar(_key_base(seed), where), _scalar(plan.first_chunk, where)
    full, tail = _scalar(plan.chunk, where), _scalar(plan.tail or plan.chunk, where)
    total = _scalar(0, where)
    for _, count in plan:
        total += run(base, index, full if count == plan.chunk else tail)
        index += 1  # on the device: no host-to-device copy, which would wait for the last kernel
    return int(total.item())  # .item() waits for the device


def shared(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    blocks = max(1, CHUNKS.pick(chunk, "shared", device) // 2)
    where = _torch_device(device)
    run = _function("shared", blocks, where)
    end = start + n
    first_block, end_block = philox.block_range(start, n)
    key = [_scalar(word, where) for word in philox.split_seed(seed)]
    bounds = _scalar(start, where), _scalar(end, where)
    block = _scalar(first_block, where)
    total = _scalar(0, where)
    for _ in range(first_block, end_block, blocks):
        total += run(block, *bounds, *key)
        block += blocks  # on the device, as native's chunk index
    return int(total.item())


def naive(n: int, seed: int, *, device: str = "cpu") -> int:
    where = _torch_device(device)
    generator = torch.Generator(device=where)
    generator.manual_seed(philox.splitmix64(seed))
    x = torch.rand(n, generator=generator, device=where)
    y = torch.rand(n, generator=generator, device=where)
    return int(_naive_count(x, y).item())


def naive_max_n(device: str) -> int:
    if device == "gpu" and torch.cuda.is_available():
        free, _ = torch.cuda.mem_get_info()
        return naive_limit(NAIVE_BYTES_PER_SAMPLE, free)
    return naive_limit(NAIVE_BYTES_PER_SAMPLE, available_memory_bytes())


def _inside_count(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x * x + y * y < 1.0).sum(dtype=torch.int64)


_naive_count = torch.compile(_inside_count, dynamic=True, fullgraph=True)


def philox_words(counters, key: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """Raw Philox4x32-10 words of the compiled ``_philox`` for 4-word counters (known-answer tests)."""
    words = torch.tensor(counters, dtype=torch.int64)
    run = _function("philox", len(counters), torch.device("cpu"))
    out = run(words, torch.tensor(key[0]), torch.tensor(key[1]))
    return [tuple(int(w) for w in row) for row in out.tolist()]


def _mulhilo(a: torch.Tensor, multiplier: int) -> tuple[torch.Tensor, torch.Tensor]:
    """High and low 32 bits of a * multiplier (both below 2**32), in int64 without overflow.

    a * multiplier may reach 2**64; with multiplier = 2**32 - m it is a * 2**32 - r, r = a * m,
    and Philox's multipliers leave m < 2**30, so r < 2**62. Then high = a - ceil(r / 2**32) and
    low = -r mod 2**32: one multiply and one shift, as with a wrapping product, and no signed
    overflow (undefined behaviour in the C++ that Inductor emits) on any code path.
    """
    r = a * ((1 << 32) - multiplier)
    return a - ((r + MASK32) >> 32), (-r) & MASK32


def _philox(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 on uint32 words held in int64 tensors."""
    return philox.rounds(c0, c1, c2, c3, k0, k1, mulhilo=_mulhilo)


def _signed32(word: torch.Tensor) -> torch.Tensor:
    return (word ^ 0x80000000) - 0x80000000  # sign extension with native vector ops only


def _inside(x_word: torch.Tensor, y_word: torch.Tensor) -> torch.Tensor:
    return philox.inside_test(x_word, y_word, to_signed=_signed32)


def _native_template(base, index, limit, *, chunk, device):
    key_x = base + 2 * index  # below 2**63 (base < 2**62, index < 2**41): no int64 overflow
    x = torch.ops.prims.inductor_random([chunk], key_x, "rand")
    y = torch.ops.prims.inductor_random([chunk], key_x + 1, "rand")
    inside = (x * x + y * y < 1.0) & (torch.arange(chunk, device=device) < limit)
    return inside.sum(dtype=torch.int64)


def _shared_template(first_block, start, end, k0, k1, *, chunk, device):
    block = first_block + torch.arange(chunk, dtype=torch.int64, device=device)
    zero = torch.zeros_like(block)
    w0, w1, w2, w3 = _philox(block & MASK32, block >> 32, zero, zero, k0, k1)
    take_even, take_odd = philox.sample_masks(2 * block, start, end)
    hits = (_inside(w0, w1) & take_even).to(torch.int32) + (
        _inside(w2, w3) & take_odd
    ).to(torch.int32)  # one count per block, so each block's Philox is computed once
    return hits.sum(dtype=torch.int64)


def _philox_template(words, k0, k1, *, chunk, device):
    return torch.stack(_philox(words[:, 0], words[:, 1], words[:, 2], words[:, 3], k0, k1), dim=1)


_TEMPLATES = {"native": _native_template, "shared": _shared_template, "philox": _philox_template}


def _function(kind: str, chunk: int, device: torch.device) -> Callable:
    """The compiled kernel for (variant, chunk, device), compiled on its first call, then reused.

    Dynamo keeps compiled graphs, and its recompile limit, per code object, so every kernel gets a
    code object of its own: no chunk size or device can evict or block another's graph.
    """
    key = (kind, chunk, str(device))
    with _lock:
        if key not in _functions:
            template = _TEMPLATES[kind]
            code = template.__code__.replace(co_name=f"{kind}_chunk_{chunk}_{device.type}")
            fresh = types.FunctionType(code, template.__globals__, code.co_name, None, None)
            fresh.__kwdefaults__ = {"chunk": chunk, "device": device}
            _functions[key] = torch.compile(fresh, dynamic=False, fullgraph=True)
        return _functions[key]


def compile_count() -> int:
    """Graphs Dynamo has compiled in this process (tests check that a new n adds none)."""
    from torch._dynamo.utils import counters

    return counters["stats"]["unique_graphs"]


def _key_base(seed: int) -> int:
    """native's first key for stream ``seed``: mixed, and below 2**62 so that keys never overflow."""
    return philox.splitmix64(seed) & ((1 << 62) - 1)


def chunk_keys(seed: int, index: int) -> tuple[int, int]:
    """native: the Philox keys of chunk ``index``'s x and y (what the kernel computes from the base)."""
    key_x = _key_base(seed) + 2 * index
    return key_x, key_x + 1


def _compiled_rng_refusal(device: torch.device) -> str | None:
    """Why the kernel's keys would not reach Inductor's RNG, if a setting stops them.

    Run eagerly, ``prims.inductor_random`` is plain ``torch.rand`` and ignores the key: counts
    would be random, so native refuses to run where Dynamo or Inductor would fall back to eager.
    """
    if torch._dynamo.config.disable:
        return "torch.compile is disabled (TORCH_COMPILE_DISABLE or torch._dynamo.config.disable)"
    stance = torch._dynamo.eval_frame._stance
    if stance.stance not in ("default", "fail_on_recompile") or stance.backend is not None:
        return f"torch.compiler.set_stance({stance.stance!r}) would not run the Inductor kernel"
    if torch._dynamo.config.suppress_errors:
        return "torch._dynamo.config.suppress_errors would turn a failed compile into eager"
    if torch._inductor.config.fallback_random:
        return "torch._inductor.config.fallback_random is set"
    if device.type == "cuda" and getattr(torch._inductor.config, "align_random_eager", False):
        return "torch._inductor.config.align_random_eager expects a (seed, offset) pair, not a key"
    return None


def _scalar(value: int, device: torch.device) -> torch.Tensor:
    return torch.tensor(value, dtype=torch.int64, device=device)


def _torch_device(device: str) -> torch.device:
    return torch.device("cuda") if device == "gpu" else torch.device("cpu")


BACKEND = Backend(
    name="torch",
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
