"""lalib.exercises.transformer: the checkers of the transformer chapter accept right
answers only."""

import numpy as np
import pytest

from lalib.exercises.transformer import (
    EXERCISE1,
    EXERCISE2,
    block_parameter_count,
    check_layer_norm_dx,
    check_parameter_count,
    check_ranks,
)

# ------------------------------------------------------------------ exercise 1


def test_ranks_right_answer():
    d = EXERCISE1["d"]
    assert d == 16 and EXERCISE1["n_rows"] > d
    assert check_ranks(d - 1, d - 1)
    assert check_ranks(np.int64(15), 15.0)


@pytest.mark.parametrize(
    "rank_P, rank_rows, words",
    [
        (16, 15, "not invertible"),
        (14, 15, "hyperplane"),
        (15, 16, "range of P"),
        (15, 100, "range of P"),
        (15, 14, "generic"),
        ("15", 15, "whole number"),
        (None, 15, "whole number"),
        (15, np.nan, "whole number"),
    ],
)
def test_ranks_reject_mistakes(rank_P, rank_rows, words):
    result = check_ranks(rank_P, rank_rows)
    assert not result and words in repr(result)


# ------------------------------------------------------------------ exercise 2


def right_count(d, h, d_ff):
    """Written out: four d x d attention maps, W1 + b1 + W2 + b2, two (gamma, beta)."""
    return 4 * d * d + (d * d_ff + d_ff + d_ff * d + d) + 2 * 2 * d


def test_block_parameter_count_matches_the_formula():
    for d, h, d_ff in EXERCISE2[:-1]:
        assert block_parameter_count(d, h, d_ff) == right_count(d, h, d_ff)


def test_parameter_count_right_answer():
    result = check_parameter_count(right_count)
    assert result and "3,150,336" in repr(result) and "67%" in repr(result)


@pytest.mark.parametrize(
    "fn, words",
    [
        (lambda d, h, f: right_count(d, h, f) - 4 * d, "LayerNorm"),
        (lambda d, h, f: right_count(d, h, f) - f - d, "two biases"),
        (lambda d, h, f: right_count(d, h, f) - 3 * d * d, "four d x d"),
        (lambda d, h, f: right_count(d, h, f) + (h - 1) * 4 * d * d, "heads split d"),
        (lambda d, h, f: right_count(d, h, f) + 1, "got"),
        (lambda d, h, f: "many", "one number"),
        (lambda d, h, f: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_parameter_count_rejects_mistakes(fn, words):
    result = check_parameter_count(fn)
    assert not result and words in repr(result)


# ------------------------------------------------------------------ exercise 3


def right_dx(dout, x, gamma, eps):
    """The LayerNorm input gradient, from the formula with mean and variance."""
    d = x.shape[1]
    mu = x.mean(axis=1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=1, keepdims=True)
    xhat = (x - mu) / np.sqrt(var + eps)
    g = dout * gamma
    return (
        d * g - g.sum(axis=1, keepdims=True) - xhat * (g * xhat).sum(1, keepdims=True)
    ) / (d * np.sqrt(var + eps))


def test_layer_norm_dx_right_answer():
    assert check_layer_norm_dx(right_dx)


def _centred_only(dout, x, gamma, eps):
    g = dout * gamma
    var = x.var(axis=1, keepdims=True)
    return (g - g.mean(axis=1, keepdims=True)) / np.sqrt(var + eps)


@pytest.mark.parametrize(
    "fn, words",
    [
        (
            lambda dout, x, gamma, eps: (
                dout * gamma / np.sqrt(x.var(1, keepdims=True) + eps)
            ),
            "constants",
        ),
        (lambda dout, x, gamma, eps: right_dx(dout, x, gamma, eps) + 0.1, "sum to 0"),
        (_centred_only, "component along xhat"),
        (lambda dout, x, gamma, eps: right_dx(dout, x, gamma, eps)[:, :1], "shape"),
        (lambda dout, x, gamma, eps: None, "shape"),
        (lambda dout, x, gamma, eps: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_layer_norm_dx_rejects_mistakes(fn, words):
    result = check_layer_norm_dx(fn)
    assert not result and words in repr(result)
