"""mojo: kernels written in Mojo, compiled by the Mojo compiler of the ``mojo`` wheel and imported
as Python extension modules through ``mojo.importer``; CPU only, on every core.

``shared`` is Philox4x32-10 (``jitpi.philox``'s layout) in explicit SIMD lanes; ``native`` draws
with Mojo's own generator (``std.random.philox.Random``, the one behind ``random.random_float64``),
one per task, placed at the task's first sample; ``naive`` is the founding article's whole arrays,
filled by ``random.rand``. Threads come from MAX's ``parallelize`` (the ``max`` wheel). The Mojo
sources are ``mojo_kernels/*.mojo`` beside this file, one module per variant, each compiled on its
first use into the Modular cache folder (``MODULAR_CACHE_DIR``). Design notes, measurements and the
generated code: ``docs/backends/mojo.md``.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import importlib.metadata
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import mojo.importer  # noqa: F401 - installs the finder that compiles a .mojo file on import
from mojo.paths import MojoCompilationError
from mojo.run import subprocess_run_mojo

from jitpi import philox
from jitpi.backends import available_memory_bytes, cpu_threads, naive_limit
from jitpi.contract import Backend, Chunks, Words
from jitpi.registry import BackendUnavailable

TESTED_WITH = {"mojo": "1.2.0", "max": "26.7.0"}
"""The releases the Mojo sources are written for: the language changes between releases."""

CHUNKS = Chunks(
    native=1 << 20,  # samples per task: a thread takes the next task from an atomic counter
    shared=1 << 20,  # likewise (whole Philox blocks)
)
NAIVE_BYTES_PER_SAMPLE = 16
"""naive: x and y as float64 arrays, which ``random.rand`` fills."""

GPU_REASON = (
    "jitpi's mojo backend has CPU kernels only: Mojo compiles GPU kernels (std.gpu with a "
    "DeviceContext) for NVIDIA and AMD GPUs, and running them needs the GPU's driver (NVIDIA's "
    "libcuda or AMD's ROCm) at run time; none are written here yet"
)

SOURCES = Path(__file__).resolve().with_name("mojo_kernels")
MODULES = {variant: f"jitpi_mojo_{variant}" for variant in ("shared", "native", "naive")}
"""Each variant's Mojo module (and file stem): compiled on its own, so a first call compiles one."""

CACHE_SUBFOLDER = "jitpi"
"""Where in the Modular cache folder jitpi's kernels are compiled (one folder per module)."""


def _versions() -> dict[str, str | None]:
    found = {}
    for name in TESTED_WITH:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def _check_installation() -> None:
    """Name what is missing before anything is compiled: the compiler, or MAX's Mojo package."""
    from mojo._package_root import get_package_root

    try:
        root = get_package_root()
    except RuntimeError as error:
        raise ImportError(f"the mojo package cannot find its compiler ({error}): {_INSTALL}") from None
    if root is None:  # Modular's own Bazel builds: they set the paths themselves
        return
    if not (root / "bin" / "mojo").exists():
        raise ImportError(f"the mojo package's compiler ({root / 'bin' / 'mojo'}) is missing: {_INSTALL}")
    if not (root / "lib" / "mojo" / "max.mojoc").exists():
        raise ImportError(
            f"MAX's Mojo package ({root / 'lib' / 'mojo' / 'max.mojoc'}, from the max-mojo-libs wheel that "
            f"max=={TESTED_WITH['max']} installs), where parallelize lives, is missing: {_INSTALL}"
        )


_INSTALL = f"pip install 'jitpi[mojo]' (mojo=={TESTED_WITH['mojo']} and max=={TESTED_WITH['max']})"
_check_installation()
VERSIONS = _versions()


# ---------------------------------------------------------------------------------------------
# Building the modules. ``mojo.importer`` compiles a .mojo file found on sys.path and caches the
# library in a ``__mojocache__`` folder next to the source (keyed on a hash of the folder's .mojo
# files); it uses the Modular cache folder only where that folder is not writable (``os.access``,
# always true for root). So the source is copied into the Modular cache folder (``mojo
# --print-cache-location``, which honours MODULAR_CACHE_DIR, modular.cfg, MODULAR_HOME and the XDG
# folders) and imported from there: one variable then holds both the compiler's own cache
# (``.mojo_cache``) and the kernels.


def cache_folder() -> Path:
    """The folder the kernels are compiled in: ``jitpi`` beside Mojo's own ``.mojo_cache``."""
    done = subprocess_run_mojo(["--print-cache-location"], capture_output=True, check=True, text=True)
    return Path(done.stdout.strip()).parent / CACHE_SUBFOLDER


_lock = threading.Lock()
_modules: dict[str, ModuleType] = {}


def _module(variant: str) -> ModuleType:
    """The compiled module of ``variant``: built on its first use (or read from the cache)."""
    name = MODULES[variant]
    module = _modules.get(name)
    if module is not None:
        return module
    with _lock:
        if name not in _modules:
            _modules[name] = _build(name)
        return _modules[name]


def _build(name: str) -> ModuleType:
    folder = cache_folder() / name
    folder.mkdir(parents=True, exist_ok=True)
    source = (SOURCES / f"{name}.mojo").read_bytes()
    target = folder / f"{name}.mojo"
    # Another process building the same module waits here, then finds the library built.
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.is_file() or target.read_bytes() != source:
            staging = folder / f".{name}.{os.getpid()}.tmp"
            staging.write_bytes(source)
            os.replace(staging, target)
        sys.path.insert(0, str(folder))
        try:
            with _python_for_mojo():
                return importlib.import_module(name)
        except ImportError as error:
            cause = error.__cause__
            detail = cause.stderr.strip()[-3000:] if isinstance(cause, MojoCompilationError) else str(error)
            raise RuntimeError(
                f"compiling {name}.mojo failed with mojo {VERSIONS['mojo']} and max {VERSIONS['max']} "
                f"(jitpi's Mojo sources are written for mojo {TESTED_WITH['mojo']} and max "
                f"{TESTED_WITH['max']}: {_INSTALL}):\n{detail}"
            ) from error
        finally:
            sys.path.remove(str(folder))


