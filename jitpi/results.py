"""One model of what jitpi measured, whichever tool measured it.

A ``Measurement`` is one value of one kind (a warm call's seconds, a cold start's, peak memory, the
RMS of z) for one (backend, variant, device, n), with its statistics and its state (measured,
skipped, failed). A ``Results`` is every measurement of one run with where it came from: a
``jitpi run --json`` file (``from_sweep``) or one commit of asv's results
(``jitpi.suite.asv_results.load``). The views (``jitpi.view``) read only this model; no row dict is
read by string key outside the two loaders.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from jitpi.stats import standard_error
from jitpi.view.format import series_order

Key = tuple[str, str, str]
"""(backend, variant, device): one series."""


class Kind(StrEnum):
    TIME = "time"
    """Seconds of one warm call (median over samples)."""
    COLD = "cold start"
    """Seconds from a fresh process with empty JIT caches to the first count: import, compile, call."""
    MEMORY = "memory"
    """Peak resident memory of the process, bytes."""
    ACCURACY = "accuracy"
    """z = (pi_hat - pi) / SE(n): one seed's z, or the RMS over ``seeds`` seeds."""


class State(StrEnum):
    MEASURED = "measured"
    SKIPPED = "skipped here"
    FAILED = "failed"


@dataclass(frozen=True)
class Measurement:
    """One value of one kind for one (backend, variant, device, n)."""

    kind: Kind
    backend: str
    variant: str
    device: str
    n: int
    state: State
    value: float | None = None
    """The median for a time, bytes for memory, z (one seed) or RMS z (several) for accuracy."""
    q25: float | None = None
    q75: float | None = None
    iqr: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    samples: tuple[float, ...] = ()
    seeds: int = 1
    """Accuracy: how many seeds the value is the RMS over (1: a single signed z)."""
    unstable: bool = False
    parts: tuple[tuple[str, float], ...] = ()
    """A cold start's parts where they were timed apart: ("import", s), ("first call", s)."""
    message: str = ""
    stats: Mapping[str, Any] | None = field(default=None, compare=False)
    """asv's own statistics (its confidence interval), for asv's significance test."""

    @property
    def key(self) -> Key:
        return (self.backend, self.variant, self.device)

    @property
    def measured(self) -> bool:
        return self.state == State.MEASURED and self.value is not None

    @property
    def throughput(self) -> float | None:
        """Samples a second of a warm call (time measurements only)."""
        if self.kind != Kind.TIME or not self.measured or not self.value:
            return None
        return self.n / self.value

    @property
    def spread(self) -> float | None:
        """The interquartile range over the median."""
        if self.iqr is None or not self.value:
            return None
        return self.iqr / self.value

    @property
    def abs_error(self) -> float | None:
        """|pi_hat - pi| of a one-seed accuracy measurement."""
        if self.kind != Kind.ACCURACY or self.value is None or self.seeds != 1:
            return None
        return abs(self.value) * standard_error(self.n)


@dataclass(frozen=True)
class Yardstick:
    """The machine's yardstick as measured beside a run (``jitpi.suite.grid.YARDSTICK``)."""

    seconds: float
    samples: int
    numpy: str = ""

    @property
    def rate(self) -> float:
        return self.samples / self.seconds

    def relative(self, samples_per_s: float | None) -> float | None:
        """A throughput in yardsticks."""
        return None if samples_per_s is None else samples_per_s / self.rate


@dataclass(frozen=True)
class Source:
    """Where a run's numbers come from, for the views to say."""

    tool: str  # "asv" or "jitpi run"
    path: str
    machine: str
    """One line: the machine's name where it has one, the CPU, cores, memory."""
    label: str
    """asv: the commit and its day; jitpi run: when it started."""
    versions: Mapping[str, str] = field(default_factory=dict)
    python: str = ""
    commit: str = ""
    """asv: the commit measured (the full hash)."""
    machine_name: str = ""
    """asv: the machine's name in the results."""
    environments: tuple[str, ...] = ()
    """asv: the environments whose results were read."""


