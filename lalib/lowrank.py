"""Low rank in trained networks: truncated SVDs of weights, and low-rank updates.

Eckart–Young. Write a weight matrix ``W`` (D, M) as its SVD, ``W = U diag(s) V^T`` with
``s_1 >= s_2 >= ... >= s_K >= 0`` and ``K = min(D, M)``. Keeping the first r terms,

    W_r = U[:, :r] diag(s[:r]) V[:, :r]^T,

gives the best matrix of rank at most r in both the Frobenius and the spectral norm
(Eckart and Young 1936, Mirsky 1960), and the errors are the tail of the spectrum:

    ||W - W_r||_F = sqrt(s_{r+1}^2 + ... + s_K^2),    ||W - W_r||_2 = s_{r+1}.

Stored as the factors ``U_r diag(s_r)`` (D, r) and ``V_r^T`` (r, M), the layer costs
``r (D + M)`` numbers instead of ``D M``, and ``x @ W_r`` costs ``N r (D + M)``
multiply-adds instead of ``N D M``.

Low-rank updates (LoRA, Hu et al. 2021). To adapt a trained layer ``x @ W + b`` to a new
task, keep ``W`` and ``b`` frozen and learn a rank-r correction instead:

    out = x @ (W + alpha A B) + b,   A (D, r),  B (r, M),

which trains ``r (D + M)`` numbers per layer instead of ``D M + M``. ``B`` starts at
zero, so the adapted network starts exactly as the trained one (Hu et al. draw A at
random and set B to zero, as `init_lora` does). Hu et al. scale the update by
``alpha / r``; here `alpha` is the whole scale, pass ``alpha / r`` to reproduce theirs.

Shapes follow `lalib.linear`: a batch of rows ``x`` (N, D), ``W`` (D, M), ``b`` (M,).
The MLP functions take lalib.mlp's parameter list ``[W1, b1, W2, b2, ...]`` and a list
of adapters, one per layer: ``None`` (the layer stays as it is) or a pair ``(A, B)``.

Bad input. The SVD routines do not take float16: it is computed in float32 and returned
as float16. NaN or inf in a matrix gives NaN singular values and factors (every one of
them depends on every entry) instead of an error from LAPACK.
"""

import numpy as np

from lalib._checks import (
    as_array,
    as_real_array,
    check_int,
    check_ndim,
    check_number,
    check_positive_finite,
    check_rng,
    result_dtype,
)
from lalib.activations import relu_backward, relu_forward
from lalib.linear import linear_forward
from lalib.losses import softmax_cross_entropy
from lalib.mlp import _check_labels, _check_layers, _check_params

__all__ = [
    "compress_params",
    "eckart_young_errors",
    "init_lora",
    "lora",
    "lora_backward",
    "lora_forward",
    "lora_mlp_loss",
    "low_rank_approx",
    "low_rank_factors",
    "merge_lora",
    "train_lora",
]


# --------------------------------------------------------------------------- the SVD


def _check_matrix(W, name="W"):
    W = as_real_array(W, name)
    check_ndim(W, 2, name, "(D, M)")
    if 0 in W.shape:
        raise ValueError(
            f"{name} must have at least one row and one column (D, M), got shape "
            f"{W.shape}"
        )
    return W


def _check_rank(r, shape, name="r"):
    """`r` as an int in 1..min(D, M); the message names `name` and the shape."""
    what = f"{name} (a rank, for a matrix of shape {shape})"
    return check_int(r, what, 1, min(shape))


def _svd(W):
    """Reduced SVD ``U (D, K), s (K,), Vt (K, M)`` of a checked `W`, in W's dtype.

    float16 is computed in float32 (LAPACK has no float16); a matrix holding NaN or inf
    gives all-NaN factors instead of LAPACK's "did not converge".
    """
    work = np.float32 if W.dtype == np.float16 else W.dtype
    D, M = W.shape
    K = min(D, M)
    if not np.all(np.isfinite(W)):
        nan = np.array(np.nan, dtype=W.dtype)
        return (
            np.full((D, K), nan),  # (D, K)
            np.full(K, nan),  # (K,)
            np.full((K, M), nan),  # (K, M)
        )
    U, s, Vt = np.linalg.svd(W.astype(work, copy=False), full_matrices=False)
    return U.astype(W.dtype), s.astype(W.dtype), Vt.astype(W.dtype)


