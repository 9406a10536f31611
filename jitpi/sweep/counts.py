"""Sample counts as a user writes them (``1e6``, ``10**6``, ``1e5:1e8``); ``jitpi.view.format.n_label``
writes them back.

``UsageError`` lives here too: a bad value on the command line, which the command line prints on one
line before exiting with status 2.
"""

from __future__ import annotations

import re

from jitpi._validation import check_n


class UsageError(ValueError):
    """A bad command-line value; the command line prints it on one line and exits 2."""


_INTEGER = re.compile(r"[0-9][0-9_]*")
_POWER = re.compile(r"([0-9]+)\s*(?:\*\*|\^)\s*([0-9]+)")
_FLOAT = re.compile(r"[0-9.]+(?:[eE][+-]?[0-9]+)?")


def parse_count(text: str, *, what: str = "--n") -> int:
    """One sample count: ``1000000``, ``1_000_000``, ``1e6``, ``10**6`` or ``2^20``."""
    token = text.strip()
    value: object
    if _INTEGER.fullmatch(token):
        value = int(token)
    elif match := _POWER.fullmatch(token):
        base, exponent = int(match.group(1)), int(match.group(2))
        if exponent > 64:
            raise UsageError(f"{what}: {token!r} is far above 2**40, the largest n jitpi accepts")
        value = base**exponent
    elif _FLOAT.fullmatch(token):
        try:
            value = float(token)
        except ValueError:
            raise UsageError(_not_a_count(token, what)) from None
    else:
        raise UsageError(_not_a_count(token, what))
    try:
        return check_n(value, name=what)
    except (TypeError, ValueError) as error:
        raise UsageError(f"{what}: {token!r} is not a sample count: {error}") from None


def _not_a_count(token: str, what: str) -> str:
    return (
        f"{what}: {token!r} is not a sample count "
        "(write e.g. 1e6, 10**6, 1000000, a decade range 1e5:1e8, or a comma list 1e5,3e5,1e6)"
    )


def parse_n(text: str, *, what: str = "--n") -> list[int]:
    """Sample counts from a comma list of counts and decade ranges, sorted, without repeats.

    ``a:b`` means a, 10a, 100a, ... up to b (b is included when it is on that grid).
    """
    values: set[int] = set()
    for part in text.split(","):
        if not part.strip():
            raise UsageError(f"{what}: empty item in {text!r}")
        if ":" in part:
            bounds = part.split(":")
            if len(bounds) != 2:
                raise UsageError(f"{what}: {part.strip()!r} is not a range; write low:high, e.g. 1e5:1e8")
            low, high = (parse_count(bound, what=what) for bound in bounds)
            if low > high:
                raise UsageError(f"{what}: range {part.strip()!r} runs backwards ({low} > {high})")
            value = low
            while value <= high:
                values.add(value)
                value *= 10
        else:
            values.add(parse_count(part, what=what))
    return sorted(values)


def parse_n_options(texts: list[str], *, what: str = "--n") -> list[int]:
    """Every value of a repeated option (``--n 1e5 --n 1e7``), merged, sorted, without repeats."""
    return sorted({n for text in texts for n in parse_n(text, what=what)})
