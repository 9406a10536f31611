"""The asv suite, as asv's own discovery sees it (``asv check`` verifies call signatures only)."""

from __future__ import annotations

import inspect
import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import jitpi
from jitpi import registry

discovery = pytest.importorskip("asv_runner.discovery")

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "benchmarks"
KINDS = ("time", "timeraw", "peakmem", "track")


@pytest.fixture(scope="module")
def benchmarks() -> dict:
    found = {bench.name: bench for bench in discovery.disc_benchmarks(str(SUITE))}
    assert found, "asv discovered no benchmark"
    return found


@pytest.fixture(scope="module")
def common():
    import benchmarks.common as common

    return common


def _suite_classes():
    import importlib

    for path in sorted(SUITE.glob("bench_*.py")):
        module = importlib.import_module(f"benchmarks.{path.stem}")
        for name, cls in vars(module).items():
            if inspect.isclass(cls) and cls.__module__ == module.__name__ and not name.startswith("_"):
                yield module, cls


def test_every_class_exposes_benchmarks(benchmarks):
    classes = list(_suite_classes())
    assert classes
    for module, cls in classes:
        prefix = f"{module.__name__.split('.')[-1]}.{cls.__name__}."
        assert any(name.startswith(prefix) for name in benchmarks), (
            f"{prefix[:-1]} defines no method asv recognises as a benchmark"
        )


def test_every_class_has_a_docstring_and_a_pinned_version(benchmarks):
    for _module, cls in _suite_classes():
        assert (cls.__doc__ or "").strip(), f"{cls.__name__} has no docstring"
        assert isinstance(cls.__dict__.get("version"), str), f"{cls.__name__} must pin version"
    for name, bench in benchmarks.items():
        instance = bench._attr_sources[1]  # [method, instance of its class, module]
        assert bench.version == type(instance).__dict__["version"], f"{name}: asv must see the pinned version"


def _gridded(benchmarks: dict) -> dict:
    """The benchmarks over backend x variant x device x n (the machine yardstick has no grid)."""
    return {name: bench for name, bench in benchmarks.items() if bench.params}


def test_params_are_the_fixed_grid(benchmarks, common):
    """asv keys results by position in one grid: every class uses the suite's own lists."""
    from benchmarks import grid

    gridded = _gridded(benchmarks)
    assert {grid.TIME, grid.COLD, grid.MEMORY, grid.ACCURACY} == set(gridded)
    for name, bench in gridded.items():
        assert len(bench.params) == len(bench.param_names), name
        assert tuple(bench.param_names) == grid.PARAM_NAMES, name
        backends, variants, devices, ns = bench._params  # unrepr'd values
        assert tuple(backends) == grid.BACKENDS, f"{name}: the backend list must be jitpi/suite/grid.py's"
        assert tuple(variants) == grid.VARIANTS, name
        assert tuple(devices) == grid.DEVICES, name
        assert ns and all(isinstance(n, str) and re.fullmatch(r"[1-9]e\d+", n) for n in ns), name
        sizes = [common.size(n) for n in ns]
        assert all(1 <= n <= 2**40 for n in sizes) and sizes == sorted(sizes), name


def test_the_grid_covers_the_library():
    """numpy's coverage guard: a backend, variant or device the library has and the suite's fixed
    grid lacks fails here (append it to jitpi/suite/grid.py: never insert, never remove)."""
    from benchmarks import grid

    for what, library, suite in (
        ("backend", jitpi.BACKENDS, grid.BACKENDS),
        ("variant", jitpi.VARIANTS, grid.VARIANTS),
        ("device", jitpi.DEVICES, grid.DEVICES),
    ):
        missing = [value for value in library if value not in suite]
        assert not missing, f"jitpi has the {what}s {missing} that jitpi/suite/grid.py lacks: append them"
    assert len(set(grid.BACKENDS)) == len(grid.BACKENDS)


