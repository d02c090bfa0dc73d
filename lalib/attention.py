r"""Scaled dot-product attention, its backward pass, multi-head attention, and a blockwise
(online-softmax) version that never holds the full n_q x n_k matrix.

For queries ``Q`` (n_q, d_k), keys ``K`` (n_k, d_k) and values ``V`` (n_k, d_v),

.. math::

    \operatorname{Attention}(Q, K, V) = \operatorname{softmax}\!\left(\frac{Q K^T}{\sqrt{d_k}}\right) V,

read in four steps: dot products ``S = Q K^T`` measure how well each query matches each
key; the factor ``1/sqrt(d_k)`` keeps their spread independent of the width ``d_k``;
a softmax along each row turns scores into weights ``P`` (rows sum to 1); ``P V``
averages the values with those weights. ``P`` depends on the data, so attention is a
matrix product whose left factor is computed from the input itself.

Every function accepts any leading batch/head dimensions, ``Q`` (..., n_q, d_k) and so
on, broadcast against each other as in ``np.matmul``.

Masks are boolean, ``True`` where a query may attend to a key, broadcastable to
(..., n_q, n_k). Masked scores become ``-inf`` and get weight exactly 0. A query row
with nothing to attend to (every key masked, or no keys at all) has no meaningful
average; this module defines its weights and its output as **zeros** (no NaN) and its
gradients as zeros too, the convention of :func:`lalib.activations.softmax`.

The blockwise version (:func:`attention_blockwise`) visits key blocks one at a time
and keeps, for each query row, a running maximum ``m``, a running sum of exponentials
``l`` and an unnormalised output ``A``. With ``S_j = Q K_j^T`` the scores of block j:

.. math::

    m_j &= \max(m_{j-1}, \operatorname{rowmax} S_j) \\
    \tilde P_j &= \exp(S_j - m_j \mathbf 1^T) \\
    l_j &= D_j\, l_{j-1} + \tilde P_j \mathbf 1, \qquad D_j = \operatorname{diag}(e^{m_{j-1} - m_j}) \\
    A_j &= D_j\, A_{j-1} + \tilde P_j V_j \\
    O &= \operatorname{diag}(l)^{-1} A

The diagonal matrix ``D_j`` re-expresses everything summed so far relative to the new
maximum (left-multiplying by a diagonal matrix scales rows); once every block is seen,
``diag(l)^{-1}`` normalises the rows. Memory grows with n * block, not n^2.
"""

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from lalib._checks import as_float_array
from lalib.activations import softmax, softmax_backward

__all__ = [
    "softmax",
    "softmax_backward",
    "causal_mask",
    "scaled_dot_product_attention",
    "attention_forward",
    "attention_backward",
    "attention_naive",
    "attention_blockwise",
    "split_heads",
    "merge_heads",
    "multi_head_attention_forward",
    "multi_head_attention_backward",
    "multi_head_attention",
]


# --------------------------------------------------------------------------- helpers


def causal_mask(n_q, n_k=None):
    """Boolean mask letting each query see only keys at its own position or earlier.

    The queries are taken to be the *last* n_q positions of a sequence of n_k keys
    (with ``n_k = n_q``, the usual square case, query i sees keys 0..i). This is the
    alignment needed when new queries are appended to an existing sequence of keys;
    when n_q > n_k the first ``n_q - n_k`` queries see nothing and, by this module's
    convention, attend to nothing (output zeros).

    Parameters
    ----------
    n_q : int
        Number of queries.
    n_k : int, optional
        Number of keys; `n_q` by default.

    Returns
    -------
    mask : ndarray of bool, shape (n_q, n_k)
        ``mask[i, j] = j <= i + (n_k - n_q)``: lower triangular when square.

    Examples
    --------
    >>> causal_mask(3).astype(int)
    array([[1, 0, 0],
           [1, 1, 0],
           [1, 1, 1]])
    >>> causal_mask(1, 3).astype(int)    # one new query sees the whole past
    array([[1, 1, 1]])
    """
    n_k = n_q if n_k is None else n_k
    if int(n_q) < 0 or int(n_k) < 0:
        raise ValueError(f"n_q and n_k must be non-negative, got {n_q}, {n_k}")
    rows = np.arange(n_q)[:, None] + (n_k - n_q)  # (n_q, 1): each query's position
    return np.arange(n_k)[None, :] <= rows  # (1, n_k) <= (n_q, 1) -> (n_q, n_k)