MOJO_ENVIRONMENT = ("MOJO_PYTHON", "MOJO_PYTHON_LIBRARY", "PYTHONEXECUTABLE", "PYTHONPATH")
"""What Mojo's runtime reads or writes in the process's environment when it loads a module."""


@contextlib.contextmanager
def _python_for_mojo():
    """Tell Mojo's runtime which Python it is loaded into, and put the environment back after.

    Loading a Mojo module, the runtime looks for the Python to bind to (``MOJO_PYTHON``, else the
    ``python3`` first on PATH, run as a subprocess) and sets ``MOJO_PYTHON_LIBRARY``,
    ``PYTHONEXECUTABLE`` and ``PYTHONPATH=":"`` in the C environment, which every child process then
    inherits: a child started as a virtual environment's Python came up as the base Python, without
    the environment's packages. So ``MOJO_PYTHON`` names this interpreter (unless the user set it or
    the library), and every one of those variables is restored once the module is loaded.
    """
    saved = {name: os.environ.get(name) for name in MOJO_ENVIRONMENT}
    if saved["MOJO_PYTHON"] is None and saved["MOJO_PYTHON_LIBRARY"] is None:
        os.environ["MOJO_PYTHON"] = sys.executable
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
                os.unsetenv(name)  # set in C by the runtime, unknown to os.environ
            else:
                os.environ[name] = value


def compile_count() -> int:
    """Mojo modules loaded in this process, one per variant: compiled, or read from the cache."""
    return len(_modules)


# ---------------------------------------------------------------------------------------------
# Variants.


def _cpu(device: str, variant: str) -> None:
    if device != "cpu":
        raise BackendUnavailable("mojo", device, GPU_REASON, variant)


def shared(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    """Hits among samples [start, start + n) of the shared Philox stream; any start works.

    The kernel counts both samples of every block of the range; the even sample of the first
    block (an odd start) and the odd one of the last (an odd end) are taken off afterwards.
    """
    blocks_per_task = max(1, CHUNKS.pick(chunk, "shared", device) // 2)
    _cpu(device, "shared")
    kernels = _module("shared")
    first_block, end_block = philox.block_range(start, n)
    k0, k1 = philox.split_seed(seed)
    hits = kernels.count(first_block, end_block, k0, k1, blocks_per_task, cpu_threads())
    if start % 2:
        hits -= kernels.block_hits(first_block, k0, k1) & 1
    if (start + n) % 2:
        hits -= kernels.block_hits(end_block - 1, k0, k1) >> 1
    return int(hits)


def native_key(seed: int) -> int:
    """The key of Mojo's generator for stream ``seed``: SplitMix64 of it, so that no seed's native
    stream is made of the same Philox words as its shared stream."""
    return philox.splitmix64(seed)


def native(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    """Hits among samples [start, start + n) of Mojo's generator keyed by ``seed``; any start works.

    Sample i is the i-th point of ``Random(seed=native_key(seed))``: lanes (0, 1) or (2, 3) of its
    step i // 2, read by ``step_uniform``. Each task places a generator of its own there.
    """
    samples_per_task = CHUNKS.pick(chunk, "native", device)
    _cpu(device, "native")
    return int(_module("native").count(start, start + n, native_key(seed), samples_per_task, cpu_threads()))


_naive_lock = threading.Lock()
"""Mojo's ``random`` functions share one generator in the process: one naive count at a time."""


def naive_max_n(device: str = "cpu") -> int:
    return min(2**40, naive_limit(NAIVE_BYTES_PER_SAMPLE, available_memory_bytes()))


def naive(n: int, seed: int, *, device: str = "cpu") -> int:
    """The article's whole arrays: ``seed(seed)``, n float64 x then n float64 y from ``rand``,
    then the count. Serial: the process-wide generator cannot be shared between threads."""
    _cpu(device, "naive")
    limit = naive_max_n(device)
    if n > limit:
        raise ValueError(f"n={n} is above {limit}, the largest the naive mojo variant accepts here")
    kernels = _module("naive")
    with _naive_lock:
        return int(kernels.count(n, seed))


# ---------------------------------------------------------------------------------------------
# What the backend says of itself.


def describe(device: str) -> str:
    threads = cpu_threads()
    return (
        f"mojo {VERSIONS['mojo']} (max {VERSIONS['max']}), compiled by the Mojo compiler for this CPU, "
        f"{threads} thread{'s' if threads != 1 else ''} (MAX's parallelize); Python calls it "
        f"through mojo.importer"
    )


def philox_words(counters: Sequence[Words], key: tuple[int, int]) -> list[Words]:
    """Raw Philox4x32-10 words from the shared kernel's own round function, at its SIMD width."""
    kernels = _module("shared")
    return [tuple(kernels.words(*counter, *key)) for counter in counters]


BACKEND = Backend(
    name="mojo",
    describe=describe,
    kernels={"naive": naive, "native": native, "shared": shared},
    chunks=CHUNKS,
    philox_words=philox_words,
    absent_devices={"gpu": GPU_REASON},
    naive_max_n=naive_max_n,
    compile_count=compile_count,
)
