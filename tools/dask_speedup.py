"""Speed-up of a Dask cluster of 2 single-threaded workers over 1, on one machine.

    python tools/dask_speedup.py [--backend numba] [--variant shared] [--n 1e10] [--repeat 3]

Each cluster is warmed first (every worker compiles its kernel once); then the median wall time of
``--repeat`` counts is reported. The counts must be identical, or the script fails.
"""

from __future__ import annotations

import argparse
import statistics
import time

import jitpi
from jitpi.distributed import local_cluster
from jitpi.sweep import UsageError, parse_count


def time_cluster(workers: int, n: int, backend: str, variant: str, repeat: int) -> tuple[float, int]:
    from dask.distributed import Client

    with local_cluster(workers) as cluster, Client(cluster) as client:
        client.wait_for_workers(workers)
        jitpi.count_hits(10**6, backend=backend, variant=variant, client=client)  # compile on each worker
        seconds, counts = [], set()
        for _ in range(repeat):
            started = time.perf_counter()
            counts.add(jitpi.count_hits(n, backend=backend, variant=variant, client=client))
            seconds.append(time.perf_counter() - started)
    if len(counts) != 1:
        raise SystemExit(f"counts differ between repeats: {sorted(counts)}")
    return statistics.median(seconds), counts.pop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numba", choices=jitpi.BACKENDS)
    parser.add_argument("--variant", default="shared", choices=("native", "shared"))
    parser.add_argument("--n", default="1e10")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    try:
        n = parse_count(args.n)
    except UsageError as error:
        parser.error(str(error))
    one, hits_one = time_cluster(1, n, args.backend, args.variant, args.repeat)
    two, hits_two = time_cluster(2, n, args.backend, args.variant, args.repeat)
    if hits_one != hits_two:
        raise SystemExit(f"1 worker counted {hits_one}, 2 workers {hits_two}")
    print(f"{args.backend} {args.variant} n={n:.0e} hits={hits_one}")
    print(f"1 worker : {one:7.2f} s  {n / one / 1e6:8.0f} M samples/s")
    print(f"2 workers: {two:7.2f} s  {n / two / 1e6:8.0f} M samples/s")
    print(f"speed-up : {one / two:.2f}x")


if __name__ == "__main__":
    main()