def _validate(Q, K, V, mask=None, scale=None, causal=False):
    """Check shapes, unify dtypes, combine the masks; return what the kernels need."""
    Q = as_float_array(Q, "Q")
    K = as_float_array(K, "K")
    V = as_float_array(V, "V")
    for name, a, layout in (("Q", Q, "(..., n_q, d_k)"), ("K", K, "(..., n_k, d_k)"),
                            ("V", V, "(..., n_k, d_v)")):
        if a.ndim < 2:
            raise ValueError(f"{name} must have at least 2 dimensions {layout}, got shape {a.shape}")
    if Q.shape[-1] != K.shape[-1]:
        raise ValueError(
            f"Q and K must share d_k: Q {Q.shape} has d_k={Q.shape[-1]}, "
            f"K {K.shape} has d_k={K.shape[-1]}"
        )
    if K.shape[-2] != V.shape[-2]:
        raise ValueError(
            f"K and V must have the same number of keys n_k: K {K.shape} has "
            f"n_k={K.shape[-2]}, V {V.shape} has n_k={V.shape[-2]}"
        )
    try:
        lead = np.broadcast_shapes(Q.shape[:-2], K.shape[:-2], V.shape[:-2])
    except ValueError:
        raise ValueError(
            f"leading (batch/head) dimensions do not broadcast: Q {Q.shape}, "
            f"K {K.shape}, V {V.shape}"
        ) from None
    n_q, d_k = Q.shape[-2:]
    n_k = K.shape[-2]
    if scale is None:
        if d_k == 0:
            raise ValueError(f"d_k must be at least 1 for the default scale, got Q {Q.shape}")
        scale = 1.0 / math.sqrt(d_k)  # a Python float: float32 stays float32
    else:
        scale = float(scale)
        if not math.isfinite(scale):
            raise ValueError(f"scale must be finite, got {scale}")
    dtype = np.result_type(Q, K, V)
    Q, K, V = (a.astype(dtype, copy=False) for a in (Q, K, V))
    scores_shape = lead + (n_q, n_k)
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype != np.bool_:
            raise ValueError(
                f"mask must be boolean (True = may attend), got dtype {mask.dtype}"
            )
        try:
            ok = np.broadcast_shapes(mask.shape, scores_shape) == scores_shape
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(
                f"mask of shape {mask.shape} does not broadcast to the scores' shape "
                f"(..., n_q, n_k) = {scores_shape} (Q {Q.shape}, K {K.shape})"
            )
    if causal:
        cm = causal_mask(n_q, n_k)  # (n_q, n_k)
        mask = cm if mask is None else mask & cm  # broadcasts to (..., n_q, n_k)
    return Q, K, V, mask, scale, lead


_SOFTMAX_CHUNK_BYTES = 1 << 22  # 4 MiB of scores per block: its five passes stay in cache
_WORKERS = max(1, min(os.cpu_count() or 1, 4))


def _softmax_block_inplace(S):
    """Row softmax along the last axis, overwriting `S`; shapes below are for (r, n_k)."""
    m = S.max(axis=-1, keepdims=True, initial=-np.inf)  # (r, 1) row maxima
    m[np.isneginf(m)] = 0  # a fully masked row: exp(-inf - 0) = 0 below
    S -= m  # (r, n_k), every entry <= 0: exp cannot overflow
    np.exp(S, out=S)  # unnormalised weights in (0, 1]
    l = S.sum(axis=-1, keepdims=True)  # (r, 1), >= 1 unless the row is empty
    inv = np.divide(1, l, out=np.zeros_like(l), where=l != 0)  # (r, 1); 0 for empty rows
    S *= inv  # diag(1 / l) P~: rows sum to 1 (all zero if empty, NaN if a score was NaN)


