"""``jitpi report``: docs/results.md and the README's leaderboard are generated from docs/*.json and
never disagree with them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from jitpi import report

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def committed_runs() -> list[str]:
    """The results files docs/results.md names, in its order."""
    page = (DOCS / "results.md").read_text(encoding="utf-8")
    command = page.split("`jitpi report ", 1)[1].split(" --out", 1)[0]
    return command.split()


def test_results_page_is_what_the_data_gives():
    paths = committed_runs()
    assert paths and all((ROOT / path).exists() for path in paths), paths
    page = report.results_page(paths) if Path.cwd() == ROOT else None
    if page is None:
        pytest.skip("run from the repository root")
    assert (DOCS / "results.md").read_text(encoding="utf-8") == page, "regenerate: jitpi report (see README)"


def test_readme_leaderboard_is_what_the_data_gives(monkeypatch):
    monkeypatch.chdir(ROOT)
    from jitpi.sweep.results import load_results

    runs = [load_results(committed_runs()[0])]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert report.replace_leaderboard(readme, report.leaderboard(runs)) == readme


def _row(backend: str, variant: str, n: int, rate: float, **extra) -> dict:
    return {
        "backend": backend, "variant": variant, "device": "cpu", "n": n, "status": "ok", "z": -0.5,
        "samples_per_s": rate, "first_call_s": None, "spread": 0.02, **extra,
    }  # fmt: skip


def test_leaderboard_takes_the_largest_n_ranks_by_throughput_and_keeps_the_first_call():
    rows = [
        _row("numpy", "native", 10**5, 9e7, first_call_s=0.5),
        _row("numpy", "native", 10**7, 1.5e8),
        _row("numpy", "shared", 10**5, 8e6, first_call_s=0.02),
        _row("python", "native", 10**6, 5e6, first_call_s=0.01),
        {**_row("python", "native", 10**7, 1e6), "status": "failed"},
        _row("python", "shared", 10**6, 2e5, first_call_s=0.03, z=4.5),
    ]
    lines = report.leaderboard([{"rows": rows}]).splitlines()
    cells = [[cell.strip() for cell in line.split("|")[1:-1]] for line in lines[2:]]
    assert cells == [
        ["numpy", "cpu", "8 (n = 1e5)", "150", "1e7", "0.02 s / 0.5 s", "0.50"],
        ["python", "cpu", "0.2", "5", "1e6", "0.03 s / 0.01 s", "4.50"],
    ]


def test_the_command_writes_both_and_refuses_a_readme_without_markers(tmp_path):
    results = tmp_path / "run.json"
    results.write_text(
        json.dumps({"schema": "jitpi-sweep/2", "rows": [_row("numpy", "shared", 1000, 2e6)], "settings": {}})
    )
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{report.LEADERBOARD_START}\nold\n{report.LEADERBOARD_END}\nrest\n")
    out = tmp_path / "results.md"
    command = [sys.executable, "-m", "jitpi", "report", str(results), "--out", str(out)]
    command += ["--readme", str(readme)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "| numpy | shared | cpu | 1e3 | 2 |" in out.read_text()
    assert "old" not in readme.read_text() and "| numpy | cpu | 2 | - | 1e3 |" in readme.read_text()
    readme.write_text("no markers\n")
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 2 and "--readme" in done.stderr and "markers" in done.stderr
