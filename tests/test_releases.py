"""The release sweep: its asv configuration, and a tiny sweep end to end (two local builds of a
stand-in framework, one ten times slower, measured in two asv environments, reported, and shown
by asv's published site in its environment selector, in a real browser)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from asv_helpers import ROOT, asv, asv_environ, have_tools, light_config, make_repo, register_machine
from browser_helpers import ASV_VIEWPORT, chromium, serve

import jitpi
from jitpi.registry import Release
from jitpi.results import Kind, Measurement, State
from jitpi.suite import releases


def test_every_release_names_a_backend_and_pins_its_compiler_exactly():
    for backend, listed in releases.RELEASES.items():
        assert backend in jitpi.BACKENDS
        assert len({release.version for release in listed}) == len(listed) >= 2
        for release in listed:
            pins = releases.requirements(backend, release)
            assert release.version in pins.values()
            assert all(version.count(".") >= 1 for version in pins.values())
            assert releases.release_of(backend, pins) == release
            # The project's own environment pins this release among others: not a release environment.
            assert releases.release_of(backend, {**pins, "rich": "15"}) is None


def test_the_configuration_holds_one_environment_per_release():
    from asv import environment
    from asv.config import Config

    root = Path(__file__).resolve().parent.parent
    numba = [("numba", release) for release in releases.RELEASES["numba"]]
    conf = releases.release_config(releases.load_base_config(root), numba, root)
    path = root / ".asv" / "test-release-config.json"
    path.parent.mkdir(exist_ok=True)
    try:
        path.write_text(json.dumps(conf), encoding="utf-8")
        names = [env.name for env in environment.get_environments(Config.load(str(path)), None)]
    finally:
        path.unlink(missing_ok=True)
    assert len(names) == len(releases.RELEASES["numba"])
    assert names[0] == "virtualenv-py3.11-numba0.57.1-numpy1.24.4"
    assert conf["results_dir"].endswith(".asv/results") and conf["env_dir"].endswith(".asv/releases/env")


def test_each_backend_is_read_at_its_own_newest_commit():
    from types import SimpleNamespace

    def result(commit, date, *backends):
        return (SimpleNamespace(commit=commit, date=date), [(b, None) for b in backends])

    # One compiler swept at commit a, another later at b, the first once more at c before b.
    loaded = [result("a" * 40, 1, "first"), result("c" * 40, 2, "first"), result("b" * 40, 3, "second")]
    assert releases._commit_per_backend(loaded, None) == {"first": "c" * 40, "second": "b" * 40}
    # A named commit wins where a compiler was measured there; the others keep their newest.
    assert releases._commit_per_backend(loaded, "aaaa") == {"first": "a" * 40, "second": "b" * 40}


def test_package_names_compare_as_pypi_does():
    """pip list spells ml_dtypes one way in one release and ml-dtypes in another; a pin's own name
    (tensorflow-cpu, listed as tensorflow_cpu) must not show up as "also moved"."""
    assert releases.canonical("ml_dtypes") == releases.canonical("ML-Dtypes") == "ml-dtypes"
    assert releases.canonical("tensorflow_cpu") == releases.canonical("tensorflow-cpu")
    old, new = (Release(v, {"numpy": "2.4.6"}, "tensorflow-cpu") for v in ("2.20.0", "2.21.0"))
    measure = Measurement(Kind.TIME, "tensorflow", "shared", "cpu", 10**9, State.MEASURED, 1.0)
    rows = [
        releases.ReleaseRow("tensorflow", release, "shared", versions=versions, commit="c" * 40)
        for release, versions in (
            (old, {"tensorflow-cpu": "2.20.0", "ml-dtypes": "0.5.0", "numpy": "2.4.6"}),
            (new, {"tensorflow-cpu": "2.21.0", "ml-dtypes": "0.7.0", "numpy": "2.4.6"}),
        )
    ]
    for row in rows:
        row.time["1e9"] = measure
    (step,) = releases.steps(rows, "time at 1e9", lambda r: r.time.get("1e9"))
    assert step.moved == ("ml-dtypes 0.5.0 -> 0.7.0",)


def test_selection_picks_the_combinations_a_release_measures():
    import re

    patterns = [re.compile(p) for p in releases.selection("numba")]
    chosen = [
        "bench_time.CountHits.time_count_hits('numba', 'shared', 'cpu', '1e9')",
        "bench_time.CountHits.time_count_hits('numba', 'native', 'cpu', '1e5')",
        "bench_cold.ColdStart.timeraw_first_call('numba', 'shared', 'cpu', '1e5')",
        "bench_memory.CountHitsMemory.peakmem_count_hits('numba', 'native', 'cpu', '1e8')",
        "bench_accuracy.Accuracy.track_rms_z('numba', 'shared', 'cpu', '1e6')",
    ]
    left = [
        "bench_time.CountHits.time_count_hits('numba', 'naive', 'cpu', '1e9')",
        "bench_time.CountHits.time_count_hits('numba', 'shared', 'cpu', '1e7')",
        "bench_time.CountHits.time_count_hits('numba', 'shared', 'gpu', '1e9')",
        "bench_time.CountHits.time_count_hits('numpy', 'shared', 'cpu', '1e9')",
    ]
    for name in chosen:
        assert any(p.search(name) for p in patterns), name
    for name in left:
        assert not any(p.search(name) for p in patterns), name


STANDIN = '''
"""A stand-in framework: release 1 spins N times, release 2 ten times as long."""
__version__ = "{version}"
def spin(n):
    total = 0
    for i in range(n * {factor}):
        total += i
    return total
'''

TINY_TIME = """
import pistandin


