"""The inputs of a trace for arguments that share memory (NOTE: [Aliased arguments] in runtime/aliased_args.py).

A call's alias pattern names, for each argument that shares memory with another, the array
it is a view of (another argument or a hidden base, an extra graph input) and the basic index
that makes it. Giving the user's function that argument as the traced view (`base[index]`,
or the very proxy for the same array) lets the tracer's functionalization keep NumPy's
semantics: a write through either reaches the other. The linked argument's own graph input
stays, unused, so the graph keeps its calling convention. A scripted variant takes the
indices' numbers as int inputs after the hidden bases, so one graph serves every offset.
"""
from __future__ import annotations

from typing import Sequence

from distjit.runtime.aliased_args import AliasPattern, as_index, dynamic_index

__all__ = ["linked_proxies", "hidden_name", "shares_an_array"]


def hidden_name(k: int) -> str:
    """The graph input name of the k-th hidden base."""
    return f"alias_base{k}"


def linked_proxies(proxies: Sequence, hidden: Sequence, pattern: AliasPattern, numbers: Sequence | None = None) -> list:
    """The proxies the function is given: `proxies`, each linked argument replaced by its view of its source
    (`hidden` holds the proxies of the hidden bases, numbered after the arguments). `numbers`: the traced ints
    of the pattern's indices (`AliasPattern.index_values`), for a variant that takes them as inputs; else the
    pattern's own numbers are the index."""
    sources = [*proxies, *hidden]
    out = list(proxies)
    values = None if numbers is None else list(numbers)
    for (leaf, source, index), (_, _, kinds) in zip(pattern.links, pattern.structure[0]):
        base = sources[source]
        if index is None:
            out[leaf] = base
        elif values is None:
            out[leaf] = base[as_index(index)]
        else:
            forward, reverse = dynamic_index(kinds, values)
            view = base[forward]
            out[leaf] = view if reverse is None else view[reverse]
    return out


def shares_an_array(leaves: Sequence, mutated: Sequence[int]) -> tuple[int, int] | None:
    """(i, j) when the traced argument i, which a callee updates in place, is argument j or a view of the same
    traced array as it (so a graph embedded with them as two inputs would read j's old value); else None."""
    from distjit.frontend.proxy import TracedArray

    roots = [_root(x) if isinstance(x, TracedArray) else None for x in leaves]
    for i in mutated:
        if roots[i] is None:
            continue
        for j, root in enumerate(roots):
            if j != i and root is roots[i]:
                return i, j
    return None


def _root(proxy):
    while proxy._view is not None:
        proxy = proxy._view[0]
    return proxy
