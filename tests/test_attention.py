"""Tests for lalib.attention: naive reference, gradients, masks, blockwise == dense."""

import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lalib import activations, attention
from lalib.gradcheck import check_gradients

# (lead of Q, lead of K, lead of V, n_q, n_k, d_k, d_v): lead dims broadcast as in matmul
SHAPES = [
    ((), (), (), 1, 1, 1, 1),
    ((), (), (), 4, 6, 3, 2),
    ((2,), (2,), (2,), 5, 3, 4, 4),
    ((2, 3), (2, 3), (2, 3), 3, 5, 2, 3),
    ((2, 3), (1, 3), (1, 3), 4, 4, 3, 2),  # keys/values shared across the batch axis
    ((2, 3), (3,), (3,), 2, 5, 3, 1),  # keys/values without the batch axis
    ((3,), (2, 3), (2, 3), 3, 2, 2, 2),  # queries broadcast over a batch of key sets
]


def make_qkv(rng, shape, dtype=np.float64):
    lq, lk, lv, n_q, n_k, d_k, d_v = shape
    Q = rng.standard_normal(lq + (n_q, d_k)).astype(dtype)
    K = rng.standard_normal(lk + (n_k, d_k)).astype(dtype)
    V = rng.standard_normal(lv + (n_k, d_v)).astype(dtype)
    return Q, K, V


def random_mask(rng, shape, p=0.6):
    """A mask over the full scores shape with some rows entirely False."""
    lq, lk, lv, n_q, n_k, _, _ = shape
    lead = np.broadcast_shapes(lq, lk, lv)
    mask = rng.random(lead + (n_q, n_k)) < p
    mask[..., 0, :] = False  # query 0 sees nothing
    return mask


def masked_problem(rng, shape, masking):
    """Q, K, V of `shape` plus the mask and causal flag that `masking` names."""
    Q, K, V = make_qkv(rng, shape)
    mask = random_mask(rng, shape) if masking in ("mask", "both") else None
    return Q, K, V, mask, masking in ("causal", "both")


# --------------------------------------------------------------------------- softmax


def test_softmax_is_reexported():
    assert attention.softmax is activations.softmax
    assert attention.softmax_backward is activations.softmax_backward
    assert "softmax" in attention.__all__


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (2, 4, 7)])
def test_inplace_softmax_matches_activations_softmax(rng, shape):
    z = rng.standard_normal(shape) * 5
    z[..., 0] = -np.inf  # masked entries
    z.reshape(-1, shape[-1])[0] = -np.inf  # one row masked entirely
    expected = activations.softmax(z, axis=-1)
    got = attention._softmax_rows_inplace(z.copy())
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=0)
    assert not np.any(np.isnan(got))
    assert np.all(got.reshape(-1, shape[-1])[0] == 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_huge_logits_are_finite_and_sum_to_one(dtype):
    z = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]], dtype=dtype)
    for p in (activations.softmax(z), attention._softmax_rows_inplace(z.copy())):
        assert p.dtype == dtype
        assert np.all(np.isfinite(p))
        np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=0, atol=4 * np.finfo(dtype).eps)
        np.testing.assert_allclose(p[0], [1, 0, 0])
        np.testing.assert_allclose(p[1], [1 / 3, 1 / 3, 1 / 3], rtol=1e-6)
        np.testing.assert_allclose(p[2], [0.5, 0.5, 0])


# --------------------------------------------------------------------------- causal mask


def test_causal_mask_known_answers():
    np.testing.assert_array_equal(causal := attention.causal_mask(3), np.tril(np.ones((3, 3), bool)))
    assert causal.dtype == np.bool_
    # one new query after two old keys sees all three
    np.testing.assert_array_equal(attention.causal_mask(1, 3), [[True, True, True]])
    # more queries than keys: the first query has no key at or before its position
    np.testing.assert_array_equal(attention.causal_mask(3, 2), [[False, False], [True, False], [True, True]])
    assert attention.causal_mask(0).shape == (0, 0)


@pytest.mark.parametrize("n_q, n_k", [(1, 1), (4, 4), (3, 7), (6, 2)])
def test_causal_mask_counts(n_q, n_k):
    mask = attention.causal_mask(n_q, n_k)
    assert mask.shape == (n_q, n_k)
    # query i (at position i + n_k - n_q) sees that many keys plus itself, clipped to [0, n_k]
    expected = np.clip(np.arange(n_q) + n_k - n_q + 1, 0, n_k)
    np.testing.assert_array_equal(mask.sum(axis=1), expected)


