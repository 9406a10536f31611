"""Peak memory: the naive variant's growth with n against everyone's O(chunk)."""

from __future__ import annotations

from typing import ClassVar

import jitpi

from .common import MEMORY_N, SEED, Grid, grid_params


class CountHitsMemory(Grid):
    """Peak resident memory (bytes) of a process that counts n samples once.

    asv's peakmem is the process's maximum RSS, so it includes the framework's import and the
    compile in setup: the flat line is each framework's baseline, and only materialising every
    sample (the naive variant) grows with n. Device memory on a GPU is not in it.
    """

    version = "1"
    params: ClassVar[list] = grid_params(MEMORY_N)

    def peakmem_count_hits(self, backend, variant, device, n):
        jitpi.count_hits(self.n, backend=backend, seed=SEED, variant=variant, device=device)
