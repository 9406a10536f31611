"""The one reader of asv's results: result files into ``jitpi.results`` measurements.

Everything of asv that jitpi reads goes through here: its public ``asv.results`` and ``asv.util``
to load the files, and its private ``asv._stats`` for the significance test that ``asv compare``
applies (``is_different``). A value asv stored as NaN is a skip, None a failure; a timing's median
comes with the quartiles and, where ``--record-samples`` kept them, the samples.
"""

from __future__ import annotations

import ast
import itertools
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jitpi.results import Kind, Measurement, Results, Source, State, Yardstick
from jitpi.suite import grid
from jitpi.sweep.counts import UsageError

KINDS = {grid.TIME: Kind.TIME, grid.COLD: Kind.COLD, grid.MEMORY: Kind.MEMORY, grid.ACCURACY: Kind.ACCURACY}
MACHINE_KEYS = ("machine", "arch", "cpu", "num_cpu", "os", "ram")
ACCURACY_SEEDS = len(grid.SEEDS)


def asv_pin(name: str, version: str) -> tuple[str, str]:
    """A pin as asv's ``req`` takes it: ``(name, version)``, or ``("pip+name==version", "")`` where
    asv 0.6.6 would cut the version (its pip declaration parser drops a ``.postN``)."""
    from asv.util import ParsedPipDeclaration

    if ParsedPipDeclaration(f"{name} {version}").specification == f"=={version}":
        return name, version
    return f"pip+{name}=={version}", ""


def pins(requirements: dict[str, Any]) -> dict[str, str]:
    """An environment's pins as name -> version, whichever way ``asv_pin`` wrote them."""
    found = {}
    for key, value in requirements.items():
        if key.startswith("pip+") and "==" in key and not value:
            name, _, version = key[4:].partition("==")
            found[name] = version
        else:
            found[key] = str(value)
    return found


def _asv():
    try:
        import asv.results
        import asv.util
    except ImportError:
        raise UsageError("reading asv results needs asv: pip install -e '.[dev]'") from None
    return asv


@dataclass(frozen=True)
class Environment:
    """One result file: one commit measured in one asv environment."""

    commit: str
    date: int | None
    started: int
    name: str
    python: str
    requirements: dict[str, str]
    """The packages the environment pinned (asv's params less the machine's and python)."""
    params: dict[str, str]
    measurements: list[Measurement]
    yardstick: Yardstick | None


def machines(results_dir: str | os.PathLike[str]) -> dict[str, dict[str, str]]:
    """The machine folders of an asv results_dir: name -> its machine.json."""
    asv = _asv()
    found = {}
    for entry in sorted(os.scandir(results_dir), key=lambda entry: entry.name):
        path = os.path.join(entry.path, "machine.json")
        if entry.is_dir() and os.path.isfile(path):
            try:
                info = asv.util.load_json(path, api_version=1)
            except asv.util.UserError:
                continue
            found[str(info.get("machine", entry.name))] = {k: str(v) for k, v in info.items()}
    return found


def _param_names(results_dir: str) -> dict[str, tuple[str, ...]]:
    """Each benchmark's parameter names from asv's benchmarks.json, or the grid's order."""
    asv = _asv()
    try:
        listed = asv.util.load_json(os.path.join(results_dir, "benchmarks.json"), api_version=2)
    except (OSError, asv.util.UserError):
        listed = {}
    found = {}
    for benchmark in KINDS:
        names = (listed.get(benchmark) or {}).get("param_names")
        usable = names and set(grid.PARAM_NAMES) <= set(names)
        found[benchmark] = tuple(names) if usable else grid.PARAM_NAMES
    return found


def _measurement(kind: Kind, named: dict[str, str], value: Any, stats: Any, samples: Any) -> Measurement:
    where = {"backend": named["backend"], "variant": named["variant"], "device": named["device"]}
    n = grid.size(named["n"])
    seeds = ACCURACY_SEEDS if kind == Kind.ACCURACY else 1
    if value is None:
        return Measurement(kind, **where, n=n, state=State.FAILED, seeds=seeds)
    if isinstance(value, float) and math.isnan(value):
        return Measurement(kind, **where, n=n, state=State.SKIPPED, seeds=seeds)
    stats = stats or {}
    q25, q75 = stats.get("q_25"), stats.get("q_75")
    return Measurement(
        kind,
        **where,
        n=n,
        state=State.MEASURED,
        value=float(value),
        q25=q25,
        q75=q75,
        iqr=None if q25 is None or q75 is None else max(q75 - q25, 0.0),
        minimum=stats.get("min"),
        maximum=stats.get("max"),
        samples=tuple(float(s) for s in samples or () if s is not None),
        seeds=seeds,
        stats=stats or None,
    )


