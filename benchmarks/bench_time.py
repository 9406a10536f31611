"""Steady-state speed: one exact hit count, compiled and verified beforehand."""

from __future__ import annotations

from typing import ClassVar

import jitpi

from .common import BACKENDS, DEVICES, GPU_ONLY_N, N_GRID, SEED, VARIANTS, Grid


class CountHits(Grid):
    """Seconds for one warm ``count_hits(n)``; setup compiles and checks |z| < 6 first.

    The body returns an exact Python int, so every framework has finished (synchronised) when it
    returns. n = 1e10 runs on a GPU only.
    """

    version = "1"
    params: ClassVar[list] = [BACKENDS, VARIANTS, DEVICES, N_GRID + GPU_ONLY_N]

    def time_count_hits(self, backend, variant, device, n):
        jitpi.count_hits(self.n, backend=backend, seed=SEED, variant=variant, device=device)
