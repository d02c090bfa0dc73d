r"""Scaled dot-product attention, its backward pass, multi-head attention, and a
blockwise (online-softmax) version that never holds the full n_q x n_k matrix.

For queries ``Q`` (n_q, d_k), keys ``K`` (n_k, d_k) and values ``V`` (n_k, d_v),

.. math::

    \operatorname{Attention}(Q, K, V)
        = \operatorname{softmax}\!\left(\frac{Q K^T}{\sqrt{d_k}}\right) V,

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

A masked key is never read, neither its key nor its value: a NaN or an inf there does
not reach the queries that cannot see it (a matrix product would compute
``0 * NaN = NaN``; the kernels leave those terms out), so a row with nothing to attend
to is zeros whatever K and V hold, and the dense, blockwise and naive versions agree.
Whatever a query can see is read: a NaN in its scores or in a value it attends to
makes its row NaN. The gradients follow the same rule: a weight of exactly 0 passes
no gradient, and a NaN or inf goes only where it has an effect.

The blockwise version (:func:`attention_blockwise`) visits key blocks one at a time
and keeps, for each query row, a running maximum ``m``, a running sum of exponentials
``l`` and an unnormalised output ``A``. With ``S_j = Q K_j^T`` the scores of block j:

.. math::

    m_j &= \max(m_{j-1}, \operatorname{rowmax} S_j) \\
    D_j &= \operatorname{diag}(e^{m_{j-1} - m_j}) \\
    \tilde P_j &= \exp(S_j - m_j \mathbf 1^T) \\
    l_j &= D_j\, l_{j-1} + \tilde P_j \mathbf 1 \\
    A_j &= D_j\, A_{j-1} + \tilde P_j V_j \\
    O &= \operatorname{diag}(l)^{-1} A

The diagonal matrix ``D_j`` re-expresses everything summed so far relative to the new
maximum (left-multiplying by a diagonal matrix scales rows); once every block is seen,
``diag(l)^{-1}`` normalises the rows. Memory grows with n * block, not n^2.

These are the versions chapter 3 teaches, written the way it writes them. The fast
versions live in :mod:`lalib.engine.attention`, with the same signatures and tested
equal to these: a softmax computed in place and shared over the cores, queries
processed a block at a time, reused tile buffers. :func:`scaled_dot_product_attention`
is the public entry point and calls the engine. Chapter 7, "Matrix multiplication is
the engine", explains and measures them.
"""

import math
import os

import numpy as np

from lalib import activations
from lalib._checks import as_array, as_real_array, check_int, check_number

