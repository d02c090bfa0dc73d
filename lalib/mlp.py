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

from lalib._checks import (
    as_array,
    as_real_array,
    check_float_dtype,
    check_int,
    check_ndim,
    check_positive_finite,
    check_rng,
)
from lalib.activations import relu_backward, relu_forward
from lalib.linear import linear_backward, linear_forward
from lalib.losses import softmax_cross_entropy

__all__ = [
    "accuracy",
    "init_params",
    "mlp_backward",
    "mlp_forward",
    "mlp_loss",
    "predict",
    "train",
]


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

    Raises
    ------
    ValueError
        If `sizes` is not a sequence of at least two positive integers (2.5 and True
        are refused, not truncated), `dtype` is not float32 or float64, or a weight
        matrix is too large to allocate.
    TypeError
        If `rng` is not a ``numpy.random.Generator`` (None included: the draw must be
        reproducible, so the generator is required).

    Examples
    --------
    >>> params = init_params((64, 32, 10), np.random.default_rng(0))
    >>> [p.shape for p in params]
    [(64, 32), (32,), (32, 10), (10,)]
    """
    expected = f"sizes must hold at least two positive integer widths, got {sizes!r}"
    try:
        widths = [check_int(s, "each width", minimum=1) for s in sizes]
    except (TypeError, ValueError):  # not iterable, or a width that is not an int >= 1
        raise ValueError(expected) from None
    if len(widths) < 2:
        raise ValueError(expected)
    sizes = widths
    dtype = check_float_dtype(dtype, "dtype")
    check_rng(rng, "rng")
    params = []
    for d, m in zip(sizes[:-1], sizes[1:]):
        scale = (2.0 / d) ** 0.5  # a Python float, so float32 weights stay float32
        try:
            W = rng.standard_normal((d, m))  # (D, M)
        except (ValueError, MemoryError):  # beyond NumPy's limits or the memory
            raise ValueError(
                f"a weight matrix of shape {(d, m)} (from sizes {sizes}) cannot be "
                "allocated"
            ) from None
        params.append((W * scale).astype(dtype))  # (D, M)
        params.append(np.zeros(m, dtype=dtype))  # (M,)
    return params


def _check_params(params):
    if not isinstance(params, (list, tuple)):
        raise TypeError(
            "params must be a list of arrays [W1, b1, W2, b2, ...], "
            f"got {type(params).__name__}"
        )
    if len(params) < 2 or len(params) % 2:
        raise ValueError(
            "params must be [W1, b1, W2, b2, ...] (an even, non-zero count), "
            f"got {len(params)}"
        )


def _check_layers(params):
    """Check every entry of `params` (after `_check_params`); messages name its index.

    Only checks: the arrays are converted, as before, by `linear_forward`.
    """
    prev = None  # (index, shape) of the previous layer's weights
    for i in range(0, len(params), 2):
        layer = i // 2 + 1
        w_name = f"params[{i}] (the weights of layer {layer})"
        b_name = f"params[{i + 1}] (the bias of layer {layer})"
        W = as_real_array(params[i], w_name)
        check_ndim(W, 2, w_name, "(D, M)")
        b = as_real_array(params[i + 1], b_name)
        if b.shape != (W.shape[1],):
            raise ValueError(
                f"{b_name} must have shape ({W.shape[1]},), one entry per column of "
                f"params[{i}] {W.shape}, got {b.shape}"
            )
        if prev is not None and W.shape[0] != prev[1][1]:
            raise ValueError(
                f"{w_name} must have {prev[1][1]} rows, one per output of layer "
                f"{layer - 1} (params[{prev[0]}] has shape {prev[1]}), got shape "
                f"{W.shape}"
            )
        prev = (i, W.shape)


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
        One ``(linear_cache, relu_cache)`` per layer; the last layer's relu
        cache is None.

    Raises
    ------
    ValueError
        If `params` is not a list of (W, b) pairs of real arrays, or any shape does not
        chain (the message names the entry, e.g. ``params[1]``, and the shapes).
    TypeError
        If `params` is not a list (or tuple) of arrays.
    """
    _check_params(params)
    _check_layers(params)
    caches = []
    h = x
    n_layers = len(params) // 2
    for layer in range(n_layers):
        W, b = params[2 * layer], params[2 * layer + 1]
        a, lin_cache = linear_forward(
            h, W, b
        )  # (N, D_l) @ (D_l, M_l) + (M_l,) -> (N, M_l)
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

    Raises
    ------
    ValueError
        If `dscores` is not real numbers of the shape of the scores (the message names
        both), or `caches` lacks the last layer's entry (a list cut short).
    TypeError
        If `caches` is not the non-empty list `mlp_forward` returned, or an entry is
        not a ``((x, W), relu_cache)`` pair.
    """
    if not isinstance(caches, (list, tuple)) or not caches:
        raise TypeError(
            "caches must be the non-empty list of per-layer caches from mlp_forward, "
            f"got {type(caches).__name__} of length {len(caches)}"
            if isinstance(caches, (list, tuple))
            else "caches must be the non-empty list of per-layer caches from "
            f"mlp_forward, got {type(caches).__name__}"
        )
    for layer, entry in enumerate(caches):
        try:
            (x, W), relu_cache = entry
            ok = x.ndim == 2 and W.ndim == 2 and x.shape[1] == W.shape[0]
        except (TypeError, ValueError, AttributeError):
            ok = False
        if not ok:
            raise TypeError(
                f"caches[{layer}] must be the ((x, W), relu_cache) pair mlp_forward "
                f"returned for layer {layer + 1}, got {type(entry).__name__}"
            )
    if caches[-1][1] is not None:
        raise ValueError(
            f"caches must hold every layer's cache from mlp_forward: its last entry "
            f"(caches[{len(caches) - 1}]) has a relu cache, so it is a hidden layer "
            "and the list was cut short"
        )
    dscores = as_real_array(dscores, "dscores")
    x, W = caches[-1][0]
    expected = (x.shape[0], W.shape[1])
    if dscores.shape != expected:
        raise ValueError(
            f"dscores must have the shape of the scores (N, K) = {expected}, "
            f"got {dscores.shape}"
        )
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

    Raises
    ------
    ValueError
        As `mlp_forward`, if `x` has no rows (the loss is a mean over rows), or as
        `lalib.losses.softmax_cross_entropy` for bad `labels`.
    """
    scores, caches = mlp_forward(params, x)  # (N, K)
    if scores.shape[0] == 0:
        raise ValueError(
            f"x must have at least one row (the loss is a mean over rows), got shape "
            f"{np.shape(x)}"
        )
    L, dscores = softmax_cross_entropy(scores, labels)  # float, (N, K)
    grads, _ = mlp_backward(dscores, caches)
    return L, grads