def low_rank_factors(W, r):
    """The factors of the best rank-r approximation of `W`: ``W_r = L @ R``.

    Parameters
    ----------
    W : ndarray, shape (D, M)
        At least one row and one column; integers are promoted to float64.
    r : int
        The rank, ``1 <= r <= min(D, M)``.

    Returns
    -------
    L : ndarray, shape (D, r)
        ``U[:, :r] * s[:r]``: the first r left singular vectors, scaled.
    R : ndarray, shape (r, M)
        ``Vt[:r]``: the first r right singular vectors, as rows.

    Both in the dtype of `W`. Together they hold ``r (D + M)`` numbers.

    Raises
    ------
    ValueError
        If `W` is not a non-empty 2-D array of real numbers or `r` is not an integer in
        ``1..min(D, M)``.

    Examples
    --------
    A rank-1 matrix is rebuilt exactly from one pair of factors:

    >>> W = np.outer([1.0, 2.0, 3.0], [1.0, -1.0])
    >>> L, R = low_rank_factors(W, 1)
    >>> L.shape, R.shape, bool(np.allclose(L @ R, W))
    ((3, 1), (1, 2), True)
    """
    W = _check_matrix(W)
    r = _check_rank(r, W.shape)
    U, s, Vt = _svd(W)  # (D, K), (K,), (K, M)
    return U[:, :r] * s[:r], Vt[:r].copy()  # (D, r), (r, M)


def low_rank_approx(W, r):
    """The best approximation of `W` of rank at most r (the truncated SVD).

    By the Eckart–Young theorem no matrix of rank r is closer to `W` in the Frobenius
    or the spectral norm; `eckart_young_errors` gives both distances.

    Parameters
    ----------
    W : ndarray, shape (D, M)
    r : int
        ``1 <= r <= min(D, M)``; ``r = min(D, M)`` gives `W` back (up to rounding).

    Returns
    -------
    W_r : ndarray, shape (D, M)
        In the dtype of `W`.

    Raises
    ------
    ValueError
        As `low_rank_factors`.
    """
    L, R = low_rank_factors(W, r)  # (D, r), (r, M)
    return L @ R  # (D, r) @ (r, M) -> (D, M)


def eckart_young_errors(W):
    """The singular values of `W` and the errors of its truncated SVD at every rank.

    Parameters
    ----------
    W : ndarray, shape (D, M)

    Returns
    -------
    s : ndarray, shape (K,)
        The singular values, decreasing, ``K = min(D, M)``.
    frobenius : ndarray, shape (K + 1,)
        ``frobenius[r] = ||W - W_r||_F = sqrt(s[r]**2 + ... + s[K-1]**2)`` (0-based
        ``s``), for ``r = 0, ..., K``: ``frobenius[0]`` is ``||W||_F`` (the rank-0
        approximation is zero) and ``frobenius[K]`` is 0. The tail sums are
        accumulated from the smallest singular value up, so small errors keep their
        accuracy.
    spectral : ndarray, shape (K + 1,)
        ``spectral[r] = ||W - W_r||_2 = s[r]``, the largest singular value left out;
        ``spectral[K] = 0``.

    All in the dtype of `W`.

    Raises
    ------
    ValueError
        If `W` is not a non-empty 2-D array of real numbers.

    Examples
    --------
    >>> s, fro, spec = eckart_young_errors(np.diag([3.0, 4.0, 0.0]))
    >>> s, fro, spec
    (array([4., 3., 0.]), array([5., 3., 0., 0.]), array([4., 3., 0., 0.]))
    """
    W = _check_matrix(W)
    s = _svd(W)[1]  # (K,)
    zero = np.zeros(1, dtype=s.dtype)
    tail = np.cumsum((s * s)[::-1])[::-1]  # (K,): tail[r] = s[r]^2 + ... + s[K-1]^2
    frobenius = np.sqrt(np.concatenate([tail, zero]))  # (K + 1,)
    spectral = np.concatenate([s, zero])  # (K + 1,)
    return s, frobenius, spectral


