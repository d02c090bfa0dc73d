"""Fast attention: the softmax in place and over the cores, queries and heads in blocks.

The same functions as `lalib.attention`, with the same signatures and return
conventions (`attention_forward`, `scaled_dot_product_attention`,
`attention_blockwise`), computing the same numbers; the tests check both against each
other and against the loops of `lalib.attention.attention_naive`. The caches of
`attention_forward` are those of `lalib.attention.attention_forward`, so
`lalib.attention.attention_backward` is the backward pass of both.
`lalib.attention.scaled_dot_product_attention` calls `scaled_dot_product_attention`
here. Chapter 7, "Matrix multiplication is the engine", explains and measures what
follows.

Where the time and memory go in the readable versions, and what is done instead:

- the dense softmax (`softmax_rows_inplace`) overwrites the scores instead of
  allocating the shifted scores, their exponentials and the weights (three n_q x n_k
  arrays), and goes over them in blocks of whole rows of about `SOFTMAX_CHUNK_BYTES`,
  so that its five passes (max, subtract, exp, sum, scale) hit the cache, shared out
  over the cores;
- without the weights (``need_weights=False``), `scaled_dot_product_attention`
  computes the output `DENSE_BLOCK_Q` queries at a time against all the keys, so only
  one block of scores exists at once;
- `attention_blockwise` accumulates in the output array itself, reuses one buffer
  for the scores, one for the products and one for the scaled queries, and takes the
  first leading axis in groups when one tile over all the batch entries and heads
  would exceed `TILE_BYTES`.
"""

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from lalib._checks import as_array
from lalib.attention import (
    _all_finite,
    _block_sizes,
    _check_dense_fits,
    _drop_unread_terms,
    _flag,
    _validate,
    _with_lead,
)

__all__ = [
    "DENSE_BLOCK_Q",
    "SOFTMAX_CHUNK_BYTES",
    "TILE_BYTES",
    "attention_blockwise",
    "attention_forward",
    "scaled_dot_product_attention",
    "softmax_rows_inplace",
]

#: Bytes of scores per block of rows in `softmax_rows_inplace`: its five passes over a
#: block then stay in the CPU cache.
SOFTMAX_CHUNK_BYTES = 1 << 22

#: Queries per block when `scaled_dot_product_attention` does not keep the weights.
DENSE_BLOCK_Q = 256

#: Upper bound, in bytes, on one tile of scores in `attention_blockwise`: when all the
#: leading (batch/head) indices together would exceed it, they are processed in groups.
TILE_BYTES = 16 * 2**20

_WORKERS = max(1, min(os.cpu_count() or 1, 4))  # threads sharing the softmax blocks


# ------------------------------------------------------------------------------ softmax


def _softmax_block_inplace(S):
    """Row softmax along the last axis, overwriting `S`; shapes are for (r, n_k)."""
    m = S.max(axis=-1, keepdims=True, initial=-np.inf)  # (r, 1) row maxima
    m[np.isneginf(m)] = 0  # a fully masked row: exp(-inf - 0) = 0 below
    S -= m  # (r, n_k), every entry <= 0: exp cannot overflow
    np.exp(S, out=S)  # unnormalised weights in (0, 1]
    l = S.sum(axis=-1, keepdims=True)  # (r, 1), >= 1 unless the row is empty
    inv = np.divide(1, l, out=np.zeros_like(l), where=l != 0)  # (r, 1); 0 if empty
    # diag(1 / l) P~: rows sum to 1 (all zero if empty, NaN if a score was NaN)
    S *= inv


