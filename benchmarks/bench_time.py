"""Steady-state speed: one exact hit count, compiled and verified beforehand."""

from __future__ import annotations

from typing import ClassVar

import jitpi

from .common import GPU_ONLY_N, N_GRID, SEED, Grid, grid_params
from .grid import NAIVE


class CountHits(Grid):
    """Seconds for one warm ``count_hits(n)``; setup compiles and checks |z| < 6 first.

    The body returns an exact Python int, so every framework has finished (synchronised) when it
    returns. n = 1e10 runs on a GPU only.

    Samples go where the noise is: each is one call (0.1 ms to 30 s, far above the clock's
    resolution), taken for up to 2 s a round, so an overhead-bound n gets 20 a round and a
    throughput-bound one, whose call lasts seconds, one. asv's warm-up and calibration would add
    an untimed call of each: setup's own first call compiles, and only the naive variant compiles
    again for a new n (the chunked ones compile once for every n: tests/test_contract.py), so
    setup warms that one at n.
    """

    version = "2"
    number = 1
    warmup_time = 0
    min_run_count = 1
    repeat = (1, 20, 2.0)
    params: ClassVar[list] = grid_params(N_GRID + GPU_ONLY_N)

    def setup(self, backend, variant, device, n):
        super().setup(backend, variant, device, n)
        if variant == NAIVE:
            jitpi.count_hits(self.n, backend=backend, seed=SEED, variant=variant, device=device)

    def time_count_hits(self, backend, variant, device, n):
        jitpi.count_hits(self.n, backend=backend, seed=SEED, variant=variant, device=device)
