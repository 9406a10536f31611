"""``jitpi run``: how one sweep is measured, recorded and run. Its parts:

- ``counts``: n as written on the command line (``1e6``, ``10**6``, ``1e5:1e8``);
- ``results``: the result model (``Row``, settings, schema ``jitpi-sweep/2``) and its atomic JSON/CSV files;
- ``machine``: the machine it was measured on;
- ``timing``: one row's timing: calibrated samples, median, interquartile range, the unstable flag;
- ``worker``: one (backend, variant, device) group in its own process (``python -m jitpi.sweep.worker``),
  warm-up at every n, talking to the parent in JSON lines;
- ``runner``: the parent: one worker per group, cold JIT caches, rows gathered as they come, crashes
  recorded as failed rows.

The worker module is left out of this package's imports: it runs as ``__main__`` in its process.
"""

from jitpi.sweep.counts import (
    UsageError,
    parse_count,
    parse_n,
    parse_n_options,
)
from jitpi.sweep.machine import machine_info
from jitpi.sweep.results import (
    ROW_FIELDS,
    SCHEMA,
    Group,
    Results,
    Row,
    check_writable_file,
    check_writable_folder,
    load_results,
    utc_now,
    write_results,
)
from jitpi.sweep.runner import (
    DEFAULT_N,
    DEFAULT_REPEAT,
    DEFAULT_ROW_BUDGET_S,
    QUICK_N,
    QUICK_REPEAT,
    QUICK_ROW_BUDGET_S,
    groups_for,
    list_backends,
    run_sweep,
)
from jitpi.sweep.timing import MIN_SAMPLE_S, UNSTABLE_SPREAD

__all__ = [
    "DEFAULT_N",
    "DEFAULT_REPEAT",
    "DEFAULT_ROW_BUDGET_S",
    "MIN_SAMPLE_S",
    "QUICK_N",
    "QUICK_REPEAT",
    "QUICK_ROW_BUDGET_S",
    "ROW_FIELDS",
    "SCHEMA",
    "UNSTABLE_SPREAD",
    "Group",
    "Results",
    "Row",
    "UsageError",
    "check_writable_file",
    "check_writable_folder",
    "groups_for",
    "list_backends",
    "load_results",
    "machine_info",
    "parse_count",
    "parse_n",
    "parse_n_options",
    "run_sweep",
    "utc_now",
    "write_results",
]
