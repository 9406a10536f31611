"""A backend's kernel as both ways of counting run it: in this process (``jitpi.api``) and as one
task on a cluster's worker (``jitpi.distributed``); and the check that what it returned is a count."""

from __future__ import annotations

from collections.abc import Callable

from jitpi import registry
from jitpi.registry import BackendUnavailable


def kernel(backend: str, variant: str, device: str) -> Callable[..., object]:
    """The ``variant`` kernel of ``backend`` on ``device``, or ``BackendUnavailable`` saying why not."""
    reason = registry.unavailable_reason(backend, device, variant)
    if reason is not None:
        raise BackendUnavailable(backend, device, reason, variant)
    return registry.load(backend).kernel(variant)


def checked_hits(hits: object, n: int, backend: str, variant: str, device: str) -> int:
    """Refuse a kernel result that cannot be a count: never return a wrong number silently."""
    try:
        value = int(hits)  # type: ignore[call-overload]
    except (TypeError, ValueError) as error:
        raise RuntimeError(f"{backend} ({variant}, {device}) returned {hits!r}, not a count") from error
    if value != hits or not 0 <= value <= n:
        raise RuntimeError(f"{backend} ({variant}, {device}) returned {hits!r} hits for n={n}")
    return value
