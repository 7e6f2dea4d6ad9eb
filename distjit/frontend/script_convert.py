"""The script compiler's source half: read a function's AST, check it against the subset, rewrite its control flow.

The rewrite is AutoGraph's: every `if`/`while`/`for`, ternary, `and`/`or`/`not`,
`assert` and call becomes a call of a helper in `script_runtime` that decides at
trace time whether the construct is Python (its condition is a Python value: run
it) or graph (its condition is traced: build `prim.If`/`prim.Loop`). Each branch
or loop body becomes a nested function that takes the *state* (the names the
construct assigns) and returns it, so the helpers can trace it into its own block:

    if x.sum() > 0:                     def _dj_then_1(y):
        y = x                               y = x
    else:                   ==>             return (y,)
        y = -x                          def _dj_else_1(y): ...
                                        (y,) = _dj.if_(x.sum() > 0, _dj_then_1, _dj_else_1, (y,), ('y',), S[0])

Expressions that iterate or compare in steps (comprehensions, unpacking, chained
comparisons, `*xs`) become calls too (script_iter.py); list and dict displays are
registered with the block they are made in, and a nested `def` stays as written
(it is compiled from its own source when called).

`return`, `break` and `continue` inside control flow become flags (`_dj_ret`,
`_dj_brk_N`, `_dj_cont_N`) that guard the statements after them and are carried
through loops; the function returns `_dj_retval` at its end. Every local is
pre-bound to `_dj.undefined(name)` so that a name assigned in only one branch
is a value that says so when used, not an UnboundLocalError.

Generated code keeps the user's file name and line numbers, so every node the
tracer records points at the user's line, and errors show it with a caret.
"""
from __future__ import annotations

import ast
import inspect
import itertools
import linecache
import sys
import textwrap
from dataclasses import dataclass

from distjit.errors import ScriptError
from distjit.ir.graph import SourceLoc


@dataclass(frozen=True)
class Site:
    """A place in the user's source: what errors point at (with a caret) and what nodes record."""

    file: str
    line: int
    col: int          # 0-based, in the file's own text
    text: str         # the source line

    @property
    def loc(self) -> SourceLoc:
        return SourceLoc(self.file, self.line)


def site_error(site: Site | None, message: str, hint: str | None = None, cls=ScriptError):
    """`file:line:col: message`, the source line, a caret under the column, and what to do instead."""
    if site is None:
        return cls(message + (f"\n{hint}" if hint else ""))
    text = site.text.rstrip("\n").expandtabs()
    lines = [f"{site.file}:{site.line}:{site.col + 1}: {message}", f"    {text}", "    " + " " * site.col + "^"]
    if hint:
        lines.append(hint)
    return cls("\n".join(lines), site.loc)


# What the subset refuses: AST node type -> (what it is, what to do instead).
UNSUPPORTED = {
    ast.ClassDef: ("a class definition", "define the class at module level; scripted code works on arrays and numbers"),
    ast.AsyncFunctionDef: ("an async function", "scripted functions are synchronous; remove async"),
    ast.Try: ("try/except", "check the condition with `if` or `assert` instead"),
    ast.With: ("a with statement", "move it outside the scripted function"),
    ast.AsyncWith: ("async with", "move it outside the scripted function"),
    ast.AsyncFor: ("async for", "use a plain for loop"),
    ast.Await: ("await", "scripted functions are synchronous"),
    ast.Yield: ("a generator (yield)", "return the values; stack them with np.stack if they are arrays"),
    ast.YieldFrom: ("a generator (yield from)", "return the values instead"),
    ast.Global: ("a global statement", "pass the value in as an argument and return its new value"),
    ast.Nonlocal: ("a nonlocal statement", "pass the value in as an argument and return its new value"),
    ast.SetComp: ("a set comprehension", "use a list comprehension; sets are not values in the graph"),
    ast.Delete: ("del", "stop using the name instead; values are freed after their last use"),
    ast.NamedExpr: ("an assignment expression (:=)", "assign on a line of its own first"),
    ast.Import: ("import inside the function", "import at module level"),
    ast.ImportFrom: ("import inside the function", "import at module level"),
    ast.Match: ("a match statement", "use if/elif/else"),
    ast.Set: ("a set", "use a tuple"),
}
if sys.version_info >= (3, 11):
    UNSUPPORTED[ast.TryStar] = UNSUPPORTED[ast.Try]

