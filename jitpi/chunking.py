"""Chunk arithmetic shared by every backend: a fixed chunk compiled once and looped over.

Memory is O(chunk) whatever n is, and the tail is a masked partial chunk, so n need not be a
multiple of anything. Everything here is in Python ints, which do not wrap.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class ChunkPlan:
    """Samples [start, start + n) cut into chunks of ``chunk`` samples, aligned on ``chunk``."""

    start: int
    n: int
    chunk: int

    def __post_init__(self) -> None:
        if self.chunk < 1:
            raise ValueError(f"chunk must be a positive integer, got {self.chunk}")
        if self.start % self.chunk:
            raise ValueError(f"start={self.start} must be a multiple of chunk={self.chunk}")

    @property
    def first_chunk(self) -> int:
        return self.start // self.chunk

    @property
    def full_chunks(self) -> int:
        return self.n // self.chunk

    @property
    def tail(self) -> int:
        """Samples in the last, partial chunk (0 if n is a multiple of chunk)."""
        return self.n % self.chunk

    @property
    def tail_chunk(self) -> int:
        """Index of the partial chunk, the one after the last full chunk."""
        return self.first_chunk + self.full_chunks

    @property
    def end_chunk(self) -> int:
        """One past the index of the last chunk (full or partial)."""
        return self.tail_chunk + (1 if self.tail else 0)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        """(chunk index, samples in it) for every chunk, the tail last."""
        for offset in range(self.full_chunks):
            yield self.first_chunk + offset, self.chunk
        if self.tail:
            yield self.tail_chunk, self.tail


def pick_chunk(
    chunk: int | None, default: int, *, smallest: int = 1, largest: int | None = None, why: str = ""
) -> int:
    """``chunk``, or ``default`` where it is None or 0: the one way every backend reads ``chunk``.

    A negative chunk would silently count nothing; one above ``largest`` (``why`` says what bounds
    it) would overflow the kernel's counters or offsets; one below ``smallest`` does not fit the
    kernel's unit of work (a Philox block holds two samples).
    """
    if isinstance(chunk, bool) or not (chunk is None or isinstance(chunk, numbers.Integral)):
        raise TypeError(f"chunk must be an int or None, got {type(chunk).__name__} {chunk!r}")
    chunk = int(chunk or default)
    if largest is not None:
        if not smallest <= chunk <= largest:
            reason = f" ({why})" if why else ""
            raise ValueError(f"chunk must be in [{smallest}, {largest}]{reason}, got {chunk}")
    elif chunk < smallest:
        what = "a positive integer" if smallest == 1 else f"an integer >= {smallest}"
        raise ValueError(f"chunk must be {what} (or None or 0 for the default, {default}), got {chunk}")
    return chunk


def batches(total: int, batch: int) -> Iterator[tuple[int, int]]:
    """(first, count) pairs covering range(total) in steps of ``batch``."""
    for first in range(0, total, batch):
        yield first, min(batch, total - first)


def split_range(n: int, parts: int, *, align: int = 1) -> list[tuple[int, int]]:
    """Cut samples [0, n) into at most ``parts`` contiguous (start, count) pieces.

    Every start is a multiple of ``align`` (a backend's chunk, or 2 for the shared stream's blocks),
    so any piece can be counted on its own and the pieces add up to the whole.
    """
    if parts < 1:
        raise ValueError(f"parts must be a positive integer, got {parts}")
    units = -(-n // align)
    per_part = -(-units // parts)
    pieces = []
    for first_unit in range(0, units, per_part):
        start = first_unit * align
        pieces.append((start, min(per_part * align, n - start)))
    return pieces
