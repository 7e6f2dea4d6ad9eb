"""Python object identity through scripted loops and ifs (NOTE: [Identity of loop-carried arrays] in script_loops.py).

Two names bound to one array are one array, a view made in a loop is a view after it, a swap moves
arrays, not copies: every program runs scripted and eagerly on two input sets, and the results and
the caller's arrays after the call must be NumPy's. A program whose aliasing a graph cannot follow is
refused with a ScriptError at a line of its own file, never compiled to another result.
"""
from __future__ import annotations

import numpy as np
import pytest

import distjit
from distjit.errors import ScriptError
from tests.compare import assert_same, fresh


def alias_then_write(x):
    a = x.copy()
    b = x * 2.0
    for t in range(20):                 # longer than UNROLL_LIMIT: a prim.Loop with a known trip count
        a = a + 1.0
        b = a
    a[0, 0] = 100.0                     # b is a: it sees the write
    return a, b


def view_remade(x):
    a = x.copy()
    v = a[2:]
    for t in range(20):
        v = a[1:]
        v[0, 0] = v[0, 0] + 1.0         # reaches a
        a[2, 1] = 5.0                   # seen through v
    a[1, 2] = -3.0
    v[1, 3] = 9.0
    return a, v


def swap(x, y):
    a, b = x, y
    for t in range(19):
        a, b = b, a
    a[0, 0] = 7.0                       # after an odd number of swaps a is y, the caller's array
    return a, b


def swap_double_buffer(x):
    a = x.copy()
    b = np.zeros_like(x)
    for t in range(20):
        b = a * 0.5
        a, b = b, a
    b[0, 0] = 3.0
    return a, b


def rebound_zero_trip(x, n):
    a = x
    for t in range(n):                  # may run zero times: then a is still x
        a = a * 1.5
        a[0, 0] = 1.5
    a[0, 0] = -2.0
    return a


def if_binds_an_outer_array(x, y):
    b = x * 2.0
    if x.sum() > 0:
        a = b
    else:
        a = y * 3.0
    b[0, 0] = -2.0                      # a is b on the then side
    return a, b


def _inputs():
    rng = np.random.default_rng(7)
    return [(rng.standard_normal((4, 5)), rng.standard_normal((4, 5))),
            (-np.abs(rng.standard_normal((4, 5))), rng.standard_normal((4, 5)))]


def _check(fn, args_list):
    compiled = distjit.script(fn)
    for args in args_list:
        got_args, want_args = fresh(args), fresh(args)
        want = fn(*want_args)
        got = compiled(*got_args)
        assert_same(got, want, 0.0, f"{fn.__name__}: result")
        assert_same(got_args, want_args, 0.0, f"{fn.__name__}: the caller's arrays after the call")


@pytest.mark.parametrize("fn", [alias_then_write, view_remade, swap_double_buffer])
def test_identity_through_a_loop(fn):
    _check(fn, [(x,) for x, _ in _inputs()])


def test_a_swap_moves_the_callers_arrays():
    _check(swap, _inputs())


def test_if_keeps_the_identity_of_an_array_from_before_it():
    _check(if_binds_an_outer_array, _inputs())


def test_a_name_rebound_by_a_loop_that_may_not_run_is_still_its_array():
    _check(rebound_zero_trip, [(x, n) for (x, _), n in zip(_inputs() * 2, (0, 1, 3, 0))])


def updated_then_rebound(x, n):
    a = x
    for t in range(n):
        a *= 2.0                        # the caller's x on the first iteration only
        a = a * 3.0
    return a


def swap_updating(x, y):
    a, b = x.copy(), y.copy()
    for t in range(20):
        a[0, 0] += 1.0                  # a different array on every other iteration
        a, b = b, a
    return a, b


def alias_after_a_loop_that_may_not_run(x, n):
    a = x.copy()
    b = x * 2.0
    for t in range(n):
        a = a + 1.0
        b = a
    a[0, 0] = 100.0                     # b is a unless the loop ran zero times
    return a, b


def view_chosen_in_an_if_used_in_a_branch(x, n):
    a = x
    v = a[2:]
    if x[0, 0] > 0:
        v = a[0:]
    if x[0, 1] > 0:
        a[0, 0] = 1.5
        s = v * 1.0                     # refused in a branch as well as after it
    else:
        s = v * 2.0
    return s


