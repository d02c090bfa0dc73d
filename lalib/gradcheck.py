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

from lalib._checks import as_real_array, check_int, check_positive_finite

__all__ = [
    "check_gradients",
    "numerical_gradient",
    "relative_error",
]


def _check_args(f, args, h):
    """Validate `f`, `args` and `h`; return float64 C-ordered copies of `args`."""
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    if not isinstance(args, (list, tuple)):
        raise TypeError(
            "args must be a list or tuple of arrays (wrap a single array as (x,)), "
            f"got {type(args).__name__}"
        )
    h = check_positive_finite(h, "h")
    # C order: the flat view perturbed below must alias the array f sees (a transposed
    # input would otherwise be perturbed in a copy and its gradient come out as zeros).
    copies = [
        np.array(as_real_array(a, f"args[{i}]"), dtype=np.float64, order="C")
        for i, a in enumerate(args)
    ]
    return copies, h


def _check_wrt(wrt, n_args):
    """`wrt` as a list of indices into the args (a negative one counts from the end)."""
    if wrt is None:
        return list(range(n_args))
    if isinstance(wrt, (str, bytes)) or not np.iterable(wrt):
        raise ValueError(f"wrt must be a sequence of argument indices, got {wrt!r}")
    wrt = list(wrt)
    if n_args == 0:
        if wrt:
            raise ValueError(f"wrt must be empty when there are no args, got {wrt!r}")
        return []
    name = f"each index in wrt (for {n_args} args)"
    return [check_int(i, name, -n_args, n_args - 1) % n_args for i in wrt]


def _as_output(value, name):
    """`value` (what f returned) as a float64 array; complex or text is refused."""
    return np.asarray(as_real_array(value, name), dtype=np.float64)


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
        Which arguments to differentiate with respect to, indices into `args`
        (negative ones count from the end); all by default.
    h : float
        Step size, a finite number > 0 (0 would divide 0 by 0).

    Returns
    -------
    grads : list of ndarray
        One per index in `wrt`, each of its argument's shape. NaN in the arguments or
        in `f`'s output propagates.

    Raises
    ------
    ValueError
        If `h` is not a positive finite number, an index in `wrt` is out of range or
        not an integer, `dout` does not have the output's shape, or an argument,
        `dout` or `f`'s output is not real numbers (complex is refused rather than
        silently dropped to its real part).
    TypeError
        If `f` is not callable or `args` is not a list or tuple.
    """
    args, h = _check_args(f, args, h)
    wrt = _check_wrt(wrt, len(args))
    out = _as_output(f(*args), "f(*args)")
    dout = np.ones_like(out) if dout is None else _as_output(dout, "dout")
    if dout.shape != out.shape:
        raise ValueError(
            f"dout must have the output's shape {out.shape}, got {dout.shape}"
        )
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
    are zero up to rounding. NaN in either gives NaN.

    Raises
    ------
    ValueError
        If the shapes differ, or an input is not real numbers.
    """
    a = _as_output(a, "a")
    b = _as_output(b, "b")
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

    Raises
    ------
    ValueError
        If the number of analytic gradients differs from the number of arguments
        checked, a gradient's shape differs from its argument's, or as in
        `numerical_gradient` (e.g. `h` not a positive finite number).
    TypeError
        If `grads` is not a list or tuple of arrays, or as in `numerical_gradient`.

    Examples
    --------
    >>> from lalib.linear import linear, linear_backward, linear_forward
    >>> rng = np.random.default_rng(0)
    >>> x, W, b = rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=2)
    >>> dout = rng.normal(size=(4, 2))
    >>> out, cache = linear_forward(x, W, b)
    >>> grads = linear_backward(dout, cache)
    >>> max(check_gradients(linear, (x, W, b), grads, dout)) < 1e-8
    True
    """
    _check_args(f, args, h)
    wrt = _check_wrt(wrt, len(args))
    if not isinstance(grads, (list, tuple)):
        raise TypeError(
            "grads must be a list or tuple of arrays, one per argument checked (wrap a "
            f"single gradient as [g]), got {type(grads).__name__}"
        )
    if len(grads) != len(wrt):
        raise ValueError(
            f"grads must hold one analytic gradient per argument checked ("
            f"{len(wrt)}, for args {wrt}), got {len(grads)}"
        )
    for g, i in zip(grads, wrt, strict=True):
        if np.shape(g) != np.shape(args[i]):
            raise ValueError(
                f"the analytic gradient for args[{i}] must have its shape "
                f"{np.shape(args[i])}, got {np.shape(g)}"
            )
    numeric = numerical_gradient(f, args, dout=dout, wrt=wrt, h=h)
    return [relative_error(g, n) for g, n in zip(grads, numeric)]
