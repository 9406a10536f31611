# jitpi's shared stream in Mojo: Philox4x32-10 with Triton's counter layout (jitpi/philox.py),
# counted exactly, on every core. Built by jitpi/backends/mojo.py through `mojo.importer`
# (mojo 1.2.0, max 26.7.0); why it looks as it does: docs/backends/mojo.md.
#
# Block b has counter (b mod 2**32, b div 2**32, 0, 0) and key (seed mod 2**32, seed div 2**32);
# it gives sample 2b (words 0, 1) and 2b + 1 (words 2, 3). A sample is inside iff
# x*x < 2**62 - y*y for its words read as signed 32-bit x and y: exact integer arithmetic.

from std.atomic import Atomic
from std.math import iota
from std.os import abort
from std.python import Python, PythonObject
from std.python.bindings import PythonModuleBuilder

# parallelize is MAX's (the `max` wheel), not in the mojo wheel's standard library.
from max.algorithm import parallelize

# Blocks per loop step: 16 uint64 lanes are two AVX-512 registers (four AVX2 ones). Explicit SIMD
# is what makes Mojo fast here: a scalar loop is not vectorised for us (0.15x numba). 16 lanes
# beat 8 (the two register chains overlap) and 32 (register spills) on this machine.
comptime WIDTH = 16
comptime U64 = DType.uint64
comptime I64 = DType.int64

comptime MASK32: UInt64 = 0xFFFFFFFF
comptime MULTIPLIER_A: UInt64 = 0xD2511F53
comptime MULTIPLIER_B: UInt64 = 0xCD9E8D57
comptime KEY_INCREMENT_A: UInt64 = 0x9E3779B9
comptime KEY_INCREMENT_B: UInt64 = 0xBB67AE85
comptime INSIDE_BOUND: Int64 = 1 << 62


@export
def PyInit_jitpi_mojo_shared() abi("C") -> PythonObject:
    try:
        var module = PythonModuleBuilder("jitpi_mojo_shared")
        module.def_function[count](
            "count", docstring="Hits of both samples of every Philox block in [first, end)."
        )
        module.def_function[block_hits](
            "block_hits", docstring="One block's hits: even sample + 2 * odd sample."
        )
        module.def_function[words](
            "words", docstring="Philox4x32-10 of one counter and key, in the kernel's lanes."
        )
        return module.finalize()
    except e:
        abort(String("creating the jitpi_mojo_shared module failed: ", e))


@always_inline
def _rounds[
    width: Int
](
    mut c0: SIMD[U64, width],
    mut c1: SIMD[U64, width],
    mut c2: SIMD[U64, width],
    mut c3: SIMD[U64, width],
    key0: UInt64,
    key1: UInt64,
):
    """Philox4x32-10 on 32-bit words held in uint64 lanes (keys below 2**32).

    A word is masked where it enters a multiply: a masked word times a 32-bit constant is one
    32x32->64 vector multiply (vpmuludq). So only the low 32 bits of each result are Philox's.
    """
    var k0 = key0
    var k1 = key1
    comptime for _ in range(10):
        var product_a = (c0 & MASK32) * MULTIPLIER_A
        var product_b = (c2 & MASK32) * MULTIPLIER_B
        var next_c0 = (product_b >> 32) ^ c1 ^ k0
        var next_c2 = (product_a >> 32) ^ c3 ^ k1
        c1 = product_b
        c3 = product_a
        c0 = next_c0
        c2 = next_c2
        k0 = (k0 + KEY_INCREMENT_A) & MASK32
        k1 = (k1 + KEY_INCREMENT_B) & MASK32


@always_inline
def _low_signed[width: Int](word: SIMD[U64, width]) -> SIMD[I64, width]:
    """The low 32 bits of each lane as the signed 32-bit integer they encode."""
    return (word << 32).cast[I64]() >> 32


@always_inline
def _inside[width: Int](x: SIMD[U64, width], y: SIMD[U64, width]) -> SIMD[DType.bool, width]:
    var sx = _low_signed[width](x)
    var sy = _low_signed[width](y)
    return (sx * sx).lt(INSIDE_BOUND - sy * sy)