_REFUSED_CALLS = {
    "print": ("print", "print runs while compiling, not when the graph runs; return the value and print it outside"),
    "eval": ("eval", "write the expression in the function"),
    "exec": ("exec", "write the code in the function"),
    "input": ("input", "pass the value in as an argument"),
    "open": ("open", "read files outside the scripted function and pass the arrays in"),
    "globals": ("globals()", "refer to module-level names directly"),
    "locals": ("locals()", "refer to the names directly"),
    "iter": ("iter", "loop with `for` over a range or an array"),
    "next": ("next", "loop with `for` over a range or an array"),
}


class SourceInfo:
    """The function's source, parsed, with the offsets that map the parsed text back to the file."""

    def __init__(self, fn):
        name = getattr(fn, "__qualname__", getattr(fn, "__name__", repr(fn)))
        code = getattr(fn, "__code__", None)
        if code is None:
            raise ScriptError(f"distjit.script expects a Python function, got {type(fn).__name__} {name!r}")
        self.file = code.co_filename
        try:
            lines, first = inspect.getsourcelines(fn)
        except (OSError, TypeError):
            raise ScriptError(
                f"{self.file}:{code.co_firstlineno}: the source of {name} is not available (defined in a REPL or "
                f"by exec without a file?); distjit.script compiles from source. Define it in a file, or register "
                f"the source with linecache, or use distjit.trace instead", SourceLoc(self.file, code.co_firstlineno))
        self.first = max(first, 1)
        raw = "".join(lines)
        self.indent = len(lines[0]) - len(lines[0].lstrip())
        # Blank lines in front give every node its line in the file, as ast.increment_lineno would, without a walk.
        tree = ast.parse("\n" * (self.first - 1) + textwrap.dedent(raw))
        fdef = tree.body[0]
        if isinstance(fdef, ast.AsyncFunctionDef):
            raise site_error(self.site(fdef), "an async function cannot be scripted", "remove async")
        if not isinstance(fdef, ast.FunctionDef):
            raise ScriptError(f"{self.file}:{self.first}: {name} is not a function defined with def "
                              f"(a lambda?); distjit.script compiles functions defined with def")
        self.fdef = fdef
        self.name = fdef.name

    def site(self, node: ast.AST) -> Site:
        line = getattr(node, "lineno", self.first)
        col = getattr(node, "col_offset", 0) + self.indent
        return Site(self.file, line, col, linecache.getline(self.file, line))


# ---------------------------------------------------------------------------------------- checking

def check(src: SourceInfo) -> None:
    """Raise ScriptError at the first construct outside the subset (in source order)."""
    fdef = src.fdef
    args = fdef.args
    for what, node in (("*args", args.vararg), ("**kwargs", args.kwarg)):
        if node is not None:
            raise site_error(src.site(node), f"{what} parameters are not supported in a scripted function",
                             "name every parameter")
    if args.kwonlyargs:
        raise site_error(src.site(args.kwonlyargs[0]), "keyword-only parameters are not supported",
                         "make them ordinary parameters (with defaults if needed)")
    for stmt in fdef.body:
        for node in ast.walk(stmt):
            _check_node(src, node)
    _check_asserts_fstrings(src, fdef)


