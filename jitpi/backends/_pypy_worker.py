"""The PyPy side of the pypy backend: a JSON-lines server that ``pypy3`` runs for jitpi.

``python _pypy_worker.py PHILOX_PY PARENT_PID``. It runs under PyPy's Python 3.9 without numpy, so
it never imports the jitpi package: it loads ``jitpi/philox.py`` by path and writes the shared
stream's kernel by tracing ``philox.rounds`` and ``philox.inside_test`` into straight-line Python
(``write_kernel``), which PyPy's JIT compiles into one loop. One request per line on stdin, one
reply per line on the original stdout (anything printed goes to stderr). It ignores Ctrl-C (the
parent handles it and stops the worker) and exits when stdin closes or the parent process dies.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import signal
import sys
import threading
import time
import types

try:  # PyPy's wrapping machine-integer ops: one multiply gives a 32 x 32 -> 64-bit product
    from __pypy__ import intop
except ImportError:  # another interpreter: every product is split into 16-bit halves instead
    intop = None

try:
    import pypyjit
except ImportError:
    pypyjit = None

KERNEL_FILENAME = "<jitpi-pypy-kernel>"
PARENT_POLL_SECONDS = 0.25
WARM_UP_ITERATIONS = 4096
MASK32 = 0xFFFFFFFF


def load_philox(path: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("jitpi_philox", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------------------
# The shared stream's kernel, written by tracing jitpi.philox.


class _Source:
    """Straight-line statements, one per traced operation, each binding a fresh local name."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.lines: list[str] = []

    def bind(self, expression: str) -> _Value:
        name = f"{self.prefix}{len(self.lines) + 1}"
        self.lines.append(f"{name} = {expression}")
        return _Value(self, name)


class _Value:
    """A traced integer: the operators ``philox.inside_test`` applies write statements instead."""

    def __init__(self, source: _Source, name: str) -> None:
        self.source = source
        self.name = name

    def __str__(self) -> str:
        return self.name

    def __mul__(self, other: object) -> _Value:
        return self.source.bind(f"{self} * {other}")

    def __rsub__(self, other: object) -> _Value:
        return self.source.bind(f"{other} - {self}")

    def __lt__(self, other: object) -> _Value:
        # Written as the sign bit of the difference (exact: both sides of the inside test lie in
        # [0, 2**62]). A comparison would make PyPy guard on its result and branch per sample.
        return self.source.bind(f"(({self} - {other}) >> 63) & 1")


