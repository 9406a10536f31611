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
    """Every chart of one ``jitpi run`` results dict (as its JSON file holds it) into ``out``."""
    from jitpi import plotting
    from jitpi.results import from_sweep

    return plotting.plot_all(from_sweep(data), out)


def cmd_plot(args: argparse.Namespace) -> int:
    data = sweep.load_results(args.results)
    require_matplotlib()
    sweep.check_writable_folder(args.out, what="--out", create=True)
    written = plot_charts(data, args.out)
    for path in written:
        print(path)
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from jitpi.results import from_sweep
    from jitpi.sweep.results import write_atomic
    from jitpi.view import markdown

    runs = [(path, from_sweep(sweep.load_results(path), path)) for path in args.results]
    targets = [(args.out, markdown.results_page(runs))]
    if args.readme:
        try:
            with open(args.readme, encoding="utf-8") as stream:
                readme = stream.read()
            board = markdown.leaderboard(runs[0][1], variants=markdown.README_VARIANTS)
            targets.append(
                (
                    args.readme,
                    markdown.replace_between(
                        readme, markdown.LEADERBOARD_START, markdown.LEADERBOARD_END, board
                    ),
                )
            )
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
    from jitpi import precision
    from jitpi.results import from_sweep
    from jitpi.sweep.results import write_atomic
    from jitpi.view import markdown

    try:
        precision.samples_for(1.0, args.confidence)
    except ValueError as error:
        raise UsageError(f"--confidence: {error}") from None
    runs = [from_sweep(sweep.load_results(path), path) for path in args.results]
    curves = precision.curves(*runs)
    if not curves:
        raise UsageError("the results hold no measured rows (each row failed or was skipped)")
    checks = [_parse_check(text, curves) for text in args.check]
    if args.plot:
        require_matplotlib()
        from jitpi.view import charts

        footer = f"{runs[0].source.machine}  |  {runs[0].source.label}"
        print(charts.precision_chart(curves, args.plot, footer=footer, confidence=args.confidence))
    tables = markdown.precision_page(curves, confidence=args.confidence)
    if checks:
        tables += "\n### The model against cold runs\n\n" + markdown.checks_table(
            [precision.check_cold(curve, digits, args.confidence) for curve, digits in checks]
        )
    if args.out:
        sweep.check_writable_file(args.out, what="--out")
        try:
            with open(args.out, encoding="utf-8") as stream:
                page = markdown.replace_between(
                    stream.read(), markdown.PRECISION_START, markdown.PRECISION_END, tables
                )
        except (OSError, ValueError) as error:
            raise UsageError(f"--out {args.out!r}: {error}") from None
        write_atomic(args.out, page)
        print(args.out)
    else:
        sys.stdout.write(tables)
    return EXIT_OK


def cmd_page(args: argparse.Namespace) -> int:
    from jitpi.suite import page

    require_matplotlib()
    print(page.write_page(args.asv_results, args.out, sweep_json=args.json, machine=args.machine))
    return EXIT_OK


def cmd_releases(args: argparse.Namespace) -> int:
    from pathlib import Path

    from jitpi.suite import releases

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