def _check_node(src: SourceInfo, node: ast.AST) -> None:
    hit = UNSUPPORTED.get(type(node))
    if hit is not None:
        what, hint = hit
        raise site_error(src.site(node), f"{what} is not supported in a scripted function", hint)
    if isinstance(node, (ast.For, ast.While)) and node.orelse:
        kw = "for" if isinstance(node, ast.For) else "while"
        raise site_error(src.site(node), f"{kw} ... else is not supported in a scripted function",
                         "set a flag before `break` and test it after the loop")
    if isinstance(node, ast.Starred) and isinstance(node.ctx, ast.Store):
        raise site_error(src.site(node), "star-unpacking (*x) is not supported in a scripted function",
                         "unpack into explicit names, or pass the arguments one by one")
    if isinstance(node, ast.Call):
        for kw in node.keywords:
            if kw.arg is None:
                raise site_error(src.site(kw.value), "**kwargs in a call is not supported in a scripted function",
                                 "pass keyword arguments explicitly")
        if isinstance(node.func, ast.Name) and node.func.id in _REFUSED_CALLS:
            what, hint = _REFUSED_CALLS[node.func.id]
            raise site_error(src.site(node), f"{what} is not supported in a scripted function", hint)
    if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for t in targets:
            if _is_shape_assignment(node):
                continue
            for sub in ast.walk(t):
                if isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Store):
                    raise site_error(src.site(sub), "assigning to an attribute is not supported in a scripted "
                                     "function", "compute a new value and return it")
    if isinstance(node, ast.comprehension):
        if node.is_async:
            raise site_error(src.site(node.iter), "an async comprehension is not supported", "use a plain one")
        if not _simple_target(node.target):
            raise site_error(src.site(node.target), "this comprehension target is not supported",
                             "use names (`for x in xs`, `for i, x in enumerate(xs)`)")
    if isinstance(node, (ast.For,)) and not _simple_target(node.target):
        raise site_error(src.site(node.target), "this for-loop target is not supported",
                         "loop over one name (`for i in range(n)`, `for row in x`) and unpack inside the body")


def _copy_load(node):
    """A copy of an expression read from the source (the rewrite changes nodes in place)."""
    import copy

    return copy.deepcopy(node)


def _is_shape_assignment(node) -> bool:
    """`x.shape = (...)`: NumPy reshapes the array object in place; the one attribute assignment compiled."""
    return isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Attribute) \
        and node.targets[0].attr == "shape"


def _split_raising_if(s) -> list:
    """`if c: ...; raise E` `else: B` is `if c: ...; raise E` then B: NOTE: [Raising branches]."""
    if not isinstance(s, ast.If):
        return [s]
    sides = [(s.test, s.body, s.orelse),
             (ast.copy_location(ast.UnaryOp(op=ast.Not(), operand=s.test), s.test), s.orelse, s.body)]
    for test, raising, other in sides:
        if raising and isinstance(raising[-1], ast.Raise) and not _contains(raising, ast.Return, True) \
                and not _contains(raising, (ast.Break, ast.Continue), False):
            head = ast.copy_location(ast.If(test=test, body=raising, orelse=[]), s)
            head._dj_raises = True
            return [head, *other]
    return [s]


# NOTE: [Raising branches]
# A branch that ends in `raise` never reaches the code after the `if`, so it binds no names there: the `if`
# keeps only that branch (its names are not merged, a name the other branch assigns needs no value on the
# raising side) and the other branch runs after it, unconditionally, as it does in Python once the raise
# did not happen. The raise itself is a `prim.Assert` that always fails (script_truth.raise_).


def _simple_target(t) -> bool:
    if isinstance(t, ast.Name):
        return True
    return isinstance(t, ast.Tuple) and all(_simple_target(e) for e in t.elts)


def _check_asserts_fstrings(src: SourceInfo, fdef) -> None:
    nodes = list(ast.walk(fdef))
    if not any(isinstance(node, ast.JoinedStr) for node in nodes):
        return
    allowed = set()
    for node in nodes:
        if isinstance(node, ast.Assert) and node.msg is not None:
            allowed.update(id(n) for n in ast.walk(node.msg))
        if isinstance(node, ast.Raise) and node.exc is not None:
            allowed.update(id(n) for n in ast.walk(node.exc))
    for node in nodes:
        if isinstance(node, ast.JoinedStr) and id(node) not in allowed:
            raise site_error(src.site(node), "an f-string is not supported in a scripted function (outside an assert "
                             "message or a raise)", "strings are not values in the graph; compute numbers instead")


# ---------------------------------------------------------------------------------------- rewriting

