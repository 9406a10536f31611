"""jitpi: how the JIT compilers of Python's mainstream frameworks compare, on one exact kernel.

Every backend counts how many of the first ``n`` samples of stream ``seed`` fall inside the
quarter circle; pi, its standard error and the z-score are computed once, on the host, in float64.
Importing jitpi imports no framework: backends load on first use.
"""

from jitpi.api import availability, count_hits, estimate_pi
from jitpi.decorators import bench_accuracy, bench_time
from jitpi.registry import BACKENDS, DEVICES, VARIANTS, BackendUnavailable
from jitpi.stats import Estimate, standard_error, z_score

__version__ = "0.1.0"

__all__ = [
    "BACKENDS",
    "DEVICES",
    "VARIANTS",
    "BackendUnavailable",
    "Estimate",
    "availability",
    "bench_accuracy",
    "bench_time",
    "count_hits",
    "estimate_pi",
    "standard_error",
    "z_score",
]