__all__ = [
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


# ------------------------------------------------------------------------------ helpers


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

    Raises
    ------
    ValueError
        If `n_q` or `n_k` is not a non-negative integer (a float or a bool is refused,
        not rounded), or the mask cannot be allocated.

    Examples
    --------
    >>> causal_mask(3).astype(int)
    array([[1, 0, 0],
           [1, 1, 0],
           [1, 1, 1]])
    >>> causal_mask(1, 3).astype(int)    # one new query sees the whole past
    array([[1, 1, 1]])
    """
    n_q = check_int(n_q, "n_q", minimum=0)  # 2.5 or True are not sizes
    n_k = n_q if n_k is None else check_int(n_k, "n_k", minimum=0)
    too_big = ValueError(
        f"the causal mask of shape (n_q, n_k) = {(n_q, n_k)} cannot be allocated "
        f"({n_q * n_k} entries)"
    )
    if max(n_q, n_k, n_q * n_k) > np.iinfo(np.intp).max:
        raise too_big  # more than any array can hold
    try:
        rows = np.arange(n_q)[:, None] + (n_k - n_q)  # (n_q, 1): each query's position
        return np.arange(n_k)[None, :] <= rows  # (1, n_k) <= (n_q, 1) -> (n_q, n_k)
    except MemoryError:  # beyond the memory
        raise too_big from None


def _validate(Q, K, V, mask=None, scale=None, causal=False):
    """Check shapes, unify dtypes, combine the masks; return what the kernels need."""
    Q = as_real_array(Q, "Q")
    K = as_real_array(K, "K")
    V = as_real_array(V, "V")
    causal = _flag(causal, "causal")
    for name, a, layout in (
        ("Q", Q, "(..., n_q, d_k)"),
        ("K", K, "(..., n_k, d_k)"),
        ("V", V, "(..., n_k, d_v)"),
    ):
        if a.ndim < 2:
            raise ValueError(
                f"{name} must have at least 2 dimensions {layout}, got shape {a.shape}"
            )
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
            raise ValueError(
                f"d_k must be at least 1 for the default scale, got Q {Q.shape}"
            )
        scale = 1.0 / math.sqrt(d_k)  # a Python float: float32 stays float32
    else:
        try:
            scale = check_number(scale, "scale")  # a Python float: float32 stays so
        except OverflowError:  # an int beyond the float range
            scale = math.inf
        if not math.isfinite(scale):
            raise ValueError(f"scale must be finite, got {scale}")
    dtype = np.result_type(Q, K, V)  # every input counts: float32 only if all are
    Q, K, V = (a.astype(dtype, copy=False) for a in (Q, K, V))
    scores_shape = lead + (n_q, n_k)
    if mask is not None:
        mask = as_array(mask, "mask")
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


def _flag(value, name):
    """`value` as a bool; ValueError unless it is True or False (or a NumPy bool)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _block_sizes(block_size):
    """``(block_q, block_k)`` from one int or a pair of them, each at least 1.

    Floats, strings and bools are refused, not truncated (``True`` is not a size).
    """
    pair = isinstance(block_size, (tuple, list)) or (
        isinstance(block_size, np.ndarray) and block_size.ndim > 0
    )
    items = tuple(block_size) if pair else (block_size, block_size)
    try:
        if len(items) != 2:
            raise ValueError
        return tuple(check_int(b, "block_size", minimum=1) for b in items)
    except ValueError:
        raise ValueError(
            "block_size must be an int >= 1 or a pair (block_q, block_k) of them, "
            f"got {block_size!r}"
        ) from None


def _drop_unread_terms(out, P, X, reads):
    """Fix ``out = P @ X`` in place so that it leaves out the terms `reads` excludes.

    A matrix product adds every term ``P[..., i, j] * X[..., j, t]``, and ``0 * NaN``
    and ``0 * inf`` are NaN: a NaN or an inf in a row of `X` that query i may not read
    (a masked key, weight 0) would still reach row i. Where `X` is finite this is one
    check and nothing changes; otherwise each column of `X` that holds a NaN or an inf
    is summed again without the terms where `reads` (bool, broadcastable to `P`) is
    False. Shapes: P (..., n, m), X (..., m, k), out (..., n, k).
    """
    finite = np.isfinite(X)  # (..., m, k)
    if finite.all():
        return out
    for t in np.flatnonzero(~finite.reshape(-1, X.shape[-1]).all(axis=0)):
        terms = P * X[..., None, :, t]  # (..., n, m) * (..., 1, m): every term of t
        out[..., t] = np.where(reads, terms, 0).sum(axis=-1)  # (..., n)
    return out


def _product(P, X, reads):
    """``P @ X`` (..., n, k) without the terms where `reads` is False (if given)."""
    out = P @ X  # (..., n, m) @ (..., m, k) -> (..., n, k)
    return out if reads is None else _drop_unread_terms(out, P, X, reads)


def _sum_to(g, shape):
    """Sum `g` over the axes that broadcasting added or stretched from `shape`."""
    if g.shape == tuple(shape):
        return g
    extra = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(extra)))  # drop leading axes added by broadcasting
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


# -------------------------------------------------------------------------------- dense


