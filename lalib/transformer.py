r"""The transformer block around attention: LayerNorm, the position-wise feed-forward
layer, and a pre-LN block assembled from them and multi-head attention.

A pre-LN block maps a sequence of n rows of width d to another one of the same shape:

.. math::

    h &= x + \operatorname{MHA}(\operatorname{LN}_1(x)) \\
    y &= h + \operatorname{FFN}(\operatorname{LN}_2(h))

Each sublayer *adds* to the residual stream ``x``: the output is ``x`` plus what the
attention sublayer wrote plus what the feed-forward sublayer wrote, and the Jacobian of
a residual step ``x + f(x)`` is ``I + J_f``.

LayerNorm of a row ``x`` (d,) is linear algebra before it is statistics. The centring
``x - mean(x) 1`` is the orthogonal projection ``P x`` with ``P = I - 1 1^T / d``
(:func:`centering_matrix`), onto the (d - 1)-dimensional subspace orthogonal to ``1``.
Dividing by the standard deviation ``||P x|| / sqrt(d)`` puts the row on the sphere of
radius ``sqrt(d)`` in that subspace; ``gamma`` and ``beta`` then apply a diagonal map
and a shift. A batch of normalised rows (before ``gamma`` and ``beta``) has rank at
most d - 1.

The feed-forward layer ``relu(x W1 + b1) W2 + b2`` is two :mod:`lalib.linear` layers
applied to every row: the n positions of a sequence are just more rows of the batch.

Every function accepts leading batch dimensions, x of shape (..., n, d) (LayerNorm:
(..., d)), and keeps float32 as float32.
"""

import math
from collections.abc import Mapping

import numpy as np

from lalib import activations, attention, linear
from lalib._checks import (
    as_real_array,
    check_float_dtype,
    check_int,
    check_positive_finite,
    check_rng,
    result_dtype,
)

__all__ = [
    "PARAM_NAMES",
    "centering_matrix",
    "layer_norm_forward",
    "layer_norm_backward",
    "layer_norm",
    "feed_forward_forward",
    "feed_forward_backward",
    "feed_forward",
    "init_block_params",
    "transformer_block_forward",
    "transformer_block_backward",
    "transformer_block",
]

#: The keys of a block's parameter dictionary, in the order of its sublayers.
PARAM_NAMES = (
    "gamma1",
    "beta1",
    "W_q",
    "W_k",
    "W_v",
    "W_o",
    "gamma2",
    "beta2",
    "W1",
    "b1",
    "W2",
    "b2",
)

#: The documented shape of each parameter; d is the width of the residual stream.
PARAM_LAYOUT = {
    "gamma1": ("d",),
    "beta1": ("d",),
    "W_q": ("d", "h*d_k"),
    "W_k": ("d", "h*d_k"),
    "W_v": ("d", "h*d_v"),
    "W_o": ("h*d_v", "d"),
    "gamma2": ("d",),
    "beta2": ("d",),
    "W1": ("d", "d_ff"),
    "b1": ("d_ff",),
    "W2": ("d_ff", "d"),
    "b2": ("d",),
}


def _layout(names):
    return "(" + ", ".join(names) + ("," if len(names) == 1 else "") + ")"


# ------------------------------------------------------------------------- centring


def centering_matrix(d, dtype=np.float64):
    """The centring projection ``P = I - 1 1^T / d``.

    ``P x`` subtracts the mean of ``x`` from each entry. P is symmetric and idempotent
    (``P^T = P``, ``P^2 = P``: an orthogonal projection), ``P 1 = 0``, and its rank is
    d - 1: it projects onto the hyperplane of vectors whose entries sum to 0.

    Parameters
    ----------
    d : int
        The width, at least 1.
    dtype : numpy dtype
        float64 (default) or float32.

    Returns
    -------
    P : ndarray, shape (d, d)

    Raises
    ------
    ValueError
        If `d` is not a positive integer, `dtype` is not float32 or float64, or the
        matrix cannot be allocated.

    Examples
    --------
    >>> P = centering_matrix(3)
    >>> P @ np.array([1.0, 2.0, 6.0])       # the mean, 3, subtracted
    array([-2., -1.,  3.])
    """
    d = check_int(d, "d", minimum=1)
    dtype = check_float_dtype(dtype, "dtype")
    too_big = ValueError(f"the centring matrix of shape (d, d) = {(d, d)} is too big")
    if d * d > np.iinfo(np.intp).max:
        raise too_big
    try:
        return np.eye(d, dtype=dtype) - dtype.type(1 / d)  # (d, d)
    except (MemoryError, ValueError):
        raise too_big from None


