"""Tests for lalib.attention: naive reference, gradients, masks, blockwise == dense.

Every test of the dense forward pass, of `scaled_dot_product_attention` and of
`attention_blockwise` runs on both implementations (the `impl` parameter): the
readable one of `lalib.attention`, which chapter 3 teaches, and the fast one of
`lalib.engine.attention`. Both are compared with `attention_naive` and with each
other. The engine's own machinery (the blocked softmax, the query blocks, the groups
of heads) is tested in test_engine_attention.py.
"""

import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from memory import traced_peak

from lalib import activations, attention
from lalib.engine import attention as engine
from lalib.gradcheck import check_gradients

# (lead of Q, lead of K, lead of V, n_q, n_k, d_k, d_v); leads broadcast as in matmul
SHAPES = [
    ((), (), (), 1, 1, 1, 1),
    ((), (), (), 4, 6, 3, 2),
    ((2,), (2,), (2,), 5, 3, 4, 4),
    ((2, 3), (2, 3), (2, 3), 3, 5, 2, 3),
    ((2, 3), (1, 3), (1, 3), 4, 4, 3, 2),  # keys/values shared across the batch axis
    ((2, 3), (3,), (3,), 2, 5, 3, 1),  # keys/values without the batch axis
    ((3,), (2, 3), (2, 3), 3, 2, 2, 2),  # queries broadcast over a batch of key sets
]

# The two implementations: the readable module and the engine.
both = pytest.mark.parametrize("impl", [attention, engine], ids=["readable", "engine"])


def sdpa(impl, Q, K, V, mask=None, scale=None, causal=False, need_weights=True):
    """`scaled_dot_product_attention` as `impl` computes it.

    The engine's is its own function. The one in lalib.attention calls the engine
    (tested below), so the readable version is what its docstring says it computes:
    `attention_forward` with the weights, and without them `attention_blockwise` with
    the engine's query blocks and one block holding all the keys.
    """
    if impl is engine:
        return engine.scaled_dot_product_attention(
            Q, K, V, mask=mask, scale=scale, causal=causal, need_weights=need_weights
        )
    if need_weights:
        out, cache = attention.attention_forward(Q, K, V, mask, scale, causal)
        return out, cache[3]
    blocks = (engine.DENSE_BLOCK_Q, max(1, np.shape(K)[-2]))
    return attention.attention_blockwise(Q, K, V, blocks, mask, scale, causal), None


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


# ------------------------------------------------------------------------------ softmax


def test_forward_uses_activations_softmax(rng, monkeypatch):
    # No second softmax: attention's is the one of lalib.activations, not re-exported.
    for name in ("softmax", "softmax_backward"):
        assert name not in attention.__all__
        assert not hasattr(attention, name)
    Q, K, V, mask, causal = masked_problem(rng, SHAPES[3], "both")
    calls = []
    real_softmax = activations.softmax

    def spy(z, axis=-1):
        calls.append((z.copy(), axis))
        return real_softmax(z, axis=axis)

    monkeypatch.setattr(activations, "softmax", spy)
    out, cache = attention.attention_forward(Q, K, V, mask, scale=0.7, causal=causal)
    assert len(calls) == 1
    S, axis = calls[0]
    assert axis in (-1, S.ndim - 1)
    # the scaled, masked scores, and the weights are their softmax
    allowed = mask & attention.causal_mask(Q.shape[-2], K.shape[-2])
    expected = np.where(allowed, (Q * 0.7) @ K.swapaxes(-1, -2), -np.inf)
    np.testing.assert_array_equal(S, expected)
    np.testing.assert_array_equal(cache[3], real_softmax(expected, axis=-1))
    np.testing.assert_array_equal(out, cache[3] @ V)


# -------------------------------------------------------------------------- causal mask


def test_causal_mask_known_answers():
    causal = attention.causal_mask(3)
    np.testing.assert_array_equal(causal, np.tril(np.ones((3, 3), bool)))
    assert causal.dtype == np.bool_
    # one new query after two old keys sees all three
    np.testing.assert_array_equal(attention.causal_mask(1, 3), [[True, True, True]])
    # more queries than keys: the first query has no key at or before its position
    np.testing.assert_array_equal(
        attention.causal_mask(3, 2), [[False, False], [True, False], [True, True]]
    )
    assert attention.causal_mask(0).shape == (0, 0)


@pytest.mark.parametrize(("n_q", "n_k"), [(1, 1), (4, 4), (3, 7), (6, 2)])
def test_causal_mask_counts(n_q, n_k):
    mask = attention.causal_mask(n_q, n_k)
    assert mask.shape == (n_q, n_k)
    # query i (at position i + n_k - n_q) sees that many keys plus itself, in [0, n_k]
    expected = np.clip(np.arange(n_q) + n_k - n_q + 1, 0, n_k)
    np.testing.assert_array_equal(mask.sum(axis=1), expected)


def test_causal_mask_rejects_negative():
    with pytest.raises(ValueError, match="non-negative"):
        attention.causal_mask(-1)


@pytest.mark.parametrize(
    "args",
    [(2.5,), (3.0,), (True,), ("3",), (None,), (3, 2.0), (3, False), (2**63,)],
    ids=["2.5", "3.0", "True", "str", "None", "n_k float", "n_k bool", "2^63"],
)
def test_causal_mask_sizes_are_integers(args):
    # causal_mask(2.5) was 3x3; causal_mask(2**63) an empty (0, 0) array.
    with pytest.raises(ValueError, match=r"n_[qk] must be|cannot be allocated"):
        attention.causal_mask(*args)
    assert attention.causal_mask(np.int64(2), np.int32(3)).shape == (2, 3)


# -------------------------------------------------------------------------- entry point


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("masking", ["none", "mask", "causal", "both"])
@pytest.mark.parametrize("need_weights", [True, False])
def test_scaled_dot_product_attention_is_the_engines(rng, shape, masking, need_weights):
    Q, K, V, mask, causal = masked_problem(rng, shape, masking)
    kw = {"mask": mask, "scale": 0.7, "causal": causal, "need_weights": need_weights}
    out, w = attention.scaled_dot_product_attention(Q, K, V, **kw)
    out_e, w_e = engine.scaled_dot_product_attention(Q, K, V, **kw)
    np.testing.assert_array_equal(out, out_e)
    if need_weights:
        np.testing.assert_array_equal(w, w_e)
    else:
        assert w is None and w_e is None


def test_scaled_dot_product_attention_calls_the_engine(monkeypatch):
    seen = []

    def fake(*args, **kwargs):
        seen.append((args, kwargs))
        return "engine's result"

    monkeypatch.setattr(engine, "scaled_dot_product_attention", fake)
    Q, K, V, mask = (
        np.ones((2, 3)),
        np.ones((4, 3)),
        np.ones((4, 2)),
        np.ones((2, 4), bool),
    )
    got = attention.scaled_dot_product_attention(Q, K, V, mask, 0.5, True, False)
    assert got == "engine's result"
    ((args, kwargs),) = seen
    assert args[0] is Q and args[1] is K and args[2] is V
    assert kwargs == {"mask": mask, "scale": 0.5, "causal": True, "need_weights": False}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("masking", ["none", "mask", "causal", "both"])
def test_engine_equals_readable(rng, shape, masking):
    Q, K, V, mask, causal = masked_problem(rng, shape, masking)
    out_r, cache_r = attention.attention_forward(Q, K, V, mask=mask, causal=causal)
    out_e, cache_e = engine.attention_forward(Q, K, V, mask=mask, causal=causal)
    assert out_e.shape == out_r.shape and len(cache_e) == len(cache_r)
    np.testing.assert_allclose(out_e, out_r, rtol=1e-13, atol=1e-14)
    for a_e, a_r in zip(cache_e, cache_r, strict=True):  # Q, K, V, P, out, scale
        np.testing.assert_allclose(a_e, a_r, rtol=1e-13, atol=1e-14)
    dout = rng.standard_normal(out_r.shape)
    grads_r = attention.attention_backward(dout, cache_r)
    grads_e = attention.attention_backward(dout, cache_e)
    for g_e, g_r in zip(grads_e, grads_r, strict=True):
        np.testing.assert_allclose(g_e, g_r, rtol=1e-12, atol=1e-13)
    for block_size in (1, 3, (2, 5)):
        blk_r = attention.attention_blockwise(Q, K, V, block_size, mask, causal=causal)
        blk_e = engine.attention_blockwise(Q, K, V, block_size, mask, causal=causal)
        np.testing.assert_allclose(blk_e, blk_r, rtol=1e-13, atol=1e-14)


# ------------------------------------------------------------------------ dense forward