def attention_forward(Q, K, V, mask=None, scale=None, causal=False):
    """Scaled dot-product attention, keeping what the backward pass needs.

    The four steps of the module docstring, one line each. The same numbers, computed
    in place and shared over the cores, come from
    :func:`lalib.engine.attention.attention_forward`.

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
        What `attention_backward` needs, including the weights (..., n_q, n_k), with
        all the leading axes of Q, K and V (a read-only broadcast view where the
        weights do not depend on an axis, one that only V has).

    Raises
    ------
    ValueError
        If Q and K disagree on d_k, K and V on n_k, leading dimensions do not
        broadcast, `mask` is not boolean or does not broadcast to (..., n_q, n_k),
        `scale` is not a finite real number, `causal` is not a bool, or an input does
        not hold real numbers.

    Notes
    -----
    Every input counts for the dtype: the result is in ``np.result_type(Q, K, V)``,
    so float32 stays float32 only if Q, K and V all are.

    Examples
    --------
    >>> Q = np.array([[0.0, 2.0]]); K = np.array([[2.0, 0.0], [0.0, 2.0]])
    >>> V = np.array([[10.0, 0.0], [0.0, 10.0]])
    >>> out, cache = attention_forward(Q, K, V)
    >>> out.round(2), cache[3].round(3)     # the output and the weights P
    (array([[0.56, 9.44]]), array([[0.056, 0.944]]))
    """
    Q, K, V, mask, scale, lead = _validate(Q, K, V, mask, scale, causal)
    _check_dense_fits(Q, K, mask, lead)
    # Steps 1 and 2: dot products, scaled. Scaling the (n_q, d_k) factor Q costs
    # n_q d_k multiplications instead of n_q n_k for the scores.
    KT = K.swapaxes(-1, -2)  # (..., n_k, d_k) -> (..., d_k, n_k), a view
    S = (Q * scale) @ KT  # (..., n_q, d_k) @ (..., d_k, n_k) -> (..., n_q, n_k)
    if mask is not None:
        S = np.where(mask, S, -np.inf)  # masked scores -> -inf -> weight exactly 0
    # Step 3: a softmax along each row (a row of only -inf scores gives zeros).
    P = activations.softmax(S, axis=-1)  # (..., n_q, n_k), each row sums to 1 or is 0
    # Step 4: the weighted average of the values; a masked key's value is not read
    # (0 * NaN would be NaN: see _drop_unread_terms).
    out = _product(P, V, mask)  # (..., n_q, n_k) @ (..., n_k, d_v) -> (..., n_q, d_v)
    if mask is not None and not _all_finite(out, Q, K):
        P = np.where(mask, P, 0)  # a NaN row of weights is still 0 where masked
    return out, (Q, K, V, _with_lead(P, lead), out, scale)