def assigned_names(stmts) -> list[str]:
    """Names bound by these statements, not looking into nested functions or lambdas (in order, unique)."""
    out: dict[str, None] = {}

    def visit(node):
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_dj"):
            out.setdefault(node.name)      # the user's nested def binds its name
        if isinstance(node, (ast.FunctionDef, ast.Lambda)):
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.setdefault(node.id)
        for child in ast.iter_child_nodes(node):
            visit(child)
    for s in stmts:
        visit(s)
    return list(out)


_LIST_MUTATORS = ("append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse")


def mutated_lists(stmts) -> list[str]:
    """Names whose list methods that change the list are called (`acc.append(v)`): a loop carries them
    (NOTE: [Lists in graph loops] in script_lists.py)."""
    out: dict[str, None] = {}
    for s in stmts:
        for node in ast.walk(s):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in _LIST_MUTATORS and isinstance(node.func.value, ast.Name):
                out.setdefault(node.func.value.id)
    return list(out)


def _contains(stmts, types, into_loops: bool) -> bool:
    def visit(node):
        if isinstance(node, types):
            return True
        if isinstance(node, (ast.FunctionDef, ast.Lambda)):
            return False
        if not into_loops and isinstance(node, (ast.For, ast.While)):
            return False
        return any(visit(c) for c in ast.iter_child_nodes(node))
    return any(visit(s) for s in stmts)


@dataclass
class _Loop:
    brk: str | None
    cont: str | None


def _name(id_, store=False):
    return ast.Name(id=id_, ctx=ast.Store() if store else ast.Load())


def _dj(attr):
    return ast.Attribute(value=_name("_dj"), attr=attr, ctx=ast.Load())


def _call(fn, args, keywords=()):
    return ast.Call(func=fn, args=list(args), keywords=list(keywords))


def _const(v):
    return ast.Constant(value=v)


def _tuple(items, store=False):
    return ast.Tuple(elts=list(items), ctx=ast.Store() if store else ast.Load())


def _thunk(expr):
    return ast.Lambda(args=ast.arguments(posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[],
                                         kwarg=None, defaults=[]), body=expr)


def _fdef(name, params, body):
    args = ast.arguments(posonlyargs=[], args=[ast.arg(arg=p) for p in params], vararg=None, kwonlyargs=[],
                         kw_defaults=[], kwarg=None, defaults=[])
    return ast.FunctionDef(name=name, args=args, body=body or [ast.Pass()], decorator_list=[], returns=None,
                           type_params=[])