@both
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("masking", ["none", "mask", "causal", "both"])
def test_dense_matches_naive_reference(rng, impl, shape, masking):
    Q, K, V, mask, causal = masked_problem(rng, shape, masking)
    out, w = sdpa(impl, Q, K, V, mask=mask, causal=causal)
    out_ref, w_ref = attention.attention_naive(Q, K, V, mask=mask, causal=causal)
    lead = np.broadcast_shapes(shape[0], shape[1], shape[2])
    assert out.shape == lead + (shape[3], shape[6])
    assert w.shape == lead + (shape[3], shape[4])
    np.testing.assert_allclose(out, out_ref, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(w, w_ref, rtol=1e-12, atol=1e-13)


@both
def test_known_answer_two_keys(impl):
    # scores 0 and 4/sqrt(2): weights 1/(1+e^{2 sqrt 2}) and the rest
    Q = np.array([[0.0, 2.0]])
    K = np.array([[2.0, 0.0], [0.0, 2.0]])
    V = np.array([[10.0, 0.0], [0.0, 10.0]])
    out, w = sdpa(impl, Q, K, V)
    w1 = 1 / (1 + math.exp(2 * math.sqrt(2)))
    np.testing.assert_allclose(w, [[w1, 1 - w1]], rtol=1e-14)
    np.testing.assert_allclose(out, [[10 * w1, 10 * (1 - w1)]], rtol=1e-14)


@both
def test_weights_rows_sum_to_one_and_output_is_convex_combination(rng, impl):
    Q, K, V = make_qkv(rng, ((3,), (3,), (3,), 6, 9, 4, 5))
    out, w = sdpa(impl, Q, K, V)
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, rtol=1e-14)
    assert np.all(w >= 0)
    # each output lies within the range of the values it averages
    assert np.all(out <= V.max(axis=-2, keepdims=True) + 1e-12)
    assert np.all(out >= V.min(axis=-2, keepdims=True) - 1e-12)


@both
def test_all_true_mask_equals_no_mask(rng, impl):
    Q, K, V = make_qkv(rng, ((2,), (2,), (2,), 4, 5, 3, 2))
    a = sdpa(impl, Q, K, V)
    b = sdpa(impl, Q, K, V, mask=np.ones((4, 5), bool))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


@both
def test_scale_limits(rng, impl):
    Q, K, V = make_qkv(rng, ((), (), (), 3, 6, 4, 2))
    # scale 0: every key equally weighted -> the mean of the values
    out, w = sdpa(impl, Q, K, V, scale=0.0)
    np.testing.assert_allclose(w, 1 / 6)
    np.testing.assert_allclose(
        out, np.broadcast_to(V.mean(axis=0), out.shape), rtol=1e-13
    )
    # a huge scale: each query takes the value of its best-matching key (hard attention)
    out, w = sdpa(impl, Q, K, V, scale=1e6)
    best = np.argmax(Q @ K.T, axis=1)
    np.testing.assert_allclose(out, V[best], rtol=1e-12)
    assert np.all(np.isfinite(w))


@both
def test_default_scale_is_inverse_sqrt_dk(rng, impl):
    Q, K, V = make_qkv(rng, ((), (), (), 3, 4, 9, 2))
    a = sdpa(impl, Q, K, V)
    b = sdpa(impl, Q, K, V, scale=1 / 3)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-14)


@both
@pytest.mark.parametrize("logit", [1e4, 1e6])
def test_huge_logits_are_stable(rng, impl, logit):
    Q, K, V = make_qkv(rng, ((2,), (2,), (2,), 5, 7, 3, 2))
    out, w = sdpa(impl, Q, K, V, scale=logit)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(w))
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, rtol=1e-14)
    out_ref, _ = attention.attention_naive(Q, K, V, scale=logit)
    np.testing.assert_allclose(out, out_ref, rtol=1e-12)
    blk = impl.attention_blockwise(Q, K, V, block_size=2, scale=logit)
    np.testing.assert_allclose(blk, out, rtol=1e-12)


@both
def test_permutation_equivariance(rng, impl):
    Q, K, V = make_qkv(rng, ((2,), (2,), (2,), 5, 6, 3, 4))
    out, _ = sdpa(impl, Q, K, V)
    pk, pq = rng.permutation(6), rng.permutation(5)
    # reordering key/value pairs together changes nothing (attention sees a set)
    out_k, _ = sdpa(impl, Q, K[:, pk], V[:, pk])
    np.testing.assert_allclose(out_k, out, rtol=1e-13)
    # reordering queries reorders the output rows the same way
    out_q, _ = sdpa(impl, Q[:, pq], K, V)
    np.testing.assert_allclose(out_q, out[:, pq], rtol=1e-13)


@both
def test_matches_torch_sdpa(rng, impl):
    torch = pytest.importorskip("torch")
    Q, K, V = make_qkv(rng, ((2, 3), (2, 3), (2, 3), 7, 7, 8, 5))
    mask = rng.random((7, 7)) < 0.7
    np.fill_diagonal(mask, True)  # torch gives NaN for fully masked rows; avoid them
    Qt, Kt, Vt = (torch.from_numpy(a) for a in (Q, K, V))
    cases = [
        ({}, {}),
        ({"causal": True}, {"is_causal": True}),
        ({"mask": mask}, {"attn_mask": torch.from_numpy(mask)}),
    ]
    for kwargs, tkw in cases:
        ref = torch.nn.functional.scaled_dot_product_attention(Qt, Kt, Vt, **tkw)
        for need_weights in (True, False):
            out, _ = sdpa(impl, Q, K, V, need_weights=need_weights, **kwargs)
            np.testing.assert_allclose(out, ref.numpy(), rtol=1e-10, atol=1e-12)


# -------------------------------------------------------------------- fully masked rows


@both
def test_fully_masked_row_gives_zeros_not_nan(rng, impl):
    Q, K, V = make_qkv(rng, ((2,), (2,), (2,), 4, 5, 3, 2))
    mask = np.ones((2, 4, 5), bool)
    mask[0, 1] = False
    mask[1, 3] = False
    out, w = sdpa(impl, Q, K, V, mask=mask)
    assert not np.any(np.isnan(out)) and not np.any(np.isnan(w))
    np.testing.assert_array_equal(out[0, 1], 0)
    np.testing.assert_array_equal(w[0, 1], 0)
    np.testing.assert_array_equal(out[1, 3], 0)
    # the other rows are untouched by the empty ones
    full, _ = sdpa(impl, Q, K, V)
    np.testing.assert_allclose(out[0, [0, 2, 3]], full[0, [0, 2, 3]], rtol=1e-14)
    blk = impl.attention_blockwise(Q, K, V, 2, mask=mask)
    np.testing.assert_array_equal(blk[0, 1], 0)
    np.testing.assert_array_equal(blk[1, 3], 0)


@both
def test_fully_masked_row_has_zero_gradients(rng, impl):
    Q, K, V = make_qkv(rng, ((), (), (), 3, 4, 2, 2))
    mask = np.ones((3, 4), bool)
    mask[1] = False  # query 1 attends to nothing
    out, cache = impl.attention_forward(Q, K, V, mask=mask)
    dout = rng.standard_normal(out.shape)
    dQ, dK, dV = attention.attention_backward(dout, cache)
    assert (
        np.all(np.isfinite(dQ)) and np.all(np.isfinite(dK)) and np.all(np.isfinite(dV))
    )
    np.testing.assert_array_equal(dQ[1], 0)
    # changing the upstream gradient of the empty row changes nothing
    dout2 = dout.copy()
    dout2[1] = 100.0
    grads2 = attention.attention_backward(dout2, cache)
    for g, g2 in zip((dQ, dK, dV), grads2, strict=True):
        np.testing.assert_array_equal(g, g2)
    errs = check_gradients(
        lambda q, k, v: impl.attention_forward(q, k, v, mask=mask)[0],
        (Q, K, V),
        (dQ, dK, dV),
        dout,
    )
    assert max(errs) < 1e-7


@both
def test_nan_scores_give_nan_rows_not_zeros(rng, impl):
    """A NaN is never hidden: its row is NaN, the other rows are unaffected.

    The convention of activations.softmax.
    """
    Q, K, V = make_qkv(rng, ((), (), (), 4, 5, 3, 2))
    Q[2, 0] = np.nan
    out, w = sdpa(impl, Q, K, V)
    assert np.all(np.isnan(out[2])) and np.all(np.isnan(w[2]))
    assert not np.any(np.isnan(out[[0, 1, 3]]))
    blk = impl.attention_blockwise(Q, K, V, block_size=2)
    assert np.all(np.isnan(blk[2])) and not np.any(np.isnan(blk[[0, 1, 3]]))
    np.testing.assert_allclose(blk[[0, 1, 3]], out[[0, 1, 3]], rtol=1e-12)
    out, _ = sdpa(impl, Q, K, V, need_weights=False)
    assert np.all(np.isnan(out[2])) and not np.any(np.isnan(out[[0, 1, 3]]))


