"""pypy: the founding article's plain loop and the shared Philox stream under PyPy's tracing JIT.

PyPy is another interpreter (Debian's ``pypy3``, Python 3.9), so the kernels run in persistent
``pypy3`` worker processes, one per core, that this module starts on first use, reuses across
calls and stops at exit; requests and replies are JSON lines over the workers' stdin and stdout
(the worker script is ``_pypy_worker.py``). A worker that dies raises ``WorkerCrashed`` and is
restarted at the next call; Ctrl-C stops the busy workers; a worker exits by itself when this
process dies.

``native`` is python's native stream exactly (the article's loop on a ``random.Random`` per chunk,
seeded by (seed, chunk index)), ``naive`` is python's naive (one ``random.Random(seed)``), so both
count the same hits as the python backend: a cross-check of two interpreters. ``shared`` is
Philox4x32-10, written by the worker as straight-line Python from ``jitpi.philox``. Work is split
across the workers on chunk edges (native) or Philox blocks (shared), so the hits do not depend
on the number of workers. Design notes and measurements: docs/backends/pypy.md.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jitpi import philox
from jitpi._validation import MAX_N
from jitpi.backends import cpu_threads
from jitpi.chunking import ChunkPlan, split_range
from jitpi.contract import Backend, Chunks, Words
from jitpi.registry import BackendUnavailable

INTERPRETER_VARIABLE = "JITPI_PYPY"
"""Names the PyPy interpreter to run (a path or a command on PATH); default ``pypy3``."""

DEFAULT_INTERPRETER = "pypy3"
WORKER_SCRIPT = Path(__file__).with_name("_pypy_worker.py")
PHILOX_SOURCE = Path(philox.__file__)
OLDEST_PYTHON = (3, 9)
INSTALL_HINT = f"apt-get install pypy3, or name a PyPy interpreter in {INTERPRETER_VARIABLE}"

CHUNKS = Chunks(native=1 << 16, shared=1 << 16)
"""native: samples per re-seeded Mersenne Twister, python's chunk, so the default counts are
python's. shared: the worker counts block by block whatever the chunk (checked, otherwise unused)."""

SAMPLES_PER_WORKER = 1 << 21
"""A call is spread over several workers only where each gets at least this many samples."""

_PROBE = (
    "import json, sys; p = getattr(sys, 'pypy_version_info', None); "
    "print(json.dumps({'implementation': sys.implementation.name, "
    "'version': '.'.join(map(str, p[:3])) if p else None, 'python': list(sys.version_info[:3])}))"
)


class WorkerCrashed(RuntimeError):
    """A PyPy worker process died during a request; the next call starts a fresh one."""


# ---------------------------------------------------------------------------------------------
# The interpreter.


def interpreter() -> str | None:
    """The PyPy interpreter's path: ``JITPI_PYPY`` if set, else ``pypy3`` on PATH; None if absent."""
    named = os.environ.get(INTERPRETER_VARIABLE) or DEFAULT_INTERPRETER
    return shutil.which(named)