def _check_ranks(ranks, params):
    """`ranks` as a list with one int (1..min(D, M)) or None per layer of `params`."""
    n_layers = len(params) // 2
    if not isinstance(ranks, (list, tuple)):
        raise TypeError(
            f"ranks must be a list with one rank (an int, or None to keep the layer) "
            f"per layer, {n_layers} here, got {type(ranks).__name__}"
        )
    if len(ranks) != n_layers:
        raise ValueError(
            f"ranks must have one entry per layer of params ({n_layers}), got "
            f"{len(ranks)}"
        )
    return [
        None
        if r is None
        else _check_rank(r, np.shape(params[2 * i]), f"ranks[{i}] (layer {i + 1})")
        for i, r in enumerate(ranks)
    ]


def compress_params(params, ranks):
    """Replace the weights of an MLP by their truncated SVDs, layer by layer.

    Parameters
    ----------
    params : list of ndarray
        ``[W1, b1, ..., WL, bL]`` as from `lalib.mlp.init_params`; not modified.
    ranks : list of (int or None)
        One entry per layer: the rank r to keep (``1 <= r <= min(D, M)``), or None to
        leave the layer as it is.

    Returns
    -------
    compressed : list of ndarray
        New arrays in the layout of `params` (so `lalib.mlp` runs it unchanged): each
        compressed ``W`` is replaced by its rank-r approximation, stored densely; the
        biases are copied.
    n_before : int
        The number of parameters of `params`, ``sum(D M + M)``.
    n_after : int
        The number of parameters of the compressed network stored as factors: a layer
        of rank r counts ``r (D + M) + M``, even where that is more than ``D M + M``.

    Raises
    ------
    ValueError
        If `params` is not a list of (W, b) pairs that chain, or `ranks` does not hold
        one valid rank or None per layer.
    TypeError
        If `params` or `ranks` is not a list (or tuple).

    Examples
    --------
    >>> params = [np.ones((4, 3)), np.zeros(3), np.ones((3, 2)), np.zeros(2)]
    >>> _, n_before, n_after = compress_params(params, [1, None])
    >>> n_before, n_after  # (12 + 3) + (6 + 2) before; 1 * (4 + 3) + 3 + 8 after
    (23, 18)
    """
    _check_params(params)
    _check_layers(params)
    ranks = _check_ranks(ranks, params)
    compressed, n_before, n_after = [], 0, 0
    for i, r in enumerate(ranks):
        W = _check_matrix(params[2 * i], f"params[{2 * i}]")
        b = as_real_array(params[2 * i + 1], f"params[{2 * i + 1}]")
        D, M = W.shape
        n_before += D * M + M
        if r is None:
            compressed.append(W.copy())  # (D, M)
            n_after += D * M + M
        else:
            compressed.append(low_rank_approx(W, r))  # (D, M), rank r
            n_after += r * (D + M) + M
        compressed.append(b.copy())  # (M,)
    return compressed, n_before, n_after


# ------------------------------------------------------------------ low-rank updates


def init_lora(W, r, rng):
    """A rank-r update ``(A, B)`` for `W` that starts at zero (Hu et al. 2021).

    Parameters
    ----------
    W : ndarray, shape (D, M)
        The frozen weights (only their shape and dtype are used).
    r : int
        The rank of the update, ``1 <= r <= min(D, M)``.
    rng : numpy.random.Generator
        Draws `A`; pass a seeded one for reproducible results.

    Returns
    -------
    A : ndarray, shape (D, r)
        Normal entries of variance ``1 / D``, so that ``x @ A`` has entries of the
        scale of those of `x`.
    B : ndarray, shape (r, M)
        Zeros: ``A @ B = 0`` and the adapted layer starts as the trained one. The first
        gradient step changes only `B` (the gradient of `A` is ``x^T dout B^T = 0``).

    Both in the floating dtype of `W` (integers: float64).

    Raises
    ------
    ValueError
        If `W` is not a non-empty 2-D array of real numbers or `r` is not an integer in
        ``1..min(D, M)``.
    TypeError
        If `rng` is not a ``numpy.random.Generator``.
    """
    W = _check_matrix(W)
    r = _check_rank(r, W.shape)
    check_rng(rng, "rng")
    D, M = W.shape
    A = (rng.standard_normal((D, r)) / np.sqrt(D)).astype(W.dtype)  # (D, r)
    B = np.zeros((r, M), dtype=W.dtype)  # (r, M)
    return A, B


