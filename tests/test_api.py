"""The public API's names, its errors for every bad input, and lazy, fault-isolated loading."""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import jitpi


def test_public_names():
    from jitpi import registry

    assert tuple(registry.REGISTRY) == jitpi.BACKENDS and len(set(jitpi.BACKENDS)) == len(jitpi.BACKENDS)
    leading = [registry.REGISTRY[name].compiles for name in jitpi.BACKENDS[:2]]
    assert leading == [False, False]  # the two baselines, python and numpy, lead every table
    assert jitpi.VARIANTS == ("naive", "native", "shared")
    assert jitpi.DEVICES == ("cpu", "gpu")
    assert issubclass(jitpi.BackendUnavailable, RuntimeError)


def test_estimate_is_derived_from_hits():
    estimate = jitpi.estimate_pi(10_000, backend="numpy", seed=4)
    names = {field.name for field in dataclasses.fields(estimate)}
    assert {"backend", "variant", "device", "n", "seed", "hits", "pi", "stderr", "z", "abs_error"} <= names
    assert estimate.pi == 4 * estimate.hits / 10_000
    assert estimate.stderr == pytest.approx(1.6422 / 100, rel=1e-4)
    assert estimate.z == pytest.approx((estimate.pi - math.pi) / estimate.stderr)
    assert estimate.abs_error == abs(estimate.pi - math.pi)
    with pytest.raises(dataclasses.FrozenInstanceError):
        estimate.hits = 0  # type: ignore[misc]


@pytest.mark.parametrize("n", [1e6, np.int64(1000), np.float64(1e3), 2**40 - 2**40 + 5, 10.0])
def test_integral_n_is_accepted(n):
    assert jitpi.count_hits(n, backend="numpy") == jitpi.count_hits(int(n), backend="numpy")


@pytest.mark.parametrize(
    ("n", "error"),
    [
        (0, ValueError),
        (-3, ValueError),
        (1.5, ValueError),
        (True, TypeError),
        (np.bool_(True), TypeError),
        ("10", TypeError),
        (None, TypeError),
        (math.nan, ValueError),
        (math.inf, ValueError),
        (2**40 + 1, ValueError),
        (float(2**41), ValueError),
    ],
)
def test_bad_n_is_refused_by_name(n, error):
    with pytest.raises(error, match=r"\bn\b"):
        jitpi.count_hits(n, backend="numpy")
    with pytest.raises(error, match=r"\bn\b"):
        jitpi.estimate_pi(n)


@pytest.mark.parametrize(
    ("seed", "error"),
    [
        (-1, ValueError),
        (2**64, ValueError),
        (1.0, TypeError),
        (True, TypeError),
        ("1", TypeError),
        (None, TypeError),
    ],
)
def test_bad_seed_is_refused_by_name(seed, error):
    with pytest.raises(error, match="seed"):
        jitpi.count_hits(10, backend="numpy", seed=seed)


@pytest.mark.parametrize("seed", [0, 2**32, 2**64 - 1, np.uint64(2**64 - 1)])
def test_full_seed_range(seed):
    assert 0 <= jitpi.count_hits(100, backend="numpy", seed=seed) <= 100


@pytest.mark.parametrize(
    ("kwargs", "listed"),
    [
        ({"backend": "cupy"}, "'numba'"),
        ({"backend": "numpy", "variant": "fast"}, "'shared'"),
        ({"backend": "numpy", "device": "tpu"}, "'gpu'"),
        ({"backend": None}, "'python'"),
    ],
)
def test_unknown_names_list_the_valid_ones(kwargs, listed):
    with pytest.raises(ValueError, match=listed):
        jitpi.count_hits(10, **kwargs)


def test_availability_says_why():
    ok, reason = jitpi.availability("numpy")
    assert ok and "numpy" in reason
    ok, reason = jitpi.availability("numpy", "gpu")
    assert not ok and "GPU" in reason
    with pytest.raises(jitpi.BackendUnavailable, match="GPU") as caught:
        jitpi.count_hits(10, backend="numpy", device="gpu")
    assert caught.value.reason == reason
    with pytest.raises(ValueError, match="device"):
        jitpi.availability("numpy", "tpu")


def _run(script: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
    )


def test_import_loads_no_framework():
    result = _run(
        """
        import sys, jitpi
        heavy = {"numba", "jax", "tensorflow", "torch", "triton", "matplotlib", "dask"}
        print(sorted(heavy & set(sys.modules)))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_missing_and_broken_frameworks_stay_contained(tmp_path):
    """A framework that fails to import makes its backend unavailable, with the reason, and no more."""
    broken = tmp_path / "numba"
    broken.mkdir()
    (broken / "__init__.py").write_text("raise ImportError('this numba is broken on purpose')\n")
    result = _run(
        """
        import jitpi
        ok, reason = jitpi.availability("numba")
        assert not ok and "broken on purpose" in reason, reason
        try:
            jitpi.count_hits(10, backend="numba")
        except jitpi.BackendUnavailable as error:
            assert "broken on purpose" in str(error)
        else:
            raise AssertionError("a broken backend ran")
        print(jitpi.count_hits(1000, backend="numpy"))
        """,
        PYTHONPATH=f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) == jitpi.count_hits(1000, backend="numpy")


def test_missing_framework_names_the_extra(monkeypatch):
    from jitpi import registry

    monkeypatch.setattr(registry.importlib.util, "find_spec", lambda name: None)
    assert "jitpi[jax]" in registry._missing_modules("jax")


def test_kernel_returning_garbage_is_refused(monkeypatch):
    from jitpi import registry

    loaded = registry.load("numpy")
    garbage = dataclasses.replace(loaded, kernels={**loaded.kernels, "native": lambda n, seed, device: n + 1})
    monkeypatch.setitem(registry._backends, "numpy", garbage)
    with pytest.raises(RuntimeError, match="returned"):
        jitpi.count_hits(10, backend="numpy")
