"""Gradient descent, and the quadratic loss whose linear algebra explains it.

Near a minimum every smooth loss looks like the quadratic

    f(x) = 1/2 x^T A x - b^T x,    grad f(x) = A x - b,    Hessian = A,

with A symmetric. One gradient step with learning rate ``lr`` maps the error
``e = x - x*`` (where ``A x* = b``) to ``(I - lr A) e``, so along the eigenvector of the
eigenvalue ``lam`` of A the error is multiplied by ``1 - lr * lam`` at every step. The
iteration converges exactly when ``0 < lr < 2 / lam_max`` and its speed is set by the
worst factor, ``max_i |1 - lr lam_i|`` (`gd_rate`): for the best constant step,
``lr = 2 / (lam_min + lam_max)``, it is ``(kappa - 1) / (kappa + 1)`` with
``kappa = lam_max / lam_min`` the condition number of the Hessian.

Parameters are one array of any shape (``d`` below is its size) or, in `gd_step`, a list
of arrays, as a network keeps them.
"""

import numpy as np

from lalib._checks import (
    as_real_array,
    check_int,
    check_ndim,
    check_number,
    check_positive_finite,
)

__all__ = [
    "gd_rate",
    "gd_step",
    "gradient_descent",
    "quadratic_grad",
    "quadratic_loss",
    "quadratic_minimizer",
]


def _check_lr(lr):
    return check_positive_finite(lr, "lr")


def _check_hessian(A):
    A = as_real_array(A, "A")
    check_ndim(A, 2, "A", "(d, d)")
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"A must be square (d, d), got shape {A.shape}")
    # Symmetric up to rounding among the finite entries; a NaN or inf must sit opposite
    # the same value (NaN opposite NaN), so that NaN input propagates to NaN output
    # instead of being reported as asymmetry.
    finite = np.isfinite(A) & np.isfinite(A.T)  # (d, d)
    same = (A == A.T) | (np.isnan(A) & np.isnan(A.T))  # (d, d)
    scale = max(float(np.max(np.abs(A[finite]), initial=0.0)), 1.0)
    tol = 1e3 * float(np.finfo(A.dtype).eps) * scale
    asym = float(np.max(np.abs(A[finite] - A.T[finite]), initial=0.0))
    if not (asym <= tol and np.all(finite | same)):
        raise ValueError(
            f"A (shape {A.shape}) must be symmetric (it plays the Hessian); "
            "use (A + A.T) / 2"
        )
    return A


def _work_dtype(dtype):
    """LAPACK does not take float16: eigenvalues and solves run in float32 for it."""
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def _check_quadratic(A, b):
    A = _check_hessian(A)
    b = as_real_array(b, "b")
    if b.shape != (A.shape[0],):
        raise ValueError(f"b must have shape (d,) = ({A.shape[0]},), got {b.shape}")
    return A, b


def _check_points(x, d):
    x = as_real_array(x, "x")
    if x.ndim not in (1, 2) or x.shape[-1] != d:
        raise ValueError(f"x must have shape (d,) or (K, d) with d={d}, got {x.shape}")
    return x


def quadratic_loss(x, A, b):
    """``f(x) = 1/2 x^T A x - b^T x``, at one point or at a batch of points.

    Parameters
    ----------
    x : ndarray, shape (d,) or (K, d)
        One point, or K points as rows (a grid for a contour plot, a trajectory).
    A : ndarray, shape (d, d)
        Symmetric: the Hessian of `f`.
    b : ndarray, shape (d,)

    Returns
    -------
    f : float or ndarray, shape (K,)

    Raises
    ------
    ValueError
        If `A` is not a symmetric (d, d) matrix, `b` is not (d,), `x` is not (d,) or
        (K, d), or an input is not real numbers. NaN entries propagate to `f`.

    Examples
    --------
    >>> A = np.array([[2.0, 0.0], [0.0, 4.0]]); b = np.array([2.0, 4.0])
    >>> quadratic_loss(np.array([[0.0, 0.0], [1.0, 1.0]]), A, b)  # 0, then the minimum
    array([ 0., -3.])
    """
    A, b = _check_quadratic(A, b)
    x = _check_points(x, A.shape[0])
    f = 0.5 * np.sum((x @ A) * x, axis=-1) - x @ b  # (K, d) @ (d, d) -> (K, d) -> (K,)
    return float(f) if x.ndim == 1 else f


