"""Checkers for the exercises of the chapter "Backpropagation as linear algebra".

Each checker takes the reader's answer and returns a `Check`: truthy when the answer
is right, with a one-line verdict in a notebook. The right answers are computed here
with `lalib.backprop` (`chain_cost`, `matrix_chain_order`, `graph_forward` and
`graph_backward`), never typed in.
"""

import numpy as np

from lalib import backprop
from lalib.exercises import Check, reader_number

# --------------------------------------------------------------------- exercise 1

#: Exercise 1: the widths (D, H1, H2, K) of an MLP with a scalar loss on top.
EXERCISE_WIDTHS = (64, 32, 16, 10)


def mode_dims():
    """The chain ``v^T J_3 J_2 J_1`` of `EXERCISE_WIDTHS` as `chain_cost` dims:
    ``(1, K, H2, H1, D)``."""
    return [1] + list(EXERCISE_WIDTHS[::-1])


def check_mode_costs(reverse, forward):
    """Exercise 1: multiplications of reverse and forward mode for the gradient.

    Parameters
    ----------
    reverse : int
        Multiplications for ``((v^T J_3) J_2) J_1``, from the left.
    forward : int
        Multiplications for ``v^T (J_3 (J_2 J_1))``, from the right.
    """
    dims = mode_dims()
    want_rev = backprop.chain_cost(dims, "left")
    want_fwd = backprop.chain_cost(dims, "right")
    got_rev, got_fwd = reader_number(reverse), reader_number(forward)
    if got_rev is None or got_fwd is None:
        return Check(False, "give both counts as numbers (integers)")
    if (got_rev, got_fwd) == (want_fwd, want_rev):
        return Check(False, "the two counts are swapped: reverse mode is the cheap one")
    if got_rev != want_rev:
        hint = (
            "it multiplies a row by each Jacobian in turn: a (1, p) row "
            "times a (p, q) matrix is p * q multiplications; sum them over the three "
            "Jacobians"
        )
        return Check(False, f"reverse mode: {hint}")
    if got_fwd == want_fwd - dims[1] * dims[-1]:
        return Check(
            False,
            "forward mode: the full Jacobian J_3 J_2 J_1 is right, but the row v^T "
            "still has to multiply it at the end",
        )
    if got_fwd != want_fwd:
        return Check(
            False,
            "forward mode: J_2 J_1 is (H2, H1) @ (H1, D), H2 * H1 * D multiplications; "
            "then J_3 times that, then v^T times the result",
        )
    return Check(
        True,
        f"{want_rev} against {want_fwd}: reverse mode is {want_fwd / want_rev:.0f} "
        "times cheaper, because it never multiplies two matrices",
    )


# --------------------------------------------------------------------- exercise 2

#: Exercise 2: a chain A1 A2 A3 A4 with A_i of shape (dims[i-1], dims[i]).
EXERCISE_CHAIN = (40, 20, 30, 10, 30)


def check_chain_order(order):
    """Exercise 2: a cheapest parenthesisation of `EXERCISE_CHAIN`.

    Parameters
    ----------
    order : str
        Fully parenthesised, such as ``"((A1 A2) (A3 A4))"``.
    """
    dims = list(EXERCISE_CHAIN)
    best, _, _ = backprop.matrix_chain_order(dims)
    try:
        cost = backprop.chain_cost(dims, order)
    except (TypeError, ValueError) as exc:
        return Check(False, f"not a parenthesisation of A1 A2 A3 A4: {exc}")
    if cost == best:
        return Check(True, f"{cost} multiplications, the fewest possible")
    left = backprop.chain_cost(dims, "left")
    right = backprop.chain_cost(dims, "right")
    return Check(
        False,
        f"{order!r} costs {cost} multiplications; the cheapest order needs fewer "
        f"(from the left costs {left}, from the right {right}); try making the small "
        f"dimension {min(dims[1:-1])} the one every product keeps",
    )


# --------------------------------------------------------------------- exercise 3

#: Exercise 3: f = (a + b) * max(b, c), with `b` used by two gates.
EXERCISE_GRAPH = (
    ("s", "add", ("a", "b")),
    ("m", "max", ("b", "c")),
    ("f", "mul", ("s", "m")),
)
EXERCISE_VALUES = {"a": 3.0, "b": 2.0, "c": -1.0}


def exercise3_gradients():
    """df/da, df/db, df/dc of `EXERCISE_GRAPH` at `EXERCISE_VALUES`, by the gate
    rules of `lalib.backprop.graph_backward`."""
    _, cache = backprop.graph_forward(EXERCISE_GRAPH, EXERCISE_VALUES)
    grads = backprop.graph_backward(1.0, cache)
    return {k: float(grads[k]) for k in "abc"}


def check_graph_gradients(grads):
    """Exercise 3: ``{"a": df/da, "b": df/db, "c": df/dc}`` for `EXERCISE_GRAPH`."""
    want = exercise3_gradients()
    if not isinstance(grads, dict) or set(grads) != set("abc"):
        return Check(False, 'give a dict {"a": ..., "b": ..., "c": ...}')
    got = {k: reader_number(grads[k]) for k in "abc"}
    if any(v is None for v in got.values()):
        return Check(False, "every gradient must be one number")
    s = EXERCISE_VALUES["a"] + EXERCISE_VALUES["b"]  # the add gate's output
    m = max(EXERCISE_VALUES["b"], EXERCISE_VALUES["c"])  # the max gate's output
    wrong = [k for k in "abc" if not np.isclose(got[k], want[k])]
    if not wrong:
        return Check(
            True,
            f"df/db = {want['b']:g} is the sum of what b receives from the add gate "
            "and from the max gate",
        )
    if "b" in wrong and (np.isclose(got["b"], m) or np.isclose(got["b"], s)):
        return Check(
            False,
            "b feeds two gates: its gradient is the sum of the two it receives",
        )
    if "a" in wrong and np.isclose(got["a"], s):
        return Check(
            False, "mul swaps: the add gate's output gets the other factor, max(b, c)"
        )
    if "c" in wrong:
        return Check(False, "max routes the whole gradient to the larger input only")
    return Check(False, f"check df/d{wrong[0]} with the gate rules, from f backwards")
