"""Shared fixtures: one backend list, skips with the reason from ``jitpi.availability``."""

from __future__ import annotations

import os

import pytest

import jitpi

# Backends that run at interpreter speed here get smaller n in the statistical tests.
SLOW_BACKENDS = {"python", "triton"}


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


def backend_module(backend: str):
    from jitpi import registry

    return registry.load(backend)