def _check_alpha(alpha):
    value = check_number(alpha, "alpha")
    if not np.isfinite(value):
        raise ValueError(f"alpha must be a finite number, got {alpha!r}")
    return value


def _check_update(W, A, B, a_name="A", b_name="B", w_name="W"):
    """Check A (D, r) and B (r, M) against a checked W (D, M); return them."""
    A = as_real_array(A, a_name)
    B = as_real_array(B, b_name)
    check_ndim(A, 2, a_name, "(D, r)")
    check_ndim(B, 2, b_name, "(r, M)")
    D, M = W.shape
    if A.shape[0] != D:
        raise ValueError(
            f"{a_name} must have D={D} rows, one per row of {w_name} {W.shape}, got "
            f"shape {A.shape}"
        )
    if B.shape[1] != M:
        raise ValueError(
            f"{b_name} must have M={M} columns, one per column of {w_name} {W.shape}, "
            f"got shape {B.shape}"
        )
    if A.shape[1] != B.shape[0]:
        raise ValueError(
            f"{a_name} (D, r) and {b_name} (r, M) must share r, got {a_name} {A.shape} "
            f"and {b_name} {B.shape}"
        )
    r = A.shape[1]
    if not 1 <= r <= min(D, M):
        raise ValueError(
            f"the rank r of {a_name} {A.shape} and {b_name} {B.shape} must be in "
            f"1..min(D, M) = 1..{min(D, M)} for {w_name} of shape {W.shape}, got r={r}"
        )
    return A, B


def _validate(x, W, b, A, B, alpha):
    x = as_real_array(x, "x")
    W = _check_matrix(W)
    b = as_real_array(b, "b")
    check_ndim(x, 2, "x", "(N, D)")
    if x.shape[1] != W.shape[0]:
        raise ValueError(
            f"x has D={x.shape[1]} features (shape {x.shape}) but W expects "
            f"D={W.shape[0]} (shape {W.shape}); x must be (N, D) and W (D, M)"
        )
    if b.shape != (W.shape[1],):
        raise ValueError(f"b must have shape (M,) = ({W.shape[1]},), got {b.shape}")
    A, B = _check_update(W, A, B)
    alpha = _check_alpha(alpha)
    dtype = result_dtype(x, W, A, B)
    x, W, b, A, B = (a.astype(dtype, copy=False) for a in (x, W, b, A, B))
    return x, W, b, A, B, alpha


