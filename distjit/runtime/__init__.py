"""The runtime: running a Graph (the reference interpreter, the generated code, fused evaluation, row blocks).

Importing it binds fused.elementwise's evaluator into the op registry, which sits below
the runtime and cannot import it (see distjit/ops/fused.py).
"""
from distjit.ops.fused import bind_evaluator
from distjit.runtime.fused_eval import evaluate

bind_evaluator(evaluate)
