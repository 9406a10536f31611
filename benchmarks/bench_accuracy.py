"""Statistical accuracy in sigma units: lower is better, as asv assumes."""

from __future__ import annotations

from typing import ClassVar

from .common import (
    ACCURACY_N,
    ACCURACY_SAMPLE_FACTOR,
    BACKENDS,
    DEVICES,
    SEEDS,
    VARIANTS,
    Grid,
    name_process,
    require,
    rms_z,
    size,
)


class Accuracy(Grid):
    """RMS over 16 fixed seeds of z = (pi_hat - pi) / SE(n), in standard errors.

    A correct estimator sits near 1.0 at every n (the RMS of 16 standard normals: 0.57 to 1.46 in
    99% of cases); a bias, a precision loss or overlapping streams push it well above. The seeds
    are fixed, so the value only moves when the stream or the arithmetic changes.
    """

    version = "1"
    unit = "sigma"
    params: ClassVar[list] = [BACKENDS, VARIANTS, DEVICES, ACCURACY_N]

    def setup(self, backend, variant, device, n):
        name_process(self, backend, variant, device, n)
        self.n = size(n)
        require(backend, variant, device, self.n, calls=len(SEEDS), allowance=ACCURACY_SAMPLE_FACTOR)

    def track_rms_z(self, backend, variant, device, n):
        return rms_z(backend, variant, device, self.n)
