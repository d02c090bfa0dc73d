"""lalib.exercises.backprop: the checkers of chapter 8 accept right answers only."""

import pytest

from lalib.exercises.backprop import (
    EXERCISE_CHAIN,
    EXERCISE_VALUES,
    EXERCISE_WIDTHS,
    check_chain_order,
    check_graph_gradients,
    check_mode_costs,
    exercise3_gradients,
)

# ------------------------------------------------------------------ exercise 1

D, H1, H2, K = EXERCISE_WIDTHS
REVERSE = K * H2 + H2 * H1 + H1 * D  # one row-times-matrix product per Jacobian
FORWARD = H2 * H1 * D + K * H2 * D + K * D  # J_2 J_1, then J_3 (J_2 J_1), then v^T


def test_mode_costs_by_hand():
    assert (REVERSE, FORWARD) == (2720, 43648)
    result = check_mode_costs(REVERSE, FORWARD)
    assert result and "16 times cheaper" in repr(result)


@pytest.mark.parametrize(
    "answer, words",
    [
        ((FORWARD, REVERSE), "swapped"),
        ((REVERSE + 1, FORWARD), "reverse mode"),
        ((REVERSE, FORWARD - K * D), "still has to multiply"),
        ((REVERSE, FORWARD + 1), "forward mode"),
        (("many", FORWARD), "numbers"),
        ((None, None), "numbers"),
    ],
)
def test_mode_costs_rejects_mistakes(answer, words):
    result = check_mode_costs(*answer)
    assert not result and words in repr(result)


# ------------------------------------------------------------------ exercise 2


def _cost(order, dims):
    """Cost of a nested-tuple order, written out independently of lalib."""

    def walk(t):
        if isinstance(t, int):
            return dims[t], dims[t + 1], 0
        p, q, a = walk(t[0])
        _, r, b = walk(t[1])
        return p, r, a + b + p * q * r

    return walk(order)[2]


ORDERS = {
    "((A1 A2) A3) A4": (((0, 1), 2), 3),
    "(A1 (A2 A3)) A4": ((0, (1, 2)), 3),
    "(A1 A2) (A3 A4)": ((0, 1), (2, 3)),
    "A1 ((A2 A3) A4)": (0, ((1, 2), 3)),
    "A1 (A2 (A3 A4))": (0, (1, (2, 3))),
}


def _text(t):
    return f"A{t + 1}" if isinstance(t, int) else f"({_text(t[0])} {_text(t[1])})"


def test_chain_order_accepts_exactly_the_cheapest():
    costs = {name: _cost(o, EXERCISE_CHAIN) for name, o in ORDERS.items()}
    best = min(costs.values())
    assert best == 26000 and list(costs.values()).count(best) == 1
    for name, order in ORDERS.items():
        result = check_chain_order(_text(order))
        assert bool(result) == (costs[name] == best), name
        if costs[name] != best:
            assert str(costs[name]) in repr(result)


@pytest.mark.parametrize("garbage", ["", "A1 A2 A3 A4", "((A1 A2) A5)", None, 3])
def test_chain_order_survives_garbage(garbage):
    result = check_chain_order(garbage)
    assert not result and "not a parenthesisation" in repr(result)


# ------------------------------------------------------------------ exercise 3


def test_graph_gradients_by_hand():
    a, b, c = (EXERCISE_VALUES[k] for k in "abc")
    s, m = a + b, max(b, c)  # 5 and 2 (b > c)
    want = {"a": m, "b": m + s, "c": 0.0}  # b: from the add gate and from the max gate
    assert exercise3_gradients() == want
    assert check_graph_gradients(want)
    assert check_graph_gradients({k: int(v) for k, v in want.items()})


@pytest.mark.parametrize(
    "answer, words",
    [
        ({"a": 2.0, "b": 2.0, "c": 0.0}, "sum"),
        ({"a": 2.0, "b": 5.0, "c": 0.0}, "sum"),
        ({"a": 5.0, "b": 7.0, "c": 0.0}, "swaps"),
        ({"a": 2.0, "b": 7.0, "c": 5.0}, "routes"),
        ({"a": 1.0, "b": 7.0, "c": 0.0}, "df/da"),
        ({"a": 2.0, "b": 7.0}, "dict"),
        ([2.0, 7.0, 0.0], "dict"),
        ({"a": "2", "b": 7.0, "c": 0.0}, "one number"),
    ],
)
def test_graph_gradients_rejects_mistakes(answer, words):
    result = check_graph_gradients(answer)
    assert not result and words in repr(result)
