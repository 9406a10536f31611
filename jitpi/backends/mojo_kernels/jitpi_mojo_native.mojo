# jitpi's native variant in Mojo: Mojo's own generator, counted on every core. Built by
# jitpi/backends/mojo.py through `mojo.importer` (mojo 1.2.0, max 26.7.0); docs/backends/mojo.md.
#
# Mojo's `random` functions (`random_float64`, `rand`) draw from one process-wide
# std.random.philox.Random shared by every thread, which the standard library documents as a data
# race under threads. So each task here owns a `Random` of its own, the same generator, placed at
# the task's first sample: sample i is lanes (0, 1) or (2, 3) of step i // 2 of
# Random(seed=key, offset=0), read with `step_uniform` (float32 in [0, 1)). The count depends on
# (key, i) alone: not on threads, tasks or chunk.

from std.atomic import Atomic
from std.os import abort
from std.python import PythonObject
from std.python.bindings import PythonModuleBuilder
from std.random.philox import Random

from max.algorithm import parallelize


@export
def PyInit_jitpi_mojo_native() abi("C") -> PythonObject:
    try:
        var module = PythonModuleBuilder("jitpi_mojo_native")
        module.def_function[count](
            "count", docstring="Hits among samples [first, end) of Mojo's generator."
        )
        return module.finalize()
    except e:
        abort(String("creating the jitpi_mojo_native module failed: ", e))


@always_inline
def _inside(x: Float32, y: Float32) -> Int64:
    """x*x + y*y < 1 in float64. Each square of a float32 is exact in float64, so the one rounding
    of the sum is the only one, and LLVM's FMA contraction (which it does) cannot change a count."""
    var x64 = x.cast[DType.float64]()
    var y64 = y.cast[DType.float64]()
    return Int64(1) if x64 * x64 + y64 * y64 < 1.0 else Int64(0)


def _range_hits(first: Int, end: Int, key: UInt64) -> Int64:
    """Hits among samples [first, end), from a generator placed at sample `first`'s step."""
    var rng = Random(seed=key, offset=UInt64(first // 2))
    var hits: Int64 = 0
    var sample = first
    if sample % 2 == 1 and sample < end:  # starts on a step's second point
        var u = rng.step_uniform()
        hits += _inside(u[2], u[3])
        sample += 1
    while sample + 1 < end:
        var u = rng.step_uniform()
        hits += _inside(u[0], u[1]) + _inside(u[2], u[3])
        sample += 2
    if sample < end:  # ends on a step's first point
        var u = rng.step_uniform()
        hits += _inside(u[0], u[1])
    return hits


def count(
    first_obj: PythonObject,
    end_obj: PythonObject,
    key_obj: PythonObject,
    per_task_obj: PythonObject,
    workers_obj: PythonObject,
) raises -> PythonObject:
    """Samples [first, end) cut into tasks of `per_task` samples, which `workers` threads take in
    turn from an atomic counter; each adds its int64 count once."""
    var first = Int(py=first_obj)
    var end = Int(py=end_obj)
    var key = UInt64(py=key_obj)
    var per_task = Int(py=per_task_obj)
    var workers = Int(py=workers_obj)
    var tasks = (end - first + per_task - 1) // per_task
    var next_task = Atomic[Int64](0)
    var total = Atomic[Int64](0)

    def work(worker: Int) {mut next_task, mut total, first, end, key, per_task, tasks}:
        var hits: Int64 = 0
        while True:
            var task = Int(next_task.fetch_add(1))
            if task >= tasks:
                break
            var lo = first + task * per_task
            hits += _range_hits(lo, min(lo + per_task, end), key)
        _ = total.fetch_add(hits)

    if tasks > 0:
        parallelize(work, min(workers, tasks), min(workers, tasks))
    return PythonObject(Int(total.load()))
