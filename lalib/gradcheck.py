"""Numerical gradients by central differences, to check analytic backward passes.

For a function ``out = f(*args)`` and an upstream gradient ``dout`` of out's shape, the
scalar ``L = sum(f(*args) * dout)`` has ``dL/d(args[i])`` equal to what a backward pass
returns for argument ``i``. Central differences estimate it one entry at a time:

    dL/da[j] ~ (L(a[j] + h) - L(a[j] - h)) / (2 h)

with an error of order h**2. Use float64: in float32 the rounding error of L swamps
the h**2 term long before h is small.

This is a reference tool, so it loops over entries on purpose: 2 evaluations of `f`
per entry of every argument checked.
"""

import numpy as np


def numerical_gradient(f, args, dout=None, wrt=None, h=1e-6):
    """Central-difference gradients of ``sum(f(*args) * dout)`` with respect to `args`.

    Parameters
    ----------
    f : callable
        ``f(*args)`` returns an ndarray (or a scalar) and must not modify its arguments.
    args : sequence of ndarray
        The point at which to differentiate. Not modified (copies are perturbed).
    dout : ndarray, optional
        Upstream gradient, shape of ``f(*args)``; ones by default.
    wrt : sequence of int, optional
        Which arguments to differentiate with respect to; all by default.
    h : float
        Step size.

    Returns
    -------
    grads : list of ndarray
        One per index in `wrt`, each of its argument's shape.
    """
    # C order: the flat view below must alias the array f sees (a transposed input
    # would otherwise be perturbed in a copy and its gradient come out as zeros).
    args = [np.array(a, dtype=np.float64, order="C") for a in args]
    out = np.asarray(f(*args), dtype=np.float64)
    dout = np.ones_like(out) if dout is None else np.asarray(dout, dtype=np.float64)
    if dout.shape != out.shape:
        raise ValueError(f"dout must have the output's shape {out.shape}, got {dout.shape}")
    wrt = range(len(args)) if wrt is None else wrt
    grads = []
    for i in wrt:
        a = args[i]
        grad = np.zeros_like(a)
        flat, gflat = a.reshape(-1), grad.reshape(-1)  # views into a and grad
        for j in range(flat.size):
            old = flat[j]
            flat[j] = old + h
            plus = np.sum(np.asarray(f(*args)) * dout)
            flat[j] = old - h
            minus = np.sum(np.asarray(f(*args)) * dout)
            flat[j] = old
            gflat[j] = (plus - minus) / (2 * h)
        grads.append(grad)
    return grads


def relative_error(a, b):
    """``||a - b|| / (||a|| + ||b||)``, 0 when both are zero.

    A norm-wise ratio: unlike an entry-wise one, it is not blown up by entries that
    are zero up to rounding.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare shapes {a.shape} and {b.shape}")
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def check_gradients(f, args, grads, dout=None, wrt=None, h=1e-6):
    """Compare analytic gradients with central differences.

    Parameters
    ----------
    f, args, dout, wrt, h
        As in `numerical_gradient`.
    grads : sequence of ndarray
        Analytic gradients, one per index in `wrt` (all arguments by default), in order.

    Returns
    -------
    errors : list of float
        `relative_error` of each analytic gradient against its numerical estimate. In
        float64 a correct backward pass gives about 1e-8 or less.

    Examples
    --------
    >>> from lalib.linear import linear, linear_backward, linear_forward
    >>> rng = np.random.default_rng(0)
    >>> x, W, b = rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=2)
    >>> dout = rng.normal(size=(4, 2))
    >>> out, cache = linear_forward(x, W, b)
    >>> max(check_gradients(linear, (x, W, b), linear_backward(dout, cache), dout)) < 1e-8
    True
    """
    wrt = list(range(len(args))) if wrt is None else list(wrt)
    if len(grads) != len(wrt):
        raise ValueError(f"got {len(grads)} analytic gradients for {len(wrt)} arguments")
    numeric = numerical_gradient(f, args, dout=dout, wrt=wrt, h=h)
    return [relative_error(g, n) for g, n in zip(grads, numeric)]
