"""Counting on a Dask cluster: chunk tasks that workers run with any backend, summed on the client.

The sample range [0, n) is cut into contiguous pieces aligned on the backend's chunk (native
streams are keyed per chunk, shared ones per Philox block), so the pieces add up to exactly the
single-process count: bit-identical for ``shared`` and ``native`` alike, whatever the number of
workers and tasks. Dask does the scheduling, and recomputes the tasks of a worker that dies.
Workers run one thread per process; the backends read ``JITPI_THREADS`` to match.
"""

from __future__ import annotations

from typing import Any

from jitpi import registry
from jitpi._kernels import checked_hits, kernel
from jitpi.chunking import split_range

MAX_TASK_SAMPLES = 2**32
"""Upper bound on one task's samples, so a task is seconds of work and a lost worker costs little."""


def worker_environment(threads: int = 1) -> dict[str, str]:
    """Environment for a worker process whose backends should use ``threads`` threads."""
    value = str(threads)
    return {
        "JITPI_THREADS": value,
        "OMP_NUM_THREADS": value,
        "MKL_NUM_THREADS": value,
        "OPENBLAS_NUM_THREADS": value,
        "NUMBA_NUM_THREADS": value,
        "TF_NUM_INTRAOP_THREADS": value,
        "TF_NUM_INTEROP_THREADS": value,
        "XLA_FLAGS": f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} "
        f"intra_op_parallelism_threads={value}",
    }


def local_cluster(n_workers: int = 2, **kwargs: Any):
    """A ``dask.distributed.LocalCluster`` of single-threaded worker processes, set up for jitpi."""
    from dask.distributed import LocalCluster

    options = {
        "n_workers": n_workers,
        "threads_per_worker": 1,
        "processes": True,
        "dashboard_address": None,
        "env": worker_environment(1),
    }
    options.update(kwargs)
    return LocalCluster(**options)


def prepare_worker(backend: str, variant: str, device: str) -> int:
    """Run on every worker once: compile the kernel with a small count, return the task alignment."""
    kernel(backend, variant, device)(2, 0, device=device)
    return task_alignment(backend, variant, device)


def task_alignment(backend: str, variant: str, device: str = "cpu") -> int:
    """Where a task may start: ``shared`` anywhere (2: whole Philox blocks); ``native`` on an edge of
    the CPU's native chunk, or, where its streams are keyed per chunk
    (``Backend.native_keyed_per_chunk``), of the chunk it uses on ``device``, so that the tasks
    count exactly the one-process stream."""
    if variant == "shared":
        return 2
    backend_object = registry.load(backend)
    if backend_object.native_keyed_per_chunk:
        return backend_object.chunks.default("native", device)
    return backend_object.chunks.native


def count_piece(backend: str, variant: str, device: str, seed: int, start: int, count: int) -> int:
    """Hits among samples [start, start + count) of stream ``seed``: one task."""
    hits = kernel(backend, variant, device)(count, seed, device=device, start=start)
    return checked_hits(hits, count, backend, variant, device)


def count_hits_on(
    client: Any, n: int, *, backend: str, seed: int, variant: str, device: str, tasks_per_worker: int = 4
) -> int:
    """Exact hits of the first ``n`` samples, counted by the workers of ``client``."""
    if variant == "naive":
        raise ValueError(
            "variant 'naive' cannot be split over a cluster (it draws all n at once); "
            "use 'native' or 'shared'"
        )
    alignments = set(client.run(prepare_worker, backend, variant, device).values())
    if len(alignments) != 1:
        raise RuntimeError(
            f"workers disagree on the {backend} chunk ({sorted(alignments)}): "
            "they run different jitpi versions"
        )
    align = alignments.pop()
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    parts = max(workers * tasks_per_worker, -(-n // MAX_TASK_SAMPLES))
    pieces = split_range(n, parts, align=align)
    futures = client.map(
        count_piece,
        [backend] * len(pieces),
        [variant] * len(pieces),
        [device] * len(pieces),
        [seed] * len(pieces),
        [start for start, _ in pieces],
        [count for _, count in pieces],
        pure=False,
    )
    return sum(int(hits) for hits in client.gather(futures))
