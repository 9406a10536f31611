"""The one backend list, and lazy, fault-isolated loading of the backend modules.

``import jitpi`` imports no framework. A backend module (``jitpi.backends.<name>``) is imported on
first use; a missing or broken framework makes that one backend unavailable, with the reason, and
never breaks ``import jitpi`` or another backend.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import importlib.util
import sys
import threading
from dataclasses import dataclass
from types import ModuleType

BACKENDS = ("python", "numpy", "numba", "jax", "tensorflow", "torch", "triton")
VARIANTS = ("naive", "native", "shared")
DEVICES = ("cpu", "gpu")


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
class BackendInfo:
    """What must be importable for a backend, and the pip extra that installs it."""

    name: str
    modules: tuple[str, ...]
    extra: str | None
    compiles: bool

    @property
    def distribution(self) -> str | None:
        return self.modules[0] if self.modules else None


REGISTRY: dict[str, BackendInfo] = {
    "python": BackendInfo("python", (), None, compiles=False),
    "numpy": BackendInfo("numpy", ("numpy",), None, compiles=False),
    "numba": BackendInfo("numba", ("numba",), "numba", compiles=True),
    "jax": BackendInfo("jax", ("jax", "jaxlib"), "jax", compiles=True),
    "tensorflow": BackendInfo("tensorflow", ("tensorflow",), "tensorflow", compiles=True),
    "torch": BackendInfo("torch", ("torch",), "torch", compiles=True),
    # Triton kernels take torch tensors, in the interpreter too.
    "triton": BackendInfo("triton", ("triton", "torch"), "triton", compiles=True),
}
assert tuple(REGISTRY) == BACKENDS

_lock = threading.RLock()
_modules: dict[str, ModuleType] = {}
_load_errors: dict[str, str] = {}
_device_reasons: dict[tuple[str, str], str | None] = {}


def installed_version(backend: str) -> str | None:
    """The installed version of the backend's framework (Python's own for ``python``)."""
    info = REGISTRY[backend]
    if info.distribution is None:
        return sys.version.split()[0]
    for name in (info.distribution, f"{info.distribution}-cpu"):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def load(backend: str) -> ModuleType:
    """Import ``jitpi.backends.<backend>``, or raise BackendUnavailable with the reason."""
    with _lock:
        if backend in _modules:
            return _modules[backend]
        if backend not in _load_errors:
            reason = _missing_modules(backend) or _import_conflict(backend)
            if reason is None:
                try:
                    _preload_before(backend)
                    _modules[backend] = importlib.import_module(f"jitpi.backends.{backend}")
                    return _modules[backend]
                except Exception as error:  # a broken framework must not take the others down
                    reason = f"importing the {backend} backend failed: {type(error).__name__}: {error}"
            _load_errors[backend] = reason
        raise BackendUnavailable(backend, "any device", _load_errors[backend])


def unavailable_reason(backend: str, device: str, variant: str | None = None) -> str | None:
    """None if ``backend`` runs on ``device`` here (and, given ``variant``, runs that variant there),
    else why not."""
    key = (backend, device)
    with _lock:
        if key not in _device_reasons:
            try:
                module = load(backend)
            except BackendUnavailable as error:
                _device_reasons[key] = error.reason
            else:
                _device_reasons[key] = module.device_unavailable_reason(device)
        reason = _device_reasons[key]
    if reason is not None or variant is None:
        return reason
    module = load(backend)
    if getattr(module, variant, None) is None:
        return f"the {variant!r} variant is not implemented for {backend}"
    variant_reason = getattr(module, "variant_unavailable_reason", None)
    return None if variant_reason is None else variant_reason(variant, device)


def _missing_modules(backend: str) -> str | None:
    info = REGISTRY[backend]
    missing = [name for name in info.modules if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    install = f"pip install 'jitpi[{info.extra}]'" if info.extra else f"pip install {' '.join(missing)}"
    return f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed ({install})"


# TensorFlow and Triton each bundle LLVM. Loading Triton's after TensorFlow's registers LLVM's
# command-line options twice and aborts the whole process ("Option 'bitcode-mdindex-threshold'
# registered more than once"); the other order works. So Triton goes first whenever both exist.
_LOAD_FIRST = {"tensorflow": "triton"}


def _preload_before(backend: str) -> None:
    first = _LOAD_FIRST.get(backend)
    if first and first not in sys.modules and importlib.util.find_spec(first) is not None:
        with contextlib.suppress(Exception):  # a broken Triton is reported by its own backend
            importlib.import_module(first)


def _import_conflict(backend: str) -> str | None:
    for before, after in _LOAD_FIRST.items():
        if backend == after and before in sys.modules and after not in sys.modules:
            return (
                f"{after} cannot be imported after {before} in one process (both bundle LLVM and the "
                f"process would abort); import {after} first, or run it in its own process"
            )
    return None
