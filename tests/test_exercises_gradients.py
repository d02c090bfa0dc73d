"""lalib.exercises.gradients: the checkers of chapter 5 accept right answers only."""

import numpy as np
import pytest

from lalib.exercises.gradients import (
    EXERCISE1,
    check_outer_product_gradient,
    check_quadratic_gradient,
    check_softmax_ce_gradient,
    check_two_layer_backward,
)

# ------------------------------------------------------------------ exercise 1

W, b, x, t = (EXERCISE1[k] for k in ("W", "b", "x", "t"))
r = W @ x + b - t  # y - t, by the chain rule written out independently of lalib


def test_outer_product_gradient_by_hand():
    # y = W x + b = (5, 0), y - t = (4, -2): the gradient is outer((4, -2), (1, 2, 3))
    assert np.array_equal(r, [4.0, -2.0])
    assert check_outer_product_gradient([[4, 8, 12], [-2, -4, -6]])
    assert check_outer_product_gradient(np.outer(r, x))


@pytest.mark.parametrize(
    "answer, words",
    [
        (np.outer(x, r), "stored (D, M) array"),
        (2 * np.outer(r, x), "1/2"),
        (-np.outer(r, x), "sign"),
        (np.outer(W @ x + b, x), "not y"),
        (np.outer(W @ x - t, x), "bias"),
        (np.outer(r, x) + 1, "(y_j - t_j) x_i"),
        (r @ r, "(2, 3)"),  # a number, not a matrix
        (np.zeros((3, 3)), "(2, 3)"),
    ],
)
def test_outer_product_gradient_rejects_typical_mistakes(answer, words):
    result = check_outer_product_gradient(answer)
    assert not result and words in repr(result)


@pytest.mark.parametrize("garbage", [None, "grad", [[1, 2], [3]], {"W": 1}])
def test_outer_product_gradient_survives_garbage(garbage):
    result = check_outer_product_gradient(garbage)
    assert not result and repr(result).startswith("Not yet: ")


# ------------------------------------------------------------------ exercise 2


def _stable_softmax(s):
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _right_ce_grad(scores, labels):
    n, k = scores.shape
    return (_stable_softmax(scores) - np.eye(k)[labels]) / n


def _naive_ce_grad(scores, labels):
    e = np.exp(scores)  # overflows for scores in the thousands
    n, k = scores.shape
    return (e / e.sum(axis=1, keepdims=True) - np.eye(k)[labels]) / n


def test_softmax_ce_gradient_accepts_the_formula():
    assert check_softmax_ce_gradient(_right_ce_grad)


@pytest.mark.parametrize(
    "fn, words",
    [
        (_naive_ce_grad, "maximum"),
        (lambda s, y: len(y) * _right_ce_grad(s, y), "divide by N"),
        (lambda s, y: -_right_ce_grad(s, y), "sign"),
        (lambda s, y: _stable_softmax(s) / len(y), "subtract 1"),
        (
            lambda s, y: (_stable_softmax(s.T).T - np.eye(s.shape[1])[y]) / len(y),
            "axis=1",
        ),
        (lambda s, y: _right_ce_grad(s, y) + 0.01, "(p[n, k]"),
        (lambda s, y: _right_ce_grad(s, y)[:, :-1], "(N, K)"),
        (lambda s, y: 1 / 0, "ZeroDivisionError"),
        (lambda s, y: "p - onehot", "(N, K)"),
    ],
)
def test_softmax_ce_gradient_rejects_typical_mistakes(fn, words):
    result = check_softmax_ce_gradient(fn)
    assert not result and words in repr(result)


# ------------------------------------------------------------------ exercise 3


def _backward(x, W1, b1, W2, b2, labels, mask=True, use_h=True):
    a = x @ W1 + b1
    h = np.maximum(a, 0)
    s = h @ W2 + b2
    n, k = s.shape
    ds = (_stable_softmax(s) - np.eye(k)[labels]) / n
    dW2 = (h if use_h else a).T @ ds
    db2 = ds.sum(axis=0)
    da = ds @ W2.T
    if mask:
        da = da * (a > 0)
    return [x.T @ da, da.sum(axis=0), dW2, db2]


def test_two_layer_backward_accepts_backprop():
    assert check_two_layer_backward(_backward)


@pytest.mark.parametrize(
    "fn, words",
    [
        (lambda *args: _backward(*args, mask=False), "through the ReLU"),
        (lambda *args: _backward(*args, use_h=False), "h = relu(a) is its input"),
        (lambda *args: _backward(*args)[2:] + _backward(*args)[:2], "order"),
        (lambda *args: [2 * g for g in _backward(*args)], "dW2 = h.T @ dscores"),
        (
            lambda *args: (
                _backward(*args)[:1] + [0 * _backward(*args)[1]] + _backward(*args)[2:]
            ),
            "db1 = da summed",
        ),
        (lambda *args: _backward(*args)[:3], "four arrays"),
        (lambda *args: None, "four arrays"),
        (lambda *args: 1 / 0, "ZeroDivisionError"),
        (lambda *args: [np.zeros(2)] * 4, "each gradient has its parameter's shape"),
    ],
)
def test_two_layer_backward_rejects_typical_mistakes(fn, words):
    result = check_two_layer_backward(fn)
    assert not result and words in repr(result)


def test_two_layer_backward_names_the_unmasked_bias_gradient():
    def unmasked_db1(*args):
        grads = _backward(*args)
        grads[1] = _backward(*args, mask=False)[1]
        return grads

    result = check_two_layer_backward(unmasked_db1)
    assert not result and "mask dh with the ReLU" in repr(result)


# ------------------------------------------------------------------ exercise 4


def test_quadratic_gradient_accepts_the_formula():
    assert check_quadratic_gradient(lambda A, x: (A + A.T) @ x)
    assert check_quadratic_gradient(lambda A, x: A @ x + x @ A)


@pytest.mark.parametrize(
    "fn, words",
    [
        (lambda A, x: 2 * A @ x, "symmetric A only"),
        (lambda A, x: A @ x, "appears twice"),
        (lambda A, x: A.T @ x, "appears twice"),
        (lambda A, x: (A + A.T) @ x + 1, "df/dx_k"),
        (lambda A, x: x @ A @ x, "shape"),  # the value, not the gradient
        (lambda A, x: A + A.T, "shape"),
        (lambda A, x: 1 / 0, "ZeroDivisionError"),
        (lambda A, x: ["a"] * len(x), "shape"),
    ],
)
def test_quadratic_gradient_rejects_typical_mistakes(fn, words):
    result = check_quadratic_gradient(fn)
    assert not result and words in repr(result)
