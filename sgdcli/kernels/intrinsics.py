"""Machine-level helpers that Numba does not expose: software prefetch, and single-instruction bit
operations (leading and trailing zero counts, the high half of a 64-bit product, a double from its bits,
an unaligned 8-byte load) for reading decimal text (decimal.py), and a double's bits for vecmath.py.

Rows of a shuffled block are visited in random order.  A block is larger than
the caches, so without help each row is a cache (and TLB) miss that the
hardware prefetcher cannot foresee.  Asking for the row a few steps ahead
while the current one is computed hides that latency, and helps rows in file
order too, since hardware prefetchers stop at page boundaries (`make bench`'s
batch rows measure training against the read passes).  A prefetch is only a hint:
it never faults, never changes a result, and compiles to nothing on machines
without the instruction.
"""

from __future__ import annotations

import sys

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

# Rows fetched ahead of the one being computed: far enough for the load to arrive
# before the row is needed, near enough that it is not evicted first.
AHEAD = 6

_LINE = 64  # bytes per cache line
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_I128 = ir.IntType(128)


def _prefetch_lines(builder, start, nbytes):
    """Emit a prefetch of every cache line of the ``nbytes`` bytes at address ``start`` (an i64)."""
    byte_ptr = ir.IntType(8).as_pointer()
    fn = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(ir.VoidType(), [byte_ptr, _I32, _I32, _I32]), "llvm.prefetch.p0i8"
    )
    with cgutils.for_range_slice(builder, ir.Constant(_I64, 0), nbytes, ir.Constant(_I64, _LINE)) as (offset, _):
        address = builder.inttoptr(builder.add(start, offset), byte_ptr)
        # read access, keep in all cache levels, data cache
        builder.call(fn, [address, ir.Constant(_I32, 0), ir.Constant(_I32, 3), ir.Constant(_I32, 1)])


@intrinsic
def prefetch_row(typingctx, arr, i):
    """Hint the CPU to load every cache line of row ``i`` of the 2-D array ``arr``."""
    if not (isinstance(arr, types.Array) and arr.ndim == 2 and isinstance(i, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        arr_ty, i_ty = signature.args
        ary = context.make_array(arr_ty)(context, builder, args[0])
        row = context.cast(builder, args[1], i_ty, types.intp)
        stride0, stride1 = cgutils.unpack_tuple(builder, ary.strides, 2)
        width = cgutils.unpack_tuple(builder, ary.shape, 2)[1]
        start = builder.add(builder.ptrtoint(ary.data, _I64), builder.mul(row, stride0))
        _prefetch_lines(builder, start, builder.mul(width, stride1))
        return context.get_dummy_value()

    return types.void(arr, i), codegen


@intrinsic
def prefetch_span(typingctx, arr, start, count):
    """Hint the CPU to load every cache line of ``arr[start:start + count]``, ``arr`` a contiguous 1-D array."""
    if not (isinstance(arr, types.Array) and arr.ndim == 1 and isinstance(start, types.Integer)
            and isinstance(count, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        arr_ty, start_ty, count_ty = signature.args
        ary = context.make_array(arr_ty)(context, builder, args[0])
        first = context.cast(builder, args[1], start_ty, types.intp)
        n = context.cast(builder, args[2], count_ty, types.intp)
        stride = cgutils.unpack_tuple(builder, ary.strides, 1)[0]
        address = builder.add(builder.ptrtoint(ary.data, _I64), builder.mul(first, stride))
        _prefetch_lines(builder, address, builder.mul(n, stride))
        return context.get_dummy_value()

    return types.void(arr, start, count), codegen


def _zero_count(name: str):
    """An intrinsic counting the zero bits at one end of an unsigned 64-bit integer (64 for 0): LLVM's
    ``llvm.<name>.i64``, one instruction."""

    def typer(typingctx, x):
        if x != types.uint64:
            return None

        def codegen(context, builder, signature, args):
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_I64, [_I64, ir.IntType(1)]),
                                                f"llvm.{name}.i64")
            return builder.call(fn, [args[0], ir.Constant(ir.IntType(1), 0)])

        return types.uint64(x), codegen

    return intrinsic(typer)


leading_zeros = _zero_count("ctlz")  # the zero bits above the highest one
trailing_zeros = _zero_count("cttz")  # the zero bits below the lowest one


@intrinsic
def high_product(typingctx, a, b):
    """The high 64 bits of the 128-bit product of two unsigned 64-bit integers (the low half is ``a * b``)."""
    if a != types.uint64 or b != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        product = builder.mul(builder.zext(args[0], _I128), builder.zext(args[1], _I128))
        return builder.trunc(builder.lshr(product, ir.Constant(_I128, 64)), _I64)

    return types.uint64(a, b), codegen


@intrinsic
def as_double(typingctx, bits):
    """The double whose IEEE 754 bits are ``bits``, an unsigned 64-bit integer."""
    if bits != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(bits), codegen


@intrinsic
def bits_of(typingctx, x):
    """The IEEE 754 bits of the double ``x``, as an unsigned 64-bit integer (``as_double``'s inverse)."""
    if x != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], _I64)

    return types.uint64(x), codegen


@intrinsic
def load8(typingctx, arr, i):
    """The bytes arr[i:i + 8] of a contiguous uint8 array as a little-endian unsigned 64-bit integer, read
    unaligned in one load; the caller checks that they exist."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.uint8 and arr.ndim == 1 and arr.layout == "C"
            and isinstance(i, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        at = context.cast(builder, args[1], signature.args[1], types.intp)
        word = builder.load(builder.bitcast(builder.gep(ary.data, [at]), _I64.as_pointer()), align=1)
        if sys.byteorder == "big":
            word = builder.call(cgutils.get_or_insert_function(builder.module, ir.FunctionType(_I64, [_I64]),
                                                               "llvm.bswap.i64"), [word])
        return word

    return types.uint64(arr, i), codegen
