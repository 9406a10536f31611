"""The ``jitpi run`` sweep as data: how n is written, how one backend is measured, and the files.

Measurement (one ``(backend, variant, device)`` group at a time, each in its own process):

- the framework is imported and asked whether it can run (``import_s``);
- the first call of the group, at the group's smallest n, is timed on its own (``first_call_s``):
  it includes tracing and compilation. JIT caches on disk (Numba, Inductor, Triton, JAX) point at
  an empty folder, so the first call compiles for real, as it would on a fresh machine;
- then ``repeat`` steady-state calls per n, each timed with ``time.perf_counter`` around
  ``jitpi.count_hits``, which returns an exact int (backends synchronise before returning);
  the row keeps the median, min and max, and samples per second from the median;
- the row budget (``--row-budget``, seconds of steady-state calls per row) keeps slow backends
  from large n. Before each n after the first, one call's time is predicted from the throughput
  measured at the previous n (``n / rate``; throughput grows with n, so this errs long). If one
  call would not fit the budget the row is recorded as skipped, with the prediction; otherwise
  it gets ``repeat`` calls, or as many as fit (at least one), and says so. The first n of a group
  always runs, with ``repeat`` calls.

Why a process per group: a framework that aborts (an LLVM clash, a segfault, an out-of-memory kill)
takes only its own rows down, which are recorded as failed with what the process said; no
framework's threads, caches or imports colour another's numbers; and the first call is a real first
call. The worker speaks JSON lines on a private copy of its stdout (``worker_main``); whatever the
frameworks print goes to its stderr, which the parent keeps to explain a crash.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

import jitpi
from jitpi import registry
from jitpi._validation import check_n

SCHEMA = "jitpi-sweep/1"

DEFAULT_N = "1e5:1e8"
DEFAULT_REPEAT = 3
DEFAULT_ROW_BUDGET_S = 10.0
QUICK_N = "1e4:1e6"
QUICK_REPEAT = 2
QUICK_ROW_BUDGET_S = 2.0

SUSPECT_Z = 6.0
"""|z| above this is reported as a failure: a correct kernel gets there once in 5e8 rows."""

JIT_CACHE_VARIABLES = ("NUMBA_CACHE_DIR", "TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR", "CUDA_CACHE_PATH")
"""On-disk JIT caches that persist between processes by default; a cold sweep points them at an
empty folder (``CUDA_CACHE_PATH``: the CUDA driver's cache of PTX compiled to machine code, which
numba's GPU kernels and XLA's go through). JAX's persistent cache is off unless
``JAX_COMPILATION_CACHE_DIR`` is set, and is redirected too when it is."""

ROW_FIELDS = (
    "backend",
    "variant",
    "device",
    "n",
    "seed",
    "status",
    "hits",
    "pi_hat",
    "abs_error",
    "sigma",
    "z",
    "import_s",
    "first_call_s",
    "repeat",
    "median_s",
    "min_s",
    "max_s",
    "samples_per_s",
    "message",
)
"""Every row has these keys (None where they do not apply); JSON rows add ``times_s``."""

MACHINE_CSV_FIELDS = ("cpu", "logical_cores", "usable_cores", "memory_gib", "os", "python")


class UsageError(ValueError):
    """A bad command-line value; the command line prints it on one line and exits 2."""


# --- n -------------------------------------------------------------------------------------------

_INTEGER = re.compile(r"[0-9][0-9_]*")
_POWER = re.compile(r"([0-9]+)\s*(?:\*\*|\^)\s*([0-9]+)")
_FLOAT = re.compile(r"[0-9.]+(?:[eE][+-]?[0-9]+)?")


def parse_count(text: str, *, what: str = "--n") -> int:
    """One sample count: ``1000000``, ``1_000_000``, ``1e6``, ``10**6`` or ``2^20``."""
    token = text.strip()
    value: object
    if _INTEGER.fullmatch(token):
        value = int(token)
    elif match := _POWER.fullmatch(token):
        base, exponent = int(match.group(1)), int(match.group(2))
        if exponent > 64:
            raise UsageError(f"{what}: {token!r} is far above 2**40, the largest n jitpi accepts")
        value = base**exponent
    elif _FLOAT.fullmatch(token):
        try:
            value = float(token)
        except ValueError:
            raise UsageError(_not_a_count(token, what)) from None
    else:
        raise UsageError(_not_a_count(token, what))
    try:
        return check_n(value, name=what)
    except (TypeError, ValueError) as error:
        raise UsageError(f"{what}: {token!r} is not a sample count: {error}") from None


def _not_a_count(token: str, what: str) -> str:
    return (
        f"{what}: {token!r} is not a sample count "
        "(write e.g. 1e6, 10**6, 1000000, a decade range 1e5:1e8, or a comma list 1e5,3e5,1e6)"
    )


def parse_n(text: str, *, what: str = "--n") -> list[int]:
    """Sample counts from a comma list of counts and decade ranges, sorted, without repeats.

    ``a:b`` means a, 10a, 100a, ... up to b (b is included when it is on that grid).
    """
    values: set[int] = set()
    for part in text.split(","):
        if not part.strip():
            raise UsageError(f"{what}: empty item in {text!r}")
        if ":" in part:
            bounds = part.split(":")
            if len(bounds) != 2:
                raise UsageError(f"{what}: {part.strip()!r} is not a range; write low:high, e.g. 1e5:1e8")
            low, high = (parse_count(bound, what=what) for bound in bounds)
            if low > high:
                raise UsageError(f"{what}: range {part.strip()!r} runs backwards ({low} > {high})")
            value = low
            while value <= high:
                values.add(value)
                value *= 10
        else:
            values.add(parse_count(part, what=what))
    return sorted(values)


def format_n(n: int) -> str:
    """``1e8`` for powers of ten, ``2.5e6`` for one-decimal mantissas from 1e4 up, else ``12,345``."""
    exponent = len(str(n)) - 1
    if n >= 1000 and n % 10**exponent == 0:
        return f"{n // 10**exponent}e{exponent}"
    if n >= 10_000 and n % 10 ** (exponent - 1) == 0:
        tenths = n // 10 ** (exponent - 1)
        return f"{tenths // 10}.{tenths % 10}e{exponent}"
    return f"{n:,}"


def format_seconds(seconds: float, *, micro: str = "us") -> str:
    """Three significant digits in s, ms or microseconds (``micro`` is its symbol: us or µs)."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} {micro}"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s" if seconds < 100 else f"{seconds:.0f} s"


