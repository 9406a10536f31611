"""The commands that write documents from measurements: ``plot`` (PNG charts of a results file),
``report`` (Markdown tables), ``precision`` (time to k places of pi), ``page`` (the comparison page
beside asv's site) and ``releases`` (each compiler across its own releases)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from jitpi import sweep
from jitpi.cli.options import EXIT_OK, UsageError


def require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401  (checked before a sweep, not after it)
    except Exception as error:
        raise UsageError(
            f"charts need matplotlib, which does not import here ({type(error).__name__}: {error}); "
            "pip install 'jitpi[plot]'"
        ) from None


def plot_charts(data: dict[str, Any], out: str) -> list[str]:
    from jitpi import plotting

    return plotting.plot_all(data, out)


def cmd_plot(args: argparse.Namespace) -> int:
    data = sweep.load_results(args.results)
    require_matplotlib()
    sweep.check_writable_folder(args.out, what="--out", create=True)
    written = plot_charts(data, args.out)
    for path in written:
        print(path)
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from jitpi import report
    from jitpi.sweep.results import write_atomic

    page = report.results_page(args.results)
    targets = [(args.out, page)]
    if args.readme:
        try:
            with open(args.readme, encoding="utf-8") as stream:
                readme = stream.read()
            first_run = [sweep.load_results(args.results[0])]
            targets.append((args.readme, report.replace_leaderboard(readme, report.leaderboard(first_run))))
        except (OSError, ValueError) as error:
            raise UsageError(f"--readme {args.readme!r}: {error}") from None
    for path, text in targets:
        sweep.check_writable_file(path, what="--out" if path == args.out else "--readme")
        write_atomic(path, text)
        print(path)
    return EXIT_OK


def _parse_check(text: str, curves: Sequence[Any]) -> tuple[Any, float]:
    backend, _, rest = text.partition(":")
    variant, _, places = rest.partition(":")
    try:
        digits = float(places)
    except ValueError:
        raise UsageError(f"--check: {text!r} must be BACKEND:VARIANT:PLACES, e.g. numba:shared:4") from None
    if not 0 < digits <= 6:
        raise UsageError(
            f"--check: places must be above 0 and at most 6 (a cold run must finish), got {places!r}"
        )
    for curve in curves:
        if (curve.backend, curve.variant) == (backend, variant) and curve.has_cold:
            return curve, digits
    known = ", ".join(sorted(f"{c.backend}:{c.variant}" for c in curves if c.has_cold)) or "none"
    raise UsageError(f"--check: no cold start of {backend}:{variant} in the results (measured: {known})")


def cmd_precision(args: argparse.Namespace) -> int:
    from jitpi import precision, report
    from jitpi.sweep.results import write_atomic

    try:
        precision._z(args.confidence)
    except ValueError as error:
        raise UsageError(f"--confidence: {error}") from None
    curves = precision.curves_from_sweeps([sweep.load_results(path) for path in args.results])
    if not curves:
        raise UsageError("the results hold no measured rows (each row failed or was skipped)")
    checks = [_parse_check(text, curves) for text in args.check]
    if args.plot:
        require_matplotlib()
        from jitpi import plotting

        first = sweep.load_results(args.results[0])
        from jitpi.sweep.machine import describe_machine

        footer = f"{describe_machine(first, separator='  |  ')}  |  {first.get('started', '')}"
        print(plotting.plot_precision(curves, args.plot, footer=footer, confidence=args.confidence))
    tables = report.precision_tables(curves, confidence=args.confidence)
    if checks:
        tables += "\n### The model against cold runs\n\n" + report.checks_table(
            [precision.check_cold(curve, digits, args.confidence) for curve, digits in checks]
        )
    if args.out:
        sweep.check_writable_file(args.out, what="--out")
        try:
            with open(args.out, encoding="utf-8") as stream:
                page = report.replace_between(
                    stream.read(), report.PRECISION_START, report.PRECISION_END, tables
                )
        except (OSError, ValueError) as error:
            raise UsageError(f"--out {args.out!r}: {error}") from None
        write_atomic(args.out, page)
        print(args.out)
    else:
        sys.stdout.write(tables)
    return EXIT_OK


def cmd_page(args: argparse.Namespace) -> int:
    from jitpi import site

    require_matplotlib()
    print(site.write_page(args.asv_results, args.out, sweep_json=args.json, machine=args.machine))
    return EXIT_OK


def cmd_releases(args: argparse.Namespace) -> int:
    from pathlib import Path

    from jitpi import releases

    if args.action == "run":
        if not args.backends:
            raise UsageError(f"releases run needs one or more backends among: {', '.join(releases.RELEASES)}")
        unknown = [backend for backend in args.backends if backend not in releases.RELEASES]
        if unknown:
            raise UsageError(
                f"backends must be among {', '.join(releases.RELEASES)}; got {', '.join(unknown)}"
            )
        return releases.run(args.backends, machine=args.machine, quick=args.quick)
    if args.backends:
        raise UsageError("releases report takes no backends: it reports every release with results")
    results = Path(args.results)
    if not results.is_dir():
        raise UsageError(f"--results {args.results!r} is not a folder of asv results")
    try:
        rows = releases.load_rows(results, args.machine, args.commit)
    except ValueError as error:
        raise UsageError(f"--commit: {error}") from None
    if not rows:
        raise UsageError(f"no release results under {args.results!r}: run `jitpi releases run BACKEND` first")
    require_matplotlib()
    for path in releases.report(rows, Path(args.out)):
        print(path)
    return EXIT_OK
