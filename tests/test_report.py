"""``jitpi report``: docs/results.md and the README's leaderboard are generated from docs/*.json and
never disagree with them; the README's leaderboard is the page's builder, in Markdown."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from jitpi.results import from_sweep
from jitpi.sweep.results import load_results
from jitpi.view import markdown, tables

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def committed_runs() -> list[str]:
    """The results files docs/results.md names, in its order."""
    page = (DOCS / "results.md").read_text(encoding="utf-8")
    command = page.split("`jitpi report ", 1)[1].split(" --out", 1)[0]
    return command.split()


def test_results_page_and_readme_are_what_the_command_makes_of_the_data(tmp_path):
    """The command as users run it, from the repository root, into copies: both must come out
    exactly as committed."""
    paths = committed_runs()
    assert paths and all((ROOT / path).exists() for path in paths), paths
    readme = tmp_path / "README.md"
    readme.write_text((ROOT / "README.md").read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "results.md"
    command = [sys.executable, "-m", "jitpi", "report", *paths, "--out", str(out), "--readme", str(readme)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    regenerate = "regenerate: " + " ".join(
        ["jitpi report", *paths, "--out docs/results.md --readme README.md"]
    )
    assert out.read_text(encoding="utf-8") == (DOCS / "results.md").read_text(encoding="utf-8"), regenerate
    assert readme.read_text(encoding="utf-8") == (ROOT / "README.md").read_text(encoding="utf-8"), regenerate


def test_the_readme_leaderboard_is_the_pages_builder_on_the_shared_stream():
    """Same rows, order, digits and columns as ``jitpi.view.tables`` gives the page for the same
    file; its throughput is n over the median of each series' largest n."""
    path = committed_runs()[0]
    data = load_results(str(ROOT / path))
    results = from_sweep(data, path)
    board = tables.leaderboard(results, variants=markdown.README_VARIANTS)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split(markdown.LEADERBOARD_START)[1].split(markdown.LEADERBOARD_END)[0]
    assert block.strip() == markdown.render(tables.leaderboard_table(board))
    for row in board.rows:
        assert row.variant in markdown.README_VARIANTS
        ok = [r for r in data["rows"] if (r["backend"], r["variant"], r["status"]) == (*row.key[:2], "ok")]
        largest = max(ok, key=lambda r: r["n"])
        assert math.isclose(row.throughput, largest["n"] / largest["median_s"]), row.key
    rates = [row.throughput for row in board.rows if row.throughput is not None]
    assert rates == sorted(rates, reverse=True)


def _row(backend: str, variant: str, n: int, median: float, **extra) -> dict:
    return {
        "backend": backend, "variant": variant, "device": "cpu", "n": n, "status": "ok", "z": -0.5,
        "median_s": median, "iqr_s": 0.0, "import_s": None, "first_call_s": None, **extra,
    }  # fmt: skip


FAILED_AT_1E7 = "**measured; failed: time at n = 1e7**"  # flagged: bold in Markdown, red on the page


def test_leaderboard_takes_the_largest_n_ranks_by_throughput_and_keeps_the_cold_start():
    rows = [
        _row("numpy", "native", 10**5, 1e-3, import_s=0.1, first_call_s=0.5),
        _row("numpy", "native", 10**7, 0.05),
        _row("numpy", "shared", 10**5, 1.25e-2, import_s=0.1, first_call_s=0.02),
        _row("python", "native", 10**6, 0.2, import_s=0.0, first_call_s=0.01),
        {**_row("python", "native", 10**7, 2.0), "status": "failed"},
        _row("python", "shared", 10**6, 5.0, import_s=0.0, first_call_s=0.03, z=4.5),
    ]
    text = markdown.leaderboard(from_sweep({"rows": rows}))
    cells = [[cell.strip() for cell in line.split("|")[1:-1]] for line in text.splitlines()[2:6]]
    assert cells == [
        ["1", "numpy", "native", "cpu", "200", "1e7", "600 ms", "–", "0.50 over 2 n", "measured"],
        ["2", "numpy", "shared", "cpu", "8", "1e5", "120 ms", "–", "0.50 over 1 n", "measured"],
        ["3", "python", "native", "cpu", "5", "1e6", "10 ms", "–", "0.50 over 1 n", FAILED_AT_1E7],
        ["4", "python", "shared", "cpu", "0.2", "1e6", "30 ms", "–", "**4.50 over 1 n**", "measured"],
    ]  # fmt: skip
    assert "RMS z in red" not in text  # bands differ with the number of n: none is named


def test_the_command_writes_both_and_refuses_a_readme_without_markers(tmp_path):
    results = tmp_path / "run.json"
    row = _row("numpy", "shared", 1000, 5e-4, import_s=0.1, first_call_s=0.01)
    results.write_text(json.dumps({"schema": "jitpi-sweep/2", "rows": [row], "settings": {}}))
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{markdown.LEADERBOARD_START}\nold\n{markdown.LEADERBOARD_END}\nrest\n")
    out = tmp_path / "results.md"
    command = [sys.executable, "-m", "jitpi", "report", str(results), "--out", str(out)]
    command += ["--readme", str(readme)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "| numpy | shared | cpu | 1e3 | 2 |" in out.read_text()
    assert (
        "\nold\n" not in readme.read_text() and "| 1 | numpy | shared | cpu | 2 | 1e3 |" in readme.read_text()
    )
    readme.write_text("no markers\n")
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 2 and "--readme" in done.stderr and "markers" in done.stderr