# ------------------------------------------------------------------------ LayerNorm


def _check_vector(a, name, d, xname="x", xshape=None):
    if a.shape != (d,):
        raise ValueError(
            f"{name} must have shape (d,) = ({d},), the last dimension of {xname} "
            f"{xshape}, got {a.shape}"
        )


def layer_norm_forward(x, gamma, beta, eps=1e-5):
    """Normalise each row of `x` over its last axis, then scale by `gamma`, shift by
    `beta`.

    ``out = gamma * (x - mean) / sqrt(var + eps) + beta`` with the mean and the
    (biased) variance of each row. The variance is computed in two passes, as the mean
    of the squared centred row, never as ``E[x^2] - E[x]^2`` (which loses every digit
    when the mean is large against the spread).

    Parameters
    ----------
    x : ndarray, shape (..., d)
        Rows to normalise, d >= 1. Integer input is promoted to float64.
    gamma : ndarray, shape (d,)
        Scale of each feature (a diagonal map).
    beta : ndarray, shape (d,)
        Shift of each feature.
    eps : float
        A positive number added to the variance: a constant row gives zeros, not NaN.

    Returns
    -------
    out : ndarray, shape (..., d)
        In the ``np.result_type`` of `x`, `gamma` and `beta` (float32 for float32).
    cache : tuple
        ``(xhat, rstd, gamma)``: the normalised rows (..., d), ``1/sqrt(var + eps)``
        (..., 1), and `gamma`, what `layer_norm_backward` needs.

    Raises
    ------
    ValueError
        If `x` has no dimension or an empty last axis, `gamma` or `beta` is not (d,),
        `eps` is not a positive finite number, or an input is not real numbers.

    Examples
    --------
    With ``gamma = 1`` and ``beta = 0`` each row comes out with mean 0 and norm
    ``sqrt(d)`` (up to `eps`):

    >>> out = layer_norm(np.array([[1.0, 2.0, 6.0]]), np.ones(3), np.zeros(3))
    >>> np.round(out, 4), np.round(np.linalg.norm(out), 4)
    (array([[-0.9258, -0.4629,  1.3887]]), np.float64(1.732))
    """
    x = as_real_array(x, "x")
    gamma = as_real_array(gamma, "gamma")
    beta = as_real_array(beta, "beta")
    if x.ndim < 1 or x.shape[-1] == 0:
        raise ValueError(
            f"x must have a last axis of d >= 1 features (..., d), got shape {x.shape}"
        )
    d = x.shape[-1]
    _check_vector(gamma, "gamma", d, "x", x.shape)
    _check_vector(beta, "beta", d, "x", x.shape)
    eps = check_positive_finite(eps, "eps")
    dtype = result_dtype(x, gamma, beta)
    x, gamma, beta = (a.astype(dtype, copy=False) for a in (x, gamma, beta))
    mu = x.mean(axis=-1, keepdims=True)  # (..., d) -> (..., 1)
    xc = x - mu  # (..., d): P x, row by row
    var = np.mean(xc * xc, axis=-1, keepdims=True)  # (..., 1), the second pass
    rstd = 1 / np.sqrt(var + dtype.type(eps))  # (..., 1)
    xhat = xc * rstd  # (..., d)
    out = gamma * xhat + beta  # (d,) * (..., d) + (d,) -> (..., d)
    return out, (xhat, rstd, gamma)