def write_kernel(philox: types.ModuleType, use_intop: bool) -> str:
    """Python source of the shared stream's kernel, from ``philox.rounds`` and ``philox.inside_test``.

    Tracing unrolls the ten rounds into straight-line code: PyPy's JIT does not unroll loops, and a
    call to ``philox.rounds`` per block enters and leaves its compiled round loop every time (about
    10x slower, docs/backends/pypy.md). The key schedule does not depend on the block, so it is
    written into its own function (``round_keys``), computed once per call.
    """
    keys, body, test = _Source("key"), _Source("t"), _Source("s")
    key_names: list[str] = []

    def bump_key(key: object, increment: int) -> _Value:
        value = keys.bind(f"({key} + {increment}) & 0xFFFFFFFF")
        key_names.append(value.name)
        return value

    def xor(left: object, right: object) -> _Value:
        return body.bind(f"{left} ^ {right}")

    def mulhilo(word: object, multiplier: int) -> tuple[_Value, _Value]:
        if use_intop:  # the product wraps modulo 2**64; its unsigned high half is exact
            product = body.bind(f"int_mul({word}, {multiplier})")
            return body.bind(f"uint_rshift({product}, 32)"), body.bind(f"{product} & 0xFFFFFFFF")
        # Products of a word and a 16-bit half stay below 2**48: no big integers.
        low = body.bind(f"{word} * {multiplier & 0xFFFF}")
        high = body.bind(f"{word} * {multiplier >> 16}")
        return (
            body.bind(f"({high} + ({low} >> 16)) >> 16"),
            body.bind(f"((({high} & 0xFFFF) << 16) + {low}) & 0xFFFFFFFF"),
        )

    counter = [_Value(body, name) for name in ("c0", "c1", "c2", "c3")]
    key = [_Value(keys, name) for name in ("k0", "k1")]
    words = philox.rounds(*counter, *key, mulhilo=mulhilo, bump_key=bump_key, xor=xor)
    inside = philox.inside_test(
        _Value(test, "x_word"),
        _Value(test, "y_word"),
        to_signed=lambda word: test.bind(f"({word} ^ 0x80000000) - 0x80000000"),
    )
    schedule = ", ".join(key_names)

    def function(header: str, lines: list[str], result: str) -> str:
        return "\n".join([header, *(f"    {line}" for line in lines), f"    return {result}", "", ""])

    return "".join(
        [
            "# Written by jitpi/backends/_pypy_worker.py from jitpi/philox.py: do not edit.\n\n",
            function("def round_keys(k0, k1):", keys.lines, schedule),
            function(
                f"def block_words(c0, c1, c2, c3, k0, k1, {schedule}):",
                body.lines,
                ", ".join(str(word) for word in words),
            ),
            function("def inside(x_word, y_word):", test.lines, str(inside)),
            function(
                "def count_blocks(first, end, k0, k1):",
                [
                    f"{schedule} = round_keys(k0, k1)",
                    "hits = 0",
                    "for block in range(first, end):",
                    "    c0, c1 = block & 0xFFFFFFFF, block >> 32",
                    f"    w0, w1, w2, w3 = block_words(c0, c1, 0, 0, k0, k1, {schedule})",
                    "    hits += inside(w0, w1) + inside(w2, w3)",
                ],
                "hits",
            ),
        ]
    )


def compile_kernel(source: str) -> types.ModuleType:
    # A module's dict (not a plain one) lets the JIT treat the globals as constants.
    module = types.ModuleType("jitpi_pypy_kernel")
    if intop is not None:
        module.__dict__.update(int_mul=intop.int_mul, uint_rshift=intop.uint_rshift)
    exec(compile(source, KERNEL_FILENAME, "exec"), module.__dict__)
    return module


# ---------------------------------------------------------------------------------------------
# The variants.


class Kernels:
    def __init__(self, philox: types.ModuleType) -> None:
        self.philox = philox
        self.source = write_kernel(philox, use_intop=intop is not None)
        self.kernel = compile_kernel(self.source)

    def loop_codes(self) -> tuple:
        return self.kernel.count_blocks.__code__, article_loop.__code__

    def warm_up(self) -> None:
        """Run each kernel's loop past PyPy's threshold (~1,000 iterations), so that the first
        request finds them compiled, whatever its n."""
        # From block 1, as every request's interior starts: PyPy iterates range(0, n) with another
        # class than range(1, n), and a loop traced on that one would leave through a bridge each time.
        self.kernel.count_blocks(1, 1 + WARM_UP_ITERATIONS, 0, 0)
        article_loop(random.Random(0).random, WARM_UP_ITERATIONS)

    def words(self, counters: list, key: list) -> list:
        schedule = self.kernel.round_keys(*key)
        return [list(self.kernel.block_words(*counter, *key, *schedule)) for counter in counters]

    def shared(self, first_block: int, end_block: int, start: int, end: int, seed: int) -> int:
        """Hits among samples [start, end) of blocks [first_block, end_block)."""
        if first_block >= end_block:
            return 0
        k0, k1 = self.philox.split_seed(seed)
        hits = self._edge_block(first_block, start, end, k0, k1)
        if end_block - 1 > first_block:
            hits += self._edge_block(end_block - 1, start, end, k0, k1)
            hits += self.kernel.count_blocks(first_block + 1, end_block - 1, k0, k1)
        return hits

    def _edge_block(self, block: int, start: int, end: int, k0: int, k1: int) -> int:
        schedule = self.kernel.round_keys(k0, k1)
        w0, w1, w2, w3 = self.kernel.block_words(block & MASK32, block >> 32, 0, 0, k0, k1, *schedule)
        take_even, take_odd = self.philox.sample_masks(2 * block, start, end)
        return int(take_even) * self.kernel.inside(w0, w1) + int(take_odd) * self.kernel.inside(w2, w3)

    @staticmethod
    def native(seed: int, first_chunk: int, chunks: int, chunk: int, samples: int) -> int:
        """The article's loop on ``samples`` samples of chunks [first_chunk, first_chunk + chunks),
        each a ``random.Random`` seeded by (seed, chunk index): the python backend's native stream."""
        hits = 0
        for index in range(first_chunk, first_chunk + chunks):
            count = min(chunk, samples)
            hits += article_loop(random.Random((seed << 64) | index).random, count)
            samples -= count
        return hits

    @staticmethod
    def naive(n: int, seed: int) -> int:
        """The article's function exactly: one ``random.Random(seed)`` stream."""
        return article_loop(random.Random(seed).random, n)