class CountHits:
    params = (["numpy"], ["native", "shared"], ["cpu"], ["1e5", "1e9"])
    param_names = ("backend", "variant", "device", "n")
    repeat = (8, 8, 20.0)
    number = 1
    warmup_time = 0

    def time_count_hits(self, backend, variant, device, n):
        pistandin.spin(20_000)
"""


def build_standins(folder: Path) -> None:
    for version, factor in (("1.0", 1), ("2.0", 10)):
        source = folder / f"src-{version}"
        (source / "pistandin").mkdir(parents=True)
        (source / "pistandin" / "__init__.py").write_text(
            STANDIN.format(version=version, factor=factor), encoding="utf-8"
        )
        (source / "pyproject.toml").write_text(
            textwrap.dedent(
                f"""
                [build-system]
                requires = ["setuptools"]
                build-backend = "setuptools.build_meta"
                [project]
                name = "pistandin"
                version = "{version}"
                """
            ),
            encoding="utf-8",
        )
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--no-build-isolation",
                "-w",
                str(folder),
                str(source),
            ],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory):
    """Two releases of a stand-in framework swept by ``releases.run`` in real asv environments:
    (repository, asv's environment variables, results folder, status of the run)."""
    reason = have_tools()
    if reason:
        pytest.skip(reason)
    tmp_path = tmp_path_factory.mktemp("sweep")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    build_standins(wheels)
    repo = make_repo(tmp_path / "repo", light_config(benchmark_dir="tiny"))
    (repo / "tiny").mkdir()
    (repo / "tiny" / "__init__.py").write_text("", encoding="utf-8")
    (repo / "tiny" / "bench_time.py").write_text(TINY_TIME, encoding="utf-8")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", "commit", "-qm", "tiny"],
        cwd=repo,
        check=True,
    )
    environ = asv_environ(tmp_path / "home")
    environ["PIP_FIND_LINKS"] = " ".join(filter(None, [environ.get("PIP_FIND_LINKS", ""), str(wheels)]))
    register_machine(repo, environ, "release-test")
    standin = tuple(Release(v, {}, "pistandin") for v in ("1.0", "2.0"))
    with pytest.MonkeyPatch.context() as patch:
        for key, value in environ.items():
            patch.setenv(key, value)
        patch.setattr(releases, "RELEASES", {"numpy": standin})
        patch.setattr(releases, "selection", lambda backend: [r"time_count_hits"])
        status = releases.run(["numpy"], root=repo, machine="release-test")
        yield repo, environ, repo / ".asv" / "results", status


