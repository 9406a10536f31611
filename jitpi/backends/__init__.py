"""One module per backend, all shaped the same, none importing another.

A backend module imports its framework at the top (the registry imports the module lazily, and
isolates failures) and defines:

- ``device_unavailable_reason(device) -> str | None``: None if it runs on that device here;
- ``describe(device) -> str``: version, compiled or interpreted, threads, for ``jitpi list``;
- one function per variant it implements, ``native``, ``shared`` and ``naive``, each
  ``(n, seed, *, device, start=0, chunk=None) -> int``: hits among samples [start, start + n)
  of stream ``seed``. ``start`` must be a multiple of the chunk for ``native`` (whose streams are
  keyed per chunk) and may be anything for ``shared``; ``naive`` has no chunk and no start;
- ``naive_max_n(device) -> int`` where ``naive`` exists: the largest n it accepts here;
- on a GPU, optionally ``GPU_CHUNK`` (the default chunk there) and ``NATIVE_KEYED_PER_CHUNK = True``
  where native's stream depends on the chunk (Dask then aligns tasks to the device's chunk);
- optionally ``variant_unavailable_reason(variant, device) -> str | None``: why a variant it
  implements has no form on a device it runs on (numba's serial ``naive`` loop on a GPU); the
  registry asks it after ``device_unavailable_reason``, and ``jitpi.availability(backend, device,
  variant)`` and ``count_hits`` report it.

Arguments arrive validated (``jitpi._validation``); chunking arithmetic lives in
``jitpi.chunking``, the shared stream's reference in ``jitpi.philox``, statistics in ``jitpi.stats``.
"""

from __future__ import annotations

import os

NO_GPU = "no GPU support in this backend"


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