class Rewriter:
    """Turns the checked function into one whose control flow calls `_dj` helpers (see the module docstring)."""

    def __init__(self, src: SourceInfo):
        self.src = src
        self.sites: list[Site] = []
        self.counter = itertools.count(1)
        self.ret = False      # whether returns are lowered to flags

    def site(self, node) -> ast.AST:
        self.sites.append(self.src.site(node))
        return ast.Subscript(value=_name("_dj_sites"), slice=_const(len(self.sites) - 1), ctx=ast.Load())

    def rewrite(self) -> ast.FunctionDef:
        fdef = self.src.fdef
        body = fdef.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:]                                   # the docstring
        nested_returns = _contains([s for s in body if not isinstance(s, ast.Return)], ast.Return, True)
        self.ret = nested_returns
        params = [a.arg for a in fdef.args.posonlyargs + fdef.args.args]
        converted = self.stmts(body, None)
        prologue = []
        if self.ret:
            prologue = [ast.Assign(targets=[_name("_dj_ret", True)], value=_const(False)),
                        ast.Assign(targets=[_name("_dj_retval", True)], value=_call(_dj("undefined_return"), []))]
            converted.append(ast.Return(value=_name("_dj_retval")))
        local = [n for n in assigned_names(prologue + converted) if n not in params]
        init = [ast.Assign(targets=[_name(n, True)], value=_call(_dj("undefined"), [_const(n)]))
                for n in local if not n.startswith("_dj_ret")]
        new = _fdef(fdef.name, params, init + prologue + converted)
        new.args.posonlyargs = []
        for stmt in new.body:
            if not hasattr(stmt, "lineno"):       # the compiler's own statements; the user's keep their lines
                ast.copy_location(stmt, fdef)
        return new

    # -- statements ------------------------------------------------------------------
    def stmts(self, stmts, loop: _Loop | None) -> list:
        out = []
        stmts = [t for s in stmts for t in _split_raising_if(s)]
        for i, s in enumerate(stmts):
            out.extend(self.stmt(s, loop))
            if isinstance(s, (ast.Return, ast.Break, ast.Continue, ast.Raise)):
                break                                           # the rest is dead code
            flags = self.exit_flags([s], loop)
            rest = stmts[i + 1:]
            if flags and rest:
                guard = ast.If(test=_call(_dj("not_any"), [_name(f) for f in flags]), body=rest, orelse=[])
                ast.copy_location(guard, rest[0])
                out.extend(self.if_stmt(guard, loop, guard_test=True))
                break
        return out

    def exit_flags(self, stmts, loop) -> list[str]:
        flags = []
        if self.ret and _contains(stmts, ast.Return, True):
            flags.append("_dj_ret")
        if loop is not None:
            if loop.brk and _contains(stmts, ast.Break, False):
                flags.append(loop.brk)
            if loop.cont and _contains(stmts, ast.Continue, False):
                flags.append(loop.cont)
        return flags

    def stmt(self, s, loop) -> list:
        if isinstance(s, ast.FunctionDef):
            # A nested def stays as written: called, it is compiled from its own source like a module-level
            # function (its closure holds the values of the names it reads when it is called).
            if s.decorator_list:
                raise site_error(self.src.site(s), "a decorated nested function is not supported",
                                 "define it at module level")
            return [s]
        if isinstance(s, ast.If):
            return self.if_stmt(s, loop)
        if isinstance(s, ast.While):
            return self.while_stmt(s)
        if isinstance(s, ast.For):
            return self.for_stmt(s)
        if isinstance(s, ast.Return):
            value = self.expr(s.value) if s.value is not None else _const(None)
            if not self.ret:
                return [ast.copy_location(ast.Return(value=value), s)]
            return [ast.copy_location(ast.Assign(targets=[_name("_dj_retval", True)], value=value), s),
                    ast.copy_location(ast.Assign(targets=[_name("_dj_ret", True)], value=_const(True)), s)]
        if isinstance(s, ast.Break):
            return [ast.copy_location(ast.Assign(targets=[_name(loop.brk, True)], value=_const(True)), s)]
        if isinstance(s, ast.Continue):
            return [ast.copy_location(ast.Assign(targets=[_name(loop.cont, True)], value=_const(True)), s)]
        if isinstance(s, ast.Raise):
            if s.exc is None or s.cause is not None:
                raise site_error(self.src.site(s), "a bare `raise` or `raise ... from ...` is not supported in a "
                                 "scripted function", "raise an exception of your own: `raise ValueError('...')`")
            call = _call(_dj("raise_"), [_thunk(self.expr(s.exc)), self.site(s)])
            return [ast.copy_location(ast.Expr(value=call), s)]
        if isinstance(s, ast.Assert):
            msg = _thunk(self.expr(s.msg)) if s.msg is not None else _const(None)
            text = ast.unparse(s.test)
            call = _call(_dj("assert_"), [self.expr(s.test, test=True), msg, _const(text), self.site(s)])
            return [ast.copy_location(ast.Expr(value=call), s)]
        return self._item_store_checks(s) + [self.expr(s)]

    def _item_store_checks(self, s) -> list:
        """`lst[k] = v` changes a Python list (or dict) in place: checked as its methods are (script_lists.py)."""
        if not isinstance(s, (ast.Assign, ast.AugAssign)):
            return []
        if isinstance(s, ast.AugAssign):
            t = s.target
            if not (isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name)) \
                    or any(isinstance(n, ast.Slice) for n in ast.walk(t.slice)):
                return []
            # `d[k] -= v` on an array item updates the array in place; the container itself does not change.
            key = _thunk(self.expr(_copy_load(t.slice)))
            return [ast.copy_location(ast.Expr(value=_call(_dj("check_store"), [_name(t.value.id), self.site(s),
                                                                                 key])), s)]
        names = [t.value.id for t in s.targets if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name)]
        return [ast.copy_location(ast.Expr(value=_call(_dj("check_store"), [_name(n), self.site(s)])), s)
                for n in dict.fromkeys(names)]

    def if_stmt(self, s, loop, guard_test=False) -> list:
        n = next(self.counter)
        then = self.stmts(s.body, loop)
        orelse = self.stmts(s.orelse, loop)
        names = [] if getattr(s, "_dj_raises", False) else assigned_names(then + orelse)
        test = s.test if guard_test else self.expr(s.test, test=True)
        out = [ast.copy_location(_fdef(f"_dj_then_{n}", names, then + [ast.Return(value=_tuple(map(_name, names)))]), s),
               ast.copy_location(_fdef(f"_dj_else_{n}", names, orelse + [ast.Return(value=_tuple(map(_name, names)))]), s)]
        call = _call(_dj("if_"), [test, _name(f"_dj_then_{n}"), _name(f"_dj_else_{n}"),
                                  _tuple(map(_name, names)), _tuple(map(_const, names)), self.site(s)])
        out.append(ast.copy_location(self._bind(names, call), s))
        return out

    def _bind(self, names, call):
        if not names:
            return ast.Expr(value=call)
        return ast.Assign(targets=[_tuple([_name(x, True) for x in names], store=True)], value=call)

    def _loop_info(self, body, n) -> _Loop:
        return _Loop(f"_dj_brk_{n}" if _contains(body, ast.Break, False) else None,
                     f"_dj_cont_{n}" if _contains(body, ast.Continue, False) else None)

    def _loop_body(self, s, loop, prefix=()):
        body = list(prefix)
        if loop.cont:
            body.append(ast.copy_location(ast.Assign(targets=[_name(loop.cont, True)], value=_const(False)), s))
        body += self.stmts(s.body, loop)
        return body

    def _stop_flags(self, s, loop) -> list[str]:
        flags = [loop.brk] if loop.brk else []
        if self.ret and _contains(s.body, ast.Return, True):
            flags.append("_dj_ret")
        return flags

    def while_stmt(self, s) -> list:
        n = next(self.counter)
        loop = self._loop_info(s.body, n)
        pre = [ast.copy_location(ast.Assign(targets=[_name(loop.brk, True)], value=_const(False)), s)] if loop.brk else []
        lists = mutated_lists(s.body)
        body = self._loop_body(s, loop)
        names = assigned_names(body) + [n for n in lists if n not in assigned_names(body)]
        test = self.expr(s.test, test=True)
        flags = self._stop_flags(s, loop)
        if flags:
            test = _call(_dj("and_"), [_thunk(_call(_dj("not_any"), [_name(f) for f in flags])), _thunk(test),
                                       self.site(s.test)], [ast.keyword(arg="test", value=_const(True))])
        ret = ast.Return(value=_tuple(map(_name, names)))
        out = pre + [ast.copy_location(_fdef(f"_dj_test_{n}", names, [ast.Return(value=test)]), s),
                     ast.copy_location(_fdef(f"_dj_body_{n}", names, body + [ret]), s)]
        call = _call(_dj("while_"), [_name(f"_dj_test_{n}"), _name(f"_dj_body_{n}"), _tuple(map(_name, names)),
                                     _tuple(map(_const, names)), self.site(s)])
        out.append(ast.copy_location(self._bind(names, call), s))
        return out

    def for_stmt(self, s) -> list:
        n = next(self.counter)
        loop = self._loop_info(s.body, n)
        pre = [ast.copy_location(ast.Assign(targets=[_name(loop.brk, True)], value=_const(False)), s)] if loop.brk else []
        item = _name("_dj_item")
        if isinstance(s.target, (ast.Tuple, ast.List)):
            item = _call(_dj("unpack"), [item, _target_struct(s.target), self.site(s.target)])
        target = ast.copy_location(ast.Assign(targets=[s.target], value=item), s)
        lists = mutated_lists(s.body)
        body = self._loop_body(s, loop, [target])
        names = assigned_names(body) + [n for n in lists if n not in assigned_names(body)]
        it = s.iter
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range" and not it.keywords:
            iterable = _call(_dj("range_"), [self.site(it)] + [self.expr(a) for a in it.args])
        else:
            iterable = self.expr(it)
        flags = self._stop_flags(s, loop)
        out = list(pre)
        extra = _const(None)
        if flags:
            out.append(ast.copy_location(_fdef(f"_dj_extra_{n}", names, [ast.Return(
                value=_call(_dj("not_any"), [_name(f) for f in flags]))]), s))
            extra = _name(f"_dj_extra_{n}")
        ret = ast.Return(value=_tuple(map(_name, names)))
        out.append(ast.copy_location(_fdef(f"_dj_body_{n}", ["_dj_item"] + names, body + [ret]), s))
        call = _call(_dj("for_"), [iterable, _name(f"_dj_body_{n}"), extra, _tuple(map(_name, names)),
                                   _tuple(map(_const, names)), self.site(s)])
        out.append(ast.copy_location(self._bind(names, call), s))
        return out

    # -- expressions ---------------------------------------------------------------------
    def expr(self, node, test=False):
        return _ExprRewriter(self, test).visit(node)