def test_causal_mask_rejects_negative():
    with pytest.raises(ValueError, match="non-negative"):
        attention.causal_mask(-1)


# --------------------------------------------------------------------------- dense forward


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("masking", ["none", "mask", "causal", "both"])
def test_dense_matches_naive_reference(rng, shape, masking):
    Q, K, V, mask, causal = masked_problem(rng, shape, masking)
    out, w = attention.scaled_dot_product_attention(Q, K, V, mask=mask, causal=causal)
    out_ref, w_ref = attention.attention_naive(Q, K, V, mask=mask, causal=causal)
    lead = np.broadcast_shapes(shape[0], shape[1], shape[2])
    assert out.shape == lead + (shape[3], shape[6])
    assert w.shape == lead + (shape[3], shape[4])
    np.testing.assert_allclose(out, out_ref, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(w, w_ref, rtol=1e-12, atol=1e-13)


def test_known_answer_two_keys():
    # scores 0 and 4/sqrt(2): weights 1/(1+e^{2 sqrt 2}) and the rest
    Q = np.array([[0.0, 2.0]])
    K = np.array([[2.0, 0.0], [0.0, 2.0]])
    V = np.array([[10.0, 0.0], [0.0, 10.0]])
    out, w = attention.scaled_dot_product_attention(Q, K, V)
    w1 = 1 / (1 + math.exp(2 * math.sqrt(2)))
    np.testing.assert_allclose(w, [[w1, 1 - w1]], rtol=1e-14)
    np.testing.assert_allclose(out, [[10 * w1, 10 * (1 - w1)]], rtol=1e-14)


def test_weights_rows_sum_to_one_and_output_is_convex_combination(rng):
    Q, K, V = make_qkv(rng, ((3,), (3,), (3,), 6, 9, 4, 5))
    out, w = attention.scaled_dot_product_attention(Q, K, V)
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, rtol=1e-14)
    assert np.all(w >= 0)
    # each output lies within the range of the values it averages
    assert np.all(out <= V.max(axis=-2, keepdims=True) + 1e-12)
    assert np.all(out >= V.min(axis=-2, keepdims=True) - 1e-12)


def test_all_true_mask_equals_no_mask(rng):
    Q, K, V = make_qkv(rng, ((2,), (2,), (2,), 4, 5, 3, 2))
    a = attention.scaled_dot_product_attention(Q, K, V)
    b = attention.scaled_dot_product_attention(Q, K, V, mask=np.ones((4, 5), bool))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_scale_limits(rng):
    Q, K, V = make_qkv(rng, ((), (), (), 3, 6, 4, 2))
    # scale 0: every key equally weighted -> the mean of the values
    out, w = attention.scaled_dot_product_attention(Q, K, V, scale=0.0)
    np.testing.assert_allclose(w, 1 / 6)
    np.testing.assert_allclose(out, np.broadcast_to(V.mean(axis=0), out.shape), rtol=1e-13)
    # a huge scale: each query takes the value of its best-matching key (hard attention)
    out, w = attention.scaled_dot_product_attention(Q, K, V, scale=1e6)
    best = np.argmax(Q @ K.T, axis=1)
    np.testing.assert_allclose(out, V[best], rtol=1e-12)
    assert np.all(np.isfinite(w))


def test_default_scale_is_inverse_sqrt_dk(rng):
    Q, K, V = make_qkv(rng, ((), (), (), 3, 4, 9, 2))
    a = attention.scaled_dot_product_attention(Q, K, V)
    b = attention.scaled_dot_product_attention(Q, K, V, scale=1 / 3)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-14)


@pytest.mark.parametrize("logit", [1e4, 1e6])
def test_huge_logits_are_stable(rng, logit):
    Q, K, V = make_qkv(rng, ((2,), (2,), (2,), 5, 7, 3, 2))
    out, w = attention.scaled_dot_product_attention(Q, K, V, scale=logit)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(w))
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, rtol=1e-14)
    out_ref, _ = attention.attention_naive(Q, K, V, scale=logit)
    np.testing.assert_allclose(out, out_ref, rtol=1e-12)
    blk = attention.attention_blockwise(Q, K, V, block_size=2, scale=logit)
    np.testing.assert_allclose(blk, out, rtol=1e-12)