# --- the machine -------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    """CPU model, cores, memory, OS and Python of this machine (and its GPUs, where nvidia-smi says)."""
    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "architecture": platform.machine(),
        "logical_cores": os.cpu_count(),
        "usable_cores": _usable_cores(),
        "memory_gib": _memory_gib(),
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
    }
    gpus = _nvidia_gpus()
    if gpus:
        info["gpus"] = gpus
    return info


def _cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
        for line in cpuinfo:
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Processor", "cpu model") and value.strip():
                return value.strip()
    return platform.processor() or platform.machine() or "unknown"


def _usable_cores() -> int | None:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


def _memory_gib() -> float | None:
    with contextlib.suppress(OSError, ValueError), open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    with contextlib.suppress(ValueError, OSError, AttributeError):
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    return None


def _nvidia_gpus() -> list[str]:
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        result = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    if result.returncode != 0:
        return []
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


# --- the results ------------------------------------------------------------------------------


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Group:
    """One (backend, variant, device) measured over a list of n, in one worker process."""

    backend: str
    variant: str
    device: str

    @property
    def label(self) -> str:
        return f"{self.backend} {self.variant} {self.device}"


@dataclass
class Results:
    """Everything a sweep knows; ``as_dict`` is the JSON file, ``csv_text`` the CSV file."""

    settings: dict[str, Any]
    machine: dict[str, Any] = field(default_factory=machine_info)
    started: str = field(default_factory=utc_now)
    finished: str | None = None
    state: str = "running"  # running, complete, interrupted
    rows: list[dict[str, Any]] = field(default_factory=list)
    backends: dict[str, dict[str, Any]] = field(default_factory=dict)
    unavailable: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "jitpi": jitpi.__version__,
            "started": self.started,
            "finished": self.finished,
            "state": self.state,
            "settings": self.settings,
            "machine": self.machine,
            "versions": self.versions(),
            "backends": self.backends,
            "unavailable": self.unavailable,
            "rows": self.rows,
        }

    def versions(self) -> dict[str, str | None]:
        """jitpi, Python, numpy, and the framework of every backend that ran."""
        ran = dict.fromkeys(row["backend"] for row in self.rows)
        versions: dict[str, str | None] = {
            "jitpi": jitpi.__version__,
            "python": platform.python_version(),
            "numpy": registry.installed_version("numpy"),
        }
        for backend in ran:
            versions.setdefault(backend, registry.installed_version(backend))
        return versions

    def csv_text(self) -> str:
        versions = self.versions()
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([*ROW_FIELDS, "version", *(f"machine_{name}" for name in MACHINE_CSV_FIELDS)])
        machine = [self.machine.get(name) for name in MACHINE_CSV_FIELDS]
        for row in self.rows:
            values = [row.get(name) for name in ROW_FIELDS]
            values.append(versions.get(row["backend"]))
            writer.writerow([_csv_value(value) for value in [*values, *machine]])
        return buffer.getvalue()

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [row for row in self.rows if row["status"] == "failed"]


