"""`_ufunc_call`: the prelude's call of a NumPy strided loop by its address (NOTE: [NumPy loops in a region]).

A module of its own because it imports numba, which the lowering (and so `numpy_loops`) never does: only the
prelude's generated source imports it, when numba compiles regions.
"""
from __future__ import annotations

from llvmlite import ir
from numba.core import cgutils, types
from numba.core.extending import intrinsic


@intrinsic
def _ufunc_call(typingctx, loop, context, auxdata, src, dst, n, src_stride, dst_stride):
    """loop(context, {src, dst}, {n}, {src_stride, dst_stride}, auxdata), every argument an int64 (addresses,
    a length, byte strides): NumPy's `PyArrayMethod_StridedLoop` of a unary ufunc, returning 0 on success."""
    sig = types.int32(*[types.int64] * 8)

    def codegen(context_, builder, signature, args):
        i8p = ir.IntType(8).as_pointer()
        i64 = ir.IntType(64)
        fnptr, ctx, aux, a, b, length, sa, sb = args
        data = cgutils.alloca_once(builder, ir.ArrayType(i8p, 2))
        dims = cgutils.alloca_once(builder, ir.ArrayType(i64, 1))
        strides = cgutils.alloca_once(builder, ir.ArrayType(i64, 2))
        zero = ir.Constant(ir.IntType(32), 0)
        for k, value in enumerate((a, b)):
            builder.store(builder.inttoptr(value, i8p), builder.gep(data, [zero, ir.Constant(ir.IntType(32), k)]))
        builder.store(length, builder.gep(dims, [zero, zero]))
        for k, value in enumerate((sa, sb)):
            builder.store(value, builder.gep(strides, [zero, ir.Constant(ir.IntType(32), k)]))
        fnty = ir.FunctionType(ir.IntType(32), [i8p, i8p.as_pointer(), i64.as_pointer(), i64.as_pointer(), i8p])
        fn = builder.inttoptr(fnptr, fnty.as_pointer())
        return builder.call(fn, [builder.inttoptr(ctx, i8p), builder.bitcast(data, i8p.as_pointer()),
                                 builder.bitcast(dims, i64.as_pointer()), builder.bitcast(strides, i64.as_pointer()),
                                 builder.inttoptr(aux, i8p)])
    return sig, codegen
