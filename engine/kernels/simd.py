"""Vector compares and bit scans that Numba cannot spell, for bitmaps without a loop per record.

Numba has no way to say "compare 64 bytes at once and give me the bits", and
LLVM does not find it in a loop that shifts one bit per record. This module
writes that compare in LLVM's own vector form, which it turns into the best
the machine has: one instruction on AVX-512 (``vpcmpeqb`` into a mask
register), two compares and two ``vpmovmskb`` on AVX2, and plain code on
machines without vectors. :func:`nonzero_bits` does the same for 64 bitmap
words, and :func:`trailing_zeros` is LLVM's ``cttz`` (one ``tzcnt``), for
walking the set bits of a word. They are used in ordinary ``@njit`` kernels.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

#: Records per bitmap word, and per vector compare.
LANES = 64


@intrinsic
def equal_bits(typingctx, column, start, value):
    """uint64 with bit ``i`` set where ``column[start + i] == value``, for ``i < 64``.

    ``column`` is a contiguous 1-d array of integer codes and must hold
    ``start + 64`` elements: the caller handles a shorter tail itself.
    """
    if not (isinstance(column, types.Array) and column.ndim == 1 and column.layout == "C"):
        return None
    if not isinstance(column.dtype, types.Integer):
        return None
    width = column.dtype.bitwidth
    signature = types.uint64(column, types.int64, column.dtype)

    def codegen(context, builder, sig, args):
        array, lo, wanted = args
        data = context.make_array(sig.args[0])(context, builder, array).data
        vector = ir.VectorType(ir.IntType(width), LANES)
        pointer = builder.bitcast(builder.gep(data, [lo]), vector.as_pointer())
        codes = builder.load(pointer, align=1)
        undefined = ir.Constant(vector, ir.Undefined)
        one = builder.insert_element(undefined, wanted, ir.Constant(ir.IntType(32), 0))
        zeros = ir.Constant(ir.VectorType(ir.IntType(32), LANES), [0] * LANES)
        spread = builder.shuffle_vector(one, undefined, zeros)
        equal = builder.icmp_unsigned("==", codes, spread)
        return builder.bitcast(equal, ir.IntType(LANES))

    return signature, codegen


@intrinsic
def nonzero_bits(typingctx, words, start):
    """uint64 with bit ``i`` set where ``words[start + i] != 0``, for ``i < 64``.

    ``words`` is a contiguous 1-d uint64 array and must hold ``start + 64``
    elements. It finds the few set words of a sparse bitmap without a branch
    per word (eight vector compares on AVX-512).
    """
    if not (isinstance(words, types.Array) and words.ndim == 1 and words.layout == "C"):
        return None
    if words.dtype != types.uint64:
        return None
    signature = types.uint64(words, types.int64)

    def codegen(context, builder, sig, args):
        array, lo = args
        data = context.make_array(sig.args[0])(context, builder, array).data
        vector = ir.VectorType(ir.IntType(64), LANES)
        pointer = builder.bitcast(builder.gep(data, [lo]), vector.as_pointer())
        loaded = builder.load(pointer, align=8)
        nonzero = builder.icmp_unsigned("!=", loaded, ir.Constant(vector, None))
        return builder.bitcast(nonzero, ir.IntType(LANES))

    return signature, codegen


@intrinsic
def trailing_zeros(typingctx, x):
    """Index of the lowest set bit of a non-zero uint64 (one ``tzcnt``)."""
    if x != types.uint64:
        return None
    signature = types.int64(types.uint64)

    def codegen(context, builder, sig, args):
        word = ir.IntType(64)
        kind = ir.FunctionType(word, [word, ir.IntType(1)])
        function = builder.module.declare_intrinsic("llvm.cttz", [word], kind)
        return builder.call(function, [args[0], ir.Constant(ir.IntType(1), 0)])

    return signature, codegen