def layer_norm_backward(dout, cache):
    """Gradients of `layer_norm_forward`, in argument order (x, gamma, beta).

    With ``g = dout * gamma`` the gradient of a row is

    ``dx = rstd * (g - mean(g) 1 - xhat * mean(g * xhat))``:

    ``g`` projected by ``P`` (so each row of `dx` sums to 0) and stripped of its
    component along ``xhat`` (so ``dx`` is orthogonal to the normalised row, exactly
    so when ``eps = 0``): moving ``x`` along ``1`` or along itself does not change
    ``xhat``.

    Parameters
    ----------
    dout : ndarray, shape (..., d)
        Cast to the cache's dtype (float32 stays float32).
    cache : tuple
        From `layer_norm_forward`.

    Returns
    -------
    dx : ndarray, shape (..., d)
    dgamma : ndarray, shape (d,)
        ``sum(dout * xhat)`` over every leading axis.
    dbeta : ndarray, shape (d,)
        ``sum(dout)`` over every leading axis.

    Raises
    ------
    ValueError
        If `dout` does not have the shape of the forward output.
    TypeError
        If `cache` is not the tuple `layer_norm_forward` returned.
    """
    try:
        xhat, rstd, gamma = cache
        ok = all(isinstance(a, np.ndarray) for a in (xhat, rstd, gamma))
        ok = ok and xhat.ndim >= 1 and gamma.shape == xhat.shape[-1:]
        ok = ok and rstd.shape == xhat.shape[:-1] + (1,)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise TypeError(
            "cache must be the (xhat, rstd, gamma) tuple from layer_norm_forward, "
            f"got {type(cache).__name__}"
        )
    dout = as_real_array(dout, "dout")
    if dout.shape != xhat.shape:
        raise ValueError(
            f"dout must have the shape of the output (..., d) = {xhat.shape}, "
            f"got {dout.shape}"
        )
    dout = dout.astype(xhat.dtype, copy=False)
    lead = tuple(range(xhat.ndim - 1))
    dgamma = np.sum(dout * xhat, axis=lead)  # (..., d) -> (d,)
    dbeta = np.sum(dout, axis=lead)  # (..., d) -> (d,)
    g = dout * gamma  # (..., d): the gradient with respect to xhat
    g_mean = g.mean(axis=-1, keepdims=True)  # (..., 1)
    gx_mean = np.mean(g * xhat, axis=-1, keepdims=True)  # (..., 1)
    dx = rstd * (g - g_mean - xhat * gx_mean)  # (..., d)
    return dx, dgamma, dbeta


def layer_norm(x, gamma, beta, eps=1e-5):
    """`layer_norm_forward` without the cache."""
    return layer_norm_forward(x, gamma, beta, eps)[0]


# ---------------------------------------------------------------------- feed-forward


def _validate_ffn(x, W1, b1, W2, b2):
    x = as_real_array(x, "x")
    W1, b1 = as_real_array(W1, "W1"), as_real_array(b1, "b1")
    W2, b2 = as_real_array(W2, "W2"), as_real_array(b2, "b2")
    if x.ndim < 2:
        raise ValueError(
            f"x must have at least 2 dimensions (..., n, D), got shape {x.shape}"
        )
    for name, W, layout in (("W1", W1, "(D, d_ff)"), ("W2", W2, "(d_ff, M)")):
        if W.ndim != 2:
            raise ValueError(
                f"{name} must have 2 dimensions {layout}, got shape {W.shape}"
            )
    if x.shape[-1] != W1.shape[0]:
        raise ValueError(
            f"x has D={x.shape[-1]} features (shape {x.shape}) but W1 is {W1.shape}, "
            f"expected ({x.shape[-1]}, d_ff)"
        )
    if W2.shape[0] != W1.shape[1]:
        raise ValueError(
            f"W2 {W2.shape} must have as many rows as W1 {W1.shape} has columns (d_ff)"
        )
    if b1.shape != (W1.shape[1],):
        raise ValueError(
            f"b1 must have shape (d_ff,) = ({W1.shape[1]},), got {b1.shape}"
        )
    if b2.shape != (W2.shape[1],):
        raise ValueError(f"b2 must have shape (M,) = ({W2.shape[1]},), got {b2.shape}")
    dtype = result_dtype(x, W1, W2)  # the biases follow, as in lalib.linear
    return [a.astype(dtype, copy=False) for a in (x, W1, b1, W2, b2)]


def feed_forward_forward(x, W1, b1, W2, b2):
    """The position-wise feed-forward layer ``relu(x W1 + b1) W2 + b2``.

    The same two :mod:`lalib.linear` layers are applied to every row (every position of
    every sequence): the (..., n, D) input is flattened to a batch of rows, pushed
    through `linear_forward`, `relu_forward`, `linear_forward`, and reshaped back.

    Parameters
    ----------
    x : ndarray, shape (..., n, D)
    W1 : ndarray, shape (D, d_ff)
    b1 : ndarray, shape (d_ff,)
    W2 : ndarray, shape (d_ff, M)
    b2 : ndarray, shape (M,)
        The biases are cast to the dtype of the weights' products, as in
        :func:`lalib.linear.linear_forward`.

    Returns
    -------
    out : ndarray, shape (..., n, M)
    cache : tuple
        What `feed_forward_backward` needs: the leading shape and the caches of the
        three layers.

    Raises
    ------
    ValueError
        If `x` has fewer than 2 dimensions or a shape disagrees (the message names both
        arrays), or an input is not real numbers.
    """
    x, W1, b1, W2, b2 = _validate_ffn(x, W1, b1, W2, b2)
    lead = x.shape[:-1]
    rows = x.reshape(-1, x.shape[-1])  # (..., n, D) -> (N*n, D)
    z, c1 = linear.linear_forward(rows, W1, b1)  # (N*n, D) -> (N*n, d_ff)
    a, c2 = activations.relu_forward(z)  # (N*n, d_ff)
    o, c3 = linear.linear_forward(a, W2, b2)  # (N*n, d_ff) -> (N*n, M)
    out = o.reshape(*lead, W2.shape[1])  # (N*n, M) -> (..., n, M)
    return out, (lead, c1, c2, c3)


