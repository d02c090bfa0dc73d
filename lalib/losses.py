"""Loss functions, each returning the loss and its gradient with respect to the
prediction."""

import numpy as np

from lalib._checks import as_array, as_real_array, check_ndim, check_same_shape

__all__ = [
    "softmax_cross_entropy",
    "squared_error",
]


def squared_error(y, t):
    """Half the summed squared error, ``L = 1/2 * sum((y - t)**2)``, and ``dL/dy``.

    Parameters
    ----------
    y : ndarray, any shape
        Predictions.
    t : ndarray, same shape as `y`
        Targets.

    Returns
    -------
    L : float
    dL_dy : ndarray, same shape as `y`
        ``y - t``: the factor 1/2 exists to cancel the 2 from the derivative.

    Raises
    ------
    ValueError
        If the shapes differ or an input is not a rectangular array of real numbers.
    """
    y = as_real_array(y, "y")
    t = as_real_array(t, "t")
    check_same_shape(y, t, "y", "t")
    diff = y - t
    return 0.5 * float(np.sum(diff * diff)), diff


def softmax_cross_entropy(scores, labels):
    """Mean cross-entropy of softmax probabilities against integer labels, and
    ``dL/dscores``.

    For one row of K class scores ``s`` with true class ``y`` the loss is
    ``-log softmax(s)[y] = logsumexp(s) - s[y]``; `L` is its mean over the N rows.
    The log-sum-exp is taken after subtracting each row's maximum, so scores of 1e4
    give a finite loss instead of ``inf - inf``.

    Parameters
    ----------
    scores : ndarray, shape (N, K)
        Unnormalised class scores (logits), one row per example and K classes; they
        must be finite. float32 stays float32.
    labels : ndarray of int, shape (N,)
        The true class of each row, in ``0 .. K-1``.

    Returns
    -------
    L : float
        ``mean_n (logsumexp(scores[n]) - scores[n, labels[n]])``.
    dscores : ndarray, shape (N, K)
        ``(softmax(scores) - onehot(labels)) / N``: the probabilities the model gives,
        minus 1 at each true class, divided by N because `L` is a mean.

    Raises
    ------
    ValueError
        If `scores` is not a non-empty (N, K) array of finite numbers, or `labels` is
        not (N,) integers within ``0 .. K-1``.

    Examples
    --------
    Equal scores give every one of the K classes probability 1/K, so the loss is log K:

    >>> L, dscores = softmax_cross_entropy(np.zeros((2, 4)), np.array([0, 3]))
    >>> bool(np.isclose(L, np.log(4)))
    True
    >>> dscores
    array([[-0.375,  0.125,  0.125,  0.125],
           [ 0.125,  0.125,  0.125, -0.375]])
    """
    scores = as_real_array(scores, "scores")
    check_ndim(scores, 2, "scores", "(N, K)")
    n, k = scores.shape
    if n == 0 or k == 0:
        raise ValueError(
            f"scores must have at least one row and one class, got {scores.shape}"
        )
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores must be finite (no inf or NaN)")
    labels = as_array(labels, "labels")
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape (N,) = ({n},), got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() >= k:
        raise ValueError(
            f"labels must lie in 0..{k - 1} for scores of shape {scores.shape}, "
            f"got values from {labels.min()} to {labels.max()}"
        )
    rows = np.arange(n)
    shifted = scores - scores.max(axis=1, keepdims=True)  # (N, K), each row's max is 0
    log_z = np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # (N, 1), >= 0
    log_p = shifted - log_z  # (N, K) log-softmax
    L = -float(np.mean(log_p[rows, labels]))
    dscores = np.exp(log_p)  # (N, K) softmax(scores)
    dscores[rows, labels] -= 1
    dscores /= n
    return L, dscores
