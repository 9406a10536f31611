"""The machine's yardstick: a fixed numpy workload that no jitpi commit changes.

A machine's speed drifts (one shared VM counted numba's shared variant at 1e9 in 1.10 s a call in
one session and 0.58 s in a later one: benchmarks/README.md), and in asv's history a step in the
machine looks exactly like a step in the code. A run of the suite measures this benchmark beside
jitpi's own, on the same machine and commit: a step in it is the machine's, and a CPU backend's
throughput divided by its rate (the comparison page's "× yardstick") takes out much of the drift
(not all: a one-thread count and a multi-threaded kernel need not slow down alike; nor a GPU's).

It imports nothing from jitpi and nothing from ``benchmarks.common`` (which import jitpi), only
numpy, the standard library and the suite's grid file (which holds its sample count and version):
a jitpi commit can change neither the code timed nor how it is set up. Its speed still depends on
numpy's release, which asv.conf.json's matrix pins.

The work: ``SAMPLES`` points (x, y) of numpy's PCG64 from a fixed seed, drawn in fixed chunks into
buffers allocated once a call (memory O(CHUNK), ~6 MB), counting those with x² + y² < 1. One thread
(numpy's random and elementwise operations use one). Each call does all of it again.
"""

from __future__ import annotations

import numpy as np

from .grid import YARDSTICK_SAMPLES, YARDSTICK_VERSION

SAMPLES = YARDSTICK_SAMPLES
"""Points counted by one call: its rate is SAMPLES / its time (the page shows it)."""
SEED = 20240501
CHUNK = 1 << 18
"""Points drawn at a time (2**18 pairs: a 4 MB buffer of uniforms)."""


def count_inside(samples: int = SAMPLES, seed: int = SEED, chunk: int = CHUNK) -> int:
    """How many of the first ``samples`` pairs of PCG64(seed)'s uniforms fall inside the quarter
    circle: x = uniforms[0::2], y = uniforms[1::2] of one stream, whatever the chunk."""
    rng = np.random.Generator(np.random.PCG64(seed))
    size = min(chunk, samples)
    words = np.empty(2 * size)
    sums = np.empty(size)
    hits = 0
    done = 0
    while done < samples:
        count = min(chunk, samples - done)
        pairs = words[: 2 * count]
        rng.random(out=pairs)
        np.multiply(pairs, pairs, out=pairs)
        radii = sums[:count]
        np.add(pairs[0::2], pairs[1::2], out=radii)
        hits += int(np.count_nonzero(radii < 1.0))
        done += count
    return hits


class Yardstick:
    """Seconds for one count of ``SAMPLES`` numpy PCG64 points in the quarter circle, one thread.

    Not parametrised and not jitpi's: its time moves only with the machine (and numpy's pinned
    release), so a step here that jitpi's benchmarks share is the machine's, not the code's.

    Sampling: number = 1, since a call lasts ~0.2 s (far above the clock's resolution); a warm-up
    of 0.3 s (one or two untimed calls: the fresh fork's buffers paged in, the clock ramped up);
    then 5 to 15 calls a round, up to 4 s, so that the median of asv's rounds rests on 10 or more.
    """

    version = YARDSTICK_VERSION
    number = 1
    warmup_time = 0.3
    repeat = (5, 15, 4.0)

    def time_quarter_circle(self):
        count_inside()