def quadratic_grad(x, A, b):
    """Gradient ``A x - b`` of `quadratic_loss`, at one point or at a batch of points.

    Parameters
    ----------
    x : ndarray, shape (d,) or (K, d)
    A : ndarray, shape (d, d)
        Symmetric.
    b : ndarray, shape (d,)

    Returns
    -------
    g : ndarray, shape of `x`
        One gradient per row; ``x @ A`` equals ``(A x)^T`` row by row because A is
        symmetric.

    Raises
    ------
    ValueError
        As `quadratic_loss`.
    """
    A, b = _check_quadratic(A, b)
    x = _check_points(x, A.shape[0])
    return x @ A - b  # (K, d) @ (d, d) - (d,) -> (K, d)


def quadratic_minimizer(A, b):
    """The minimiser ``x* = A^{-1} b`` of `quadratic_loss` (A symmetric positive
    definite).

    Parameters
    ----------
    A : ndarray, shape (d, d)
    b : ndarray, shape (d,)

    Returns
    -------
    x_star : ndarray, shape (d,)
        In the dtype of ``A @ b`` (float16 is computed in float32). For ``d = 0`` the
        empty vector; all NaN if `A` holds NaN or inf (NaN or inf in `b` propagates).

    Raises
    ------
    ValueError
        If A is not symmetric positive definite: then there is no unique minimum. Also
        on bad shapes or non-real input.
    """
    A, b = _check_quadratic(A, b)
    out_dtype = np.result_type(A, b)
    if not np.all(np.isfinite(A)):
        return np.full(A.shape[0], np.nan, dtype=out_dtype)
    A = A.astype(_work_dtype(A.dtype), copy=False)
    b = b.astype(_work_dtype(b.dtype), copy=False)
    lam = np.linalg.eigvalsh(A)  # (d,) ascending; empty for d = 0
    if lam.size and lam[0] <= 0:
        raise ValueError(
            f"A must be positive definite for f to have a unique minimum, but its "
            f"smallest eigenvalue is {lam[0]:.3g} (A of shape {A.shape})"
        )
    return np.linalg.solve(A, b).astype(out_dtype, copy=False)  # (d, d) x = (d,)


def gd_rate(A, lr):
    """Contraction factor ``max_i |1 - lr * lam_i|`` of gradient descent on a quadratic.

    The spectral radius of the iteration matrix ``I - lr A``: the error shrinks by this
    factor per step in the worst direction, and descent diverges when it exceeds 1,
    i.e. when ``lr > 2 / lam_max``.

    Parameters
    ----------
    A : ndarray, shape (d, d)
        Symmetric Hessian.
    lr : float
        Learning rate (positive).

    Returns
    -------
    rate : float
        NaN if `A` holds NaN or inf.

    Raises
    ------
    ValueError
        If `A` is not a symmetric (d, d) matrix with d >= 1 (the rate of an empty
        problem is undefined), or `lr` is not a positive finite number.

    Examples
    --------
    Eigenvalues 1 and 10: the best step ``2 / (1 + 10)`` contracts by ``9 / 11`` per
    step.

    >>> A = np.diag([1.0, 10.0])
    >>> round(gd_rate(A, 2 / 11), 6), round(9 / 11, 6)
    (0.818182, 0.818182)
    >>> gd_rate(A, 0.21) > 1  # above 2 / lam_max = 0.2: diverges
    True
    """
    A = _check_hessian(A)
    lr = _check_lr(lr)
    if A.shape[0] == 0:
        raise ValueError(f"A must be at least (1, 1) to have a rate, got {A.shape}")
    if not np.all(np.isfinite(A)):
        return float("nan")
    lam = np.linalg.eigvalsh(A.astype(_work_dtype(A.dtype), copy=False))  # (d,)
    return float(np.max(np.abs(1.0 - lr * lam)))


def gd_step(params, grads, lr):
    """One gradient-descent update ``params - lr * grads``.

    Parameters
    ----------
    params : ndarray, or list/tuple of ndarray
        The current parameters (a network passes one array per weight and bias).
    grads : same structure and shapes as `params`
    lr : float
        Learning rate (positive).

    Returns
    -------
    new_params : ndarray, or list of ndarray
        New arrays of the input dtype; `params` is not modified.

    Raises
    ------
    ValueError
        If `lr` is not a positive finite number, `grads` does not match `params` in
        structure or shapes, or an array is not real numbers.

    Examples
    --------
    >>> gd_step(np.array([1.0, 2.0]), np.array([10.0, -10.0]), lr=0.1)
    array([0., 3.])
    """
    lr = _check_lr(lr)
    if isinstance(params, (list, tuple)):
        if not isinstance(grads, (list, tuple)) or len(grads) != len(params):
            got = (
                f"holds {len(grads)}"
                if isinstance(grads, (list, tuple))
                else f"is a {type(grads).__name__}, not a list"
            )
            raise ValueError(
                "grads must be a list with one gradient per array of params: params "
                f"holds {len(params)} arrays, grads {got}"
            )
        return [
            _step(p, g, lr, f"params[{i}]", f"grads[{i}]")
            for i, (p, g) in enumerate(zip(params, grads))
        ]
    return _step(params, grads, lr, "params", "grads")


