"""lalib.positions: sinusoidal encodings, rotary embeddings and attention with RoPE.

References are independent of the module: loops over the defining formulas
(``math.sin``/``math.cos`` per entry), the explicit rotation `rope_matrix` applied
row by row, and central differences (`lalib.gradcheck`) for the backward passes.
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lalib import attention, positions
from lalib.gradcheck import check_gradients

# ------------------------------------------------------------------- loop references


def loop_sinusoidal(n, d, base):
    """PE[p, 2i] = sin(p / base**(2i/d)), PE[p, 2i+1] = cos(...), entry by entry."""
    PE = np.zeros((n, d))
    for p in range(n):
        for i in range(d // 2):
            angle = p / base ** (2 * i / d)
            PE[p, 2 * i] = math.sin(angle)
            PE[p, 2 * i + 1] = math.cos(angle)
    return PE


def loop_rotation(position, d, base):
    """The block-diagonal rotation, block by block."""
    R = np.zeros((d, d))
    for i in range(d // 2):
        a = position * base ** (-2 * i / d)
        R[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = [
            [math.cos(a), -math.sin(a)],
            [math.sin(a), math.cos(a)],
        ]
    return R


# ------------------------------------------------------------------------ encodings


@pytest.mark.parametrize(
    ("n", "d", "base"),
    [(1, 2, 10000.0), (7, 6, 10000.0), (64, 32, 10000.0), (5, 8, 3.0)],
)
def test_sinusoidal_matches_the_loop(n, d, base):
    PE = positions.sinusoidal_encoding(n, d, base)
    assert PE.shape == (n, d) and PE.dtype == np.float64
    np.testing.assert_allclose(PE, loop_sinusoidal(n, d, base), rtol=0, atol=1e-12)


def test_sinusoidal_known_values_and_empty():
    PE = positions.sinusoidal_encoding(2, 2)
    np.testing.assert_allclose(PE, [[0.0, 1.0], [math.sin(1), math.cos(1)]])
    assert positions.sinusoidal_encoding(0, 4).shape == (0, 4)
    PE32 = positions.sinusoidal_encoding(10, 4, dtype=np.float32)
    assert PE32.dtype == np.float32
    np.testing.assert_allclose(PE32, positions.sinusoidal_encoding(10, 4), atol=1e-7)


def test_sinusoidal_shift_is_a_rotation_and_dot_products_depend_on_the_offset():
    n, d, k = 40, 8, 5
    PE = positions.sinusoidal_encoding(n, d)
    theta = positions.rope_frequencies(d)
    for i in range(d // 2):
        c, s = math.cos(k * theta[i]), math.sin(k * theta[i])
        # (sin, cos) at p + k = a rotation of (sin, cos) at p by k * theta_i
        shift = np.array([[c, s], [-s, c]])
        pair = PE[:, 2 * i : 2 * i + 2]  # (n, 2)
        np.testing.assert_allclose(pair[k:], pair[:-k] @ shift.T, atol=1e-12)
    G = PE @ PE.T  # (n, n)
    for offset in range(-3, 4):
        diag = np.diagonal(G, offset)
        np.testing.assert_allclose(diag, diag[0], atol=1e-12)


def test_rope_frequencies_known():
    np.testing.assert_allclose(positions.rope_frequencies(4, 100.0), [1.0, 0.1])
    theta = positions.rope_frequencies(8)
    np.testing.assert_allclose(theta, [10000.0 ** (-i / 4) for i in range(4)])


# ---------------------------------------------------------------------- rope_matrix


@pytest.mark.parametrize("position", [0, 1, 2.5, -7, 1000])
@pytest.mark.parametrize("d", [2, 6])
def test_rope_matrix_matches_the_loop_and_is_orthogonal(position, d):
    R = positions.rope_matrix(position, d, 50.0)
    np.testing.assert_allclose(R, loop_rotation(position, d, 50.0), atol=1e-12)
    np.testing.assert_allclose(R.T @ R, np.eye(d), atol=1e-12)


@given(m=st.integers(-50, 50), n=st.integers(-50, 50))
def test_rotations_compose_by_the_offset(m, n):
    """R(m)^T R(n) == R(n - m): the identity behind RoPE."""
    lhs = positions.rope_matrix(m, 8).T @ positions.rope_matrix(n, 8)
    np.testing.assert_allclose(lhs, positions.rope_matrix(n - m, 8), atol=1e-12)


# ------------------------------------------------------------------------ rope


@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 6, 8), (1, 1, 2)])
def test_rope_forward_is_the_rotation_of_each_row(shape, rng):
    x = rng.standard_normal(shape)
    n, d = shape[-2:]
    where = rng.uniform(-20, 20, size=n)
    out, _ = positions.rope_forward(x, where, base=100.0)
    expected = np.stack(
        [x[..., m, :] @ positions.rope_matrix(where[m], d, 100.0).T for m in range(n)],
        axis=-2,
    )
    np.testing.assert_allclose(out, expected, atol=1e-12)
    np.testing.assert_array_equal(positions.rope(x, where, 100.0), out)


def test_rope_default_positions_and_position_zero(rng):
    x = rng.standard_normal((4, 6))
    np.testing.assert_array_equal(positions.rope(x), positions.rope(x, np.arange(4)))
    np.testing.assert_allclose(positions.rope(x[:1]), x[:1], atol=0)  # R(0) = I


def test_rope_preserves_norms(rng):
    x = rng.standard_normal((3, 7, 8))
    out = positions.rope(x, rng.uniform(-1e3, 1e3, size=7))
    np.testing.assert_allclose(
        np.linalg.norm(out, axis=-1), np.linalg.norm(x, axis=-1), rtol=1e-12
    )


@given(
    shift=st.integers(-100, 100),
    seed=st.integers(0, 2**16),
)
def test_scores_depend_only_on_the_offset(shift, seed):
    """rope(q) . rope(k) is unchanged when every position moves by the same amount."""
    rng = np.random.default_rng(seed)
    q, k = rng.standard_normal((2, 6, 8))  # (n, d) each
    where = rng.integers(0, 50, size=6).astype(float)
    S = positions.rope(q, where) @ positions.rope(k, where).T  # (n, n)
    S_shift = positions.rope(q, where + shift) @ positions.rope(k, where + shift).T
    np.testing.assert_allclose(S_shift, S, atol=1e-9)
    # and each score is q_m^T R(p_n - p_m) k_n
    m, n = 1, 4
    R = positions.rope_matrix(where[n] - where[m], 8)
    assert np.isclose(S[m, n], q[m] @ R @ k[n], atol=1e-9)


def test_constant_query_and_key_give_a_toeplitz_score_matrix(rng):
    q, k = rng.standard_normal(8), rng.standard_normal(8)
    n = 9
    S = positions.rope(np.tile(q, (n, 1))) @ positions.rope(np.tile(k, (n, 1))).T
    for offset in range(-n + 1, n):
        diag = np.diagonal(S, offset)
        np.testing.assert_allclose(diag, diag[0], atol=1e-12)
    assert not np.allclose(S[0, 1], S[0, 2])  # it does depend on the offset


def test_rope_backward_matches_finite_differences(rng):
    x = rng.standard_normal((2, 5, 6))
    where = rng.uniform(-10, 10, size=5)
    out, cache = positions.rope_forward(x, where)
    dout = rng.standard_normal(out.shape)
    dx = positions.rope_backward(dout, cache)
    err = check_gradients(lambda a: positions.rope(a, where), (x,), (dx,), dout=dout)
    assert err[0] < 1e-8
    # the gradient is the inverse rotation
    np.testing.assert_allclose(positions.rope(dx, where), dout, atol=1e-12)


# ------------------------------------------------------------ attention with RoPE


def _model(rng, D=5, hdk=8, hdv=6, M=3, dtype=np.float64):
    return [
        rng.standard_normal(s).astype(dtype)
        for s in [(D, hdk), (D, hdk), (D, hdv), (hdv, M)]
    ]


@pytest.mark.parametrize("n_heads", [1, 2])
@pytest.mark.parametrize("causal", [False, True])
def test_rope_attention_backward_matches_finite_differences(n_heads, causal, rng):
    x = rng.standard_normal((2, 4, 5))
    W = _model(rng, hdk=4 * n_heads, hdv=3 * n_heads)
    where = np.array([0.0, 3.0, 4.0, 10.0])

    def f(*args):
        return positions.rope_attention_forward(
            *args, n_heads=n_heads, positions=where, causal=causal
        )[0]

    out, cache = positions.rope_attention_forward(
        x, *W, n_heads=n_heads, positions=where, causal=causal
    )
    dout = rng.standard_normal(out.shape)
    grads = positions.rope_attention_backward(dout, cache)
    errors = check_gradients(f, (x, *W), grads, dout=dout)
    assert max(errors) < 1e-7, errors


def test_rope_attention_is_attention_on_rotated_queries_and_keys(rng):
    x = rng.standard_normal((3, 6, 5))
    W_q, W_k, W_v, W_o = _model(rng)
    out, weights = positions.rope_attention(x, W_q, W_k, W_v, W_o, n_heads=2)
    Q = positions.rope(attention.split_heads(x @ W_q, 2))  # (3, 2, 6, 4)
    K = positions.rope(attention.split_heads(x @ W_k, 2))
    V = attention.split_heads(x @ W_v, 2)
    O, P = attention.scaled_dot_product_attention(Q, K, V)
    np.testing.assert_allclose(weights, P, atol=1e-12)
    np.testing.assert_allclose(out, attention.merge_heads(O) @ W_o, atol=1e-12)


def test_rope_attention_weights_are_shift_invariant(rng):
    x = rng.standard_normal((6, 5))
    W = _model(rng)
    _, w0 = positions.rope_attention(x, *W, n_heads=2)
    _, w1 = positions.rope_attention(x, *W, n_heads=2, positions=np.arange(6) + 37.0)
    np.testing.assert_allclose(w1, w0, atol=1e-10)


def test_without_positions_attention_is_permutation_equivariant_and_with_rope_not(rng):
    x = rng.standard_normal((6, 5))
    W = _model(rng)
    perm = rng.permutation(6)
    plain = attention.multi_head_attention(x, x, *W, n_heads=2)[0]
    plain_perm = attention.multi_head_attention(x[perm], x[perm], *W, n_heads=2)[0]
    np.testing.assert_allclose(plain_perm, plain[perm], atol=1e-12)
    rot = positions.rope_attention(x, *W, n_heads=2)[0]
    rot_perm = positions.rope_attention(x[perm], *W, n_heads=2)[0]
    assert not np.allclose(rot_perm, rot[perm], atol=1e-6)


# --------------------------------------------------------------- dtypes and NaN


def test_float32_stays_float32(rng):
    x = rng.standard_normal((2, 4, 6)).astype(np.float32)
    out, cache = positions.rope_forward(x, np.array([0.0, 1.0, 2.0, 100.0]))
    assert out.dtype == np.float32 and all(c.dtype == np.float32 for c in cache)
    dx = positions.rope_backward(np.ones((2, 4, 6)), cache)  # float64 dout
    assert dx.dtype == np.float32
    np.testing.assert_allclose(
        out,
        positions.rope(x.astype(np.float64), np.array([0.0, 1.0, 2.0, 100.0])),
        atol=1e-5,
    )
    W = _model(rng, D=6, dtype=np.float32)
    o, c = positions.rope_attention_forward(x, *W, n_heads=2)
    grads = positions.rope_attention_backward(np.ones(o.shape), c)
    assert o.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)


def test_integer_input_becomes_float64():
    out = positions.rope(np.ones((3, 4), dtype=np.int64))
    assert out.dtype == np.float64


def test_nan_propagates_to_its_row_only(rng):
    x = rng.standard_normal((4, 6))
    x[2, 3] = np.nan
    out = positions.rope(x)
    assert np.isnan(out[2]).any() and not np.isnan(out[[0, 1, 3]]).any()
    # coordinate 3 is in pair 1 (coordinates 2, 3): exactly that pair becomes NaN
    np.testing.assert_array_equal(np.isnan(out[2]), [0, 0, 1, 1, 0, 0])
    dx = positions.rope_backward(
        np.where(np.isnan(x), np.nan, 1.0), positions.rope_forward(x)[1]
    )
    np.testing.assert_array_equal(np.isnan(dx[2]), [0, 0, 1, 1, 0, 0])


# ------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: positions.sinusoidal_encoding(4, 5), ["d", "even", "5"]),
        (lambda: positions.sinusoidal_encoding(-1, 4), ["n", "-1"]),
        (lambda: positions.sinusoidal_encoding(4, 4, base=math.nan), ["base", "nan"]),
        (lambda: positions.sinusoidal_encoding(4, 4, base=0.0), ["base"]),
        (lambda: positions.sinusoidal_encoding(4, 4, dtype=np.int64), ["dtype"]),
        (lambda: positions.sinusoidal_encoding(2**20, 2**10), ["(1048576, 1024)"]),
        (lambda: positions.rope_frequencies(3), ["d", "even", "3"]),
        (lambda: positions.rope_frequencies(4, base=math.inf), ["base", "inf"]),
        (lambda: positions.rope_matrix(math.nan, 4), ["position", "nan"]),
        (lambda: positions.rope_matrix(1, 7), ["d", "7"]),
        (lambda: positions.rope(np.ones((3, 5))), ["x", "(3, 5)", "even"]),
        (lambda: positions.rope(np.ones(4)), ["x", "(4,)", "(..., n, d)"]),
        (
            lambda: positions.rope(np.ones((3, 4)), [0.0, 1.0]),
            ["positions", "(3,)", "(2,)"],
        ),
        (lambda: positions.rope(np.ones((3, 4)), [0.0, np.inf, 1.0]), ["positions"]),
        (lambda: positions.rope(np.ones((3, 4)), base=-2.0), ["base", "-2.0"]),
        (
            lambda: positions.rope_backward(
                np.ones((3, 6)), positions.rope_forward(np.ones((3, 4)))[1]
            ),
            ["dout", "(..., 3, 4)", "(3, 6)"],
        ),
        (lambda: positions.rope_backward(np.ones((3, 4)), None), ["cache"]),
        (
            lambda: positions.rope_attention(
                np.ones((2, 3)),
                np.ones((3, 2)),
                np.ones((3, 2)),
                np.ones((3, 2)),
                np.ones((2, 2)),
                n_heads=2,
            ),
            ["d_k", "1", "even"],
        ),
        (
            lambda: positions.rope_attention(
                np.ones((2, 3)),
                np.ones((4, 2)),
                np.ones((3, 2)),
                np.ones((3, 2)),
                np.ones((2, 2)),
            ),
            ["(4, 2)"],
        ),
    ],
)
def test_bad_input_is_refused_with_the_values(call, words):
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    for word in words:
        assert word in message, (word, message)