def _physical_memory():
    """This machine's memory in bytes, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None


def _check_dense_fits(Q, K, mask, lead):
    """ValueError if the dense scores (..., n_q, n_k) would not fit in this machine's
    memory: `attention_blockwise` holds only one block of them at a time."""
    shape = lead + (Q.shape[-2], K.shape[-2])
    if mask is not None:
        shape = np.broadcast_shapes(shape, mask.shape)
    nbytes = math.prod(shape) * Q.dtype.itemsize
    memory = _physical_memory()
    if memory and nbytes > memory:
        raise ValueError(
            f"dense attention would hold scores of shape {shape} "
            f"({nbytes / 2**30:.1f} GiB), more than this machine's "
            f"{memory / 2**30:.1f} GiB of memory: attention_blockwise computes the "
            "same a block at a time"
        )


def _all_finite(*arrays):
    """True if no array holds a NaN or an inf (one pass over each)."""
    return all(np.isfinite(a).all() for a in arrays)


def _with_lead(P, lead):
    """The weights (..., n_q, n_k) with every leading axis of the problem, `lead`.

    Without a mask, an axis that only V has (values batched, queries and keys shared)
    is not in the scores: the weights are then a read-only broadcast view, no copy.
    """
    shape = lead + P.shape[-2:]
    return P if P.shape == shape else np.broadcast_to(P, shape)


def attention_backward(dout, cache):
    """Gradients of `attention_forward` with respect to Q, K and V.

    With ``S = scale Q K^T``, ``P = softmax(S)`` row-wise and ``O = P V``:

    - ``dV = P^T dO`` and ``dP = dO V^T``;
    - each row's softmax Jacobian is ``diag(p) - p p^T``, so
      ``dS = P * (dP - rowsum(P * dP))``, and ``rowsum(P * dP) = rowsum(dO * O)``
      (because ``O = P V``): an (n_q, d_v) product instead of an (n_q, n_k) one;
    - ``dQ = scale dS K`` and ``dK = scale dS^T Q``.

    Masked weights are 0, so their ``dS`` is 0: masked keys and fully masked rows get
    no gradient through the scores. That holds even when an input holds a NaN or an
    inf (``0 * NaN`` would be NaN): a weight of exactly 0 passes no gradient either
    way, so a NaN reaches only the gradients it has an effect on. The caches of
    :func:`lalib.engine.attention.attention_forward` work here too.

    Parameters
    ----------
    dout : ndarray, shape (..., n_q, d_v)
        dL/d(out); cast to the cache's dtype (float32 stays float32).
    cache : tuple
        From `attention_forward`.

    Returns
    -------
    dQ : ndarray, shape of Q
    dK : ndarray, shape of K
    dV : ndarray, shape of V
        Summed over any leading dimensions that were broadcast in the forward pass.

    Raises
    ------
    ValueError
        If `dout` does not have the output's shape or does not hold real numbers, or
        `cache` is not a cache of `attention_forward`.
    """
    if not isinstance(cache, tuple) or len(cache) != 6:
        raise ValueError(
            "cache must be the (Q, K, V, P, out, scale) tuple returned by "
            f"attention_forward, got {type(cache).__name__}"
        )
    Q, K, V, P, out, scale = cache
    dout = as_real_array(dout, "dout")
    if dout.shape != out.shape:
        raise ValueError(
            f"dout must have the output's shape (..., n_q, d_v) = {out.shape}, "
            f"got {dout.shape}"
        )
    dout = dout.astype(out.dtype, copy=False)  # float32 stays float32
    # A weight of exactly 0 (a masked key) passes no gradient. The products below would
    # still compute 0 * NaN = NaN there if an input holds a NaN or an inf, so in that
    # (rare) case `reads` says which terms to keep; None: all of them.
    finite = _all_finite(dout, out, Q, K, V)
    reads = None if finite else P != 0  # (..., n_q, n_k)
    readsT = None if finite else reads.swapaxes(-1, -2)  # (..., n_k, n_q)
    # (..., n_k, n_q) @ (..., n_q, d_v) -> (..., n_k, d_v)
    dV = _product(P.swapaxes(-1, -2), dout, readsT)
    # dP: (..., n_q, d_v) @ (..., d_v, n_k) -> (..., n_q, n_k)
    dS = dout @ V.swapaxes(-1, -2)
    delta = np.sum(dout * out, axis=-1, keepdims=True)  # (..., n_q, 1) = rowsum(P * dP)
    dS -= delta  # (..., n_q, n_k), in place
    dS *= P  # (..., n_q, n_k): dS = P * (dP - delta)
    if reads is not None:
        np.copyto(dS, 0, where=~reads)  # 0 * NaN: still no gradient through weight 0
    # (..., n_q, n_k) @ (..., n_k, d_k) -> (..., n_q, d_k)
    dQ = _product(dS, K, reads) * scale
    # (..., n_k, n_q) @ (..., n_q, d_k) -> (..., n_k, d_k)
    dK = _product(dS.swapaxes(-1, -2), Q, readsT) * scale
    return _sum_to(dQ, Q.shape), _sum_to(dK, K.shape), _sum_to(dV, V.shape)


def scaled_dot_product_attention(
    Q, K, V, mask=None, scale=None, causal=False, need_weights=True
):
    """``softmax(Q K^T / sqrt(d_k)) V`` and the attention weights.

    The public entry point: it computes what `attention_forward` computes (or, without
    the weights, `attention_blockwise`) with the fast kernels of
    :func:`lalib.engine.attention.scaled_dot_product_attention`.

    Parameters and errors are those of `attention_forward`, plus:

    need_weights : bool
        With False, the weights are not returned (``None`` stands in their place) and
        never exist all at once: the output is computed
        `lalib.engine.attention.DENSE_BLOCK_Q` queries at a time against all the keys,
        which is `attention_blockwise` with a single key block (so its online
        rescaling never has anything to do). Memory is then one block of scores, not
        all ``n_q x n_k`` of them, and the rows are normalised after the product, on
        (n_q, d_v) numbers instead of (n_q, n_k). This is what PyTorch's
        ``scaled_dot_product_attention`` computes; the result equals the default's
        ``out`` up to rounding.

    Returns
    -------
    out : ndarray, shape (..., n_q, d_v)
    weights : ndarray, shape (..., n_q, n_k), or None
        Row i holds how much query i takes from each value; every row sums to 1,
        except a row with nothing to attend to, which is all zeros. The leading axes
        are all those of Q, K and V broadcast together, even one that only V has (the
        weights do not depend on it: they are then a read-only broadcast view). None
        when ``need_weights=False``.

    Examples
    --------
    A query that matches the second key much better than the first takes mostly the
    second value:

    >>> Q = np.array([[0.0, 2.0]]); K = np.array([[2.0, 0.0], [0.0, 2.0]])
    >>> V = np.array([[10.0, 0.0], [0.0, 10.0]])
    >>> out, w = scaled_dot_product_attention(Q, K, V)   # scores 0 and 4 / sqrt(2)
    >>> w.round(3), out.round(2)
    (array([[0.056, 0.944]]), array([[0.56, 9.44]]))
    >>> no = np.array([[False, False]])
    >>> out, w = scaled_dot_product_attention(Q, K, V, mask=no)
    >>> out, w      # nothing to attend to: zeros, not NaN
    (array([[0., 0.]]), array([[0., 0.]]))
    """
    from lalib.engine import attention as engine  # here: the engine imports this module

    return engine.scaled_dot_product_attention(
        Q, K, V, mask=mask, scale=scale, causal=causal, need_weights=need_weights
    )


def attention_naive(Q, K, V, mask=None, scale=None, causal=False):
    """The deliberately slow reference: one Python loop per batch entry, query and key.

    Computes exactly what `scaled_dot_product_attention` does, one number at a time,
    so the tests can compare the vectorised kernel against the formula itself. A
    masked key is skipped, never read: the convention of the module docstring.

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
                    dot = sum(
                        float(Qb[b + (i, t)]) * float(Kb[b + (j, t)])
                        for t in range(d_k)
                    )
                    scores.append((j, scale * dot))
            if not scores:
                continue  # nothing to attend to: the row stays zero
            top = max(s for _, s in scores)
            if top == -math.inf:  # only -inf scores: zero weights, as softmax defines
                top = 0.0  # so exp(-inf - 0) = 0 below, not exp(-inf + inf) = NaN
            exps = [(j, math.exp(s - top)) for j, s in scores]
            total = sum(e for _, e in exps)
            for j, e in exps:
                p = e / total if total != 0 else 0.0
                weights[b + (i, j)] = p
                for t in range(d_v):  # a key it may see is read, even with weight 0
                    out[b + (i, t)] += p * float(Vb[b + (j, t)])
    return out, weights


