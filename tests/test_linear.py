import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from memory import traced_peak

from lalib import LinearLayer, linear
from lalib.gradcheck import check_gradients

SHAPES = [(1, 1, 1), (4, 3, 2), (7, 5, 11), (32, 64, 16)]  # (N, D, M)


def _params(rng, N, D, M, dtype=np.float64):
    x = rng.standard_normal((N, D)).astype(dtype)
    W = rng.standard_normal((D, M)).astype(dtype)
    b = rng.standard_normal(M).astype(dtype)
    return x, W, b


def test_worked_example_of_chapter_1():
    # y = W x + b with W=[[1,2],[3,4]], x=[5,6], b=[1,1]; the source text misprints 43.
    W = np.array([[1, 2], [3, 4]])
    out, _ = linear.linear_forward(np.array([[5, 6]]), W.T, np.array([1, 1]))
    np.testing.assert_array_equal(out, [[18.0, 40.0]])


@pytest.mark.parametrize("N,D,M", SHAPES)
def test_forward_matches_explicit_sum(rng, N, D, M):
    x, W, b = _params(rng, N, D, M)
    out, cache = linear.linear_forward(x, W, b)
    assert out.shape == (N, M)
    expected = np.array(
        [
            [sum(x[n, d] * W[d, m] for d in range(D)) + b[m] for m in range(M)]
            for n in range(N)
        ]
    )
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    assert cache[0] is x and cache[1] is W


@pytest.mark.parametrize("N,D,M", SHAPES[:3])
def test_backward_matches_finite_differences(rng, N, D, M):
    x, W, b = _params(rng, N, D, M)
    dout = rng.standard_normal((N, M))
    _, cache = linear.linear_forward(x, W, b)
    grads = linear.linear_backward(dout, cache)
    assert [g.shape for g in grads] == [x.shape, W.shape, b.shape]
    errors = check_gradients(linear.linear, (x, W, b), grads, dout=dout)
    assert max(errors) < 1e-8, errors


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(rng, dtype):
    x, W, b = _params(rng, 3, 4, 5, dtype)
    out, cache = linear.linear_forward(x, W, b)
    assert out.dtype == dtype
    assert all(
        g.dtype == dtype for g in linear.linear_backward(np.ones_like(out), cache)
    )


def test_integer_input_is_promoted_to_float():
    out = linear.linear(np.array([[1, 2]]), np.array([[1], [1]]), np.array([0]))
    assert out.dtype == np.float64 and out[0, 0] == 3.0


@pytest.mark.parametrize(
    "x_shape,W_shape,b_shape,message",
    [
        ((3,), (3, 2), (2,), r"x must have 2 dimensions \(N, D\), got shape \(3,\)"),
        ((4, 3), (3,), (2,), r"W must have 2 dimensions \(D, M\), got shape \(3,\)"),
        (
            (4, 3),
            (2, 5),
            (5,),
            r"x has D=3 features \(shape \(4, 3\)\) but W expects D=2",
        ),
        ((4, 3), (3, 2), (3,), r"b must have shape \(M,\) = \(2,\), got \(3,\)"),
        ((4, 3), (3, 2), (1, 2), r"b must have shape \(M,\) = \(2,\), got \(1, 2\)"),
    ],
)
def test_bad_shapes_raise_value_error_naming_them(x_shape, W_shape, b_shape, message):
    with pytest.raises(ValueError, match=message):
        linear.linear_forward(np.ones(x_shape), np.ones(W_shape), np.ones(b_shape))


def test_backward_rejects_wrong_dout_shape(rng):
    _, cache = linear.linear_forward(*_params(rng, 4, 3, 2))
    with pytest.raises(
        ValueError, match=r"dout must have shape \(N, M\) = \(4, 2\), got \(2, 4\)"
    ):
        linear.linear_backward(np.ones((2, 4)), cache)