@both
def test_no_keys_gives_zeros(impl):
    Q, K, V = np.ones((3, 2)), np.zeros((0, 2)), np.zeros((0, 4))
    out, w = sdpa(impl, Q, K, V)
    assert out.shape == (3, 4) and w.shape == (3, 0)
    np.testing.assert_array_equal(out, 0)
    np.testing.assert_array_equal(impl.attention_blockwise(Q, K, V), 0)
    # and no gradient: nothing depends on Q
    out, cache = impl.attention_forward(Q, K, V)
    dQ, dK, dV = attention.attention_backward(np.ones_like(out), cache)
    np.testing.assert_array_equal(dQ, 0)
    assert dK.shape == (0, 2) and dV.shape == (0, 4)


# Values with a batch axis that the queries and keys lack: the scores Q K^T have only
# the head axis, the output has both.
VALUES_ONLY = ((3,), (3,), (2, 3), 2, 4, 3, 2)


# The engine masks the scores in place; a mask with axes the scores lack (only V has
# them) must still give the reference result (it once raised a broadcast error).
@pytest.mark.parametrize(
    ("impl", "masking"),
    [
        pytest.param(impl, masking, id=f"{name}-{masking}")
        for name, impl in (("readable", attention), ("engine", engine))
        for masking in ("none", "mask", "causal", "both")
    ],
)
def test_dense_with_axes_only_the_values_have(rng, impl, masking):
    Q, K, V, mask, causal = masked_problem(rng, VALUES_ONLY, masking)
    out_ref, w_ref = attention.attention_naive(Q, K, V, mask=mask, causal=causal)
    out, w = sdpa(impl, Q, K, V, mask=mask, causal=causal)
    assert out.shape == out_ref.shape == (2, 3, 2, 2)
    np.testing.assert_allclose(out, out_ref, rtol=1e-12, atol=1e-13)
    # the weights have every leading axis, even one that only V has (with or without
    # a mask: once they kept the scores' shape without one)
    assert w.shape == w_ref.shape == (2, 3, 2, 4)
    np.testing.assert_allclose(w, w_ref, rtol=1e-12, atol=1e-13)


@both
@pytest.mark.parametrize("masking", ["none", "mask", "causal", "both"])
def test_blockwise_with_axes_only_the_values_have(rng, impl, masking):
    Q, K, V, mask, causal = masked_problem(rng, VALUES_ONLY, masking)
    out_ref, _ = attention.attention_naive(Q, K, V, mask=mask, causal=causal)
    for block_size in (1, 3, (2, 5)):
        blk = impl.attention_blockwise(Q, K, V, block_size, mask=mask, causal=causal)
        np.testing.assert_allclose(blk, out_ref, rtol=1e-12, atol=1e-13)
    out, _ = sdpa(impl, Q, K, V, mask=mask, causal=causal, need_weights=False)
    np.testing.assert_allclose(out, out_ref, rtol=1e-12, atol=1e-13)


# ----------------------------------------------------------------------------- backward


@both
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("masking", ["none", "mask", "causal"])
def test_attention_gradients(rng, impl, shape, masking):
    Q, K, V = make_qkv(rng, shape)
    mask = random_mask(rng, shape) if masking == "mask" else None
    causal = masking == "causal"
    kw = {"mask": mask, "causal": causal, "scale": 0.7}
    out, cache = impl.attention_forward(Q, K, V, **kw)
    dout = rng.standard_normal(out.shape)
    grads = attention.attention_backward(dout, cache)
    for g, a in zip(grads, (Q, K, V), strict=True):
        assert g.shape == a.shape
    errs = check_gradients(
        lambda q, k, v: impl.attention_forward(q, k, v, **kw)[0], (Q, K, V), grads, dout
    )
    assert max(errs) < 1e-7, errs


@both
def test_backward_rejects_wrong_dout(rng, impl):
    Q, K, V = make_qkv(rng, SHAPES[1])
    out, cache = impl.attention_forward(Q, K, V)
    with pytest.raises(ValueError, match=r"\(4, 2\)"):
        attention.attention_backward(np.zeros((2, 4)), cache)


# ------------------------------------------------------------------------------- dtypes


@both
@pytest.mark.parametrize("scale", [None, 0.5, np.float64(0.5)])
def test_float32_stays_float32(rng, impl, scale):
    Q, K, V = make_qkv(rng, ((2,), (2,), (2,), 5, 6, 4, 3), dtype=np.float32)
    out, w = sdpa(impl, Q, K, V, scale=scale, causal=True)
    assert out.dtype == np.float32 and w.dtype == np.float32
    out_nw, _ = sdpa(impl, Q, K, V, scale=scale, causal=True, need_weights=False)
    assert out_nw.dtype == np.float32
    out, cache = impl.attention_forward(Q, K, V, scale=scale)
    for g in attention.attention_backward(np.ones_like(out), cache):
        assert g.dtype == np.float32
    blk = impl.attention_blockwise(Q, K, V, 2, scale=scale, causal=True)
    assert blk.dtype == np.float32
    Q64, K64, V64 = (a.astype(np.float64) for a in (Q, K, V))
    ref64, _ = sdpa(impl, Q64, K64, V64, scale=scale)
    np.testing.assert_allclose(out, ref64, rtol=1e-5, atol=1e-6)


def test_float32_multi_head_stays_float32(rng):
    x = rng.standard_normal((2, 5, 8)).astype(np.float32)
    shapes = [(8, 8), (8, 8), (8, 4), (4, 6)]
    Ws = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    out, cache = attention.multi_head_attention_forward(x, x, *Ws, n_heads=2)
    assert out.dtype == np.float32
    for g in attention.multi_head_attention_backward(np.ones_like(out), cache):
        assert g.dtype == np.float32


@both
def test_integer_input_is_promoted(impl):
    Q, K, V = np.ones((2, 2), int), np.ones((3, 2), int), np.arange(6).reshape(3, 2)
    for out in (sdpa(impl, Q, K, V)[0], impl.attention_blockwise(Q, K, V, 2)):
        assert out.dtype == np.float64
        np.testing.assert_allclose(out, [[2.0, 3.0], [2.0, 3.0]])


# ---------------------------------------------------------------------------- bad input


def entry_points(impl):
    """The public functions of `impl` that take (Q, K, V, mask=...)."""
    return (
        impl.scaled_dot_product_attention,
        impl.attention_forward,
        impl.attention_blockwise,
    )


@both
@pytest.mark.parametrize(
    ("Qs", "Ks", "Vs", "mask_shape", "match"),
    [
        ((4, 3), (5, 2), (5, 2), None, r"d_k.*\(4, 3\).*\(5, 2\)"),
        ((4, 3), (5, 3), (6, 2), None, r"n_k.*\(5, 3\).*\(6, 2\)"),
        ((2, 4, 3), (3, 5, 3), (3, 5, 2), None, r"broadcast.*\(2, 4, 3\).*\(3, 5, 3\)"),
        ((3,), (5, 3), (5, 2), None, r"Q must have at least 2 dimensions.*\(3,\)"),
        ((4, 3), (5, 3), (5,), None, r"V must have at least 2"),
        ((4, 3), (5, 3), (5, 2), (5, 4), r"mask of shape \(5, 4\).*\(4, 5\)"),
        ((4, 3), (5, 3), (5, 2), (2, 4, 5), r"mask of shape \(2, 4, 5\).*\(4, 5\)"),
    ],
)
def test_bad_shapes_raise(impl, Qs, Ks, Vs, mask_shape, match):
    mask = None if mask_shape is None else np.ones(mask_shape, bool)
    for fn in entry_points(impl):
        with pytest.raises(ValueError, match=match):
            fn(np.ones(Qs), np.ones(Ks), np.ones(Vs), mask=mask)
    with pytest.raises(ValueError, match=match):
        impl.scaled_dot_product_attention(
            np.ones(Qs), np.ones(Ks), np.ones(Vs), mask=mask, need_weights=False
        )


@both
def test_non_boolean_mask_raises(impl):
    x = np.ones((2, 2))
    for fn in entry_points(impl):
        with pytest.raises(ValueError, match="boolean"):
            fn(x, x, x, mask=np.ones((2, 2)))


@both
def test_bad_scale_and_block_size_raise(impl):
    x = np.ones((2, 2))
    for fn in entry_points(impl):
        with pytest.raises(ValueError, match="finite"):
            fn(x, x, x, scale=np.inf)
        with pytest.raises(ValueError, match="d_k"):
            fn(np.ones((2, 0)), np.ones((2, 0)), x)
    for block_size in (0, (2, 0), (-1, 2)):
        with pytest.raises(ValueError, match="block_size"):
            impl.attention_blockwise(x, x, x, block_size=block_size)


# ---------------------------------------------------------------------------- blockwise


