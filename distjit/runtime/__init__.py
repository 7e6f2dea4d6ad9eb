"""The runtime: running a Graph (the reference interpreter, the generated code, fused evaluation, row blocks).

Importing it binds fused.elementwise's evaluator (and ufunc.at's native vector path) into the op registry, which sits below
the runtime and cannot import it (see distjit/ops/fused.py), and the native backend's
answers to "will this loop, this fused region, run natively?" into the cost model, which
sits below it too (NOTE: [How a loop is costed] in distjit/partition/cost.py).
"""
from distjit.ops.fused import bind_evaluator
from distjit.ops.ufunc_methods import bind_native_at
from distjit.partition.cost import bind_native
from distjit.runtime import native
from distjit.runtime.fused_eval import evaluate, runs_natively
from distjit.runtime.scatter_native import scatter

bind_evaluator(evaluate)
bind_native_at(scatter)
bind_native(native.lowers, runs_natively)