def softmax_rows_inplace(S):
    """Overwrite scores `S` (..., n_q, n_k) with their row softmax; return `S`.

    The same conventions as :func:`lalib.activations.softmax` (max subtracted, ``-inf``
    gives 0, an all ``-inf`` row gives zeros, a NaN score makes its row NaN; equal to
    it up to rounding, since each row is scaled by ``1 / l`` instead of divided by
    ``l``), but working in the scores buffer itself: no n_q x n_k temporaries. A row
    of no keys at all (``n_k = 0``) is fine too.

    Rows are independent, so the buffer is cut into blocks of whole rows of about
    `SOFTMAX_CHUNK_BYTES`: the five passes over a block (max, subtract, exp, sum,
    scale) then hit the cache instead of main memory, and the blocks are shared out
    over the cores (NumPy releases the GIL inside each pass). Each row sees exactly the
    operations it would see in one pass over the whole array, so the result is
    bit-for-bit the same; at B=8, h=8, n=2048 in float32 this halves the softmax time.

    Raises
    ------
    TypeError
        If `S` is not a NumPy array.
    ValueError
        If `S` is 0-d, not floating, or read-only.

    Examples
    --------
    >>> softmax_rows_inplace(np.array([[0.0, np.log(3.0)], [-np.inf, -np.inf]]))
    array([[0.25, 0.75],
           [0.  , 0.  ]])
    """
    if not isinstance(S, np.ndarray):
        raise TypeError(
            f"S must be a NumPy array (it is overwritten), got {type(S).__name__}"
        )
    if S.ndim < 1 or not np.issubdtype(S.dtype, np.floating) or not S.flags.writeable:
        raise ValueError(
            "S must be a writeable floating array of scores (..., n_q, n_k), got "
            f"shape {S.shape}, dtype {S.dtype}"
            + ("" if S.flags.writeable else ", read-only")
        )
    if S.size == 0:  # no keys (or no queries): nothing to normalise
        return S
    if not S.flags.c_contiguous:  # never so for a matmul result: one pass, no blocks
        _softmax_block_inplace(S)  # works along the last axis of any shape
        return S
    rows = S.reshape(-1, S.shape[-1])  # (R, n_k), a view
    per_block = max(1, SOFTMAX_CHUNK_BYTES // max(1, rows.shape[1] * rows.itemsize))
    starts = range(0, rows.shape[0], per_block)
    if _WORKERS > 1 and len(starts) >= 2 * _WORKERS:
        with ThreadPoolExecutor(_WORKERS) as pool:
            list(
                pool.map(
                    lambda s: _softmax_block_inplace(rows[s : s + per_block]), starts
                )
            )
    else:
        for s in starts:
            _softmax_block_inplace(rows[s : s + per_block])
    return S


# -------------------------------------------------------------------------------- dense


def attention_forward(Q, K, V, mask=None, scale=None, causal=False):
    """Scaled dot-product attention, keeping what the backward pass needs.

    Parameters, return values and errors are those of
    :func:`lalib.attention.attention_forward`, and so is the cache: pass it to
    :func:`lalib.attention.attention_backward`. The scores are masked and normalised
    in place (`softmax_rows_inplace`), so the one n_q x n_k array allocated becomes
    the weights.

    Examples
    --------
    >>> from lalib import attention
    >>> rng = np.random.default_rng(0)
    >>> Q, K, V = rng.normal(size=(2, 5, 3)), rng.normal(size=(2, 6, 3)), np.eye(6)
    >>> out, cache = attention_forward(Q, K, V, causal=True)
    >>> out_r, cache_r = attention.attention_forward(Q, K, V, causal=True)
    >>> bool(np.allclose(out, out_r) and np.allclose(cache[3], cache_r[3]))
    True
    """
    Q, K, V, mask, scale, lead = _validate(Q, K, V, mask, scale, causal)
    _check_dense_fits(Q, K, mask, lead)
    Qs = Q * scale  # (..., n_q, d_k): scale the small factor, not the n_q x n_k scores
    S = Qs @ K.swapaxes(-1, -2)  # (..., n_q, d_k) @ (..., d_k, n_k) -> (..., n_q, n_k)
    if mask is not None:
        if np.broadcast_shapes(S.shape, mask.shape) != S.shape:
            # The mask has leading axes the scores lack (only V is batched along
            # them): the scores take the mask's shape, one new array.
            S = np.broadcast_to(S, np.broadcast_shapes(S.shape, mask.shape)).copy()
        np.copyto(S, -np.inf, where=~mask)  # masked scores -> -inf -> weight exactly 0
    P = softmax_rows_inplace(S)  # (..., n_q, n_k), in place: S is now the weights
    out = P @ V  # (..., n_q, n_k) @ (..., n_k, d_v) -> (..., n_q, d_v)
    if mask is not None:  # a masked key's value is not read, not even a NaN in it
        _drop_unread_terms(out, P, V, mask)
        if not _all_finite(out, Q, K):
            np.copyto(P, 0, where=~mask)  # a NaN row of weights is still 0 where masked
    return out, (Q, K, V, _with_lead(P, lead), out, scale)


def scaled_dot_product_attention(
    Q, K, V, mask=None, scale=None, causal=False, need_weights=True
):
    """``softmax(Q K^T / sqrt(d_k)) V`` and the attention weights, fast.

    What :func:`lalib.attention.scaled_dot_product_attention` (which calls this)
    documents. With ``need_weights=True``, `attention_forward` here. With False,
    `attention_blockwise` here with blocks of `DENSE_BLOCK_Q` queries and one block
    holding all the keys (so its online rescaling never has anything to do): one
    block of scores exists at a time, and the rows are normalised after the product.

    Returns
    -------
    out : ndarray, shape (..., n_q, d_v)
    weights : ndarray, shape (..., n_q, n_k), or None
        None when ``need_weights=False``.
    """
    need_weights = _flag(need_weights, "need_weights")
    if not need_weights:
        K = as_array(K, "K")  # for n_k; attention_blockwise checks everything
        n_k = max(1, K.shape[-2] if K.ndim >= 2 else 1)  # one block: all keys
        out = attention_blockwise(
            Q,
            K,
            V,
            block_size=(DENSE_BLOCK_Q, n_k),
            mask=mask,
            scale=scale,
            causal=causal,
        )
        return out, None
    out, cache = attention_forward(Q, K, V, mask=mask, scale=scale, causal=causal)
    return out, cache[3]


# ---------------------------------------------------------------------------- blockwise


def attention_blockwise(Q, K, V, block_size=128, mask=None, scale=None, causal=False):
    """Attention computed block by block with an online softmax (FlashAttention-style).

    What :func:`lalib.attention.attention_blockwise` computes, with the same
    parameters and the same result up to rounding. ``A`` is accumulated in the
    output array itself; besides the output, memory holds one tile of scores, one
    (block_q, d_v) product and one scaled query block, reused for every tile, for
    all the leading (batch/head) indices at once. When such a tile would exceed
    `TILE_BYTES`, the first leading axis is processed in groups, so the extra memory
    stays bounded however many batch entries and heads there are. With
    ``causal=True``, key blocks entirely in a query block's future are skipped.

    Returns
    -------
    out : ndarray, shape (..., n_q, d_v)
        Zeros for a row with nothing to attend to.

    Examples
    --------
    >>> from lalib import attention
    >>> rng = np.random.default_rng(0)
    >>> Q, K = rng.normal(size=(3, 10, 4)), rng.normal(size=(3, 7, 4))
    >>> V = rng.normal(size=(3, 7, 2))
    >>> fast = attention_blockwise(Q, K, V, block_size=3, causal=True)
    >>> readable = attention.attention_blockwise(Q, K, V, block_size=3, causal=True)
    >>> bool(np.allclose(fast, readable))
    True
    """
    Q, K, V, mask, scale, lead = _validate(Q, K, V, mask, scale, causal=False)
    bq, bk = _block_sizes(block_size)
    causal = _flag(causal, "causal")
    n_q, n_k, d_v = Q.shape[-2], K.shape[-2], V.shape[-1]
    out = np.empty(lead + (n_q, d_v), dtype=Q.dtype)
    if out.size == 0:  # no batch entries, queries or value columns: nothing to compute
        return out
    blocked = None if mask is None else np.logical_not(mask)  # True = masked
    if not lead:
        _blockwise_into(out, Q, K, V, blocked, scale, causal, bq, bk)
        return out
    # Group the first leading axis so that one tile of scores stays under TILE_BYTES.
    tile = math.prod(lead) * min(bq, n_q) * min(bk, n_k) * Q.dtype.itemsize
    groups = min(lead[0], max(1, -(-tile // TILE_BYTES)))  # ceil division
    step = -(-lead[0] // groups)
    full = len(lead) + 2  # ndim of an array that has every leading axis

    def part(a, g0, g1):  # rows g0:g1 of the first leading axis, unless broadcast
        return a if a is None or a.ndim < full or a.shape[0] == 1 else a[g0:g1]

    for g0 in range(0, lead[0], step):
        g1 = min(g0 + step, lead[0])
        _blockwise_into(
            out[g0:g1],
            part(Q, g0, g1),
            part(K, g0, g1),
            part(V, g0, g1),
            part(blocked, g0, g1),
            scale,
            causal,
            bq,
            bk,
        )
    return out


def _blockwise_into(out, Q, K, V, blocked, scale, causal, bq, bk):
    """The online-softmax loops of `attention_blockwise`, writing into `out`.

    `out` is (..., n_q, d_v); `blocked` is True where a score is masked, or None.
    """
    lead, (n_q, d_v) = out.shape[:-2], out.shape[-2:]
    n_k, d_k = K.shape[-2], K.shape[-1]
    offset = n_k - n_q  # query i sits at key position i + offset (see causal_mask)
    if blocked is not None:  # (..., n_q, n_k), a view read one tile at a time
        blocked = np.broadcast_to(blocked, blocked.shape[:-2] + (n_q, n_k))
    KT = K.swapaxes(-1, -2)  # (..., d_k, n_k), a view
    # A masked key's value is never read: with a NaN or an inf in V, the tiles that
    # mask something leave those terms out of P~_j V_j (see _drop_unread_terms).
    finite_v = (blocked is None and not causal) or bool(np.isfinite(V).all())
    # Buffers reused by every tile: the scores S_j (..., bq, bk), the product
    # P~_j V_j (..., bq, d_v) and the scaled query block (..., bq, d_k).
    S_buf = np.empty(lead + (min(bq, n_q), min(bk, n_k)), dtype=out.dtype)
    PV_buf = np.empty(lead + (min(bq, n_q), d_v), dtype=out.dtype)
    Q_buf = np.empty(Q.shape[:-2] + (min(bq, n_q), d_k), dtype=out.dtype)
    for i0 in range(0, n_q, bq):
        i1 = min(i0 + bq, n_q)
        r = i1 - i0
        Qi = np.multiply(Q[..., i0:i1, :], scale, out=Q_buf[..., :r, :])  # scaled once
        m = np.full(lead + (r, 1), -np.inf, dtype=out.dtype)  # running row max
        l = np.zeros(lead + (r, 1), dtype=out.dtype)  # running sum of exp(S - m)
        A = out[..., i0:i1, :]  # (..., bq, d_v): the unnormalised output, in place
        A.fill(0)
        for j0 in range(0, n_k, bk):
            if causal and j0 > i1 - 1 + offset:
                break  # this key block and all later ones are in every query's future
            j1 = min(j0 + bk, n_k)
            # (..., bq, d_k) @ (..., d_k, bk) -> (..., bq, bk)
            S = np.matmul(Qi, KT[..., j0:j1], out=S_buf[..., :r, : j1 - j0])
            unseen = None  # True where the tile is masked; None: nowhere
            if blocked is not None:  # the tile of the mask
                unseen = blocked[..., i0:i1, j0:j1]
                np.copyto(S, -np.inf, where=unseen)
            if causal and j1 - 1 > i0 + offset:  # the tile straddles the diagonal
                keys, queries = np.arange(j0, j1), np.arange(i0, i1)
                future = keys[None, :] > queries[:, None] + offset  # (bq, bk)
                np.copyto(S, -np.inf, where=future)
                unseen = future if unseen is None else unseen | future
            m_new = np.maximum(m, S.max(axis=-1, keepdims=True))  # (..., bq, 1)
            m_safe = np.where(np.isneginf(m_new), 0, m_new)  # rows masked so far: 0
            S -= m_safe  # (..., bq, bk), entries <= 0
            np.exp(S, out=S)  # P~_j = exp(S_j - m_j)
            alpha = np.exp(m - m_safe)  # (..., bq, 1): the diagonal of D_j, each <= 1
            l *= alpha  # D_j l
            l += S.sum(axis=-1, keepdims=True)  # + P~_j 1
            A *= alpha  # D_j A: rescale the rows summed so far
            # + P~_j V_j: (..., bq, bk) @ (..., bk, d_v) -> (..., bq, d_v)
            PV = np.matmul(S, V[..., j0:j1, :], out=PV_buf[..., :r, :])
            if not finite_v and unseen is not None:
                _drop_unread_terms(PV, S, V[..., j0:j1, :], ~unseen)
            A += PV
            m = m_new
        # O = diag(l)^-1 A; 0 for a row with nothing to attend to
        A *= np.divide(1, l, out=np.zeros_like(l), where=l != 0)
