"""Tests for lalib.losses: known answers, gradient checks, stability, dtype, bad
input."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import log_softmax, logsumexp

from lalib.activations import softmax
from lalib.gradcheck import check_gradients
from lalib.losses import softmax_cross_entropy, squared_error

SHAPES_NK = [(1, 1), (1, 3), (4, 2), (5, 10), (32, 7)]


# --- squared_error -------------------------------------------------------------------


def test_squared_error_known_answer():
    L, d = squared_error(np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 6.0]))
    assert L == pytest.approx(0.5 * (0 + 4 + 9))
    np.testing.assert_array_equal(d, [0.0, 2.0, -3.0])


@pytest.mark.parametrize("shape", [(3,), (4, 2), (2, 3, 5)])
def test_squared_error_gradient(rng, shape):
    y, t = rng.normal(size=shape), rng.normal(size=shape)
    _, d = squared_error(y, t)
    errors = check_gradients(lambda a: squared_error(a, t)[0], [y], [d])
    assert max(errors) < 1e-7


def test_squared_error_shape_mismatch():
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)"):
        squared_error(np.zeros(3), np.zeros(4))


# --- softmax_cross_entropy -----------------------------------------------------------


def _reference(scores, labels):
    """Float64 loss and gradient from scipy, written independently of lalib."""
    s = np.asarray(scores, dtype=np.float64)
    n = s.shape[0]
    L = np.mean(logsumexp(s, axis=1) - s[np.arange(n), labels])
    onehot = np.eye(s.shape[1])[labels]
    return L, (np.exp(log_softmax(s, axis=1)) - onehot) / n


@pytest.mark.parametrize("shape", SHAPES_NK)
def test_cross_entropy_matches_reference(rng, shape):
    scores = rng.normal(scale=3.0, size=shape)
    labels = rng.integers(0, shape[1], size=shape[0])
    L, d = softmax_cross_entropy(scores, labels)
    L_ref, d_ref = _reference(scores, labels)
    assert L == pytest.approx(L_ref, rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(d, d_ref, rtol=1e-10, atol=1e-14)
    assert d.shape == shape


@pytest.mark.parametrize("shape", SHAPES_NK)
def test_cross_entropy_gradient(rng, shape):
    scores = rng.normal(size=shape)
    labels = rng.integers(0, shape[1], size=shape[0])
    _, d = softmax_cross_entropy(scores, labels)
    errors = check_gradients(
        lambda s: softmax_cross_entropy(s, labels)[0], [scores], [d]
    )
    assert max(errors) < 1e-7


def test_cross_entropy_uniform_scores_give_log_k():
    L, d = softmax_cross_entropy(np.zeros((3, 5)), np.array([0, 2, 4]))
    assert L == pytest.approx(np.log(5))
    np.testing.assert_allclose(d.sum(axis=1), 0.0, atol=1e-15)


def test_cross_entropy_gradient_is_softmax_minus_onehot(rng):
    scores = rng.normal(size=(6, 4))
    labels = np.array([0, 1, 2, 3, 0, 1])
    _, d = softmax_cross_entropy(scores, labels)
    expected = (softmax(scores, axis=1) - np.eye(4)[labels]) / 6
    np.testing.assert_allclose(d, expected, rtol=1e-12, atol=1e-15)


def test_cross_entropy_is_stable_for_huge_scores():
    scores = np.array([[1e4, 0.0, -1e4], [1e4, 1e4, 0.0], [-1e4, 0.0, 1e4]])
    labels = np.array([0, 1, 0])
    L, d = softmax_cross_entropy(scores, labels)
    # row 0 is certain and right (0), row 1 splits two ways (log 2), row 2 is off by 2e4
    assert L == pytest.approx((0.0 + np.log(2) + 2e4) / 3)
    assert np.all(np.isfinite(d))


def test_cross_entropy_confident_and_right_has_tiny_loss():
    L, d = softmax_cross_entropy(np.array([[50.0, 0.0]]), np.array([0]))
    assert 0 <= L < 1e-20
    assert np.abs(d).max() < 1e-20


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_keeps_dtype(rng, dtype):
    scores = rng.normal(size=(8, 5)).astype(dtype)
    labels = rng.integers(0, 5, size=8)
    L, d = softmax_cross_entropy(scores, labels)
    assert d.dtype == dtype
    assert isinstance(L, float)
    L_ref, d_ref = _reference(scores, labels)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert L == pytest.approx(L_ref, rel=tol)
    np.testing.assert_allclose(d, d_ref, rtol=tol, atol=tol)


def test_cross_entropy_promotes_integer_scores():
    L, d = softmax_cross_entropy(np.array([[1, 2], [3, 0]]), np.array([1, 0]))
    assert d.dtype == np.float64
    assert L == pytest.approx(np.mean([np.log1p(np.exp(-1)), np.log1p(np.exp(-3))]))


def test_cross_entropy_does_not_modify_input(rng):
    scores = rng.normal(size=(4, 3))
    copy = scores.copy()
    softmax_cross_entropy(scores, np.array([0, 1, 2, 0]))
    np.testing.assert_array_equal(scores, copy)


@pytest.mark.parametrize(
    "scores, labels, match",
    [
        (np.zeros(3), np.array([0]), r"2 dimensions \(N, K\), got shape \(3,\)"),
        (np.zeros((2, 3, 1)), np.array([0, 0]), r"got shape \(2, 3, 1\)"),
        (np.zeros((0, 3)), np.zeros(0, dtype=int), r"at least one row"),
        (np.zeros((2, 3)), np.array([0, 1, 2]), r"\(N,\) = \(2,\), got \(3,\)"),
        (np.zeros((2, 3)), np.array([[0, 1]]), r"\(N,\) = \(2,\), got \(1, 2\)"),
        (np.zeros((2, 3)), np.array([0.0, 1.0]), r"integers"),
        (np.zeros((2, 3)), np.array([0, 3]), r"0\.\.2.*\(2, 3\)"),
        (np.zeros((2, 3)), np.array([-1, 0]), r"0\.\.2"),
        (np.array([[0.0, np.inf]]), np.array([0]), r"finite"),
        (np.array([[0.0, np.nan]]), np.array([0]), r"finite"),
    ],
)
def test_cross_entropy_bad_input(scores, labels, match):
    with pytest.raises(ValueError, match=match):
        softmax_cross_entropy(scores, labels)


@st.composite
def scores_and_labels(draw):
    n = draw(st.integers(1, 6))
    k = draw(st.integers(1, 6))
    scores = draw(
        arrays(np.float64, (n, k), elements=st.floats(-1e4, 1e4, allow_nan=False))
    )
    labels = draw(arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
    return scores, labels


@given(scores_and_labels())
def test_cross_entropy_properties(case):
    scores, labels = case
    L, d = softmax_cross_entropy(scores, labels)
    L_ref, d_ref = _reference(scores, labels)
    assert np.isfinite(L) and L >= 0
    assert L == pytest.approx(L_ref, rel=1e-9, abs=1e-9)
    np.testing.assert_allclose(d, d_ref, atol=1e-12)
    np.testing.assert_allclose(
        d.sum(axis=1), 0.0, atol=1e-12
    )  # probabilities minus one-hot
    # adding a constant to a row changes neither the loss nor the gradient
    L2, d2 = softmax_cross_entropy(scores + 7.0, labels)
    assert L2 == pytest.approx(L, rel=1e-9, abs=1e-9)


# ---------------------------------------------------------------- bad input


def test_ragged_input_names_the_argument():
    with pytest.raises(ValueError, match="labels must be a rectangular array"):
        softmax_cross_entropy(np.zeros((2, 3)), [[0], [1, 2]])
    with pytest.raises(ValueError, match="y must be a rectangular array"):
        squared_error([[1.0], [2.0, 3.0]], np.zeros(2))


def test_complex_scores_are_refused():
    with pytest.raises(ValueError, match="scores must hold real numbers"):
        softmax_cross_entropy(np.zeros((2, 3)) + 1j, np.array([0, 1]))


# The messages a reader sees, in full: each names the argument, what was expected and
# what was received.
MESSAGES = {
    "shape mismatch": (
        lambda: squared_error(np.zeros(3), np.zeros(4)),
        "y and t must have the same shape, got y (3,) and t (4,)",
    ),
    "scores rank": (
        lambda: softmax_cross_entropy(np.zeros(3), np.array([0])),
        "scores must have 2 dimensions (N, K), got shape (3,)",
    ),
    "no class": (
        lambda: softmax_cross_entropy(np.zeros((2, 0)), np.array([0, 0])),
        "scores must have at least one row and one class, got (2, 0)",
    ),
    "infinite score": (
        lambda: softmax_cross_entropy(np.array([[0.0, -np.inf]]), np.array([0])),
        "scores must be finite (no inf or NaN)",
    ),
    "labels shape": (
        lambda: softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 1, 2])),
        "labels must have shape (N,) = (2,), got (3,)",
    ),
    "labels dtype": (
        lambda: softmax_cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0])),
        "labels must be integers, got dtype float64",
    ),
    "label too large": (
        lambda: softmax_cross_entropy(np.zeros((2, 3)), np.array([1, 3])),
        "labels must lie in 0..2 for scores of shape (2, 3), got values from 1 to 3",
    ),
    "negative label": (
        lambda: softmax_cross_entropy(np.zeros((2, 4)), np.array([2, -1])),
        "labels must lie in 0..3 for scores of shape (2, 4), got values from -1 to 2",
    ),
}


@pytest.mark.parametrize("case", MESSAGES)
def test_messages_in_full(case):
    call, message = MESSAGES[case]
    with pytest.raises(ValueError) as info:
        call()
    assert str(info.value) == message