# ---------------------------------------------------------------------------- blockwise


def attention_blockwise(Q, K, V, block_size=128, mask=None, scale=None, causal=False):
    """Attention computed block by block with an online softmax (FlashAttention-style).

    Same result as ``scaled_dot_product_attention(Q, K, V, mask, scale, causal)[0]``,
    but the scores only ever exist as (..., block_q, block_k) tiles: each block of
    queries is compared with one block of keys at a time, and the running maximum
    ``m``, running sum ``l`` and unnormalised output ``A`` of each query row are
    rescaled by the diagonal matrix ``D = diag(exp(m_old - m_new))`` whenever a new
    block raises the maximum (the equations of the module docstring). Besides the
    output, memory holds a few tiles of scores and the (block_q, d_v) running output
    of one query block: it grows with n * block, not n^2. With ``causal=True``, key
    blocks entirely in a query block's future are skipped, which halves the work.

    :func:`lalib.engine.attention.attention_blockwise` computes the same thing in
    reused buffers and in the output array itself, and takes the batch entries and
    heads in groups when one tile over all of them would exceed a memory budget.

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

    Raises
    ------
    ValueError
        As `attention_forward`, and if `block_size` is not an int >= 1 or a pair of
        them (a float, a string or a bool is refused, not truncated).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> Q, K = rng.normal(size=(3, 10, 4)), rng.normal(size=(3, 7, 4))
    >>> V = rng.normal(size=(3, 7, 2))
    >>> dense, _ = attention_forward(Q, K, V, causal=True)
    >>> blocks = attention_blockwise(Q, K, V, block_size=3, causal=True)
    >>> bool(np.allclose(blocks, dense))
    True
    """
    # The causal mask is applied one tile at a time below, never built in full.
    Q, K, V, mask, scale, lead = _validate(Q, K, V, mask, scale, causal=False)
    bq, bk = _block_sizes(block_size)
    causal = _flag(causal, "causal")
    n_q, n_k, d_v = Q.shape[-2], K.shape[-2], V.shape[-1]
    offset = n_k - n_q  # query i sits at key position i + offset (see causal_mask)
    # Views with every leading axis: each tile of scores then has them all, even those
    # that only V has. A mask is read one tile at a time.
    Q = np.broadcast_to(Q, lead + (n_q, Q.shape[-1]))  # (..., n_q, d_k)
    if mask is not None:
        mask = np.broadcast_to(mask, mask.shape[:-2] + (n_q, n_k))  # (..., n_q, n_k)
    out = np.empty(lead + (n_q, d_v), dtype=Q.dtype)  # every row is written below
    for i0 in range(0, n_q, bq):
        i1 = min(i0 + bq, n_q)
        Qi = Q[..., i0:i1, :] * scale  # (..., bq, d_k): this query block, scaled once
        m = np.full(lead + (i1 - i0, 1), -np.inf, dtype=Q.dtype)  # running row maximum
        l = np.zeros(lead + (i1 - i0, 1), dtype=Q.dtype)  # running sum of exp(S - m)
        A = np.zeros(lead + (i1 - i0, d_v), dtype=Q.dtype)  # running unnormalised P V
        for j0 in range(0, n_k, bk):
            if causal and j0 > i1 - 1 + offset:
                break  # this key block and all later ones are in every query's future
            j1 = min(j0 + bk, n_k)
            KjT = K[..., j0:j1, :].swapaxes(-1, -2)  # (..., d_k, bk), a view
            S = Qi @ KjT  # S_j: (..., bq, d_k) @ (..., d_k, bk) -> (..., bq, bk)
            seen = None  # which scores of the tile may be read; None: all of them
            if mask is not None:
                seen = mask[..., i0:i1, j0:j1]  # (..., bq, bk)
                S = np.where(seen, S, -np.inf)  # masked -> -inf
            if causal:  # the tile of causal_mask(n_q, n_k): (bq, 1) < (bk,) -> (bq, bk)
                future = np.arange(i0, i1)[:, None] + offset < np.arange(j0, j1)
                S = np.where(future, -np.inf, S)  # keys after the query's position
                seen = ~future if seen is None else seen & ~future
            m_new = np.maximum(m, S.max(axis=-1, keepdims=True))  # m_j: (..., bq, 1)
            # A row that has seen only masked keys so far has m_new = -inf; subtracting
            # 0 instead keeps exp(-inf - 0) = 0 (exp(-inf + inf) would be NaN).
            m_ref = np.where(np.isneginf(m_new), 0, m_new)  # (..., bq, 1)
            S -= m_ref  # S_j - m_j 1^T: (..., bq, bk), every entry <= 0
            P = np.exp(S, out=S)  # P~_j, written over the scores: one tile, not three
            D = np.exp(m - m_ref)  # (..., bq, 1): the diagonal of D_j, entries <= 1
            l = D * l + P.sum(axis=-1, keepdims=True)  # l_j = D_j l + P~_j 1
            # A_j = D_j A + P~_j V_j: (..., bq, bk) @ (..., bk, d_v) -> (..., bq, d_v),
            # the values of masked keys left unread (see _drop_unread_terms)
            A = D * A + _product(P, V[..., j0:j1, :], seen)
            m = m_new
        # O = diag(l)^-1 A, and zeros for a row that had nothing to attend to (l = 0).
        out[..., i0:i1, :] = np.divide(A, l, out=np.zeros_like(A), where=l != 0)
    return out


