"""Tests for the machinery of lalib.engine.attention.

That its functions compute what lalib.attention's compute, on every shape, mask and
dtype, is tested in test_attention.py (each test there runs on both). Here: the
blocked, threaded softmax, the query blocks of the output-only path, the groups of
heads in the blockwise kernel, and the memory each of them saves.
"""

import inspect
import tracemalloc

import numpy as np
import pytest

from lalib import activations, attention
from lalib.engine import attention as engine

# (lead of Q, lead of K, lead of V, n_q, n_k, d_k, d_v), the table of test_attention.py
SHAPES = [
    ((), (), (), 1, 1, 1, 1),
    ((), (), (), 4, 6, 3, 2),
    ((2,), (2,), (2,), 5, 3, 4, 4),
    ((2, 3), (2, 3), (2, 3), 3, 5, 2, 3),
    ((2, 3), (1, 3), (1, 3), 4, 4, 3, 2),  # keys/values shared across the batch axis
    ((2, 3), (3,), (3,), 2, 5, 3, 1),  # keys/values without the batch axis
    ((3,), (2, 3), (2, 3), 3, 2, 2, 2),  # queries broadcast over a batch of key sets
]


def masked_problem(rng, shape, masking):
    """Q, K, V of `shape`, a mask with an empty row (or None) and the causal flag."""
    lq, lk, lv, n_q, n_k, d_k, d_v = shape
    Q = rng.standard_normal(lq + (n_q, d_k))
    K = rng.standard_normal(lk + (n_k, d_k))
    V = rng.standard_normal(lv + (n_k, d_v))
    mask = None
    if masking in ("mask", "both"):
        mask = rng.random(np.broadcast_shapes(lq, lk, lv) + (n_q, n_k)) < 0.6
        mask[..., 0, :] = False  # query 0 sees nothing
    return Q, K, V, mask, masking in ("causal", "both")


