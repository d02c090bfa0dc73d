"""Elementwise and row-wise nonlinearities with their backward passes."""

import numpy as np

from lalib._checks import as_float_array


def relu_forward(x):
    """``max(x, 0)`` elementwise.

    Parameters
    ----------
    x : ndarray, any shape

    Returns
    -------
    out : ndarray, shape of `x`
    cache : ndarray
        `x`, what `relu_backward` needs.
    """
    x = as_float_array(x, "x")
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    """Gradient of `relu_forward`: `dout` where the input was positive, 0 elsewhere.

    The derivative at exactly 0 is taken as 0 (a subgradient).
    """
    x = cache
    dout = as_float_array(dout, "dout")
    if dout.shape != x.shape:
        raise ValueError(f"dout must have the input's shape {x.shape}, got {dout.shape}")
    return dout * (x > 0)


def relu(x):
    """``max(x, 0)``; `relu_forward` without the cache."""
    return relu_forward(x)[0]


def softmax(z, axis=-1):
    """Numerically stable softmax along `axis`.

    Subtracting the maximum before exponentiating changes nothing mathematically
    (softmax is invariant to adding a constant to every logit) but keeps ``exp`` from
    overflowing: logits of 1e4 give finite weights, not NaN. Entries of ``-inf`` get
    weight 0; a slice that is ``-inf`` everywhere has no finite maximum and is returned
    as zeros rather than NaN (callers that mask use this: "attends to nothing"). A NaN
    logit makes its whole slice NaN, so bad input is never hidden; so does a ``+inf``
    logit (inf - inf is undefined), which no finite computation produces.

    Parameters
    ----------
    z : ndarray, any shape
        Logits. float32 stays float32.
    axis : int
        The axis that sums to 1.

    Returns
    -------
    p : ndarray, shape of `z`

    Examples
    --------
    >>> softmax(np.array([1e4, 0.0, -1e4]))
    array([1., 0., 0.])
    """
    z = as_float_array(z, "z")
    zmax = np.max(z, axis=axis, keepdims=True)
    zmax = np.where(np.isneginf(zmax), 0, zmax)  # an all -inf slice: exp(-inf) = 0 below
    e = np.exp(z - zmax)
    s = np.sum(e, axis=axis, keepdims=True)
    # Divide wherever s != 0: a NaN logit makes its slice NaN (never hidden as zeros),
    # and only a slice that is -inf everywhere (s == 0) stays all zeros.
    return np.divide(e, s, out=np.zeros_like(e), where=s != 0)


def softmax_backward(dout, p, axis=-1):
    """Gradient through ``p = softmax(z)`` given ``p`` itself.

    The Jacobian of one slice is ``diag(p) - p p^T``, so the vector-Jacobian product is
    ``p * (dout - sum(dout * p))``: O(n) per slice, without forming the n x n matrix.

    Parameters
    ----------
    dout : ndarray, shape of `p`
        dL/dp.
    p : ndarray
        The softmax output.
    axis : int

    Returns
    -------
    dz : ndarray, shape of `p`
    """
    dout = as_float_array(dout, "dout")
    p = as_float_array(p, "p")
    if dout.shape != p.shape:
        raise ValueError(f"dout must have the shape of p {p.shape}, got {dout.shape}")
    return p * (dout - np.sum(dout * p, axis=axis, keepdims=True))
