"""Cold start: import, compile and first call in a fresh interpreter with empty JIT caches."""

from __future__ import annotations

import textwrap
from typing import ClassVar

from .common import COLD_N, SEED, Grid, grid_params, name_process, require, size


class ColdStart(Grid):
    """Seconds from ``import jitpi`` to the first ``count_hits`` returning, in a new interpreter.

    asv times only the statement, in a fresh process per sample. The untimed setup string points
    every framework's on-disk JIT cache (``jitpi.registry``) at a new empty directory, so no sample
    reuses another's
    compiled code, and ``warmup_time = 0`` keeps asv from running an untimed first sample.
    n is small: compile time does not depend on n.

    One round of two or three samples: every sample is a new interpreter already (what asv's
    rounds exist to vary); a cold start of a few seconds, relatively the noisier, gets three, one
    of ~10 s or more (torch.compile) two.
    """

    version = "2"
    params: ClassVar[list] = grid_params(COLD_N)
    warmup_time = 0
    number = 1
    rounds = 1
    repeat = (2, 3, 20.0)

    def setup_cache(self) -> None:
        """Nothing to prepare: defining it gives the class's combinations one working directory for
        the run, where the first of each backend leaves what ``require`` learnt (``BackendFacts``):
        the timed child imports the framework anyway, and its parent then needs not, every time.
        It returns None, so asv passes no cache argument to the methods."""

    def setup(self, backend, variant, device, n):
        # In asv's benchmark process, not in the timed child: skip what cannot run here.
        name_process(self, backend, variant, device, n)
        require(backend, variant, device, size(n), shared=True)

    def timeraw_first_call(self, backend, variant, device, n):
        setup = textwrap.dedent(
            """
            import atexit, os, shutil, tempfile
            from jitpi.registry import cold_cache_environment
            cache = tempfile.mkdtemp(prefix="jitpi-cold-")
            atexit.register(shutil.rmtree, cache, True)
            os.environ.update(cold_cache_environment(cache))
            """
        )
        stmt = textwrap.dedent(
            f"""
            import jitpi
            jitpi.count_hits({size(n)!r}, backend={backend!r}, seed={SEED!r}, variant={variant!r},
                             device={device!r})
            """
        )
        return stmt, setup
