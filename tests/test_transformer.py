"""Tests for lalib.transformer: LayerNorm, the feed-forward layer, the pre-LN block.

References are written here independently of the kernels (loops over rows, float64,
the centring matrix); every backward pass is checked against central differences.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lalib import activations, attention, linear, transformer
from lalib.gradcheck import check_gradients, numerical_gradient

TOL = 1e-7  # relative error of a correct float64 backward pass against differences


def ln_reference(x, gamma, beta, eps=1e-5):
    """LayerNorm row by row in float64, with the textbook formulas."""
    x = np.asarray(x, dtype=np.float64)
    rows = x.reshape(-1, x.shape[-1])
    out = np.empty_like(rows)
    for i, r in enumerate(rows):
        mu = sum(r) / len(r)
        var = sum((v - mu) ** 2 for v in r) / len(r)
        out[i] = [(v - mu) / np.sqrt(var + eps) for v in r]
    return (out * gamma + beta).reshape(x.shape)


def ffn_reference(x, W1, b1, W2, b2):
    """The feed-forward layer, one position (row) at a time."""
    out = np.empty(x.shape[:-1] + (W2.shape[1],))
    for idx in np.ndindex(*x.shape[:-1]):
        out[idx] = np.maximum(x[idx] @ W1 + b1, 0) @ W2 + b2
    return out


def block_reference(x, p, n_heads, causal=False):
    """The block, one sequence at a time, from LayerNorm and attention references."""
    out = np.empty_like(x)
    for idx in np.ndindex(*x.shape[:-2]):
        s = x[idx]  # (n, d)
        a = ln_reference(s, p["gamma1"], p["beta1"])
        q, k, v = a @ p["W_q"], a @ p["W_k"], a @ p["W_v"]
        d_k, d_v = q.shape[1] // n_heads, v.shape[1] // n_heads
        heads = []
        for j in range(n_heads):
            Q = q[:, j * d_k : (j + 1) * d_k]
            K = k[:, j * d_k : (j + 1) * d_k]
            V = v[:, j * d_v : (j + 1) * d_v]
            S = Q @ K.T / np.sqrt(d_k)  # (n, n)
            if causal:
                S = np.where(np.tril(np.ones(S.shape, bool)), S, -np.inf)
            w = np.exp(S - S.max(axis=1, keepdims=True))
            heads.append(w / w.sum(axis=1, keepdims=True) @ V)
        h = s + np.concatenate(heads, axis=1) @ p["W_o"]
        b = ln_reference(h, p["gamma2"], p["beta2"])
        out[idx] = h + ffn_reference(b, p["W1"], p["b1"], p["W2"], p["b2"])
    return out


def random_ln(rng, shape, dtype=np.float64):
    d = shape[-1]
    x = rng.standard_normal(shape) * 3 + 1
    gamma, beta = rng.standard_normal(d) + 1, rng.standard_normal(d)
    return (a.astype(dtype) for a in (x, gamma, beta))


def random_params(rng, d=4, n_heads=2, d_ff=6, dtype=np.float64):
    """Parameters with non-trivial LayerNorm scales and biases (not the init's 1, 0)."""
    p = transformer.init_block_params(d, n_heads, d_ff, rng, dtype=dtype)
    for k in ("gamma1", "gamma2"):
        p[k] = (1 + 0.3 * rng.standard_normal(d)).astype(dtype)
    for k in ("beta1", "beta2", "b2"):
        p[k] = (0.3 * rng.standard_normal(d)).astype(dtype)
    p["b1"] = (0.3 * rng.standard_normal(d_ff)).astype(dtype)
    return p


# ------------------------------------------------------------------ centring matrix


@pytest.mark.parametrize("d", [1, 2, 5, 16])
def test_centering_matrix_is_the_projection_onto_sum_zero(d):
    P = transformer.centering_matrix(d)
    assert P.shape == (d, d)
    assert np.allclose(P @ P, P) and np.array_equal(P, P.T)
    assert np.allclose(P @ np.ones(d), 0)
    assert np.linalg.matrix_rank(P) == d - 1
    x = np.arange(d, dtype=float) ** 2
    assert np.allclose(P @ x, x - x.mean())
    assert transformer.centering_matrix(d, np.float32).dtype == np.float32


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3", None])
def test_centering_matrix_refuses_bad_sizes(bad):
    with pytest.raises(ValueError, match="d must be"):
        transformer.centering_matrix(bad)


# ---------------------------------------------------------------------- LayerNorm


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (2, 3, 4), (7,), (0, 3)])
def test_layer_norm_matches_the_row_loop(rng, shape):
    x, gamma, beta = random_ln(rng, shape)
    out, _ = transformer.layer_norm_forward(x, gamma, beta)
    assert out.shape == shape
    assert np.allclose(out, ln_reference(x, gamma, beta), atol=1e-12)
    assert np.array_equal(transformer.layer_norm(x, gamma, beta), out)