def _target_names(t) -> list[str]:
    if isinstance(t, ast.Name):
        return [t.id]
    return [n for e in t.elts for n in _target_names(e)]


def _target_struct(t):
    """A for or comprehension target as data: a name is None, a tuple the tuple of its parts."""
    if isinstance(t, (ast.Tuple, ast.List)):
        return _tuple([_target_struct(e) for e in t.elts])
    return _const(None)


def _lambda(params, body):
    lam = _thunk(body)
    lam.args.args = [ast.arg(arg=p) for p in params]
    return lam


_CMP_NAMES = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
              ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}


class _ExprRewriter(ast.NodeTransformer):
    def __init__(self, rw: Rewriter, test: bool):
        self.rw = rw
        self.test = test

    def visit_Assign(self, node):
        if _is_shape_assignment(node):
            target = node.targets[0]
            call = _call(_dj("set_shape"), [self.visit(target.value), self.visit(node.value), self.rw.site(node)])
            return ast.copy_location(ast.Expr(value=call), node)
        node = self.generic_visit(node)
        if any(isinstance(t, (ast.Tuple, ast.List)) for t in node.targets):
            structs = [t for t in node.targets if isinstance(t, (ast.Tuple, ast.List))]
            node.value = _call(_dj("unpack"), [node.value, _target_struct(structs[0]), self.rw.site(node)])
        return node

    def visit_Lambda(self, node):
        return node                              # runs as Python when called (script_calls.py)

    def visit_Starred(self, node):
        node = self.generic_visit(node)          # `f(*xs)`, `(*xs, y)`: the items of xs (rows of an array)
        if isinstance(node.ctx, ast.Load):
            node.value = _call(_dj("star"), [node.value, self.rw.site(node)])
        return node

    def visit_Dict(self, node):
        node = self.generic_visit(node)
        return ast.copy_location(_call(_dj("new_list"), [node]), node)

    def visit_List(self, node):
        node = self.generic_visit(node)
        if isinstance(node.ctx, ast.Load):
            return ast.copy_location(_call(_dj("new_list"), [node]), node)
        return node

    def visit_Compare(self, node):
        if len(node.ops) == 1:
            return self.generic_visit(node)
        inner = _ExprRewriter(self.rw, False)
        args = [self.rw.site(node), _const(self.test), _thunk(inner.visit(node.left))]
        for op, right in zip(node.ops, node.comparators):
            args += [_const(_CMP_NAMES[type(op)]), _thunk(inner.visit(right))]
        return ast.copy_location(_call(_dj("chain"), args), node)

    def _comprehension(self, node, kind, elt):
        inner = _ExprRewriter(self.rw, False)
        seen: list[str] = []
        gens = []
        for gen in node.generators:
            iterable = _lambda(list(seen), inner.visit(gen.iter))
            seen = seen + _target_names(gen.target)
            conds = [_lambda(list(seen), inner.visit(c)) for c in gen.ifs]
            gens.append(_tuple([iterable, _target_struct(gen.target), _tuple(conds)]))
        call = _call(_dj("comprehension"), [self.rw.site(node), _const(kind), _lambda(seen, elt(inner)),
                                            _tuple(gens)])
        return ast.copy_location(call, node)

    def visit_ListComp(self, node):
        return self._comprehension(node, "list", lambda r: r.visit(node.elt))

    def visit_GeneratorExp(self, node):
        return self._comprehension(node, "list", lambda r: r.visit(node.elt))

    def visit_DictComp(self, node):
        return self._comprehension(node, "dict", lambda r: _tuple([r.visit(node.key), r.visit(node.value)]))

    def visit_BoolOp(self, node):
        helper = "and_" if isinstance(node.op, ast.And) else "or_"
        values = [self.visit(v) for v in node.values]
        acc = values[-1]
        for v in reversed(values[:-1]):
            acc = _call(_dj(helper), [_thunk(v), _thunk(acc), self.rw.site(node)],
                        [ast.keyword(arg="test", value=_const(self.test))])
        return ast.copy_location(acc, node)

    def visit_UnaryOp(self, node):
        if isinstance(node.op, ast.Not):
            inner = _ExprRewriter(self.rw, True).visit(node.operand)
            return ast.copy_location(_call(_dj("not_"), [inner, self.rw.site(node)]), node)
        return self.generic_visit(node)

    def visit_IfExp(self, node):
        test = _ExprRewriter(self.rw, True).visit(node.test)
        inner = _ExprRewriter(self.rw, False)
        return ast.copy_location(_call(_dj("ifexp"), [test, _thunk(inner.visit(node.body)),
                                                      _thunk(inner.visit(node.orelse)), self.rw.site(node)]), node)

    def visit_Call(self, node):
        inner = _ExprRewriter(self.rw, False)
        func = inner.visit(node.func)
        args = [inner.visit(a) for a in node.args]
        keywords = [ast.keyword(arg=k.arg, value=inner.visit(k.value)) for k in node.keywords]
        return ast.copy_location(_call(_dj("call"), [func, self.rw.site(node)] + args, keywords), node)

    def generic_visit(self, node):
        if not self.test:
            return super().generic_visit(node)
        # Below a test, only boolean operators keep the test context.
        saved, self.test = self.test, False
        try:
            return super().generic_visit(node)
        finally:
            self.test = saved


