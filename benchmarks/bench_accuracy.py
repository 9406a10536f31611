"""Statistical accuracy in sigma units: lower is better, as asv assumes.

The value depends only on (backend, variant, device, n) and the code, never on the process that
computes it, so the first combination of a backend has one worker process compute all of the
backend's (variant, n) on that device, and every combination reads its own value: one framework
import per backend and one compile per variant, where a process per combination paid them six
times (what that saves: benchmarks/README.md).
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import traceback
from pathlib import Path
from typing import ClassVar

from .common import (
    ACCURACY_N,
    ACCURACY_SAMPLE_FACTOR,
    ASV_CACHE_FILE,
    SEEDS,
    VARIANTS,
    BackendFacts,
    Grid,
    grid_params,
    name_process,
    require_affordable,
    rms_z,
    shared_path,
    size,
)

# The worker's whole backend (three variants, two n, every seed of SEEDS) within asv's timeout for
# the combination that waits for it (asv.conf.json: 300 s), leaving that combination the time to
# compute its own value if the worker did not.
WORKER_TIMEOUT_S = 200
BOUNDS = {"calls": len(SEEDS), "allowance": ACCURACY_SAMPLE_FACTOR}


class Accuracy(Grid):
    """RMS over the fixed seeds (``SEEDS``) of z = (pi_hat - pi) / SE(n), in standard errors.

    A correct estimator sits near 1.0 at every n, within a band that follows from the number of
    seeds (``jitpi.stats.rms_z_band(len(SEEDS))``: the RMS of that many standard normals, 99% of the
    time); a bias, a precision loss or overlapping streams push it well above. The seeds are fixed,
    so the value only moves when the stream or the arithmetic changes.

    A value the backend's worker could not give (it crashed, or timed out, before that combination)
    is computed in the combination's own process, so that whatever stopped the worker fails that
    combination alone, with its own error; a Python error in the worker fails its combination with
    the worker's traceback.
    """

    version = "1"
    unit = "sigma"
    params: ClassVar[list] = grid_params(ACCURACY_N)

    def setup_cache(self) -> None:
        """Nothing to prepare: defining it gives the class's combinations one working directory for
        the run, where each backend's worker leaves its values (``shared_path``). It returns None,
        so asv passes no cache argument to the methods."""

    def setup(self, backend, variant, device, n):
        name_process(self, backend, variant, device, n)
        self.n = size(n)
        require_affordable(backend, variant, device, self.n, **BOUNDS)
        self.value = worker_value(backend, variant, device, n)
        BackendFacts.shared(backend, device).require(variant, self.n)

    def track_rms_z(self, backend, variant, device, n):
        return self.value if self.value is not None else rms_z(backend, variant, device, self.n)


def worker_value(backend: str, variant: str, device: str, n: str) -> float | None:
    """This combination's value from the backend's worker (started here if it has not run in this
    class's directory yet); None where the worker gave none; its error, raised, where it failed."""
    path = shared_path("accuracy", backend, device, ".jsonl")
    if path is None:  # not in asv's class directory: this process computes its own
        return None
    if not path.exists():
        # The suite's folder goes AFTER site-packages: the repository root holds the checkout's own
        # jitpi/, and the worker must count with the commit's installed jitpi, as setup does.
        suite_root = str(Path(__file__).resolve().parent.parent)
        start = (
            f"import sys; sys.path.append({suite_root!r}); "
            f"from {__spec__.name} import measure_backend; measure_backend({backend!r}, {device!r})"
        )
        try:
            subprocess.run([sys.executable, "-c", start], timeout=WORKER_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            print(f"the {backend} accuracy worker ran past {WORKER_TIMEOUT_S} s: stopped", file=sys.stderr)
    for record in _records(path):
        if (record["variant"], record["n"]) == (variant, n):
            if "error" in record:
                where = f"{backend} ({variant}, {device}) at n={n}, in its backend's worker"
                raise RuntimeError(f"{where}:\n{record['error']}")
            return record.get("value")
    return None


def _records(path: Path) -> list[dict]:
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:  # the last line of a worker killed while writing it
            continue
    return records


def measure_backend(backend: str, device: str) -> None:
    """The worker: every (variant, n) of ``backend`` on ``device`` in this process, a line each in
    the shared file as soon as it is known (a value, a skip with its reason, or an error)."""
    path = shared_path("accuracy", backend, device, ".jsonl")
    if path is None:
        raise SystemExit(
            f"the accuracy worker runs in asv's class directory (with {ASV_CACHE_FILE}), not in {Path.cwd()}"
        )
    with path.open("a") as out:
        facts = BackendFacts.shared(backend, device)
        for variant, n in itertools.product(VARIANTS, ACCURACY_N):
            try:
                require_affordable(backend, variant, device, size(n), **BOUNDS)
                facts.require(variant, size(n))
                record = {"value": rms_z(backend, variant, device, size(n))}
            except NotImplementedError as skipped:  # asv's SkipNotImplemented
                record = {"skip": str(skipped)}
            except Exception:
                record = {"error": traceback.format_exc()}
            out.write(json.dumps({"variant": variant, "n": n, **record}) + "\n")
            out.flush()


if __name__ == "__main__":
    measure_backend(*sys.argv[1:3])
