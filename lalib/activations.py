"""Elementwise and row-wise nonlinearities with their backward passes."""

import operator

import numpy as np

from lalib._checks import as_real_array

__all__ = [
    "relu",
    "relu_backward",
    "relu_forward",
    "softmax",
    "softmax_backward",
]


def _check_axis(axis, shape, name):
    """`axis` as an int in ``0..ndim - 1`` for an array of `shape`, else ValueError.

    A 0-d array counts as one axis of length 1 (NumPy reduces it along axis 0 or -1).
    """
    ndim = max(len(shape), 1)
    try:
        index = None if isinstance(axis, (bool, np.bool_)) else operator.index(axis)
    except TypeError:
        index = None
    if index is None or not -ndim <= index < ndim:
        raise ValueError(
            f"axis must be an integer in {-ndim}..{ndim - 1} for {name} of shape "
            f"{shape}, got {axis!r}"
        )
    return index % ndim


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

    Raises
    ------
    ValueError
        If `x` is not a rectangular array of real numbers.
    """
    x = as_real_array(x, "x")
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    """Gradient of `relu_forward`: `dout` where the input was positive, 0 elsewhere.

    The derivative at exactly 0 is taken as 0 (a subgradient). The result has the dtype
    of the cache: `dout` is cast to it, so a float64 `dout` does not promote float32.

    Raises
    ------
    ValueError
        If `dout` does not have the input's shape, or either is not real numbers.
    """
    x = as_real_array(cache, "cache")
    dout = as_real_array(dout, "dout")
    if dout.shape != x.shape:
        raise ValueError(
            f"dout must have the input's shape {x.shape}, got {dout.shape}"
        )
    return dout.astype(x.dtype, copy=False) * (x > 0)


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
        The axis that sums to 1, in ``-z.ndim .. z.ndim - 1``.

    Returns
    -------
    p : ndarray, shape of `z`
        If `axis` has length 0 there is nothing to normalise and `p` is an empty
        array of the shape of `z` (as is an empty batch along another axis).

    Raises
    ------
    ValueError
        If `axis` is not an integer within the dimensions of `z`, or `z` is not a
        rectangular array of real numbers.

    Examples
    --------
    >>> softmax(np.array([1e4, 0.0, -1e4]))
    array([1., 0., 0.])
    """
    z = as_real_array(z, "z")
    axis = _check_axis(axis, z.shape, "z")
    if z.ndim and z.shape[axis] == 0:  # nothing to normalise; np.max would refuse it
        return np.zeros_like(z)
    zmax = np.max(z, axis=axis, keepdims=True)
    zmax = np.where(
        np.isneginf(zmax), 0, zmax
    )  # an all -inf slice: exp(-inf) = 0 below
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
        The axis `softmax` normalised, in ``-p.ndim .. p.ndim - 1``.

    Returns
    -------
    dz : ndarray, shape of `p`
        In the dtype of `p`: `dout` is cast to it, as the other backward passes do.

    Raises
    ------
    ValueError
        If the shapes differ, `axis` is out of range, or an input is not real numbers.
    """
    dout = as_real_array(dout, "dout")
    p = as_real_array(p, "p")
    if dout.shape != p.shape:
        raise ValueError(f"dout must have the shape of p {p.shape}, got {dout.shape}")
    axis = _check_axis(axis, p.shape, "p")
    dout = dout.astype(p.dtype, copy=False)
    return p * (dout - np.sum(dout * p, axis=axis, keepdims=True))
