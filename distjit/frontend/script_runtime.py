"""The helpers that rewritten code calls (`_dj.if_`, `_dj.while_`, `_dj.for_`, ...): Python or graph, decided per call.

A construct whose condition is a Python value runs as Python (the tracer records
whatever the chosen path computes). A traced condition builds `prim.If` or
`prim.Loop`: each branch or body is traced into its own Block with the same
`ScriptContext`, and the *state* (the names the construct assigns, plus every
traced array it updates in place) becomes the node's outputs or carried values.

This module is that namespace (`_dj` in the rewritten code, see script_convert.py):
it only gathers the helpers from the modules that implement them.
"""
from distjit.frontend.script_calls import call  # noqa: F401
from distjit.frontend.script_context import undefined, undefined_return  # noqa: F401
from distjit.frontend.script_if import and_, if_, ifexp, or_  # noqa: F401
from distjit.frontend.script_loops import for_, range_, while_  # noqa: F401
from distjit.frontend.script_truth import assert_, not_, not_any, raise_  # noqa: F401
from distjit.frontend.script_iter import chain, comprehension, star, unpack  # noqa: F401


def new_list(items: list) -> list:
    from distjit.frontend.script_context import active

    return active().new_list(items)


def set_shape(array, shape, site):
    """`array.shape = shape`: the same array object takes the new shape, as NumPy's in-place reshape does
    (every name bound to it sees it; a view's base keeps its own)."""
    from distjit.frontend.proxy import TracedArray
    from distjit.frontend.script_context import active

    if not isinstance(array, TracedArray):
        array.shape = shape
        return
    ctx = active()
    if id(array) in ctx.arguments:
        from distjit.frontend.script_convert import site_error

        raise site_error(site, "setting .shape of an argument would reshape the caller's array",
                         "reshape a copy instead: x = x.reshape(...)")
    reshaped = array.reshape(shape)
    ctx.note(array)
    array._value, array._view = ctx.current(reshaped), None
    array._version += 1


def check_store(target, site, key=None):
    """Before `target[k] = v` (or `target[k] += v`, `key` giving k): a Python list or dict may change only where
    it was made (ScriptContext); an augmented update of an array item changes the array, not the container."""
    if isinstance(target, (list, dict)):
        from distjit.frontend.proxy import TracedArray
        from distjit.frontend.script_context import active

        if key is not None:
            try:
                item = target[key()]
            except Exception:
                item = None
            if isinstance(item, TracedArray):
                return
        active().check_list_mutation(target, site)
