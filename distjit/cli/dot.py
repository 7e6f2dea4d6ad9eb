"""A Graph or a Plan as Graphviz DOT text (`distjit dot`), and rendering it with the `dot` binary.

Graph: inputs and parameters are ellipses, nodes are boxes labelled with their op and source line,
edges carry the value's type; an If's or Loop's blocks are clusters inside their node's cluster.
Plan: one box per task (name, stage, estimated time), grouped by stage, edges from producer task
to consumer; arguments and parameters feed the tasks that read them; outputs collect the tasks.
"""
from __future__ import annotations

import os
import shutil
import subprocess

from distjit.errors import DistJitError


def _q(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def graph_dot(graph, title: str | None = None) -> str:
    ids: dict[int, str] = {}      # id(Value) -> dot node producing it
    lines = [f"digraph {_q(title or graph.name)} {{", "  rankdir=TB;",
             '  node [fontname="Helvetica", fontsize=10]; edge [fontname="Helvetica", fontsize=8];']
    counter = [0]

    def new(prefix: str) -> str:
        counter[0] += 1
        return f"{prefix}{counter[0]}"

    for v in graph.inputs:
        ids[id(v)] = n = new("in")
        lines.append(f"  {n} [shape=ellipse, style=filled, fillcolor=lightblue, label={_q(f'%{v.name}: {v.type}')}];")
    for v in graph.params:
        ids[id(v)] = n = new("param")
        lines.append(f"  {n} [shape=ellipse, style=filled, fillcolor=lightyellow, "
                     f"label={_q(f'{v.name}: {v.type}')}];")

    def block(b, indent: str) -> None:
        for v in b.params:
            if id(v) not in ids:
                ids[id(v)] = n = new("bp")
                lines.append(f"{indent}{n} [shape=ellipse, label={_q('%' + v.name)}];")
        for node in b.nodes:
            n = new("n")
            label = node.op + (f"\n{node.loc}" if node.loc is not None else "")
            if node.blocks:
                lines.append(f"{indent}subgraph cluster_{n} {{ label={_q(node.op)}; style=rounded;")
                lines.append(f"{indent}  {n} [shape=box, style=bold, label={_q(label)}];")
                for k, sub in enumerate(node.blocks):
                    lines.append(f"{indent}  subgraph cluster_{n}_{k} {{ label={_q(f'block {k}')}; style=dashed;")
                    block(sub, indent + "    ")
                    lines.append(f"{indent}  }}")
                lines.append(f"{indent}}}")
            else:
                lines.append(f"{indent}{n} [shape=box, label={_q(label)}];")
            for v in node.inputs:
                if id(v) in ids:
                    lines.append(f"{indent}{ids[id(v)]} -> {n} [label={_q(str(v.type))}];")
            for v in node.outputs:
                ids[id(v)] = n

    block(graph.block, "  ")
    for k, v in enumerate(graph.outputs):
        n = new("out")
        lines.append(f"  {n} [shape=ellipse, style=filled, fillcolor=palegreen, label={_q(f'output {k}: {v.type}')}];")
        if id(v) in ids:
            lines.append(f"  {ids[id(v)]} -> {n};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def plan_dot(plan) -> str:
    lines = [f"digraph {_q('plan ' + plan.name)} {{", "  rankdir=TB;",
             '  node [fontname="Helvetica", fontsize=10]; edge [fontname="Helvetica", fontsize=8];']
    for i, name in enumerate(plan.input_names):
        label = f"{name}\n{plan.inputs[i]}"
        lines.append(f"  arg{i} [shape=ellipse, style=filled, fillcolor=lightblue, label={_q(label)}];")
    for j, name in enumerate(plan.params):
        lines.append(f"  param{j} [shape=ellipse, style=filled, fillcolor=lightyellow, label={_q(name)}];")
    for stage in range(plan.stages):
        lines.append(f"  subgraph cluster_stage{stage} {{ label={_q(f'stage {stage}')}; style=dashed;")
        for i, t in enumerate(plan.tasks):
            if t.stage == stage:
                label = f"t{i} {t.name}\n{plan.subgraphs[t.subgraph].node_count()} nodes, est {t.seconds * 1e3:.2f} ms"
                lines.append(f"    t{i} [shape=box, label={_q(label)}];")
        lines.append("  }")
    seen = set()
    for i, t in enumerate(plan.tasks):
        for s in t.inputs:
            src = {"arg": f"arg{s.index}", "param": f"param{s.index}", "task": f"t{s.index}"}[s.kind]
            edge = (src, i, str(s))
            if edge in seen:
                continue
            seen.add(edge)
            label = f"[{s.shard}]" if s.kind == "arg" and s.shard is not None else \
                (f".{s.output}" if s.kind == "task" else "")
            lines.append(f"  {src} -> t{i}" + (f" [label={_q(label)}];" if label else ";"))
    for k, o in enumerate(plan.outputs):
        how = "whole" if o.axis is None else f"concat axis {o.axis}"
        lines.append(f"  out{k} [shape=ellipse, style=filled, fillcolor=palegreen, label={_q(f'output {k} ({how})')}];")
        for s in o.sources:
            src = {"arg": f"arg{s.index}", "param": f"param{s.index}", "task": f"t{s.index}"}[s.kind]
            lines.append(f"  {src} -> out{k};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write(text: str, path: str) -> None:
    """Write DOT text to `path`: as is for .dot/.gv, rendered by Graphviz for .svg/.png/.pdf."""
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext in ("dot", "gv"):
        _atomic(path, text.encode())
        return
    if ext not in ("svg", "png", "pdf"):
        raise DistJitError(f"-o {path}: write a .dot, .gv, .svg, .png or .pdf file")
    exe = shutil.which("dot")
    if exe is None:
        raise DistJitError(f"-o {path}: rendering .{ext} needs Graphviz's `dot`, which is not installed "
                           f"(apt-get install graphviz / brew install graphviz); -o file.dot works without it")
    proc = subprocess.run([exe, f"-T{ext}"], input=text.encode(), capture_output=True, timeout=120)
    if proc.returncode != 0:
        raise DistJitError(f"Graphviz failed to render {path}: {proc.stderr.decode(errors='replace').strip()}")
    _atomic(path, proc.stdout)


def _atomic(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)
