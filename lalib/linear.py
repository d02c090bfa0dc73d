"""Affine (fully connected) layers: ``out = x @ W + b`` for a batch of rows.

The book writes a layer as ``y = W x + b`` with column vectors; code keeps a batch as
the rows of a matrix, so the same layer reads ``Y = X @ W.T + b``. This module uses
the row convention throughout, with ``W`` stored as (D, M): ``x @ W`` maps D input
features to M outputs.
"""

import numpy as np

from lalib._checks import as_float_array, check_ndim


def _validate(x, W, b):
    x = as_float_array(x, "x")
    W = as_float_array(W, "W")
    b = as_float_array(b, "b")
    check_ndim(x, 2, "x", "(N, D)")
    check_ndim(W, 2, "W", "(D, M)")
    if x.shape[1] != W.shape[0]:
        raise ValueError(
            f"x has D={x.shape[1]} features (shape {x.shape}) but W expects "
            f"D={W.shape[0]} (shape {W.shape}); x must be (N, D) and W (D, M)"
        )
    if b.shape != (W.shape[1],):
        raise ValueError(f"b must have shape (M,) = ({W.shape[1]},), got {b.shape}")
    return x, W, b


def linear_forward(x, W, b):
    """Apply the affine map ``x @ W + b`` to a batch of rows.

    Parameters
    ----------
    x : ndarray, shape (N, D)
        One example per row. Integer input is promoted to float64.
    W : ndarray, shape (D, M)
    b : ndarray, shape (M,)

    Returns
    -------
    out : ndarray, shape (N, M)
    cache : tuple
        ``(x, W)``, what `linear_backward` needs.

    Raises
    ------
    ValueError
        If a rank is wrong, D of `x` and `W` disagree, or `b` is not (M,).

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
        ``dout.sum(axis=0)``: the bias is broadcast over the batch, so its gradient sums.
    """
    x, W = cache
    dout = as_float_array(dout, "dout")
    expected = (x.shape[0], W.shape[1])
    if dout.shape != expected:
        raise ValueError(f"dout must have shape (N, M) = {expected}, got {dout.shape}")
    dx = dout @ W.T  # (N, M) @ (M, D) -> (N, D)
    dW = x.T @ dout  # (D, N) @ (N, M) -> (D, M)
    db = dout.sum(axis=0)  # (N, M) -> (M,)
    return dx, dW, db


def linear(x, W, b):
    """``x @ W + b``; `linear_forward` without the cache."""
    return linear_forward(x, W, b)[0]


class LinearLayer:
    """The fully connected layer as the source text writes it, with state.

    Parameters
    ----------
    input_size : int
        D, the number of input features.
    output_size : int
        M, the number of outputs.
    rng : numpy.random.Generator, optional
        Source of the initial weights; pass a seeded one for reproducible results.
    dtype : numpy dtype
        Of the weights and bias; use float32 for float32 batches, so that the output
        stays float32 (float64 weights would promote it).

    Attributes
    ----------
    weights : ndarray, shape (D, M)
        Initialised as ``rng.standard_normal((D, M)) * 0.01``.
    bias : ndarray, shape (M,)
        Initialised to zeros.
    """

    def __init__(self, input_size, output_size, rng=None, dtype=np.float64):
        if int(input_size) < 1 or int(output_size) < 1:
            raise ValueError(
                f"input_size and output_size must be positive, got {input_size}, {output_size}"
            )
        rng = np.random.default_rng() if rng is None else rng
        # Drawn in float64 whatever the dtype, so a seed gives the same weights (rounded).
        W = rng.standard_normal((input_size, output_size)) * 0.01  # (D, M)
        self.weights = W.astype(dtype)  # (D, M)
        self.bias = np.zeros(output_size, dtype=dtype)  # (M,)

    def forward(self, x):
        """Return ``x @ weights + bias`` for x of shape (N, D); the output is (N, M)."""
        return linear(x, self.weights, self.bias)

    def backward(self, grad_output, x):
        """Return ``(grad_input, grad_weights, grad_bias)`` for upstream `grad_output` (N, M).

        `x` is the input the forward pass saw, as in the source text (which keeps no cache).
        """
        x, W, _ = _validate(x, self.weights, self.bias)
        grad_input, grad_weights, grad_bias = linear_backward(grad_output, (x, W))
        return grad_input, grad_weights, grad_bias