@both
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("block_size", [1, 2, 3, (2, 5), 64])
@pytest.mark.parametrize("masking", ["none", "mask", "causal", "both"])
def test_blockwise_equals_dense(rng, impl, shape, block_size, masking):
    Q, K, V, mask, causal = masked_problem(rng, shape, masking)
    dense, _ = sdpa(impl, Q, K, V, mask=mask, causal=causal)
    blk = impl.attention_blockwise(Q, K, V, block_size, mask=mask, causal=causal)
    assert blk.shape == dense.shape
    np.testing.assert_allclose(blk, dense, rtol=1e-12, atol=1e-13)


@both
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("masking", ["none", "mask", "causal", "both"])
def test_without_weights_equals_dense(rng, impl, shape, masking):
    # The engine's query blocks (DENSE_BLOCK_Q) are varied in test_engine_attention.py.
    Q, K, V, mask, causal = masked_problem(rng, shape, masking)
    dense, _ = sdpa(impl, Q, K, V, mask=mask, causal=causal)
    out, w = sdpa(impl, Q, K, V, mask=mask, causal=causal, need_weights=False)
    assert w is None and out.shape == dense.shape and out.dtype == dense.dtype
    np.testing.assert_allclose(out, dense, rtol=1e-12, atol=1e-13)
    out_ref, _ = attention.attention_naive(Q, K, V, mask=mask, causal=causal)
    np.testing.assert_allclose(out, out_ref, rtol=1e-12, atol=1e-13)


@both
@pytest.mark.parametrize(
    ("lead", "n_q", "n_k", "d_v"),
    [
        ((0, 2), 5, 3, 2),
        ((2, 0), 5, 3, 2),
        ((2,), 0, 3, 2),
        ((2,), 4, 3, 0),
        ((2,), 4, 0, 2),
    ],
)
def test_empty_dimensions(rng, impl, lead, n_q, n_k, d_v):
    Q = rng.standard_normal(lead + (n_q, 4))
    K, V = rng.standard_normal(lead + (n_k, 4)), rng.standard_normal(lead + (n_k, d_v))
    dense, w = sdpa(impl, Q, K, V)
    assert dense.shape == lead + (n_q, d_v) and w.shape == lead + (n_q, n_k)
    for out in (
        sdpa(impl, Q, K, V, need_weights=False)[0],
        impl.attention_blockwise(Q, K, V, block_size=2),
    ):
        np.testing.assert_array_equal(out, dense)  # zeros where nothing to attend to


@both
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_without_weights_edge_cases(impl, dtype):
    # Huge logits, a fully masked row, no keys at all, float32 kept.
    Q = np.array([[1e4, 0.0], [0.0, 1.0]], dtype=dtype)
    K = np.array([[1e4, 0.0], [0.0, 1e4]], dtype=dtype)
    V = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=dtype)
    out, _ = sdpa(impl, Q, K, V, need_weights=False)
    assert out.dtype == dtype and np.all(np.isfinite(out))
    np.testing.assert_allclose(out[0], V[0])
    mask = np.array([[False, False], [True, True]])
    out, _ = sdpa(impl, Q, K, V, mask=mask, need_weights=False)
    np.testing.assert_array_equal(out[0], 0)  # nothing to attend to: zeros, not NaN
    out, _ = sdpa(impl, Q, K[:0], V[:0], need_weights=False)
    np.testing.assert_array_equal(out, np.zeros((2, 2), dtype))
    with pytest.raises(ValueError, match="d_k"):
        sdpa(impl, Q, K[:, :1], V, need_weights=False)


@both
@given(
    n_q=st.integers(1, 12),
    n_k=st.integers(0, 12),
    d_k=st.integers(1, 5),
    d_v=st.integers(1, 4),
    bq=st.integers(1, 13),
    bk=st.integers(1, 13),
    heads=st.integers(1, 3),
    causal=st.booleans(),
    use_mask=st.booleans(),
    seed=st.integers(0, 2**16),
    logit_scale=st.sampled_from([0.1, 1.0, 30.0]),
)
def test_blockwise_equals_dense_property(
    impl, n_q, n_k, d_k, d_v, bq, bk, heads, causal, use_mask, seed, logit_scale
):
    rng = np.random.default_rng(seed)
    Q = rng.standard_normal((heads, n_q, d_k)) * logit_scale
    K = rng.standard_normal((heads, n_k, d_k))
    V = rng.standard_normal((heads, n_k, d_v))
    mask = rng.random((n_q, n_k)) < 0.5 if use_mask else None
    dense, _ = sdpa(impl, Q, K, V, mask=mask, causal=causal)
    blk = impl.attention_blockwise(Q, K, V, (bq, bk), mask=mask, causal=causal)
    assert not np.any(np.isnan(blk))
    np.testing.assert_allclose(blk, dense, rtol=1e-10, atol=1e-12)


@both
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_blockwise_peak_memory_grows_with_n_times_block(rng, impl, dtype):
    n, d, block = 2048, 16, 128
    Q, K, V = (rng.standard_normal((n, d)).astype(dtype) for _ in range(3))
    itemsize = np.dtype(dtype).itemsize
    tracemalloc.start()
    try:
        impl.attention_blockwise(Q, K, V, block_size=block)
        _, blk_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        sdpa(impl, Q, K, V)
        _, dense_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert dense_peak >= n * n * itemsize  # the dense scores exist in full
    # blockwise: the output (n, d) plus a few (block, block) tiles, far below n^2
    assert blk_peak < n * d * itemsize + 8 * block * block * itemsize
    assert blk_peak < dense_peak / 10


@both
def test_blockwise_causal_skips_future_blocks(rng, impl, monkeypatch):
    """With causal=True the key blocks above the diagonal are never multiplied."""
    n, block = 64, 8
    Q, K, V = (rng.standard_normal((n, 4)) for _ in range(3))
    calls = []
    real_exp = np.exp

    def counting_exp(x, *args, **kwargs):
        if np.ndim(x) == 2 and x.shape[1] == block and x.shape[0] == block:
            calls.append(1)
        return real_exp(x, *args, **kwargs)

    monkeypatch.setattr(np, "exp", counting_exp)
    impl.attention_blockwise(Q, K, V, block_size=block, causal=True)
    nb = n // block
    assert len(calls) == nb * (nb + 1) // 2  # the lower triangle of tiles and diagonal


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
    return (
        rng.standard_normal((D, h * d_k)),
        rng.standard_normal((D_kv, h * d_k)),
        rng.standard_normal((D_kv, h * d_v)),
        rng.standard_normal((h * d_v, M)),
    )


def test_multi_head_equals_per_head_loop(rng):
    h, d_k, d_v = 3, 2, 2
    x_q, x_kv = rng.standard_normal((2, 4, 6)), rng.standard_normal((2, 5, 5))
    W_q, W_k, W_v, W_o = mha_params(rng, h=h, d_k=d_k, d_v=d_v)
    out, w = attention.multi_head_attention(x_q, x_kv, W_q, W_k, W_v, W_o, h)
    heads = []
    # the textbook definition: concat_i(Attention(X W_q^i, X W_k^i, X W_v^i)) W_o
    for i in range(h):
        cq, cv = slice(i * d_k, (i + 1) * d_k), slice(i * d_v, (i + 1) * d_v)
        o_i, w_i = attention.attention_naive(
            x_q @ W_q[:, cq], x_kv @ W_k[:, cq], x_kv @ W_v[:, cv]
        )
        np.testing.assert_allclose(w[:, i], w_i, rtol=1e-12)
        heads.append(o_i)
    expected = np.concatenate(heads, axis=-1) @ W_o
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-13)
    assert out.shape == (2, 4, 4) and w.shape == (2, h, 4, 5)


@pytest.mark.parametrize("lead", [(), (2,)])
@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_gradients(rng, lead, causal):
    x_q, x_kv = rng.standard_normal(lead + (4, 6)), rng.standard_normal(lead + (4, 5))
    params = mha_params(rng)
    mask = rng.random((4, 4)) < 0.7
    kw = {"n_heads": 2, "mask": mask, "causal": causal}
    out, cache = attention.multi_head_attention_forward(x_q, x_kv, *params, **kw)
    dout = rng.standard_normal(out.shape)
    grads = attention.multi_head_attention_backward(dout, cache)
    args = (x_q, x_kv) + params
    for g, a in zip(grads, args, strict=True):
        assert g.shape == a.shape
    errs = check_gradients(
        lambda *a: attention.multi_head_attention_forward(*a, **kw)[0],
        args,
        grads,
        dout,
    )
    assert max(errs) < 1e-7, errs


