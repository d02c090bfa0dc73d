"""Checkers for the exercises of the chapter "Why linear algebra is essential".

Each checker takes the reader's answer and returns a `Check` (truthy when right, a
one-line verdict when shown). The right answers are computed here with `lalib.optim`
and `lalib.decomp`, never typed in; a wrong answer gets a hint about the usual slip.
"""

import numpy as np

from lalib import data, decomp, optim
from lalib.exercises import Check, reader_number


def _order(x):
    """The power of ten nearest to `x`, as text: 2.3e-9 -> '1e-09'.

    Rounding errors are reproducible in their order of magnitude only, not digit by
    digit across machines, so the verdicts print them this way (as the chapter does).
    """
    return f"1e{round(float(np.log10(max(x, 1e-300)))):+03d}"


def _close(a, b, rtol=1e-4):
    return abs(a - b) <= rtol * abs(b)


# --------------------------------------------------------------------- exercise 1


def regression_data():
    """Exercise 1: the inputs of a small linear regression, one example per row.

    Returns
    -------
    X : ndarray, shape (200, 3)
        Three features on different scales, the third correlated with the first.
    """
    rng = np.random.default_rng(6)
    Z = rng.standard_normal((200, 3))  # (N, 3)
    X = Z * np.array([1.0, 0.5, 2.0])  # (N, 3): feature scales 1, 0.5, 2
    X[:, 2] += 1.5 * X[:, 0]  # correlated: the Hessian's eigenvectors are not the axes
    return X


def regression_hessian():
    """The Hessian ``X^T X / N`` of the mean squared loss ``||X w - y||^2 / (2 N)``."""
    X = regression_data()
    return X.T @ X / X.shape[0]  # (3, N) @ (N, 3) -> (3, 3)


def check_learning_rates(lr_limit, lr_best):
    """Exercise 1: the stability limit and the best constant step for `regression_data`.

    Gradient descent on ``L(w) = ||X w - y||^2 / (2 N)`` with `X` from
    `regression_data` converges for every learning rate below `lr_limit`; `lr_best`
    is the constant learning rate with the smallest contraction factor.

    Parameters
    ----------
    lr_limit : float
        ``2 / lambda_max`` of the Hessian ``X^T X / N``.
    lr_best : float
        ``2 / (lambda_min + lambda_max)``.
    """
    A = regression_hessian()
    lam = np.linalg.eigvalsh(A)  # (3,) ascending
    limit, best = 2 / lam[-1], 2 / (lam[0] + lam[-1])
    lr_limit, lr_best = reader_number(lr_limit), reader_number(lr_best)
    if lr_limit is None or lr_best is None:
        return Check(False, "give two positive numbers: lr_limit and lr_best")
    if not _close(lr_limit, limit):
        N = regression_data().shape[0]
        s_max = np.linalg.svd(regression_data(), compute_uv=False)[0]
        hints = [
            (
                limit / 2,
                "that is 1 / lambda_max: descent still converges up to twice it",
            ),
            (
                2 / lam[0],
                "the steepest direction (the largest eigenvalue) sets the limit",
            ),
            (limit / N, "the Hessian of the *mean* loss is X^T X / N: divide by N"),
            (
                2 / s_max,
                "the eigenvalues of X^T X / N are the squared singular values of X "
                "divided by N",
            ),
        ]
        for value, hint in hints:
            if _close(lr_limit, value, 1e-3):
                return Check(False, f"lr_limit = {lr_limit:.4g}: {hint}")
        side = "too large: it diverges" if lr_limit > limit else "too small"
        return Check(
            False,
            f"lr_limit = {lr_limit:.4g} is {side}; the limit is 2 / lambda_max of the "
            "Hessian X^T X / N (np.linalg.eigvalsh)",
        )
    if not _close(lr_best, best):
        if _close(lr_best, 1 / lam[-1], 1e-3):
            hint = "1 / lambda_max only suits the steep direction"
        elif _close(lr_best, 2 / (lam[1] + lam[-1]), 1e-3):
            hint = "use the smallest and the largest eigenvalue (there are three)"
        else:
            hint = "the best step balances the flattest and steepest directions"
        return Check(
            False,
            f"lr_limit is right; lr_best = {lr_best:.4g} is not: {hint}, "
            "2 / (lambda_min + lambda_max)",
        )
    kappa = lam[-1] / lam[0]
    return Check(
        True,
        f"lr_limit = {limit:.4f}, lr_best = {best:.4f}; at lr_best each step "
        f"multiplies every error component by at most {optim.gd_rate(A, best):.4f} "
        f"= (kappa - 1)/(kappa + 1), with kappa = {kappa:.1f}",
    )


# --------------------------------------------------------------------- exercise 2

#: Exercise 2: the digit whose images alone are analysed, and the variance to keep.
EXERCISE2 = {"digit": 1, "fraction": 0.9}


def _components_needed(X, fraction):
    """Smallest k whose first k principal components keep `fraction` of the variance."""
    _, variances, _ = decomp.pca(X, X.shape[1])  # (D,) eigenvalues, decreasing
    cumulative = np.cumsum(variances) / variances.sum()  # (D,)
    return int(np.searchsorted(cumulative, fraction)) + 1, cumulative