def predict(params, x):
    """The class with the highest score for each row of `x`: int array of shape (N,).

    Raises
    ------
    ValueError
        If a shape does not chain (as `mlp_forward`), a row of `x` holds inf or NaN,
        or a row's scores hold NaN (e.g. from NaN in the parameters): no class can be
        read off them, and ``argmax`` would silently report class 0.
    """
    # inf in x gives inf - inf = NaN in the product: reported below, not warned about.
    with np.errstate(invalid="ignore"):
        scores = mlp_forward(params, x)[0]  # (N, K)
    # x is a checked (N, D) real array now; np.isfinite of an int array is all True.
    bad = ~np.isfinite(np.asarray(x)).all(axis=1) | np.isnan(scores).any(axis=1)  # (N,)
    if bad.any():
        raise ValueError(
            f"x must be finite to be classified: {int(bad.sum())} of the {bad.size} "
            f"rows of x (shape {np.shape(x)}) or their scores hold inf or NaN, the "
            f"first in row {int(np.argmax(bad))}; no class can be predicted from them"
        )
    return np.argmax(scores, axis=1)


def _check_labels(labels, n, n_classes, name, x_name, x_shape):
    """`labels` as an integer array of shape (n,) with values in 0..n_classes-1."""
    labels = as_array(labels, name)
    if labels.shape != (n,):
        raise ValueError(
            f"{name} must have shape (N,) = ({n},) for {x_name} of shape {x_shape}, "
            f"got {labels.shape}"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name} must be integers, got dtype {labels.dtype}")
    if n and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"{name} must lie in 0..{n_classes - 1} (K={n_classes} classes), "
            f"got values from {labels.min()} to {labels.max()}"
        )
    return labels


def accuracy(params, x, labels):
    """Fraction of rows of `x` whose predicted class equals `labels`.

    Parameters
    ----------
    params : list of ndarray
        ``[W1, b1, ..., WL, bL]`` as from `init_params`.
    x : ndarray, shape (N, D)
        At least one row.
    labels : ndarray of int, shape (N,)
        One true class per row, in ``0..K-1``. A column (N, 1) is refused: with the (N,)
        predictions it would broadcast to an (N, N) table and give a wrong fraction.

    Returns
    -------
    acc : float
        In [0, 1].

    Raises
    ------
    ValueError
        If `labels` is not (N,) integers in ``0..K-1``, `x` has no rows, or a shape
        does not chain.
    """
    pred = predict(params, x)  # (N,); validates params and x
    if pred.size == 0:
        raise ValueError(f"x must have at least one row to score, got {np.shape(x)}")
    n_classes = np.shape(params[-1])[0]
    labels = _check_labels(labels, pred.shape[0], n_classes, "labels", "x", np.shape(x))
    return float(np.mean(pred == labels))


def _check_fits(params, X, name):
    """ValueError naming `X`'s shape unless `params` chain from its D features."""
    try:
        mlp_forward(params, X[:1])  # one row: checks every shape, cheaply
    except ValueError as exc:
        raise ValueError(
            f"params do not fit {name} of shape {X.shape}: {exc}"
        ) from None


def _diverged(what, epoch, lr):
    return ValueError(
        f"training diverged: {what} became non-finite in epoch {epoch + 1} with "
        f"lr={lr}; lower lr (params are left unchanged)"
    )