def lora_forward(x, W, b, A, B, alpha=1.0):
    """A frozen layer plus a rank-r update: ``x @ (W + alpha A @ B) + b``.

    The (D, M) product ``A @ B`` is formed only when that is cheaper, that is when
    ``D M < N (D + M)`` (a large batch); otherwise ``(x @ A) @ B`` costs
    ``N r (D + M)`` on top of ``x @ W``.

    Parameters
    ----------
    x : ndarray, shape (N, D)
    W : ndarray, shape (D, M)
        Frozen: no gradient is computed for it.
    b : ndarray, shape (M,)
        Frozen, and cast to the dtype of the output.
    A : ndarray, shape (D, r)
    B : ndarray, shape (r, M)
        ``1 <= r <= min(D, M)``.
    alpha : float
        The scale of the update (finite; Hu et al. use ``alpha / r``).

    Returns
    -------
    out : ndarray, shape (N, M)
        In the dtype of ``x @ W @ A @ B`` (float32 for float32 inputs).
    cache : tuple
        What `lora_backward` needs.

    Raises
    ------
    ValueError
        If a shape does not fit (the message names the shapes), the rank r is not in
        ``1..min(D, M)``, an input is not real numbers, or `alpha` is not a finite
        number.

    Examples
    --------
    With ``B = 0`` the layer is the frozen one:

    >>> x, W, b = np.ones((2, 3)), np.eye(3), np.zeros(3)
    >>> A, B = np.ones((3, 1)), np.zeros((1, 3))
    >>> bool(np.array_equal(lora_forward(x, W, b, A, B)[0], x @ W + b))
    True
    """
    x, W, b, A, B, alpha = _validate(x, W, b, A, B, alpha)
    N, D = x.shape
    M = W.shape[1]
    if D * M < N * (D + M):
        xA = None  # computed by the backward pass if it is called
        out = x @ (W + alpha * (A @ B)) + b  # (N, D) @ (D, M) + (M,) -> (N, M)
    else:
        xA = x @ A  # (N, D) @ (D, r) -> (N, r)
        out = x @ W + (alpha * xA) @ B + b  # (N, M) + (N, r) @ (r, M) -> (N, M)
    return out, (x, W, A, B, alpha, xA)


def _check_cache(cache):
    try:
        x, W, A, B, alpha, xA = cache
        ok = all(isinstance(a, np.ndarray) for a in (x, W, A, B))
        ok = ok and x.ndim == W.ndim == A.ndim == B.ndim == 2
        ok = ok and x.shape[1] == W.shape[0] == A.shape[0]
        ok = ok and A.shape[1] == B.shape[0] and B.shape[1] == W.shape[1]
        got = type(cache).__name__
    except (TypeError, ValueError, AttributeError):
        ok, got = False, type(cache).__name__
    if not ok:
        raise TypeError(
            "cache must be the (x, W, A, B, alpha, xA) tuple from lora_forward, "
            f"got {got}"
        )
    return x, W, A, B, _check_alpha(alpha), xA


def _backward(dout, cache, need_dx):
    x, W, A, B, alpha, xA = _check_cache(cache)
    dout = as_real_array(dout, "dout")
    expected = (x.shape[0], W.shape[1])
    if dout.shape != expected:
        raise ValueError(
            f"dout must have shape (N, M) = {expected}, got {dout.shape} (N from the "
            f"cached x {x.shape}, M from the cached W {W.shape})"
        )
    dout = dout.astype(x.dtype, copy=False)
    if xA is None:
        xA = x @ A  # (N, D) @ (D, r) -> (N, r)
    dout_Bt = dout @ B.T  # (N, M) @ (M, r) -> (N, r)
    dA = alpha * (x.T @ dout_Bt)  # (D, N) @ (N, r) -> (D, r)
    dB = alpha * (xA.T @ dout)  # (r, N) @ (N, M) -> (r, M)
    if not need_dx:
        return dA, dB
    dx = dout @ W.T + (alpha * dout_Bt) @ A.T  # (N, M) @ (M, D) + (N, r) @ (r, D)
    return dx, dA, dB


def lora_backward(dout, cache):
    """Gradients of a low-rank update: ``(dA, dB)``, and nothing for the frozen W, b.

    For ``out = x @ (W + alpha A B) + b`` and an upstream gradient ``dout``:
    ``dA = alpha x^T dout B^T`` and ``dB = alpha (x A)^T dout``. `W` and `b` are frozen,
    so their gradients are not computed.

    Parameters
    ----------
    dout : ndarray, shape (N, M)
        dL/d(out); cast to the dtype of the forward pass.
    cache : tuple
        From `lora_forward`.

    Returns
    -------
    dA : ndarray, shape (D, r)
    dB : ndarray, shape (r, M)

    Raises
    ------
    ValueError
        If `dout` is not real numbers of shape (N, M).
    TypeError
        If `cache` is not the tuple `lora_forward` returned.
    """
    return _backward(dout, cache, need_dx=False)


def lora(x, W, b, A, B, alpha=1.0):
    """``x @ (W + alpha A @ B) + b``; `lora_forward` without the cache."""
    return lora_forward(x, W, b, A, B, alpha)[0]