def _read(result: Any, param_names: dict[str, tuple[str, ...]]) -> list[Measurement]:
    found = []
    keys = result.get_all_result_keys()
    for benchmark, kind in KINDS.items():
        if benchmark not in keys:
            continue
        params = result.get_result_params(benchmark)
        names = param_names[benchmark]
        if len(params) != len(names):
            continue
        values = result.get_result_value(benchmark, params)
        stats = result.get_result_stats(benchmark, params)
        samples = result.get_result_samples(benchmark, params)
        for combo, value, stat, sample in zip(
            itertools.product(*params), values, stats, samples, strict=True
        ):
            named = dict(zip(names, (ast.literal_eval(part) for part in combo), strict=True))
            found.append(_measurement(kind, named, value, stat, sample))
    return found


def _yardstick(result: Any) -> Yardstick | None:
    """The yardstick of one result file, at this version of its workload; None where absent."""
    if grid.YARDSTICK not in result.get_all_result_keys():
        return None
    if str(result.benchmark_version.get(grid.YARDSTICK)) != grid.YARDSTICK_VERSION:
        return None
    params = result.get_result_params(grid.YARDSTICK)
    values = result.get_result_value(grid.YARDSTICK, params)
    if params or len(values) != 1:
        return None
    value = values[0]
    if isinstance(value, float) and math.isfinite(value) and value > 0:
        return Yardstick(value, grid.YARDSTICK_SAMPLES, str(result.params.get("numpy", "")))
    return None


def environments(results_dir: str | os.PathLike[str], machine: str) -> Iterator[Environment]:
    """Every result file of ``machine`` as an Environment."""
    asv = _asv()
    results_dir = os.fspath(results_dir)
    param_names = _param_names(results_dir)
    for result in asv.results.iter_results_for_machine(results_dir, machine):
        requirements = pins({k: v for k, v in result.params.items() if k not in (*MACHINE_KEYS, "python")})
        yield Environment(
            commit=result.commit_hash,
            date=result.date,
            started=max((t for t in result.started_at.values() if t), default=0),
            name=result.env_name or "",
            python=str(result.params.get("python", "")),
            requirements=requirements,
            params={k: str(v) for k, v in result.params.items()},
            measurements=_read(result, param_names),
            yardstick=_yardstick(result),
        )


def _merged(envs: list[Environment]) -> list[Measurement]:
    """Several environments of one commit: a measured value wins over a failure, a failure over a
    skip, and the first environment (by name) over the next."""
    rank = {State.MEASURED: 2, State.FAILED: 1, State.SKIPPED: 0}
    chosen: dict[tuple, Measurement] = {}
    for env in envs:
        for item in env.measurements:
            where = (item.kind, *item.key, item.n)
            if where not in chosen or rank[item.state] > rank[chosen[where].state]:
                chosen[where] = item
    return list(chosen.values())


def _day(date: int | None) -> str:
    return datetime.fromtimestamp(date / 1000, UTC).strftime("%Y-%m-%d") if date else "date unknown"


def _machine_line(name: str, info: dict[str, str]) -> str:
    parts = [f"machine {info.get('machine') or name}", info.get("cpu")]
    if info.get("num_cpu"):
        parts.append(f"{info['num_cpu']} CPUs")
    if info.get("ram", "").isdigit():
        parts.append(f"{int(info['ram']) / 2**30:.1f} GiB RAM")
    parts += [info.get("os"), info.get("arch")]
    return ", ".join(part for part in parts if part)


def choose_machine(results_dir: str | os.PathLike[str], machine: str | None) -> tuple[str, dict[str, str]]:
    """``machine`` (or the only one) among the results' machines; UsageError naming the choices."""
    results_dir = os.fspath(results_dir)
    where = f"--asv-results {results_dir!r}"
    if not os.path.isdir(results_dir):
        raise UsageError(
            f"{where}: no such folder; give asv's results_dir (asv.conf.json), e.g. .asv/results"
        )
    found = machines(results_dir)
    if not found:
        raise UsageError(
            f"{where}: no asv results found (expected a folder per machine with machine.json and result "
            "files, as `asv run` writes them)"
        )
    if machine is None:
        if len(found) > 1:
            from asv.machine import Machine

            here = Machine.get_unique_machine_name()  # asv's own default: this host's name
            if here not in found:
                raise UsageError(
                    f"--machine: {where} holds several machines; choose one of {', '.join(found)}"
                )
            return here, found[here]
        machine = next(iter(found))
    elif machine not in found:
        raise UsageError(
            f"--machine {machine!r}: no results for it in {results_dir!r}; machines: {', '.join(found)}"
        )
    return machine, found[machine]


