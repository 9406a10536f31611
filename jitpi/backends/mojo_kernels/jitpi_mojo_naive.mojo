# jitpi's naive variant in Mojo: the founding article's whole arrays. Built by
# jitpi/backends/mojo.py through `mojo.importer` (mojo 1.2.0, max 26.7.0); docs/backends/mojo.md.
#
# `seed(s)` then `rand` fills n float64 x, then n float64 y, from Mojo's one process-wide
# generator (a std.random.philox.Random keyed by s; each float64 takes two 32-bit words), then a
# loop counts the points inside. Serial by nature: that generator is shared by every thread.
# 16 bytes a sample; jitpi/backends/mojo.py bounds n by the memory available.

from std.memory import alloc
from std.os import abort
from std.python import PythonObject
from std.python.bindings import PythonModuleBuilder
from std.random import rand, seed


@export
def PyInit_jitpi_mojo_naive() abi("C") -> PythonObject:
    try:
        var module = PythonModuleBuilder("jitpi_mojo_naive")
        module.def_function[count](
            "count", docstring="Hits among n points of whole arrays from seed(s) and rand."
        )
        return module.finalize()
    except e:
        abort(String("creating the jitpi_mojo_naive module failed: ", e))


def count(n_obj: PythonObject, seed_obj: PythonObject) raises -> PythonObject:
    var n = Int(py=n_obj)
    seed(Int(UInt64(py=seed_obj)))  # Int keeps the 64 bits; seed() reads them back as a UInt64
    var x = alloc[Float64](n)
    var y = alloc[Float64](n)
    rand[DType.float64](x, n)
    rand[DType.float64](y, n)
    var hits = 0
    for i in range(n):
        if x[i] * x[i] + y[i] * y[i] < 1.0:
            hits += 1
    x.free()
    y.free()
    return PythonObject(hits)