def _softmax_rows_inplace(S):
    """Overwrite scores `S` (..., n_q, n_k) with their row softmax; return `S`.

    The same numbers as :func:`lalib.activations.softmax` (max subtracted, ``-inf``
    gives 0, an all ``-inf`` row gives zeros, a NaN score makes its row NaN), but
    working in the scores buffer itself: no n_q x n_k temporaries.

    Rows are independent, so the buffer is cut into blocks of whole rows of about
    `_SOFTMAX_CHUNK_BYTES`: the five passes over a block (max, subtract, exp, sum,
    scale) then hit the cache instead of main memory, and the blocks are shared out
    over the cores (NumPy releases the GIL inside each pass). Each row sees exactly the
    operations it would see in one pass over the whole array, so the result is
    bit-for-bit the same; at B=8, h=8, n=2048 in float32 this halves the softmax time.
    """
    if S.size == 0:  # no keys (or no queries): nothing to normalise
        return S
    if not S.flags.c_contiguous:  # not the case for a matmul result: one pass, no blocks
        _softmax_block_inplace(S)  # works along the last axis of any shape
        return S
    rows = S.reshape(-1, S.shape[-1])  # (R, n_k), a view
    per_block = max(1, _SOFTMAX_CHUNK_BYTES // max(1, rows.shape[1] * rows.itemsize))
    starts = range(0, rows.shape[0], per_block)
    if _WORKERS > 1 and len(starts) >= 2 * _WORKERS:
        with ThreadPoolExecutor(_WORKERS) as pool:
            list(pool.map(lambda s: _softmax_block_inplace(rows[s : s + per_block]), starts))
    else:
        for s in starts:
            _softmax_block_inplace(rows[s : s + per_block])
    return S


def _sum_to(g, shape):
    """Sum `g` over the axes that broadcasting added or stretched to reach it from `shape`."""
    if g.shape == tuple(shape):
        return g
    extra = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(extra)))  # drop leading axes added by broadcasting
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


# --------------------------------------------------------------------------- dense


def attention_forward(Q, K, V, mask=None, scale=None, causal=False):
    """Scaled dot-product attention, keeping what the backward pass needs.

    Parameters
    ----------
    Q : ndarray, shape (..., n_q, d_k)
        Queries, one per row.
    K : ndarray, shape (..., n_k, d_k)
        Keys.
    V : ndarray, shape (..., n_k, d_v)
        Values. Leading dimensions of Q, K, V broadcast against each other.
    mask : ndarray of bool, optional
        Broadcastable to (..., n_q, n_k); True where query i may attend to key j.
    scale : float, optional
        Multiplies the scores; ``1 / sqrt(d_k)`` by default. A larger scale sharpens
        the weights (a lower softmax temperature), a smaller one flattens them.
    causal : bool
        Also apply ``causal_mask(n_q, n_k)`` (combined with `mask` by AND).

    Returns
    -------
    out : ndarray, shape (..., n_q, d_v)
        ``softmax(scale * Q K^T, masked) V``; zeros for a row with nothing to attend to.
    cache : tuple
        What `attention_backward` needs, including the weights (..., n_q, n_k).

    Raises
    ------
    ValueError
        If Q and K disagree on d_k, K and V on n_k, leading dimensions do not
        broadcast, or `mask` is not boolean or does not broadcast to (..., n_q, n_k).
    """
    Q, K, V, mask, scale, _ = _validate(Q, K, V, mask, scale, causal)
    Qs = Q * scale  # (..., n_q, d_k): scale the small factor, not the n_q x n_k scores
    S = Qs @ K.swapaxes(-1, -2)  # (..., n_q, d_k) @ (..., d_k, n_k) -> (..., n_q, n_k)
    if mask is not None:
        np.copyto(S, -np.inf, where=~mask)  # masked scores -> -inf -> weight exactly 0
    P = _softmax_rows_inplace(S)  # (..., n_q, n_k), in place: S is now the weights
    out = P @ V  # (..., n_q, n_k) @ (..., n_k, d_v) -> (..., n_q, d_v)
    return out, (Q, K, V, P, out, scale)


def attention_backward(dout, cache):
    """Gradients of `attention_forward` with respect to Q, K and V.

    With ``S = scale Q K^T``, ``P = softmax(S)`` row-wise and ``O = P V``:

    - ``dV = P^T dO`` and ``dP = dO V^T``;
    - each row's softmax Jacobian is ``diag(p) - p p^T``, so
      ``dS = P * (dP - rowsum(P * dP))``, and ``rowsum(P * dP) = rowsum(dO * O)``
      (because ``O = P V``): an (n_q, d_v) product instead of an (n_q, n_k) one;
    - ``dQ = scale dS K`` and ``dK = scale dS^T Q``.

    Masked weights are 0, so their ``dS`` is 0: masked keys and fully masked rows get
    no gradient through the scores.

    Parameters
    ----------
    dout : ndarray, shape (..., n_q, d_v)
        dL/d(out).
    cache : tuple
        From `attention_forward`.

    Returns
    -------
    dQ : ndarray, shape of Q
    dK : ndarray, shape of K
    dV : ndarray, shape of V
        Summed over any leading dimensions that were broadcast in the forward pass.
    """
    Q, K, V, P, out, scale = cache
    dout = as_float_array(dout, "dout")
    if dout.shape != out.shape:
        raise ValueError(f"dout must have the output's shape (..., n_q, d_v) = {out.shape}, got {dout.shape}")
    dV = P.swapaxes(-1, -2) @ dout  # (..., n_k, n_q) @ (..., n_q, d_v) -> (..., n_k, d_v)
    dS = dout @ V.swapaxes(-1, -2)  # dP: (..., n_q, d_v) @ (..., d_v, n_k) -> (..., n_q, n_k)
    delta = np.sum(dout * out, axis=-1, keepdims=True)  # (..., n_q, 1) = rowsum(P * dP)
    dS -= delta  # (..., n_q, n_k), in place
    dS *= P  # (..., n_q, n_k): dS = P * (dP - delta)
    dQ = (dS @ K) * scale  # (..., n_q, n_k) @ (..., n_k, d_k) -> (..., n_q, d_k)
    dK = (dS.swapaxes(-1, -2) @ Q) * scale  # (..., n_k, n_q) @ (..., n_q, d_k) -> (..., n_k, d_k)
    return _sum_to(dQ, Q.shape), _sum_to(dK, K.shape), _sum_to(dV, V.shape)