def feed_forward_backward(dout, cache):
    """Gradients of `feed_forward_forward`, in argument order.

    Parameters
    ----------
    dout : ndarray, shape (..., n, M)
        Cast to the cache's dtype (float32 stays float32).
    cache : tuple
        From `feed_forward_forward`.

    Returns
    -------
    dx : ndarray, shape (..., n, D)
    dW1 : ndarray, shape (D, d_ff)
    db1 : ndarray, shape (d_ff,)
    dW2 : ndarray, shape (d_ff, M)
    db2 : ndarray, shape (M,)
        The parameter gradients are summed over every row (every position).

    Raises
    ------
    ValueError
        If `dout` does not have the shape of the forward output.
    TypeError
        If `cache` is not the tuple `feed_forward_forward` returned.
    """
    try:
        lead, c1, c2, c3 = cache
        ok = isinstance(lead, tuple) and isinstance(c2, np.ndarray)
        (x_rows, W1), (a, W2) = c1, c3
        ok = ok and x_rows.shape[0] == math.prod(lead) and a.shape == c2.shape
    except (TypeError, ValueError, AttributeError):
        ok = False
    if not ok:
        raise TypeError(
            "cache must be the tuple returned by feed_forward_forward, got "
            f"{type(cache).__name__}"
        )
    dout = as_real_array(dout, "dout")
    expected = lead + (W2.shape[1],)
    if dout.shape != expected:
        raise ValueError(
            f"dout must have shape (..., n, M) = {expected}, got {dout.shape}"
        )
    drows = dout.reshape(-1, W2.shape[1])  # (..., n, M) -> (N*n, M)
    da, dW2, db2 = linear.linear_backward(drows, c3)  # (N*n, d_ff)
    dz = activations.relu_backward(da, c2)  # (N*n, d_ff)
    dx_rows, dW1, db1 = linear.linear_backward(dz, c1)  # (N*n, D)
    dx = dx_rows.reshape(*lead, W1.shape[0])  # (N*n, D) -> (..., n, D)
    return dx, dW1, db1, dW2, db2


def feed_forward(x, W1, b1, W2, b2):
    """`feed_forward_forward` without the cache."""
    return feed_forward_forward(x, W1, b1, W2, b2)[0]


# ---------------------------------------------------------------------------- block