def _range_hits(first: Int, end: Int, key0: UInt64, key1: UInt64, opaque_zero: UInt64) -> Int64:
    """Hits of both samples of blocks [first, end), WIDTH blocks a step; the last step is masked.

    `opaque_zero` is 0 at run time: xored into the y words, it keeps LLVM from folding the sign
    extension of a product's low half into a 64-bit multiply (vpmullq, 3 uops) before the squares
    (numba's kernel needs the same trick).
    """
    comptime Lanes = SIMD[U64, WIDTH]
    var hits = SIMD[I64, WIDTH](0)
    var lane = iota[U64, WIDTH]()
    var block = first
    while block < end:
        var counter = Lanes(UInt64(block)) + lane
        var c0 = counter
        var c1 = counter >> 32
        var c2 = Lanes(0)
        var c3 = Lanes(0)
        _rounds[WIDTH](c0, c1, c2, c3, key0, key1)
        var valid = counter.lt(Lanes(UInt64(end)))
        var even = _inside[WIDTH](c0, c1 ^ opaque_zero) & valid
        var odd = _inside[WIDTH](c2, c3 ^ opaque_zero) & valid
        hits += even.cast[I64]() + odd.cast[I64]()
        block += WIDTH
    return hits.reduce_add()


def count(
    first_obj: PythonObject,
    end_obj: PythonObject,
    key0_obj: PythonObject,
    key1_obj: PythonObject,
    per_task_obj: PythonObject,
    workers_obj: PythonObject,
) raises -> PythonObject:
    """Blocks [first, end) cut into tasks of `per_task` blocks, which `workers` threads take in
    turn from an atomic counter (a busy core delays no one); each adds its int64 count once."""
    var first = Int(py=first_obj)
    var end = Int(py=end_obj)
    var key0 = UInt64(py=key0_obj)
    var key1 = UInt64(py=key1_obj)
    var per_task = Int(py=per_task_obj)
    var workers = Int(py=workers_obj)
    var opaque_zero = UInt64(py=workers_obj) ^ UInt64(workers)
    var tasks = (end - first + per_task - 1) // per_task
    var next_task = Atomic[Int64](0)
    var total = Atomic[Int64](0)

    def work(
        worker: Int,
    ) {mut next_task, mut total, first, end, key0, key1, per_task, tasks, opaque_zero}:
        var hits: Int64 = 0
        while True:
            var task = Int(next_task.fetch_add(1))
            if task >= tasks:
                break
            var lo = first + task * per_task
            hits += _range_hits(lo, min(lo + per_task, end), key0, key1, opaque_zero)
        _ = total.fetch_add(hits)

    if tasks > 0:
        parallelize(work, min(workers, tasks), min(workers, tasks))
    return PythonObject(Int(total.load()))


def block_hits(
    block_obj: PythonObject, key0_obj: PythonObject, key1_obj: PythonObject
) raises -> PythonObject:
    """The edge blocks of a range: even-sample hit + 2 * odd-sample hit of one block."""
    var counter = SIMD[U64, 1](UInt64(py=block_obj))
    var c0 = counter
    var c1 = counter >> 32
    var c2 = SIMD[U64, 1](0)
    var c3 = SIMD[U64, 1](0)
    _rounds[1](c0, c1, c2, c3, UInt64(py=key0_obj), UInt64(py=key1_obj))
    var even = Int(_inside[1](c0, c1).cast[I64]()[0])
    var odd = Int(_inside[1](c2, c3).cast[I64]()[0])
    return PythonObject(even + 2 * odd)


def words(
    c0_obj: PythonObject,
    c1_obj: PythonObject,
    c2_obj: PythonObject,
    c3_obj: PythonObject,
    key0_obj: PythonObject,
    key1_obj: PythonObject,
) raises -> PythonObject:
    """The raw words of the kernel's own round function at the kernel's width (every lane holds
    the same counter): the test hook for Random123's known answers."""
    comptime Lanes = SIMD[U64, WIDTH]
    var c0 = Lanes(UInt64(py=c0_obj))
    var c1 = Lanes(UInt64(py=c1_obj))
    var c2 = Lanes(UInt64(py=c2_obj))
    var c3 = Lanes(UInt64(py=c3_obj))
    _rounds[WIDTH](c0, c1, c2, c3, UInt64(py=key0_obj) & MASK32, UInt64(py=key1_obj) & MASK32)
    var out = Python.list()
    out.append(PythonObject(Int(c0[WIDTH - 1] & MASK32)))
    out.append(PythonObject(Int(c1[WIDTH - 1] & MASK32)))
    out.append(PythonObject(Int(c2[WIDTH - 1] & MASK32)))
    out.append(PythonObject(Int(c3[WIDTH - 1] & MASK32)))
    return out
