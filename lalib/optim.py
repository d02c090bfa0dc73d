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

from lalib._checks import as_float_array, check_ndim


def _check_lr(lr):
    lr = float(lr)
    if not np.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a positive finite number, got {lr}")
    return lr


def _check_hessian(A):
    A = as_float_array(A, "A")
    check_ndim(A, 2, "A", "(d, d)")
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"A must be square (d, d), got shape {A.shape}")
    tol = 1e3 * float(np.finfo(A.dtype).eps) * max(float(np.max(np.abs(A), initial=0.0)), 1.0)
    if not float(np.max(np.abs(A - A.T), initial=0.0)) <= tol:  # NaN fails too
        raise ValueError("A must be symmetric (it plays the Hessian); use (A + A.T) / 2")
    return A


def _check_quadratic(A, b):
    A = _check_hessian(A)
    b = as_float_array(b, "b")
    if b.shape != (A.shape[0],):
        raise ValueError(f"b must have shape (d,) = ({A.shape[0]},), got {b.shape}")
    return A, b


def _check_points(x, d):
    x = as_float_array(x, "x")
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
        One gradient per row; ``x @ A`` equals ``(A x)^T`` row by row because A is symmetric.
    """
    A, b = _check_quadratic(A, b)
    x = _check_points(x, A.shape[0])
    return x @ A - b  # (K, d) @ (d, d) - (d,) -> (K, d)


def quadratic_minimizer(A, b):
    """The minimiser ``x* = A^{-1} b`` of `quadratic_loss` (A symmetric positive definite).

    Parameters
    ----------
    A : ndarray, shape (d, d)
    b : ndarray, shape (d,)

    Returns
    -------
    x_star : ndarray, shape (d,)

    Raises
    ------
    ValueError
        If A is not symmetric positive definite: then there is no unique minimum.
    """
    A, b = _check_quadratic(A, b)
    if np.linalg.eigvalsh(A)[0] <= 0:
        raise ValueError("A must be positive definite for f to have a unique minimum")
    return np.linalg.solve(A, b)  # (d, d) x = (d,)


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

    Examples
    --------
    Eigenvalues 1 and 10: the best step ``2 / (1 + 10)`` contracts by ``9 / 11`` per step.

    >>> A = np.diag([1.0, 10.0])
    >>> round(gd_rate(A, 2 / 11), 6), round(9 / 11, 6)
    (0.818182, 0.818182)
    >>> gd_rate(A, 0.21) > 1  # above 2 / lam_max = 0.2: diverges
    True
    """
    A = _check_hessian(A)
    lr = _check_lr(lr)
    lam = np.linalg.eigvalsh(A)  # (d,) ascending
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

    Examples
    --------
    >>> gd_step(np.array([1.0, 2.0]), np.array([10.0, -10.0]), lr=0.1)
    array([0., 3.])
    """
    lr = _check_lr(lr)
    if isinstance(params, (list, tuple)):
        if not isinstance(grads, (list, tuple)) or len(grads) != len(params):
            n = len(grads) if isinstance(grads, (list, tuple)) else "a non-sequence"
            raise ValueError(f"got {len(params)} parameter arrays but {n} gradients")
        return [gd_step(p, g, lr) for p, g in zip(params, grads)]
    p = as_float_array(params, "params")
    g = as_float_array(grads, "grads")
    if p.shape != g.shape:
        raise ValueError(f"grads must have the shape of params {p.shape}, got {g.shape}")
    return (p - lr * g).astype(p.dtype, copy=False)  # a Python-float lr keeps float32


def gradient_descent(grad_fn, x0, lr, steps, momentum=0.0):
    """Run gradient descent (optionally with heavy-ball momentum) and keep every iterate.

    Plain descent is ``x_{t+1} = x_t - lr * grad_fn(x_t)``. With ``momentum = beta > 0``
    it is Polyak's heavy ball, ``v_{t+1} = beta v_t - lr grad_fn(x_t)``,
    ``x_{t+1} = x_t + v_{t+1}`` (``v_0 = 0``), which on a quadratic with condition number
    kappa and well-chosen (lr, beta) contracts like ``(sqrt(kappa) - 1) / (sqrt(kappa) + 1)``
    instead of ``(kappa - 1) / (kappa + 1)``.

    Parameters
    ----------
    grad_fn : callable
        ``grad_fn(x)`` returns the gradient at `x`, of `x`'s shape.
    x0 : ndarray, shape (d,) (or any shape)
        Starting point.
    lr : float
        Learning rate (positive).
    steps : int
        Number of updates (non-negative).
    momentum : float
        beta in ``[0, 1)``; 0 is plain gradient descent.

    Returns
    -------
    trajectory : ndarray, shape (steps + 1, d) (``(steps + 1,) + x0.shape`` in general)
        Row t is the iterate after t steps; row 0 is `x0`. Same dtype as `x0`. A divergent
        run grows geometrically and can overflow to inf if run long enough.

    Examples
    --------
    On ``f(x) = 1/2 * 4 x^2`` (gradient ``4 x``) each step multiplies x by ``1 - 4 lr``:

    >>> gradient_descent(lambda x: 4 * x, np.array([1.0]), lr=0.125, steps=3)[:, 0]
    array([1.   , 0.5  , 0.25 , 0.125])
    >>> gradient_descent(lambda x: 4 * x, np.array([1.0]), lr=0.625, steps=3)[:, 0]
    array([ 1.   , -1.5  ,  2.25 , -3.375])
    """
    lr = _check_lr(lr)
    if int(steps) != steps or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps}")
    momentum = float(momentum)
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must lie in [0, 1), got {momentum}")
    x = as_float_array(x0, "x0")
    trajectory = np.empty((int(steps) + 1,) + x.shape, dtype=x.dtype)  # (steps + 1, d)
    trajectory[0] = x
    velocity = np.zeros_like(x)  # (d,)
    for t in range(1, int(steps) + 1):  # sequential by nature: each step needs the last
        g = np.asarray(grad_fn(x))
        if g.shape != x.shape:
            raise ValueError(f"grad_fn returned shape {g.shape}, expected x0's shape {x.shape}")
        velocity = (momentum * velocity - lr * g).astype(x.dtype, copy=False)  # (d,)
        x = x + velocity  # (d,)
        trajectory[t] = x
    return trajectory
