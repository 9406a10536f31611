"""Shared fixtures: one backend list, skips with the reason from ``jitpi.availability``."""

from __future__ import annotations

import os

import pytest

import jitpi
from jitpi import registry
from jitpi.contract import Backend

BASELINES = tuple(name for name in jitpi.BACKENDS if not registry.REGISTRY[name].compiles)
"""The backends that compile nothing (the plain loop and NumPy): cheap to run in any test."""

LARGE_N = 10**8
"""A backend whose ``cpu_max_n`` for a variant is below this runs at interpreter speed here: the
statistical tests give it smaller n, and the tests at n = 1e8 skip it."""


def require(backend: str, device: str = "cpu", variant: str | None = None) -> None:
    """Skip the calling test, with the reason, where ``backend`` (and ``variant``) cannot run here."""
    ok, reason = jitpi.availability(backend, device)
    if not ok:
        if os.environ.get("JITPI_REQUIRE_ALL") and device == "cpu":
            pytest.fail(f"{backend} must be available in this environment: {reason}")
        pytest.skip(reason)
    if variant is not None:
        ok, reason = jitpi.availability(backend, device, variant)
        if not ok:
            pytest.skip(reason)


@pytest.fixture(params=jitpi.BACKENDS)
def backend(request) -> str:
    require(request.param)
    return request.param


def backend_object(backend: str) -> Backend:
    """The checked ``BACKEND`` of a backend module (its kernels, chunks, bounds and test hooks)."""
    return registry.load(backend)


def is_slow(backend: str, variant: str) -> bool:
    """Whether one call of ``variant`` at n = 1e8 is beyond what ``backend`` does quickly here."""
    bound = registry.REGISTRY[backend].affordable_n(variant)
    return bound is not None and bound < LARGE_N