@functools.lru_cache(maxsize=8)
def _probe(path: str) -> tuple[dict[str, Any] | None, str | None]:
    """(what ``path`` is, None) or (None, why it cannot serve as the PyPy worker)."""
    try:
        result = subprocess.run(
            [path, "-E", "-c", _PROBE], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, f"running {path} failed: {type(error).__name__}: {error}"
    if result.returncode != 0:
        return None, f"{path} -c ... exited with code {result.returncode}: {result.stderr.strip()[-500:]}"
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    python = ".".join(map(str, facts["python"]))
    if facts["implementation"] != "pypy":
        return None, f"{path} is {facts['implementation']} {python}, not PyPy ({INSTALL_HINT})"
    if tuple(facts["python"][:2]) < OLDEST_PYTHON:
        oldest = ".".join(map(str, OLDEST_PYTHON))
        return None, f"{path} is PyPy for Python {python}; the worker needs Python {oldest} or newer"
    return {"path": path, "version": facts["version"], "python": python}, None


def device_unavailable_reason(device: str) -> str | None:
    """None where a usable PyPy is installed, else what is missing and how to get it."""
    named = os.environ.get(INTERPRETER_VARIABLE)
    path = interpreter()
    if path is None:
        if named:
            return f"{INTERPRETER_VARIABLE}={named!r} is not an executable file or a command on PATH"
        return f"{DEFAULT_INTERPRETER} is not on PATH ({INSTALL_HINT})"
    return _probe(path)[1]


def interpreter_version() -> str | None:
    """PyPy's own version (7.3.11), not the Python language level; None if PyPy is unavailable."""
    path = interpreter()
    facts = _probe(path)[0] if path else None
    return facts["version"] if facts else None


def describe(device: str) -> str:
    path = interpreter()
    facts = _probe(path)[0] if path else None
    if facts is None:
        return f"PyPy unavailable: {device_unavailable_reason(device)}"
    workers = worker_count()
    return (
        f"PyPy {facts['version']} (Python {facts['python']}, {facts['path']}), tracing JIT compiled, "
        f"{workers} worker process{'es' if workers > 1 else ''} of 1 thread"
    )


def worker_count() -> int:
    """Worker processes a large call is spread over: one per core (``JITPI_THREADS`` caps it)."""
    return cpu_threads()


# ---------------------------------------------------------------------------------------------
# The worker processes.


class _Worker:
    """One ``pypy3 _pypy_worker.py`` process and its pipes."""

    def __init__(self, path: str) -> None:
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - the worker's life long; closed by stop()
        self.process = subprocess.Popen(
            # -B: no bytecode files in the source tree; -E -s: none of this environment's
            # PYTHON* variables or user site (they belong to CPython).
            [path, "-B", "-E", "-s", str(WORKER_SCRIPT), str(PHILOX_SOURCE), str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
        )
        self.loops = 0
        self.operation = "start"

    def send(self, operation: str, args: Sequence[Any] = ()) -> None:
        self.operation = operation
        self.process.stdin.write(json.dumps({"op": operation, "args": list(args)}).encode() + b"\n")
        self.process.stdin.flush()

    def receive(self) -> Any:
        line = self.process.stdout.readline()
        if not line:
            raise WorkerCrashed(self._obituary())
        reply = json.loads(line)
        self.loops = reply["loops"]
        if not reply["ok"]:
            raise RuntimeError(f"the PyPy worker failed in {self.operation!r}: {reply['error']}")
        return reply["result"]

    def _obituary(self) -> str:
        code = self.process.wait()
        how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
        self.stderr.seek(0)
        said = self.stderr.read()[-2000:].decode(errors="replace").strip()
        return (
            f"the PyPy worker (pid {self.process.pid}) {how} during {self.operation!r}"
            + (f"; its stderr ended with: {said}" if said else "")
            + "; the next call starts a fresh worker"
        )

    def stop(self, *, wait: float = 2.0) -> None:
        """Close stdin (the worker exits when idle), then kill it if it has not exited in time."""
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        try:
            self.process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        self.stderr.close()


class _Pool:
    """The workers of this process, one per core, started together at the first call; one call at a
    time uses them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.workers: list[_Worker] = []
        self.retired_loops = 0

    def run(self, operation: str, calls: Sequence[Sequence[Any]]) -> list[Any]:
        """``operation`` with each argument list in ``calls``, on as many workers, in parallel."""
        with self.lock:
            workers = self._start(max(len(calls), worker_count()))[: len(calls)]
            try:
                for worker, args in zip(workers, calls, strict=True):
                    worker.send(operation, args)
            except OSError as error:  # a pipe closed under us: a worker died since _start
                dead = [worker for worker in workers if worker.process.poll() is not None]
                message = dead[0]._obituary() if dead else f"writing to a PyPy worker failed: {error}"
                self._discard(workers)
                raise WorkerCrashed(message) from error
            results, failure = [], None
            try:
                for worker in workers:  # every reply is read, even after a failure, to stay in step
                    try:
                        results.append(worker.receive())
                    except WorkerCrashed as error:
                        self._discard([worker])
                        failure = failure or error
                    except RuntimeError as error:
                        failure = failure or error
            except BaseException:  # Ctrl-C while they count: their replies are lost with them
                self._discard(workers)
                raise
            if failure is not None:
                raise failure
            return results

    def _start(self, count: int) -> list[_Worker]:
        """At least ``count`` live workers, all started at once (so that their JIT warm-up does not
        depend on n); ones that died while idle are replaced."""
        self._discard([worker for worker in self.workers if worker.process.poll() is not None])
        if len(self.workers) < count:
            reason = device_unavailable_reason("cpu")
            path = interpreter()
            if reason is not None or path is None:
                raise BackendUnavailable("pypy", "cpu", reason or "no PyPy interpreter")
            fresh = [_Worker(path) for _ in range(count - len(self.workers))]
            self.workers.extend(fresh)
            try:
                for worker in fresh:
                    worker.send("ping")
                for worker in fresh:
                    worker.receive()
            except BaseException:
                self._discard(fresh)
                raise
        return self.workers

    def _discard(self, workers: list[_Worker]) -> None:
        for worker in workers:
            if worker in self.workers:
                self.workers.remove(worker)
                self.retired_loops += worker.loops
            worker.process.kill()
            worker.stop()

    def shutdown(self) -> None:
        with self.lock:
            if self.pid == os.getpid():
                for worker in self.workers:
                    self.retired_loops += worker.loops
                    worker.stop()
            self.workers = []

    def forget(self) -> None:
        """In a forked child: close the inherited pipes (so the parent's workers still see EOF when
        the parent closes them) without stopping the parent's workers."""
        for worker in self.workers:
            for pipe in (worker.process.stdin, worker.process.stdout):
                with contextlib.suppress(OSError):
                    pipe.close()
        self.workers = []

    def loops(self) -> int:
        return self.retired_loops + sum(worker.loops for worker in self.workers)


_POOL = _Pool()


def _after_fork_in_child() -> None:
    global _POOL
    _POOL.forget()
    _POOL = _Pool()


os.register_at_fork(after_in_child=_after_fork_in_child)


def shutdown() -> None:
    """Stop every worker now (they are started again by the next call)."""
    _POOL.shutdown()


atexit.register(shutdown)


def worker_pids() -> list[int]:
    """Process ids of the running workers."""
    return [worker.process.pid for worker in _POOL.workers]


def compile_count() -> int:
    """The kernels' loops PyPy's JIT has compiled in this process's workers so far, as counted by
    each worker's ``pypyjit`` compile hook (at its last reply). A worker compiles them when it
    starts (it runs each loop past the JIT's threshold), so every call finds them compiled."""
    return _POOL.loops()


def kernel_source() -> str:
    """The Python source of the shared kernel that the worker writes from ``jitpi.philox``."""
    return _POOL.run("source", [[]])[0]


# ---------------------------------------------------------------------------------------------
# The kernels.


def _check_device(device: str) -> None:
    if device != "cpu":
        raise ValueError(f"device must be 'cpu' for the pypy backend (PyPy has no GPU code), got {device!r}")


def _parts(samples: int) -> int:
    return max(1, min(worker_count(), samples // SAMPLES_PER_WORKER))


def native(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    _check_device(device)
    plan = ChunkPlan(start, n, CHUNKS.pick(chunk, "native"))
    calls = [
        [seed, plan.first_chunk + offset // plan.chunk, -(-count // plan.chunk), plan.chunk, count]
        for offset, count in split_range(n, _parts(n), align=plan.chunk)
    ]
    return sum(_POOL.run("native", calls))


def shared(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    _check_device(device)
    CHUNKS.pick(chunk, "shared")
    first_block, end_block = philox.block_range(start, n)
    calls = [
        [first_block + offset, first_block + offset + count, start, start + n, seed]
        for offset, count in split_range(end_block - first_block, _parts(n))
    ]
    return sum(_POOL.run("shared", calls))


def naive_max_n(device: str = "cpu") -> int:
    return MAX_N  # the plain loop holds no arrays: O(1) memory


def naive(n: int, seed: int, *, device: str = "cpu") -> int:
    _check_device(device)
    return _POOL.run("naive", [[n, seed]])[0]


def philox_words(counters: Sequence[Words], key: tuple[int, int]) -> list[Words]:
    """The worker kernel's round function (``block_words``) on raw 4-word counters."""
    words = _POOL.run("words", [[[list(counter) for counter in counters], list(key)]])[0]
    return [tuple(row) for row in words]  # type: ignore[misc]


BACKEND = Backend(
    name="pypy",
    describe=describe,
    kernels={"naive": naive, "native": native, "shared": shared},
    chunks=CHUNKS,
    philox_words=philox_words,
    device_unavailable_reason=device_unavailable_reason,
    naive_max_n=naive_max_n,
    native_keyed_per_chunk=True,
    compile_count=compile_count,
    version=interpreter_version,
)
