"""The backend contract as code: the one object every backend module exports as ``BACKEND``.

The registry checks it when it loads the module (``Backend.check``) and names what is wrong; the
rest of jitpi, the tests and the asv suite read a backend only through it: its kernels, the devices
and variants it has (and why not), its chunks, its bounds and its test hooks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from jitpi.chunking import pick_chunk

VARIANTS = ("naive", "native", "shared")
DEVICES = ("cpu", "gpu")
CHUNKED_VARIANTS = ("native", "shared")
NAIVE = "naive"
"""The variant that holds every sample at once (the founding article's), bounded by ``naive_max_n``."""
SHARED = "shared"
"""The variant every backend computes bit for bit: one Philox4x32-10 stream (``jitpi.philox``)."""

Words = tuple[int, int, int, int]


class ChunkedKernel(Protocol):
    """``native`` and ``shared``: hits among samples [start, start + n) of stream ``seed``."""

    def __call__(
        self, n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None
    ) -> int: ...


class NaiveKernel(Protocol):
    """``naive``: hits among the first n samples, whole arrays (or the plain loop), no chunk."""

    def __call__(self, n: int, seed: int, *, device: str = "cpu") -> int: ...


class PhiloxWords(Protocol):
    """Test hook: the raw Philox4x32-10 words of the backend's own shared-stream round function
    for each 4-word counter under one 2-word key."""

    def __call__(self, counters: Sequence[Words], key: tuple[int, int]) -> list[Words]: ...


@dataclass(frozen=True)
class Chunks:
    """Default samples per chunk: per variant on the CPU, one for both on a GPU.

    ``chunk`` reads the same way in every backend (``pick``): None or 0 means the default for the
    variant and device, anything else must lie in [smallest, largest].
    """

    native: int
    shared: int
    gpu: int | None = None
    smallest: int = 1
    largest: int | None = None
    largest_why: str = ""

    def default(self, variant: str, device: str) -> int:
        if device == "gpu" and self.gpu is not None:
            return self.gpu
        return self.shared if variant == "shared" else self.native

    def pick(self, chunk: int | None, variant: str, device: str = "cpu") -> int:
        """The chunk a kernel uses for ``chunk`` as a caller passed it, checked."""
        return pick_chunk(
            chunk,
            self.default(variant, device),
            smallest=self.smallest,
            largest=self.largest,
            why=self.largest_why,
        )


def _cpu_only(device: str) -> str | None:
    return None


@dataclass(frozen=True)
class Backend:
    """Everything jitpi knows of one backend, checked at load (see ``check``).

    - ``kernels``: variant -> kernel, for the variants the backend implements;
    - ``devices``: where it has code; ``device_unavailable_reason(device)`` says at run time why a
      device it has code for cannot run here (no GPU visible), or None; ``absent_devices``: device
      -> why it has no code there (default: "<name> has no <DEVICE> support");
    - ``not_on_gpu``: variant -> why a variant it implements has no GPU form;
    - ``not_in_this_release``: variant -> why the installed release of the framework cannot run a
      variant it implements (an API that arrived later: the release sweep runs older ones);
    - ``chunks``: default and allowed chunk sizes; ``native_keyed_per_chunk``: native's stream
      depends on the chunk, so a split of the work must start on the device's chunk edges;
    - ``naive_max_n(device)``: the largest n the naive variant accepts here (it holds every sample);
    - test hooks: ``philox_words`` (the shared stream's round function on raw counters), and
      ``compile_count()`` (kernels compiled so far in this process; None for a backend that
      compiles nothing);
    - ``version()``: the framework's version where no installed package says it (an interpreter
      found on PATH, such as PyPy), or None.
    """

    name: str
    describe: Callable[[str], str]
    kernels: Mapping[str, ChunkedKernel | NaiveKernel]
    chunks: Chunks
    philox_words: PhiloxWords
    devices: tuple[str, ...] = ("cpu",)
    device_unavailable_reason: Callable[[str], str | None] = _cpu_only
    not_on_gpu: Mapping[str, str] = field(default_factory=dict)
    not_in_this_release: Mapping[str, str] = field(default_factory=dict)
    absent_devices: Mapping[str, str] = field(default_factory=dict)
    native_keyed_per_chunk: bool = False
    naive_max_n: Callable[[str], int] | None = None
    compile_count: Callable[[], int] | None = None
    version: Callable[[], str | None] | None = None

    @property
    def variants(self) -> tuple[str, ...]:
        return tuple(variant for variant in VARIANTS if variant in self.kernels)

    def kernel(self, variant: str) -> Callable[..., int]:
        return self.kernels[variant]

    def unavailable_reason(self, device: str, variant: str | None = None) -> str | None:
        """None if this backend runs on ``device`` (and ``variant`` there), else why not."""
        if device not in self.devices:
            return self.absent_devices.get(device, f"{self.name} has no {device.upper()} support")
        reason = self.device_unavailable_reason(device)
        if reason is not None or variant is None:
            return reason
        if variant not in self.kernels:
            return f"the {variant!r} variant is not implemented for {self.name}"
        if variant in self.not_in_this_release:
            return self.not_in_this_release[variant]
        if device == "gpu":
            return self.not_on_gpu.get(variant)
        return None

    def check(self) -> list[str]:
        """What is wrong with this object as a backend, in words (empty when it keeps the contract)."""
        problems = []
        if not self.name.isidentifier():
            problems.append(f"name {self.name!r} is not an identifier")
        unknown = set(self.kernels) - set(VARIANTS)
        if unknown:
            problems.append(f"kernels has unknown variants {sorted(unknown)} (valid: {', '.join(VARIANTS)})")
        if not {"native", "shared"} <= set(self.kernels):
            problems.append("kernels must include 'native' and 'shared'")
        for variant, kernel in self.kernels.items():
            if not callable(kernel):
                problems.append(f"kernels[{variant!r}] is not callable")
        if "naive" in self.kernels and self.naive_max_n is None:
            problems.append("a backend with a 'naive' kernel must give naive_max_n(device)")
        if "cpu" not in self.devices or not set(self.devices) <= set(DEVICES):
            problems.append(f"devices {self.devices!r} must include 'cpu' and be among {DEVICES}")
        if not set(self.absent_devices) <= set(DEVICES) - set(self.devices):
            problems.append("absent_devices names a device the backend has code for, or no device")
        if set(self.not_on_gpu) - set(self.kernels):
            problems.append("not_on_gpu names a variant the backend does not implement")
        if set(self.not_in_this_release) - set(self.kernels):
            problems.append("not_in_this_release names a variant the backend does not implement")
        if "gpu" in self.devices and self.device_unavailable_reason is _cpu_only:
            problems.append("a backend with GPU code must give device_unavailable_reason(device)")
        if not isinstance(self.chunks, Chunks):
            problems.append("chunks must be a jitpi.contract.Chunks")
        else:
            for label, value in (("native", self.chunks.native), ("shared", self.chunks.shared)):
                if value < self.chunks.smallest or (self.chunks.largest and value > self.chunks.largest):
                    problems.append(f"chunks.{label}={value} is outside [smallest, largest]")
            if self.chunks.gpu is not None and "gpu" not in self.devices:
                problems.append("chunks.gpu is set for a backend without GPU code")
        for label, hook in (("describe", self.describe), ("philox_words", self.philox_words)):
            if not callable(hook):
                problems.append(f"{label} is not callable")
        return problems