def test_multi_head_self_attention_gradient_is_sum(rng):
    x = rng.standard_normal((3, 6))
    params = mha_params(rng, D=6, D_kv=6)
    out, cache = attention.multi_head_attention_forward(
        x, x, *params, n_heads=2, causal=True
    )
    dout = rng.standard_normal(out.shape)
    dx_q, dx_kv, *_ = attention.multi_head_attention_backward(dout, cache)
    errs = check_gradients(
        lambda x: attention.multi_head_attention_forward(
            x, x, *params, n_heads=2, causal=True
        )[0],
        (x,),
        (dx_q + dx_kv,),
        dout,
    )
    assert errs[0] < 1e-7


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"W_q": np.ones((5, 6))}, r"x_q has D=6.*W_q is \(5, 6\)"),
        ({"W_k": np.ones((5, 4))}, r"W_q \(6, 6\) and W_k \(5, 4\)"),
        ({"W_v": np.ones((4, 4))}, r"x_kv has D_kv=5.*W_v is \(4, 4\)"),
        ({"W_o": np.ones((3, 4))}, r"W_o \(3, 4\).*W_v \(5, 4\)"),
        ({"n_heads": 4}, r"n_heads=4"),
        ({"x_kv": np.ones((3, 4, 5))}, r"same leading"),
        ({"W_o": np.ones((4,))}, r"W_o must have 2 dimensions"),
    ],
)
def test_multi_head_bad_input(rng, change, match):
    kw = {
        "x_q": np.ones((2, 3, 6)),
        "x_kv": np.ones((2, 4, 5)),
        "W_q": np.ones((6, 6)),
        "W_k": np.ones((5, 6)),
        "W_v": np.ones((5, 4)),
        "W_o": np.ones((4, 3)),
        "n_heads": 2,
    }
    kw.update(change)
    with pytest.raises(ValueError, match=match):
        attention.multi_head_attention(**kw)


# ------------------------------------------------------- the weights' leading axes


@both
def test_weights_have_every_leading_axis(rng, impl):
    # Only V is batched: the weights are (2, 3, 4), as documented, not the scores'
    # (3, 4); they do not depend on that axis, so both halves are equal.
    Q, K = rng.standard_normal((3, 2)), rng.standard_normal((4, 2))
    V = rng.standard_normal((2, 4, 1))
    out_ref, w_ref = attention.attention_naive(Q, K, V)
    out, w = sdpa(impl, Q, K, V)
    assert out.shape == (2, 3, 1) and w.shape == w_ref.shape == (2, 3, 4)
    np.testing.assert_allclose(out, out_ref, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(w, w_ref, rtol=1e-12, atol=1e-13)
    np.testing.assert_array_equal(w[0], w[1])
    out, cache = impl.attention_forward(Q, K, V)
    assert cache[3].shape == (2, 3, 4)
    dout = rng.standard_normal(out.shape)
    grads = attention.attention_backward(dout, cache)
    errs = check_gradients(
        lambda q, k, v: impl.attention_forward(q, k, v)[0], (Q, K, V), grads, dout
    )
    assert max(errs) < 1e-7, errs


# ------------------------------------------------------------ NaN and inf, masked


def with_bad_entries(rng, a, bad, count=2):
    """A copy of `a` with `count` random entries set to `bad`."""
    a = a.copy()
    a.reshape(-1)[rng.choice(a.size, size=count, replace=False)] = bad
    return a


@both
def test_nan_value_of_a_masked_key_is_not_read(impl):
    # Query 1 sees nothing, query 0 sees key 0 only: the NaN value of key 1 reaches
    # neither. Blockwise once gave 0 and dense NaN for query 1, and both NaN for 0.
    Q = K = np.ones((2, 2))
    V = np.array([[1.0], [np.nan]])
    mask = np.array([[True, False], [False, False]])
    outs = [
        sdpa(impl, Q, K, V, mask=mask)[0],
        sdpa(impl, Q, K, V, mask=mask, need_weights=False)[0],
        impl.attention_blockwise(Q, K, V, 1, mask=mask),
        impl.attention_blockwise(Q, K, V, 2, mask=mask),
        attention.attention_naive(Q, K, V, mask=mask)[0],
    ]
    for out in outs:
        np.testing.assert_array_equal(out, [[1.0], [0.0]])
    # causal: query 0 never reads key 1, even inside one tile
    Q = K = np.ones((2, 2))
    for out in (
        sdpa(impl, Q, K, V, causal=True)[0],
        impl.attention_blockwise(Q, K, V, 2, causal=True),
    ):
        np.testing.assert_array_equal(out[0], [1.0])
        assert np.isnan(out[1, 0])  # query 1 sees the NaN: its row is NaN


@both
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("where", ["Q", "K", "V"])
@pytest.mark.parametrize("masking", ["none", "mask", "causal", "both"])
def test_nonfinite_input_reaches_only_the_rows_that_read_it(
    rng, impl, bad, where, masking
):
    # Dense, without weights, blockwise with every block size and the naive loops
    # agree, NaN for NaN and inf for inf: a masked key is never read.
    Q, K, V, mask, causal = masked_problem(rng, ((2,), (2,), (2,), 5, 6, 3, 2), masking)
    arrays = {"Q": Q, "K": K, "V": V}
    arrays[where] = with_bad_entries(rng, arrays[where], bad)
    Q, K, V = arrays.values()
    kw = {"mask": mask, "causal": causal}
    with np.errstate(invalid="ignore"):  # inf - inf is NaN on purpose here
        ref, w_ref = attention.attention_naive(Q, K, V, **kw)
        out, w = sdpa(impl, Q, K, V, **kw)
        outs = {"dense": out}
        outs["no weights"] = sdpa(impl, Q, K, V, **kw, need_weights=False)[0]
        for block in (1, 2, (2, 5), 64):
            outs[f"blockwise {block}"] = impl.attention_blockwise(Q, K, V, block, **kw)
    for name, o in outs.items():
        np.testing.assert_allclose(o, ref, rtol=1e-12, atol=1e-13, err_msg=name)
    np.testing.assert_allclose(w, w_ref, rtol=1e-12, atol=1e-13)
    if masking != "none":
        assert np.isfinite(ref).any()  # some rows read nothing bad


@both
@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("where", ["Q", "K", "V", "dout"])
def test_masked_nonfinite_input_changes_no_gradient(rng, impl, bad, where):
    # Query 0 sees nothing and key 4 is seen by nobody: a NaN or an inf in Q[0], K[4],
    # V[4] or dout[0] leaves every output and gradient as it was (0 * NaN once put NaN
    # into dK, dQ or dV through the zero weights).
    Q, K, V = make_qkv(rng, ((2,), (2,), (2,), 4, 5, 3, 2))
    mask = rng.random((2, 4, 5)) < 0.7
    mask[:, 0, :] = False
    mask[:, :, 4] = False
    out, cache = impl.attention_forward(Q, K, V, mask=mask)
    dout = rng.standard_normal(out.shape)
    clean = attention.attention_backward(dout, cache)
    arrays = {"Q": Q.copy(), "K": K.copy(), "V": V.copy(), "dout": dout.copy()}
    arrays[where][:, 0 if where in ("Q", "dout") else 4, 1] = bad
    with np.errstate(invalid="ignore"):
        out_bad, cache = impl.attention_forward(
            arrays["Q"], arrays["K"], arrays["V"], mask=mask
        )
        grads = attention.attention_backward(arrays["dout"], cache)
    np.testing.assert_allclose(out_bad, out, rtol=1e-12, atol=1e-13)
    for g, c in zip(grads, clean, strict=True):
        assert np.all(np.isfinite(g))
        np.testing.assert_allclose(g, c, rtol=1e-12, atol=1e-13)


@both
def test_nan_query_passes_no_gradient_to_keys_it_does_not_see(rng, impl):
    # Query 1 is NaN and does not see key 2: its weights are NaN except there (0, as
    # attention_naive says), and dK[2] stays what it was.
    Q, K, V = make_qkv(rng, ((), (), (), 3, 4, 2, 2))
    mask = np.ones((3, 4), bool)
    mask[1, 2] = False
    out, cache = impl.attention_forward(Q, K, V, mask=mask)
    dout = rng.standard_normal(out.shape)
    clean = attention.attention_backward(dout, cache)
    Q_bad = Q.copy()
    Q_bad[1, 0] = np.nan
    out, cache = impl.attention_forward(Q_bad, K, V, mask=mask)
    _, w_ref = attention.attention_naive(Q_bad, K, V, mask=mask)
    np.testing.assert_array_equal(np.isnan(cache[3][1]), [1, 1, 0, 1])
    np.testing.assert_allclose(cache[3], w_ref, rtol=1e-12, atol=1e-13)
    dQ, dK, dV = attention.attention_backward(dout, cache)
    np.testing.assert_array_equal(np.isnan(dK).any(axis=1), [1, 1, 0, 1])
    np.testing.assert_allclose(dK[2], clean[1][2], rtol=1e-12, atol=1e-13)
    np.testing.assert_array_equal(np.isnan(dQ).any(axis=1), [0, 1, 0])
    assert not np.isnan(dV[2]).any()  # V[2]'s gradient takes nothing from query 1


@both
def test_visible_nan_reaches_exactly_the_gradients_it_touches(rng, impl):
    Q, K, V = make_qkv(rng, ((), (), (), 4, 5, 3, 2))
    mask = np.ones((4, 5), bool)
    mask[1:, 2] = False  # key 2 is seen by query 0 alone ...
    mask[0, 3] = False  # ... which does not see key 3
    out, cache = impl.attention_forward(Q, K, V, mask=mask)
    dout = rng.standard_normal(out.shape)
    clean = attention.attention_backward(dout, cache)
    V_bad = V.copy()
    V_bad[2, 0] = np.nan
    out_bad, cache = impl.attention_forward(Q, K, V_bad, mask=mask)
    np.testing.assert_array_equal(np.isnan(out_bad), [[1, 0], [0, 0], [0, 0], [0, 0]])
    dQ, dK, dV = attention.attention_backward(dout, cache)
    # query 0's output is NaN: its query, and the keys it sees (not key 3), are NaN
    np.testing.assert_array_equal(np.isnan(dQ).all(axis=1), [1, 0, 0, 0])
    np.testing.assert_array_equal(np.isnan(dK).all(axis=1), [1, 1, 1, 0, 1])
    assert not np.isnan(dQ[1:]).any() and not np.isnan(dK[3]).any()
    np.testing.assert_allclose(dQ[1:], clean[0][1:], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dK[3], clean[1][3], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dV, clean[2], rtol=1e-12, atol=1e-13)  # no V in dV


# ------------------------------------------------------------------- sizes and flags


@both
@pytest.mark.parametrize(
    "block_size",
    [2.5, "3", True, False, (2, True), (2.0, 2), (1, 2, 3), (), None, [[1, 2]], 0, -1],
    ids=lambda b: repr(b),
)
def test_block_size_must_be_positive_integers(impl, block_size):
    x = np.ones((3, 2))
    with pytest.raises(ValueError, match=r"block_size must be an int >= 1 .*got"):
        impl.attention_blockwise(x, x, x, block_size=block_size)


@both
def test_block_size_accepts_numpy_integers_and_pairs(rng, impl):
    Q, K, V = make_qkv(rng, SHAPES[1])
    ref = impl.attention_blockwise(Q, K, V, (2, 3))
    for block_size in ((np.int64(2), np.int32(3)), [2, 3], np.array([2, 3])):
        np.testing.assert_array_equal(
            impl.attention_blockwise(Q, K, V, block_size), ref
        )


@both
@pytest.mark.parametrize("value", [1, 0, "yes", None, np.ones(2, bool), 1.0])
def test_causal_and_need_weights_must_be_bools(impl, value):
    x = np.ones((3, 2))
    for fn in entry_points(impl) + (attention.attention_naive,):
        with pytest.raises(ValueError, match=r"causal must be True or False"):
            fn(x, x, x, causal=value)
    with pytest.raises(ValueError, match=r"need_weights must be True or False"):
        impl.scaled_dot_product_attention(x, x, x, need_weights=value)
    for flag in (np.True_, np.False_):  # NumPy's bools are bools
        impl.scaled_dot_product_attention(x, x, x, causal=flag, need_weights=flag)


@both
@pytest.mark.parametrize(
    "scale",
    [np.nan, np.inf, -np.inf, 10**400, "0.5", True, 1j, np.ones(2), [0.5]],
    ids=["nan", "inf", "-inf", "1e400", "str", "bool", "complex", "array", "list"],
)
def test_scale_must_be_one_finite_real_number(impl, scale):
    # '0.5' and True were taken as numbers, 10**400 raised OverflowError.
    x = np.ones((3, 2))
    for fn in entry_points(impl) + (attention.attention_naive,):
        with pytest.raises(ValueError, match=r"scale must be"):
            fn(x, x, x, scale=scale)


@both
@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ([[1.0, 2.0], [3.0]], "rectangular"),
        (np.array([["a", "b"]]), "real numbers"),
        (np.array([[None, None]]), "real numbers"),
        (np.ones((3, 2), complex), "real numbers"),
    ],
    ids=["ragged", "str", "object", "complex"],
)
def test_malformed_arrays_raise_value_error(impl, bad, match):
    x = np.ones((3, 2))
    for fn in entry_points(impl) + (attention.attention_naive,):
        for args in ((bad, x, x), (x, bad, x), (x, x, bad)):
            with pytest.raises(ValueError, match=match):
                fn(*args)
    with pytest.raises(ValueError, match=match):
        impl.scaled_dot_product_attention(x, bad, x, need_weights=False)
    out, cache = impl.attention_forward(x, x, x)
    with pytest.raises(ValueError, match=match):
        attention.attention_backward(bad, cache)


