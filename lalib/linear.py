"""Affine (fully connected) layers: ``out = x @ W + b`` for a batch of rows.

The book writes a layer as ``y = W x + b`` with column vectors; code keeps a batch as
the rows of a matrix, so the same layer reads ``Y = X @ W.T + b``. This module uses
the row convention throughout, with ``W`` stored as (D, M): ``x @ W`` maps D input
features to M outputs.
"""

import numpy as np

from lalib._checks import (
    as_real_array,
    check_float_dtype,
    check_int,
    check_ndim,
    check_rng,
    result_dtype,
)

__all__ = [
    "LinearLayer",
    "linear",
    "linear_backward",
    "linear_forward",
]


def _validate(x, W, b):
    """Check shapes; return x, W, b in the dtype of ``x @ W`` (b is cast to it)."""
    x = as_real_array(x, "x")
    W = as_real_array(W, "W")
    b = as_real_array(b, "b")
    check_ndim(x, 2, "x", "(N, D)")
    check_ndim(W, 2, "W", "(D, M)")
    if x.shape[1] != W.shape[0]:
        raise ValueError(
            f"x has D={x.shape[1]} features (shape {x.shape}) but W expects "
            f"D={W.shape[0]} (shape {W.shape}); x must be (N, D) and W (D, M)"
        )
    if b.shape != (W.shape[1],):
        raise ValueError(f"b must have shape (M,) = ({W.shape[1]},), got {b.shape}")
    # The output dtype comes from x and W; the bias follows it, so a default float64
    # np.zeros(M) does not silently promote a float32 layer (as in lalib.conv).
    dtype = result_dtype(x, W)
    x, W = x.astype(dtype, copy=False), W.astype(dtype, copy=False)
    return x, W, b.astype(dtype, copy=False)


def linear_forward(x, W, b):
    """Apply the affine map ``x @ W + b`` to a batch of rows.

    Parameters
    ----------
    x : ndarray, shape (N, D)
        One example per row. Integer input is promoted to float64.
    W : ndarray, shape (D, M)
    b : ndarray, shape (M,)
        Cast to the dtype of ``x @ W``: a float64 bias does not promote float32 x and W.

    Returns
    -------
    out : ndarray, shape (N, M)
        In the dtype of ``x @ W`` (float32 for float32 x and W).
    cache : tuple
        ``(x, W)``, what `linear_backward` needs, both in the dtype of `out`.

    Raises
    ------
    ValueError
        If a rank is wrong, D of `x` and `W` disagree, `b` is not (M,), or an input is
        not a rectangular array of real numbers.

    Examples
    --------
    The worked example of chapter 1, ``y = W x + b`` with column vectors, is one row
    pushed through ``x @ W.T + b``:

    >>> W = np.array([[1, 2], [3, 4]]); x = np.array([[5, 6]]); b = np.array([1, 1])
    >>> linear_forward(x, W.T, b)[0]
    array([[18., 40.]])
    """
    x, W, b = _validate(x, W, b)
    out = x @ W + b  # (N, D) @ (D, M) + (M,) -> (N, M)
    return out, (x, W)


def linear_backward(dout, cache):
    """Gradients of ``out = x @ W + b`` given the upstream gradient `dout`.

    The gradients are in the dtype of the cache (that of the forward output): `dout` is
    cast to it, so a float64 `dout` does not promote a float32 layer.

    Parameters
    ----------
    dout : ndarray, shape (N, M)
        dL/d(out).
    cache : tuple
        From `linear_forward`.

    Returns
    -------
    dx : ndarray, shape (N, D)
        ``dout @ W.T``
    dW : ndarray, shape (D, M)
        ``x.T @ dout``: one outer product per example, summed over the batch.
    db : ndarray, shape (M,)
        ``dout.sum(axis=0)``: the bias is broadcast over the batch, so its gradient
        sums.

    Raises
    ------
    ValueError
        If `dout` is not (N, M) real numbers.
    TypeError
        If `cache` is not the ``(x, W)`` pair of arrays from `linear_forward`.
    """
    try:
        x, W = cache
        got = f"arrays of shapes {x.shape} and {W.shape}"
        ok = x.ndim == 2 and W.ndim == 2 and x.shape[1] == W.shape[0]
    except (TypeError, ValueError, AttributeError):
        got, ok = type(cache).__name__, False
    if not ok:
        raise TypeError(
            "cache must be the (x, W) pair from linear_forward, x (N, D) and W (D, M), "
            f"got {got}"
        )
    x, W = as_real_array(x, "cache x"), as_real_array(W, "cache W")  # a hand-made cache
    return _backward(dout, x, W, "dout", "the cached x", "the cached W")


