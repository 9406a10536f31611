"""The command line's exit statuses and its checks of argument values: each bad value is a
``UsageError``, which ``main`` prints on one line before exiting with status 2."""

from __future__ import annotations

import argparse
import importlib.util
import re
from collections.abc import Sequence
from typing import NoReturn

from jitpi._validation import check_seed
from jitpi.sweep import UsageError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "Parser",
    "UsageError",
    "check_scheduler",
    "parse_names",
    "parse_positive_int",
    "parse_seconds",
    "parse_seed",
]


class Parser(argparse.ArgumentParser):
    """argparse, but every error is one line on stderr (no usage dump), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def parse_names(values: list[str] | None, *, name: str, choices: Sequence[str]) -> list[str] | None:
    """Repeatable, comma-separated names, each checked against ``choices``."""
    if not values:
        return None
    chosen: list[str] = []
    for value in values:
        for item in value.split(","):
            item = item.strip()
            if item == "all":
                chosen.extend(choices)
                continue
            if item not in choices:
                raise UsageError(
                    f"--{name}: unknown {name} {item!r} (choose from {', '.join(choices)}, or all)"
                )
            chosen.append(item)
    return list(dict.fromkeys(chosen))


def parse_positive_int(text: str, *, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"{what}: {text!r} is not a whole number") from None
    if value < 1:
        raise UsageError(f"{what}: must be at least 1, got {value}")
    return value


def parse_seed(text: str) -> int:
    """A seed as ``jitpi.count_hits`` takes it (``check_seed``), written in decimal, hex or binary."""
    value: object
    try:
        value = int(text, 0)
    except ValueError:
        value = text
    try:
        return check_seed(value, name="--seed")
    except (TypeError, ValueError) as error:
        raise UsageError(str(error)) from None


def parse_seconds(text: str, *, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{what}: {text!r} is not a number of seconds") from None
    if not value >= 0 or value == float("inf"):
        raise UsageError(f"{what}: must be a finite number of seconds >= 0, got {text!r}")
    return value


def check_scheduler(address: str) -> None:
    if importlib.util.find_spec("distributed") is None:
        raise UsageError("--scheduler needs dask.distributed: pip install 'jitpi[dask]'")
    if not re.fullmatch(r"(tcp|tls|inproc|ucx|ws|wss)://[^\s/]+(:\d+)?/?|[\w.-]+:\d+", address):
        raise UsageError(f"--scheduler must be a scheduler address such as tcp://host:8786, got {address!r}")