# ------------------------------------------------------------ low-rank updates: MLP


def _check_adapters(adapters, params):
    """`adapters` as a list of None or checked (A, B) pairs, one per layer."""
    n_layers = len(params) // 2
    if not isinstance(adapters, (list, tuple)):
        raise TypeError(
            "adapters must be a list with one entry per layer, None or an (A, B) "
            f"pair, got {type(adapters).__name__}"
        )
    if len(adapters) != n_layers:
        raise ValueError(
            f"adapters must have one entry per layer of params ({n_layers}), got "
            f"{len(adapters)}"
        )
    checked = []
    for i, entry in enumerate(adapters):
        if entry is None:
            checked.append(None)
            continue
        if not isinstance(entry, (list, tuple)) or len(entry) != 2:
            raise TypeError(
                f"adapters[{i}] must be None or an (A, B) pair, got "
                f"{type(entry).__name__}"
            )
        W = as_real_array(params[2 * i], f"params[{2 * i}]")
        checked.append(
            _check_update(
                W,
                entry[0],
                entry[1],
                f"adapters[{i}][0] (A of layer {i + 1})",
                f"adapters[{i}][1] (B of layer {i + 1})",
                f"params[{2 * i}]",
            )
        )
    return checked


def _lora_mlp_forward(params, adapters, x, alpha):
    """Scores (N, K) and per-layer caches; layers without an adapter are plain."""
    h, caches = x, []
    n_layers = len(params) // 2
    for i in range(n_layers):
        W, b = params[2 * i], params[2 * i + 1]
        if adapters[i] is None:
            a, cache = linear_forward(h, W, b)  # (N, M_l)
        else:
            a, cache = lora_forward(h, W, b, *adapters[i], alpha)  # (N, M_l)
        if i < n_layers - 1:
            h, relu_cache = relu_forward(a)  # (N, M_l)
        else:
            h, relu_cache = a, None  # scores (N, K)
        caches.append((adapters[i] is not None, cache, relu_cache))
    return h, caches


def _lora_mlp_backward(dscores, caches):
    """The adapters' gradients: None or (dA, dB) per layer."""
    grads = [None] * len(caches)
    dh = dscores
    for i in reversed(range(len(caches))):
        adapted, cache, relu_cache = caches[i]
        da = dh if relu_cache is None else relu_backward(dh, relu_cache)  # (N, M_l)
        # dL/dh is needed below layer i only if a layer below has an adapter.
        need_dx = any(caches[j][0] for j in range(i))
        if adapted:
            result = _backward(da, cache, need_dx)
            dh, dA, dB = result if need_dx else (None, *result)
            grads[i] = (dA, dB)
        elif need_dx:
            dh = da @ cache[1].T  # (N, M_l) @ (M_l, D_l) -> (N, D_l); W frozen
        if not need_dx:
            break
    return grads


def _check_mlp(params, adapters, x, alpha, name="x"):
    _check_params(params)
    _check_layers(params)
    adapters = _check_adapters(adapters, params)
    alpha = _check_alpha(alpha)
    x = as_real_array(x, name)
    check_ndim(x, 2, name, "(N, D)")
    if x.shape[0] == 0:
        raise ValueError(
            f"{name} must have at least one row (the loss is a mean over rows), got "
            f"shape {x.shape}"
        )
    D = np.shape(params[0])[0]
    if x.shape[1] != D:
        raise ValueError(
            f"{name} has D={x.shape[1]} features (shape {x.shape}) but params[0] "
            f"expects D={D} (shape {np.shape(params[0])}); {name} must be (N, D)"
        )
    return adapters, x, alpha