def view_made_in_a_branch(x, n):
    a = x * 1.0
    if x[0, 0] > 0:
        v = a[1:]
    else:
        v = a[2:]
    a[2, 0] = 1.5                       # v is a view of a on both sides, each its own
    return v * 1.0


def view_made_on_one_side(x, n):
    a = x
    v = a[2:]
    if x[0, 0] > 0:
        v = a[0:]
    a[0, 0] = 1.5
    return v * 1.0


def view_of_an_array_made_in_a_branch(x, n):
    a = x
    w = x[1:]
    if x[0, 0] > 0:
        a[0, 0] = 1.5
    else:
        a = a * 1.5
        w = a[1:]                       # a view of what a is after the if, on this side
    a[1, 0] = 2.5
    return a, w * 1.0


@pytest.mark.parametrize("fn, args, line", [
    (view_of_an_array_made_in_a_branch, (-np.ones((4, 3)), 0), "a[1, 0] = 2.5"),
    (view_chosen_in_an_if_used_in_a_branch, (np.ones((4, 3)), 0), "a[0, 0] = 1.5"),
    (view_made_in_a_branch, (np.ones((4, 3)), 0), "return v * 1.0"),
    (view_made_on_one_side, (np.ones((4, 3)), 0), "a[0, 0] = 1.5"),
    (updated_then_rebound, (np.ones((2, 3)), 3), "for t in range(n):"),
    (swap_updating, (np.ones((2, 3)), np.zeros((2, 3))), "for t in range(20):"),
])
def test_aliasing_a_graph_cannot_follow_is_refused_at_the_users_line(fn, args, line):
    with pytest.raises(ScriptError) as info:
        distjit.script(fn)(*fresh(args))
    loc = info.value.loc
    assert loc is not None and loc.file == __file__
    import linecache

    assert line in linecache.getline(__file__, loc.line)


# A loop that may run zero times leaves its names bound to their arrays from before it; an update that reaches
# one of those arrays through a view (made before the loop or after it) must reach the name too, and the other
# way round (NOTE: [Zero-trip links] in script_context.py).

def view_made_before_written_after(x, n):
    a = x
    v = a[2:]
    a[0, 0] = 1.5
    for t in range(n):
        a = a * 1.5
        a[0, 0] = 1.5
    v[0, 0] = 1.5                       # with n == 0, a is x and sees it
    return a, v


def view_made_after_written(x, n):
    a = x
    for t in range(n):
        a = a * 1.5
    w = a[1:]
    w[0, 1] = -4.0                      # with n == 0, reaches the caller's x
    return a, w, x


def view_of_a_view_written(x, n):
    a = x
    v = a[1:]
    w = v[:, 1:]
    for t in range(n):
        a = a - 1.0
    w[0, 0] = 3.0
    return a, v, w


def two_loops_that_may_not_run(x, n):
    a = x
    v = x[1:, 2:]
    for t in range(n):
        a = a * 2.0
    for t in range(n + 1 if n > 1 else n):
        a = a + 1.0
    v[0, 0] = 9.0                       # a is x only when neither loop ran: a chain of two links
    return a, v


def while_that_may_not_run(x, n):
    a = x
    v = a[2:]
    k = 0
    while k < n:
        a = a * 1.5
        k += 1
    v[0, 0] = 1.5
    return a, v


def zero_trip_in_an_outer_loop(x, n):
    acc = x.copy()
    for s in range(3):
        a = acc
        v = a[1:]
        for t in range(n):
            a = a + 1.0
        v[0, 0] = v[0, 0] + 2.0
        acc = a * 1.0
    return acc


def if_and_views(x, n):
    b = x * 2.0
    v = b[1:]
    if x.sum() > 0:
        a = b
    else:
        a = x * 3.0
    v[0, 0] = -2.0                      # a is b on the then side
    w = a[:, 2]
    w[0] = 5.0                          # b is a on the then side
    return a, b, v


def written_in_a_branch(x, n):
    a = x
    v = x[1:]
    for t in range(n):
        a = a * 2.0
    if x[0, 0] > 0:
        v[0, 0] = 5.0                   # a branch's update follows the link made outside it
    return a * 1.0


def written_in_a_later_loop(x, n):
    a = x
    for t in range(n):
        a = a * 2.0
    v = a[1:]
    for t in range(n + 1):
        v[0, 0] = v[0, 0] + 1.0         # reaches x in a loop body when the first loop did not run
    return a * 1.0, x