def check_components(k):
    """Exercise 2: how many principal components keep 90 % of one digit's variance.

    Parameters
    ----------
    k : int
        The smallest number of leading principal components of the images of
        ``EXERCISE2["digit"]`` (from `lalib.data.load_digits`) whose variances add up
        to at least ``EXERCISE2["fraction"]`` of the total.
    """
    X, y = data.load_digits()
    digit, fraction = EXERCISE2["digit"], EXERCISE2["fraction"]
    right, cumulative = _components_needed(X[y == digit], fraction)
    value = reader_number(k)
    if value is None or value != int(value):
        return Check(False, "give k as a whole number of components")
    k = int(value)
    if k == right:
        return Check(
            True,
            f"k = {right} components keep {cumulative[right - 1]:.1%} of the variance "
            f"of the {digit}s ({cumulative[right - 2]:.1%} with {right - 1})",
        )
    everything, _ = _components_needed(X, fraction)
    if k == everything:
        return Check(
            False,
            f"{k} is the answer for all the digits: keep only the rows y == {digit}",
        )
    if k == right - 1:
        return Check(
            False,
            f"{k} components keep {cumulative[k - 1]:.1%}, short of {fraction:.0%}: "
            "np.searchsorted returns an index, the count is one more",
        )
    if not 1 <= k <= len(cumulative):
        return Check(False, f"k counts components of {len(cumulative)} pixels: 1 to 64")
    kept = cumulative[k - 1]
    return Check(
        False,
        f"the first {k} components keep {kept:.1%} of the variance: "
        + (
            "not yet 90 %"
            if kept < fraction
            else "more than needed; find the first k that reaches 90 %"
        ),
    )


# --------------------------------------------------------------------- exercise 3


def _vandermonde(degree, m=100):
    """Monomials on [0, 1] (m points) and the right-hand side of x = (1, ..., 1)."""
    t = np.linspace(0, 1, m)  # (m,)
    A = np.vander(t, degree + 1, increasing=True)  # (m, degree + 1)
    return A, A @ np.ones(degree + 1)


def check_lstsq_qr(solve):
    """Exercise 3: ``solve(A, b)`` solves least squares by a QR decomposition.

    Checked on a well-conditioned random problem (the answer must agree with
    `lalib.decomp.lstsq_qr`) and on the degree-11 polynomial fit of the chapter,
    cond(A) about 1e8, where it must be about as accurate as QR, not as inaccurate as
    the normal equations.

    Parameters
    ----------
    solve : callable
        ``solve(A, b)`` for A (M, N) with M >= N and b (M,), returning x (N,).
    """
    rng = np.random.default_rng(7)
    A_easy = rng.standard_normal((30, 4))  # (30, 4)
    b_easy = rng.standard_normal(30)  # (30,): not in the range of A, a true residual
    A_hard, b_hard = _vandermonde(11)  # (100, 12), cond ~ 1e8
    x_true = np.ones(A_hard.shape[1])
    for name, A, b in [
        ("random 30 x 4", A_easy, b_easy),
        ("degree 11", A_hard, b_hard),
    ]:
        try:
            x = np.asarray(solve(A.copy(), b.copy()), dtype=float)
        except Exception as exc:  # the reader's code: report, do not crash the notebook
            hint = ""
            if "square" in str(exc) or "must be square" in str(exc):
                hint = " (the reduced QR, np.linalg.qr's default, gives a square R)"
            return Check(
                False, f"{name}: solve(A, b) raised {type(exc).__name__}: {exc}{hint}"
            )
        if x.shape != (A.shape[1],):
            return Check(
                False,
                f"{name}: A is {A.shape}, so x must have shape ({A.shape[1]},), "
                f"got {x.shape}",
            )
        if name.startswith("random"):
            if not np.allclose(x, decomp.lstsq_qr(A, b), rtol=1e-8, atol=1e-10):
                return Check(
                    False,
                    f"{name}: x does not minimise ||A x - b||: solve R x = Q^T b with "
                    "A = Q R",
                )
            continue
        err = np.linalg.norm(x - x_true) / np.linalg.norm(x_true)
        err_qr = np.linalg.norm(decomp.lstsq_qr(A, b) - x_true) / np.linalg.norm(x_true)
        err_ne = np.linalg.norm(
            decomp.lstsq_normal_equations(A, b) - x_true
        ) / np.linalg.norm(x_true)
        if not err <= max(100 * err_qr, 1e-7):
            hint = (
                "about the normal equations' error: did you form A^T A? That squares "
                "the condition number"
                if err > 1e-3 * err_ne
                else "QR should do better"
            )
            return Check(
                False,
                f"{name}: relative error ~{_order(err)}, QR reaches "
                f"~{_order(err_qr)}: {hint}",
            )
    return Check(
        True,
        f"on the degree-11 fit (cond(A) ~ {_order(np.linalg.cond(A_hard))}) your "
        f"error is ~{_order(err)}; the normal equations' is ~{_order(err_ne)}",
    )