def article_loop(uniform, count: int) -> int:
    """The founding article's loop (jitpi.backends.python runs the same one under CPython)."""
    hits = 0
    for _ in range(count):
        x = uniform()
        y = uniform()
        if x * x + y * y < 1.0:
            hits += 1
    return hits


# ---------------------------------------------------------------------------------------------
# The server.


class LoopCounter:
    """The kernels' loops that PyPy's JIT has compiled to machine code in this process (its compile
    hook). Bridges (side exits compiled when a guard keeps failing) and the loops of this server's
    own code are not kernels and are not counted."""

    def __init__(self, kernels: Kernels) -> None:
        self.count = 0
        self.codes = kernels.loop_codes()
        if pypyjit is not None:
            pypyjit.set_compile_hook(self._compiled, operations=False)

    def _compiled(self, info) -> None:
        if info.type == "loop" and getattr(info.greenkey[0], "co_name", None) is not None:
            self.count += info.greenkey[0] in self.codes


def describe_interpreter() -> dict:
    pypy = getattr(sys, "pypy_version_info", None)
    return {
        "implementation": sys.implementation.name,
        "version": ".".join(str(part) for part in pypy[:3]) if pypy else None,
        "python": ".".join(str(part) for part in sys.version_info[:3]),
        "jit": pypyjit is not None,
        "intop": intop is not None,
    }


def watch_parent(parent_pid: int) -> None:
    """Exit as soon as the parent process is gone (re-parented), even in the middle of a count."""
    while True:
        if os.getppid() != parent_pid:
            os._exit(3)
        time.sleep(PARENT_POLL_SECONDS)


def serve(kernels: Kernels, requests, replies, loops: LoopCounter) -> None:
    operations = {
        "ping": lambda: None,
        "hello": describe_interpreter,
        "source": lambda: kernels.source,
        "words": kernels.words,
        "shared": kernels.shared,
        "native": kernels.native,
        "naive": kernels.naive,
        "crash": lambda code: os._exit(code),  # for the tests of the parent's recovery
    }
    for line in requests:
        try:
            request = json.loads(line)
            operation = operations[request["op"]]
            reply = {"ok": True, "result": operation(*request.get("args", ()))}
        except Exception as error:  # reported to the parent, which raises it; the worker lives on
            reply = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        reply["loops"] = loops.count
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


def main(argv: list) -> int:
    philox_path, parent_pid = argv[1], int(argv[2])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if os.getppid() != parent_pid:
        return 3
    threading.Thread(target=watch_parent, args=(parent_pid,), daemon=True, name="parent-watch").start()
    # Replies go to a copy of the original stdout; fd 1 becomes stderr, so no print can corrupt them.
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    kernels = Kernels(load_philox(philox_path))
    loops = LoopCounter(kernels)
    kernels.warm_up()
    serve(kernels, sys.stdin, replies, loops)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