def two_ifs_bind_two_names(x, n):
    y = x * 2.0
    if x[0, 0] > 0:
        a = x
    else:
        a = y
    if x[0, 1] > 0:
        b = x
    else:
        b = y
    a[1, 1] = 5.0                       # b is a when both tests chose the same array: through x or through y
    return b * 1.0, x * 1.0, y


def alias_used_in_a_branch(x, n):
    a = x.copy()
    b = x * 2.0
    for t in range(n):
        a = a + 1.0
        b = a
    if x[0, 0] > 0:
        a[0, 0] = 100.0                 # b is a unless the loop ran zero times: chosen at run time
        s = b[0, 0] * 1.0
    else:
        s = b[0, 0] * 2.0
    return a, b, s


def two_names_bound_in_a_branch(x, n):
    a = x
    b = x * 2.0
    if x[0, 0] > 0:
        a = a * 1.5
        b = a                           # one array after the if when this side ran
    for t in range(n):
        a[0, 0] = 1.5
    return a, b


@pytest.mark.parametrize("native", [True, False])
@pytest.mark.parametrize("level", [0, 1, 2, 3])
@pytest.mark.parametrize("fn", [two_names_bound_in_a_branch, view_made_before_written_after, view_made_after_written, view_of_a_view_written,
                                two_loops_that_may_not_run, while_that_may_not_run, zero_trip_in_an_outer_loop,
                                if_and_views, written_in_a_branch, written_in_a_later_loop, two_ifs_bind_two_names,
                                alias_after_a_loop_that_may_not_run, alias_used_in_a_branch])
def test_a_write_through_a_view_reaches_a_name_a_loop_may_not_have_rebound(fn, level, native, monkeypatch):
    if not native:
        monkeypatch.setenv("DISTJIT_NATIVE", "0")
    compiled = distjit.optimize(distjit.script(fn), level)
    rng = np.random.default_rng(11)
    signs = [np.abs(rng.standard_normal((5, 4))) * s for s in (1.0, -1.0)]
    mixed = signs[0].copy()
    mixed[0, 1] = -1.0
    for x in (*signs, mixed):
        for n in (0, 1, 3):
            got_args, want_args = fresh((x, n)), fresh((x, n))
            want = fn(*want_args)
            got = compiled(*got_args)
            assert_same(got, want, 0.0, f"{fn.__name__}(n={n}) at level {level}: result")
            assert_same(got_args, want_args, 0.0, f"{fn.__name__}(n={n}) at level {level}: the caller's arrays")


# The caller's arrays, swapped or aliased by a loop whose trip count is known only at run time: which array a
# name is after the loop is chosen at run time by its identity number (x and y may differ in shape).

def swap_callers_arrays(x, y, n):
    a, b = x, y
    for t in range(n):
        a, b = b, a
    a[0, 0] = 7.0                       # x after an even number of swaps, y after an odd one
    return a * 1.0, b * 1.0


def alias_callers_arrays(x, y, n):
    a = x
    b = y
    for t in range(n):
        b = a
    b[0, 0] = 100.0                     # x if the loop ran, else y
    return a * 1.0, b * 1.0


@pytest.mark.parametrize("native", [True, False])
@pytest.mark.parametrize("level", [0, 1, 2, 3])
@pytest.mark.parametrize("fn", [swap_callers_arrays, alias_callers_arrays])
def test_a_loop_that_swaps_or_aliases_the_callers_arrays_a_run_time_number_of_times(fn, level, native, monkeypatch):
    if not native:
        monkeypatch.setenv("DISTJIT_NATIVE", "0")
    compiled = distjit.optimize(distjit.script(fn), level)
    rng = np.random.default_rng(5)
    for shapes in (((4, 5), (4, 5)), ((4, 5), (3, 5))):
        x, y = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
        for n in (0, 1, 2, 3):
            got_args, want_args = fresh((x, y, n)), fresh((x, y, n))
            want = fn(*want_args)
            got = compiled(*got_args)
            assert_same(got, want, 0.0, f"{fn.__name__}(n={n}) at level {level}: result")
            assert_same(got_args, want_args, 0.0, f"{fn.__name__}(n={n}) at level {level}: the caller's arrays")
