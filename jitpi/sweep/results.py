"""The result model of a sweep and its files: rows, settings, machine and versions, as JSON and CSV.

Both files are rewritten atomically after every row (a reader sees the old file or the new one, never
half of one), so an interrupted sweep keeps what it measured. ``load_results`` reads this schema and
the one before it (``jitpi-sweep/1``: one call per sample, no warm-up per n), upgraded on reading.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import platform
import signal
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import IO, Any

import jitpi
from jitpi import registry
from jitpi.sweep.counts import UsageError
from jitpi.sweep.machine import machine_info
from jitpi.sweep.timing import summarise

SCHEMA = "jitpi-sweep/2"
SCHEMA_1 = "jitpi-sweep/1"
READABLE_SCHEMAS = (SCHEMA, SCHEMA_1)


@dataclass(frozen=True)
class Row:
    """One (backend, variant, device, n) of a sweep: its outcome, estimate and timing.

    ``status`` is ``ok``, ``skipped`` or ``failed``; every other field is None where it does not
    apply. Times are per call: ``median_s``, ``iqr_s``, ``min_s`` and ``max_s`` over the row's
    ``samples`` samples of ``calls_per_sample`` calls each (``times_s``, one per sample); ``spread`` =
    IQR / median; ``first_call_s`` is the group's first call (compile included, at its first n),
    ``warmup_s`` the untimed-for-the-median first call at every later n; ``compiles_in_samples``
    counts kernels compiled during the samples (None where the backend does not count them).

    Rows enter the program as the worker's JSON dicts (``from_dict``, which refuses a missing or
    unknown field) and leave it as the JSON and CSV files' dicts (``as_dict``).
    """

    backend: str
    variant: str
    device: str
    n: int
    seed: int
    status: str
    hits: int | None = None
    pi_hat: float | None = None
    abs_error: float | None = None
    sigma: float | None = None
    z: float | None = None
    import_s: float | None = None
    first_call_s: float | None = None
    warmup_s: float | None = None
    samples: int | None = None
    calls_per_sample: int | None = None
    median_s: float | None = None
    iqr_s: float | None = None
    spread: float | None = None
    unstable: bool | None = None
    min_s: float | None = None
    max_s: float | None = None
    samples_per_s: float | None = None
    compiles_in_samples: int | None = None
    message: str | None = None
    times_s: tuple[float, ...] | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Row:
        """The row a results dict describes: every field of ``ROW_FIELDS``, and ``times_s`` or not;
        ValueError naming the fields if one is missing or one is unknown."""
        missing = [name for name in ROW_FIELDS if name not in data]
        unknown = [name for name in data if name not in _ROW_KEYS]
        if missing or unknown:
            what = [f"without {_names(missing)}"] if missing else []
            what += [f"with unknown {_names(unknown)}"] if unknown else []
            where = " ".join(str(data.get(name)) for name in ("backend", "variant", "device", "n"))
            raise ValueError(f"not a jitpi sweep row ({where}): {' and '.join(what)}")
        values = dict(data)
        if values.get("times_s") is not None:
            values["times_s"] = tuple(values["times_s"])
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        """The row as the JSON file holds it: ``ROW_FIELDS`` in order, then ``times_s`` where measured."""
        data = {name: getattr(self, name) for name in ROW_FIELDS}
        if self.times_s is not None:
            data["times_s"] = list(self.times_s)
        return data


ROW_FIELDS = tuple(item.name for item in fields(Row) if item.name != "times_s")
"""Every row has these keys (None where they do not apply), the CSV's columns in this order; JSON
rows add ``times_s`` where samples were timed. ``Row`` says what each means."""

_ROW_KEYS = frozenset((*ROW_FIELDS, "times_s"))


def _names(names: Sequence[str]) -> str:
    return ("field " if len(names) == 1 else "fields ") + ", ".join(repr(name) for name in names)


MACHINE_CSV_FIELDS = ("cpu", "logical_cores", "usable_cores", "memory_gib", "os", "python")


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


def new_row(group: Group, n: int, seed: int, **values: Any) -> dict[str, Any]:
    """A row as the worker sends it (``Row.as_dict``'s shape): every field of ``ROW_FIELDS``, None
    unless given."""
    row = dict.fromkeys(ROW_FIELDS)
    row.update(backend=group.backend, variant=group.variant, device=group.device, n=n, seed=seed, **values)
    return row


@dataclass
class Results:
    """Everything a sweep knows; ``as_dict`` is the JSON file, ``csv_text`` the CSV file."""

    settings: dict[str, Any]
    machine: dict[str, Any] = field(default_factory=machine_info)
    started: str = field(default_factory=utc_now)
    finished: str | None = None
    state: str = "running"  # running, complete, interrupted
    rows: list[Row] = field(default_factory=list)
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
            "rows": [row.as_dict() for row in self.rows],
        }

    def versions(self) -> dict[str, str | None]:
        """jitpi, Python, numpy, and the framework of every backend that ran."""
        ran = dict.fromkeys(row.backend for row in self.rows)
        versions: dict[str, str | None] = {"jitpi": jitpi.__version__}
        versions["python"] = platform.python_version()
        versions["numpy"] = registry.installed_version("numpy")
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
            values = [getattr(row, name) for name in ROW_FIELDS]
            values.append(versions.get(row.backend))
            writer.writerow([_csv_value(value) for value in [*values, *machine]])
        return buffer.getvalue()

    @property
    def failed(self) -> list[Row]:
        return [row for row in self.rows if row.status == "failed"]


def _csv_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
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
    """Read a results file written by ``jitpi run --json`` (this schema or ``jitpi-sweep/1``, upgraded
    to this one); UsageError if it is not one."""
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
    if (
        not isinstance(data, dict)
        or data.get("schema") not in READABLE_SCHEMAS
        or not isinstance(data.get("rows"), list)
    ):
        expected = " or ".join(repr(schema) for schema in READABLE_SCHEMAS)
        raise UsageError(
            f"{path!r} is not a jitpi results file (expected schema {expected}, from jitpi run --json)"
        )
    return upgrade(data)


def upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """A ``jitpi-sweep/1`` results dict in this schema's shape (a copy); others unchanged.

    Schema 1 timed single calls (``repeat`` of them, ``times_s``) with no warm-up after the first n;
    each becomes a sample of one call, and the IQR and spread are computed from its times.
    """
    if data.get("schema") != SCHEMA_1:
        return data
    rows = []
    for old in data["rows"]:
        row = dict.fromkeys(ROW_FIELDS)
        row.update({key: value for key, value in old.items() if key != "repeat"})
        times = old.get("times_s") or []
        if old.get("status") == "ok" and times:
            row.update(summarise(times), samples=len(times), calls_per_sample=1)
            row["median_s"] = old.get("median_s", row["median_s"])
        rows.append(row)
    return {**data, "schema": SCHEMA, "upgraded_from": SCHEMA_1, "rows": rows}
