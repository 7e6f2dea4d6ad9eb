"""The optimizer: a pass manager (manager.py) and one module per pass. See NOTE: [Pass contract]."""
from distjit.ops import fused as _fused  # noqa: F401  (declares fused.elementwise)
from distjit.passes.manager import (PASSES, PIPELINES, Pass, PassContext, Report, optimize,  # noqa: F401
                                    register_pass, run_passes)
from distjit.passes import dce, cse, fold, simplify, inline, specialize  # noqa: F401  (registration)
from distjit.passes import fuse, inplace, memplan  # noqa: F401  (registration)

__all__ = ["optimize", "run_passes", "register_pass", "PASSES", "PIPELINES", "Pass", "PassContext", "Report"]