def test_permutation_equivariance(rng):
    Q, K, V = make_qkv(rng, ((2,), (2,), (2,), 5, 6, 3, 4))
    out, _ = attention.scaled_dot_product_attention(Q, K, V)
    pk, pq = rng.permutation(6), rng.permutation(5)
    # reordering key/value pairs together changes nothing (attention sees a set)
    out_k, _ = attention.scaled_dot_product_attention(Q, K[:, pk], V[:, pk])
    np.testing.assert_allclose(out_k, out, rtol=1e-13)
    # reordering queries reorders the output rows the same way
    out_q, _ = attention.scaled_dot_product_attention(Q[:, pq], K, V)
    np.testing.assert_allclose(out_q, out[:, pq], rtol=1e-13)


def test_matches_torch_sdpa(rng):
    torch = pytest.importorskip("torch")
    Q, K, V = make_qkv(rng, ((2, 3), (2, 3), (2, 3), 7, 7, 8, 5))
    mask = rng.random((7, 7)) < 0.7
    np.fill_diagonal(mask, True)  # torch gives NaN for fully masked rows; avoid them here
    Qt, Kt, Vt = (torch.from_numpy(a) for a in (Q, K, V))
    for kwargs, tkw in [({}, {}), ({"causal": True}, {"is_causal": True}),
                        ({"mask": mask}, {"attn_mask": torch.from_numpy(mask)})]:
        out, _ = attention.scaled_dot_product_attention(Q, K, V, **kwargs)
        ref = torch.nn.functional.scaled_dot_product_attention(Qt, Kt, Vt, **tkw).numpy()
        np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- fully masked rows


def test_fully_masked_row_gives_zeros_not_nan(rng):
    Q, K, V = make_qkv(rng, ((2,), (2,), (2,), 4, 5, 3, 2))
    mask = np.ones((2, 4, 5), bool)
    mask[0, 1] = False
    mask[1, 3] = False
    out, w = attention.scaled_dot_product_attention(Q, K, V, mask=mask)
    assert not np.any(np.isnan(out)) and not np.any(np.isnan(w))
    np.testing.assert_array_equal(out[0, 1], 0)
    np.testing.assert_array_equal(w[0, 1], 0)
    np.testing.assert_array_equal(out[1, 3], 0)
    # the other rows are untouched by the empty ones
    full, _ = attention.scaled_dot_product_attention(Q, K, V)
    np.testing.assert_allclose(out[0, [0, 2, 3]], full[0, [0, 2, 3]], rtol=1e-14)
    np.testing.assert_array_equal(attention.attention_blockwise(Q, K, V, 2, mask=mask)[0, 1], 0)


def test_fully_masked_row_has_zero_gradients(rng):
    Q, K, V = make_qkv(rng, ((), (), (), 3, 4, 2, 2))
    mask = np.ones((3, 4), bool)
    mask[1] = False  # query 1 attends to nothing
    out, cache = attention.attention_forward(Q, K, V, mask=mask)
    dout = rng.standard_normal(out.shape)
    dQ, dK, dV = attention.attention_backward(dout, cache)
    assert np.all(np.isfinite(dQ)) and np.all(np.isfinite(dK)) and np.all(np.isfinite(dV))
    np.testing.assert_array_equal(dQ[1], 0)
    # changing the upstream gradient of the empty row changes nothing
    dout2 = dout.copy()
    dout2[1] = 100.0
    for g, g2 in zip((dQ, dK, dV), attention.attention_backward(dout2, cache)):
        np.testing.assert_array_equal(g, g2)
    errs = check_gradients(lambda q, k, v: attention.attention_forward(q, k, v, mask=mask)[0],
                           (Q, K, V), (dQ, dK, dV), dout)
    assert max(errs) < 1e-7


def test_nan_scores_give_nan_rows_not_zeros(rng):
    """A NaN is never hidden: its row is NaN, the other rows are unaffected (as activations.softmax)."""
    Q, K, V = make_qkv(rng, ((), (), (), 4, 5, 3, 2))
    Q[2, 0] = np.nan
    out, w = attention.scaled_dot_product_attention(Q, K, V)
    assert np.all(np.isnan(out[2])) and np.all(np.isnan(w[2]))
    assert not np.any(np.isnan(out[[0, 1, 3]]))
    blk = attention.attention_blockwise(Q, K, V, block_size=2)
    assert np.all(np.isnan(blk[2])) and not np.any(np.isnan(blk[[0, 1, 3]]))
    np.testing.assert_allclose(blk[[0, 1, 3]], out[[0, 1, 3]], rtol=1e-12)


