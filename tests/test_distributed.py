"""Counting on a Dask cluster gives the single-process integer, even when a worker dies mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from conftest import backend_object, is_slow, require

import jitpi

distributed = pytest.importorskip(
    "dask.distributed", reason="dask[distributed] is not installed (jitpi[dask])"
)


@pytest.fixture(scope="module")
def client():
    from jitpi.distributed import local_cluster

    with local_cluster(2) as cluster, distributed.Client(cluster) as dask_client:
        dask_client.wait_for_workers(2, timeout=60)
        yield dask_client


@pytest.mark.parametrize("variant", ["shared", "native"])
@pytest.mark.parametrize("backend", jitpi.BACKENDS)
def test_cluster_count_is_bit_identical(client, backend, variant):
    require(backend, variant=variant)
    if is_slow(backend, variant):
        pytest.skip(f"{backend} ({variant}) runs at interpreter speed here")
    n = 3 * backend_object(backend).chunks.native + 17  # several chunk tasks and a tail
    expected = jitpi.count_hits(n, backend=backend, seed=2**64 - 1, variant=variant)
    assert jitpi.count_hits(n, backend=backend, seed=2**64 - 1, variant=variant, client=client) == expected
    from jitpi.distributed import count_hits_on

    for tasks_per_worker in (1, 3, 16):
        split = count_hits_on(
            client,
            n,
            backend=backend,
            seed=2**64 - 1,
            variant=variant,
            device="cpu",
            tasks_per_worker=tasks_per_worker,
        )
        assert split == expected
    estimate = jitpi.estimate_pi(n, backend=backend, seed=5, variant=variant, client=client)
    assert estimate.hits == jitpi.count_hits(n, backend=backend, seed=5, variant=variant)


def test_workers_run_single_threaded(client):
    from jitpi.backends import cpu_threads

    assert set(client.run(cpu_threads).values()) == {1}
    assert set(client.run(lambda: os.environ["OMP_NUM_THREADS"]).values()) == {"1"}


def test_naive_cannot_be_split(client):
    with pytest.raises(ValueError, match="naive"):
        jitpi.count_hits(1000, backend="numpy", variant="naive", client=client)


def test_bad_arguments_fail_before_any_task(client):
    with pytest.raises(ValueError, match="n must be"):
        jitpi.count_hits(0, backend="numpy", client=client)
    with pytest.raises(jitpi.BackendUnavailable):
        jitpi.count_hits(10, backend="numpy", device="gpu", client=client)


def test_a_worker_killed_mid_run_is_recomputed(client):
    """Dask reschedules the dead worker's tasks; the total is still the exact count."""
    from jitpi.distributed import count_hits_on

    n, seed = 24_000_000, 77
    expected = jitpi.count_hits(n, backend="numpy", seed=seed, variant="shared")
    pids = client.run(os.getpid)
    result: dict[str, object] = {}

    def run() -> None:
        result["hits"] = count_hits_on(
            client, n, backend="numpy", seed=seed, variant="shared", device="cpu", tasks_per_worker=8
        )
        result["finished"] = time.perf_counter()

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 30
    busy: list[str] = []
    while not busy and time.monotonic() < deadline:
        busy = [address for address, tasks in client.processing().items() if tasks]
        time.sleep(0.02)
    assert busy, "no task started"
    time.sleep(0.3)
    victim = pids[busy[0]]
    killed_at = time.perf_counter()
    os.kill(victim, signal.SIGKILL)
    thread.join(timeout=300)
    assert not thread.is_alive()
    assert result["hits"] == expected
    # The kill landed while the victim's tasks were running, else the test proved nothing.
    assert result["finished"] > killed_at
    client.wait_for_workers(2, timeout=60)
    assert victim not in client.run(os.getpid).values()


def test_command_line_counts_on_the_cluster(client, tmp_path):
    """``jitpi run --scheduler ADDRESS`` gives rows whose hits are the single-process counts."""
    results = tmp_path / "cluster.json"
    command = [
        sys.executable,
        "-m",
        "jitpi",
        "run",
        "-b",
        "numpy",
        "--variant",
        "native,shared",
        "--n",
        "1e5,2000003",
        "--repeat",
        "1",
        "--scheduler",
        client.scheduler.address,
        "--json",
        str(results),
    ]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    data = json.loads(results.read_text())
    assert data["settings"]["scheduler"] == client.scheduler.address
    rows = [(row["variant"], row["n"], row["hits"]) for row in data["rows"]]
    assert len(rows) == 4
    for variant, n, hits in rows:
        assert hits == jitpi.count_hits(n, backend="numpy", variant=variant)


@pytest.mark.parametrize("address", ["nowhere", "http://x:1", "tcp://a b:1"])
def test_command_line_refuses_a_bad_scheduler_address(address):
    finished = subprocess.run(
        [sys.executable, "-m", "jitpi", "run", "-b", "numpy", "--scheduler", address],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 2
    assert "--scheduler" in finished.stderr and "Traceback" not in finished.stderr


def test_native_tasks_start_on_the_devices_chunk_edges(backend):
    """Where native streams are keyed per chunk, and a GPU uses a larger chunk, tasks align to it."""
    loaded = backend_object(backend)
    if not loaded.native_keyed_per_chunk:
        pytest.skip(f"{backend}'s native stream is not keyed per chunk")
    from jitpi.distributed import task_alignment

    chunks = loaded.chunks
    assert task_alignment(backend, "native", "cpu") == chunks.native
    assert task_alignment(backend, "native", "gpu") == chunks.default("native", "gpu")
    assert task_alignment(backend, "shared", "gpu") == 2
    with pytest.raises(ValueError, match="multiple of chunk"):
        loaded.kernel("native")(10, 1, start=chunks.native + 1, chunk=chunks.native)


def test_native_tasks_of_per_sample_streams_stay_fine_grained_on_a_gpu(backend):
    """Native streams indexed per sample: a (large) GPU chunk must not coarsen the split, and any
    start counts the same samples."""
    loaded = backend_object(backend)
    if loaded.native_keyed_per_chunk or loaded.chunks.gpu is None:
        pytest.skip(f"{backend}'s native stream is keyed per chunk, or it has no GPU chunk")
    from jitpi.distributed import task_alignment

    assert task_alignment(backend, "native", "gpu") == loaded.chunks.native
    native = loaded.kernel("native")
    assert native(1001, 7) + native(1999, 7, start=1001) == native(3000, 7)


@pytest.mark.gpu
@pytest.mark.parametrize("variant", ["shared", "native"])
def test_gpu_cluster_count_is_bit_identical(client, variant):
    ran = False
    for backend in jitpi.BACKENDS:
        if not jitpi.availability(backend, "gpu", variant)[0]:
            continue
        ran = True
        n = 3 * 2**26 + 17
        options = {"backend": backend, "seed": 3, "variant": variant, "device": "gpu"}
        assert jitpi.count_hits(n, client=client, **options) == jitpi.count_hits(n, **options)
    if not ran:
        pytest.skip(f"no backend runs the {variant} variant on a GPU here")
