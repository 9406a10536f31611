"""One module per backend, all shaped the same, none importing another.

A backend module imports its framework at the top (the registry imports it lazily and isolates
failures) and exports ``BACKEND``, a ``jitpi.contract.Backend`` that the registry checks at load:
its kernels (``native``, ``shared`` and optionally ``naive``, each ``(n, seed, *, device, start=0,
chunk=None) -> int``, naive without start and chunk), devices, chunks, bounds and test hooks.
Arguments arrive validated (``jitpi._validation``); ``chunk`` is read through ``Chunks.pick``; the
shared stream's pieces are in ``jitpi.philox``, chunk arithmetic in ``jitpi.chunking``. Design
notes per backend: ``docs/backends/<name>.md``. This package holds what several backends need of
the machine: the thread count and the memory bound of the naive variant.
"""

from __future__ import annotations

import os


def cpu_threads() -> int:
    """Threads a backend should use: all cores this process may run on, or ``JITPI_THREADS``.

    Dask workers run one thread per process and set ``JITPI_THREADS=1`` to match.
    """
    requested = os.environ.get("JITPI_THREADS")
    if requested:
        return max(1, int(requested))
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def available_memory_bytes() -> int:
    """Memory available for new allocations now (MemAvailable), used to bound the naive variant."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def naive_limit(bytes_per_sample: int, memory_bytes: int, *, fraction: float = 0.5) -> int:
    """Largest n whose whole arrays fit in ``fraction`` of ``memory_bytes``."""
    return max(1, int(memory_bytes * fraction) // bytes_per_sample)