def load(results_dir: str | os.PathLike[str], machine: str | None = None) -> Results:
    """The newest commit with at least one measured value in the project's own environment(s), for
    ``machine`` (or the only machine). Environments that pin fewer frameworks (``jitpi.suite.
    releases``: one compiler and numpy each) are left out and named in the notes."""
    results_dir = os.fspath(results_dir)
    machine, info = choose_machine(results_dir, machine)
    loaded = list(environments(results_dir, machine))
    if not loaded:
        raise UsageError(
            f"--asv-results {results_dir!r}: no asv results found for machine {machine!r} "
            "(only its machine.json)"
        )
    # The project's environment pins every framework of asv.conf.json's matrix; at each commit, those
    # pinning fewer than its fullest are others; anywhere, those pinning fewer than half as many as
    # the fullest on the machine (the matrix grows over commits, so not "all of them").
    most = max(len(env.requirements) for env in loaded)
    fullest: dict[str, int] = {}
    for env in loaded:
        if 2 * len(env.requirements) >= most:
            fullest[env.commit] = max(fullest.get(env.commit, 0), len(env.requirements))
    main: dict[str, list[Environment]] = {}
    others: dict[str, list[Environment]] = {}
    for env in loaded:
        own = len(env.requirements) == fullest.get(env.commit)
        (main if own else others).setdefault(env.commit, []).append(env)

    def newest(commit: str) -> tuple:
        envs = main.get(commit, []) + others.get(commit, [])
        return (max(env.date or 0 for env in envs), max(env.started for env in envs))

    skipped_commits = []
    for commit in sorted(set(main) | set(others), key=newest, reverse=True):
        if commit not in main:
            count = len(others[commit])
            skipped_commits.append(
                f"{commit[:8]} has results only in {count} other environment{'s' * (count > 1)}"
            )
            continue
        envs = sorted(main[commit], key=lambda env: env.name)
        measurements = _merged(envs)
        states = [item.state for item in measurements]
        if State.MEASURED not in states:
            failed = states.count(State.FAILED)
            outcome = f"{failed} of them failed" if failed else "all skipped"
            skipped_commits.append(f"{commit[:8]} measured nothing ({len(states)} combinations, {outcome})")
            continue
        versions: dict[str, str] = {}
        for env in envs:
            versions.update(env.requirements)
        params = envs[0].params
        machine_info = {k: str(params.get(k, info.get(k, ""))) for k in MACHINE_KEYS}
        notes = []
        if skipped_commits:
            notes.append(f"the newest commit with a measurement; newer: {'; '.join(skipped_commits)}")
        if other := sorted(env.name for env in others.get(commit, [])):
            notes.append(
                f"not shown: {len(other)} other asv environment{'s' * (len(other) > 1)} of this commit "
                "that pin fewer frameworks (such as the per-release ones of jitpi releases)"
            )
        source = Source(
            tool="asv",
            path=results_dir,
            machine=_machine_line(machine, machine_info),
            label=f"commit {commit[:8]} ({_day(envs[0].date)})",
            versions=dict(sorted(versions.items())),
            python=envs[0].python,
            commit=commit,
            machine_name=machine,
            environments=tuple(env.name for env in envs),
        )
        yardstick = next((env.yardstick for env in envs if env.yardstick is not None), None)
        return Results(source, measurements, yardstick=yardstick, notes=notes)
    raise UsageError(
        f"--asv-results {results_dir!r}: no commit has a measured result for machine {machine!r} "
        f"(every combination skipped or failed: {'; '.join(skipped_commits)})"
    )


def is_different(old: Measurement, new: Measurement) -> bool:
    """asv compare's test of two measurements: Mann-Whitney U on the recorded samples or, with too
    few, the overlap of the 99% intervals in asv's statistics."""
    from asv import _stats

    if not old.stats or not new.stats:
        return False
    return bool(_stats.is_different(old.samples or None, new.samples or None, old.stats, new.stats))


def values_since(
    results_dir: str | os.PathLike[str], machine: str, commit: str, since_ms: float
) -> dict[str, float | None]:
    """Each combination's value in ``commit``'s results for ``machine``, of the benchmarks asv ran
    since ``since_ms`` (a JavaScript timestamp, as asv keeps them): the smallest recorded sample (the
    value where asv kept no samples), None for a failure, NaN for a skip; keyed as asv names it,
    ``name(params...)``, or by the bare name for a benchmark without params. A benchmark asv did not
    reach since then is left out, never given an earlier run's value."""
    from pathlib import Path

    asv = _asv()
    values: dict[str, float | None] = {}
    for path in sorted(Path(results_dir, machine).glob(f"{commit[:8]}-*.json")):
        result = asv.results.Results.load(str(path), machine)
        for benchmark in result.get_all_result_keys():
            if (result.started_at.get(benchmark) or 0) < since_ms:
                continue
            params = result.get_result_params(benchmark)
            stored = result.get_result_value(benchmark, params)
            samples = result.get_result_samples(benchmark, params)
            for combo, value, taken in zip(itertools.product(*params), stored, samples, strict=True):
                key = f"{benchmark}({', '.join(combo)})" if combo else benchmark
                values[key] = None if value is None else float(min(taken) if taken else value)
    return values