def test_no_keys_gives_zeros():
    Q = np.ones((3, 2))
    out, w = attention.scaled_dot_product_attention(Q, np.zeros((0, 2)), np.zeros((0, 4)))
    assert out.shape == (3, 4) and w.shape == (3, 0)
    np.testing.assert_array_equal(out, 0)
    np.testing.assert_array_equal(attention.attention_blockwise(Q, np.zeros((0, 2)), np.zeros((0, 4))), 0)


# --------------------------------------------------------------------------- backward


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("masking", ["none", "mask", "causal"])
def test_attention_gradients(rng, shape, masking):
    Q, K, V = make_qkv(rng, shape)
    mask = random_mask(rng, shape) if masking == "mask" else None
    causal = masking == "causal"
    kw = dict(mask=mask, causal=causal, scale=0.7)
    out, cache = attention.attention_forward(Q, K, V, **kw)
    dout = rng.standard_normal(out.shape)
    grads = attention.attention_backward(dout, cache)
    for g, a in zip(grads, (Q, K, V)):
        assert g.shape == a.shape
    errs = check_gradients(lambda q, k, v: attention.attention_forward(q, k, v, **kw)[0],
                           (Q, K, V), grads, dout)
    assert max(errs) < 1e-7, errs


def test_backward_rejects_wrong_dout(rng):
    Q, K, V = make_qkv(rng, SHAPES[1])
    out, cache = attention.attention_forward(Q, K, V)
    with pytest.raises(ValueError, match=r"\(4, 2\)"):
        attention.attention_backward(np.zeros((2, 4)), cache)


# --------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize("scale", [None, 0.5, np.float64(0.5)])
def test_float32_stays_float32(rng, scale):
    Q, K, V = make_qkv(rng, ((2,), (2,), (2,), 5, 6, 4, 3), dtype=np.float32)
    out, w = attention.scaled_dot_product_attention(Q, K, V, scale=scale, causal=True)
    assert out.dtype == np.float32 and w.dtype == np.float32
    out, cache = attention.attention_forward(Q, K, V, scale=scale)
    for g in attention.attention_backward(np.ones_like(out), cache):
        assert g.dtype == np.float32
    assert attention.attention_blockwise(Q, K, V, 2, scale=scale, causal=True).dtype == np.float32
    ref64, _ = attention.scaled_dot_product_attention(*(a.astype(np.float64) for a in (Q, K, V)), scale=scale)
    np.testing.assert_allclose(out, ref64, rtol=1e-5, atol=1e-6)


def test_float32_multi_head_stays_float32(rng):
    x = rng.standard_normal((2, 5, 8)).astype(np.float32)
    Ws = [rng.standard_normal(s).astype(np.float32) for s in [(8, 8), (8, 8), (8, 4), (4, 6)]]
    out, cache = attention.multi_head_attention_forward(x, x, *Ws, n_heads=2)
    assert out.dtype == np.float32
    for g in attention.multi_head_attention_backward(np.ones_like(out), cache):
        assert g.dtype == np.float32


def test_integer_input_is_promoted():
    out, w = attention.scaled_dot_product_attention(np.ones((2, 2), int), np.ones((3, 2), int), np.arange(6).reshape(3, 2))
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, [[2.0, 3.0], [2.0, 3.0]])


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("Qs, Ks, Vs, mask_shape, match", [
    ((4, 3), (5, 2), (5, 2), None, r"d_k.*\(4, 3\).*\(5, 2\)"),
    ((4, 3), (5, 3), (6, 2), None, r"n_k.*\(5, 3\).*\(6, 2\)"),
    ((2, 4, 3), (3, 5, 3), (3, 5, 2), None, r"broadcast.*\(2, 4, 3\).*\(3, 5, 3\)"),
    ((3,), (5, 3), (5, 2), None, r"Q must have at least 2 dimensions.*\(3,\)"),
    ((4, 3), (5, 3), (5,), None, r"V must have at least 2"),
    ((4, 3), (5, 3), (5, 2), (5, 4), r"mask of shape \(5, 4\).*\(4, 5\)"),
    ((4, 3), (5, 3), (5, 2), (2, 4, 5), r"mask of shape \(2, 4, 5\).*\(4, 5\)"),
])
def test_bad_shapes_raise(Qs, Ks, Vs, mask_shape, match):
    mask = None if mask_shape is None else np.ones(mask_shape, bool)
    with pytest.raises(ValueError, match=match):
        attention.scaled_dot_product_attention(np.ones(Qs), np.ones(Ks), np.ones(Vs), mask=mask)
    with pytest.raises(ValueError, match=match):
        attention.attention_blockwise(np.ones(Qs), np.ones(Ks), np.ones(Vs), mask=mask)