#: Queries per block when `scaled_dot_product_attention` does not keep the weights.
DENSE_BLOCK_Q = 256


def scaled_dot_product_attention(Q, K, V, mask=None, scale=None, causal=False, need_weights=True):
    """``softmax(Q K^T / sqrt(d_k)) V`` and the attention weights.

    Parameters and errors are those of `attention_forward`, plus:

    need_weights : bool
        With False, the weights are not returned (``None`` stands in their place) and
        never exist all at once: the output is computed `DENSE_BLOCK_Q` queries at a
        time against all the keys, which is `attention_blockwise` with a single key
        block (so its online rescaling never has anything to do). Memory is then one
        block of scores, not all ``n_q x n_k`` of them, and the rows are normalised
        after the product, on (n_q, d_v) numbers instead of (n_q, n_k). This is what
        PyTorch's ``scaled_dot_product_attention`` computes; the result equals the
        default's ``out`` up to rounding.

    Returns
    -------
    out : ndarray, shape (..., n_q, d_v)
    weights : ndarray, shape (..., n_q, n_k), or None
        Row i holds how much query i takes from each value; every row sums to 1,
        except a row with nothing to attend to, which is all zeros. None when
        ``need_weights=False``.

    Examples
    --------
    A query that matches the second key much better than the first takes mostly the
    second value:

    >>> Q = np.array([[0.0, 2.0]]); K = np.array([[2.0, 0.0], [0.0, 2.0]])
    >>> V = np.array([[10.0, 0.0], [0.0, 10.0]])
    >>> out, w = scaled_dot_product_attention(Q, K, V)   # scores 0 and 4 / sqrt(2)
    >>> w.round(3), out.round(2)
    (array([[0.056, 0.944]]), array([[0.56, 9.44]]))
    >>> out, w = scaled_dot_product_attention(Q, K, V, mask=np.array([[False, False]]))
    >>> out, w      # nothing to attend to: zeros, not NaN
    (array([[0., 0.]]), array([[0., 0.]]))
    """
    if not need_weights:
        n_k = max(1, np.shape(K)[-2] if np.ndim(K) >= 2 else 1)  # one key block holds all keys
        out = attention_blockwise(Q, K, V, block_size=(DENSE_BLOCK_Q, n_k), mask=mask,
                                  scale=scale, causal=causal)
        return out, None
    out, cache = attention_forward(Q, K, V, mask=mask, scale=scale, causal=causal)
    return out, cache[3]


