"""The published asv site, as a person sees it: a real browser draws a benchmark's graph.

A throwaway repository gets real results for two commits (a tiny numpy run in this interpreter's
environment, saved with --set-commit-hash), ``asv publish`` writes the site, tools/asv_site.py
makes it self-contained, and headless Chromium (Debian's package) opens the page of a
parametrised benchmark over http. The test asserts that Flot drew the series on its canvas, that
the page logged no JavaScript error and loaded nothing from outside, and keeps a screenshot in
test-artifacts/.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from asv_helpers import (
    ROOT,
    asv,
    asv_environ,
    commit_all,
    git,
    have_tools,
    light_config,
    make_repo,
    register_machine,
)
from browser_helpers import ASV_VIEWPORT, chromium, serve

pytestmark = pytest.mark.slow

BENCH = "bench_time.CountHits.time_count_hits"
SELECT = r"time_count_hits\('numpy', 'native', 'cpu', '1e(5|7)'\)"
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    reason = have_tools()
    if reason:
        pytest.skip(reason)
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: the site's JavaScript libraries cannot be fetched")
    root = tmp_path_factory.mktemp("site")
    repo = make_repo(root / "repo", light_config())
    commits = [git(repo, "rev-parse", "HEAD"), commit_all(repo, "second")]
    environ = asv_environ(root / "home")
    register_machine(repo, environ, "site-test")
    for commit in commits:
        done = asv(
            repo,
            environ,
            "run",
            "-E",
            "existing:same",
            "--set-commit-hash",
            commit,
            "--machine",
            "site-test",
            "-b",
            SELECT,
            "--show-stderr",
            "-a",
            "repeat=3",
            "-a",
            "rounds=1",
            "-a",
            "warmup_time=0",
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    done = asv(repo, environ, "publish", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    html = repo / ".asv" / "html"
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "asv_site.py"), str(html)], capture_output=True, text=True
    )
    assert done.returncode == 0 and "served from" in done.stdout, done.stdout + done.stderr
    return html


@pytest.fixture(scope="module")
def server(site):
    with serve(site) as address:
        yield address


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


def test_a_parametrised_benchmark_graph_renders(server, browser):
    page = browser.new_page(viewport=ASV_VIEWPORT)
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(f"console: {message.text}"))
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    page.on("requestfailed", lambda request: errors.append(f"request failed: {request.url}"))
    outside: list[str] = []
    page.on("request", lambda request: request.url.startswith(server) or outside.append(request.url))

    # asv keeps the page's state in the hash: the benchmark, then the parameter values to plot.
    selection = "&".join(
        f"p-{name}={quote(value)}"
        for name, value in [
            ("backend", "'numpy'"),
            ("variant", "'native'"),
            ("device", "'cpu'"),
        ]
    )
    page.goto(f"{server}/index.html#{BENCH}?{selection}", wait_until="networkidle")
    page.wait_for_selector("#main-graph canvas.flot-base", timeout=30_000)
    page.wait_for_load_state("networkidle")

    drawn = page.evaluate(
        """() => {
            const plot = $('#main-graph').data('plot');
            const series = plot.getData().map(s => s.data.filter(p => p && p[1] !== null).length);
            const canvas = document.querySelector('#main-graph canvas.flot-base');
            const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let coloured = 0;  // pixels that are neither background nor the grey axes and grid
            for (let i = 0; i < pixels.length; i += 4) {
                const [r, g, b, a] = [pixels[i], pixels[i + 1], pixels[i + 2], pixels[i + 3]];
                if (a > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 60) coloured++;
            }
            return {series, coloured, width: canvas.width, height: canvas.height,
                    title: document.title, hash: window.location.hash};
        }"""
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "asv-site-time_count_hits.png"))
    page.close()

    assert not errors, errors
    assert not outside, f"the site loaded from outside its own server: {outside}"
    assert drawn["width"] > 100 and drawn["height"] > 100, drawn
    # The series that have results (n = 1e5 and 1e7) each have a point for each of the two commits.
    assert sorted(count for count in drawn["series"] if count) == [2, 2], drawn
    assert drawn["coloured"] > 200, f"the graph's canvas has no drawn series: {drawn}"