def test_layer_norm_is_projection_then_scaling_to_norm_sqrt_d(rng):
    """LN(x) with gamma = 1, beta = 0 is P x / (||P x|| / sqrt(d))."""
    d = 8
    x = rng.standard_normal((5, d)) * 4 + 2
    P = transformer.centering_matrix(d)
    px = x @ P  # (5, d): P is symmetric, so row @ P = (P row)^T
    expected = px / (np.linalg.norm(px, axis=1, keepdims=True) / np.sqrt(d))
    out = transformer.layer_norm(x, np.ones(d), np.zeros(d), eps=1e-12)
    assert np.allclose(out, expected, atol=1e-9)
    assert np.allclose(out.sum(axis=1), 0, atol=1e-12)
    assert np.allclose(np.linalg.norm(out, axis=1), np.sqrt(d))
    # a batch of normalised rows lies in the (d-1)-dim subspace orthogonal to 1
    many = transformer.layer_norm(rng.standard_normal((50, d)), np.ones(d), np.zeros(d))
    assert np.linalg.matrix_rank(many) == d - 1


def test_layer_norm_two_pass_variance_survives_a_large_mean():
    """E[x^2] - E[x]^2 would lose every digit here; the two-pass variance keeps them."""
    x = 1e8 + np.array([[0.0, 1.0, 2.0, 3.0]])
    out = transformer.layer_norm(x, np.ones(4), np.zeros(4), eps=1e-12)
    expected = (np.arange(4.0) - 1.5) / np.sqrt(1.25)
    assert np.allclose(out, expected, atol=1e-6)
    x32 = (1e4 + np.arange(4.0)).astype(np.float32)[None]
    out32 = transformer.layer_norm(x32, np.ones(4, np.float32), np.zeros(4, np.float32))
    assert np.allclose(out32, expected, atol=1e-3)


def test_layer_norm_of_a_constant_row_is_beta(rng):
    beta = rng.standard_normal(3)
    out = transformer.layer_norm(np.full((2, 3), 7.0), np.ones(3), beta)
    assert np.all(np.isfinite(out)) and np.allclose(out, beta)


@pytest.mark.parametrize("shape", [(3, 5), (2, 3, 4), (6,)])
def test_layer_norm_gradients(rng, shape):
    x, gamma, beta = random_ln(rng, shape)
    out, cache = transformer.layer_norm_forward(x, gamma, beta)
    dout = rng.standard_normal(out.shape)
    grads = transformer.layer_norm_backward(dout, cache)
    errors = check_gradients(transformer.layer_norm, (x, gamma, beta), grads, dout)
    assert max(errors) < TOL, errors


def test_layer_norm_gradient_is_orthogonal_to_one_and_to_xhat(rng):
    x, gamma, beta = random_ln(rng, (6, 5))
    _, cache = transformer.layer_norm_forward(x, gamma, beta, eps=1e-12)
    dx, _, _ = transformer.layer_norm_backward(rng.standard_normal((6, 5)), cache)
    xhat = cache[0]
    assert np.allclose(dx.sum(axis=1), 0, atol=1e-12)
    assert np.allclose(np.sum(dx * xhat, axis=1), 0, atol=1e-9)
    assert not np.allclose(dx, 0)  # the check above cannot pass on zeros


def test_layer_norm_nan_stays_in_its_row(rng):
    x, gamma, beta = random_ln(rng, (4, 3))
    x[2, 1] = np.nan
    out, cache = transformer.layer_norm_forward(x, gamma, beta)
    assert np.isnan(out[2]).all() and not np.isnan(np.delete(out, 2, 0)).any()
    dx, dgamma, dbeta = transformer.layer_norm_backward(np.ones((4, 3)), cache)
    assert np.isnan(dx[2]).all() and not np.isnan(np.delete(dx, 2, 0)).any()
    assert np.isnan(dgamma).all() and not np.isnan(dbeta).any()