def test_the_grid_does_not_read_the_installed_library():
    """Imported alone, the suite's grid imports nothing: no jitpi, no framework; it is the working
    tree's file, not the installed jitpi's."""
    script = (
        "import json, sys\n"
        "before = set(sys.modules)\n"
        "import benchmarks.grid\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
        "print(benchmarks.grid._GRID.__file__)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    imported, path = done.stdout.splitlines()
    assert json.loads(imported) == ["benchmarks", "benchmarks.grid"]
    assert Path(path) == ROOT / "jitpi" / "suite" / "grid.py"


def test_a_combination_the_library_lacks_skips_with_the_reason(common, monkeypatch):
    """A commit whose jitpi lacks a backend or variant of the grid skips it, saying so, before
    any other check (the registry's bounds would not know it)."""
    monkeypatch.setattr(common.jitpi, "BACKENDS", tuple(b for b in jitpi.BACKENDS if b != "numba"))
    with pytest.raises(NotImplementedError, match="jitpi at this commit has no backend 'numba'"):
        common.require("numba", "native", "cpu", 10**5)
    monkeypatch.setattr(common.jitpi, "VARIANTS", ("naive", "native"))
    with pytest.raises(NotImplementedError, match="jitpi at this commit has no variant 'shared'"):
        common.require("numpy", "shared", "cpu", 10**5)
    facts = common.BackendFacts.here("numpy", "cpu")
    assert set(facts.reasons) == {"naive", "native"}


def test_every_kind_is_measured(benchmarks):
    kinds = {name.split(".")[-1].split("_")[0] for name in benchmarks}
    assert kinds == set(KINDS)


def test_track_benchmarks_declare_a_unit(benchmarks):
    tracks = [bench for bench in benchmarks.values() if bench.type == "track"]
    assert tracks
    for bench in tracks:
        assert bench.unit not in (None, "", "unit"), f"{bench.name} must declare its unit"


def test_timeraw_benchmarks_have_no_warmup(benchmarks):
    raws = [bench for name, bench in benchmarks.items() if name.split(".")[-1].startswith("timeraw_")]
    assert raws
    for bench in raws:
        assert bench.warmup_time == 0, f"{bench.name}: a warm-up sample would fill the JIT caches"


def test_n_grid_is_the_articles_range(common):
    sizes = [common.size(n) for n in common.N_GRID]
    assert min(sizes) == 10**5
    assert max(sizes) == 10**9
    assert all(common.size(n) > max(sizes) for n in common.GPU_ONLY_N)
    assert common.size("1e10") == 10**10 and common.size("3e2") == 300


def _static_skip(common, backend, variant, device, n, calls=1, allowance=1):
    """The part of ``require`` that needs no framework: the bound on n."""
    samples = common.size(n)
    return device == "cpu" and (
        n in common.GPU_ONLY_N or calls * samples > allowance * common.cpu_max_n(backend, variant)
    )


def test_every_backend_and_variant_runs_somewhere_in_every_benchmark(benchmarks, common):
    """numpy's coverage guard: no backend x variant is bounded out of a benchmark on the CPU."""
    for name, bench in _gridded(benchmarks).items():
        backends, variants, _devices, ns = bench._params
        kwargs = {}
        if "Accuracy" in name:
            kwargs = {"calls": len(common.SEEDS), "allowance": common.ACCURACY_SAMPLE_FACTOR}
        for backend, variant in itertools.product(backends, variants):
            assert any(not _static_skip(common, backend, variant, "cpu", n, **kwargs) for n in ns), (
                f"{name}: {backend} ({variant}) has no n it may run on the CPU"
            )


def test_named_bounds(common):
    """The bounds the suite documents: python's loop to 1e7, Triton's interpreter to 1e6."""
    assert common.cpu_max_n("python", "native") == 10**7
    assert common.cpu_max_n("triton", "native") == 10**6
    assert common.cpu_max_n("numba", "native") == common.size(common.N_GRID[-1])


def test_skips_carry_a_reason(common):
    with pytest.raises(NotImplementedError, match="GPU only"):
        common.require("numpy", "native", "cpu", common.size(common.GPU_ONLY_N[0]))
    with pytest.raises(NotImplementedError, match=r"bound for python \(native\)"):
        common.require("python", "native", "cpu", 10**8)
    if not common.gpu_present():
        with pytest.raises(NotImplementedError, match="no GPU"):
            common.require("numpy", "native", "gpu", 10**5)


def test_setup_and_body_run_for_numpy(benchmarks):
    """One combination end to end through asv_runner's own Benchmark object (no subprocess)."""
    bench = benchmarks["bench_time.CountHits.time_count_hits"]
    index = list(itertools.product(*bench._params)).index(("numpy", "native", "cpu", "1e5"))
    bench.set_param_idx(index)
    assert bench.do_setup() is False  # False: set up and not skipped
    bench.func(*bench._current_params)
    bench.do_teardown()


def test_accuracy_is_near_one_for_numpy(common):
    value = common.rms_z("numpy", "native", "cpu", 10**5)
    assert 0.3 < value < 2.0


def test_cold_start_code_runs_with_empty_jit_caches(common, tmp_path):
    """The code asv runs in a fresh interpreter: every JIT cache is a new empty directory."""
    from benchmarks.bench_cold import ColdStart

    stmt, setup = ColdStart().timeraw_first_call("numpy", "native", "cpu", "1e5")
    caches_expected = registry.jit_cache_variables(include_opt_in=False)
    probe = (
        "import json, os\n"
        f"caches = {{name: os.environ[name] for name in {caches_expected!r}}}\n"
        "print(json.dumps({name: [path, os.path.exists(path) and os.listdir(path)] "
        "for name, path in caches.items()}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", setup + "\n" + probe + stmt], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    caches = json.loads(done.stdout)
    assert set(caches) == set(caches_expected)
    paths = [path for path, _ in caches.values()]
    assert len(set(paths)) == len(paths)
    assert all(not contents for _, contents in caches.values())
    assert not any(os.path.exists(path) for path in paths), "the interpreter must remove its caches"


def test_importing_the_suite_imports_no_framework():
    """asv's forkserver imports the suite once and forks a process per combination: that is safe
    (CUDA cannot survive a fork, framework thread pools do not either) only while no framework is
    imported before ``setup``. A fresh interpreter runs asv's own discovery, as the server does."""
    frameworks = sorted(
        {module for info in registry.REGISTRY.values() if info.compiles for module in info.modules}
    )
    script = (
        "import json, sys, threading\n"
        "from asv_runner.discovery import disc_benchmarks\n"
        f"found = list(disc_benchmarks({str(SUITE)!r}))\n"
        f"loaded = [m for m in {frameworks!r} if m in sys.modules]\n"
        "print(json.dumps([len(found), loaded, threading.active_count()]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    found, loaded, threads = json.loads(done.stdout.splitlines()[-1])
    assert found > 0 and frameworks
    assert loaded == [], f"importing the suite imported {loaded}"
    assert threads == 1, "importing the suite started Python threads"


def test_a_shared_count_off_the_stream_fails_setup(common, monkeypatch):
    """|z| < 6 cannot see a shared kernel that counts a different (but fair) stream; setup compares
    the count with the reference's exactly, in every environment the suite runs in."""
    common.compile_and_verify("numpy", "shared", "cpu", 10**5)  # the real count passes
    monkeypatch.setitem(common.REFERENCE_HITS, (10**5, common.SEED), common.REFERENCE_HITS[10**5, 0] + 1)
    with pytest.raises(RuntimeError, match="the Philox stream has"):
        common.compile_and_verify("numpy", "shared", "cpu", 10**5)
    common.compile_and_verify("numpy", "native", "cpu", 10**5)  # other variants: |z| only


def test_every_grid_has_the_reference_count_its_check_needs(common):
    for n in {*common.N_GRID, *common.GPU_ONLY_N, *common.MEMORY_N, *common.COLD_N}:
        assert (min(common.size(n), common.VERIFY_N), common.SEED) in common.REFERENCE_HITS, n


def test_accuracy_worker_gives_each_combination_what_its_own_process_would(common, tmp_path, monkeypatch):
    """One worker per backend computes every (variant, n) of the accuracy class; each value must be
    the one the combination's own process computes (the seeds are fixed: equal to the last bit)."""
    from benchmarks import bench_accuracy

    (tmp_path / common.ASV_CACHE_FILE).write_bytes(b"")  # asv's class directory, as setup_cache leaves it
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_accuracy", "numpy", "cpu"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    written = (tmp_path / "jitpi-accuracy-numpy-cpu.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in written]
    combinations = list(itertools.product(jitpi.VARIANTS, common.ACCURACY_N))
    assert [(r["variant"], r["n"]) for r in records] == combinations
    facts = json.loads((tmp_path / "jitpi-facts-numpy-cpu.json").read_text())
    assert facts["reasons"] == {variant: None for variant in jitpi.VARIANTS}
    monkeypatch.chdir(tmp_path)
    for record in records:
        assert set(record) == {"variant", "n", "value"}, record
        value = bench_accuracy.worker_value("numpy", record["variant"], "cpu", record["n"])
        assert value == common.rms_z("numpy", record["variant"], "cpu", common.size(record["n"]))


def test_a_combination_the_worker_did_not_reach_is_computed_in_its_own_process(common, tmp_path, monkeypatch):
    """A worker that died (a crash in the framework) leaves the rest of its backend to each
    combination's own process, so the crash fails the combination it belongs to; a Python error
    in the worker fails its combination with the worker's traceback."""
    from benchmarks.bench_accuracy import Accuracy, worker_value

    monkeypatch.chdir(tmp_path)
    (tmp_path / common.ASV_CACHE_FILE).write_bytes(b"")
    path = common.shared_path("accuracy", "numpy", "cpu", ".jsonl")
    written = [
        {"variant": "naive", "n": "1e5", "value": 0.5},
        {"variant": "naive", "n": "1e6", "error": "Traceback ...\nValueError: a wrong count"},
    ]
    killed_while_writing = '{"variant": "native", "n": "1e5", "val'
    path.write_text("\n".join([*map(json.dumps, written), killed_while_writing]))
    assert worker_value("numpy", "naive", "cpu", "1e5") == 0.5  # read: a worker run here would give ~1
    with pytest.raises(RuntimeError, match=r"(?s)in its backend's worker.*ValueError: a wrong count"):
        worker_value("numpy", "naive", "cpu", "1e6")
    assert worker_value("numpy", "native", "cpu", "1e5") is None

    benchmark = Accuracy()
    benchmark.setup("numpy", "native", "cpu", "1e5")
    own = common.rms_z("numpy", "native", "cpu", 10**5)
    assert benchmark.track_rms_z("numpy", "native", "cpu", "1e5") == own


def test_backend_facts_are_asked_once_in_a_class_directory(common, tmp_path, monkeypatch):
    """The cold start's and accuracy's combinations read what the first of their backend learnt
    (no framework import in their own process); the answer is the one ``require`` gets itself."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / common.ASV_CACHE_FILE).write_bytes(b"")
    first = common.BackendFacts.shared("numpy", "cpu")
    assert first == common.BackendFacts.here("numpy", "cpu")
    path = common.shared_path("facts", "numpy", "cpu")
    recorded = json.loads(path.read_text())
    assert recorded["reasons"]["naive"] is None and recorded["naive_max_n"] > 10**8
    recorded["reasons"]["naive"] = "what the first combination found"
    recorded["naive_max_n"] = 10**5
    path.write_text(json.dumps(recorded))
    with pytest.raises(NotImplementedError, match="what the first combination found"):
        common.require("numpy", "naive", "cpu", 10**5, shared=True)
    recorded["reasons"]["naive"] = None
    path.write_text(json.dumps(recorded))
    with pytest.raises(NotImplementedError, match=r"above 1\.00e\+05, the naive numpy variant's bound"):
        common.require("numpy", "naive", "cpu", 10**6, shared=True)
    common.require("numpy", "naive", "cpu", 10**5, shared=True)


def test_outside_asvs_class_directory_nothing_is_shared(common, tmp_path, monkeypatch):
    """Run by hand (no setup_cache before it), a combination asks and computes in its own process
    and leaves no file that a later run, of other code, could read."""
    from benchmarks.bench_accuracy import Accuracy

    monkeypatch.chdir(tmp_path)
    assert common.shared_path("facts", "numpy", "cpu") is None
    common.require("numpy", "native", "cpu", 10**5, shared=True)
    benchmark = Accuracy()
    benchmark.setup("numpy", "native", "cpu", "1e5")
    own = common.rms_z("numpy", "native", "cpu", 10**5)
    assert benchmark.track_rms_z("numpy", "native", "cpu", "1e5") == own
    assert list(tmp_path.iterdir()) == []


def test_a_combination_measured_in_its_own_process_asks_only_for_its_own_variant(common, monkeypatch):
    """The time and memory classes share nothing: their setup asks the framework about the variant
    it measures and no other (another variant's probe could compile or trace in the measured process)."""
    asked = []
    real = common.jitpi.availability

    def recording(backend, device="cpu", variant=None):
        asked.append((backend, device, variant))
        return real(backend, device, variant)

    monkeypatch.setattr(common.jitpi, "availability", recording)
    common.require("numpy", "native", "cpu", 10**5)
    assert asked == [("numpy", "cpu", "native")]
