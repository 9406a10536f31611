"""The public contract: an exact hit count per backend, and the estimate computed from it."""

from __future__ import annotations

from typing import Any

from jitpi import registry
from jitpi._kernels import checked_hits, kernel
from jitpi._validation import check_choice, check_n, check_seed
from jitpi.distributed import count_hits_on
from jitpi.registry import BACKENDS, DEVICES, VARIANTS
from jitpi.stats import Estimate


def availability(backend: str, device: str = "cpu", variant: str | None = None) -> tuple[bool, str]:
    """Whether ``backend`` can run on ``device`` here, and if not, why (install hint, no GPU, ...).

    With ``variant``, whether it runs that variant there (a backend may lack one, or have no form of
    it on a device).
    """
    check_choice(backend, name="backend", choices=BACKENDS)
    check_choice(device, name="device", choices=DEVICES)
    if variant is not None:
        check_choice(variant, name="variant", choices=VARIANTS)
    reason = registry.unavailable_reason(backend, device, variant)
    if reason is not None:
        return False, reason
    return True, registry.load(backend).describe(device)


def count_hits(
    n: int,
    *,
    backend: str,
    seed: int = 0,
    variant: str = "native",
    device: str = "cpu",
    client: Any = None,
) -> int:
    """Exact number of the first ``n`` samples of stream ``seed`` inside the quarter circle.

    With a ``dask.distributed.Client``, the count is split into chunk tasks run by its workers; the
    result is the same integer.
    """
    check_choice(backend, name="backend", choices=BACKENDS)
    check_choice(variant, name="variant", choices=VARIANTS)
    check_choice(device, name="device", choices=DEVICES)
    n = check_n(n)
    seed = check_seed(seed)
    if client is not None:
        hits = count_hits_on(client, n, backend=backend, seed=seed, variant=variant, device=device)
        return checked_hits(hits, n, backend, variant, device)
    count = kernel(backend, variant, device)
    naive_max_n = registry.load(backend).naive_max_n
    if variant == "naive" and naive_max_n is not None:
        limit = naive_max_n(device)
        if n > limit:
            raise ValueError(
                f"n={n} is above {limit}, the largest the naive {backend} variant accepts on this "
                f"{device} (it materialises every sample); use variant='native' or 'shared'"
            )
    hits = count(n, seed, device=device)
    return checked_hits(hits, n, backend, variant, device)


def estimate_pi(
    n: int,
    *,
    backend: str = "numpy",
    seed: int = 0,
    variant: str = "native",
    device: str = "cpu",
    client: Any = None,
) -> Estimate:
    """Monte Carlo estimate of pi with its standard error and z-score, from ``count_hits``."""
    n = check_n(n)
    seed = check_seed(seed)
    hits = count_hits(n, backend=backend, seed=seed, variant=variant, device=device, client=client)
    return Estimate(backend=backend, variant=variant, device=device, n=n, seed=seed, hits=hits)