def lora_mlp_loss(params, adapters, x, labels, alpha=1.0):
    """Softmax cross-entropy of an MLP with low-rank updates, and their gradients.

    Layer l computes ``h @ (W_l + alpha A_l B_l) + b_l`` where it has an adapter and
    ``h @ W_l + b_l`` where it has none, with a ReLU after every layer but the last
    (the network of `lalib.mlp`). The parameters `params` are frozen: only the
    adapters get gradients.

    Parameters
    ----------
    params : list of ndarray
        ``[W1, b1, ..., WL, bL]`` as from `lalib.mlp.init_params`.
    adapters : list of (None or (ndarray, ndarray))
        One entry per layer: None, or ``(A, B)`` with A (D_l, r) and B (r, M_l).
    x : ndarray, shape (N, D)
        At least one row.
    labels : ndarray of int, shape (N,)
        Classes in ``0..K-1``.
    alpha : float
        The scale of every update.

    Returns
    -------
    L : float
    grads : list of (None or (ndarray, ndarray))
        ``(dA, dB)`` for each adapted layer, None for the others.

    Raises
    ------
    ValueError
        If a shape does not fit (the message names the entry and the shapes), `x` has
        no rows, `labels` are not (N,) integers in ``0..K-1``, or `alpha` is not
        finite.
    TypeError
        If `params` or `adapters` is not a list, or an adapter is not None or a pair.
    """
    adapters, x, alpha = _check_mlp(params, adapters, x, alpha)
    K = np.shape(params[-1])[0]
    labels = _check_labels(labels, x.shape[0], K, "labels", "x", x.shape)
    scores, caches = _lora_mlp_forward(params, adapters, x, alpha)  # (N, K)
    L, dscores = softmax_cross_entropy(scores, labels)
    return L, _lora_mlp_backward(dscores, caches)


def merge_lora(params, adapters, alpha=1.0):
    """The parameters with every update folded in: ``W_l + alpha A_l @ B_l``.

    After training, the adapted network is an ordinary MLP again: `lalib.mlp` runs it,
    and a forward pass costs no more than the original one.

    Parameters
    ----------
    params : list of ndarray
        ``[W1, b1, ..., WL, bL]``; not modified.
    adapters : list of (None or (ndarray, ndarray))
        As in `lora_mlp_loss`.
    alpha : float

    Returns
    -------
    merged : list of ndarray
        New arrays in the layout of `params`, in the dtype of each ``W_l @ A_l @ B_l``.

    Raises
    ------
    ValueError, TypeError
        As `lora_mlp_loss`.
    """
    _check_params(params)
    _check_layers(params)
    adapters = _check_adapters(adapters, params)
    alpha = _check_alpha(alpha)
    merged = []
    for i, adapter in enumerate(adapters):
        W = as_real_array(params[2 * i], f"params[{2 * i}]")
        b = as_real_array(params[2 * i + 1], f"params[{2 * i + 1}]")
        if adapter is not None:
            A, B = adapter
            dtype = result_dtype(W, A, B)
            W = W.astype(dtype) + alpha * (A.astype(dtype) @ B.astype(dtype))  # (D, M)
            b = b.astype(dtype)
        merged += [np.array(W), np.array(b)]
    return merged


