"""The ``jitpi`` command line, driven as a user drives it: ``python -m jitpi`` in a subprocess."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import BASELINES

import jitpi
from jitpi import plotting, registry
from jitpi._validation import check_seed
from jitpi.cli.console import console_for, print_table
from jitpi.cli.options import parse_seed
from jitpi.cli.run import SweepProgress, results_table, summary
from jitpi.sweep import ROW_FIELDS, SCHEMA, Group, Results, Row, UsageError, parse_n, parse_n_options
from jitpi.sweep.results import load_results
from jitpi.sweep.runner import worker_environment
from jitpi.view import charts
from jitpi.view.format import n_label

SEED = 7
OVERLAY_PX = (1600, 900)
PAIR_PX = (1920, 720)


def jitpi_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jitpi", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk, after checking that the file is a whole PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    assert data[-8:-4] == b"IEND", f"{path} is cut short"
    return struct.unpack(">II", data[16:24])


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def fault_injection(tmp_path: Path, body: str) -> dict[str, str]:
    """Environment whose Python processes (the sweep's workers included) run ``body`` at start-up.

    A ``sitecustomize`` module on PYTHONPATH patches a real backend for one test (its ``BACKEND``,
    replaced before the registry loads it), so that it fails at run time exactly as a broken kernel
    would, without any test hook in the library.
    """
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(textwrap.dedent(body))
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")]))}


# --- n on the command line -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1e6", [10**6]),
        ("10**6", [10**6]),
        ("2^20", [2**20]),
        ("1_000", [1000]),
        ("1e5:1e8", [10**5, 10**6, 10**7, 10**8]),
        ("1e3:5e5", [10**3, 10**4, 10**5]),
        ("3e6, 1e5,1e5", [10**5, 3 * 10**6]),
        ("2**40", [2**40]),
    ],
)
def test_n_syntax(text, expected):
    assert parse_n(text) == expected


@pytest.mark.parametrize(
    "text", ["0", "abc", "1.5", "1e5:1e3", "-3", "", "1e3,", "1e3:1e4:1e5", "2**41", "inf", "nan"]
)
def test_bad_n_is_a_usage_error(text):
    with pytest.raises(UsageError, match="--n"):
        parse_n(text)


def test_repeated_n_options_keep_every_value():
    assert parse_n_options(["1e5", "1e3:1e4", "1e5"]) == [10**3, 10**4, 10**5]


def test_n_is_written_compactly():
    assert [n_label(n) for n in (1, 999, 1000, 10**8, 2_500_000, 123_456, 12_345)] == [
        "1",
        "999",
        "1e3",
        "1e8",
        "2.5e6",
        "123,456",
        "12,345",
    ]


# --- jitpi list ---------------------------------------------------------------------------------


def test_list_shows_every_backend_and_device():
    result = jitpi_cli("list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:5] == ["backend", "device", "version", "available", "mode"]
    for backend in jitpi.BACKENDS:
        for device in jitpi.DEVICES:
            assert any(line.split()[:2] == [backend, device] for line in lines), (backend, device)
    python_cpu = next(line for line in lines if line.split()[:2] == ["python", "cpu"])
    assert " yes " in python_cpu and "interpreted" in python_cpu
    numpy_gpu = next(line for line in lines if line.split()[:2] == ["numpy", "gpu"])
    assert " no " in numpy_gpu and "GPU" in numpy_gpu


def test_list_json_agrees_with_availability():
    result = jitpi_cli("list", "--json", "--backend", "numpy,python")
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    assert list(listing) == list(BASELINES)
    for backend in BASELINES:
        for device in jitpi.DEVICES:
            ok, why = jitpi.availability(backend, device)
            assert listing[backend]["devices"][device]["available"] is ok
            assert listing[backend]["devices"][device]["detail"] == why
    assert listing["numpy"]["version"] == jitpi.registry.installed_version("numpy")
    assert listing["numpy"]["devices"]["cpu"]["mode"] == "no JIT"


# --- a small sweep, its files and charts -----------------------------------------------------------


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    result = jitpi_cli(
        "run",
        "--backend",
        "python",
        "--backend",
        "numpy",
        "--n",
        "1e4",
        "--n",
        "1e3",
        "--repeat",
        "2",
        "--seed",
        str(SEED),
        "--json",
        str(folder / "results.json"),
        "--csv",
        str(folder / "results.csv"),
        "--plot",
        str(folder / "charts"),
    )
    return folder, result


def test_sweep_succeeds_with_a_table(sweep):
    _, result = sweep
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    table = result.stdout.splitlines()
    assert table[0].split()[:4] == ["backend", "variant", "device", "n"]
    body = [line.split() for line in table[2:]]
    assert [(cells[0], cells[3], cells[-1]) for cells in body] == [
        ("python", "1e3", "ok"),
        ("python", "1e4", "ok"),
        ("numpy", "1e3", "ok"),
        ("numpy", "1e4", "ok"),
    ]
    assert "[4/4]" in result.stderr  # the progress lines, plain text when stderr is not a terminal
    assert "\x1b" not in result.stdout + result.stderr  # no control characters where it is not a terminal
    assert "4 row(s): 4 ok" in result.stderr  # the summary under the table


def test_the_console_view_reads_rows():
    """The table, the summary and the progress lines of jitpi run, from ``Row`` objects alone."""
    ok = Row(
        "numpy", "native", "cpu", 10_000, 0, "ok", hits=7853, pi_hat=3.1412, abs_error=3.9e-4, z=-0.24,
        first_call_s=0.5, samples=3, calls_per_sample=10, median_s=2e-4, spread=0.123, unstable=True,
        samples_per_s=5e7, message="2 of 3 samples, as many as fit the 1 s row budget",
    )  # fmt: skip
    skipped = Row("numpy", "native", "cpu", 10**9, 0, "skipped", message="n above what numpy does")
    failed = Row("python", "native", "cpu", 1000, 0, "failed", message="RuntimeError: boom")
    unavailable = {"backend": "jax", "variant": "native", "device": "cpu", "reason": "not installed"}
    results = Results(
        settings={"min_sample_s": 0.05, "unstable_spread": 0.1},
        machine={},
        rows=[ok, skipped, failed],
        unavailable=[unavailable],
    )
    text = summary(results)
    assert "3 row(s): 1 ok (1 unstable), 1 skipped, 1 failed, 1 group(s) not run." in text
    assert "  numpy native cpu n=1e9: n above what numpy does" in text
    assert "  python native cpu n=1e3: RuntimeError: boom" in text
    assert "  numpy native cpu n=1e4: spread 12.3%" in text
    assert "  numpy native cpu n=1e4: 2 of 3 samples, as many as fit the 1 s row budget" in text
    assert "  jax native cpu: not installed" in text
    table = io.StringIO()
    print_table(results_table(results.rows), table)
    lines = [line.split() for line in table.getvalue().splitlines()[2:]]
    assert lines[0][:5] == ["numpy", "native", "cpu", "1e4", "500"]
    assert lines[0][-8:] == ["12.3%", "unstable", "3x10", "50", "3.1412000", "3.9e-04", "-0.24", "ok"]
    assert lines[1][-1] == "SKIPPED" and lines[2][-1] == "FAILED"
    stream = io.StringIO()
    progress = SweepProgress(console_for(stream), total=3)
    for row in results.rows:
        progress.event(Group(row.backend, row.variant, row.device), {"event": "row", "row": row})
    printed = stream.getvalue().splitlines()
    first = "[1/3] numpy native cpu n=1e4: 200 µs median, spread 12.3% (unstable), 50 M samples/s"
    assert printed[0].startswith(f"{first}, first call 500 ms  (0:0")
    assert printed[2].startswith("[3/3] python native cpu n=1e3: failed: RuntimeError: boom")


def test_sweep_json_rows_are_exact(sweep):
    folder, _ = sweep
    data = json.loads((folder / "results.json").read_text())
    assert data["schema"] == SCHEMA == "jitpi-sweep/2" and data["state"] == "complete"
    assert data["settings"]["n"] == [1000, 10000] and data["settings"]["repeat"] == 2  # both --n kept
    assert data["settings"]["seed"] == SEED
    machine = data["machine"]
    for key in ("cpu", "logical_cores", "usable_cores", "memory_gib", "os", "python"):
        assert machine[key], key
    assert data["versions"]["numpy"] == jitpi.registry.installed_version("numpy")
    assert data["versions"]["python"] == jitpi.registry.installed_version("python")
    assert data["backends"]["numpy cpu"]["describe"] == jitpi.availability("numpy")[1]
    rows = data["rows"]
    assert [(row["backend"], row["n"]) for row in rows] == [
        ("python", 1000),
        ("python", 10000),
        ("numpy", 1000),
        ("numpy", 10000),
    ]
    for row in rows:
        assert set(ROW_FIELDS) <= set(row)
        assert row["status"] == "ok" and row["message"] is None, row
        assert row["variant"] == "native" and row["device"] == "cpu" and row["seed"] == SEED
        assert row["hits"] == jitpi.count_hits(row["n"], backend=row["backend"], seed=SEED)
        estimate = jitpi.estimate_pi(row["n"], backend=row["backend"], seed=SEED)
        assert row["pi_hat"] == estimate.pi and row["z"] == estimate.z
        assert row["abs_error"] == estimate.abs_error and row["sigma"] == estimate.stderr
        assert row["samples"] == 2 and len(row["times_s"]) == 2 and row["calls_per_sample"] >= 1
        assert row["min_s"] <= row["median_s"] <= row["max_s"]
        # a sample lasts about the minimum sample time: as many calls as that takes
        assert row["median_s"] * row["calls_per_sample"] >= 0.5 * data["settings"]["min_sample_s"]
        assert row["iqr_s"] == pytest.approx((row["max_s"] - row["min_s"]) / 2)  # two samples: half the range
        assert row["spread"] == pytest.approx(row["iqr_s"] / row["median_s"])
        assert row["unstable"] is (row["spread"] > data["settings"]["unstable_spread"])
        assert row["samples_per_s"] == pytest.approx(row["n"] / row["median_s"])
        assert row["compiles_in_samples"] is None  # python and numpy compile nothing
        first = row["n"] == 1000  # the first call is timed at each backend's first n, and only there
        assert (row["first_call_s"] is not None) is first and (row["import_s"] is not None) is first
        assert (row["warmup_s"] is not None) is not first  # every later n is warmed up first


def test_sweep_csv_matches_json(sweep):
    folder, _ = sweep
    data = json.loads((folder / "results.json").read_text())
    rows = read_csv(folder / "results.csv")
    assert len(rows) == len(data["rows"])
    for line, row in zip(rows, data["rows"], strict=True):
        assert (line["backend"], int(line["n"]), int(line["hits"])) == (row["backend"], row["n"], row["hits"])
        assert float(line["median_s"]) == row["median_s"] and float(line["pi_hat"]) == row["pi_hat"]
        assert float(line["spread"]) == row["spread"] and line["unstable"] == str(row["unstable"]).lower()
        assert line["version"] == data["versions"][row["backend"]]
        assert line["machine_cpu"] == data["machine"]["cpu"]
        assert int(line["machine_usable_cores"]) == data["machine"]["usable_cores"]
        assert line["machine_python"] == data["machine"]["python"]


def _check_charts(folder: Path, backends: list[str]) -> None:
    for name in ("throughput", "accuracy", "zscore", "first_call"):
        assert png_size(folder / f"{name}.png") == OVERLAY_PX, name
    for backend in backends:
        assert png_size(folder / f"{backend}-native-cpu.png") == PAIR_PX, backend
    assert not [
        path.name for path in folder.iterdir() if path.name.startswith(".")
    ]  # no temporary files left


def test_run_plot_writes_real_pngs(sweep):
    folder, _ = sweep
    _check_charts(folder / "charts", list(BASELINES))


def test_plot_command_redraws_from_the_json(sweep, tmp_path):
    folder, _ = sweep
    result = jitpi_cli("plot", str(folder / "results.json"), "--out", str(tmp_path / "new" / "charts"))
    assert result.returncode == 0, result.stderr
    _check_charts(tmp_path / "new" / "charts", list(BASELINES))
    assert len(result.stdout.split()) == 6


def test_plot_reads_the_previous_schema(tmp_path):
    """Files of jitpi-sweep/1 (one call per sample, as under docs/) are upgraded on reading and drawn."""
    old = {
        "schema": "jitpi-sweep/1",
        "settings": {"repeat": 3, "n": [1000, 10000]},
        "machine": {"cpu": "test"},
        "rows": [
            {
                **dict.fromkeys(["import_s", "first_call_s", "message"]),
                "backend": backend,
                "variant": "native",
                "device": "cpu",
                "n": n,
                "seed": 0,
                "status": "ok",
                "hits": hits,
                "pi_hat": 4 * hits / n,
                "abs_error": abs(4 * hits / n - math.pi),
                "sigma": jitpi.standard_error(n),
                "z": jitpi.z_score(hits, n),
                "repeat": 3,
                "median_s": 2e-3,
                "min_s": 1e-3,
                "max_s": 4e-3,
                "samples_per_s": n / 2e-3,
                "times_s": [1e-3, 2e-3, 4e-3],
            }
            for backend in BASELINES
            for n, hits in ((1000, 790), (10000, 7850))
        ],
    }
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    data = load_results(str(path))
    assert data["schema"] == SCHEMA and data["upgraded_from"] == "jitpi-sweep/1"
    row = data["rows"][0]
    assert set(ROW_FIELDS) <= set(row) and "repeat" not in row
    assert (row["samples"], row["calls_per_sample"], row["median_s"]) == (3, 1, 2e-3)
    assert row["iqr_s"] == pytest.approx(1.5e-3) and row["unstable"] is True
    result = jitpi_cli("plot", str(path), "--out", str(tmp_path / "charts"))
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.split()) == 5  # three overlays and a pair per backend (no first call here)


def test_chart_colours_follow_the_backend_list():
    assert list(charts.COLOURS) == list(jitpi.BACKENDS)
    assert len(set(charts.COLOURS.values())) == len(jitpi.BACKENDS)
    assert not set(charts.COLOURS.values()) & set(plotting.KIND_COLOURS.values())


def test_cold_workers_get_every_jit_cache_of_the_registry(tmp_path):
    env = worker_environment(str(tmp_path))
    for variable in registry.jit_cache_variables(include_opt_in=False):
        assert env[variable].startswith(str(tmp_path)), variable
    assert env["PYTHONUNBUFFERED"] == "1"


def test_seed_is_checked_by_the_library_rule():
    for text in ("-1", str(2**64)):
        with pytest.raises(ValueError) as expected:
            check_seed(int(text), name="--seed")
        with pytest.raises(UsageError) as error:
            parse_seed(text)
        assert str(error.value) == str(expected.value)
    assert parse_seed("0x10") == 16 and parse_seed(str(2**64 - 1)) == 2**64 - 1


def test_too_slow_n_is_skipped_with_a_reason(tmp_path):
    out = tmp_path / "r.json"
    result = jitpi_cli(
        "run", "-b", "python", "--n", "1e3,1e6", "--repeat", "1", "--row-budget", "0.0001", "--json", str(out)
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(out.read_text())["rows"]
    assert [row["status"] for row in rows] == ["ok", "skipped"]
    assert "n above what python does in reasonable time here" in rows[1]["message"]
    assert rows[1]["hits"] is None and rows[1]["median_s"] is None
    assert "1 skipped" in result.stderr and "skipped:\n  python native cpu n=1e6: n above" in result.stderr


def test_every_available_backend_runs_in_the_default_sweep(tmp_path):
    """The default backend set at one tiny n: every backend this machine has gives an ok row."""
    out = tmp_path / "r.json"
    result = jitpi_cli("run", "--n", "2e3", "--repeat", "1", "--json", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(out.read_text())
    ran = {row["backend"] for row in data["rows"]}
    left_out = {item["backend"] for item in data["unavailable"]}
    assert ran | left_out == set(jitpi.BACKENDS) and not ran & left_out
    assert set(BASELINES) <= ran
    for item in data["unavailable"]:
        assert not jitpi.availability(item["backend"])[0], item
    for row in data["rows"]:  # |z| < 6 is checked by the sweep itself: a wrong count is a failed row
        assert row["status"] == "ok" and 0 < row["hits"] <= 2000, row
        assert data["backends"][f"{row['backend']} cpu"]["describe"], row["backend"]
    for backend in BASELINES:  # and the worker counts what this process counts
        row = next(row for row in data["rows"] if row["backend"] == backend)
        assert row["hits"] == jitpi.count_hits(2000, backend=backend, seed=0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a pseudo-terminal")
def test_a_terminal_gets_a_live_progress_line():
    """On a terminal the progress is redrawn in place (rich) and the rows and table still come out."""
    import select

    leader, follower = os.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "jitpi", "run", "-b", "numpy", "--n", "1e3,1e4", "--repeat", "2"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={**os.environ, "COLUMNS": "200", "TERM": "xterm-256color"},
    )
    os.close(follower)
    output = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if select.select([leader], [], [], 0.2)[0]:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the terminal closed: the command has exited
                break
            if not data:
                break
            output += data
        elif process.poll() is not None:
            break
    os.close(leader)
    assert process.wait(timeout=60) == 0, output[-2000:]
    text = output.decode("utf-8", "replace")
    assert "\r\x1b[2K" in text  # the progress line redrawn in place
    assert "numpy native cpu n=1e4: sample" in text  # it says what runs now
    assert "[2/2] numpy native cpu n=1e4" in text and "backend" in text  # the rows, then the table


# --- exit status 2: bad arguments, one line, no traceback -------------------------------------------


def _bad_argument_cases(tmp_path: Path) -> list[list[str]]:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder\n")
    not_json = tmp_path / "not.json"
    not_json.write_text("{ nope")
    other_json = tmp_path / "other.json"
    other_json.write_text('{"rows": []}')
    return [
        ["run", "--backend", "cupy"],
        ["run", "--backend", "numpy,cupy"],
        ["run", "--variant", "fast"],
        ["run", "--device", "tpu"],
        ["run", "--n", "0"],
        ["run", "--n", "abc"],
        ["run", "--n", "1e9:1e5"],
        ["run", "--n", "1.5"],
        ["run", "--repeat", "0"],
        ["run", "--repeat", "three"],
        ["run", "--seed", "-1"],
        ["run", "--row-budget", "-1"],
        ["run", "--json", str(a_file / "out.json")],
        ["run", "--csv", str(tmp_path / "missing-folder" / "out.csv")],
        ["run", "--json", str(tmp_path)],
        ["run", "--plot", str(a_file / "charts")],
        ["run", "--bogus"],
        ["plot", str(tmp_path / "missing.json")],
        ["plot", str(not_json)],
        ["plot", str(other_json)],
        ["plot", str(tmp_path)],
        ["frobnicate"],
        [],
    ]


def test_bad_arguments_exit_2_with_one_line(tmp_path):
    for args in _bad_argument_cases(tmp_path):
        result = jitpi_cli(*args, timeout=60)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode == 2, (args, result.stderr)
        assert len(lines) == 1 and "error" in lines[0], (args, result.stderr)
        assert "Traceback" not in result.stderr and result.stdout == "", args


def test_plot_into_an_unwritable_folder_exits_2(sweep, tmp_path):
    folder, _ = sweep
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    result = jitpi_cli("plot", str(folder / "results.json"), "--out", str(a_file / "charts"))
    assert result.returncode == 2 and "--out" in result.stderr and "Traceback" not in result.stderr


def test_unavailable_everywhere_is_not_a_success():
    result = jitpi_cli("run", "--backend", "numpy", "--device", "gpu", "--n", "1e3")
    assert result.returncode == 1
    assert "nothing could run" in result.stderr and "GPU" in result.stderr
    assert "Traceback" not in result.stderr


# --- exit status 1: a backend failing at run time -------------------------------------------------


def test_failure_at_run_time_is_a_row_and_exit_1(tmp_path):
    env = fault_injection(
        tmp_path,
        """
        import dataclasses
        import jitpi.backends.numpy as backend

        real = backend.BACKEND.kernels["native"]

        def native(n, seed, **options):
            if n > 5000:
                raise RuntimeError("injected fault for n > 5000")
            return real(n, seed, **options)

        kernels = {**backend.BACKEND.kernels, "native": native}
        backend.BACKEND = dataclasses.replace(backend.BACKEND, kernels=kernels)
        """,
    )
    out = tmp_path / "r.json"
    result = jitpi_cli(
        "run",
        "-b",
        "numpy,python",
        "--n",
        "1e3,1e4",
        "--repeat",
        "1",
        "--json",
        str(out),
        "--csv",
        str(tmp_path / "r.csv"),
        env=env,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    rows = {(row["backend"], row["n"]): row for row in json.loads(out.read_text())["rows"]}
    assert [row["status"] for row in rows.values()] == ["ok", "ok", "ok", "failed"]
    assert rows["numpy", 10000]["message"] == "RuntimeError: injected fault for n > 5000"
    assert rows["numpy", 1000]["hits"] == jitpi.count_hits(1000, backend="numpy")
    assert "1 row(s) failed" in result.stderr
    assert "FAILED" in result.stdout
    assert [line["status"] for line in read_csv(tmp_path / "r.csv")] == ["ok", "ok", "ok", "failed"]


def test_a_crashing_backend_takes_only_its_own_rows_down(tmp_path):
    """A framework that aborts the process (as Triton after TensorFlow does) is isolated in its worker."""
    env = fault_injection(
        tmp_path,
        """
        import dataclasses
        import os
        import jitpi.backends.python as backend

        def native(n, seed, **options):
            os.abort()

        kernels = {**backend.BACKEND.kernels, "native": native}
        backend.BACKEND = dataclasses.replace(backend.BACKEND, kernels=kernels)
        """,
    )
    out = tmp_path / "r.json"
    result = jitpi_cli(
        "run", "-b", "python,numpy", "--n", "1e3,1e4", "--repeat", "1", "--json", str(out), env=env
    )
    assert result.returncode == 1, result.stderr
    rows = json.loads(out.read_text())["rows"]
    assert [(row["backend"], row["status"]) for row in rows] == [
        ("python", "failed"),
        ("python", "failed"),
        ("numpy", "ok"),
        ("numpy", "ok"),
    ]
    assert all("SIGABRT" in row["message"] for row in rows[:2])


# --- exit status 130: Ctrl-C keeps what was measured ------------------------------------------------


def _workers_with_seed(seed: int) -> list[int]:
    marker = f'"seed": {seed}'.encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"jitpi.sweep.worker" in command and marker in command:
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="signals to a process group, /proc")
@pytest.mark.parametrize("target", ["terminal", "parent"])
def test_ctrl_c_keeps_rows_and_exits_130(tmp_path, target):
    """``terminal``: SIGINT to the whole process group, as Ctrl-C does; ``parent``: to jitpi alone."""
    seed = 424242 + (target == "parent")
    out, table = tmp_path / "r.json", tmp_path / "r.csv"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jitpi",
            "run",
            "-b",
            "python",
            "--n",
            "1e3:1e9",
            "--row-budget",
            "0",
            "--repeat",
            "2",
            "--seed",
            str(seed),
            "--json",
            str(out),
            "--csv",
            str(table),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if out.exists() and json.loads(out.read_text())["rows"]:
                break
            assert process.poll() is None, process.communicate()
            time.sleep(0.05)
        else:
            pytest.fail("no row was written within 120 s")
        if target == "terminal":
            os.killpg(process.pid, signal.SIGINT)
        else:
            os.kill(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    data = json.loads(out.read_text())
    assert data["state"] == "interrupted"
    rows = data["rows"]
    assert 1 <= len(rows) < 7 and all(row["status"] == "ok" for row in rows)
    for row in rows:
        assert row["hits"] == jitpi.count_hits(row["n"], backend="python", seed=seed)
    assert [int(line["n"]) for line in read_csv(table)] == [row["n"] for row in rows]
    assert stdout.splitlines()[0].split()[0] == "backend"  # the table of the rows measured
    time.sleep(0.2)
    assert _workers_with_seed(seed) == [], "a worker process outlived the interrupted sweep"
    assert not [path.name for path in tmp_path.iterdir() if path.name.startswith(".")]


def test_quick_run_is_valid_json_with_math_consistency(tmp_path):
    out = tmp_path / "r.json"
    result = jitpi_cli("run", "--quick", "-b", "numpy", "--json", str(out))
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert data["settings"]["repeat"] == 3 and data["settings"]["n"] == [10**4, 10**5, 10**6]
    for row in data["rows"]:
        assert math.isclose(row["z"] * row["sigma"], row["pi_hat"] - math.pi, rel_tol=1e-9, abs_tol=1e-15)


def test_console_script_is_the_same_command():
    script = Path(sys.executable).with_name("jitpi")
    if not script.exists():
        pytest.skip("the jitpi console script is not installed beside this Python (pip install -e .)")
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == f"jitpi {jitpi.__version__}"