def attention_naive(Q, K, V, mask=None, scale=None, causal=False):
    """The deliberately slow reference: one Python loop per batch entry, query and key.

    Computes exactly what `scaled_dot_product_attention` does, one number at a time,
    so the tests can compare the vectorised kernel against the formula itself.

    Returns
    -------
    out : ndarray, shape (..., n_q, d_v)
    weights : ndarray, shape (..., n_q, n_k)
    """
    Q, K, V, mask, scale, lead = _validate(Q, K, V, mask, scale, causal)
    n_q, n_k, d_k, d_v = Q.shape[-2], K.shape[-2], Q.shape[-1], V.shape[-1]
    Qb = np.broadcast_to(Q, lead + Q.shape[-2:])
    Kb = np.broadcast_to(K, lead + K.shape[-2:])
    Vb = np.broadcast_to(V, lead + V.shape[-2:])
    Mb = np.broadcast_to(True if mask is None else mask, lead + (n_q, n_k))
    out = np.zeros(lead + (n_q, d_v), dtype=Q.dtype)
    weights = np.zeros(lead + (n_q, n_k), dtype=Q.dtype)
    for b in np.ndindex(*lead):
        for i in range(n_q):
            scores = []
            for j in range(n_k):
                if Mb[b + (i, j)]:
                    dot = sum(float(Qb[b + (i, t)]) * float(Kb[b + (j, t)]) for t in range(d_k))
                    scores.append((j, scale * dot))
            if not scores:
                continue  # nothing to attend to: the row stays zero
            top = max(s for _, s in scores)
            exps = [(j, math.exp(s - top)) for j, s in scores]
            total = sum(e for _, e in exps)
            for j, e in exps:
                weights[b + (i, j)] = e / total
                for t in range(d_v):
                    out[b + (i, t)] += e / total * float(Vb[b + (j, t)])
    return out, weights


# --------------------------------------------------------------------------- blockwise


#: Upper bound, in bytes, on one tile of scores in `attention_blockwise`: when all the
#: leading (batch/head) indices together would exceed it, they are processed in groups.
TILE_BYTES = 16 * 2**20