# --------------------------------------------------------------------------- multi-head


def _heads_array(x, ndim, layout):
    """`x` as an array of at least `ndim` dimensions `layout`; a clear error if not."""
    x = as_array(x, "x")
    if x.ndim == 0 and x.dtype == object:  # None, or some other non-array object
        raise TypeError(f"x must be an array {layout}, got {type(x.item()).__name__}")
    if x.ndim < ndim:
        raise ValueError(
            f"x must have at least {ndim} dimensions {layout}, got shape {x.shape}"
        )
    return x


def split_heads(x, n_heads):
    """Reshape (..., n, h * d) into (..., h, n, d).

    Head k takes columns ``k*d`` to ``(k+1)*d - 1``.

    Parameters
    ----------
    x : array_like, shape (..., n, h * d)
    n_heads : int
        h, at least 1; it must divide the last dimension.

    Returns
    -------
    ndarray, shape (..., h, n, d)
        A view of `x` when `x` is an array.

    Raises
    ------
    ValueError
        If `x` has fewer than 2 dimensions, or `n_heads` is not a positive integer
        that divides its last dimension.

    Examples
    --------
    >>> split_heads(np.arange(12).reshape(2, 6), 3)[1]    # head 1: columns 2 and 3
    array([[2, 3],
           [8, 9]])
    """
    x = _heads_array(x, 2, "(..., n, h*d)")
    n_heads = check_int(n_heads, "n_heads", minimum=1)
    *lead, n, hd = x.shape
    if hd % n_heads:
        raise ValueError(
            f"the last dimension {hd} of x {x.shape} (..., n, h*d) is not divisible "
            f"by n_heads={n_heads}"
        )
    x = x.reshape(*lead, n, n_heads, hd // n_heads)  # (..., n, h*d) -> (..., n, h, d)
    return x.swapaxes(-2, -3)  # (..., n, h, d) -> (..., h, n, d), a view


def merge_heads(x):
    """The inverse of `split_heads`: (..., h, n, d) -> (..., n, h * d).

    Raises
    ------
    ValueError
        If `x` has fewer than 3 dimensions (TypeError if it is not an array at all).
    """
    x = _heads_array(x, 3, "(..., h, n, d)")
    *lead, h, n, d = x.shape
    x = x.swapaxes(-2, -3)  # (..., h, n, d) -> (..., n, h, d)
    return x.reshape(*lead, n, h * d)  # (..., n, h, d) -> (..., n, h*d), a copy


def _validate_mha(x_q, x_kv, W_q, W_k, W_v, W_o, n_heads):
    named = (
        (x_q, "x_q"),
        (x_kv, "x_kv"),
        (W_q, "W_q"),
        (W_k, "W_k"),
        (W_v, "W_v"),
        (W_o, "W_o"),
    )
    arrays = [as_real_array(a, name) for a, name in named]
    x_q, x_kv, W_q, W_k, W_v, W_o = arrays
    for name, a in (("x_q", x_q), ("x_kv", x_kv)):
        if a.ndim < 2:
            raise ValueError(
                f"{name} must have at least 2 dimensions (..., n, D), "
                f"got shape {a.shape}"
            )
    for name, a, layout in (
        ("W_q", W_q, "(D, h*d_k)"),
        ("W_k", W_k, "(D_kv, h*d_k)"),
        ("W_v", W_v, "(D_kv, h*d_v)"),
        ("W_o", W_o, "(h*d_v, M)"),
    ):
        if a.ndim != 2:
            raise ValueError(
                f"{name} must have 2 dimensions {layout}, got shape {a.shape}"
            )
    if x_q.shape[:-2] != x_kv.shape[:-2]:
        raise ValueError(
            f"x_q {x_q.shape} and x_kv {x_kv.shape} must have the same leading "
            "dimensions"
        )
    if x_q.shape[-1] != W_q.shape[0]:
        raise ValueError(
            f"x_q has D={x_q.shape[-1]} (shape {x_q.shape}) but W_q is {W_q.shape}, "
            f"expected ({x_q.shape[-1]}, h*d_k)"
        )
    for name, W in (("W_k", W_k), ("W_v", W_v)):
        if x_kv.shape[-1] != W.shape[0]:
            raise ValueError(
                f"x_kv has D_kv={x_kv.shape[-1]} (shape {x_kv.shape}) but {name} is "
                f"{W.shape}, expected ({x_kv.shape[-1]}, ...)"
            )
    if W_q.shape[1] != W_k.shape[1]:
        raise ValueError(
            f"W_q {W_q.shape} and W_k {W_k.shape} must have the same number of "
            "columns h*d_k"
        )
    if W_v.shape[1] != W_o.shape[0]:
        raise ValueError(
            f"W_o {W_o.shape} must have as many rows as W_v {W_v.shape} has "
            "columns (h*d_v)"
        )
    n_heads = check_int(n_heads, "n_heads", minimum=1)
    if W_q.shape[1] % n_heads or W_v.shape[1] % n_heads:
        raise ValueError(
            f"n_heads={n_heads} must divide h*d_k={W_q.shape[1]} and "
            f"h*d_v={W_v.shape[1]}"
        )
    dtype = np.result_type(*arrays)
    return [a.astype(dtype, copy=False) for a in arrays] + [n_heads]


def multi_head_attention_forward(
    x_q, x_kv, W_q, W_k, W_v, W_o, n_heads, mask=None, causal=False
):
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

    Raises
    ------
    ValueError
        If the shapes disagree (each message names the two that do), `n_heads` is not
        a positive integer dividing h*d_k and h*d_v, or `mask` and `causal` are not
        what `attention_forward` accepts. The result is in the ``np.result_type`` of
        all six arrays.
    """
    x_q, x_kv, W_q, W_k, W_v, W_o, n_heads = _validate_mha(
        x_q, x_kv, W_q, W_k, W_v, W_o, n_heads
    )
    q = x_q @ W_q  # (..., n_q, D) @ (D, h*d_k) -> (..., n_q, h*d_k)
    k = x_kv @ W_k  # (..., n_k, D_kv) @ (D_kv, h*d_k) -> (..., n_k, h*d_k)
    v = x_kv @ W_v  # (..., n_k, D_kv) @ (D_kv, h*d_v) -> (..., n_k, h*d_v)
    Q = split_heads(q, n_heads)  # (..., n_q, h*d_k) -> (..., h, n_q, d_k)
    K = split_heads(k, n_heads)  # (..., n_k, h*d_k) -> (..., h, n_k, d_k)
    V = split_heads(v, n_heads)  # (..., n_k, h*d_v) -> (..., h, n_k, d_v)
    # (..., h, n_q, d_k), (..., h, n_k, d_k), (..., h, n_k, d_v) -> (..., h, n_q, d_v)
    O, att_cache = attention_forward(Q, K, V, mask=mask, causal=causal)
    o = merge_heads(O)  # (..., h, n_q, d_v) -> (..., n_q, h*d_v)
    out = o @ W_o  # (..., n_q, h*d_v) @ (h*d_v, M) -> (..., n_q, M)
    return out, (x_q, x_kv, W_q, W_k, W_v, W_o, n_heads, o, att_cache)


def multi_head_attention_backward(dout, cache):
    """Gradients of `multi_head_attention_forward`, in argument order.

    Parameters
    ----------
    dout : ndarray, shape (..., n_q, M)
        Cast to the cache's dtype (float32 stays float32).
    cache : tuple
        From `multi_head_attention_forward`.

    Returns
    -------
    dx_q, dx_kv, dW_q, dW_k, dW_v, dW_o : ndarray
        Each of its argument's shape; the weight gradients are summed over every
        leading (batch) dimension.
    """
    if not isinstance(cache, tuple) or len(cache) != 9:
        raise ValueError(
            "cache must be the tuple returned by multi_head_attention_forward, got "
            f"{type(cache).__name__}"
        )
    x_q, x_kv, W_q, W_k, W_v, W_o, n_heads, o, att_cache = cache
    dout = as_real_array(dout, "dout")
    expected = o.shape[:-1] + (W_o.shape[1],)
    if dout.shape != expected:
        raise ValueError(
            f"dout must have shape (..., n_q, M) = {expected}, got {dout.shape}"
        )
    dout = dout.astype(o.dtype, copy=False)  # float32 stays float32

    def rows(a):  # (..., n, X) -> (N*n, X)
        return a.reshape(-1, a.shape[-1])

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


def multi_head_attention(
    x_q, x_kv, W_q, W_k, W_v, W_o, n_heads, mask=None, causal=False
):
    """`multi_head_attention_forward` returning ``(out, weights)`` instead of a cache.

    Returns
    -------
    out : ndarray, shape (..., n_q, M)
    weights : ndarray, shape (..., h, n_q, n_k)
        Each head's attention weights.
    """
    out, cache = multi_head_attention_forward(
        x_q, x_kv, W_q, W_k, W_v, W_o, n_heads, mask, causal
    )
    return out, cache[-1][3]
