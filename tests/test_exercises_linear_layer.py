"""lalib.exercises.linear_layer: the checkers of chapter 4 accept right answers only."""

import numpy as np
import pytest

from lalib.exercises.linear_layer import (
    EXERCISE1,
    EXERCISE4_SIZES,
    check_bias_as_weight,
    check_gradient_shapes,
    check_linear_backward,
    check_weight_gradient_rank,
)

N, D, M = EXERCISE1["N"], EXERCISE1["D"], EXERCISE1["M"]
RIGHT_SHAPES = {
    "out": (N, M),
    "grad_output": (N, M),
    "grad_weights": (D, M),
    "grad_bias": (M,),
    "grad_input": (N, D),
}


def test_exercise1_sizes_are_all_different():
    # the exercise is only unambiguous if no two sizes coincide
    assert len({N, D, M}) == 3


def test_gradient_shapes_accepts_the_right_shapes():
    result = check_gradient_shapes(RIGHT_SHAPES)
    assert result and str(D * M) in repr(result)
    # lists and NumPy integers are shapes too
    as_lists = {k: [np.int64(v) for v in s] for k, s in RIGHT_SHAPES.items()}
    assert check_gradient_shapes(as_lists)


@pytest.mark.parametrize(
    "key, wrong, words",
    [
        ("grad_weights", (M, D), "column form"),
        ("grad_bias", (N, M), "summed over the batch"),
        ("grad_input", (N, M), "x's shape"),
        ("out", (N, D), "(D, M)"),
        ("grad_output", (N, D), "shape of out"),
    ],
)
def test_gradient_shapes_rejects_typical_mistakes(key, wrong, words):
    result = check_gradient_shapes({**RIGHT_SHAPES, key: wrong})
    assert not result
    assert key in repr(result) and words in repr(result)


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        [(1, 2)],
        {"out": (N, M)},
        {**RIGHT_SHAPES, "grad_bias": M},  # an int, not a tuple
        {**RIGHT_SHAPES, "grad_bias": (float(M),)},
        {**RIGHT_SHAPES, "grad_bias": (True,)},
    ],
)
def test_gradient_shapes_survives_garbage(garbage):
    result = check_gradient_shapes(garbage)
    assert not result and repr(result).startswith("Not yet: ")


def _right_backward(dout, x, W):
    return dout @ W.T, x.T @ dout, dout.sum(axis=0)


def test_linear_backward_accepts_the_formulas():
    assert check_linear_backward(_right_backward)
    # einsum spells the same sums
    assert check_linear_backward(
        lambda g, x, W: (
            np.einsum("nj,ij->ni", g, W),
            np.einsum("ni,nj->ij", x, g),
            np.einsum("nj->j", g),
        )
    )


@pytest.mark.parametrize(
    "fn, words",
    [
        # x @ dout fits W's shape exactly when N = D, the first test layer
        (lambda g, x, W: (g @ W.T, x @ g, g.sum(axis=0)), "only because N = D"),
        (lambda g, x, W: (g @ W.T, x.T @ g, g.mean(axis=0)), "mean"),
        (lambda g, x, W: (g @ W.T, x.T @ g, g[0]), "first example"),
        (lambda g, x, W: (g @ W.T, x.T @ g / len(x), g.sum(axis=0)), "divided by N"),
        (lambda g, x, W: (g @ W, x.T @ g, g.sum(axis=0)), "raised ValueError"),
        (lambda g, x, W: (g @ W.T, g.T @ x, g.sum(axis=0)), "W's shape"),
        (lambda g, x, W: (g @ W.T, x.T @ g), "three arrays"),
        (lambda g, x, W: 1 / 0, "ZeroDivisionError"),
        (lambda g, x, W: (g @ W.T, "dW", g.sum(axis=0)), "not an array"),
        (lambda g, x, W: None, "three arrays"),
    ],
)
def test_linear_backward_rejects_typical_mistakes(fn, words):
    result = check_linear_backward(fn)
    assert not result and words in repr(result)


def test_linear_backward_names_the_transpose_when_d_equals_m():
    # dout.T @ x has W's shape only when D = M: the checker must reach that layer
    def transposed_when_square(g, x, W):
        dW = x.T @ g
        return g @ W.T, (dW.T if dW.shape[0] == dW.shape[1] else dW), g.sum(axis=0)

    result = check_linear_backward(transposed_when_square)
    assert not result and "transpose" in repr(result)


def _right_augment(x, W, b):
    return np.hstack([x, np.ones((len(x), 1))]), np.vstack([W, b])


def test_bias_as_weight():
    assert check_bias_as_weight(_right_augment)
    for fn, words in [
        (
            lambda x, W, b: (np.hstack([x, np.zeros((len(x), 1))]), np.vstack([W, b])),
            "ones",
        ),
        (
            lambda x, W, b: (np.hstack([np.ones((len(x), 1)), x]), np.vstack([W, b])),
            "ones",
        ),
        (
            lambda x, W, b: (
                np.hstack([x, np.ones((len(x), 1))]),
                np.vstack([W, 0 * b]),
            ),
            "row b",
        ),
        (lambda x, W, b: (x, W), "(N, D + 1)"),
        (lambda x, W, b: (np.hstack([x, np.ones((len(x), 1))]), W), "(D + 1, M)"),
        (lambda x, W, b: x, "ValueError"),  # cannot be unpacked into two
        (lambda x, W, b: ("a", "b"), "two arrays"),
    ]:
        result = check_bias_as_weight(fn)
        assert not result and words in repr(result), repr(result)


def _min_ranks():
    return {(n, d, m): min(n, d, m) for n, d, m in EXERCISE4_SIZES}


def test_weight_gradient_rank():
    assert check_weight_gradient_rank(_min_ranks())
    wrong_n1 = {**_min_ranks(), (1, 5, 4): 4}
    assert "outer" in repr(check_weight_gradient_rank(wrong_n1))
    too_big = {k: k[0] for k in _min_ranks()}  # rank N: too big once N > min(D, M)
    result = check_weight_gradient_rank(too_big)
    assert not result and "at most min(D, M)" in repr(result)
    too_small = {**_min_ranks(), (3, 5, 4): 2}
    assert "independent" in repr(check_weight_gradient_rank(too_small))
    for garbage in [
        None,
        {},
        dict.fromkeys(_min_ranks(), "one"),
        dict.fromkeys(_min_ranks(), 1.5),
    ]:
        result = check_weight_gradient_rank(garbage)
        assert not result and repr(result).startswith("Not yet: ")