def attention_blockwise(Q, K, V, block_size=128, mask=None, scale=None, causal=False):
    """Attention computed block by block with an online softmax (FlashAttention-style).

    Same result as ``scaled_dot_product_attention(Q, K, V, mask, scale, causal)[0]``,
    but the scores only ever exist as (..., block_q, block_k) tiles: a query block is
    compared with one key block at a time, and the running maximum ``m``, running sum
    ``l`` and unnormalised output ``A`` of each query row are rescaled by the diagonal
    matrix ``diag(exp(m_old - m_new))`` whenever a new block raises the maximum (see the
    module docstring). ``A`` is accumulated in the output array itself; besides the
    output, memory holds one tile of scores, one (block_q, d_v) product and one scaled
    query block, reused for every tile. When a tile over all leading indices would
    exceed `TILE_BYTES`, the first leading axis is processed in groups, so the extra
    memory stays bounded however many batch entries and heads there are. With
    ``causal=True``, key blocks entirely in a query block's future are skipped, which
    halves the work.

    Parameters
    ----------
    Q, K, V, mask, scale, causal
        As in `attention_forward`. A `mask` is only ever read one tile at a time
        (a broadcast (n_q, n_k) mask costs no extra memory per head).
    block_size : int or (int, int)
        Queries and keys per block (one number for both, or ``(block_q, block_k)``).

    Returns
    -------
    out : ndarray, shape (..., n_q, d_v)
        Zeros for a row with nothing to attend to.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> Q, K, V = rng.normal(size=(3, 10, 4)), rng.normal(size=(3, 7, 4)), rng.normal(size=(3, 7, 2))
    >>> dense, _ = scaled_dot_product_attention(Q, K, V, causal=True)
    >>> bool(np.allclose(attention_blockwise(Q, K, V, block_size=3, causal=True), dense))
    True
    """
    Q, K, V, mask, scale, lead = _validate(Q, K, V, mask, scale, causal=False)
    bq, bk = (block_size, block_size) if np.ndim(block_size) == 0 else block_size
    bq, bk = int(bq), int(bk)
    if bq < 1 or bk < 1:
        raise ValueError(f"block_size must be positive, got {block_size}")
    n_q, n_k, d_v = Q.shape[-2], K.shape[-2], V.shape[-1]
    out = np.empty(lead + (n_q, d_v), dtype=Q.dtype)
    if out.size == 0:  # no batch entries, no queries or no value columns: nothing to compute
        return out
    blocked = None if mask is None else np.logical_not(mask)  # True = masked; mask's own shape
    if not lead:
        _blockwise_into(out, Q, K, V, blocked, scale, causal, bq, bk)
        return out
    # Group the first leading axis so that one tile of scores stays under TILE_BYTES.
    tile = math.prod(lead) * min(bq, n_q) * min(bk, n_k) * Q.dtype.itemsize
    groups = min(lead[0], max(1, -(-tile // TILE_BYTES)))  # ceil division
    step = -(-lead[0] // groups)
    full = len(lead) + 2  # ndim of an array that has every leading axis

    def part(a, g0, g1):  # rows g0:g1 of the first leading axis, unless broadcast along it
        return a if a is None or a.ndim < full or a.shape[0] == 1 else a[g0:g1]

    for g0 in range(0, lead[0], step):
        g1 = min(g0 + step, lead[0])
        _blockwise_into(out[g0:g1], part(Q, g0, g1), part(K, g0, g1), part(V, g0, g1),
                        part(blocked, g0, g1), scale, causal, bq, bk)
    return out


def _blockwise_into(out, Q, K, V, blocked, scale, causal, bq, bk):
    """The online-softmax loops of `attention_blockwise`, writing into `out` (..., n_q, d_v)."""
    lead, (n_q, d_v) = out.shape[:-2], out.shape[-2:]
    n_k, d_k = K.shape[-2], K.shape[-1]
    offset = n_k - n_q  # query i sits at key position i + offset (see causal_mask)
    if blocked is not None:
        blocked = np.broadcast_to(blocked, blocked.shape[:-2] + (n_q, n_k))  # a view, read per tile
    KT = K.swapaxes(-1, -2)  # (..., d_k, n_k), a view
    # Buffers reused by every tile: scores, the product P~_j V_j, the scaled query block.
    S_buf = np.empty(lead + (min(bq, n_q), min(bk, n_k)), dtype=out.dtype)  # (..., bq, bk)
    PV_buf = np.empty(lead + (min(bq, n_q), d_v), dtype=out.dtype)  # (..., bq, d_v)
    Q_buf = np.empty(Q.shape[:-2] + (min(bq, n_q), d_k), dtype=out.dtype)  # (..., bq, d_k)
    for i0 in range(0, n_q, bq):
        i1 = min(i0 + bq, n_q)
        r = i1 - i0
        Qi = np.multiply(Q[..., i0:i1, :], scale, out=Q_buf[..., :r, :])  # (..., bq, d_k), scaled once
        m = np.full(lead + (r, 1), -np.inf, dtype=out.dtype)  # running row max
        l = np.zeros(lead + (r, 1), dtype=out.dtype)  # running sum of exp(S - m)
        A = out[..., i0:i1, :]  # (..., bq, d_v): the unnormalised output, accumulated in place
        A.fill(0)
        for j0 in range(0, n_k, bk):
            if causal and j0 > i1 - 1 + offset:
                break  # this key block and all later ones are in every query's future
            j1 = min(j0 + bk, n_k)
            S = np.matmul(Qi, KT[..., j0:j1], out=S_buf[..., :r, :j1 - j0])  # (..., bq, bk)
            if blocked is not None:
                np.copyto(S, -np.inf, where=blocked[..., i0:i1, j0:j1])  # tile of the mask
            if causal and j1 - 1 > i0 + offset:  # the tile straddles the diagonal
                future = np.arange(j0, j1)[None, :] > np.arange(i0, i1)[:, None] + offset  # (bq, bk)
                np.copyto(S, -np.inf, where=future)
            m_new = np.maximum(m, S.max(axis=-1, keepdims=True))  # (..., bq, 1)
            m_safe = np.where(np.isneginf(m_new), 0, m_new)  # rows masked so far: exp(-inf) = 0
            S -= m_safe  # (..., bq, bk), entries <= 0
            np.exp(S, out=S)  # P~_j = exp(S_j - m_j)
            alpha = np.exp(m - m_safe)  # (..., bq, 1): the diagonal of D_j, each entry <= 1
            l *= alpha  # D_j l
            l += S.sum(axis=-1, keepdims=True)  # + P~_j 1
            A *= alpha  # D_j A: rescale the rows summed so far
            A += np.matmul(S, V[..., j0:j1, :], out=PV_buf[..., :r, :])  # + P~_j V_j: (..., bq, d_v)
            m = m_new
        A *= np.divide(1, l, out=np.zeros_like(l), where=l != 0)  # O = diag(l)^-1 A; 0 if nothing seen


# --------------------------------------------------------------------------- multi-head


def split_heads(x, n_heads):
    """Reshape (..., n, h * d) into (..., h, n, d): head k takes columns k*d .. (k+1)*d - 1.

    Examples
    --------
    >>> split_heads(np.arange(12).reshape(2, 6), 3)[1]    # head 1: columns 2 and 3
    array([[2, 3],
           [8, 9]])
    """
    *lead, n, hd = x.shape
    if n_heads < 1 or hd % n_heads:
        raise ValueError(f"the last dimension {hd} of {x.shape} is not divisible by n_heads={n_heads}")
    x = x.reshape(*lead, n, n_heads, hd // n_heads)  # (..., n, h*d) -> (..., n, h, d), a view
    return x.swapaxes(-2, -3)  # (..., n, h, d) -> (..., h, n, d), a view


def merge_heads(x):
    """The inverse of `split_heads`: (..., h, n, d) -> (..., n, h * d)."""
    *lead, h, n, d = x.shape
    x = x.swapaxes(-2, -3)  # (..., h, n, d) -> (..., n, h, d)
    return x.reshape(*lead, n, h * d)  # (..., n, h, d) -> (..., n, h*d), a copy


def _validate_mha(x_q, x_kv, W_q, W_k, W_v, W_o, n_heads):
    arrays = [as_float_array(a, name) for a, name in
              ((x_q, "x_q"), (x_kv, "x_kv"), (W_q, "W_q"), (W_k, "W_k"), (W_v, "W_v"), (W_o, "W_o"))]
    x_q, x_kv, W_q, W_k, W_v, W_o = arrays
    for name, a in (("x_q", x_q), ("x_kv", x_kv)):
        if a.ndim < 2:
            raise ValueError(f"{name} must have at least 2 dimensions (..., n, D), got shape {a.shape}")
    for name, a, layout in (("W_q", W_q, "(D, h*d_k)"), ("W_k", W_k, "(D_kv, h*d_k)"),
                            ("W_v", W_v, "(D_kv, h*d_v)"), ("W_o", W_o, "(h*d_v, M)")):
        if a.ndim != 2:
            raise ValueError(f"{name} must have 2 dimensions {layout}, got shape {a.shape}")
    if x_q.shape[:-2] != x_kv.shape[:-2]:
        raise ValueError(f"x_q {x_q.shape} and x_kv {x_kv.shape} must have the same leading dimensions")
    if x_q.shape[-1] != W_q.shape[0]:
        raise ValueError(f"x_q has D={x_q.shape[-1]} (shape {x_q.shape}) but W_q is {W_q.shape}, expected ({x_q.shape[-1]}, h*d_k)")
    for name, W in (("W_k", W_k), ("W_v", W_v)):
        if x_kv.shape[-1] != W.shape[0]:
            raise ValueError(f"x_kv has D_kv={x_kv.shape[-1]} (shape {x_kv.shape}) but {name} is {W.shape}, expected ({x_kv.shape[-1]}, ...)")
    if W_q.shape[1] != W_k.shape[1]:
        raise ValueError(f"W_q {W_q.shape} and W_k {W_k.shape} must have the same number of columns h*d_k")
    if W_v.shape[1] != W_o.shape[0]:
        raise ValueError(f"W_o {W_o.shape} must have as many rows as W_v {W_v.shape} has columns (h*d_v)")
    if int(n_heads) < 1 or W_q.shape[1] % n_heads or W_v.shape[1] % n_heads:
        raise ValueError(f"n_heads={n_heads} must divide h*d_k={W_q.shape[1]} and h*d_v={W_v.shape[1]}")
    dtype = np.result_type(*arrays)
    return [a.astype(dtype, copy=False) for a in arrays]


def multi_head_attention_forward(x_q, x_kv, W_q, W_k, W_v, W_o, n_heads, mask=None, causal=False):
    """Multi-head attention: project, split into heads, attend per head, merge, project.

    For self-attention pass the same array as `x_q` and `x_kv` (and add the two input
    gradients in the backward pass). No biases: every map is a plain matrix product.

    Parameters
    ----------
    x_q : ndarray, shape (..., n_q, D)
        The sequence the queries come from.
    x_kv : ndarray, shape (..., n_k, D_kv)
        The sequence the keys and values come from; same leading dimensions as `x_q`.
    W_q : ndarray, shape (D, h*d_k)
    W_k : ndarray, shape (D_kv, h*d_k)
    W_v : ndarray, shape (D_kv, h*d_v)
    W_o : ndarray, shape (h*d_v, M)
        Mixes the concatenated heads into the output.
    n_heads : int
        h; must divide h*d_k and h*d_v. Each head uses the scale ``1/sqrt(d_k)``.
    mask : ndarray of bool, optional
        Broadcastable to (..., h, n_q, n_k): an (n_q, n_k) mask applies to every head;
        a per-example (N, n_q, n_k) mask needs a head axis, ``mask[:, None]``.
    causal : bool
        Also apply `causal_mask`.

    Returns
    -------
    out : ndarray, shape (..., n_q, M)
    cache : tuple
        What `multi_head_attention_backward` needs; ``cache[-1]`` is the attention
        cache, whose weights (..., h, n_q, n_k) `multi_head_attention` returns.
    """
    x_q, x_kv, W_q, W_k, W_v, W_o = _validate_mha(x_q, x_kv, W_q, W_k, W_v, W_o, n_heads)
    q = x_q @ W_q  # (..., n_q, D) @ (D, h*d_k) -> (..., n_q, h*d_k)
    k = x_kv @ W_k  # (..., n_k, D_kv) @ (D_kv, h*d_k) -> (..., n_k, h*d_k)
    v = x_kv @ W_v  # (..., n_k, D_kv) @ (D_kv, h*d_v) -> (..., n_k, h*d_v)
    Q = split_heads(q, n_heads)  # (..., n_q, h*d_k) -> (..., h, n_q, d_k)
    K = split_heads(k, n_heads)  # (..., n_k, h*d_k) -> (..., h, n_k, d_k)
    V = split_heads(v, n_heads)  # (..., n_k, h*d_v) -> (..., h, n_k, d_v)
    O, att_cache = attention_forward(Q, K, V, mask=mask, causal=causal)  # (..., h, n_q, d_v)
    o = merge_heads(O)  # (..., h, n_q, d_v) -> (..., n_q, h*d_v)
    out = o @ W_o  # (..., n_q, h*d_v) @ (h*d_v, M) -> (..., n_q, M)
    return out, (x_q, x_kv, W_q, W_k, W_v, W_o, n_heads, o, att_cache)


def multi_head_attention_backward(dout, cache):
    """Gradients of `multi_head_attention_forward`, in argument order.

    Parameters
    ----------
    dout : ndarray, shape (..., n_q, M)
    cache : tuple
        From `multi_head_attention_forward`.

    Returns
    -------
    dx_q, dx_kv, dW_q, dW_k, dW_v, dW_o : ndarray
        Each of its argument's shape; the weight gradients are summed over every
        leading (batch) dimension.
    """
    x_q, x_kv, W_q, W_k, W_v, W_o, n_heads, o, att_cache = cache
    dout = as_float_array(dout, "dout")
    expected = o.shape[:-1] + (W_o.shape[1],)
    if dout.shape != expected:
        raise ValueError(f"dout must have shape (..., n_q, M) = {expected}, got {dout.shape}")
    rows = lambda a: a.reshape(-1, a.shape[-1])  # noqa: E731  (..., n, X) -> (N*n, X)
    dW_o = rows(o).T @ rows(dout)  # (h*d_v, N*n_q) @ (N*n_q, M) -> (h*d_v, M)
    do = dout @ W_o.T  # (..., n_q, M) @ (M, h*d_v) -> (..., n_q, h*d_v)
    dO = split_heads(do, n_heads)  # (..., n_q, h*d_v) -> (..., h, n_q, d_v)
    dQ, dK, dV = attention_backward(dO, att_cache)  # each (..., h, n, d)
    dq = merge_heads(dQ)  # (..., h, n_q, d_k) -> (..., n_q, h*d_k)
    dk = merge_heads(dK)  # (..., h, n_k, d_k) -> (..., n_k, h*d_k)
    dv = merge_heads(dV)  # (..., h, n_k, d_v) -> (..., n_k, h*d_v)
    dW_q = rows(x_q).T @ rows(dq)  # (D, N*n_q) @ (N*n_q, h*d_k) -> (D, h*d_k)
    dW_k = rows(x_kv).T @ rows(dk)  # (D_kv, N*n_k) @ (N*n_k, h*d_k) -> (D_kv, h*d_k)
    dW_v = rows(x_kv).T @ rows(dv)  # (D_kv, N*n_k) @ (N*n_k, h*d_v) -> (D_kv, h*d_v)
    dx_q = dq @ W_q.T  # (..., n_q, h*d_k) @ (h*d_k, D) -> (..., n_q, D)
    dx_kv = dk @ W_k.T + dv @ W_v.T  # (..., n_k, D_kv): keys and values both read x_kv
    return dx_q, dx_kv, dW_q, dW_k, dW_v, dW_o


def multi_head_attention(x_q, x_kv, W_q, W_k, W_v, W_o, n_heads, mask=None, causal=False):
    """`multi_head_attention_forward` returning ``(out, weights)`` instead of a cache.

    Returns
    -------
    out : ndarray, shape (..., n_q, M)
    weights : ndarray, shape (..., h, n_q, n_k)
        Each head's attention weights.
    """
    out, cache = multi_head_attention_forward(x_q, x_kv, W_q, W_k, W_v, W_o, n_heads, mask, causal)
    return out, cache[-1][3]