def _csv_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # shortest round-tripping text
    return value


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold Ctrl-C while a file is replaced, so an interrupt never lands between write and rename."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """A stream onto a temporary file beside ``path`` that replaces ``path`` when the block ends.

    Readers see the old file or the new one, never half of one; Ctrl-C is held during the rename.
    The temporary file is made like any other file, so the result has the usual permissions.
    """
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    temporary = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    encoding = None if "b" in mode else "utf-8"
    try:
        with open(temporary, mode.replace("w", "x"), encoding=encoding) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        with _sigint_deferred():
            os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def write_atomic(path: str | os.PathLike[str], text: str) -> None:
    with atomic_output(path, "w") as stream:
        stream.write(text)


def write_results(results: Results, *, json_path: str | None, csv_path: str | None) -> None:
    if json_path:
        write_atomic(json_path, json.dumps(results.as_dict(), indent=2, allow_nan=False) + "\n")
    if csv_path:
        write_atomic(csv_path, results.csv_text())


def check_writable_file(path: str, *, what: str) -> None:
    """Refuse, before anything runs, an output file whose folder is missing or not writable."""
    if os.path.isdir(path):
        raise UsageError(f"{what}: {path!r} is a folder; give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    check_writable_folder(folder, what=what, create=False)


def check_writable_folder(folder: str, *, what: str, create: bool) -> None:
    """Refuse a folder that does not exist (or cannot be made) or cannot be written to."""
    if create:
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as error:
            raise UsageError(
                f"{what}: cannot create the folder {folder!r}: {error.strerror or error}"
            ) from None
    if not os.path.isdir(folder):
        raise UsageError(f"{what}: the folder {folder!r} does not exist")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise UsageError(f"{what}: cannot write in {folder!r}: {error.strerror or error}") from None


def load_results(path: str) -> dict[str, Any]:
    """Read a results file written by ``jitpi run --json``; UsageError if it is not one."""
    try:
        with open(path, encoding="utf-8") as stream:
            data = json.load(stream)
    except FileNotFoundError:
        raise UsageError(f"results file {path!r} does not exist") from None
    except IsADirectoryError:
        raise UsageError(f"results file {path!r} is a folder") from None
    except OSError as error:
        raise UsageError(f"cannot read results file {path!r}: {error.strerror or error}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"{path!r} is not a JSON file: {error}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("rows"), list):
        raise UsageError(
            f"{path!r} is not a jitpi results file (expected schema {SCHEMA!r}, from jitpi run --json)"
        )
    return data


# --- one group, in the worker process -----------------------------------------------------------


def measure_group(
    group: Group,
    ns: Sequence[int],
    *,
    seed: int,
    repeat: int,
    row_budget_s: float,
    emit: Callable[[dict[str, Any]], None],
    scheduler: str | None = None,
) -> None:
    """Measure one group over ascending ``ns``; emit ``ready``, ``unavailable``, ``call``, ``row`` events."""
    started = time.perf_counter()
    ok, why = jitpi.availability(group.backend, group.device, group.variant)
    import_s = time.perf_counter() - started
    if not ok:
        emit({"event": "unavailable", "reason": why})
        return
    emit(
        {
            "event": "ready",
            "describe": why,
            "version": registry.installed_version(group.backend),
            "import_s": import_s,
        }
    )
    naive_limit = _naive_limit(group)
    client = _dask_client(scheduler) if scheduler else None
    first_pending = True
    rate: tuple[int, float] | None = None  # (n, samples per second) of the last measured row
    for n in ns:
        row = dict.fromkeys(ROW_FIELDS)
        row.update(backend=group.backend, variant=group.variant, device=group.device, n=n, seed=seed)
        if naive_limit is not None and n > naive_limit:
            row.update(
                status="skipped",
                message=f"n above {format_n(naive_limit)}, the most the naive variant accepts here "
                "(it holds every sample in memory at once)",
            )
            emit({"event": "row", "row": row})
            continue
        calls, note = repeat, None
        if rate is not None and row_budget_s > 0:
            predicted = n / rate[1]
            basis = (
                f"{predicted:.3g} s per call predicted from {rate[1] / 1e6:.3g} M samples/s "
                f"at n={format_n(rate[0])}"
            )
            if predicted > row_budget_s:
                row.update(
                    status="skipped",
                    message=(
                        f"n above what {group.backend} does in reasonable time here ({basis}, "
                        f"over the {row_budget_s:g} s row budget; see --row-budget)"
                    ),
                )
                emit({"event": "row", "row": row})
                continue
            calls = min(repeat, int(row_budget_s // predicted))
            if calls < repeat:
                note = (
                    f"{calls} of {repeat} calls, as many as fit the {row_budget_s:g} s row budget ({basis})"
                )

        def call(which: str, n: int = n) -> tuple[int, float]:
            emit({"event": "call", "n": n, "call": which})
            tick = time.perf_counter()
            hits = jitpi.count_hits(
                n, backend=group.backend, seed=seed, variant=group.variant, device=group.device, client=client
            )
            return hits, time.perf_counter() - tick

        counts: list[int] = []
        times: list[float] = []
        try:
            if first_pending:
                hits, row["first_call_s"] = call("first")
                row["import_s"] = import_s
                counts.append(hits)
                first_pending = False
            for index in range(calls):
                hits, seconds = call(f"{index + 1}/{calls}")
                counts.append(hits)
                times.append(seconds)
        except jitpi.BackendUnavailable as error:
            if first_pending:  # e.g. a variant this backend does not implement: nothing ran
                emit({"event": "unavailable", "reason": error.reason})
                return
            row.update(status="failed", message=f"{type(error).__name__}: {error}")
        except Exception as error:  # a backend failing at run time is a row, not the end of the sweep
            row.update(status="failed", message=f"{type(error).__name__}: {error}".strip())
        else:
            estimate = jitpi.Estimate(
                backend=group.backend,
                variant=group.variant,
                device=group.device,
                n=n,
                seed=seed,
                hits=counts[-1],
            )
            row.update(_statistics(estimate, counts, times))
            if row["status"] == "ok":
                row["message"] = note
                rate = (n, row["samples_per_s"])
        emit({"event": "row", "row": row})


def _dask_client(address: str) -> Any:
    """A client of the Dask scheduler at ``address``, closed when the worker process exits."""
    from dask.distributed import Client

    return Client(address, timeout="30s")


def _naive_limit(group: Group) -> int | None:
    """The largest n the naive variant takes here (the backend module's ``naive_max_n``), else None."""
    if group.variant != "naive":
        return None
    limit = getattr(registry.load(group.backend), "naive_max_n", None)
    return None if limit is None else int(limit(group.device))


def _statistics(estimate: jitpi.Estimate, counts: list[int], times: list[float]) -> dict[str, Any]:
    median = statistics.median(times)
    stats: dict[str, Any] = {
        "status": "ok",
        "hits": estimate.hits,
        "pi_hat": estimate.pi,
        "abs_error": estimate.abs_error,
        "sigma": estimate.stderr,
        "z": estimate.z,
        "repeat": len(times),
        "median_s": median,
        "min_s": min(times),
        "max_s": max(times),
        "samples_per_s": estimate.n / median if median > 0 else None,
        "times_s": times,
    }
    if len(set(counts)) > 1:
        stats.update(status="failed", message=f"not deterministic: the same n and seed gave hits {counts}")
    elif abs(estimate.z) > SUSPECT_Z:
        stats.update(
            status="failed",
            message=f"suspect count: |z| = {abs(estimate.z):.1f} > {SUSPECT_Z:g} "
            "(a correct kernel lands there once in 5e8 runs)",
        )
    return stats


def worker_main(argv: Sequence[str]) -> int:
    """``python -m jitpi _worker SPEC``: measure one group and stream JSON lines to the parent.

    The protocol goes to a private copy of stdout; the real stdout is pointed at stderr so that
    anything a framework prints cannot corrupt it.
    """
    try:
        spec = json.loads(argv[0])
        if not isinstance(spec, dict) or not {"mode", "backend"} <= spec.keys():
            raise ValueError(spec)
    except (IndexError, ValueError):
        print("jitpi _worker: error: an internal command of jitpi run and jitpi list", file=sys.stderr)
        return 2
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    sys.stdout.flush()
    os.dup2(2, 1)

    def emit(event: dict[str, Any]) -> None:
        protocol.write(json.dumps(event) + "\n")
        protocol.flush()

    try:
        if spec["mode"] == "list":
            emit({"event": "list", "devices": describe_backend(spec["backend"])})
        else:
            measure_group(
                Group(spec["backend"], spec["variant"], spec["device"]),
                spec["ns"],
                seed=spec["seed"],
                repeat=spec["repeat"],
                row_budget_s=spec["row_budget_s"],
                emit=emit,
                scheduler=spec.get("scheduler"),
            )
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the parent went away
        return 1
    return 0


def describe_backend(backend: str) -> dict[str, dict[str, Any]]:
    """For ``jitpi list``: per device, whether it runs, why not, and how (compiled or interpreted)."""
    devices = {}
    for device in jitpi.DEVICES:
        ok, why = jitpi.availability(backend, device)
        mode = None
        if ok:
            if "interpret" in why.lower():
                mode = "interpreted"
            else:
                mode = "compiled (JIT)" if registry.REGISTRY[backend].compiles else "no JIT"
        devices[device] = {"available": ok, "detail": why, "mode": mode}
    return devices


# --- the parent: one worker process per group --------------------------------------------------


@dataclass
class WorkerOutcome:
    returncode: int
    stderr_tail: str


def worker_command(spec: dict[str, Any]) -> list[str]:
    return [sys.executable, "-m", "jitpi", "_worker", json.dumps(spec)]


def _worker_env(cache_dir: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONUNBUFFERED"] = "1"
    if cache_dir is not None:
        redirect = [*JIT_CACHE_VARIABLES]
        if "JAX_COMPILATION_CACHE_DIR" in env:
            redirect.append("JAX_COMPILATION_CACHE_DIR")
        for name in redirect:
            env[name] = os.path.join(cache_dir, name.lower())
    return env


def run_worker(
    spec: dict[str, Any], on_event: Callable[[dict[str, Any]], None], *, cold_cache: bool = True
) -> WorkerOutcome:
    """Run one worker, passing each event to ``on_event`` as it arrives.

    On KeyboardInterrupt the worker is stopped and the interrupt propagates.
    """
    with contextlib.ExitStack() as stack:
        cache_dir = (
            stack.enter_context(tempfile.TemporaryDirectory(prefix="jitpi-jit-cache-"))
            if cold_cache
            else None
        )
        stderr = stack.enter_context(tempfile.TemporaryFile(mode="w+b"))
        process = subprocess.Popen(
            worker_command(spec),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=_worker_env(cache_dir),
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        try:
            assert process.stdout is not None
            for line in process.stdout:
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                on_event(event)
            returncode = process.wait()
        except BaseException:
            _stop(process)
            raise
        size = stderr.seek(0, os.SEEK_END)
        stderr.seek(max(0, size - 20_000))
        tail = stderr.read().decode("utf-8", "replace")
    return WorkerOutcome(returncode, tail)


def _stop(process: subprocess.Popen) -> None:
    """End a worker: SIGINT (as Ctrl-C would), then SIGTERM, then SIGKILL, each given a moment."""
    for action, grace in (
        (lambda: process.send_signal(signal.SIGINT), 2.0),
        (process.terminate, 3.0),
        (process.kill, 5.0),
    ):
        if process.poll() is not None:
            return
        with contextlib.suppress(OSError):
            action()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)


def describe_exit(returncode: int, stderr_tail: str) -> str:
    """What a worker's death looked like, in one line."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        how = f"the worker process was killed by {name}"
        if -returncode == signal.SIGKILL:
            how += " (out of memory?)"
    else:
        how = f"the worker process exited with status {returncode}"
    last = [line.strip() for line in stderr_tail.splitlines() if line.strip()]
    if last:
        how += f"; its last words: {last[-1][:300]}"
    return how


def groups_for(backends: Iterable[str], variants: Iterable[str], devices: Iterable[str]) -> list[Group]:
    """The sweep's order: backends as in ``jitpi.BACKENDS`` (the reference first), then device, variant."""
    chosen_b, chosen_v, chosen_d = set(backends), set(variants), set(devices)
    return [
        Group(backend, variant, device)
        for backend in jitpi.BACKENDS
        if backend in chosen_b
        for device in jitpi.DEVICES
        if device in chosen_d
        for variant in jitpi.VARIANTS
        if variant in chosen_v
    ]


def run_sweep(
    results: Results,
    groups: Sequence[Group],
    ns: Sequence[int],
    *,
    seed: int,
    repeat: int,
    row_budget_s: float,
    on_event: Callable[[Group, dict[str, Any]], None],
    cold_cache: bool = True,
    scheduler: str | None = None,
) -> None:
    """Measure every group in its own process, appending rows to ``results`` as they arrive.

    ``on_event(group, event)`` sees every worker event (``ready``, ``unavailable``, ``call``,
    ``row``) after ``results`` is updated, plus ``start`` before each group and ``crash`` rows
    made up for the n a dead worker never reported.
    """
    for group in groups:
        spec = {
            "mode": "measure",
            "backend": group.backend,
            "variant": group.variant,
            "device": group.device,
            "ns": list(ns),
            "seed": seed,
            "repeat": repeat,
            "row_budget_s": row_budget_s,
            "scheduler": scheduler,
        }
        reported: set[int] = set()
        state = {"unavailable": False}

        def handle(
            event: dict[str, Any],
            group: Group = group,
            reported: set[int] = reported,
            state: dict[str, bool] = state,
        ) -> None:
            kind = event.get("event")
            if kind == "ready":
                results.backends[f"{group.backend} {group.device}"] = {
                    "backend": group.backend,
                    "device": group.device,
                    "version": event.get("version"),
                    "describe": event.get("describe"),
                }
            elif kind == "unavailable":
                state["unavailable"] = True
                results.unavailable.append(
                    {
                        "backend": group.backend,
                        "variant": group.variant,
                        "device": group.device,
                        "reason": event.get("reason", ""),
                    }
                )
            elif kind == "row":
                reported.add(event["row"]["n"])
                results.rows.append(event["row"])
            on_event(group, event)

        on_event(group, {"event": "start", "ns": list(ns)})
        outcome = run_worker(spec, handle, cold_cache=cold_cache)
        if outcome.returncode in (130, -signal.SIGINT):
            raise KeyboardInterrupt
        if state["unavailable"]:
            continue
        missing = [n for n in ns if n not in reported]
        if missing:
            message = describe_exit(outcome.returncode, outcome.stderr_tail)
            for n in missing:
                row = dict.fromkeys(ROW_FIELDS)
                row.update(
                    backend=group.backend,
                    variant=group.variant,
                    device=group.device,
                    n=n,
                    seed=seed,
                    status="failed",
                    message=message,
                )
                results.rows.append(row)
                on_event(group, {"event": "row", "row": row})


def list_backends(backends: Sequence[str] = jitpi.BACKENDS) -> dict[str, dict[str, Any]]:
    """For ``jitpi list``: each backend probed in its own process, all at once."""
    processes = {}
    for backend in backends:
        spec = {"mode": "list", "backend": backend}
        processes[backend] = subprocess.Popen(
            worker_command(spec),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_worker_env(None),
            text=True,
            encoding="utf-8",
            errors="replace",
        )
    listing: dict[str, dict[str, Any]] = {}
    try:
        for backend, process in processes.items():
            stdout, stderr = process.communicate()
            devices = None
            for line in stdout.splitlines():
                with contextlib.suppress(json.JSONDecodeError):
                    event = json.loads(line)
                    if event.get("event") == "list":
                        devices = event["devices"]
            if devices is None:
                why = f"probing it crashed: {describe_exit(process.returncode, stderr)}"
                devices = {
                    device: {"available": False, "detail": why, "mode": None} for device in jitpi.DEVICES
                }
            listing[backend] = {"version": registry.installed_version(backend), "devices": devices}
    finally:
        for process in processes.values():
            if process.poll() is None:
                _stop(process)
    return listing