def test_layer_norm_keeps_float32(rng):
    x, gamma, beta = random_ln(rng, (3, 4), np.float32)
    out, cache = transformer.layer_norm_forward(x, gamma, beta)
    grads = transformer.layer_norm_backward(np.ones((3, 4)), cache)  # float64 dout
    assert out.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)
    assert np.allclose(out, ln_reference(x, gamma, beta), atol=1e-5)


@pytest.mark.parametrize(
    "args, words",
    [
        ((np.ones((2, 3)), np.ones(4), np.zeros(3)), r"gamma must have shape \(d,\)"),
        ((np.ones((2, 3)), np.ones(3), np.zeros(2)), r"beta .*\(2,\)"),
        ((np.ones((2, 0)), np.ones(0), np.zeros(0)), r"d >= 1.*\(2, 0\)"),
        ((np.float64(1.0), np.ones(1), np.zeros(1)), r"x must have"),
        ((np.ones((2, 3)), np.ones((1, 3)), np.zeros(3)), r"gamma .*\(1, 3\)"),
    ],
)
def test_layer_norm_bad_shapes(args, words):
    with pytest.raises(ValueError, match=words):
        transformer.layer_norm_forward(*args)


@pytest.mark.parametrize("eps", [0.0, -1.0, np.nan, np.inf, "1e-5", None])
def test_layer_norm_bad_eps(eps):
    with pytest.raises(ValueError, match="eps"):
        transformer.layer_norm(np.ones((2, 3)), np.ones(3), np.zeros(3), eps)


def test_layer_norm_backward_bad_input(rng):
    _, cache = transformer.layer_norm_forward(*random_ln(rng, (2, 3)))
    with pytest.raises(ValueError, match=r"dout .*\(2, 3\).*\(3, 2\)"):
        transformer.layer_norm_backward(np.ones((3, 2)), cache)
    for bad in (None, (), cache[:2], "cache"):
        with pytest.raises(TypeError, match="cache"):
            transformer.layer_norm_backward(np.ones((2, 3)), bad)


# -------------------------------------------------------------------- feed-forward


def ffn_params(rng, D=4, d_ff=6, M=3, dtype=np.float64):
    shapes = ((D, d_ff), (d_ff,), (d_ff, M), (M,))
    return tuple(rng.standard_normal(s).astype(dtype) for s in shapes)


@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4), (2, 1, 3, 4), (0, 3, 4)])
def test_feed_forward_matches_each_row_through_lalib_linear(rng, shape):
    x = rng.standard_normal(shape)
    W1, b1, W2, b2 = ffn_params(rng)
    out = transformer.feed_forward(x, W1, b1, W2, b2)
    assert out.shape == shape[:-1] + (3,)
    assert np.allclose(out, ffn_reference(x, W1, b1, W2, b2))
    for idx in np.ndindex(*shape[:-1]):  # one row at a time through lalib.linear
        row = x[idx][None, :]
        h = activations.relu(linear.linear(row, W1, b1))
        assert np.allclose(out[idx], linear.linear(h, W2, b2)[0])


@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4)])
def test_feed_forward_gradients(rng, shape):
    x = rng.standard_normal(shape)
    params = ffn_params(rng)
    out, cache = transformer.feed_forward_forward(x, *params)
    dout = rng.standard_normal(out.shape)
    grads = transformer.feed_forward_backward(dout, cache)
    errors = check_gradients(transformer.feed_forward, (x, *params), grads, dout)
    assert max(errors) < TOL, errors


def test_feed_forward_nan_stays_in_its_position(rng):
    x = rng.standard_normal((2, 3, 4))
    x[1, 2, 0] = np.nan
    out = transformer.feed_forward(x, *ffn_params(rng))
    expected = np.zeros(out.shape, bool)
    expected[1, 2] = True
    assert np.array_equal(np.isnan(out), expected)


def test_feed_forward_keeps_float32(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    W1, b1, W2, b2 = ffn_params(rng, dtype=np.float32)
    out, cache = transformer.feed_forward_forward(x, W1, np.zeros(6), W2, b2)
    grads = transformer.feed_forward_backward(np.ones(out.shape), cache)
    assert out.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)


