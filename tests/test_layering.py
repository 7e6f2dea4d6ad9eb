"""The package graph of distjit has no cycles, and Ray stays out of it.

Every import under `distjit/` and `scheduler/` is read with `ast`, including the
ones inside functions (a lazy import is still a dependency: it only hides the
cycle from the interpreter, not from the reader) and relative ones. Each import
is mapped to its unit: a package directly under `distjit/` (`distjit.ir`,
`distjit.passes`, ...) or a top-level module (`distjit.function`,
`distjit.errors`, ...); `scheduler` is one more unit. The test fails on a cycle
between units, on an import that goes up the declared layering, and on `ray`
imported anywhere under `distjit/` (Ray-dependent code belongs in `scheduler/`).

The layering itself is `LAYERS` below, lowest first; docs/ARCHITECTURE.md says why.
"""
import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Lowest layer first. A unit may import only units of lower layers: two units of one layer are peers
# that know nothing of each other. `distjit` is the package's `__init__.py`, the public API that
# re-exports everything; `scheduler.jobs` (Ray jobs) is a unit apart from the executors in `scheduler`,
# because the CLI submits jobs while Function.run uses the executors.
LAYERS = [
    ["distjit.errors", "distjit.types", "distjit.pytree", "distjit.version", "distjit.private_files"],
    ["distjit.ops"],
    ["distjit.ir"],
    ["distjit.core"],
    ["distjit.passes", "distjit.partition"],
    ["distjit.runtime"],
    ["scheduler"],
    ["distjit.function"],
    ["distjit.function_set"],
    ["distjit.frontend"],
    ["distjit.serialize"],
    ["distjit"],
    ["scheduler.jobs"],
    ["distjit.cli"],
    ["distjit.__main__"],
]


def _module_name(path):
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts), path.name == "__init__.py"


def _imports(path, name=None, is_package=False):
    """Every module named by an import statement of `path` (module `name`), absolute, anywhere in the file."""
    if name is None:
        name, is_package = _module_name(path)
    package = name if is_package else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                if not base:
                    raise AssertionError(f"{path}:{node.lineno}: relative import leaves the package")
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            yield node.lineno, module
            # `from distjit import passes` imports the submodule distjit.passes
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}"


def _unit(module):
    """The layering unit of a module name, or None for third-party modules."""
    parts = module.split(".")
    if parts[0] == "scheduler":
        return "scheduler.jobs" if parts[1:2] == ["jobs"] else "scheduler"
    if parts[0] != "distjit":
        return None
    if len(parts) == 1:
        return "distjit"
    candidate = ROOT / "distjit" / parts[1]
    if candidate.is_dir() or candidate.with_suffix(".py").is_file():
        return f"distjit.{parts[1]}"
    return None          # `from distjit import trace`: a name of the package's __init__, counted by its module


def _sources():
    for top in ("distjit", "scheduler"):
        yield from sorted((ROOT / top).rglob("*.py"))


def _edges():
    """{(from unit, to unit): [where]} for every import between different units."""
    edges = {}
    for path in _sources():
        src = _unit(_module_name(path)[0])
        for lineno, module in _imports(path):
            dst = _unit(module)
            if dst is None or dst == src:
                continue
            edges.setdefault((src, dst), []).append(f"{path.relative_to(ROOT)}:{lineno} imports {module}")
    return edges


def _cycles(edges):
    """The strongly connected components with more than one unit (Tarjan)."""
    graph = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _layer_of():
    return {unit: i for i, layer in enumerate(LAYERS) for unit in layer}


def test_every_unit_has_a_layer():
    layer_of = _layer_of()
    units = {_unit(_module_name(p)[0]) for p in _sources()}
    missing = sorted(u for u in units if u not in layer_of)
    assert not missing, f"units without a layer in LAYERS: {missing}"


def test_no_cycle_between_packages():
    edges = _edges()
    cycles = _cycles(edges)
    lines = []
    for component in cycles:
        lines.append(" <-> ".join(component))
        for (a, b), where in sorted(edges.items()):
            if a in component and b in component:
                lines.append(f"  {a} -> {b}: " + "; ".join(where[:3]))
    assert not cycles, "import cycles between packages:\n" + "\n".join(lines)


def test_imports_follow_the_layering():
    layer_of = _layer_of()
    upward = []
    for (a, b), where in sorted(_edges().items()):
        if layer_of.get(b, -1) > layer_of.get(a, -1):
            upward.append(f"{a} (layer {layer_of[a]}) -> {b} (layer {layer_of[b]}): " + "; ".join(where[:3]))
        elif layer_of.get(b) == layer_of.get(a):
            upward.append(f"{a} -> {b} (same layer {layer_of[a]}): " + "; ".join(where[:3]))
    assert not upward, "imports against the layering:\n" + "\n".join(upward)


def test_no_ray_under_distjit():
    found = []
    for path in sorted((ROOT / "distjit").rglob("*.py")):
        for lineno, module in _imports(path):
            if module == "ray" or module.startswith("ray."):
                found.append(f"{path.relative_to(ROOT)}:{lineno} imports {module}")
    assert not found, "Ray belongs in scheduler/:\n" + "\n".join(found)


def test_the_scanner_sees_lazy_and_relative_imports(tmp_path):
    """The checks above are only as good as the scanner: function-local and relative imports count."""
    probe = tmp_path / "probe.py"
    probe.write_text("import numpy\n"
                     "def f():\n"
                     "    import ray.util\n"
                     "    from . import sibling\n"
                     "    from ..ir import graph\n"
                     "    if True:\n"
                     "        from distjit.passes.memplan import plan_memory\n")
    found = {module for _, module in _imports(probe, "distjit.runtime.probe")}
    assert {"numpy", "ray.util", "distjit.runtime.sibling", "distjit.ir.graph", "distjit.passes.memplan"} <= found
    units = {_unit(m) for m in found} - {None}
    assert units == {"distjit.runtime", "distjit.ir", "distjit.passes"}


def test_the_cycle_finder_finds_cycles():
    edges = {("a", "b"): [], ("b", "c"): [], ("c", "a"): [], ("c", "d"): [], ("d", "e"): [], ("e", "d"): []}
    assert sorted(_cycles(edges)) == [["a", "b", "c"], ["d", "e"]]
    assert _cycles({("a", "b"): [], ("b", "c"): [], ("a", "c"): []}) == []