@pytest.mark.slow
def test_a_tiny_sweep_end_to_end(tiny_sweep, tmp_path):
    repo, _, results, status = tiny_sweep
    assert status == 0
    versions = json.loads(releases.versions_path(results, "release-test").read_text(encoding="utf-8"))
    assert {entry["pistandin"] for entry in versions.values()} == {"1.0", "2.0"}

    rows = releases.load_rows(results, "release-test")
    assert [(row.release.version, row.variant) for row in rows] == [
        ("1.0", "native"),
        ("1.0", "shared"),
        ("2.0", "native"),
        ("2.0", "shared"),
    ]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout
    assert all(row.state == "measured" and row.commit == head.strip() for row in rows)
    assert all(row.time["1e9"].samples and len(row.time["1e9"].samples) >= 8 for row in rows)
    (step, *_) = [
        s for s in releases.steps(rows, "time at 1e9", lambda r: r.time.get("1e9")) if s.variant == "shared"
    ]
    assert (step.old, step.new) == ("1.0", "2.0")
    assert step.ratio > 3.0 and step.significant  # 10x the work, read through a noisy machine
    written = releases.report(rows, tmp_path / "out")
    assert {path.name for path in written} == {"releases-numpy.png", "releases.md"}
    table = (tmp_path / "out" / "releases.md").read_text(encoding="utf-8")
    assert "biggest step down: 1.0 -> 2.0" in table and "(significant)" in table
    assert f"jitpi commit {head[:8]}." in table

    # Resumed: nothing left to measure, nothing measured again.
    before = {path: path.stat().st_mtime for path in (results / "release-test").glob("*-virtualenv-*.json")}
    assert releases.run(["numpy"], root=repo, machine="release-test") == 0
    assert {path: path.stat().st_mtime for path in before} == before


@pytest.mark.slow
def test_asv_publish_lists_the_release_environments(tiny_sweep):
    """asv's published site: its environment selector lists both releases, and the graph draws a
    line for each, in a real browser."""
    repo, environ, _, status = tiny_sweep
    assert status == 0
    check_environment_selector(repo, environ)


def check_environment_selector(repo: Path, environ: dict) -> None:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: the site's JavaScript libraries cannot be fetched")
    done = asv(repo, environ, "publish", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    html = repo / ".asv" / "html"
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "asv_site.py"), str(html)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with serve(html) as server, chromium() as browser:
        page = browser.new_page(viewport=ASV_VIEWPORT)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        state = "p-backend='numpy'&p-variant='shared'&p-device='cpu'"
        page.goto(
            f"{server}/index.html#bench_time.CountHits.time_count_hits?{state}", wait_until="networkidle"
        )
        page.wait_for_selector("#main-graph canvas.flot-base", timeout=30_000)
        seen = page.evaluate(
            """() => {
                const panels = {};
                document.querySelectorAll('#graphdisplay-state-params .panel').forEach(panel => {
                    const heading = panel.querySelector('.panel-heading').textContent.trim();
                    panels[heading] = [...panel.querySelectorAll('a.btn')].map(b => b.textContent.trim());
                });
                const plot = $('#main-graph').data('plot');
                const lines = plot.getData().filter(s => s.data.some(p => p && p[1] !== null)).length;
                return {panels, lines};
            }"""
        )
        (ROOT / "test-artifacts").mkdir(exist_ok=True)
        page.screenshot(path=str(ROOT / "test-artifacts" / "asv-site-release-environments.png"))
    assert not errors, errors
    assert seen["panels"].get("pistandin") == ["1.0", "2.0"], seen["panels"]
    assert seen["lines"] >= 2, seen
