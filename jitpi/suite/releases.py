"""The race over releases: each compiler measured across its own releases, on asv's machinery.

One jitpi commit is measured in one asv environment per release of one compiler (asv's matrix
``include`` rules, written from the registry's release lines into ``.asv/releases/asv.conf.json``;
the results go to the main results folder, so ``asv publish`` shows every environment in its
selector). Each environment runs that compiler's native and shared variants: time at the grid's
smallest and largest n, the cold first call, peak memory and the accuracy track; setup checks every
shared count against the reference's exact count. ``run`` resumes where it stopped (asv's
``--skip-existing-successful``) and records what each environment resolved (``pip list``), ``report``
reads the results (``jitpi.suite.asv_results``), draws throughput and first call against the release
and marks the steps that asv's own test calls significant. Why and what it costs: docs/releases.md.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jitpi.registry import REGISTRY, Release
from jitpi.results import Kind, Measurement, State
from jitpi.suite import asv_results, grid
from jitpi.view.format import duration, megabytes, rate, rms_z
from jitpi.view.markdown import markdown_table

FACTOR = 1.1
"""A step between releases counts when the ratio is beyond this either way (asv compare's default)."""
VARIANTS = (grid.NATIVE, grid.SHARED)
TIME_N = (grid.N_GRID[0], grid.N_GRID[-1])  # overhead-bound and throughput-bound
COLD_N = grid.COLD_N[0]
MEMORY_N = grid.MEMORY_N[-1]
ACCURACY_N = grid.ACCURACY_N[-1]
RELEASES_DIR = Path(".asv") / "releases"
VERSIONS_DIR = "releases-versions"
"""Beside the results folder (asv reads every .json inside it): <machine>.json, what each release
environment resolved."""

RELEASES: dict[str, tuple[Release, ...]] = {
    name: info.releases for name, info in REGISTRY.items() if info.releases
}
"""Per backend with a sweep, its releases in order (each backend's registry line lists them). torch
has none: PyPI's Linux wheels of every release but the CPU one on this machine's disk are CUDA
builds of several GB (docs/releases.md)."""


def versions_path(results_dir: Path, machine: str) -> Path:
    return Path(results_dir).parent / VERSIONS_DIR / f"{machine}.json"


def requirements(backend: str, release: Release) -> dict[str, str]:
    """The exact pins of one release's environment: the framework at its version, and its pins."""
    return {(release.package or REGISTRY[backend].distribution): release.version, **release.pins}


def release_of(backend: str, pins: Mapping[str, str]) -> Release | None:
    """The release an environment holds when its pins are exactly that release's (None otherwise: the
    project's own environment pins every framework, one of them at a listed release)."""
    for release in RELEASES.get(backend, ()):
        if dict(pins) == requirements(backend, release):
            return release
    return None


def selection(backend: str) -> list[str]:
    """``asv run -b`` patterns: the combinations a release environment measures."""
    variants = "|".join(VARIANTS)
    times = "|".join(TIME_N)

    def method(benchmark: str) -> str:
        return benchmark.rsplit(".", 1)[-1]

    return [
        rf"{method(grid.TIME)}\('{backend}', '({variants})', 'cpu', '({times})'\)",
        rf"{method(grid.COLD)}\('{backend}', '({variants})', 'cpu'",
        rf"{method(grid.MEMORY)}\('{backend}', '({variants})', 'cpu', '{MEMORY_N}'\)",
        rf"{method(grid.ACCURACY)}\('{backend}', '({variants})', 'cpu', '{ACCURACY_N}'\)",
    ]


def release_config(
    base: Mapping[str, Any], releases: Iterable[tuple[str, Release]], root: Path
) -> dict[str, Any]:
    """An asv configuration of one environment per release: the project's own (``base``), its
    matrix replaced by ``include`` rules, environments under ``.asv/releases/env``, results and
    site shared with the project's, paths absolute (the file lives under ``.asv``)."""
    conf = relocated(base, root, env_dir=root / RELEASES_DIR / "env")
    pythons = list(base["pythons"])
    conf["matrix"] = {}
    conf["exclude"] = [{"python": ".*"}]  # no environment but the included ones
    conf["include"] = [
        {
            "python": python,
            "req": dict(asv_results.asv_pin(*pin) for pin in sorted(requirements(backend, release).items())),
        }
        for backend, release in releases
        for python in pythons
    ]
    return conf


def relocated(base: Mapping[str, Any], root: Path, **folders: Path) -> dict[str, Any]:
    """The project's asv configuration ``base`` for a copy kept elsewhere: its repository and
    folders made absolute from ``root``, and the ``folders`` given (env_dir, results_dir...) moved."""
    conf = dict(base)
    conf["repo"] = str(root)
    for key in ("benchmark_dir", "env_dir", "results_dir", "html_dir"):
        conf[key] = str(root / base[key])
    conf.update({key: str(folder) for key, folder in folders.items()})
    return conf


def load_base_config(root: Path) -> dict[str, Any]:
    import json5

    return json5.loads((root / "asv.conf.json").read_text(encoding="utf-8"))


def run(
    backends: Sequence[str], *, root: Path = Path("."), machine: str | None = None, quick: bool = False
) -> int:
    """Create (once) and measure every release environment of ``backends`` on HEAD; return asv's
    exit status. Environments and results that exist are kept: a second run measures what the
    first did not."""
    unknown = [backend for backend in backends if backend not in RELEASES]
    if unknown:
        raise ValueError(f"backends must be among {', '.join(RELEASES)}; got {', '.join(unknown)}")
    root = root.resolve()
    releases = [(backend, release) for backend in backends for release in RELEASES[backend]]
    conf = release_config(load_base_config(root), releases, root)
    path = root / RELEASES_DIR / "asv.conf.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(conf, indent=2) + "\n", encoding="utf-8")
    command = [sys.executable, "-m", "asv", "run", "--config", str(path), "--show-stderr", "--record-samples"]
    command += ["--skip-existing-successful"] if not quick else ["--quick"]
    command += ["--machine", machine] if machine else []
    for backend in backends:
        for pattern in selection(backend):
            command += ["-b", pattern]
    command.append("HEAD^!")
    status = subprocess.run(command, cwd=root).returncode
    if machine is None:  # asv's own choice: the one machine described in ~/.asv-machine.json
        from asv.machine import Machine

        machine = Machine.load(interactive=False).machine
    record_versions(root / RELEASES_DIR / "env", versions_path(Path(conf["results_dir"]), machine))
    return status


def record_versions(env_dir: Path, path: Path) -> dict[str, dict[str, str]]:
    """What every release environment resolved: ``pip list`` of each, by its pins
    (``environment_key``), merged into ``path`` (asv records only the pins)."""
    found: dict[str, dict[str, str]] = {}
    for info_path in sorted(env_dir.glob("*/asv-env-info.json")):
        info = json.loads(info_path.read_text(encoding="utf-8"))
        python = info_path.parent / "bin" / "python"
        done = subprocess.run(
            [str(python), "-m", "pip", "list", "--format=json"], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            continue
        installed = {canonical(entry["name"]): entry["version"] for entry in json.loads(done.stdout)}
        found[environment_key(asv_results.pins(info["requirements"]))] = installed
    if found:
        path.parent.mkdir(parents=True, exist_ok=True)
        known = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        known.update(found)
        path.write_text(json.dumps(known, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return found


def canonical(name: str) -> str:
    """A distribution's name as PyPI compares it (PEP 503): ml_dtypes, ml-dtypes and ML.dtypes alike."""
    return re.sub(r"[-_.]+", "-", name).lower()


def environment_key(requirements: Mapping[str, str]) -> str:
    """One environment's pins as a stable key: "name==version" joined by spaces, sorted."""
    return " ".join(f"{name}=={version}" for name, version in sorted(requirements.items()))


# --- reading the results back ------------------------------------------------------------------


@dataclass
class ReleaseRow:
    """What one release environment measured for one variant."""

    backend: str
    release: Release
    variant: str
    time: dict[str, Measurement] = field(default_factory=dict)  # n label -> seconds per call
    first_call: Measurement | None = None
    peak_memory: Measurement | None = None
    rms_z: Measurement | None = None
    versions: dict[str, str] = field(default_factory=dict)
    commit: str = ""
    state: str = "did not run"
    """measured, skipped (asv's skip: the release lacks what the variant is) or did not run."""

    def throughput(self, n: str) -> float | None:
        measurement = self.time.get(n)
        return None if measurement is None else measurement.throughput


def load_rows(results_dir: Path, machine: str | None = None, commit: str | None = None) -> list[ReleaseRow]:
    """Every release environment's rows in asv's result files (one machine; per backend, one commit:
    ``commit`` where that backend has results there, else its newest), ordered by backend, then
    release."""
    machines = [machine] if machine else sorted(p.name for p in results_dir.iterdir() if p.is_dir())
    rows: list[ReleaseRow] = []
    for name in machines:
        recorded = versions_path(results_dir, name)
        versions = json.loads(recorded.read_text(encoding="utf-8")) if recorded.exists() else {}
        loaded = []
        for env in asv_results.environments(results_dir, name):
            found = [
                (backend, release)
                for backend in RELEASES
                if (release := release_of(backend, env.requirements)) is not None
            ]
            if found:
                loaded.append((env, found))
        if not loaded:
            continue
        if commit is not None and not any(env.commit.startswith(commit) for env, _ in loaded):
            raise ValueError(f"commit {commit!r} has no release results on machine {name!r}")
        chosen = _commit_per_backend(loaded, commit)
        for env, found in loaded:
            resolved = versions.get(environment_key(env.requirements), {})
            index = {(m.kind, *m.key, m.n): m for m in env.measurements}
            for backend, release in found:
                if env.commit != chosen.get(backend):
                    continue
                for variant in VARIANTS:
                    rows.append(_row(backend, release, variant, env.commit, resolved, index))
    order = {(b, r.version): i for b, rs in RELEASES.items() for i, r in enumerate(rs)}
    rows.sort(
        key=lambda row: (
            list(RELEASES).index(row.backend),
            order[row.backend, row.release.version],
            row.variant,
        )
    )
    return rows


def _row(
    backend: str, release: Release, variant: str, commit: str, resolved: Mapping[str, str], index: dict
) -> ReleaseRow:
    row = ReleaseRow(
        backend, release, variant, versions={canonical(k): v for k, v in resolved.items()}, commit=commit
    )

    def measured(kind: Kind, n: str) -> Measurement | None:
        found = index.get((kind, backend, variant, "cpu", grid.size(n)))
        return found if found is not None and found.measured else None

    for n in TIME_N:
        if (found := measured(Kind.TIME, n)) is not None:
            row.time[n] = found
    row.first_call = measured(Kind.COLD, COLD_N)
    row.peak_memory = measured(Kind.MEMORY, MEMORY_N)
    row.rms_z = measured(Kind.ACCURACY, ACCURACY_N)
    timed = index.get((Kind.TIME, backend, variant, "cpu", grid.size(TIME_N[-1])))
    if timed is not None and timed.state in (State.MEASURED, State.SKIPPED):
        row.state = "measured" if timed.state == State.MEASURED else "skipped"
    return row


def _commit_per_backend(
    loaded: Sequence[tuple[asv_results.Environment, list[tuple[str, Release]]]], commit: str | None
) -> dict[str, str]:
    """Per backend, the commit its rows come from: ``commit`` where it has release results there,
    else the newest commit that measured that backend's releases (each compiler is swept on its own,
    so one may be a commit or two behind another)."""
    chosen: dict[str, tuple[tuple[bool, float], str]] = {}
    for env, found in loaded:
        named = commit is not None and env.commit.startswith(commit)
        for backend, _ in found:
            rank = (named, env.date or 0)
            if backend not in chosen or rank > chosen[backend][0]:
                chosen[backend] = (rank, env.commit)
    return {backend: commit_hash for backend, (_, commit_hash) in chosen.items()}


# --- steps between releases --------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """From one release to the next, for one measure: the ratio (new / old) and whether asv's test
    calls it significant; ``moved``: the other installed packages whose version changed too."""

    backend: str
    variant: str
    what: str
    old: str
    new: str
    ratio: float
    significant: bool
    moved: tuple[str, ...]


def steps(rows: Sequence[ReleaseRow], what: str, pick) -> list[Step]:
    """Consecutive releases of each (backend, variant) compared on ``pick(row) -> Measurement``."""

    found = []
    by_series: dict[tuple[str, str], list[ReleaseRow]] = {}
    for row in rows:
        by_series.setdefault((row.backend, row.variant), []).append(row)
    for (backend, variant), series in by_series.items():
        measured = [(row, pick(row)) for row in series]
        measured = [(row, m) for row, m in measured if m is not None and m.value]
        for (old_row, old), (new_row, new) in itertools.pairwise(measured):
            ratio = new.value / old.value
            significant = False
            if not (1 / FACTOR <= ratio <= FACTOR):
                significant = asv_results.is_different(old, new)
            moved = tuple(
                f"{name} {old_row.versions.get(name, '-')} -> {new_row.versions.get(name, '-')}"
                for name in sorted(set(old_row.versions) | set(new_row.versions))
                if old_row.versions.get(name) != new_row.versions.get(name)
                and name not in {canonical(n) for n in requirements(backend, new_row.release)} - {"numpy"}
            )
            found.append(
                Step(
                    backend,
                    variant,
                    what,
                    old_row.release.version,
                    new_row.release.version,
                    ratio,
                    significant,
                    moved,
                )
            )
    return found


# --- the report: charts and a table -------------------------------------------------------------


def report(rows: Sequence[ReleaseRow], out: Path) -> list[Path]:
    """Per backend, ``releases-<backend>.png`` (throughput at 1e9 and the cold first call against
    the release, a line per variant, significant steps marked) and ``releases.md`` (fastest and
    slowest release, biggest step up and down, what else moved); return the files written."""
    import matplotlib
    from matplotlib.figure import Figure

    from jitpi.view import charts

    large = TIME_N[-1]
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    backends = list(dict.fromkeys(row.backend for row in rows))
    time_steps = steps(rows, f"time at {large}", lambda row: row.time.get(large))
    cold_steps = steps(rows, "first call", lambda row: row.first_call)
    with matplotlib.rc_context(charts.STYLE):
        for backend in backends:
            mine = [row for row in rows if row.backend == backend]
            versions = list(dict.fromkeys(row.release.version for row in mine))
            figure = Figure(figsize=(12, 7.5), dpi=charts.DPI, layout="constrained")
            speed_axis, cold_axis = figure.subplots(2, 1, sharex=True)
            for variant in VARIANTS:
                series = [row for row in mine if row.variant == variant]
                x = [versions.index(row.release.version) for row in series]
                rate = [row.throughput(large) for row in series]
                cold = [row.first_call.value if row.first_call else None for row in series]
                style = charts.style((backend, variant, "cpu"))
                speed_axis.plot(x, [r / 1e6 if r else math.nan for r in rate], label=variant, **style)
                cold_axis.plot(x, [c if c else math.nan for c in cold], label=variant, **style)
                for axis, found in ((speed_axis, time_steps), (cold_axis, cold_steps)):
                    for step in found:
                        if step.backend == backend and step.variant == variant and step.significant:
                            index = versions.index(step.new)
                            axis.axvspan(
                                index - 0.5,
                                index,
                                color="#f4a582" if step.ratio > 1 else "#92c5de",
                                alpha=0.35,
                                lw=0,
                            )
            speed_axis.set_ylabel(f"throughput at n = {large}\n(million samples/s)")
            cold_axis.set_ylabel(f"cold first call (s)\nimport + compile + {COLD_N}")
            cold_axis.set_xticks(range(len(versions)), versions, rotation=45)
            cold_axis.set_xlabel(f"{backend} release")
            speed_axis.set_ylim(bottom=0)
            cold_axis.set_ylim(bottom=0)
            speed_axis.legend(title="variant")
            figure.suptitle(f"{backend} across its releases", fontsize=14, fontweight="bold")
            figure.supxlabel(
                "shaded: a step asv's test calls significant (ratio beyond 1.1 and Mann-Whitney / CI): "
                "red slower, blue faster; missing points: the release did not run (docs/releases.md)",
                fontsize=8,
                color="#666666",
            )
            path = out / f"releases-{backend}.png"
            figure.savefig(path, dpi=charts.DPI)
            written.append(path)
    path = out / "releases.md"
    path.write_text(markdown(rows, time_steps + cold_steps), encoding="utf-8")
    written.append(path)
    return written


def markdown(rows: Sequence[ReleaseRow], found: Sequence[Step]) -> str:
    """Per compiler, a table of its releases and, per variant, its fastest and slowest release and
    its biggest steps up and down."""
    large, small = TIME_N[-1], TIME_N[0]
    lines = []
    for backend in dict.fromkeys(row.backend for row in rows):
        commits = ", ".join(dict.fromkeys(r.commit[:8] for r in rows if r.backend == backend))
        lines += [f"### {backend}", "", f"jitpi commit {commits}." if commits else "", ""]
        body = []
        for row in (r for r in rows if r.backend == backend):
            status = row.state
            body.append(
                [
                    row.release.version,
                    row.variant,
                    rate(row.throughput(large)),
                    rate(row.throughput(small)),
                    duration(row.first_call.value if row.first_call else None),
                    megabytes(row.peak_memory.value if row.peak_memory else None),
                    rms_z(row.rms_z.value if row.rms_z else None),
                    status,
                ]
            )
        header = [
            "release",
            "variant",
            f"M/s at {large}",
            f"M/s at {small}",
            "cold first call",
            "peak MB",
            "RMS z",
            "",
        ]
        lines += [markdown_table(header, body, numeric_from=2), ""]
        for variant in VARIANTS:
            measured = [
                r for r in rows if r.backend == backend and r.variant == variant and r.throughput(large)
            ]
            if not measured:
                continue
            fastest = max(measured, key=lambda r: r.throughput(large))
            slowest = min(measured, key=lambda r: r.throughput(large))
            mine = [
                s
                for s in found
                if s.backend == backend and s.variant == variant and s.what == f"time at {large}"
            ]
            up = min(mine, key=lambda s: s.ratio, default=None)  # time falls: faster
            down = max(mine, key=lambda s: s.ratio, default=None)
            lines.append(
                f"- **{variant}**: fastest {fastest.release.version} "
                f"({rate(fastest.throughput(large))} M/s), "
                f"slowest {slowest.release.version} ({rate(slowest.throughput(large))} M/s)."
            )
            for label, step in (("biggest step up", up), ("biggest step down", down)):
                if (
                    step is None
                    or (label.endswith("up") and step.ratio >= 1)
                    or (label.endswith("down") and step.ratio <= 1)
                ):
                    continue
                verdict = "significant" if step.significant else "not significant by asv's test"
                moved = f"; also moved: {', '.join(step.moved)}" if step.moved else ""
                lines.append(
                    f"  {label}: {step.old} -> {step.new}, time x{step.ratio:.2f} ({verdict}){moved}."
                )
        lines.append("")
    return "\n".join(lines)