@both
def test_malformed_masks_raise_value_error(impl):
    x = np.ones((2, 2))
    for fn in entry_points(impl) + (attention.attention_naive,):
        with pytest.raises(ValueError, match="rectangular"):
            fn(x, x, x, mask=[[True, False], [True]])
        for mask in (np.array([[None, True]]), np.array([["a", "b"]]), [[1, 0]]):
            with pytest.raises(ValueError, match="boolean"):
                fn(x, x, x, mask=mask)


@pytest.mark.parametrize("cache", [None, (), (1, 2, 3), "cache"])
def test_backward_rejects_what_is_not_a_cache(cache):
    with pytest.raises(ValueError, match="cache must"):
        attention.attention_backward(np.ones((2, 2)), cache)
    with pytest.raises(ValueError, match="cache must"):
        attention.multi_head_attention_backward(np.ones((2, 2)), cache)


# ------------------------------------------------------------------------ dtypes


@both
def test_backward_casts_dout_to_the_cache_dtype(rng, impl):
    # A float64 dout on a float32 cache once gave float64 gradients (conv casts).
    Q, K, V = make_qkv(rng, SHAPES[2], dtype=np.float32)
    out, cache = impl.attention_forward(Q, K, V, causal=True)
    for g in attention.attention_backward(np.ones(out.shape, np.float64), cache):
        assert g.dtype == np.float32
    x = rng.standard_normal((2, 5, 6)).astype(np.float32)
    Ws = [w.astype(np.float32) for w in mha_params(rng, D=6, D_kv=6)]
    out, cache = attention.multi_head_attention_forward(x, x, *Ws, n_heads=2)
    dout = np.ones(out.shape, np.float64)
    for g in attention.multi_head_attention_backward(dout, cache):
        assert g.dtype == np.float32


@both
@pytest.mark.parametrize(
    "dtypes",
    [
        (np.float32, np.float64, np.float64),
        (np.float64, np.float32, np.float32),
        (np.float32, np.float32, np.float64),
        (np.float32, np.float64, np.float32),
    ],
    ids=["Q32", "Q64", "V64", "K64"],
)
def test_result_dtype_is_that_of_all_inputs(rng, impl, dtypes):
    # np.result_type(Q, K, V): float64 as soon as one input is, whichever it is.
    Q, K, V = (
        a.astype(d) for a, d in zip(make_qkv(rng, SHAPES[2]), dtypes, strict=True)
    )
    out, w = sdpa(impl, Q, K, V, causal=True)
    assert out.dtype == w.dtype == np.float64
    assert sdpa(impl, Q, K, V, need_weights=False)[0].dtype == np.float64
    assert impl.attention_blockwise(Q, K, V, 2).dtype == np.float64
    out_n, w_n = attention.attention_naive(Q, K, V)
    assert out_n.dtype == w_n.dtype == np.float64
    out, cache = impl.attention_forward(Q, K, V)
    assert all(a.dtype == np.float64 for a in cache[:5])
    for g in attention.attention_backward(np.ones(out.shape, np.float32), cache):
        assert g.dtype == np.float64


def test_multi_head_result_dtype_is_that_of_all_inputs(rng):
    x = rng.standard_normal((2, 5, 6)).astype(np.float32)
    W_q, W_k, W_v, W_o = (w.astype(np.float32) for w in mha_params(rng, D=6, D_kv=6))
    for i in range(6):
        args = [x, x, W_q, W_k, W_v, W_o]
        args[i] = args[i].astype(np.float64)
        out, w = attention.multi_head_attention(*args, n_heads=2)
        assert out.dtype == w.dtype == np.float64, i


# ------------------------------------------------------------- leading dimensions


@both
def test_keys_batched_where_queries_and_values_are_not(rng, impl):
    Q, K, V = make_qkv(rng, ((), (2,), (), 4, 5, 3, 2))
    mask = rng.random((4, 5)) < 0.7
    ref, w_ref = attention.attention_naive(Q, K, V, mask=mask)
    assert ref.shape == (2, 4, 2) and w_ref.shape == (2, 4, 5)
    for b in range(2):  # batch entry b uses K[b] and the one Q, V
        o_b, _ = attention.attention_naive(Q, K[b], V, mask=mask)
        np.testing.assert_allclose(ref[b], o_b, rtol=1e-12)
    out, w = sdpa(impl, Q, K, V, mask=mask)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(w, w_ref, rtol=1e-12, atol=1e-13)
    for out in (
        sdpa(impl, Q, K, V, mask=mask, need_weights=False)[0],
        impl.attention_blockwise(Q, K, V, 2, mask=mask),
    ):
        np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-13)