def init_block_params(d, n_heads, d_ff, rng, dtype=np.float64):
    """Parameters of one pre-LN transformer block, as a dictionary keyed by
    `PARAM_NAMES`.

    The weight matrices are drawn from ``N(0, 1/fan_in)`` (fan_in = their number of
    rows), so that a product keeps the scale of its input; LayerNorm starts as the
    plain normalisation (``gamma = 1``, ``beta = 0``) and the feed-forward biases at 0.
    Attention uses ``h*d_k = h*d_v = d``.

    Parameters
    ----------
    d : int
        Width of the residual stream, at least 1.
    n_heads : int
        h, at least 1; must divide d.
    d_ff : int
        Width of the feed-forward layer's hidden layer, at least 1 (often 4 d).
    rng : numpy.random.Generator
    dtype : numpy dtype
        float64 (default) or float32. The draws are made in float64 whatever the dtype.

    Returns
    -------
    params : dict of str to ndarray
        ``gamma1, beta1`` (d,); ``W_q, W_k, W_v, W_o`` (d, d); ``gamma2, beta2`` (d,);
        ``W1`` (d, d_ff); ``b1`` (d_ff,); ``W2`` (d_ff, d); ``b2`` (d,).

    Raises
    ------
    ValueError
        If a size is not a positive integer, `n_heads` does not divide `d`, `dtype` is
        not float32 or float64, or the weights cannot be allocated.
    TypeError
        If `rng` is not a ``numpy.random.Generator``.
    """
    d = check_int(d, "d", minimum=1)
    n_heads = check_int(n_heads, "n_heads", minimum=1)
    d_ff = check_int(d_ff, "d_ff", minimum=1)
    if d % n_heads:
        raise ValueError(f"n_heads={n_heads} must divide d={d}")
    rng = check_rng(rng, "rng")
    dtype = check_float_dtype(dtype, "dtype")

    def weights(rows, cols):
        try:
            W = rng.standard_normal((rows, cols)) / np.sqrt(rows)  # (rows, cols)
        except (ValueError, MemoryError):
            raise ValueError(
                f"weights of shape {(rows, cols)} (d={d}, d_ff={d_ff}) cannot be "
                "allocated"
            ) from None
        return W.astype(dtype)

    W_q, W_k, W_v, W_o = (weights(d, d) for _ in range(4))
    W1, W2 = weights(d, d_ff), weights(d_ff, d)
    ones, zeros = np.ones(d, dtype=dtype), np.zeros(d, dtype=dtype)
    return {
        "gamma1": ones,
        "beta1": zeros,
        "W_q": W_q,
        "W_k": W_k,
        "W_v": W_v,
        "W_o": W_o,
        "gamma2": ones.copy(),
        "beta2": zeros.copy(),
        "W1": W1,
        "b1": np.zeros(d_ff, dtype=dtype),
        "W2": W2,
        "b2": zeros.copy(),
    }


def _check_params(params, x):
    """The parameters as arrays of one dtype (with x's), their shapes checked."""
    if not isinstance(params, Mapping):
        raise TypeError(
            "params must be a dict of arrays keyed by PARAM_NAMES (see "
            f"init_block_params), got {type(params).__name__}"
        )
    missing = [k for k in PARAM_NAMES if k not in params]
    extra = [k for k in params if k not in PARAM_NAMES]
    if missing or extra:
        raise ValueError(
            f"params must have the keys {list(PARAM_NAMES)}; missing {missing}, "
            f"unexpected {extra}"
        )
    arrays = {k: as_real_array(params[k], f"params['{k}']") for k in PARAM_NAMES}
    for k, names in PARAM_LAYOUT.items():
        if arrays[k].ndim != len(names):
            raise ValueError(
                f"params['{k}'] must have {len(names)} dimension(s) {_layout(names)}, "
                f"got shape {arrays[k].shape}"
            )
    sizes = {
        "d": x.shape[-1],
        "h*d_k": arrays["W_q"].shape[1],
        "h*d_v": arrays["W_v"].shape[1],
        "d_ff": arrays["W1"].shape[1],
    }
    for k, names in PARAM_LAYOUT.items():
        expected = tuple(sizes[s] for s in names)
        if arrays[k].shape != expected:
            raise ValueError(
                f"params['{k}'] must have shape {_layout(names)} = {expected} for x "
                f"of shape {x.shape} (..., n, d), got {arrays[k].shape}"
            )
    for s in ("h*d_k", "h*d_v", "d_ff"):
        if sizes[s] == 0:
            raise ValueError(f"params: {s} must be at least 1, got 0")
    dtype = result_dtype(x, *arrays.values())
    arrays = {k: a.astype(dtype, copy=False) for k, a in arrays.items()}
    return x.astype(dtype, copy=False), arrays


