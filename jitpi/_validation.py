"""Argument checks shared by the public API, the backends and the command line.

Every check names the argument and what is allowed, and never coerces a value that would change
the answer: ``1e6`` becomes 1_000_000, but ``1.5``, ``True`` or ``"10"`` are refused.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

MAX_N = 2**40
"""Largest sample count the contract guarantees (64-bit offsets and sums everywhere)."""

SEED_LIMIT = 2**64
"""Seeds are 64-bit: the shared stream's Philox key is (seed mod 2**32, seed div 2**32)."""


def check_n(n: object, *, name: str = "n", low: int = 1, high: int = MAX_N) -> int:
    """Return ``n`` as an int in [low, high]; accept integral floats such as ``1e6``."""
    value = _as_integer(n, name, allow_integral_float=True)
    if not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}] (2**40 = {MAX_N}), got {n!r}")
    return value


def check_seed(seed: object, *, name: str = "seed") -> int:
    """Return ``seed`` as an int in [0, 2**64)."""
    value = _as_integer(seed, name, allow_integral_float=False)
    if not 0 <= value < SEED_LIMIT:
        raise ValueError(f"{name} must be an integer in [0, 2**64), got {seed!r}")
    return value


def check_choice(value: object, *, name: str, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``choices``; the error lists them all."""
    if not isinstance(value, str) or value not in choices:
        valid = ", ".join(repr(choice) for choice in choices)
        raise ValueError(f"unknown {name} {value!r}: valid names are {valid}")
    return value


def _as_integer(value: object, name: str, *, allow_integral_float: bool) -> int:
    # bool is an int subclass, and numpy.bool_ is not, so both are refused by name here.
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        raise TypeError(f"{name} must be an integer, got the boolean {value!r}")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and allow_integral_float:
        as_float = float(value)
        if not math.isfinite(as_float):
            raise ValueError(f"{name} must be a finite integer, got {value!r}")
        if not as_float.is_integer():
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        return int(as_float)
    kind = "a whole number (an int, or an integral float such as 1e6)" if allow_integral_float else "an int"
    raise TypeError(f"{name} must be {kind}, got {type(value).__name__} {value!r}")