@pytest.mark.parametrize(
    "which, value, words",
    [
        ("x", np.ones(4), r"x must have at least 2 dimensions .*\(4,\)"),
        ("x", np.ones((2, 5)), r"x has D=5 .*W1 is \(4, 6\)"),
        ("W1", np.ones((4, 6, 1)), r"W1 must have 2 dimensions"),
        ("b1", np.ones(5), r"b1 must have shape \(d_ff,\) = \(6,\), got \(5,\)"),
        ("W2", np.ones((5, 3)), r"W2 \(5, 3\) .*W1 \(4, 6\)"),
        ("b2", np.ones(4), r"b2 must have shape \(M,\) = \(3,\), got \(4,\)"),
    ],
)
def test_feed_forward_bad_shapes(rng, which, value, words):
    args = dict(zip(("W1", "b1", "W2", "b2"), ffn_params(rng)), x=np.ones((2, 4)))
    args[which] = value
    with pytest.raises(ValueError, match=words):
        transformer.feed_forward(**args)


def test_feed_forward_backward_bad_input(rng):
    out, cache = transformer.feed_forward_forward(np.ones((2, 3, 4)), *ffn_params(rng))
    with pytest.raises(ValueError, match=r"dout must have shape .*\(2, 3, 3\)"):
        transformer.feed_forward_backward(np.ones((6, 3)), cache)
    for bad in (None, (), cache[:3], "cache"):
        with pytest.raises(TypeError, match="cache"):
            transformer.feed_forward_backward(np.ones(out.shape), bad)


# ---------------------------------------------------------------------- the block


def test_init_block_params_shapes_and_seeding():
    p = transformer.init_block_params(8, 2, 32, np.random.default_rng(0))
    assert tuple(p) == transformer.PARAM_NAMES
    shapes = {k: v.shape for k, v in p.items()}
    assert shapes["W_q"] == shapes["W_o"] == (8, 8)
    assert shapes["W1"] == (8, 32) and shapes["W2"] == (32, 8)
    assert shapes["b1"] == (32,) and shapes["gamma2"] == (8,)
    assert np.array_equal(p["gamma1"], np.ones(8)) and not p["beta1"].any()
    again = transformer.init_block_params(8, 2, 32, np.random.default_rng(0))
    assert all(np.array_equal(p[k], again[k]) for k in p)
    p32 = transformer.init_block_params(8, 2, 32, np.random.default_rng(0), np.float32)
    assert all(v.dtype == np.float32 for v in p32.values())
    assert np.allclose(p32["W1"], p["W1"], atol=1e-6)  # same draws, rounded


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(d=6, n_heads=4, d_ff=8), ValueError, "n_heads=4 must divide d=6"),
        (dict(d=0, n_heads=1, d_ff=8), ValueError, "d must be"),
        (dict(d=4, n_heads=2, d_ff=2.5), ValueError, "d_ff must be"),
        (dict(d=4, n_heads=2, d_ff=2**70), ValueError, "cannot be allocated"),
        (dict(d=4, n_heads=2, d_ff=8, rng=0), TypeError, "rng must be"),
        (dict(d=4, n_heads=2, d_ff=8, dtype=np.int64), ValueError, "dtype must be"),
    ],
)
def test_init_block_params_refuses(kwargs, error, words):
    kwargs = dict(dict(rng=np.random.default_rng(0)), **kwargs)
    with pytest.raises(error, match=words):
        transformer.init_block_params(**kwargs)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4), (2, 1, 3, 4)])
def test_block_matches_the_reference(rng, shape, causal):
    x = rng.standard_normal(shape)
    p = random_params(rng)
    out, _ = transformer.transformer_block_forward(x, p, 2, causal=causal)
    assert out.shape == shape
    assert np.allclose(out, block_reference(x, p, 2, causal), atol=1e-12)
    assert np.array_equal(transformer.transformer_block(x, p, 2, causal=causal), out)


def test_block_is_x_plus_the_two_sublayer_outputs(rng):
    x, p = rng.standard_normal((2, 5, 4)), random_params(rng)
    a = transformer.layer_norm(x, p["gamma1"], p["beta1"])
    att, _ = attention.multi_head_attention(
        a, a, p["W_q"], p["W_k"], p["W_v"], p["W_o"], 2
    )
    b = transformer.layer_norm(x + att, p["gamma2"], p["beta2"])
    f = transformer.feed_forward(b, p["W1"], p["b1"], p["W2"], p["b2"])
    y = transformer.transformer_block(x, p, 2)
    assert np.allclose(y - x, att + f, atol=1e-13)