def train(params, X, y, *, epochs, batch_size, lr, rng, X_test=None, y_test=None):
    """Mini-batch gradient descent on the softmax cross-entropy; updates `params` in
    place.

    Each epoch shuffles the training rows with `rng`, splits them into batches of
    `batch_size` (the last one may be smaller) and takes one step
    ``p -= lr * dL/dp`` per batch for every parameter.

    Every argument is checked before the first step, and the steps are taken on
    copies that are written back into `params` only when training completes: on any
    error (bad input, or scores that overflow because `lr` is too large) `params` is
    left exactly as it was.

    Parameters
    ----------
    params : list of ndarray
        From `init_params`; modified in place.
    X : ndarray, shape (N, D)
        At least one row, all entries finite.
    y : ndarray of int, shape (N,)
        Classes in ``0..K-1``, K the width of the last layer.
    epochs : int
        At least 1.
    batch_size : int
        At least 1.
    lr : float
        Learning rate (step size): a finite number > 0.
    rng : numpy.random.Generator
        Orders the batches; pass a seeded one for a reproducible run.
    X_test, y_test : ndarray, optional
        Held-out data whose accuracy is recorded after every epoch: both or neither.

    Returns
    -------
    history : dict of str -> ndarray, each of shape (epochs,)
        ``"loss"`` (mean batch loss over the epoch), ``"train_acc"`` and, with test
        data, ``"test_acc"``, the accuracies after the epoch.

    Raises
    ------
    ValueError
        If a shape does not chain, a parameter is not a writeable floating array, `X`
        or `X_test` is empty or not finite, a label is not an integer in ``0..K-1``,
        only one of `X_test` and `y_test` is given, `epochs` or `batch_size` is not a
        positive integer (1.5 and True are refused, not truncated), `lr` is not a
        positive finite number, or the scores or parameters become non-finite during
        training (`lr` too large: descent diverged).
    TypeError
        If `params` is not a list of ndarrays or `rng` is not a
        ``numpy.random.Generator``.
    """
    epochs = check_int(epochs, "epochs", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    lr = check_positive_finite(lr, "lr")
    check_rng(rng, "rng")
    _check_params(params)
    for i, p in enumerate(params):
        if not isinstance(p, np.ndarray):
            raise TypeError(
                f"params[{i}] must be an ndarray (train updates it in place), "
                f"got {type(p).__name__}"
            )
        if not np.issubdtype(p.dtype, np.floating) or not p.flags.writeable:
            raise ValueError(
                f"params[{i}] must be a writeable floating array (train updates it in "
                f"place), got dtype {p.dtype}, writeable={p.flags.writeable}"
            )
    X = as_real_array(X, "X")
    y = as_array(y, "y")
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(
            f"X must be (N, D) and y (N,), got X {X.shape} and y {y.shape}"
        )
    if X.shape[0] == 0:
        raise ValueError(f"X must have at least one row, got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X must be finite (no inf or NaN): the loss is undefined")
    _check_fits(params, X, "X")
    n_classes = params[-1].shape[0]
    y = _check_labels(y, X.shape[0], n_classes, "y", "X", X.shape)
    if (X_test is None) != (y_test is None):
        given = "X_test" if y_test is None else "y_test"
        raise ValueError(
            f"{given} was given alone: pass X_test and y_test together, or neither"
        )
    if X_test is not None:
        X_test = as_real_array(X_test, "X_test")
        if X_test.ndim != 2 or X_test.shape[0] == 0:
            raise ValueError(
                f"X_test must be (N_test, D) with at least one row, got {X_test.shape}"
            )
        if not np.all(np.isfinite(X_test)):
            raise ValueError("X_test must be finite (no inf or NaN)")
        _check_fits(params, X_test, "X_test")
        n_test = X_test.shape[0]
        _check_labels(y_test, n_test, n_classes, "y_test", "X_test", X_test.shape)
    work = [np.array(p) for p in params]  # the steps go here until training succeeds
    n = X.shape[0]
    history = {"loss": [], "train_acc": []}
    if X_test is not None:
        history["test_acc"] = []
    for epoch in range(epochs):
        order = rng.permutation(n)
        losses = []
        # Overflow is not warned about but checked: a diverging run raises below.
        with np.errstate(over="ignore", invalid="ignore"):
            for start in range(0, n, batch_size):
                batch = order[start : start + batch_size]
                scores, caches = mlp_forward(work, X[batch])  # (B, K); X[batch]: (B, D)
                if not np.all(np.isfinite(scores)):
                    raise _diverged("the scores", epoch, lr)
                L, dscores = softmax_cross_entropy(scores, y[batch])
                grads, _ = mlp_backward(dscores, caches)
                for p, g in zip(work, grads, strict=True):
                    p -= lr * g  # in place on the working copies
                losses.append(L)
            if not all(np.all(np.isfinite(p)) for p in work):
                raise _diverged("the parameters", epoch, lr)
        history["loss"].append(float(np.mean(losses)))
        history["train_acc"].append(accuracy(work, X, y))
        if X_test is not None:
            history["test_acc"].append(accuracy(work, X_test, y_test))
    for p, w in zip(params, work, strict=True):
        p[...] = w  # in place: the caller's arrays are the model
    return {k: np.array(v) for k, v in history.items()}