@both
def test_mismatched_leading_dimensions_of_the_keys_raise(impl):
    Q, K, V = np.ones((3, 4, 3)), np.ones((2, 5, 3)), np.ones((5, 2))
    match = r"broadcast.*Q \(3, 4, 3\), K \(2, 5, 3\), V \(5, 2\)"
    for fn in entry_points(impl) + (attention.attention_naive,):
        with pytest.raises(ValueError, match=match):
            fn(Q, K, V)
    with pytest.raises(ValueError, match=match):
        impl.scaled_dot_product_attention(Q, K, V, need_weights=False)


@both
@pytest.mark.parametrize("scale", [0.3, 2.0])
def test_without_weights_uses_the_scale(rng, impl, scale):
    Q, K, V, mask, causal = masked_problem(rng, SHAPES[3], "both")
    kw = {"mask": mask, "causal": causal}
    dense, _ = sdpa(impl, Q, K, V, scale=scale, **kw)
    out, _ = sdpa(impl, Q, K, V, scale=scale, need_weights=False, **kw)
    np.testing.assert_allclose(out, dense, rtol=1e-12, atol=1e-13)
    default, _ = sdpa(impl, Q, K, V, need_weights=False, **kw)
    assert not np.allclose(out, default)  # the scale made a difference
    # the public entry point too
    out_pub, _ = attention.scaled_dot_product_attention(
        Q, K, V, scale=scale, need_weights=False, **kw
    )
    np.testing.assert_allclose(out_pub, dense, rtol=1e-12, atol=1e-13)


# ------------------------------------------------------------------- multi-head


def per_head_reference(x_q, x_kv, W_q, W_k, W_v, W_o, h, mask=None, causal=False):
    """concat_i(attention_naive(x_q W_q^i, x_kv W_k^i, x_kv W_v^i)) W_o, and weights."""
    d_k, d_v = W_q.shape[1] // h, W_v.shape[1] // h
    heads, weights = [], []
    for i in range(h):
        cq, cv = slice(i * d_k, (i + 1) * d_k), slice(i * d_v, (i + 1) * d_v)
        m_i = None if mask is None else np.broadcast_to(mask, mask.shape)[..., i, :, :]
        o_i, w_i = attention.attention_naive(
            x_q @ W_q[:, cq], x_kv @ W_k[:, cq], x_kv @ W_v[:, cv], m_i, None, causal
        )
        heads.append(o_i)
        weights.append(w_i)
    return np.concatenate(heads, axis=-1) @ W_o, np.stack(weights, axis=-3)


@pytest.mark.parametrize("masking", ["mask", "causal", "both", "per-head"])
def test_multi_head_honours_mask_and_causal(rng, masking):
    h = 3
    x_q, x_kv = rng.standard_normal((2, 4, 6)), rng.standard_normal((2, 4, 5))
    params = mha_params(rng, h=h, d_k=2, d_v=2)
    if masking == "per-head":  # (h, n_q, n_k): a different mask per head
        mask = rng.random((h, 4, 4)) < 0.6
    else:
        mask = rng.random((4, 4)) < 0.6 if masking in ("mask", "both") else None
    causal = masking in ("causal", "both")
    out, w = attention.multi_head_attention(
        x_q, x_kv, *params, h, mask=mask, causal=causal
    )
    full = None if mask is None else np.broadcast_to(mask, (2, h, 4, 4))
    ref, w_ref = per_head_reference(x_q, x_kv, *params, h, full, causal)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(w, w_ref, rtol=1e-12, atol=1e-13)
    plain, _ = attention.multi_head_attention(x_q, x_kv, *params, h)
    assert not np.allclose(out, plain)  # the mask made a difference


def test_single_head_is_plain_attention_with_the_projections(rng):
    x_q, x_kv = rng.standard_normal((2, 4, 6)), rng.standard_normal((2, 5, 5))
    W_q, W_k, W_v, W_o = mha_params(rng, h=1, d_k=3, d_v=2)
    out, w = attention.multi_head_attention(x_q, x_kv, W_q, W_k, W_v, W_o, 1)
    o_ref, w_ref = attention.attention_naive(x_q @ W_q, x_kv @ W_k, x_kv @ W_v)
    assert w.shape == (2, 1, 4, 5)
    np.testing.assert_allclose(w[:, 0], w_ref, rtol=1e-12)
    np.testing.assert_allclose(out, o_ref @ W_o, rtol=1e-12, atol=1e-13)
    out, cache = attention.multi_head_attention_forward(
        x_q, x_kv, W_q, W_k, W_v, W_o, 1
    )
    dout = rng.standard_normal(out.shape)
    grads = attention.multi_head_attention_backward(dout, cache)
    errs = check_gradients(
        lambda *a: attention.multi_head_attention_forward(*a, 1)[0],
        (x_q, x_kv, W_q, W_k, W_v, W_o),
        grads,
        dout,
    )
    assert max(errs) < 1e-7, errs


@pytest.mark.parametrize(
    ("n_heads", "match"),
    [
        (0, "n_heads must be"),
        (-2, "n_heads must be"),
        (2.0, "n_heads must be"),
        (True, "n_heads must be"),
        ("2", "n_heads must be"),
        (None, "n_heads must be"),
        (4, r"n_heads=4 must divide"),
    ],
)
def test_multi_head_n_heads_must_be_a_positive_divisor(n_heads, match):
    x_q, x_kv = np.ones((2, 3, 6)), np.ones((2, 4, 5))
    params = (np.ones((6, 6)), np.ones((5, 6)), np.ones((5, 4)), np.ones((4, 3)))
    with pytest.raises(ValueError, match=match):
        attention.multi_head_attention(x_q, x_kv, *params, n_heads)


def test_split_and_merge_heads_check_their_input():
    # Lists are arrays too; rank, width and n_heads are checked with clear messages.
    np.testing.assert_array_equal(
        attention.split_heads([[1.0, 2.0]], 2),
        attention.split_heads(np.array([[1.0, 2.0]]), 2),
    )
    np.testing.assert_array_equal(
        attention.merge_heads([[[1.0], [2.0]]]), [[1.0], [2.0]]
    )
    with pytest.raises(TypeError, match=r"x must be an array \(\.\.\., h, n, d\)"):
        attention.merge_heads(None)
    with pytest.raises(TypeError, match=r"x must be an array"):
        attention.split_heads(None, 2)
    with pytest.raises(
        ValueError, match=r"at least 2 dimensions \(\.\.\., n, h\*d\).*\(4,\)"
    ):
        attention.split_heads(np.ones(4), 2)
    with pytest.raises(
        ValueError, match=r"at least 3 dimensions \(\.\.\., h, n, d\).*\(2, 4\)"
    ):
        attention.merge_heads(np.ones((2, 4)))
    with pytest.raises(
        ValueError, match=r"4 of x \(2, 4\).*not divisible by n_heads=3"
    ):
        attention.split_heads(np.ones((2, 4)), 3)
    for n_heads in (0, -1, 2.0, True, "2"):
        with pytest.raises(ValueError, match=r"n_heads must be"):
            attention.split_heads(np.ones((2, 4)), n_heads)
    with pytest.raises(ValueError, match="rectangular"):
        attention.split_heads([[1.0, 2.0], [3.0]], 1)


def test_causal_mask_that_cannot_be_allocated_raises_value_error(monkeypatch):
    # causal_mask(10**6) asks for 10**12 booleans: NumPy's MemoryError becomes a
    # ValueError naming n_q and n_k.
    real = np.arange

    def arange(n, *args, **kwargs):
        if n >= 10**6:
            raise MemoryError("simulated")
        return real(n, *args, **kwargs)

    monkeypatch.setattr(np, "arange", arange)
    with pytest.raises(ValueError, match=r"\(n_q, n_k\) = \(1000000, 1000000\)"):
        attention.causal_mask(10**6)
    assert attention.causal_mask(3).shape == (3, 3)


# ------------------------------------------------- messages, defaults, copies

# Valid multi-head arguments: D=6, D_kv=5, h*d_k=6, h*d_v=4, M=3, two heads.
MHA_ARGS = {
    "x_q": np.ones((2, 3, 6)),
    "x_kv": np.ones((2, 4, 5)),
    "W_q": np.ones((6, 6)),
    "W_k": np.ones((5, 6)),
    "W_v": np.ones((5, 4)),
    "W_o": np.ones((4, 3)),
    "n_heads": 2,
}