def _backward(dout, x, W, dout_name, x_name, w_name):
    """The gradients of `linear_backward` for checked x (N, D) and W (D, M); messages
    name `dout` as `dout_name`, and x and W (where N and M come from) as given."""
    dout = as_real_array(dout, dout_name)
    expected = (x.shape[0], W.shape[1])
    if dout.shape != expected:
        raise ValueError(
            f"{dout_name} must have shape (N, M) = {expected}, got {dout.shape} (N "
            f"from {x_name} of shape {x.shape}, M from {w_name} of shape {W.shape})"
        )
    dtype = result_dtype(x, W)
    x, W, dout = (a.astype(dtype, copy=False) for a in (x, W, dout))
    dx = dout @ W.T  # (N, M) @ (M, D) -> (N, D)
    dW = x.T @ dout  # (D, N) @ (N, M) -> (D, M)
    db = dout.sum(axis=0)  # (N, M) -> (M,)
    return dx, dW, db


def linear(x, W, b):
    """``x @ W + b``; `linear_forward` without the cache."""
    return linear_forward(x, W, b)[0]


class LinearLayer:
    """The fully connected layer as chapter 4 writes it: a class that holds its state.

    Parameters
    ----------
    input_size : int
        D, the number of input features.
    output_size : int
        M, the number of outputs.
    rng : numpy.random.Generator, optional
        Source of the initial weights; pass a seeded one for reproducible results.
        None (the default) draws from a fresh ``np.random.default_rng()``.
    dtype : numpy dtype
        Of the weights and bias, float64 (default) or float32; use float32 for float32
        batches, so that the output stays float32 (float64 weights would promote it).

    Attributes
    ----------
    weights : ndarray, shape (D, M)
        Initialised as ``rng.standard_normal((D, M)) * 0.01``.
    bias : ndarray, shape (M,)
        Initialised to zeros.

    Raises
    ------
    ValueError
        If `input_size` or `output_size` is not a positive integer (a float such as 2.5
        or a bool is refused, not truncated), `dtype` is not float32 or float64, or
        the weights are too large to allocate.
    TypeError
        If `rng` is neither None nor a ``numpy.random.Generator`` (e.g. an int seed).
    """

    def __init__(self, input_size, output_size, rng=None, dtype=np.float64):
        input_size = check_int(input_size, "input_size", minimum=1)
        output_size = check_int(output_size, "output_size", minimum=1)
        dtype = check_float_dtype(dtype, "dtype")
        rng = np.random.default_rng() if rng is None else check_rng(rng, "rng")
        # Drawn in float64 whatever the dtype, so a seed gives the same weights
        # (rounded).
        try:
            W = rng.standard_normal((input_size, output_size)) * 0.01  # (D, M)
        except (ValueError, MemoryError):  # beyond NumPy's limits or the memory
            raise ValueError(
                f"weights of shape (input_size, output_size) = "
                f"{(input_size, output_size)} cannot be allocated"
            ) from None
        self.weights = W.astype(dtype)  # (D, M)
        self.bias = np.zeros(output_size, dtype=dtype)  # (M,)

    def forward(self, x):
        """Return ``x @ weights + bias`` for x of shape (N, D); the output is (N, M)."""
        return linear(x, self.weights, self.bias)

    def backward(self, grad_output, x):
        """Return ``(grad_input, grad_weights, grad_bias)`` for upstream `grad_output`
        (N, M).

        `x` is the input the forward pass saw: this class keeps no cache, so the
        caller passes it back, as chapter 4's layer does.
        """
        x, W, _ = _validate(x, self.weights, self.bias)
        grad_input, grad_weights, grad_bias = _backward(
            grad_output, x, W, "grad_output", "x", "weights"
        )
        return grad_input, grad_weights, grad_bias