def train_lora(
    params,
    adapters,
    X,
    y,
    *,
    epochs,
    batch_size,
    lr,
    rng,
    alpha=1.0,
    X_test=None,
    y_test=None,
):
    """Mini-batch gradient descent on the adapters only; updates them in place.

    The recipe of `lalib.mlp.train` (shuffle with `rng`, batches of `batch_size`, one
    step ``P -= lr * dL/dP`` per batch) applied to the A and B of every adapter, with
    `params` frozen. The steps are taken on copies written back into the adapters'
    arrays only when training completes: on any error the adapters are unchanged.

    Parameters
    ----------
    params : list of ndarray
        ``[W1, b1, ..., WL, bL]``; frozen, not modified.
    adapters : list of (None or (ndarray, ndarray))
        As in `lora_mlp_loss`, with writeable floating arrays (at least one pair);
        modified in place.
    X : ndarray, shape (N, D)
        At least one row, all entries finite.
    y : ndarray of int, shape (N,)
    epochs, batch_size : int
        At least 1.
    lr : float
        A finite number > 0.
    rng : numpy.random.Generator
        Orders the batches.
    alpha : float
        The scale of every update.
    X_test, y_test : ndarray, optional
        Held-out data whose accuracy is recorded after every epoch: both or neither.

    Returns
    -------
    history : dict of str -> ndarray, each of shape (epochs,)
        ``"loss"`` (mean batch loss over the epoch), ``"train_acc"`` and, with test
        data, ``"test_acc"``, the accuracies of the adapted network after the epoch.

    Raises
    ------
    ValueError
        If a shape does not fit, `X` or `X_test` is empty or not finite, a label is not
        in ``0..K-1``, only one of `X_test`, `y_test` is given, no layer has an
        adapter, an adapter's array is not a writeable floating array, `epochs` or
        `batch_size` is not a positive integer, `lr` is not a positive finite number,
        `alpha` is not finite, or training diverges.
    TypeError
        If `params` or `adapters` is not a list, or `rng` is not a Generator.
    """
    epochs = check_int(epochs, "epochs", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    lr = check_positive_finite(lr, "lr")
    check_rng(rng, "rng")
    checked, X, alpha = _check_mlp(params, adapters, X, alpha, "X")
    if all(a is None for a in checked):
        raise ValueError("adapters must hold at least one (A, B) pair to train")
    for i, entry in enumerate(adapters):
        for j, arr in enumerate(entry or ()):
            if not (
                isinstance(arr, np.ndarray)
                and np.issubdtype(arr.dtype, np.floating)
                and arr.flags.writeable
            ):
                raise ValueError(
                    f"adapters[{i}][{j}] must be a writeable floating ndarray "
                    "(train_lora updates it in place), got "
                    f"{type(arr).__name__} {getattr(arr, 'dtype', '')}"
                )
    if not np.all(np.isfinite(X)):
        raise ValueError("X must be finite (no inf or NaN): the loss is undefined")
    K = np.shape(params[-1])[0]
    y = _check_labels(as_array(y, "y"), X.shape[0], K, "y", "X", X.shape)
    if (X_test is None) != (y_test is None):
        given = "X_test" if y_test is None else "y_test"
        raise ValueError(
            f"{given} was given alone: pass X_test and y_test together, or neither"
        )
    if X_test is not None:
        _, X_test, _ = _check_mlp(params, checked, X_test, alpha, "X_test")
        if not np.all(np.isfinite(X_test)):
            raise ValueError("X_test must be finite (no inf or NaN)")
        y_test = _check_labels(
            y_test, X_test.shape[0], K, "y_test", "X_test", X_test.shape
        )
    work = [None if a is None else (a[0].copy(), a[1].copy()) for a in checked]
    history = {"loss": [], "train_acc": []}
    if X_test is not None:
        history["test_acc"] = []

    def accuracy(Xs, ys):
        with np.errstate(over="ignore", invalid="ignore"):
            scores = _lora_mlp_forward(params, work, Xs, alpha)[0]  # (N, K)
        return float(np.mean(np.argmax(scores, axis=1) == ys))

    n = X.shape[0]
    for epoch in range(epochs):
        order = rng.permutation(n)
        losses = []
        with np.errstate(over="ignore", invalid="ignore"):
            for start in range(0, n, batch_size):
                batch = order[start : start + batch_size]
                scores, caches = _lora_mlp_forward(params, work, X[batch], alpha)
                if not np.all(np.isfinite(scores)):
                    raise ValueError(
                        f"training diverged: the scores became non-finite in epoch "
                        f"{epoch + 1} with lr={lr}; lower lr (adapters are unchanged)"
                    )
                L, dscores = softmax_cross_entropy(scores, y[batch])
                grads = _lora_mlp_backward(dscores, caches)
                for pair, grad in zip(work, grads, strict=True):
                    if pair is not None:
                        pair[0][...] -= lr * grad[0]  # (D, r)
                        pair[1][...] -= lr * grad[1]  # (r, M)
                losses.append(L)
        history["loss"].append(float(np.mean(losses)))
        history["train_acc"].append(accuracy(X, y))
        if X_test is not None:
            history["test_acc"].append(accuracy(X_test, y_test))
    for entry, pair in zip(adapters, work, strict=True):
        if entry is not None:
            entry[0][...] = pair[0]
            entry[1][...] = pair[1]
    return {k: np.array(v) for k, v in history.items()}
