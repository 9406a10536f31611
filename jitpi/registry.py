"""The one backend list, and lazy, fault-isolated loading of the backend modules.

``import jitpi`` imports no framework. A backend module (``jitpi.backends.<name>``) is imported on
first use and its ``BACKEND`` object checked against the contract (``jitpi.contract``); a missing or
broken framework makes that one backend unavailable, with the reason, and never breaks
``import jitpi`` or another backend. What must be known before the import (the packages, the pip
extra, the on-disk JIT caches) is the backend's one line in ``REGISTRY``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import importlib.util
import os
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from jitpi.contract import DEVICES, VARIANTS, Backend

__all__ = ["BACKENDS", "DEVICES", "REGISTRY", "VARIANTS", "Backend", "BackendInfo", "BackendUnavailable"]


class BackendUnavailable(RuntimeError):
    """A backend, device or variant that cannot run here; ``reason`` says why."""

    def __init__(self, backend: str, device: str, reason: str, variant: str | None = None) -> None:
        self.backend = backend
        self.device = device
        self.variant = variant
        self.reason = reason
        what = f"{backend} ({variant}, {device})" if variant else f"{backend} ({device})"
        super().__init__(f"{what} is unavailable: {reason}")


@dataclass(frozen=True)
class JitCache:
    """An environment variable that points a JIT compiler's on-disk cache at a folder.

    A cold first call points every one at an empty folder. ``opt_in``: setting the variable turns
    on a cache that is otherwise off (JAX's), so it is redirected only where the user has set it.
    ``file``: the variable names a file (tinygrad's cache database), not a folder.
    """

    variable: str
    opt_in: bool = False
    file: bool = False


@dataclass(frozen=True)
class Release:
    """One release of a backend's framework, and the exact pins its environment needs beside it
    (numba refuses a newer numpy than it was built for; jaxlib moves with jax)."""

    version: str
    pins: Mapping[str, str] = field(default_factory=dict)
    package: str | None = None
    """The distribution installed at ``version`` where it is not the backend's (tensorflow-cpu)."""


def _releases(
    versions: str, package: str | None = None, *, moves_with: tuple[str, ...] = (), **pins: str
) -> tuple[Release, ...]:
    """``_releases("1.6.0 1.7.4", numpy="2.4.6")``: several releases with the same pins;
    ``moves_with``: packages released in step, pinned at each release's version (jaxlib)."""
    return tuple(
        Release(version, {**dict.fromkeys(moves_with, version), **pins}, package)
        for version in versions.split()
    )


@dataclass(frozen=True)
class BackendInfo:
    """What must be importable for a backend, the pip extra that installs it, and its JIT caches."""

    name: str
    modules: tuple[str, ...]
    extra: str | None
    compiles: bool
    jit_caches: tuple[JitCache, ...] = ()
    pip_name: str | None = None
    """The distribution's name on PyPI where it is not the first module's (warp-lang)."""
    cpu_max_n: Mapping[str, int] = field(default_factory=dict)
    """variant -> the largest n one warm CPU call does within ~30 s on a 2-core machine, for a
    backend at interpreter speed; the tests and the asv suite size their work by it without
    importing the framework. Absent: any n."""

    releases: tuple[Release, ...] = ()
    """The releases ``jitpi releases`` measures, oldest first (none: the backend is not swept)."""

    def affordable_n(self, variant: str) -> int | None:
        """The largest n one CPU call of ``variant`` does in reasonable time, or None for any."""
        return self.cpu_max_n.get(variant)

    @property
    def distribution(self) -> str | None:
        return self.pip_name or (self.modules[0] if self.modules else None)


_INTERPRETER_SPEED = dict.fromkeys(VARIANTS, 10**6)
CUDA_CACHE = JitCache("CUDA_CACHE_PATH")
"""The CUDA driver's cache of PTX compiled to machine code (numba's and XLA's GPU kernels)."""
TRITON_CACHE = JitCache("TRITON_CACHE_DIR")
JAX_CACHE = JitCache("JAX_COMPILATION_CACHE_DIR", opt_in=True)

REGISTRY: dict[str, BackendInfo] = {
    info.name: info
    for info in (
        # The loop runs ~5 M samples/s here, its pure-Python Philox ~0.3 M/s.
        BackendInfo("python", (), None, False, cpu_max_n={"naive": 10**7, "native": 10**7, "shared": 10**6}),
        # numpy's shared variant is the vectorised Philox reference: ~8 M samples/s.
        BackendInfo("numpy", ("numpy",), None, False, cpu_max_n={"shared": 10**8}),
        # Releases: every minor from 0.57, newest patch, with the newest numpy each supports (jitpi
        # needs numpy >= 1.26, so 0.57 and 0.58 say so in their rows rather than vanish).
        BackendInfo(
            "numba",
            ("numba",),
            "numba",
            True,
            (JitCache("NUMBA_CACHE_DIR"), CUDA_CACHE),
            releases=(
                *_releases("0.57.1", numpy="1.24.4"),
                *_releases("0.58.1", numpy="1.25.2"),
                *_releases("0.59.1", numpy="1.26.4"),
                *_releases("0.60.0", numpy="2.0.2"),
                *_releases("0.61.2", numpy="2.2.6"),
                *_releases("0.62.1 0.63.1 0.64.0", numpy="2.3.5"),
                *_releases("0.65.1 0.66.0 0.67.0 0.68.1", numpy="2.4.6"),
            ),
        ),
        # Releases: a few 0.4 points, then every minor's newest patch; jaxlib moves with jax. numpy
        # stays at the project's where a release imports beside it; jax 0.4.20 calls numpy.trapz
        # (gone in numpy 2.4) and jaxlib 0.4.25 was built against numpy 1, so those two get numpy
        # 1.26.4 and the ml_dtypes of their day (0.7.0 needs numpy 2 at run time). Before jax 0.10
        # the native variant has no philox4x32 and says so (jitpi.backends.jax).
        BackendInfo(
            "jax",
            ("jax", "jaxlib"),
            "jax",
            True,
            (JAX_CACHE, CUDA_CACHE),
            releases=(
                *_releases("0.4.20 0.4.25", moves_with=("jaxlib",), numpy="1.26.4", ml_dtypes="0.3.2"),
                *_releases(
                    "0.4.30 0.4.35 0.4.38 0.5.3 0.6.2 0.7.2 0.8.3 0.9.2 0.10.2",
                    moves_with=("jaxlib",),
                    numpy="2.4.6",
                ),
            ),
        ),
        # XLA keeps TensorFlow's executables in memory unless TF_XLA_FLAGS names a cache folder.
        BackendInfo(
            "tensorflow",
            ("tensorflow",),
            "tensorflow",
            True,
            (CUDA_CACHE,),
            releases=(
                *_releases("2.12.1 2.13.1", "tensorflow-cpu", numpy="1.24.4"),
                *_releases("2.14.1 2.15.1 2.16.2 2.17.1", "tensorflow-cpu", numpy="1.26.4"),
                *_releases("2.18.1", "tensorflow-cpu", numpy="2.0.2"),
                *_releases("2.19.1", "tensorflow-cpu", numpy="2.1.3"),
                *_releases("2.20.0", "tensorflow-cpu", numpy="2.2.6"),
                *_releases("2.21.0", "tensorflow-cpu", numpy="2.4.6"),
            ),
        ),
        BackendInfo("torch", ("torch",), "torch", True, (JitCache("TORCHINDUCTOR_CACHE_DIR"), TRITON_CACHE)),
        # Triton kernels take torch tensors, in the interpreter too.
        # Without a GPU, Triton's interpreter runs ~1 M samples/s.
        BackendInfo(
            "triton", ("triton", "torch"), "triton", True, (TRITON_CACHE,), cpu_max_n=_INTERPRETER_SPEED
        ),
        BackendInfo(
            "warp",
            ("warp",),
            "warp",
            True,
            (JitCache("WARP_CACHE_PATH"), CUDA_CACHE),
            "warp-lang",
            # From the oldest release jitpi's kernels count exactly on (EXACT_FROM in the backend).
            releases=_releases("1.16.0 1.17.0 1.18.0 1.19.0", numpy="2.4.6"),
        ),
        BackendInfo(
            "taichi",
            ("taichi",),
            "taichi",
            True,
            (JitCache("TI_OFFLINE_CACHE_FILE_PATH"),),
            releases=_releases("1.6.0 1.7.0 1.7.4", numpy="2.4.6"),
        ),
        BackendInfo("tinygrad", ("tinygrad",), "tinygrad", True, (JitCache("CACHEDB", file=True),)),
        # MLX builds its compiled kernels as libraries under $TMPDIR/mlx.
        BackendInfo("mlx", ("mlx",), "mlx", True, (JitCache("TMPDIR"),)),
        # PyPy is Debian's pypy3 interpreter, run as a worker process; its JIT keeps no disk cache.
        # One worker runs the article's loop at ~30 M samples/s, two the shared stream at ~150 M/s.
        BackendInfo("pypy", (), None, True, cpu_max_n={"naive": 10**8, "native": 10**9, "shared": 10**9}),
        # Mojo's compiler comes in the mojo wheel, its parallelize in MAX's (the max wheel). Its
        # cache folder holds both its own compile cache and the kernels jitpi builds there.
        BackendInfo("mojo", ("mojo", "max"), "mojo", True, (JitCache("MODULAR_CACHE_DIR"),)),
        # Dr.Jit compiles with the system's libLLVM (15 or newer; Debian's libllvm15) and keeps its
        # kernels in DRJIT_CACHE_DIR (from 1.5.0; before, only $HOME/.drjit, which the backend then
        # points HOME at). Releases: every one with a CPython 3.11 wheel from 1.1.0, the first with
        # dr.rng and dr.mul_hi (the backend refuses 1.0.x by name).
        BackendInfo(
            "drjit",
            ("drjit",),
            "drjit",
            True,
            (JitCache("DRJIT_CACHE_DIR"), CUDA_CACHE),
            releases=_releases("1.1.0 1.2.0 1.3.0 1.3.1 1.4.0 1.5.0", numpy="2.4.6"),
        ),
        # Halide's JIT keeps compiled pipelines in memory only (its library reads no cache variable);
        # on a GPU it hands PTX to the CUDA driver, whose cache is CUDA_CACHE_PATH. Releases: every
        # one with a CPython 3.11 Linux x86_64 wheel on PyPI (none for 17, 18 or 20).
        BackendInfo(
            "halide",
            ("halide",),
            "halide",
            True,
            (CUDA_CACHE,),
            releases=_releases("19.0.0 21.0.0", numpy="2.4.6"),
        ),
        # Apache TVM compiles in memory (TVMScript -> TIR -> its own LLVM, or CUDA C -> NVRTC cubin) and
        # keeps no compile cache on disk. Releases: the newest patch of each minor on PyPI as apache-tvm
        # (py3 wheels for Linux x86-64, from 0.25; each has TVMScript's tirx dialect and every API the
        # kernels use), with the oldest apache-tvm-ffi each wheel accepts, the newest with the project's.
        BackendInfo(
            "tvm",
            ("tvm", "tvm_ffi"),
            "tvm",
            True,
            (),
            "apache-tvm",
            releases=(
                *_releases("0.25.0.post1", numpy="2.4.6", **{"apache-tvm-ffi": "0.1.12"}),
                *_releases("0.26.0", numpy="2.4.6", **{"apache-tvm-ffi": "0.1.13.post2"}),
                *_releases("0.27.0.post1", numpy="2.4.6", **{"apache-tvm-ffi": "0.1.15.post2"}),
            ),
        ),
    )
}

BACKENDS: tuple[str, ...] = tuple(REGISTRY)
"""Every backend jitpi knows, in the order tables and charts list them."""


def jit_cache_variables(*, include_opt_in: bool = True) -> tuple[str, ...]:
    """Every backend's JIT cache variables, once each (optionally without the opt-in ones)."""
    names = [
        cache.variable
        for info in REGISTRY.values()
        for cache in info.jit_caches
        if include_opt_in or not cache.opt_in
    ]
    return tuple(dict.fromkeys(names))


def cold_cache_environment(folder: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default: this process's) with every JIT cache pointed into the empty ``folder``.

    An opt-in cache (one that setting its variable turns on) is redirected only where it was set.
    """
    env = dict(os.environ if environ is None else environ)
    for info in REGISTRY.values():
        for cache in info.jit_caches:
            if not cache.opt_in or cache.variable in env:
                path = os.path.join(folder, cache.variable.lower())
                os.makedirs(folder if cache.file else path, exist_ok=True)
                env[cache.variable] = path
    return env


_lock = threading.RLock()
_backends: dict[str, Backend] = {}
_load_errors: dict[str, str] = {}


def installed_version(backend: str) -> str | None:
    """The installed version of the backend's framework: its package's, else what the backend
    itself reports (an interpreter on PATH), else this Python's (``python``)."""
    info = REGISTRY[backend]
    if info.distribution is None:
        try:
            own = load(backend).version
        except BackendUnavailable:
            return None
        return own() if own is not None else sys.version.split()[0]
    for name in (info.distribution, f"{info.distribution}-cpu"):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def load(backend: str) -> Backend:
    """The checked ``BACKEND`` of ``jitpi.backends.<backend>``, or BackendUnavailable with the reason."""
    with _lock:
        if backend in _backends:
            return _backends[backend]
        if backend not in _load_errors:
            reason = _missing_modules(backend) or _import_conflict(backend)
            if reason is None:
                try:
                    _preload_before(backend)
                    module = importlib.import_module(f"jitpi.backends.{backend}")
                except Exception as error:  # a broken framework must not take the others down
                    reason = f"importing the {backend} backend failed: {type(error).__name__}: {error}"
                else:
                    _backends[backend] = checked(module.__dict__.get("BACKEND"), backend)
                    return _backends[backend]
            _load_errors[backend] = reason
        raise BackendUnavailable(backend, "any device", _load_errors[backend])


class ContractError(TypeError):
    """A backend module whose ``BACKEND`` does not keep the contract: a bug, never skipped."""


def checked(candidate: object, backend: str) -> Backend:
    """``candidate`` if it is a ``Backend`` named ``backend`` that keeps the contract, else raise."""
    where = f"jitpi.backends.{backend}.BACKEND"
    if not isinstance(candidate, Backend):
        raise ContractError(f"{where} must be a jitpi.contract.Backend, got {type(candidate).__name__}")
    problems = candidate.check()
    if candidate.name != backend:
        problems.insert(0, f"name is {candidate.name!r}, not {backend!r}")
    if problems:
        raise ContractError(f"{where} breaks the backend contract: " + "; ".join(problems))
    return candidate


def unavailable_reason(backend: str, device: str, variant: str | None = None) -> str | None:
    """None if ``backend`` runs on ``device`` here (and, given ``variant``, runs that variant there),
    else why not. Asked afresh each time (a backend caches what is costly to probe): the answer
    may change within a process, as when Taichi's process-wide runtime has picked a device."""
    try:
        loaded = load(backend)
    except BackendUnavailable as error:
        return error.reason
    return loaded.unavailable_reason(device, variant)


def _missing_modules(backend: str) -> str | None:
    info = REGISTRY[backend]
    missing = [name for name in info.modules if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    install = f"pip install 'jitpi[{info.extra}]'" if info.extra else f"pip install {' '.join(missing)}"
    return f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed ({install})"


# TensorFlow and Triton each bundle LLVM. Loading Triton's after TensorFlow's registers LLVM's
# command-line options twice and aborts the whole process ("Option 'bitcode-mdindex-threshold'
# registered more than once"); the other order works. So Triton goes first whenever both exist:
# before the tensorflow backend, and before every backend whose framework imports Triton itself
# (torch.compile's Inductor does, at its first compile, where Triton is installed).
# Dr.Jit loads the system's libLLVM when drjit is imported; after TensorFlow (whose libraries export
# their LLVM's symbols to the whole process) the process crashes: a segfault at drjit's first
# kernel, or an abort at exit in TensorFlow's LLVM option destructors. drjit goes first the same way.
_LLVM_SECOND = "tensorflow"
_LLVM_FIRST: dict[str, tuple[str, ...]] = {"triton": ("triton", "torch"), "drjit": ("drjit",)}
"""module that must load before TensorFlow -> the backends whose frameworks import it."""
_LLVM_LOADED = {"drjit": lambda drjit: drjit.has_backend(drjit.JitBackend.LLVM)}
"""module -> a call that returns once its LLVM is loaded (``import drjit`` loads it on a thread of its
own; ``has_backend`` waits for that thread)."""


def _preload_before(backend: str) -> None:
    if _LLVM_SECOND in sys.modules:  # too late: the user imported TensorFlow first (_import_conflict)
        return
    for first, importers in _LLVM_FIRST.items():
        if backend not in (_LLVM_SECOND, *importers) or first in sys.modules:
            continue
        if importlib.util.find_spec(first) is not None:
            with contextlib.suppress(Exception):  # a broken framework is reported by its own backend
                module = importlib.import_module(first)
                _LLVM_LOADED.get(first, lambda module: None)(module)


def _import_conflict(backend: str) -> str | None:
    if _LLVM_SECOND not in sys.modules:
        return None
    for first, importers in _LLVM_FIRST.items():
        if backend not in importers or first in sys.modules or importlib.util.find_spec(first) is None:
            continue
        what = first if first == backend else f"{backend} imports {first}, which"
        return (
            f"{what} cannot be imported after {_LLVM_SECOND} in one process (both bring LLVM and the "
            f"process would crash); import {first} first, or run {backend} in its own process"
        )
    return None