@dataclass
class Results:
    """Every measurement of one run, with its source and (where measured) the machine's yardstick."""

    source: Source
    measurements: list[Measurement]
    yardstick: Yardstick | None = None
    describe: dict[str, str] = field(default_factory=dict)
    """Per "backend device", what the backend says it runs (a sweep records it)."""
    notes: list[str] = field(default_factory=list)
    """What a reader should know about the selection (asv: newer commits that measured nothing)."""

    def series(self, kind: Kind, *, measured_only: bool = True) -> dict[Key, dict[int, Measurement]]:
        """``{(backend, variant, device): {n: measurement}}`` of one kind, in backend order, n rising."""
        found: dict[Key, dict[int, Measurement]] = {}
        for item in sorted(self.measurements, key=lambda m: (series_order(m.key), m.n)):
            if item.kind == kind and (item.measured or not measured_only):
                found.setdefault(item.key, {})[item.n] = item
        return found

    def combinations(self) -> list[Key]:
        return sorted({item.key for item in self.measurements}, key=series_order)

    def backends(self, kind: Kind) -> list[str]:
        return list(dict.fromkeys(key[0] for key in self.series(kind)))


# --- jitpi run's results file ---------------------------------------------------------------------


def _quartiles(times: Iterable[float]) -> tuple[float | None, float | None]:
    values = [float(t) for t in times]
    if len(values) < 2:
        return None, None
    first, _, third = statistics.quantiles(values, n=4, method="inclusive")
    return first, third


def from_sweep(data: Mapping[str, Any], path: str = "") -> Results:
    """A ``jitpi run --json`` file (``jitpi.sweep.results.load_results``'s dict) as Results: per row
    a warm time and a one-seed z at its n; per series a cold start at its first n (the import and
    the first call, which a fresh process pays with empty JIT caches)."""
    from jitpi.sweep.machine import describe_machine

    measurements: list[Measurement] = []
    first_seen: set[Key] = set()
    for row in sorted(data.get("rows", []), key=lambda row: row["n"]):
        key: Key = (row["backend"], row["variant"], row["device"])
        common = {"backend": key[0], "variant": key[1], "device": key[2], "n": int(row["n"])}
        status = row.get("status")
        ok = status == "ok" and bool(row.get("median_s"))
        state = State.MEASURED if ok else State.FAILED if status == "failed" else State.SKIPPED
        message = row.get("message") or ""
        if not ok:
            measurements.append(Measurement(Kind.TIME, **common, state=state, message=message))
            continue
        times = tuple(row.get("times_s") or ())
        q25, q75 = _quartiles(times)
        measurements.append(
            Measurement(
                Kind.TIME,
                **common,
                state=State.MEASURED,
                value=row["median_s"],
                q25=q25,
                q75=q75,
                iqr=row.get("iqr_s"),
                minimum=row.get("min_s"),
                maximum=row.get("max_s"),
                samples=times,
                unstable=bool(row.get("unstable")),
            )
        )
        if row.get("z") is not None:
            measurements.append(Measurement(Kind.ACCURACY, **common, state=State.MEASURED, value=row["z"]))
        if key not in first_seen and row.get("first_call_s") is not None:
            first_seen.add(key)
            imported = row.get("import_s") or 0.0
            cold = imported + row["first_call_s"]
            measurements.append(
                Measurement(
                    Kind.COLD,
                    **common,
                    state=State.MEASURED,
                    value=cold,
                    samples=(cold,),
                    parts=(("import", imported), ("first call", row["first_call_s"])),
                )
            )
    versions = {name: str(v) for name, v in (data.get("versions") or {}).items() if v}
    machine = data.get("machine") or {}
    source = Source(
        tool="jitpi run",
        path=path,
        machine=describe_machine(data),
        label=f"started {data.get('started') or '?'}",
        versions=versions,
        python=str(machine.get("python") or versions.get("python") or ""),
    )
    describe = {
        name: str(info.get("describe"))
        for name, info in (data.get("backends") or {}).items()
        if isinstance(info, Mapping) and info.get("describe")
    }
    return Results(source, measurements, describe=describe)