def transformer_block_forward(x, params, n_heads, mask=None, causal=False):
    """One pre-LN transformer block: ``h = x + MHA(LN1(x))``, ``y = h + FFN(LN2(h))``.

    Assembled from `layer_norm_forward`,
    :func:`lalib.attention.multi_head_attention_forward` (self-attention: queries, keys
    and values all read ``LN1(x)``) and `feed_forward_forward`. Both sublayers add to
    the residual stream, so ``y - x`` is the sum of their two outputs.

    Parameters
    ----------
    x : ndarray, shape (..., n, d)
        The residual stream: n positions of width d (leading batch dimensions allowed).
    params : dict of str to ndarray
        Keyed by `PARAM_NAMES`, shaped as `init_block_params` makes them; ``W_o`` and
        ``W2`` must map back to width d.
    n_heads : int
        h; must divide h*d_k and h*d_v.
    mask : ndarray of bool, optional
        Broadcastable to (..., h, n, n), True where a position may attend to another.
    causal : bool
        Also apply :func:`lalib.attention.causal_mask`: position i reads positions
        0..i only, so output row i does not depend on later rows.

    Returns
    -------
    out : ndarray, shape (..., n, d)
        In the ``np.result_type`` of `x` and every parameter.
    cache : tuple
        ``(ln1, mha, ln2, ffn)``: the caches of the four sublayers, what
        `transformer_block_backward` needs.

    Raises
    ------
    ValueError
        If `x` has fewer than 2 dimensions or an empty last axis, a parameter has the
        wrong shape (the message names it and the shape expected), `n_heads` does not
        divide the heads' widths, or `mask` and `causal` are not what
        :func:`lalib.attention.attention_forward` accepts.
    TypeError
        If `params` is not a dictionary.
    """
    x = as_real_array(x, "x")
    if x.ndim < 2 or x.shape[-1] == 0:
        raise ValueError(
            f"x must have at least 2 dimensions (..., n, d) with d >= 1, got shape "
            f"{x.shape}"
        )
    x, p = _check_params(params, x)
    a, c_ln1 = layer_norm_forward(x, p["gamma1"], p["beta1"])  # (..., n, d)
    att, c_att = attention.multi_head_attention_forward(
        a, a, p["W_q"], p["W_k"], p["W_v"], p["W_o"], n_heads, mask, causal
    )  # (..., n, d)
    h = x + att  # (..., n, d): the stream after the attention sublayer
    b, c_ln2 = layer_norm_forward(h, p["gamma2"], p["beta2"])  # (..., n, d)
    f, c_ffn = feed_forward_forward(b, p["W1"], p["b1"], p["W2"], p["b2"])
    out = h + f  # (..., n, d): the stream after the feed-forward sublayer
    return out, (c_ln1, c_att, c_ln2, c_ffn)


def transformer_block_backward(dout, cache):
    """Gradients of `transformer_block_forward`: ``(dx, grads)``.

    The residual connections pass `dout` through unchanged (the ``I`` of ``I + J_f``)
    and add what each sublayer's backward pass returns. Self-attention reads
    ``LN1(x)`` three times (queries, keys, values): its two input gradients add.

    Parameters
    ----------
    dout : ndarray, shape (..., n, d)
        Cast to the cache's dtype (float32 stays float32).
    cache : tuple
        From `transformer_block_forward`.

    Returns
    -------
    dx : ndarray, shape (..., n, d)
    grads : dict of str to ndarray
        The gradient of each parameter, keyed by `PARAM_NAMES` (in that order), each of
        its parameter's shape, summed over every leading dimension.

    Raises
    ------
    ValueError
        If `dout` does not have the shape of the forward output.
    TypeError
        If `cache` is not the tuple `transformer_block_forward` returned.
    """
    if not isinstance(cache, tuple) or len(cache) != 4:
        raise TypeError(
            "cache must be the (ln1, mha, ln2, ffn) tuple returned by "
            f"transformer_block_forward, got {type(cache).__name__}"
        )
    c_ln1, c_att, c_ln2, c_ffn = cache
    try:
        shape = c_ln1[0].shape
    except (TypeError, IndexError, AttributeError):
        shape = None
    dout = as_real_array(dout, "dout")
    if dout.shape != shape:
        raise ValueError(
            f"dout must have the shape of the output (..., n, d) = {shape}, "
            f"got {dout.shape}"
        )
    dout = dout.astype(c_ln1[0].dtype, copy=False)  # float32 stays float32
    db, dW1, db1, dW2, db2 = feed_forward_backward(dout, c_ffn)  # through FFN
    dh_ln, dgamma2, dbeta2 = layer_norm_backward(db, c_ln2)
    dh = dout + dh_ln  # the residual: I + J
    da_q, da_kv, dW_q, dW_k, dW_v, dW_o = attention.multi_head_attention_backward(
        dh, c_att
    )
    dx_ln, dgamma1, dbeta1 = layer_norm_backward(da_q + da_kv, c_ln1)
    dx = dh + dx_ln  # the residual again
    grads = dict(
        gamma1=dgamma1,
        beta1=dbeta1,
        W_q=dW_q,
        W_k=dW_k,
        W_v=dW_v,
        W_o=dW_o,
        gamma2=dgamma2,
        beta2=dbeta2,
        W1=dW1,
        b1=db1,
        W2=dW2,
        b2=db2,
    )
    return dx, grads


def transformer_block(x, params, n_heads, mask=None, causal=False):
    """`transformer_block_forward` without the cache."""
    return transformer_block_forward(x, params, n_heads, mask, causal)[0]