@pytest.mark.parametrize("causal", [False, True])
def test_block_gradients(rng, causal):
    x, p = rng.standard_normal((2, 3, 4)), random_params(rng)
    out, cache = transformer.transformer_block_forward(x, p, 2, causal=causal)
    dout = rng.standard_normal(out.shape)
    dx, grads = transformer.transformer_block_backward(dout, cache)
    assert tuple(grads) == transformer.PARAM_NAMES

    def f(x, *values):
        return transformer.transformer_block(
            x, dict(zip(transformer.PARAM_NAMES, values)), 2, causal=causal
        )

    args = (x, *(p[k] for k in transformer.PARAM_NAMES))
    analytic = [dx, *(grads[k] for k in transformer.PARAM_NAMES)]
    errors = check_gradients(f, args, analytic, dout)
    assert max(errors) < TOL, dict(zip(("x",) + transformer.PARAM_NAMES, errors))


def test_block_gradient_with_a_mask(rng):
    x, p = rng.standard_normal((3, 4)), random_params(rng)
    mask = np.array([[1, 0, 1], [1, 1, 0], [0, 1, 1]], bool)
    out, cache = transformer.transformer_block_forward(x, p, 2, mask=mask)
    dout = rng.standard_normal(out.shape)
    dx, _ = transformer.transformer_block_backward(dout, cache)
    (numeric,) = numerical_gradient(
        lambda x: transformer.transformer_block(x, p, 2, mask=mask), (x,), dout
    )
    assert np.allclose(dx, numeric, atol=1e-7)


def test_causal_block_row_i_ignores_later_rows(rng):
    n = 6
    x, p = rng.standard_normal((n, 4)), random_params(rng)
    y = transformer.transformer_block(x, p, 2, causal=True)
    for i in range(n - 1):
        x2 = x.copy()
        x2[i + 1 :] += rng.standard_normal((n - i - 1, 4))  # change every later row
        y2 = transformer.transformer_block(x2, p, 2, causal=True)
        assert np.array_equal(y2[: i + 1], y[: i + 1])
        assert not np.allclose(y2[i + 1 :], y[i + 1 :])
    # without the mask a later row does reach row 0
    x2 = x.copy()
    x2[-1] += 1.0
    assert not np.allclose(transformer.transformer_block(x2, p, 2)[0], y[0])


def test_causal_block_jacobian_is_block_lower_triangular(rng):
    n, d = 4, 4
    x, p = rng.standard_normal((n, d)), random_params(rng)
    _, cache = transformer.transformer_block_forward(x, p, 2, causal=True)
    for i in range(n):
        for k in range(d):
            dout = np.zeros((n, d))
            dout[i, k] = 1.0
            dx, _ = transformer.transformer_block_backward(dout, cache)
            assert not dx[i + 1 :].any()  # output row i: no gradient to later rows
            assert dx[: i + 1].any()


def test_cross_attention_shapes_and_weights(rng):
    """Queries from one sequence (n_q = 4), keys and values from another (n_kv = 7)."""
    d = 8
    x_q, x_kv = rng.standard_normal((4, d)), rng.standard_normal((7, d))
    p = transformer.init_block_params(d, 2, 16, rng)
    W = (p["W_q"], p["W_k"], p["W_v"], p["W_o"])
    out, weights = attention.multi_head_attention(x_q, x_kv, *W, 2)
    assert out.shape == (4, d) and weights.shape == (2, 4, 7)
    assert np.allclose(weights.sum(axis=-1), 1)
    out2, cache = attention.multi_head_attention_forward(x_q, x_kv, *W, 2)
    dout = rng.standard_normal(out2.shape)
    grads = attention.multi_head_attention_backward(dout, cache)
    assert [g.shape for g in grads[:2]] == [(4, d), (7, d)]
    errors = check_gradients(
        lambda a, b: attention.multi_head_attention(a, b, *W, 2)[0],
        (x_q, x_kv),
        grads[:2],
        dout,
    )
    assert max(errors) < TOL


def test_block_nan_propagates(rng):
    x, p = rng.standard_normal((2, 3, 4)), random_params(rng)
    x[1, 0, 2] = np.nan
    y = transformer.transformer_block(x, p, 2)
    assert np.isnan(y[1]).all()  # attention spreads position 0 to every position
    assert not np.isnan(y[0]).any()  # the other sequence is untouched
    y = transformer.transformer_block(x, p, 2, causal=True)
    assert np.isnan(y[1]).all() and not np.isnan(y[0]).any()
    x = rng.standard_normal((2, 3, 4))
    x[1, 2, 0] = np.nan  # the last position: causally, only it is affected
    y = transformer.transformer_block(x, p, 2, causal=True)
    assert np.isnan(y[1, 2]).all() and not np.isnan(y[1, :2]).any()


