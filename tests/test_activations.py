"""Tests for lalib.activations: relu and softmax, forward and backward."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays
from memory import traced_peak
from scipy.special import softmax as scipy_softmax

from lalib.activations import (
    relu,
    relu_backward,
    relu_forward,
    softmax,
    softmax_backward,
)
from lalib.gradcheck import check_gradients

SHAPES = [(1,), (5,), (4, 3), (2, 3, 4)]


def _away_from_zero(rng, shape, margin=1e-3):
    """Normal samples pushed away from relu's kink, where finite differences straddle
    it."""
    x = rng.normal(size=shape)
    return np.where(np.abs(x) < margin, margin, x)


# --- relu ----------------------------------------------------------------------------


def test_relu_known_answer():
    out, cache = relu_forward(np.array([-2.0, -0.0, 0.0, 0.5, 3.0]))
    np.testing.assert_array_equal(out, [0.0, 0.0, 0.0, 0.5, 3.0])
    dx = relu_backward(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), cache)
    np.testing.assert_array_equal(dx, [0.0, 0.0, 0.0, 4.0, 5.0])  # derivative 0 at 0


@pytest.mark.parametrize("shape", SHAPES)
def test_relu_gradient(rng, shape):
    x = _away_from_zero(rng, shape)
    dout = rng.normal(size=shape)
    _, cache = relu_forward(x)
    errors = check_gradients(relu, [x], [relu_backward(dout, cache)], dout)
    assert max(errors) < 1e-9


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_keeps_dtype(rng, dtype):
    x = rng.normal(size=(3, 4)).astype(dtype)
    out, cache = relu_forward(x)
    assert out.dtype == dtype
    assert relu_backward(np.ones_like(x), cache).dtype == dtype


def test_relu_promotes_integers():
    out, _ = relu_forward(np.array([-1, 2]))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [0.0, 2.0])


def test_relu_backward_shape_mismatch():
    _, cache = relu_forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"\(2, 3\), got \(3, 2\)"):
        relu_backward(np.zeros((3, 2)), cache)


@given(
    arrays(
        np.float64,
        array_shapes(max_dims=3, max_side=5),
        elements=st.floats(-1e6, 1e6, allow_nan=False),
    )
)
def test_relu_properties(x):
    out = relu(x)
    assert np.all(out >= 0)
    np.testing.assert_array_equal(out - relu(-x), x)  # relu(x) - relu(-x) = x


# --- softmax -------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_matches_scipy(rng, shape, axis):
    z = rng.normal(scale=4.0, size=shape)
    np.testing.assert_allclose(
        softmax(z, axis=axis), scipy_softmax(z, axis=axis), rtol=1e-12
    )


@pytest.mark.parametrize("shape", [(5,), (4, 3), (2, 3, 4)])
@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_gradient(rng, shape, axis):
    z = rng.normal(size=shape)
    dout = rng.normal(size=shape)
    p = softmax(z, axis=axis)
    dz = softmax_backward(dout, p, axis=axis)
    errors = check_gradients(lambda a: softmax(a, axis=axis), [z], [dz], dout)
    assert max(errors) < 1e-8


def test_softmax_backward_equals_jacobian_product(rng):
    z, dout = rng.normal(size=5), rng.normal(size=5)
    p = softmax(z)
    jacobian = np.diag(p) - np.outer(
        p, p
    )  # the n x n matrix the backward pass avoids forming
    np.testing.assert_allclose(softmax_backward(dout, p), jacobian.T @ dout, rtol=1e-12)


@pytest.mark.parametrize("big", [1e4, -1e4])
def test_softmax_is_stable_for_huge_logits(big):
    z = np.array([[big, 0.0, -big], [big, big, big]])
    p = softmax(z)
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(p[1], [1 / 3, 1 / 3, 1 / 3])
    expected = [1.0, 0.0, 0.0] if big > 0 else [0.0, 0.0, 1.0]
    np.testing.assert_allclose(p[0], expected)


def test_softmax_all_minus_inf_row_is_zeros():
    z = np.array([[-np.inf, -np.inf, -np.inf], [0.0, -np.inf, 0.0]])
    p = softmax(z)
    np.testing.assert_array_equal(p[0], [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(p[1], [0.5, 0.0, 0.5])
    assert not np.any(np.isnan(p))
    dz = softmax_backward(np.ones_like(p), p)
    assert np.all(np.isfinite(dz))
    np.testing.assert_array_equal(dz[0], 0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_keeps_dtype(rng, dtype):
    z = (rng.normal(size=(3, 4)) * 1e3).astype(dtype)
    p = softmax(z)
    assert p.dtype == dtype
    assert softmax_backward(np.ones_like(p), p).dtype == dtype
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    z_inf = np.full((2, 3), -np.inf, dtype=dtype)
    assert softmax(z_inf).dtype == dtype


def test_softmax_backward_shape_mismatch():
    with pytest.raises(ValueError, match=r"\(2, 3\), got \(3,\)"):
        softmax_backward(np.zeros(3), np.zeros((2, 3)))


@given(
    arrays(
        np.float64,
        array_shapes(min_dims=1, max_dims=3, max_side=5),
        elements=st.floats(-1e4, 1e4, allow_nan=False),
    )
)
def test_softmax_properties(z):
    p = softmax(z)
    assert np.all((p >= 0) & (p <= 1))
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(softmax(z + 123.0), p, atol=1e-12)  # shift invariance
    np.testing.assert_allclose(p, scipy_softmax(z, axis=-1), atol=1e-12)


def test_softmax_propagates_nan():
    p = softmax(np.array([[np.nan, 1.0], [0.0, 1.0]]))
    assert np.all(np.isnan(p[0]))
    np.testing.assert_allclose(p[1], scipy_softmax([0.0, 1.0]))


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "shape, axis", [((3, 0), -1), ((3, 0), 1), ((0,), 0), ((2, 0, 4), 1)]
)
def test_softmax_over_an_empty_axis_is_an_empty_array(shape, axis):
    # np.max refused the zero-size axis with a raw "zero-size array" error.
    p = softmax(np.ones(shape, dtype=np.float32), axis=axis)
    assert p.shape == shape and p.dtype == np.float32
    dz = softmax_backward(np.ones(shape), p, axis=axis)
    assert dz.shape == shape


def test_softmax_empty_batch_along_another_axis():
    assert softmax(np.ones((0, 3))).shape == (0, 3)


@pytest.mark.parametrize("axis", [2, -3, 1.0, True, "1", None, (0, 1)])
def test_softmax_axis_out_of_range_names_the_shape(axis):
    with pytest.raises(
        ValueError, match=r"axis must be an integer in -2..1 for z of shape \(2, 2\)"
    ):
        softmax(np.ones((2, 2)), axis=axis)
    with pytest.raises(ValueError, match=r"for p of shape \(2, 2\)"):
        softmax_backward(np.ones((2, 2)), np.full((2, 2), 0.5), axis=axis)


def test_softmax_of_a_scalar_is_still_one():
    # A 0-d array has one implicit axis (NumPy reduces it along 0 or -1): unchanged.
    assert softmax(np.array(3.0)) == 1.0
    assert softmax(np.array(3.0), axis=0) == 1.0
    with pytest.raises(ValueError, match=r"shape \(\), got 1"):
        softmax(np.array(3.0), axis=1)


def test_softmax_special_values_are_unchanged():
    # The conventions the attention module relies on, exactly as before.
    z = np.array(
        [
            [0.0, -np.inf, 0.0],
            [-np.inf, -np.inf, -np.inf],
            [np.nan, 0.0, 1.0],
            [np.inf, 0.0, 1.0],
        ]
    )
    with np.errstate(invalid="ignore"):
        p = softmax(z)
    np.testing.assert_array_equal(p[0], [0.5, 0.0, 0.5])
    np.testing.assert_array_equal(p[1], [0.0, 0.0, 0.0])
    assert np.all(np.isnan(p[2])) and np.all(np.isnan(p[3]))


def test_backward_passes_keep_the_forward_dtype():
    # A float64 upstream gradient used to promote float32 results to float64.
    x = np.array([[-1.0, 2.0]], dtype=np.float32)
    _, cache = relu_forward(x)
    assert relu_backward(np.ones((1, 2)), cache).dtype == np.float32
    p = softmax(x)
    dz = softmax_backward(np.array([[1.0, 0.0]]), p)
    assert dz.dtype == np.float32
    np.testing.assert_allclose(
        dz, softmax_backward(np.array([[1.0, 0.0]], np.float32), p)
    )


@pytest.mark.parametrize("fn", [relu, softmax])
def test_ragged_and_complex_input_are_refused(fn):
    with pytest.raises(ValueError, match="rectangular array"):
        fn([[1.0, 2.0], [3.0]])
    with pytest.raises(ValueError, match="real numbers"):
        fn(np.ones(3) + 1j)


def test_backward_passes_do_not_copy_dout(rng):
    # dout already in the cache's dtype is used where it is: no second array of the
    # result's size. relu: 240 kB arrays, below the size where NumPy would reuse a
    # copy's buffer for the product; besides the result, its bool mask (an eighth of
    # it) and NumPy's casting buffer for the mask (64 kB).
    x, dout = rng.normal(size=30_000), rng.normal(size=30_000)
    peak, dx = traced_peak(lambda: relu_backward(dout, x))
    assert peak < 2 * dx.nbytes
    p, dout = softmax(rng.normal(size=(100, 2000))), rng.normal(size=(100, 2000))
    peak, dz = traced_peak(lambda: softmax_backward(dout, p))
    assert peak < 1.5 * dz.nbytes
