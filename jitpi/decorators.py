"""The founding article's two decorators, done well.

``bench_time`` logs a call's wall time, after waiting for asynchronous results (JAX arrays, CUDA
tensors) so that the time is the computation's and not its dispatch. ``bench_accuracy`` logs the
error of a returned pi in units of the estimator's standard error. Both return the wrapped
function's value unchanged, stack on each other and on top of a JIT decorator, and log through the
standard ``logging`` module, logger ``"jitpi"``.
"""

from __future__ import annotations

import functools
import inspect
import logging
import math
import numbers
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

from jitpi.stats import Estimate, standard_error

logger = logging.getLogger("jitpi")

F = TypeVar("F", bound=Callable[..., Any])


def block_until_ready(value: Any) -> Any:
    """Wait for an asynchronously computed value; everything else passes through untouched."""
    if hasattr(value, "block_until_ready"):  # jax.Array
        value.block_until_ready()
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor) and value.is_cuda:
        torch.cuda.synchronize(value.device)
    return value


def bench_time(func: F) -> F:
    """Log the wall time of each call of ``func``; the last one is kept as ``wrapper.last_seconds``."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        value = block_until_ready(func(*args, **kwargs))
        seconds = time.perf_counter() - started
        wrapper.last_seconds = seconds  # type: ignore[attr-defined]
        logger.info("Function %s's wall time is %.6f s", _name(func), seconds)
        return value

    wrapper.last_seconds = math.nan  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def bench_accuracy(func: F | None = None, *, n_arg: str | None = None) -> Any:
    """Log how far the returned pi is from pi: absolute error, z in sigma units, relative accuracy.

    The function may return an ``Estimate`` (which carries n) or a plain float; for a float, n is
    the argument named ``n_arg``, else one called ``n``, else the first positional argument. Use it
    bare (``@bench_accuracy``) or with options (``@bench_accuracy(n_arg="samples")``). The last
    result is kept as ``wrapper.last_accuracy``, a dict.
    """
    if func is None:
        return functools.partial(bench_accuracy, n_arg=n_arg)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        value = func(*args, **kwargs)
        accuracy = _accuracy(value, _sample_count(func, n_arg, args, kwargs))
        wrapper.last_accuracy = accuracy  # type: ignore[attr-defined]
        if math.isnan(accuracy["z"]):
            logger.info(
                "Function %s's pi is %.9f: absolute error %.3e, relative accuracy %.6f (z unknown: "
                "n not found)",
                _name(func),
                accuracy["pi"],
                accuracy["abs_error"],
                accuracy["rel_accuracy"],
            )
        else:
            logger.info(
                "Function %s's pi is %.9f: absolute error %.3e = %.2f sigma (z = %+.2f, n = %d), "
                "relative accuracy %.6f",
                _name(func),
                accuracy["pi"],
                accuracy["abs_error"],
                abs(accuracy["z"]),
                accuracy["z"],
                accuracy["n"],
                accuracy["rel_accuracy"],
            )
        return value

    wrapper.last_accuracy = None  # type: ignore[attr-defined]
    return wrapper


def _name(func: Callable[..., Any]) -> str:
    return getattr(func, "__name__", None) or type(func).__name__


def _accuracy(value: Any, n: int | None) -> dict[str, Any]:
    if isinstance(value, Estimate):
        pi_hat, n = value.pi, value.n
    else:
        pi_hat = _as_float(block_until_ready(value))
    abs_error = abs(pi_hat - math.pi)
    z = (pi_hat - math.pi) / standard_error(n) if n else math.nan
    return {"pi": pi_hat, "n": n, "abs_error": abs_error, "z": z, "rel_accuracy": 1.0 - abs_error / math.pi}


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"bench_accuracy needs the function to return a pi estimate (a float or a jitpi.Estimate), "
            f"got {type(value).__name__}"
        ) from error


def _sample_count(func: Callable[..., Any], n_arg: str | None, args: tuple, kwargs: dict) -> int | None:
    try:
        bound = inspect.signature(func).bind_partial(*args, **kwargs)
        arguments = bound.arguments
    except (TypeError, ValueError):  # no signature (some JIT dispatchers) or it does not bind
        arguments = {}
    candidates = [arguments.get(n_arg)] if n_arg else [arguments.get("n")]
    if not n_arg:
        candidates.append(args[0] if args else None)
    for candidate in candidates:
        if isinstance(candidate, numbers.Real) and not isinstance(candidate, bool):
            count = float(candidate)
            if math.isfinite(count) and count >= 1 and count.is_integer():
                return int(count)
    return None
