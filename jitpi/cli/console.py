"""Where the command line writes: rich consoles and tables that are drawn on a terminal and plain,
unwrapped text without control characters in a pipe or a file (a CI log)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from rich import box
from rich.console import Console
from rich.table import Table

PLAIN_WIDTH = 10_000
"""Console width where output is not a terminal: tables and messages are never wrapped in a log."""


def console_for(stream: TextIO) -> Console:
    """A rich console on ``stream``: colour and live redraws on a terminal; plain unwrapped text, no
    control characters, where ``stream`` is a pipe or a file (whatever FORCE_COLOR says)."""
    if stream.isatty():
        console = Console(file=stream, highlight=False)
        if console.is_terminal and not console.is_dumb_terminal:
            return console
    return Console(file=stream, highlight=False, width=PLAIN_WIDTH, force_terminal=False)


def plain_table(header: Sequence[str], align: str) -> Table:
    """A table of plain cells (never read as markup): a bold header over a rule, no outer frame.
    ``align`` has one character per column: ``>`` right, anything else left."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for name, side in zip(header, align, strict=True):
        table.add_column(name, justify="right" if side == ">" else "left")
    return table


def print_table(table: Table, stream: TextIO) -> None:
    """``table`` on ``stream``: drawn by rich on a terminal; elsewhere the same text, lines right-trimmed."""
    console = console_for(stream)
    if console.is_terminal:
        console.print(table)
        return
    with console.capture() as captured:
        console.print(table)
    stream.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))
    stream.flush()