# The messages a reader sees, in full: each names the argument, what was expected and
# what was received.
MHA_MESSAGES = {
    "x_q rank": (
        {"x_q": np.ones(6)},
        "x_q must have at least 2 dimensions (..., n, D), got shape (6,)",
    ),
    "x_kv rank": (
        {"x_kv": np.ones(5)},
        "x_kv must have at least 2 dimensions (..., n, D), got shape (5,)",
    ),
    "W_q rank": (
        {"W_q": np.ones(6)},
        "W_q must have 2 dimensions (D, h*d_k), got shape (6,)",
    ),
    "W_k rank": (
        {"W_k": np.ones((1, 5, 6))},
        "W_k must have 2 dimensions (D_kv, h*d_k), got shape (1, 5, 6)",
    ),
    "W_v rank": (
        {"W_v": np.ones(4)},
        "W_v must have 2 dimensions (D_kv, h*d_v), got shape (4,)",
    ),
    "W_o rank": (
        {"W_o": np.ones(4)},
        "W_o must have 2 dimensions (h*d_v, M), got shape (4,)",
    ),
    "leading dimensions": (
        {"x_kv": np.ones((3, 4, 5))},
        "x_q (2, 3, 6) and x_kv (3, 4, 5) must have the same leading dimensions",
    ),
    "D of W_q": (
        {"W_q": np.ones((5, 6))},
        "x_q has D=6 (shape (2, 3, 6)) but W_q is (5, 6), expected (6, h*d_k)",
    ),
    "D_kv of W_k": (
        {"W_k": np.ones((4, 6))},
        "x_kv has D_kv=5 (shape (2, 4, 5)) but W_k is (4, 6), expected (5, ...)",
    ),
    "D_kv of W_v": (
        {"W_v": np.ones((6, 4))},
        "x_kv has D_kv=5 (shape (2, 4, 5)) but W_v is (6, 4), expected (5, ...)",
    ),
    "h*d_k": (
        {"W_k": np.ones((5, 8))},
        "W_q (6, 6) and W_k (5, 8) must have the same number of columns h*d_k",
    ),
    "h*d_v": (
        {"W_o": np.ones((3, 3))},
        "W_o (3, 3) must have as many rows as W_v (5, 4) has columns (h*d_v)",
    ),
    "n_heads divides": (
        {"n_heads": 4},
        "n_heads=4 must divide h*d_k=6 and h*d_v=4",
    ),
    "n_heads positive": (
        {"n_heads": 0},
        "n_heads must be positive, an integer >= 1, got 0",
    ),
}


@pytest.mark.parametrize("case", MHA_MESSAGES)
def test_multi_head_messages_in_full(case):
    change, message = MHA_MESSAGES[case]
    with pytest.raises(ValueError) as info:
        attention.multi_head_attention(**{**MHA_ARGS, **change})
    assert str(info.value) == message


def test_more_messages_in_full():
    with pytest.raises(ValueError) as info:
        attention.attention_backward(np.ones((2, 2)), [1, 2, 3, 4, 5, 6])
    assert str(info.value) == (
        "cache must be the (Q, K, V, P, out, scale) tuple returned by "
        "attention_forward, got list"
    )
    with pytest.raises(ValueError) as info:
        attention.multi_head_attention_backward(np.ones((2, 2)), [1] * 9)
    assert str(info.value) == (
        "cache must be the tuple returned by multi_head_attention_forward, got list"
    )
    with pytest.raises(TypeError) as info:
        attention.split_heads({"not": "an array"}, 1)
    assert str(info.value) == "x must be an array (..., n, h*d), got dict"
    # A number is an array of no dimensions: too few, not the wrong kind of object.
    with pytest.raises(ValueError) as info:
        attention.split_heads(3.0, 1)
    assert str(info.value) == (
        "x must have at least 2 dimensions (..., n, h*d), got shape ()"
    )


def _softmax_rows(S):
    """Row-wise softmax, written out here rather than taken from lalib."""
    e = np.exp(S - S.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_defaults_are_unmasked_with_weights(rng):
    # No mask, not causal, 1/sqrt(d_k), the weights returned: every default at once.
    Q, K, V = make_qkv(rng, SHAPES[1])
    P = _softmax_rows(Q @ K.T / math.sqrt(Q.shape[-1]))
    out, w = attention.scaled_dot_product_attention(Q, K, V)
    np.testing.assert_allclose(w, P, rtol=1e-12)
    np.testing.assert_allclose(out, P @ V, rtol=1e-12)


def test_multi_head_defaults_are_unmasked(rng):
    h, d_k, d_v = 2, 3, 2
    x_q, x_kv = rng.standard_normal((4, 6)), rng.standard_normal((5, 5))
    W_q, W_k, W_v, W_o = mha_params(rng, h=h, d_k=d_k, d_v=d_v)
    out, _ = attention.multi_head_attention_forward(x_q, x_kv, W_q, W_k, W_v, W_o, h)
    heads = []
    for i in range(h):  # every query sees every key, in each head
        cq, cv = slice(i * d_k, (i + 1) * d_k), slice(i * d_v, (i + 1) * d_v)
        S = (x_q @ W_q[:, cq]) @ (x_kv @ W_k[:, cq]).T / math.sqrt(d_k)
        heads.append(_softmax_rows(S) @ (x_kv @ W_v[:, cv]))
    np.testing.assert_allclose(out, np.concatenate(heads, axis=-1) @ W_o, rtol=1e-12)


def test_multi_head_cache_holds_the_arguments_not_copies(rng):
    x_q, x_kv = rng.standard_normal((4, 6)), rng.standard_normal((5, 5))
    params = mha_params(rng)
    _, cache = attention.multi_head_attention_forward(x_q, x_kv, *params, 2)
    for cached, argument in zip(cache[:6], (x_q, x_kv) + params, strict=True):
        assert cached is argument


def test_backward_passes_do_not_copy_dout(rng):
    # A dout already in the cache's dtype is used where it is. Shapes where dout is
    # the big array: (n_q, d_v) = (4000, 500) against two keys.
    Q, K = rng.standard_normal((4000, 1)), rng.standard_normal((2, 1))
    V = rng.standard_normal((2, 500))
    out, cache = attention.attention_forward(Q, K, V)
    dout = rng.standard_normal(out.shape)
    # rowsum(dout * out) needs one (n_q, d_v) product; a copy of dout would be a second
    peak, _ = traced_peak(lambda: attention.attention_backward(dout, cache))
    assert peak < 1.5 * dout.nbytes
    # Multi-head: (n_q, M) = (2000, 1000) against narrow heads; nothing else that big.
    x_q, x_kv = rng.standard_normal((2000, 2)), rng.standard_normal((3, 2))
    params = mha_params(rng, D=2, D_kv=2, h=2, d_k=1, d_v=1, M=1000)
    out, cache = attention.multi_head_attention_forward(x_q, x_kv, *params, 2)
    dout = rng.standard_normal(out.shape)
    peak, _ = traced_peak(lambda: attention.multi_head_attention_backward(dout, cache))
    assert peak < 0.5 * dout.nbytes


def test_overflowing_score_passes_no_gradient_to_a_masked_key():
    # Finite inputs, but query 0's score for key 0 overflows (1e200 * 1e200 = inf):
    # its row of weights, its output and its gradients are NaN. Key 1 is masked for
    # query 0 and has weight exactly 0 for query 1 (exp(1 - 1e200) = 0), so it gets
    # no gradient at all: dK[1] and dV[1] are 0, not NaN.
    Q, K = np.array([[1e200], [1.0]]), np.array([[1e200], [1.0]])
    V = np.array([[1.0], [2.0]])
    mask = np.array([[True, False], [True, True]])
    with np.errstate(all="ignore"):
        out, cache = attention.attention_forward(Q, K, V, mask=mask)
        dQ, dK, dV = attention.attention_backward(np.ones_like(out), cache)
    assert np.isnan(out[0, 0]) and out[1, 0] == 1.0
    assert np.isnan(dQ[0, 0])
    assert dK[1, 0] == 0.0 and dV[1, 0] == 0.0


@pytest.mark.parametrize(
    "forward",
    [
        attention.attention_forward,
        attention.scaled_dot_product_attention,
        engine.attention_forward,
    ],
)
def test_dense_scores_beyond_the_memory_are_refused_before_allocating(forward):
    """10**6 queries and keys: 7450.6 GiB of float64 scores. A ValueError that names
    the shape and the blockwise kernel, not NumPy's MemoryError (or a machine thrashing
    in swap on a size it could almost allocate)."""
    Q = np.ones((10**6, 2))
    with pytest.raises(
        ValueError,
        match=r"dense attention would hold scores of shape \(1000000, 1000000\) "
        r"\(7450\.6 GiB\), more than this machine's .* GiB of memory: "
        "attention_blockwise computes the same a block at a time",
    ):
        forward(Q, Q, np.ones((10**6, 1)))
