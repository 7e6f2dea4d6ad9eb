"""Every op declares the facts the pipeline asks the registry for, and the facts agree with each other.

The passes, the runtime, the partitioner, the frontends and the serializer keep no tables of op names:
they ask `OpDef`. So a fact missing from a declaration is a feature silently lost for that op (no
fusion, no sharding, a buffer never reused) or a crash far from the declaration; this walk of the
registry fails at the declaration instead.
"""
from __future__ import annotations

import inspect
import string

import numpy as np
import pytest

from distjit.ops import REGISTRY, get_op
from distjit.ops.dist import PARTIAL_ARITY
from distjit.ops.registry import FRESH, MAY_ALIAS, Effect, InverseView, Kind, Reduction, ViewOf
from distjit.types import TensorType

OPS = list(REGISTRY)
# The IR's own ops, which the runtime gives their meaning (no kernel).
RUNTIME_OPS = {"control", "call", "constant"}


def _ids(ops):
    return [op.name for op in ops]


def _operand_count(opdef) -> int | None:
    """How many operands a call has, when the parameters fix it (None: a variadic op)."""
    kinds = [p.kind for p in opdef.params]
    return None if Kind.OPERANDS in kinds else kinds.count(Kind.OPERAND)


def _accepts_out(kernel) -> bool:
    if isinstance(kernel, np.ufunc):
        return True
    try:
        return "out" in inspect.signature(kernel).parameters
    except (TypeError, ValueError):
        return False


def _placeholders(template: str) -> set:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def test_the_registry_is_not_empty():
    assert len(OPS) > 150


@pytest.mark.parametrize("opdef", OPS, ids=_ids(OPS))
def test_every_op_declares_what_the_pipeline_asks(opdef):
    name = opdef.name
    # What every stage needs: how to call it, how to type it, whether it may be moved or merged.
    assert callable(opdef.infer), f"{name}: no infer"
    assert opdef.effect in tuple(Effect), f"{name}: effect not declared"
    if not opdef.flags & RUNTIME_OPS:
        assert callable(opdef.kernel), f"{name}: no kernel"
    assert opdef.doc, f"{name}: no doc"
    # Aliasing: the memory planner, scratch buffers and row blocks rely on it.
    assert opdef.alias in (FRESH, MAY_ALIAS) or isinstance(opdef.alias, ViewOf), f"{name}: alias {opdef.alias!r}"
    n = _operand_count(opdef)
    if isinstance(opdef.alias, ViewOf) and n is not None:
        assert 0 <= opdef.alias.input < n, f"{name}: a view of input {opdef.alias.input} of {n}"
    assert ("view" in opdef.flags) == isinstance(opdef.alias, ViewOf), f"{name}: the view flag and alias disagree"
    # out=: codegen and scratch buffers pass it to the kernel.
    if opdef.takes_out:
        assert _accepts_out(opdef.kernel), f"{name}: takes_out, but its kernel has no out="
        assert opdef.returns_fresh, f"{name}: writes into a given buffer, so its result is fresh memory"
    # Fusion: the fused evaluator writes each member into a slot, through out= or the op's numpy template.
    if opdef.fusible is not False:
        assert "elementwise" in opdef.flags, f"{name}: fusible but not elementwise"
        assert opdef.shard is not None, f"{name}: fusible but has no sharding rule (a fused node shards)"
        if opdef.custom is None:
            assert opdef.takes_out or callable(opdef.templates.get("numpy")), \
                f"{name}: fusible, but neither takes out= nor declares a numpy template"
    # Sharding: every elementwise op and reduction splits; the rule is a function of (node, ins).
    if opdef.shard is not None:
        assert list(inspect.signature(opdef.shard).parameters)[:2] == ["node", "ins"], f"{name}: shard signature"
    if opdef.flags & {"elementwise", "reduction"}:
        assert opdef.shard is not None, f"{name}: no sharding rule"
    # Reductions: the partitioner combines partials of `kind`; "reduction" and "cumulative" mean a Reduction.
    if opdef.flags & {"reduction", "cumulative"}:
        assert isinstance(opdef.reduction, Reduction), f"{name}: a reduction without a Reduction"
    if opdef.reduction is not None:
        r = opdef.reduction
        assert r.kind is None or r.kind in PARTIAL_ARITY, f"{name}: combine kind {r.kind!r} unknown to dist.*"
        assert not r.partials or r.kind is not None, f"{name}: partials without a combine kind"
        assert r.cumulative == ("cumulative" in opdef.flags), f"{name}: cumulative flag and fact disagree"
        combine = next((f.split(":", 1)[1] for f in opdef.flags if f.startswith("combine:")), None)
        assert combine == r.kind or combine is None and r.kind is None, f"{name}: combine flag and kind disagree"
    # Backend templates.
    numba = opdef.templates.get("numba")
    if numba is not None:
        # read by fused evaluation (fusible ops) and by the native backend's loops (those, the py.* scalars, np.dot)
        assert opdef.fusible is not False or opdef.flags & {"scalar", "contraction"}, \
            f"{name}: a numba template for an op that neither fuses nor is a scalar op or a contraction"
        count = _operand_count(opdef)
        assert {int(f) for f in _placeholders(numba)} <= set(range(count)), f"{name}: numba template operands"
    python = opdef.templates.get("python")
    if python is not None:
        attrs = {p.name for p in opdef.params if p.kind is Kind.ATTR}
        assert {f for f in _placeholders(python) if not f.isdigit()} <= attrs, f"{name}: python template attrs"
    # Functionalization: an inverse view is for a view, and names an op that exists.
    if opdef.inverse_view is not None:
        assert isinstance(opdef.alias, ViewOf), f"{name}: an inverse view, but not a view"
    # The serializer accepts graphs only in declared graph attributes.
    declared = {p.name for p in opdef.params if p.kind is Kind.ATTR}
    assert set(opdef.graph_attrs) <= declared, f"{name}: graph_attrs {opdef.graph_attrs} not attributes"
    # The frontends find an op by the callables that record it.
    for src in opdef.sources:
        found = REGISTRY.for_source(*src) if isinstance(src, tuple) else REGISTRY.for_source(src)
        assert found is opdef, f"{name}: source {src!r} records {found and found.name}"


@pytest.mark.parametrize("name", ["np.reshape", "np.ravel", "np.squeeze", "np.expand_dims", "np.transpose",
                                  "np.swapaxes", "np.flip", "np.moveaxis", "array.getitem"])
def test_inverse_views_name_registered_ops(name):
    opdef = get_op(name)
    attrs = {"np.reshape": {"shape": (6,)}, "np.ravel": {}, "np.squeeze": {"axis": None},
             "np.expand_dims": {"axis": 0}, "np.transpose": {"axes": (1, 0)},
             "np.swapaxes": {"axis1": 0, "axis2": 1}, "np.flip": {"axis": 0},
             "np.moveaxis": {"source": 0, "destination": 1}, "array.getitem": {"index": (0,)}}[name]
    back = opdef.inverse_view(attrs, TensorType(np.dtype(np.float64), (2, 3)))
    assert isinstance(back, InverseView) and back.op in REGISTRY


def test_ufunc_methods_record_the_named_reductions():
    assert REGISTRY.for_source(np.add, "reduce").name == "np.sum"
    assert REGISTRY.for_source(np.multiply, "accumulate").name == "np.cumprod"
    assert REGISTRY.for_source(np.subtract, "reduce") is None
