"""A multilayer perceptron built from lalib's layers, and mini-batch gradient descent.

The network is ``linear -> relu -> linear -> relu -> ... -> linear``: every hidden
layer is `lalib.linear.linear_forward` followed by `lalib.activations.relu_forward`,
the last layer produces class scores, and `lalib.losses.softmax_cross_entropy` turns
them into a loss. The parameters are a flat list ``[W1, b1, W2, b2, ...]`` and the
gradients come back in the same order, so one update rule serves every layer.

Backpropagation is the chain rule applied layer by layer in reverse: each backward
function receives dL/d(its output) and returns dL/d(its inputs), using only what its
forward pass cached.
"""

import numpy as np

from lalib.activations import relu_backward, relu_forward
from lalib.linear import linear_backward, linear_forward
from lalib.losses import softmax_cross_entropy


def init_params(sizes, rng, dtype=np.float64):
    """He-initialised weights and zero biases for layer widths ``sizes``.

    Parameters
    ----------
    sizes : sequence of int
        ``(D, H1, ..., K)``: input features, hidden widths, number of classes.
        At least two entries (one linear layer).
    rng : numpy.random.Generator
        Source of the initial weights; pass a seeded one for reproducible results.
    dtype : numpy dtype
        Of every parameter (float64 or float32).

    Returns
    -------
    params : list of ndarray
        ``[W1, b1, W2, b2, ...]`` with ``W_l`` of shape ``(sizes[l-1], sizes[l])`` drawn
        from a normal with variance ``2 / sizes[l-1]`` (He et al. 2015: keeps the scale
        of activations roughly constant through relu layers) and ``b_l`` zeros.

    Examples
    --------
    >>> params = init_params((64, 32, 10), np.random.default_rng(0))
    >>> [p.shape for p in params]
    [(64, 32), (32,), (32, 10), (10,)]
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must hold at least two positive widths, got {sizes}")
    params = []
    for d, m in zip(sizes[:-1], sizes[1:]):
        scale = (2.0 / d) ** 0.5  # a Python float, so float32 weights stay float32
        params.append((rng.standard_normal((d, m)) * scale).astype(dtype))  # (D, M)
        params.append(np.zeros(m, dtype=dtype))  # (M,)
    return params


def _check_params(params):
    if len(params) < 2 or len(params) % 2:
        raise ValueError(
            f"params must be [W1, b1, W2, b2, ...] (an even, non-zero count), got {len(params)}"
        )


def mlp_forward(params, x):
    """Class scores of the MLP for a batch, and the caches backprop needs.

    Parameters
    ----------
    params : list of ndarray
        ``[W1, b1, ..., WL, bL]`` as from `init_params`.
    x : ndarray, shape (N, D)

    Returns
    -------
    scores : ndarray, shape (N, K)
        Output of the last linear layer (no relu after it).
    caches : list of tuple
        One ``(linear_cache, relu_cache)`` per layer; the last layer's relu cache is None.

    Raises
    ------
    ValueError
        If `params` is not a list of (W, b) pairs, or any shape does not chain
        (the message names the shapes, from `lalib.linear.linear_forward`).
    """
    _check_params(params)
    caches = []
    h = x
    n_layers = len(params) // 2
    for layer in range(n_layers):
        W, b = params[2 * layer], params[2 * layer + 1]
        a, lin_cache = linear_forward(h, W, b)  # (N, D_l) @ (D_l, M_l) + (M_l,) -> (N, M_l)
        if layer < n_layers - 1:
            h, relu_cache = relu_forward(a)  # (N, M_l)
        else:
            h, relu_cache = a, None  # scores (N, K)
        caches.append((lin_cache, relu_cache))
    return h, caches


def mlp_backward(dscores, caches):
    """Gradients of the loss with respect to every parameter, by backpropagation.

    Parameters
    ----------
    dscores : ndarray, shape (N, K)
        dL/d(scores), e.g. from `lalib.losses.softmax_cross_entropy`.
    caches : list of tuple
        From `mlp_forward`.

    Returns
    -------
    grads : list of ndarray
        ``[dW1, db1, ..., dWL, dbL]``, each of its parameter's shape.
    dx : ndarray, shape (N, D)
        dL/dx, the gradient with respect to the input batch.
    """
    grads = [None] * (2 * len(caches))
    dh = dscores
    for layer in reversed(range(len(caches))):
        lin_cache, relu_cache = caches[layer]
        da = dh if relu_cache is None else relu_backward(dh, relu_cache)  # (N, M_l)
        dh, dW, db = linear_backward(da, lin_cache)  # (N, D_l), (D_l, M_l), (M_l,)
        grads[2 * layer], grads[2 * layer + 1] = dW, db
    return grads, dh


def mlp_loss(params, x, labels):
    """Softmax cross-entropy of the MLP on a batch, and its gradients.

    Returns
    -------
    L : float
    grads : list of ndarray
        ``[dW1, db1, ...]``, as from `mlp_backward`.
    """
    scores, caches = mlp_forward(params, x)  # (N, K)
    L, dscores = softmax_cross_entropy(scores, labels)  # float, (N, K)
    grads, _ = mlp_backward(dscores, caches)
    return L, grads


def predict(params, x):
    """The class with the highest score for each row of `x`: int array of shape (N,)."""
    return np.argmax(mlp_forward(params, x)[0], axis=1)


def accuracy(params, x, labels):
    """Fraction of rows of `x` whose predicted class equals `labels`."""
    return float(np.mean(predict(params, x) == np.asarray(labels)))


def train(params, X, y, *, epochs, batch_size, lr, rng, X_test=None, y_test=None):
    """Mini-batch gradient descent on the softmax cross-entropy; updates `params` in place.

    Each epoch shuffles the training rows with `rng`, splits them into batches of
    `batch_size` (the last one may be smaller) and takes one step
    ``p -= lr * dL/dp`` per batch for every parameter.

    Parameters
    ----------
    params : list of ndarray
        From `init_params`; modified in place.
    X : ndarray, shape (N, D)
    y : ndarray of int, shape (N,)
    epochs : int
    batch_size : int
    lr : float
        Learning rate (step size).
    rng : numpy.random.Generator
        Orders the batches; pass a seeded one for a reproducible run.
    X_test, y_test : ndarray, optional
        Held-out data whose accuracy is recorded after every epoch.

    Returns
    -------
    history : dict of str -> ndarray, each of shape (epochs,)
        ``"loss"`` (mean batch loss over the epoch), ``"train_acc"`` and, with test
        data, ``"test_acc"``, the accuracies after the epoch.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"X must be (N, D) and y (N,), got X {X.shape} and y {y.shape}")
    if int(epochs) < 1 or int(batch_size) < 1 or not lr > 0:
        raise ValueError(
            f"epochs, batch_size and lr must be positive, got {epochs}, {batch_size}, {lr}"
        )
    n = X.shape[0]
    history = {"loss": [], "train_acc": []}
    if X_test is not None:
        history["test_acc"] = []
    for _ in range(int(epochs)):
        order = rng.permutation(n)
        losses = []
        for start in range(0, n, int(batch_size)):
            batch = order[start:start + int(batch_size)]
            L, grads = mlp_loss(params, X[batch], y[batch])  # X[batch]: (B, D)
            for p, g in zip(params, grads):
                p -= lr * g  # in place: the caller's arrays are the model
            losses.append(L)
        history["loss"].append(float(np.mean(losses)))
        history["train_acc"].append(accuracy(params, X, y))
        if X_test is not None:
            history["test_acc"].append(accuracy(params, X_test, y_test))
    return {k: np.array(v) for k, v in history.items()}
