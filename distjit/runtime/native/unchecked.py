"""Unit-stride vector loops of a region as helpers compiled without bounds checks, so LLVM vectorizes them.

NOTE: [Unchecked loops]
A region is compiled with ``boundscheck=True`` (NOTE: [Bounds] in region.py). Inside a
one-axis elementwise loop (``out[t] = f(a[t * sa], b[t * sb])``) the per-element check and
the run-time step keep LLVM from vectorizing, though the lowering has already proven every
read in range: before the loop, each operand's length is 1 (step 0) or the loop's bound
(step 1), else NumPy's broadcast ValueError is raised. The lowering therefore versions such a
loop: it calls a helper compiled with ``boundscheck=False`` whose body is the same element
expression, read at ``a[t]``, over the operands made n long first (lower.py's `_widen`: the
operand itself when every step is 1, or, broadcast from length 1, a fresh vector of its one
element, read before anything is written, as NumPy reads it), so a region compiles neither a
checked loop for that rare case nor a second call of the helper. A write
into a view of more axes (and a scalar written into a view) runs the helper over each row,
the last axis: the outer axes index the rows in the region, bounds-checked, and a last-axis
step of 1 proves each operand's row as long as the target's (a row of length 1, broadcast, is
widened as a vector is, by a call made only for such a row); an operand whose last axis is of
length 1 in its type (a column view, np.outer's column) is read there, one value per row, and
passed to the helper as a scalar (the checked loop runs when its last axis is not of length 1
at run time).

The proof is checked here, on the helper's own source, not trusted from the caller: every
subscript in the helper must be ``X[t]`` with t the loop variable (running over
``range(n)``) and X one of the arrays the caller names as proven to have length n. Any other
subscript (or none of the expected shape) refuses the helper, and the caller keeps only its
checked loop. So does any call but a cast (np.float64(x) ...), `abs` or one of the prelude's minimum and
maximum (_nmin: np.minimum ...), which compare and select, exact in any vector form: the helper is
for arithmetic, whose vectorized rounding is IEEE's as the scalar loop's is, where a vectorized call
of a math function (exp, sin: LLVM's vector forms) need not round as NumPy's loop does.
"""
from __future__ import annotations

import ast
import re

# The names lower.py generates for the values of a region (v12, c5, e18, n13, s15, t14, w20, r21, ...).
_LOCAL = re.compile(r"^[a-z]+\d+$")


_CASTS = {"bool", "int", "float", "complex", "range", "abs"}     # (range: the loop's own header; abs is exact)
_SELECTS = {"_nmin", "_nmax", "_pymin", "_pymax"}     # lower.py's PRELUDE: a compare and a select each
_NP_CASTS = {"bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64",
             "complex64", "complex128"}


def _allowed(func: ast.expr) -> bool:
    """A cast, or a minimum or maximum of the prelude."""
    if isinstance(func, ast.Name):
        return func.id in _CASTS or func.id in _SELECTS
    return (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "np"
            and func.attr in _NP_CASTS)


def helper(name: str, t: str, n: str, proven: set[str], body: list[str]) -> tuple[str, list[str]] | None:
    """The source of helper `name` running `body` (lines at depth 0, for one element t) over range(n), and the
    region's names it takes as arguments; or None if the body indexes anything but a proven array at t."""
    return nest(name, [t], [n], {x: (t,) for x in proven}, body)


def nest(name: str, ts: list[str], ns: list[str], proven: dict[str, tuple[str, ...]],
         body: list[str]) -> tuple[str, list[str]] | None:
    """The source of helper `name` running `body` in loops `for ts[d] in range(ns[d])`, and the region's names it
    takes; or None if the body indexes anything but a proven array X exactly at `proven[X]`, a subscript whose
    every item is a loop variable (an axis the caller proved as long as that loop) or 0 (an axis the caller
    proved of length 1). The helper's names are canonical (h0, h1, ... in order of first appearance, its
    parameters in that order), so two loops of a region that compute the same thing are one helper's text."""
    loop = "\n".join(["    " * d + f"for {t} in range({n}):" for d, (t, n) in enumerate(zip(ts, ns))]
                     + ["    " * len(ts) + line for line in body])
    try:
        tree = ast.parse(loop)
    except SyntaxError:
        return None
    found = sorted((node for node in ast.walk(tree) if isinstance(node, ast.Name)), key=lambda x: (x.lineno, x.col_offset))
    rename = {x: f"h{k}" for k, x in enumerate(dict.fromkeys(node.id for node in found if _LOCAL.match(node.id)))}
    for node in found:
        node.id = rename.get(node.id, node.id)
    # the proof below is checked on the renamed text, the one compiled
    made = _checked(name, [rename.get(t, t) for t in ts], [rename.get(n, n) for n in ns],
                    {rename.get(x, x): tuple(rename.get(i, i) for i in items) for x, items in proven.items()},
                    ast.unparse(tree))
    if made is None:
        return None
    back = {h: x for x, h in rename.items()}
    return made[0], [back[h] for h in made[1]]


def _checked(name: str, ts: list[str], ns: list[str], proven: dict[str, tuple[str, ...]],
             loop: str) -> tuple[str, list[str]] | None:
    """The helper of the loop nest `loop` (canonical names) and its parameters, after the proof (see `nest`)."""
    try:
        tree = ast.parse(loop)
    except SyntaxError:
        return None
    for items in proven.values():
        if not items or any(item != "0" and item not in ts for item in items):
            return None
    loads, stores = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript):
            if not (isinstance(node.value, ast.Name) and node.value.id in proven
                    and _at(node.slice, proven[node.value.id])):
                return None
        elif isinstance(node, ast.Call) and not _allowed(node.func):
            return None
        elif isinstance(node, ast.Name):
            (stores if isinstance(node.ctx, ast.Store) else loads).add(node.id)
    if not set(proven) <= loads:
        return None
    args = sorted((x for x in loads - stores | set(ns) if _LOCAL.match(x) and x not in ts), key=lambda x: int(x[1:]))
    if not set(ns) <= set(args):
        return None
    lines = [f"@njit({{unchecked}})", f"def {name}({', '.join(args)}):"]
    lines += ["    " + line for line in loop.split("\n")]
    return "\n".join(lines) + "\n", args


def _at(index: ast.expr, items: tuple[str, ...]) -> bool:
    """Whether the subscript `index` is exactly `items`: loop variables by name, and the literal 0."""
    elts = index.elts if isinstance(index, ast.Tuple) else [index]
    if len(elts) != len(items):
        return False
    for e, item in zip(elts, items):
        if item == "0":
            if not (isinstance(e, ast.Constant) and type(e.value) is int and e.value == 0):
                return False
        elif not (isinstance(e, ast.Name) and e.id == item):
            return False
    return True
