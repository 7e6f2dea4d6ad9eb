"""Shared helpers: run passes on IR text, compare printed IR with goldens."""
from __future__ import annotations

import textwrap

from distjit.ir import Graph
from distjit.passes import run_passes


def run_text(text: str, *passes: str, level: int = 2, max_rewrites=None):
    """Parse `text`, run `passes` (verifying after each), return (printed graph, report)."""
    graph = Graph.parse(textwrap.dedent(text).strip())
    graph.verify()
    report = run_passes(graph, passes, level=level, verify=True, max_rewrites=max_rewrites)
    out = str(graph)
    again = Graph.parse(out)
    assert str(again) == out, "optimized IR does not round-trip through the text form"
    return out, report


def golden(text: str) -> str:
    return textwrap.dedent(text).strip()