def _step(params, grads, lr, p_name, g_name):
    """``params - lr * grads`` for one array; the messages name `p_name`, `g_name`."""
    p = as_real_array(params, p_name)
    g = as_real_array(grads, g_name)
    if p.shape != g.shape:
        raise ValueError(
            f"{g_name} must have the shape of {p_name} {p.shape}, got {g.shape}"
        )
    return (p - lr * g).astype(p.dtype, copy=False)  # a Python-float lr keeps float32


def gradient_descent(grad_fn, x0, lr, steps, momentum=0.0):
    """Run gradient descent (optionally with heavy-ball momentum) and keep every
    iterate.

    Plain descent is ``x_{t+1} = x_t - lr * grad_fn(x_t)``. With ``momentum = beta > 0``
    it is Polyak's heavy ball, ``v_{t+1} = beta v_t - lr grad_fn(x_t)``,
    ``x_{t+1} = x_t + v_{t+1}`` (``v_0 = 0``), which on a quadratic with condition
    number kappa and well-chosen (lr, beta) contracts like
    ``(sqrt(kappa) - 1) / (sqrt(kappa) + 1)`` instead of ``(kappa - 1) / (kappa + 1)``.

    Parameters
    ----------
    grad_fn : callable
        ``grad_fn(x)`` returns the gradient at `x`, of `x`'s shape.
    x0 : ndarray, shape (d,) (or any shape)
        Starting point.
    lr : float
        Learning rate (positive).
    steps : int
        Number of updates (non-negative); an integer: 2.5, inf and True are refused.
    momentum : float
        beta in ``[0, 1)``; 0 is plain gradient descent.

    Returns
    -------
    trajectory : ndarray, shape (steps + 1, d) (``(steps + 1,) + x0.shape`` in general)
        Row t is the iterate after t steps; row 0 is `x0`. Same dtype as `x0`. A
        divergent run grows geometrically and can overflow to inf if run long enough.

    Raises
    ------
    ValueError
        If `lr` is not a positive finite number, `steps` is not a non-negative integer
        (or the trajectory for it cannot be allocated), `momentum` is not a number in
        ``[0, 1)``, or `grad_fn` returns something other than real numbers of `x0`'s
        shape.
    TypeError
        If `grad_fn` is not callable.

    Examples
    --------
    On ``f(x) = 1/2 * 4 x^2`` (gradient ``4 x``) each step multiplies x by ``1 - 4 lr``:

    >>> gradient_descent(lambda x: 4 * x, np.array([1.0]), lr=0.125, steps=3)[:, 0]
    array([1.   , 0.5  , 0.25 , 0.125])
    >>> gradient_descent(lambda x: 4 * x, np.array([1.0]), lr=0.625, steps=3)[:, 0]
    array([ 1.   , -1.5  ,  2.25 , -3.375])
    """
    if not callable(grad_fn):
        raise TypeError(f"grad_fn must be callable, got {type(grad_fn).__name__}")
    lr = _check_lr(lr)
    steps = check_int(steps, "steps", minimum=0)
    beta = check_number(momentum, "momentum")
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"momentum must lie in [0, 1), got {momentum!r}")
    momentum = beta
    x = as_real_array(x0, "x0")
    shape = (steps + 1,) + x.shape  # (steps + 1, d)
    try:
        trajectory = np.empty(shape, dtype=x.dtype)
    except (ValueError, MemoryError):  # too big for the address space or the memory
        raise ValueError(
            f"steps={steps} asks for a trajectory of shape {shape} ({x.dtype}), which "
            "cannot be allocated; run fewer steps at a time"
        ) from None
    trajectory[0] = x
    velocity = np.zeros_like(x)  # (d,)
    for t in range(1, steps + 1):  # sequential by nature: each step needs the last
        g = as_real_array(grad_fn(x), "grad_fn(x)")
        if g.shape != x.shape:
            raise ValueError(
                f"grad_fn returned shape {g.shape}, expected x0's shape {x.shape}"
            )
        velocity = (momentum * velocity - lr * g).astype(x.dtype, copy=False)  # (d,)
        x = x + velocity  # (d,)
        trajectory[t] = x
    return trajectory