def test_layer_backward_names_its_own_arguments(rng):
    # Its messages said "dout", a name LinearLayer.backward does not have.
    layer = LinearLayer(4, 2, rng=rng)
    with pytest.raises(ValueError, match="grad_output must hold real numbers"):
        layer.backward(None, np.ones((3, 4)))
    with pytest.raises(ValueError, match="grad_output must be a rectangular array"):
        layer.backward([[1.0, 2.0], [3.0]], np.ones((2, 4)))
    with pytest.raises(
        ValueError,
        match=r"grad_output must have shape \(N, M\) = \(0, 2\), got \(3, 2\) "
        r"\(N from x of shape \(0, 4\), M from weights of shape \(4, 2\)\)",
    ):
        layer.backward(np.ones((3, 2)), np.ones((0, 4)))


def test_complex_input_is_refused():
    with pytest.raises(ValueError, match="real numbers"):
        linear.linear(np.ones((1, 2), dtype=complex), np.ones((2, 2)), np.ones(2))


@given(
    st.integers(1, 6), st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**32 - 1)
)
def test_backward_is_the_transpose_of_forward(N, D, M, seed):
    # <dout, d(out)> = <dx, d(x)> for the linear part: the adjoint identity behind
    # backprop.
    rng = np.random.default_rng(seed)
    x, W, b = _params(rng, N, D, M)
    dout, dx_dir = rng.standard_normal((N, M)), rng.standard_normal((N, D))
    _, cache = linear.linear_forward(x, W, b)
    dx, dW, db = linear.linear_backward(dout, cache)
    lhs = np.sum(dout * (dx_dir @ W))
    np.testing.assert_allclose(lhs, np.sum(dx * dx_dir), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(db, dout.sum(axis=0))


class TestLinearLayer:
    def test_source_example_shapes_and_init(self):
        layer = LinearLayer(3, 2, rng=np.random.default_rng(0))
        assert layer.weights.shape == (3, 2) and layer.bias.shape == (2,)
        np.testing.assert_array_equal(layer.bias, 0)
        expected = np.random.default_rng(0).standard_normal((3, 2)) * 0.01
        np.testing.assert_array_equal(layer.weights, expected)

    def test_forward_backward_agree_with_the_free_functions(self, rng):
        layer = LinearLayer(3, 2, rng=rng)
        layer.bias = rng.standard_normal(2)
        x = rng.standard_normal((4, 3))
        grad_output = np.ones((4, 2))
        out, cache = linear.linear_forward(x, layer.weights, layer.bias)
        np.testing.assert_array_equal(layer.forward(x), out)
        for got, want in zip(
            layer.backward(grad_output, x), linear.linear_backward(grad_output, cache)
        ):
            np.testing.assert_array_equal(got, want)

    def test_backward_formulas_of_the_source(self, rng):
        layer = LinearLayer(3, 2, rng=rng)
        x, g = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
        grad_input, grad_weights, grad_bias = layer.backward(g, x)
        np.testing.assert_allclose(grad_weights, x.T @ g)
        np.testing.assert_allclose(grad_bias, g.sum(axis=0))
        np.testing.assert_allclose(grad_input, g @ layer.weights.T)

    def test_gradients_against_finite_differences(self, rng):
        layer = LinearLayer(5, 3, rng=rng)
        x, g = rng.standard_normal((6, 5)), rng.standard_normal((6, 3))
        grads = layer.backward(g, x)
        errors = check_gradients(
            linear.linear, (x, layer.weights, layer.bias), grads, dout=g
        )
        assert max(errors) < 1e-8, errors

    def test_float32_layer_keeps_float32(self, rng):
        layer = LinearLayer(3, 2, rng=np.random.default_rng(0), dtype=np.float32)
        x = rng.standard_normal((4, 3)).astype(np.float32)
        assert layer.forward(x).dtype == np.float32
        assert all(
            g.dtype == np.float32
            for g in layer.backward(np.ones((4, 2), np.float32), x)
        )
        ref = LinearLayer(3, 2, rng=np.random.default_rng(0))
        np.testing.assert_array_equal(layer.weights, ref.weights.astype(np.float32))

    @pytest.mark.parametrize("sizes", [(0, 2), (3, 0), (-1, 2)])
    def test_non_positive_sizes_raise(self, sizes):
        with pytest.raises(ValueError, match="must be positive"):
            LinearLayer(*sizes)

    def test_forward_rejects_wrong_width(self, rng):
        with pytest.raises(ValueError, match=r"x has D=4 features"):
            LinearLayer(3, 2, rng=rng).forward(np.ones((5, 4)))


# ---------------------------------------------------------------- bad input


def test_float32_x_and_W_with_float64_bias_stay_float32(rng):
    # The result dtype comes from x and W; a default np.zeros(M) bias is cast to it.
    x, W, _ = _params(rng, 4, 3, 2, np.float32)
    out, cache = linear.linear_forward(x, W, np.zeros(2))
    assert out.dtype == np.float32
    assert all(a.dtype == np.float32 for a in cache)
    assert linear.linear(x, W, np.zeros(2)).dtype == np.float32
    np.testing.assert_array_equal(out, x @ W)


def test_float64_dout_on_float32_cache_gives_float32_gradients(rng):
    x, W, b = _params(rng, 4, 3, 2, np.float32)
    _, cache = linear.linear_forward(x, W, b)
    dout = rng.standard_normal((4, 2))  # float64
    grads = linear.linear_backward(dout, cache)
    assert all(g.dtype == np.float32 for g in grads)
    np.testing.assert_allclose(grads[1], x.T @ dout.astype(np.float32), rtol=1e-6)
    layer = LinearLayer(3, 2, rng=rng, dtype=np.float32)
    assert all(g.dtype == np.float32 for g in layer.backward(dout, x))


def test_hand_made_integer_cache_does_not_truncate_dout():
    x, W = (
        np.array([[1, 2]]),
        np.array([[1], [1]]),
    )  # int64, as a reader might build them
    dx, dW, db = linear.linear_backward(np.array([[0.5]]), (x, W))
    assert dx.dtype == np.float64
    np.testing.assert_array_equal(dW, [[0.5], [1.0]])


@pytest.mark.parametrize(
    "cache",
    [
        None,
        (np.ones((2, 3)),),
        (np.ones(3), np.ones((3, 2))),
        (np.ones((2, 3)), np.ones((4, 2))),
    ],
)
def test_backward_rejects_a_cache_that_is_not_from_forward(cache):
    with pytest.raises(TypeError, match=r"cache must be the \(x, W\) pair"):
        linear.linear_backward(np.ones((2, 2)), cache)


def test_ragged_input_names_the_argument():
    with pytest.raises(ValueError, match="x must be a rectangular array"):
        linear.linear([[1.0, 2.0], [3.0]], np.ones((2, 2)), np.ones(2))


class TestLinearLayerBadInput:
    @pytest.mark.parametrize(
        "dtype",
        [np.int64, np.int32, bool, np.complex128, np.float16, "not a dtype", 2.5],
    )
    def test_only_float32_and_float64_weights(self, dtype):
        # int64 weights were 0.01 * normal, truncated: all zeros, a dead layer.
        with pytest.raises(ValueError, match="dtype must be float32 or float64"):
            LinearLayer(3, 2, rng=np.random.default_rng(0), dtype=dtype)

    @pytest.mark.parametrize("rng", [0, 42, np.random.RandomState(0), "seed"])
    def test_rng_must_be_a_generator(self, rng):
        with pytest.raises(
            TypeError, match=r"rng must be a numpy.random.Generator.*got"
        ):
            LinearLayer(3, 2, rng=rng)

    def test_rng_none_still_draws_fresh_weights(self):
        layer = LinearLayer(3, 2)
        assert layer.weights.shape == (3, 2) and np.all(layer.weights != 0)

    @pytest.mark.parametrize(
        "sizes", [(2.5, 2), (3, 2.0), (True, 2), (float("inf"), 2), ("3", 2), (None, 2)]
    )
    def test_sizes_must_be_integers(self, sizes):
        # 2.5 used to be truncated to 2; inf gave an OverflowError, "3" a TypeError.
        with pytest.raises(ValueError, match=r"must be positive, an integer >= 1, got"):
            LinearLayer(*sizes)

    def test_numpy_integer_sizes_are_fine(self):
        assert LinearLayer(np.int64(3), np.int32(2)).weights.shape == (3, 2)

    def test_impossible_size_is_a_value_error(self):
        with pytest.raises(ValueError, match="cannot be allocated"):
            LinearLayer(10**30, 2)


# ------------------------------------------------- messages, mixed dtypes, memory

# The messages a reader sees, in full: each names the argument, what was expected and
# what was received.
MESSAGES = {
    "cache of the wrong shapes": (
        TypeError,
        lambda: linear.linear_backward(np.ones((3, 4)), (np.ones((3, 2)), np.ones(4))),
        "cache must be the (x, W) pair from linear_forward, x (N, D) and W (D, M), "
        "got arrays of shapes (3, 2) and (4,)",
    ),
    "cache that is no pair": (
        TypeError,
        lambda: linear.linear_backward(np.ones((3, 4)), 5),
        "cache must be the (x, W) pair from linear_forward, x (N, D) and W (D, M), "
        "got int",
    ),
    "complex cached x": (
        ValueError,
        lambda: linear.linear_backward(
            np.ones((3, 4)), (np.ones((3, 2), complex), np.ones((2, 4)))
        ),
        "cache x must hold real numbers, got dtype complex128",
    ),
    "complex cached W": (
        ValueError,
        lambda: linear.linear_backward(
            np.ones((3, 4)), (np.ones((3, 2)), np.ones((2, 4), complex))
        ),
        "cache W must hold real numbers, got dtype complex128",
    ),
    "dout against the cache": (
        ValueError,
        lambda: linear.linear_backward(
            np.ones((3, 5)), (np.ones((3, 2)), np.ones((2, 4)))
        ),
        "dout must have shape (N, M) = (3, 4), got (3, 5) (N from the cached x of "
        "shape (3, 2), M from the cached W of shape (2, 4))",
    ),
    "input_size": (
        ValueError,
        lambda: LinearLayer(0, 2),
        "input_size must be positive, an integer >= 1, got 0",
    ),
    "output_size": (
        ValueError,
        lambda: LinearLayer(3, -2),
        "output_size must be positive, an integer >= 1, got -2",
    ),
}


@pytest.mark.parametrize("case", MESSAGES)
def test_messages_in_full(case):
    error, call, message = MESSAGES[case]
    with pytest.raises(error) as info:
        call()
    assert str(info.value) == message


@pytest.mark.parametrize(
    "x_dtype, W_dtype", [(np.float32, np.float64), (np.float64, np.float32)]
)
def test_mixed_x_and_W_give_the_wider_dtype(rng, x_dtype, W_dtype):
    # NumPy's own x @ W is float64 when either factor is: so is the layer, both ways.
    x, W, b = _params(rng, 4, 3, 2)
    x, W = x.astype(x_dtype), W.astype(W_dtype)
    out, cache = linear.linear_forward(x, W, b.astype(np.float32))
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, x.astype(np.float64) @ W + b.astype(np.float32))
    dout = rng.standard_normal((4, 2)).astype(np.float32)
    # A hand-made cache of mixed dtypes computes in the wider one too.
    for got in (
        linear.linear_backward(dout, cache),
        linear.linear_backward(dout, (x, W)),
    ):
        assert [g.dtype for g in got] == [np.float64] * 3
        np.testing.assert_allclose(got[1], x.astype(np.float64).T @ dout)


def test_float32_layer_has_a_float32_bias():
    layer = LinearLayer(3, 2, rng=np.random.default_rng(0), dtype=np.float32)
    assert layer.weights.dtype == np.float32 and layer.bias.dtype == np.float32


def test_forward_allocates_the_product_and_the_output_only(rng):
    # One row against a wide W: x @ W and the output are (1, M) each; the bias is read
    # where it is, not copied.
    x, W, b = _params(rng, 1, 8, 100_000)
    peak, out = traced_peak(lambda: linear.linear_forward(x, W, b)[0])
    assert peak < 2.5 * out.nbytes


def test_backward_allocates_the_gradients_only(rng):
    # Same-dtype cache and dout are used where they are: no copy of x, W or dout.
    x, W, b = _params(rng, 4000, 50, 50)
    _, cache = linear.linear_forward(x, W, b)
    dout = rng.standard_normal((4000, 50))
    peak, grads = traced_peak(lambda: linear.linear_backward(dout, cache))
    assert peak < 1.5 * sum(g.nbytes for g in grads)