def test_non_boolean_mask_raises():
    with pytest.raises(ValueError, match="boolean"):
        attention.scaled_dot_product_attention(np.ones((2, 2)), np.ones((2, 2)), np.ones((2, 2)),
                                               mask=np.ones((2, 2)))


def test_bad_scale_and_block_size_raise():
    x = np.ones((2, 2))
    with pytest.raises(ValueError, match="finite"):
        attention.scaled_dot_product_attention(x, x, x, scale=np.inf)
    with pytest.raises(ValueError, match="d_k"):
        attention.scaled_dot_product_attention(np.ones((2, 0)), np.ones((2, 0)), x)
    with pytest.raises(ValueError, match="block_size"):
        attention.attention_blockwise(x, x, x, block_size=0)


# --------------------------------------------------------------------------- blockwise


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("block_size", [1, 2, 3, (2, 5), 64])
@pytest.mark.parametrize("masking", ["none", "mask", "causal", "both"])
def test_blockwise_equals_dense(rng, shape, block_size, masking):
    Q, K, V, mask, causal = masked_problem(rng, shape, masking)
    dense, _ = attention.scaled_dot_product_attention(Q, K, V, mask=mask, causal=causal)
    blk = attention.attention_blockwise(Q, K, V, block_size, mask=mask, causal=causal)
    assert blk.shape == dense.shape
    np.testing.assert_allclose(blk, dense, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("masking", ["none", "mask", "causal", "both"])
def test_without_weights_equals_dense(rng, monkeypatch, shape, masking):
    Q, K, V, mask, causal = masked_problem(rng, shape, masking)
    dense, _ = attention.scaled_dot_product_attention(Q, K, V, mask=mask, causal=causal)
    for block_q in (1, 2, attention.DENSE_BLOCK_Q):  # several query blocks, or one
        monkeypatch.setattr(attention, "DENSE_BLOCK_Q", block_q)
        out, w = attention.scaled_dot_product_attention(Q, K, V, mask=mask, causal=causal,
                                                        need_weights=False)
        assert w is None and out.shape == dense.shape and out.dtype == dense.dtype
        np.testing.assert_allclose(out, dense, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("lead, n_q, n_k, d_v", [((0, 2), 5, 3, 2), ((2, 0), 5, 3, 2), ((2,), 0, 3, 2),
                                                  ((2,), 4, 3, 0), ((2,), 4, 0, 2)])
def test_empty_dimensions(rng, lead, n_q, n_k, d_v):
    Q = rng.standard_normal(lead + (n_q, 4))
    K, V = rng.standard_normal(lead + (n_k, 4)), rng.standard_normal(lead + (n_k, d_v))
    dense, w = attention.scaled_dot_product_attention(Q, K, V)
    assert dense.shape == lead + (n_q, d_v) and w.shape == lead + (n_q, n_k)
    for out in (attention.scaled_dot_product_attention(Q, K, V, need_weights=False)[0],
                attention.attention_blockwise(Q, K, V, block_size=2)):
        np.testing.assert_array_equal(out, dense)  # zeros where there is nothing to attend to


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_without_weights_edge_cases(dtype):
    # Huge logits, a fully masked row, no keys at all, float32 kept.
    Q = np.array([[1e4, 0.0], [0.0, 1.0]], dtype=dtype)
    K = np.array([[1e4, 0.0], [0.0, 1e4]], dtype=dtype)
    V = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=dtype)
    out, _ = attention.scaled_dot_product_attention(Q, K, V, need_weights=False)
    assert out.dtype == dtype and np.all(np.isfinite(out))
    np.testing.assert_allclose(out[0], V[0])
    mask = np.array([[False, False], [True, True]])
    out, _ = attention.scaled_dot_product_attention(Q, K, V, mask=mask, need_weights=False)
    np.testing.assert_array_equal(out[0], 0)  # nothing to attend to: zeros, not NaN
    out, _ = attention.scaled_dot_product_attention(Q, K[:0], V[:0], need_weights=False)
    np.testing.assert_array_equal(out, np.zeros((2, 2), dtype))
    with pytest.raises(ValueError, match="d_k"):
        attention.scaled_dot_product_attention(Q, K[:, :1], V, need_weights=False)


@given(
    n_q=st.integers(1, 12), n_k=st.integers(0, 12), d_k=st.integers(1, 5), d_v=st.integers(1, 4),
    bq=st.integers(1, 13), bk=st.integers(1, 13), heads=st.integers(1, 3),
    causal=st.booleans(), use_mask=st.booleans(), seed=st.integers(0, 2**16),
    logit_scale=st.sampled_from([0.1, 1.0, 30.0]),
)
def test_blockwise_equals_dense_property(n_q, n_k, d_k, d_v, bq, bk, heads, causal, use_mask, seed,
                                         logit_scale):
    rng = np.random.default_rng(seed)
    Q = rng.standard_normal((heads, n_q, d_k)) * logit_scale
    K = rng.standard_normal((heads, n_k, d_k))
    V = rng.standard_normal((heads, n_k, d_v))
    mask = rng.random((n_q, n_k)) < 0.5 if use_mask else None
    dense, _ = attention.scaled_dot_product_attention(Q, K, V, mask=mask, causal=causal)
    blk = attention.attention_blockwise(Q, K, V, (bq, bk), mask=mask, causal=causal)
    assert not np.any(np.isnan(blk))
    np.testing.assert_allclose(blk, dense, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_blockwise_peak_memory_grows_with_n_times_block(rng, dtype):
    n, d, block = 2048, 16, 128
    Q, K, V = (rng.standard_normal((n, d)).astype(dtype) for _ in range(3))
    itemsize = np.dtype(dtype).itemsize
    tracemalloc.start()
    try:
        attention.attention_blockwise(Q, K, V, block_size=block)
        _, blk_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        attention.scaled_dot_product_attention(Q, K, V)
        _, dense_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert dense_peak >= n * n * itemsize  # the dense scores exist in full
    # blockwise: the output (n, d) plus a few (block, block) tiles, far below n^2
    assert blk_peak < n * d * itemsize + 8 * block * block * itemsize
    assert blk_peak < dense_peak / 10


def test_blockwise_causal_skips_future_blocks(rng, monkeypatch):
    """With causal=True the key blocks above the diagonal are never multiplied."""
    n, block = 64, 8
    Q, K, V = (rng.standard_normal((n, 4)) for _ in range(3))
    calls = []
    real_exp = np.exp

    def counting_exp(x, *args, **kwargs):
        if np.ndim(x) == 2 and x.shape[1] == block and x.shape[0] == block:
            calls.append(1)
        return real_exp(x, *args, **kwargs)

    monkeypatch.setattr(attention.np, "exp", counting_exp)
    attention.attention_blockwise(Q, K, V, block_size=block, causal=True)
    nb = n // block
    assert len(calls) == nb * (nb + 1) // 2  # the lower triangle of tiles, diagonal included


# --------------------------------------------------------------------------- multi-head


def test_split_merge_heads_roundtrip(rng):
    x = rng.standard_normal((2, 5, 12))
    h = attention.split_heads(x, 3)
    assert h.shape == (2, 3, 5, 4)
    np.testing.assert_array_equal(h[:, 1], x[:, :, 4:8])
    np.testing.assert_array_equal(attention.merge_heads(h), x)
    with pytest.raises(ValueError, match="divisible"):
        attention.split_heads(x, 5)


def mha_params(rng, D=6, D_kv=5, h=2, d_k=3, d_v=2, M=4):
    return (rng.standard_normal((D, h * d_k)), rng.standard_normal((D_kv, h * d_k)),
            rng.standard_normal((D_kv, h * d_v)), rng.standard_normal((h * d_v, M)))


def test_multi_head_equals_per_head_loop(rng):
    h, d_k, d_v = 3, 2, 2
    x_q, x_kv = rng.standard_normal((2, 4, 6)), rng.standard_normal((2, 5, 5))
    W_q, W_k, W_v, W_o = mha_params(rng, h=h, d_k=d_k, d_v=d_v)
    out, w = attention.multi_head_attention(x_q, x_kv, W_q, W_k, W_v, W_o, h)
    heads = []
    for i in range(h):  # the textbook definition: concat_i(Attention(X W_q^i, X W_k^i, X W_v^i)) W_o
        cq, cv = slice(i * d_k, (i + 1) * d_k), slice(i * d_v, (i + 1) * d_v)
        o_i, w_i = attention.attention_naive(x_q @ W_q[:, cq], x_kv @ W_k[:, cq], x_kv @ W_v[:, cv])
        np.testing.assert_allclose(w[:, i], w_i, rtol=1e-12)
        heads.append(o_i)
    np.testing.assert_allclose(out, np.concatenate(heads, axis=-1) @ W_o, rtol=1e-12, atol=1e-13)
    assert out.shape == (2, 4, 4) and w.shape == (2, h, 4, 5)


@pytest.mark.parametrize("lead", [(), (2,)])
@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_gradients(rng, lead, causal):
    x_q, x_kv = rng.standard_normal(lead + (4, 6)), rng.standard_normal(lead + (4, 5))
    params = mha_params(rng)
    mask = rng.random((4, 4)) < 0.7
    kw = dict(n_heads=2, mask=mask, causal=causal)
    out, cache = attention.multi_head_attention_forward(x_q, x_kv, *params, **kw)
    dout = rng.standard_normal(out.shape)
    grads = attention.multi_head_attention_backward(dout, cache)
    args = (x_q, x_kv) + params
    for g, a in zip(grads, args):
        assert g.shape == a.shape
    errs = check_gradients(lambda *a: attention.multi_head_attention_forward(*a, **kw)[0], args, grads, dout)
    assert max(errs) < 1e-7, errs


def test_multi_head_self_attention_gradient_is_sum(rng):
    x = rng.standard_normal((3, 6))
    params = mha_params(rng, D=6, D_kv=6)
    out, cache = attention.multi_head_attention_forward(x, x, *params, n_heads=2, causal=True)
    dout = rng.standard_normal(out.shape)
    dx_q, dx_kv, *_ = attention.multi_head_attention_backward(dout, cache)
    errs = check_gradients(lambda x: attention.multi_head_attention_forward(x, x, *params, n_heads=2, causal=True)[0],
                           (x,), (dx_q + dx_kv,), dout)
    assert errs[0] < 1e-7


@pytest.mark.parametrize("change, match", [
    (dict(W_q=np.ones((5, 6))), r"x_q has D=6.*W_q is \(5, 6\)"),
    (dict(W_k=np.ones((5, 4))), r"W_q \(6, 6\) and W_k \(5, 4\)"),
    (dict(W_v=np.ones((4, 4))), r"x_kv has D_kv=5.*W_v is \(4, 4\)"),
    (dict(W_o=np.ones((3, 4))), r"W_o \(3, 4\).*W_v \(5, 4\)"),
    (dict(n_heads=4), r"n_heads=4"),
    (dict(x_kv=np.ones((3, 4, 5))), r"same leading"),
    (dict(W_o=np.ones((4,))), r"W_o must have 2 dimensions"),
])
def test_multi_head_bad_input(rng, change, match):
    kw = dict(x_q=np.ones((2, 3, 6)), x_kv=np.ones((2, 4, 5)), W_q=np.ones((6, 6)), W_k=np.ones((5, 6)),
              W_v=np.ones((5, 4)), W_o=np.ones((4, 3)), n_heads=2)
    kw.update(change)
    with pytest.raises(ValueError, match=match):
        attention.multi_head_attention(**kw)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("masking", ["none", "mask", "causal"])
def test_blockwise_in_groups_of_the_leading_axis(rng, shape, masking, monkeypatch):
    """A tiny TILE_BYTES forces one group per index of the first leading axis."""
    monkeypatch.setattr(attention, "TILE_BYTES", 1)
    Q, K, V = make_qkv(rng, shape)
    mask = random_mask(rng, shape) if masking == "mask" else None
    causal = masking == "causal"
    dense, _ = attention.scaled_dot_product_attention(Q, K, V, mask=mask, causal=causal)
    blk = attention.attention_blockwise(Q, K, V, 2, mask=mask, causal=causal)
    np.testing.assert_allclose(blk, dense, rtol=1e-12, atol=1e-13)


def test_blockwise_groups_bound_the_extra_memory(rng, monkeypatch):
    lead, n, d, block = (8, 4), 512, 16, 128
    Q, K, V = (rng.standard_normal(lead + (n, d)) for _ in range(3))
    out_bytes = Q.nbytes

    def extra():
        tracemalloc.start()
        try:
            attention.attention_blockwise(Q, K, V, block_size=block)
            return tracemalloc.get_traced_memory()[1] - out_bytes
        finally:
            tracemalloc.stop()

    ungrouped = extra()  # all 32 heads in one (32, 128, 128) tile of 4 MiB
    assert ungrouped >= 32 * block * block * 8
    budget = 2**20
    monkeypatch.setattr(attention, "TILE_BYTES", budget)  # 4 groups of 2 x 4 heads
    grouped = extra()
    per_group = 8 * block * d * 8  # the (block, d) buffers of 8 heads: P~V and the scaled queries
    ufunc_buffers = 3 * 8192 * 8  # NumPy's iteration buffers for one ufunc call
    row_vectors = 16 * 8 * block * 8  # m, l, their updates and temporaries: (8 heads, block, 1)
    assert grouped <= budget + 2 * per_group + ufunc_buffers + row_vectors
    assert grouped < ungrouped / 2


# --------------------------------------------------------------------------- exercise checkers


def test_check_weights_by_hand():
    from lalib.exercises_attention import EXERCISE1, check_weights_by_hand

    s = (EXERCISE1["q"] @ EXERCISE1["K"].T)[0] / math.sqrt(2)
    w = np.exp(s) / np.exp(s).sum()
    out = float(w @ EXERCISE1["V"][:, 0])
    assert check_weights_by_hand(w, out)
    assert check_weights_by_hand(np.round(w, 2), round(out, 2))
    unscaled = np.exp(s * math.sqrt(2)) / np.exp(s * math.sqrt(2)).sum()
    assert "without the 1/sqrt" in repr(check_weights_by_hand(unscaled, out))
    assert not check_weights_by_hand(w, out + 1)
    assert not check_weights_by_hand([1 / 3, 1 / 3, 1 / 3], out)
    assert not check_weights_by_hand(w[:2], out)


def test_check_padding_mask():
    from lalib.exercises_attention import check_padding_mask

    def right(lengths, n):
        return np.arange(n)[None, None, :] < np.asarray(lengths)[:, None, None]

    assert check_padding_mask(right)
    assert not check_padding_mask(lambda lengths, n: right(lengths, n)[:, 0])  # (N, n): wrong shape
    assert not check_padding_mask(lambda lengths, n: right(lengths, n).astype(int))  # not boolean
    assert not check_padding_mask(lambda lengths, n: np.arange(n)[None, None, :] <= np.asarray(lengths)[:, None, None])
    assert "raised" in repr(check_padding_mask(lambda lengths, n: 1 / 0))


def test_check_merge():
    from lalib.exercises_attention import check_merge

    def right(m1, l1, A1, m2, l2, A2):
        m = np.maximum(m1, m2)
        a1, a2 = np.exp(m1 - m), np.exp(m2 - m)
        return m, a1 * l1 + a2 * l2, a1 * A1 + a2 * A2

    def no_rescale(m1, l1, A1, m2, l2, A2):
        return np.maximum(m1, m2), l1 + l2, A1 + A2

    def normalised_only(m1, l1, A1, m2, l2, A2):  # right ratio A / l, but relative to m = 0
        m, l, A = right(m1, l1, A1, m2, l2, A2)
        return m, l * np.exp(m), A * np.exp(m)

    assert check_merge(right)
    assert not check_merge(no_rescale)
    assert "relative to the new" in repr(check_merge(normalised_only))
    assert "maximum" in repr(check_merge(lambda *a: (a[0], *right(*a)[1:])))


@pytest.mark.parametrize("chunk_bytes", [1, 64, 1 << 22])
def test_blocked_softmax_is_bit_identical_to_one_pass(rng, monkeypatch, chunk_bytes):
    # The dense path cuts the scores into row blocks (threaded when there are many);
    # each row must see exactly the one-pass operations, including the special rows.
    from lalib import attention as att

    S = rng.standard_normal((3, 4, 37, 29))
    S[0, 0, 0] = -np.inf  # nothing to attend to
    S[1, 2, 5, 3] = np.nan  # bad input stays visible
    S[2, 3, 7, :5] = 1e4  # huge logits
    expected = S.copy()
    att._softmax_block_inplace(expected)
    monkeypatch.setattr(att, "_SOFTMAX_CHUNK_BYTES", chunk_bytes)
    got = att._softmax_rows_inplace(S.copy())
    np.testing.assert_array_equal(got, expected)
    assert np.all(got[0, 0, 0] == 0) and np.all(np.isnan(got[1, 2, 5]))
    np.testing.assert_allclose(got[2, 3].sum(-1), 1.0)  # the rows with huge logits
    sliced = rng.standard_normal((5, 9))[:, ::2]  # not contiguous: one pass in place
    np.testing.assert_allclose(att._softmax_rows_inplace(sliced).sum(-1), 1.0)
