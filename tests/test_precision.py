"""Time to a precision: the samples k places need, the model's arithmetic, its chart and tables,
and the model against a real cold run."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from conftest import require

from jitpi import precision
from jitpi.cli import main
from jitpi.precision import Curve, Point
from jitpi.results import from_sweep
from jitpi.view import markdown, tables


def test_samples_for_places_follow_the_standard_error():
    # 2 places at 95%: |error| <= 0.005 needs (1.959964 * 1.642237 / 0.005)**2 samples.
    assert precision.samples_for(2) == pytest.approx(414_380.65, rel=1e-6)
    # Each place costs 100 times the samples; a higher confidence costs more.
    assert precision.samples_for(5) / precision.samples_for(4) == pytest.approx(100.0)
    assert precision.samples_for(3, 0.99) > precision.samples_for(3, 0.95)
    for digits in (0.5, 3.0, 7.25):
        assert precision.digits_for(precision.samples_for(digits)) == pytest.approx(digits)


@pytest.mark.parametrize("bad", [0, -1, math.inf, math.nan])
def test_places_must_be_positive_and_finite(bad):
    with pytest.raises(ValueError, match="digits must be"):
        precision.samples_for(bad)


@pytest.mark.parametrize("bad", [0.0, 1.0, 1.5, -0.1])
def test_confidence_must_lie_strictly_between_0_and_1(bad):
    with pytest.raises(ValueError, match="confidence must be"):
        precision.samples_for(3, bad)


COMPILED = "numba"
BASELINE = "numpy"  # jitpi.precision's and the chart's baseline
OTHER = "jax"


def curve(backend=COMPILED, startup=(2.0,), points=None) -> Curve:
    points = points or (Point(10**5, 1e-3, 2e-4), Point(10**7, 1e-2, 1e-3), Point(10**9, 1.0, 0.1))
    return Curve(backend, "shared", "cpu", tuple(points), startup)


def test_warm_time_is_exact_at_measured_n_and_log_log_between():
    c = curve()
    assert c.warm(10**7).seconds == pytest.approx(1e-2)
    assert c.warm(10**6).seconds == pytest.approx(math.sqrt(1e-3 * 1e-2))  # halfway in log n
    assert c.warm(10**3).seconds == pytest.approx(1e-3)  # no faster than the smallest call
    assert c.warm(10**11).seconds == pytest.approx(100.0)  # the largest n's throughput beyond it
    band = c.warm(10**9)
    assert band.low == pytest.approx(0.95) and band.high == pytest.approx(1.05)
    assert c.throughput == pytest.approx(1e9)


def test_cold_time_adds_import_and_compile_once():
    c = curve(startup=(2.0, 2.5, 3.0))
    startup = c.startup()
    assert startup.seconds == pytest.approx(2.5 - 1e-3)  # the cold first call less a warm one
    assert startup.low == pytest.approx(2.0 - 1.1e-3) and startup.high == pytest.approx(3.0 - 0.9e-3)
    cold = c.cold(10**9)
    assert cold.seconds == pytest.approx(startup.seconds + 1.0)
    assert cold.low < cold.seconds < cold.high
    assert curve(startup=()).cold(10**9) is None


def test_a_curve_refuses_what_it_cannot_model():
    with pytest.raises(ValueError, match="at least one measured n"):
        Curve("numba", "shared", "cpu", ())
    with pytest.raises(ValueError, match="positive time"):
        curve(points=(Point(10**5, 0.0),))


def test_crossover_is_where_a_slow_start_is_paid_back():
    # 1 s more to start, 10 times the throughput: ahead once n / 1e8 - n / 1e9 > 1 s, n > 1.11e8.
    fast = curve("numba", startup=(1.0 + 1e-4,), points=(Point(10**5, 1e-4), Point(10**9, 1.0)))
    slow = curve("numpy", startup=(1e-3,), points=(Point(10**5, 1e-3), Point(10**8, 1.0)))
    found = precision.crossover(fast, slow, precision.digit_grid(1, 10))
    expected = precision.digits_for(1e9 / 9)
    assert found.digits == pytest.approx(expected, abs=0.011)
    assert precision.crossover(slow, fast, precision.digit_grid(1, 10)).digits is None
    assert precision.crossover(fast, curve(startup=()), precision.digit_grid(1, 10)) is None
    ranking = precision.warm_ranking([slow, fast], 6)
    assert [c.backend for c, _ in ranking] == [COMPILED, BASELINE]


def test_curves_from_several_runs_pool_their_cold_starts():
    def run(first_call, median):
        row = {"backend": "numba", "variant": "shared", "device": "cpu", "seed": 0, "status": "ok"}
        return {
            "schema": "jitpi-sweep/2",
            "rows": [
                {
                    **row,
                    "n": 10**5,
                    "median_s": median,
                    "iqr_s": 0.0,
                    "import_s": 0.5,
                    "first_call_s": first_call,
                },
                {**row, "n": 10**7, "median_s": 0.01, "iqr_s": 0.0, "import_s": None, "first_call_s": None},
            ],
        }

    (c,) = precision.curves(from_sweep(run(1.5, 1e-3)), from_sweep(run(2.5, 2e-3)))
    assert [p.n for p in c.points] == [10**5, 10**7]
    # Each cold start moved to the first file's warm call: 2.0 - 1e-3 + 1e-3 and 3.0 - 2e-3 + 1e-3.
    assert c.startup_s == pytest.approx((2.0, 2.999))


def test_tables_rank_and_cross():
    fast = curve("numba", startup=(1.0,), points=(Point(10**5, 1e-4), Point(10**9, 1.0)))
    slow = curve("numpy", startup=(0.1,), points=(Point(10**5, 1e-3), Point(10**8, 1.0)))
    text = markdown.precision_page([slow, fast], confidence=0.95)
    assert "| numba | shared | cpu |" in text and "| 7 digits, n = 4.14e15 |" in text
    assert "faster than numpy, cold" in text
    crossing = precision.crossover(fast, slow, precision.digit_grid(*tables.CHART_DIGITS))
    assert f"from {crossing.digits:.1f} digits" in text
    table = text.split("### Each backend against each other")[0]
    assert table.index("| numba |") < table.index("| numpy |")  # fastest warm first
    against = text.split("### Each backend against each other")[1]
    assert f"| numba (shared) | {crossing.digits:.1f} |  |" in against  # columns in registry order
    assert "| numpy (shared) |  | never |" in against


def test_chart_has_a_cold_and_a_warm_line_per_backend(tmp_path):
    pytest.importorskip("matplotlib")
    from jitpi.view import charts

    curves = [curve(COMPILED), curve(BASELINE, startup=(0.1,)), curve(OTHER, startup=())]
    svg = tmp_path / "precision.svg"
    charts.precision_chart(curves, str(svg), footer="test machine")
    text = svg.read_text(encoding="utf-8")
    for backend in (curve.backend for curve in curves):
        assert f'id="precision-warm-{backend}-cpu"' in text
    assert f'id="precision-cold-{COMPILED}-cpu"' in text and f'id="precision-cold-{OTHER}-cpu"' not in text
    with pytest.raises(Exception, match=r"\.png or \.svg"):
        charts.precision_chart(curves, str(tmp_path / "precision.pdf"), footer="")


def test_command_names_the_bad_argument(tmp_path, capsys):
    results = tmp_path / "run.json"
    row = {"backend": "numpy", "variant": "native", "device": "cpu", "seed": 0, "status": "ok"}
    rows = [{**row, "n": 10**5, "median_s": 1e-3, "iqr_s": 0.0, "import_s": 0.05, "first_call_s": 0.002}]
    results.write_text(json.dumps({"schema": "jitpi-sweep/2", "rows": rows}), encoding="utf-8")
    assert main(["precision", str(results), "--confidence", "1.5"]) == 2
    assert "--confidence" in capsys.readouterr().err
    assert main(["precision", str(results), "--check", "numba:shared:3"]) == 2
    assert "no cold start of numba:shared" in capsys.readouterr().err
    assert main(["precision", str(results), "--check", "numpy:native:9"]) == 2
    assert "at most 6" in capsys.readouterr().err
    page = tmp_path / "page.md"
    page.write_text("intro\n<!-- precision -->\n", encoding="utf-8")
    assert main(["precision", str(results), "--out", str(page)]) == 2
    assert "markers" in capsys.readouterr().err
    page.write_text(
        f"intro\n{markdown.PRECISION_START}\nSTALE TABLE\n{markdown.PRECISION_END}\nend\n", encoding="utf-8"
    )
    assert main(["precision", str(results), "--out", str(page)]) == 0
    written = page.read_text(encoding="utf-8")
    assert "STALE TABLE" not in written and "| numpy | native |" in written and written.endswith("end\n")


JITPI_RUN = (sys.executable, "-m", "jitpi", "run")


def test_the_model_predicts_a_real_cold_run(tmp_path):
    """Two cold sweeps of numba at small n make the model; a third cold process at the n that
    2.5 places need is measured. Model and run are taken on the same machine minutes apart, so
    they must agree within a factor of two each way (the model's band is much narrower; what
    this guards is the model's structure: import, compile and throughput all counted once)."""
    require("numba", variant="shared")
    files = []
    for index in range(2):
        path = tmp_path / f"model-{index}.json"
        done = subprocess.run(
            [
                *JITPI_RUN,
                "-b",
                "numba",
                "--variant",
                "shared",
                "--n",
                "1e4,1e5,1e6",
                "--repeat",
                "3",
                "--json",
                str(path),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        files.append(from_sweep(json.loads(path.read_text(encoding="utf-8"))))
    (model,) = precision.curves(*files)
    check = precision.check_cold(model, 2.5)
    assert check.measured_s is not None, check.message
    assert check.samples == math.ceil(precision.samples_for(2.5))
    print(f"model {check.model}, measured {check.measured_s:.3f} s")
    assert check.model.low / 2 <= check.measured_s <= check.model.high * 2, (check.model, check.measured_s)
