"""`collector_paused`: run a step that builds or rewrites IR with Python's cyclic garbage collector off.

Tracing, optimizing, generating code, cutting a graph into stages and loading a file each
allocate small linked objects (nodes, values, blocks, AST nodes) by the thousand, nearly all
of them reachable until the step returns. The collector's passes over them find nothing to
free, and each full pass walks every live object of the process, so a step costs more the
more the process holds (a test session, a notebook). The collector is per process: threads
running meanwhile go without it for as long. Steps nest; only the outermost turns it back on.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def collector_off():
    """The cyclic collector is off inside the block (and back on after it, if it was on before)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def collector_paused(fn):
    """Decorator: `fn` runs with the cyclic collector off (see the module docstring)."""
    return collector_off()(fn)      # a contextmanager's object decorates, with a fresh block per call