def test_block_keeps_float32(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    p = random_params(rng, dtype=np.float32)
    out, cache = transformer.transformer_block_forward(x, p, 2, causal=True)
    dx, grads = transformer.transformer_block_backward(np.ones(out.shape), cache)
    assert out.dtype == dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())
    p64 = {k: v.astype(np.float64) for k, v in p.items()}
    ref = block_reference(x.astype(np.float64), p64, 2, causal=True)
    assert np.allclose(out, ref, atol=1e-4)


def _bad_param(rng, key, value):
    p = random_params(rng)
    p[key] = value
    return p


@pytest.mark.parametrize(
    "key, value, words",
    [
        ("W_o", np.ones((4, 5)), r"params\['W_o'\] must have shape \(h\*d_v, d\) = "),
        ("W2", np.ones((6, 3)), r"params\['W2'\] .*\(6, 4\).*got \(6, 3\)"),
        ("gamma2", np.ones(5), r"params\['gamma2'\] .*\(4,\)"),
        ("W_k", np.ones((4, 6)), r"params\['W_k'\] .*\(4, 4\).*got \(4, 6\)"),
        ("b1", np.ones((6, 1)), r"params\['b1'\] must have 1 dimension"),
        ("W1", np.ones((4, 0)), r"params\['b1'\] .*\(d_ff,\) = \(0,\)"),
        ("W_q", "W", r"params\['W_q'\]"),
    ],
)
def test_block_bad_params_are_named(rng, key, value, words):
    p = _bad_param(rng, key, value)
    with pytest.raises(ValueError, match=words):
        transformer.transformer_block(np.ones((3, 4)), p, 2)


def test_block_bad_input(rng):
    p = random_params(rng)
    with pytest.raises(ValueError, match=r"x must have at least 2 .*\(4,\)"):
        transformer.transformer_block(np.ones(4), p, 2)
    with pytest.raises(ValueError, match=r"params\['gamma1'\] .*\(5,\)"):
        transformer.transformer_block(np.ones((3, 5)), p, 2)
    with pytest.raises(ValueError, match="n_heads=3"):
        transformer.transformer_block(np.ones((3, 4)), p, 3)
    with pytest.raises(TypeError, match="params must be a dict"):
        transformer.transformer_block(np.ones((3, 4)), list(p.values()), 2)
    empty = dict(p, W1=np.ones((4, 0)), b1=np.ones(0), W2=np.ones((0, 4)))
    with pytest.raises(ValueError, match="d_ff must be at least 1, got 0"):
        transformer.transformer_block(np.ones((3, 4)), empty, 2)
    p.pop("b2")
    with pytest.raises(ValueError, match=r"missing \['b2'\]"):
        transformer.transformer_block(np.ones((3, 4)), p, 2)


def test_block_backward_bad_input(rng):
    out, cache = transformer.transformer_block_forward(
        np.ones((2, 3, 4)), random_params(rng), 2
    )
    with pytest.raises(ValueError, match=r"dout .*\(2, 3, 4\), got \(3, 4\)"):
        transformer.transformer_block_backward(np.ones((3, 4)), cache)
    for bad in (None, (), cache[:3], "cache"):
        with pytest.raises(TypeError, match="cache"):
            transformer.transformer_block_backward(np.ones(out.shape), bad)


@given(
    lead=st.lists(st.integers(1, 2), max_size=2),
    n=st.integers(1, 4),
    n_heads=st.integers(1, 2),
    d_head=st.integers(1, 3),
    d_ff=st.integers(1, 5),
    causal=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_block_hypothesis_small_shapes(lead, n, n_heads, d_head, d_ff, causal, seed):
    rng = np.random.default_rng(seed)
    d = n_heads * d_head
    x = rng.standard_normal((*lead, n, d))
    p = random_params(rng, d, n_heads, d_ff)
    out, cache = transformer.transformer_block_forward(x, p, n_heads, causal=causal)
    assert out.shape == x.shape
    assert np.allclose(out, block_reference(x, p, n_heads, causal), atol=1e-10)
    dx, grads = transformer.transformer_block_backward(np.ones(out.shape), cache)
    assert dx.shape == x.shape
    assert all(grads[k].shape == p[k].shape for k in transformer.PARAM_NAMES)