# ---------------------------------------------------------------------------------------- building

def convert(fn, runtime) -> tuple:
    """The rewritten function (bound to fn's globals and closure) and its source info."""
    src = SourceInfo(fn)
    check(src)
    rw = Rewriter(src)
    new = rw.rewrite()
    # Compiled under a name of its own: under the user's name, the function's own name in its body (a
    # recursive call) would be the factory's local, the rewritten function, instead of the user's global.
    new.name = "_dj_converted"
    code = getattr(fn, "__code__")
    freevars = list(code.co_freevars)
    factory = _fdef("_dj_factory", ["_dj", "_dj_sites"] + freevars, [new, ast.Return(value=_name(new.name))])
    module = ast.Module(body=[factory], type_ignores=[])
    ast.copy_location(factory, src.fdef)
    ast.fix_missing_locations(module)
    compiled = compile(module, src.file, "exec")
    namespace: dict = {}
    exec(compiled, fn.__globals__, namespace)
    cells = [_cell_value(c) for c in (fn.__closure__ or ())]
    converted = namespace["_dj_factory"](runtime, rw.sites, *cells)
    converted.__defaults__ = fn.__defaults__
    converted.__name__, converted.__qualname__ = fn.__name__, fn.__qualname__
    converted.__dj_tree__ = (new, src.fdef.name)    # unparsed only when `script_source` is asked for
    return converted, src


def converted_source(converted) -> str:
    """The rewritten Python source of a function `convert` made, under the name of the user's def."""
    tree, name = converted.__dj_tree__
    compiled_as, tree.name = tree.name, name
    try:
        return ast.unparse(tree)
    finally:
        tree.name = compiled_as


class _Empty:
    pass


def _cell_value(cell):
    try:
        return cell.cell_contents
    except ValueError:
        return _Empty()