def peak_bytes(fn):
    """Peak memory NumPy allocates while fn() runs."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_public_names_and_signatures():
    for name in engine.__all__:
        assert hasattr(engine, name)
    for name in (
        "attention_forward",
        "scaled_dot_product_attention",
        "attention_blockwise",
    ):
        assert name in engine.__all__
        fast, readable = getattr(engine, name), getattr(attention, name)
        assert inspect.signature(fast) == inspect.signature(readable)


# ------------------------------------------------------------------------------ softmax


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (2, 4, 7)])
def test_inplace_softmax_matches_activations_softmax(rng, shape):
    z = rng.standard_normal(shape) * 5
    z[..., 0] = -np.inf  # masked entries
    z.reshape(-1, shape[-1])[0] = -np.inf  # one row masked entirely
    expected = activations.softmax(z, axis=-1)
    S = z.copy()
    got = engine.softmax_rows_inplace(S)
    assert got is S  # in place
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=0)
    assert not np.any(np.isnan(got))
    assert np.all(got.reshape(-1, shape[-1])[0] == 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_huge_logits_are_finite_and_sum_to_one(dtype):
    z = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]], dtype=dtype)
    for p in (activations.softmax(z), engine.softmax_rows_inplace(z.copy())):
        assert p.dtype == dtype
        assert np.all(np.isfinite(p))
        atol = 4 * np.finfo(dtype).eps
        np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=0, atol=atol)
        np.testing.assert_allclose(p[0], [1, 0, 0])
        np.testing.assert_allclose(p[1], [1 / 3, 1 / 3, 1 / 3], rtol=1e-6)
        np.testing.assert_allclose(p[2], [0.5, 0.5, 0])


def test_inplace_softmax_of_no_keys_or_no_queries():
    for shape in [(3, 0), (0, 4), (2, 0, 5)]:
        S = np.empty(shape)
        assert engine.softmax_rows_inplace(S) is S


@pytest.mark.parametrize("chunk_bytes", [1, 64, 1 << 22])
@pytest.mark.parametrize("workers", [1, 3])
def test_blocked_softmax_is_bit_identical_to_one_pass(
    rng, monkeypatch, chunk_bytes, workers
):
    # The dense path cuts the scores into row blocks (threaded when there are many);
    # each row must see exactly the one-pass operations, including the special rows.
    S = rng.standard_normal((3, 4, 37, 29))
    S[0, 0, 0] = -np.inf  # nothing to attend to
    S[1, 2, 5, 3] = np.nan  # bad input stays visible
    S[2, 3, 7, :5] = 1e4  # huge logits
    expected = S.copy()
    engine._softmax_block_inplace(expected)
    monkeypatch.setattr(engine, "SOFTMAX_CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr(engine, "_WORKERS", workers)
    got = engine.softmax_rows_inplace(S.copy())
    np.testing.assert_array_equal(got, expected)
    assert np.all(got[0, 0, 0] == 0) and np.all(np.isnan(got[1, 2, 5]))
    np.testing.assert_allclose(got[2, 3].sum(-1), 1.0)  # the rows with huge logits
    sliced = rng.standard_normal((5, 9))[:, ::2]  # not contiguous: one pass in place
    expected = activations.softmax(sliced)
    got = engine.softmax_rows_inplace(sliced)
    assert got is sliced
    np.testing.assert_allclose(got, expected, rtol=1e-13)


@pytest.mark.parametrize(("workers", "threaded"), [(1, False), (3, True)])
def test_softmax_blocks_are_shared_over_workers(rng, monkeypatch, workers, threaded):
    pools = []
    real_pool = engine.ThreadPoolExecutor

    def counting_pool(n):
        pools.append(n)
        return real_pool(n)

    monkeypatch.setattr(engine, "ThreadPoolExecutor", counting_pool)
    monkeypatch.setattr(engine, "_WORKERS", workers)
    monkeypatch.setattr(engine, "SOFTMAX_CHUNK_BYTES", 64)  # 2 rows of 4 per block
    S = rng.standard_normal((6, 5, 4))  # 30 rows: 15 blocks
    expected = activations.softmax(S)
    np.testing.assert_allclose(engine.softmax_rows_inplace(S), expected, rtol=1e-13)
    assert pools == ([workers] if threaded else [])
    # too few blocks to share: no threads
    pools.clear()
    engine.softmax_rows_inplace(rng.standard_normal((2, 4)))
    assert pools == []


# -------------------------------------------------------------------------------- dense


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("masking", ["none", "mask", "causal", "both"])
def test_with_weights_is_attention_forward(rng, shape, masking):
    Q, K, V, mask, causal = masked_problem(rng, shape, masking)
    out, w = engine.scaled_dot_product_attention(Q, K, V, mask, 0.7, causal)
    out_f, cache = engine.attention_forward(Q, K, V, mask, 0.7, causal)
    np.testing.assert_array_equal(out, out_f)
    np.testing.assert_array_equal(w, cache[3])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_forward_keeps_one_score_matrix(rng, dtype):
    """The softmax works in the scores: one n x n array (the readable has three)."""
    n, d = 1024, 16
    Q, K, V = (rng.standard_normal((n, d)).astype(dtype) for _ in range(3))
    scores = n * n * np.dtype(dtype).itemsize
    fast = peak_bytes(lambda: engine.attention_forward(Q, K, V))
    readable = peak_bytes(lambda: attention.attention_forward(Q, K, V))
    assert scores <= fast < 1.1 * scores
    assert readable > 2 * fast


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("masking", ["none", "mask", "causal", "both"])
def test_without_weights_in_query_blocks(rng, monkeypatch, shape, masking):
    Q, K, V, mask, causal = masked_problem(rng, shape, masking)
    dense, _ = attention.attention_forward(Q, K, V, mask=mask, causal=causal)
    ref, _ = attention.attention_naive(Q, K, V, mask=mask, causal=causal)
    for block_q in (1, 2, engine.DENSE_BLOCK_Q):  # several query blocks, or one
        monkeypatch.setattr(engine, "DENSE_BLOCK_Q", block_q)
        # the engine's function, and the public entry point that calls it
        for sdpa in (
            engine.scaled_dot_product_attention,
            attention.scaled_dot_product_attention,
        ):
            out, w = sdpa(Q, K, V, mask=mask, causal=causal, need_weights=False)
            assert w is None and out.shape == dense.shape and out.dtype == dense.dtype
            np.testing.assert_allclose(out, dense, rtol=1e-12, atol=1e-13)
            np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-13)


def test_without_weights_holds_one_block_of_scores(rng):
    n, d = 2048, 16
    Q, K, V = (rng.standard_normal((n, d)) for _ in range(3))
    output, block = n * d * 8, engine.DENSE_BLOCK_Q * n * 8
    peak = peak_bytes(
        lambda: engine.scaled_dot_product_attention(Q, K, V, need_weights=False)
    )
    assert block < peak < output + 1.5 * block  # not n x n = 8 blocks


def test_without_weights_uses_dense_block_q(rng, monkeypatch):
    """Each query block is compared with all the keys at once: one tile per block."""
    Q, K, V = (rng.standard_normal((10, 4)) for _ in range(3))
    tiles = []
    real_matmul = np.matmul

    def counting_matmul(a, b, *args, **kwargs):
        if np.shape(b)[-2:] == (4, 10):  # a query block times all of K^T
            tiles.append(np.shape(a)[-2])
        return real_matmul(a, b, *args, **kwargs)

    monkeypatch.setattr(engine, "DENSE_BLOCK_Q", 3)
    monkeypatch.setattr(np, "matmul", counting_matmul)
    engine.scaled_dot_product_attention(Q, K, V, need_weights=False)
    assert tiles == [3, 3, 3, 1]


# ---------------------------------------------------------------------------- blockwise


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("masking", ["none", "mask", "causal", "both"])
def test_blockwise_in_groups_of_the_leading_axis(rng, shape, masking, monkeypatch):
    """A tiny TILE_BYTES forces one group per index of the first leading axis."""
    monkeypatch.setattr(engine, "TILE_BYTES", 1)
    Q, K, V, mask, causal = masked_problem(rng, shape, masking)
    dense, _ = attention.attention_forward(Q, K, V, mask=mask, causal=causal)
    readable = attention.attention_blockwise(Q, K, V, 2, mask=mask, causal=causal)
    blk = engine.attention_blockwise(Q, K, V, 2, mask=mask, causal=causal)
    np.testing.assert_allclose(blk, dense, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(blk, readable, rtol=1e-13, atol=1e-14)


def test_blockwise_groups_bound_the_extra_memory(rng, monkeypatch):
    lead, n, d, block = (8, 4), 512, 16, 128
    Q, K, V = (rng.standard_normal(lead + (n, d)) for _ in range(3))
    out_bytes = Q.nbytes

    def extra():
        return (
            peak_bytes(lambda: engine.attention_blockwise(Q, K, V, block_size=block))
            - out_bytes
        )

    ungrouped = extra()  # all 32 heads in one (32, 128, 128) tile of 4 MiB
    assert ungrouped >= 32 * block * block * 8
    budget = 2**20
    monkeypatch.setattr(engine, "TILE_BYTES", budget)  # 4 groups of 2 x 4 heads
    grouped = extra()
    # the (block, d) buffers of 8 heads: P~V and the scaled queries
    per_group = 8 * block * d * 8
    ufunc_buffers = 3 * 8192 * 8  # NumPy's iteration buffers for one ufunc call
    # m, l, their updates and temporaries: (8 heads, block, 1)
    row_vectors = 16 * 8 * block * 8
    assert grouped <= budget + 2 * per_group + ufunc_buffers + row_vectors
    assert grouped < ungrouped / 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_blockwise_reuses_its_buffers(rng, dtype):
    """Output plus about one tile, where the readable version holds several."""
    n, d, block = 2048, 16, 128
    Q, K, V = (rng.standard_normal((n, d)).astype(dtype) for _ in range(3))
    itemsize = np.dtype(dtype).itemsize
    output, tile = n * d * itemsize, block * block * itemsize
    fast = peak_bytes(lambda: engine.attention_blockwise(Q, K, V, block))
    readable = peak_bytes(lambda: attention.attention_blockwise(Q, K, V, block))
    assert output + tile < fast < output + 2.5 * tile
    assert fast < readable


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("masking", ["mask", "causal", "both"])
def test_blockwise_groups_leave_masked_nan_values_unread(
    rng, shape, masking, monkeypatch
):
    # Each group of the leading axis checks its own values for NaN; a masked key's
    # value is never read, in any group or tile (attention_naive skips it).
    monkeypatch.setattr(engine, "TILE_BYTES", 1)
    Q, K, V, mask, causal = masked_problem(rng, shape, masking)
    V = V.copy()
    V[..., -1, 0] = np.nan  # the last key: in every query's future unless it is last
    ref, _ = attention.attention_naive(Q, K, V, mask=mask, causal=causal)
    for block in (1, 2, (2, 3)):
        blk = engine.attention_blockwise(Q, K, V, block, mask=mask, causal=causal)
        np.testing.assert_allclose(blk, ref, rtol=1e-12, atol=1e-13)
    if shape[3] > 1:  # several queries: the first cannot see the last key
        assert np.isfinite(ref).any()


@pytest.mark.parametrize(
    ("S", "error", "match"),
    [
        ([[1.0, 2.0]], TypeError, "NumPy array"),
        (np.float64(1.0), TypeError, "NumPy array"),
        (np.array(1.0), ValueError, r"shape \(\)"),
        (np.arange(3), ValueError, "dtype int64"),
        (np.broadcast_to(np.ones(3), (2, 3)), ValueError, "read-only"),
        (np.ones((2, 2), complex), ValueError, "floating"),
    ],
    ids=["list", "scalar", "0-d", "int", "read-only", "complex"],
)
def test_inplace_softmax_bad_input(S, error, match):
    # It overwrites its argument: a list, an int array or a read-only view once gave
    # AttributeError or NumPy's own casting and read-only errors.
    with pytest.raises(error, match=match):
        engine.softmax_rows_inplace(S)
