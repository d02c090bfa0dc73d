"""Matrix decompositions at work: PCA by eigendecomposition, least squares three ways.

PCA. For data ``X`` with one example per row (N, D) and mean row ``mu``, the covariance
``C = (X - mu)^T (X - mu) / (N - 1)`` is symmetric positive semi-definite, so
``C = V diag(lam) V^T`` with orthonormal eigenvectors. The eigenvector of the largest
eigenvalue is the direction of greatest variance, the next one the greatest variance
orthogonal to it, and so on; ``lam_i`` is the variance along it. The same vectors are
the right singular vectors of the centred data, ``X - mu = U S V^T``, with
``lam = S**2 / (N - 1)``.

Least squares. ``min_x ||A x - b||`` for A (M, N) with M >= N is solved by

- the normal equations ``A^T A x = A^T b``: cheapest, but
  ``cond(A^T A) = cond(A)**2``, so the computed x has a relative error of order
  ``eps * cond(A)**2``;
- QR, ``A = Q R`` then ``R x = Q^T b``: never forms ``A^T A``; error of order
  ``eps * cond(A)`` when the residual is small (a large residual adds a
  ``eps * cond(A)**2 * ||r|| / (||A|| ||x||)`` term that no method avoids);
- the SVD, ``A = U S V^T`` then ``x = V S^{-1} U^T b``: the same accuracy as QR, about
  twice the cost, and it can drop singular values below a threshold, which gives the
  minimum-norm solution when A is (numerically) rank deficient.

``eps`` is the machine epsilon of the dtype: 2.2e-16 in float64.

Bad input. NumPy's LAPACK routines do not take float16: `pca` and the least-squares
solvers compute float16 input in float32 and return float16 (tolerances use the
float32 epsilon, that of the arithmetic). NaN or inf in the data gives NaN results
rather than an error from the eigensolver. A rank-deficient least-squares problem is
refused by `lstsq_qr` (and by `lstsq_normal_equations` when it can tell) with a message
pointing to `lstsq_svd`, which returns the minimum-norm solution.
"""

import operator

import numpy as np

from lalib._checks import as_real_array, check_ndim, check_number

__all__ = [
    "covariance",
    "lstsq_normal_equations",
    "lstsq_qr",
    "lstsq_svd",
    "pca",
    "pca_reconstruct",
    "pca_transform",
]


def _work_dtype(dtype):
    """The dtype to run LAPACK in: float16 is not supported, so it runs in float32."""
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def _check_data(X):
    X = as_real_array(X, "X")
    check_ndim(X, 2, "X", "(N, D)")
    if X.shape[0] < 2 or X.shape[1] < 1:
        raise ValueError(
            f"X must have at least 2 rows and 1 column (N, D), got {X.shape}"
        )
    return X


def covariance(X):
    """Sample covariance of the columns of `X`, ``(X - mean)^T (X - mean) / (N - 1)``.

    Parameters
    ----------
    X : ndarray, shape (N, D)
        One example per row, N >= 2.

    Returns
    -------
    C : ndarray, shape (D, D)
        Symmetric; the same as ``np.cov(X, rowvar=False)``.
    mean : ndarray, shape (D,)

    Raises
    ------
    ValueError
        If `X` is not (N, D) real numbers with N >= 2 and D >= 1.
    """
    X = _check_data(X)
    mean = X.mean(axis=0)  # (N, D) -> (D,)
    Xc = X - mean  # (N, D)
    C = (Xc.T @ Xc) / (X.shape[0] - 1)  # (D, N) @ (N, D) -> (D, D)
    return (C + C.T) / 2, mean  # exactly symmetric despite rounding


def pca(X, k):
    """Principal components of `X` by eigendecomposition of its covariance matrix.

    Parameters
    ----------
    X : ndarray, shape (N, D)
        One example per row, N >= 2.
    k : int
        Number of components, ``1 <= k <= D``. Beyond the rank of the centred data
        (at most ``N - 1``) the variances are 0 and the directions are an arbitrary
        orthonormal completion. An integer: 2.0, 2.5 and True are refused.

    Returns
    -------
    components : ndarray, shape (k, D)
        Orthonormal rows, by decreasing variance. Sign convention: the entry of largest
        magnitude in each row is positive (the first such entry on a tie), so the result
        does not depend on the eigensolver's arbitrary signs.
    explained_variance : ndarray, shape (k,)
        The eigenvalues of the covariance, decreasing; tiny negative rounding is
        set to 0.
    mean : ndarray, shape (D,)
        What `pca_transform` subtracts.

    All three have the dtype of `X` (float16 is computed in float32). If `X` holds NaN
    or inf the covariance is not finite and `components` and `explained_variance` are
    all NaN (the mean is returned as computed): NaN in, NaN out.

    Raises
    ------
    ValueError
        If `X` is not (N, D) real numbers with N >= 2, or `k` is not an integer in
        ``1..D``.

    Examples
    --------
    Points on the line y = 2x: one direction carries all the variance.

    >>> t = np.array([-1.0, 0.0, 1.0])
    >>> comps, var, mean = pca(np.stack([t, 2 * t], axis=1), k=2)
    >>> # (1, 2) / sqrt(5) and a perpendicular direction
    >>> np.round(comps * np.sqrt(5), 6)
    array([[ 1.,  2.],
           [ 2., -1.]])
    >>> np.round(var, 6)  # (1 + 4) * 2 / (3 - 1) along the line, nothing across
    array([5., 0.])
    """
    X = _check_data(X)
    D = X.shape[1]
    try:
        n_comp = None if isinstance(k, (bool, np.bool_)) else operator.index(k)
    except TypeError:
        n_comp = None
    if n_comp is None or not 1 <= n_comp <= D:
        raise ValueError(
            f"k must be an integer in 1..D = 1..{D} for X of shape {X.shape}, got {k!r}"
        )
    dtype = X.dtype
    with np.errstate(invalid="ignore"):  # inf - inf in the centring: NaN, handled below
        C, mean = covariance(X.astype(_work_dtype(dtype), copy=False))  # (D, D), (D,)
    if not np.all(np.isfinite(C)):  # NaN/inf data: eigh would fail or return noise
        nan = np.full((n_comp, D), np.nan, dtype=dtype)
        return nan, nan[:, 0].copy(), mean.astype(dtype)
    lam, V = np.linalg.eigh(C)  # (D,) ascending, (D, D) eigenvectors as columns
    order = np.argsort(lam)[::-1][:n_comp]  # (k,) largest first (stable on ties)
    components = V[:, order].T  # (k, D)
    rows = np.arange(components.shape[0])
    signs = np.sign(components[rows, np.argmax(np.abs(components), axis=1)])  # (k,)
    components = components * signs[:, None]  # (k, D) largest entry positive
    explained_variance = np.maximum(lam[order], 0)  # (k,)
    results = (components, explained_variance, mean)
    return tuple(a.astype(dtype, copy=False) for a in results)


def _check_basis(components, mean):
    components = as_real_array(components, "components")
    mean = as_real_array(mean, "mean")
    check_ndim(components, 2, "components", "(k, D)")
    if mean.shape != (components.shape[1],):
        raise ValueError(
            f"mean must have shape (D,) = ({components.shape[1]},) for components of "
            f"shape {components.shape}, got {mean.shape}"
        )
    return components, mean


def pca_transform(X, components, mean):
    """Coordinates of the rows of `X` along the principal components.

    Parameters
    ----------
    X : ndarray, shape (N, D)
    components : ndarray, shape (k, D)
        Orthonormal rows, from `pca`.
    mean : ndarray, shape (D,)

    Returns
    -------
    Z : ndarray, shape (N, k)
        ``(X - mean) @ components.T``.

    Raises
    ------
    ValueError
        If a rank is wrong, the D of `X`, `components` and `mean` disagree, or an input
        is not real numbers.
    """
    components, mean = _check_basis(components, mean)
    X = as_real_array(X, "X")
    check_ndim(X, 2, "X", "(N, D)")
    if X.shape[1] != components.shape[1]:
        raise ValueError(
            f"X has D={X.shape[1]} features (shape {X.shape}) but components expect "
            f"D={components.shape[1]} (shape {components.shape})"
        )
    return (X - mean) @ components.T  # (N, D) @ (D, k) -> (N, k)


def pca_reconstruct(Z, components, mean):
    """Map principal coordinates back to data space: ``Z @ components + mean``.

    With all D components this inverts `pca_transform` exactly (up to rounding); with
    k < D it gives the closest point, in squared distance, of the k-dimensional affine
    subspace through `mean`.

    Parameters
    ----------
    Z : ndarray, shape (N, k)
    components : ndarray, shape (k, D)
    mean : ndarray, shape (D,)

    Returns
    -------
    X_hat : ndarray, shape (N, D)

    Raises
    ------
    ValueError
        If a rank is wrong, the k of `Z` and `components` or the D of `components` and
        `mean` disagree, or an input is not real numbers.
    """
    components, mean = _check_basis(components, mean)
    Z = as_real_array(Z, "Z")
    check_ndim(Z, 2, "Z", "(N, k)")
    if Z.shape[1] != components.shape[0]:
        raise ValueError(
            f"Z has k={Z.shape[1]} columns (shape {Z.shape}) but components has "
            f"k={components.shape[0]} rows (shape {components.shape})"
        )
    return Z @ components + mean  # (N, k) @ (k, D) + (D,) -> (N, D)


def _check_lstsq(A, b, need_tall=True):
    """Validated A, b in the dtype to compute in, and the dtype of the result."""
    A = as_real_array(A, "A")
    b = as_real_array(b, "b")
    check_ndim(A, 2, "A", "(M, N)")
    if b.ndim not in (1, 2) or b.shape[0] != A.shape[0]:
        raise ValueError(
            f"b must have shape (M,) or (M, K) with M={A.shape[0]}, got {b.shape}"
        )
    if need_tall and A.shape[0] < A.shape[1]:
        raise ValueError(
            f"A must have at least as many rows as columns (M >= N), got {A.shape}; "
            "use lstsq_svd for an underdetermined system"
        )
    out_dtype = np.result_type(A, b)  # float16 only if both are float16
    A = A.astype(_work_dtype(A.dtype), copy=False)
    b = b.astype(_work_dtype(b.dtype), copy=False)
    return A, b, out_dtype


def _nan_solution(A, b, dtype):
    """The all-NaN x of the right shape: A holds NaN or inf, so no x is defined."""
    return np.full((A.shape[1],) + b.shape[1:], np.nan, dtype=dtype)


def _dependent_columns(A, detail):
    return ValueError(
        f"the columns of A (shape {A.shape}) are linearly dependent to working "
        f"precision ({detail}): the least-squares solution is not unique; use "
        "lstsq_svd for the minimum-norm one"
    )


def lstsq_normal_equations(A, b):
    """Least squares by the normal equations ``(A^T A) x = A^T b``.

    Cost about ``M N**2`` flops, the cheapest of the three, but ``cond(A^T A)`` is
    ``cond(A)**2``: expect a relative error in x of order ``eps * cond(A)**2``, so in
    float64 the answer has no correct digit left once ``cond(A)`` reaches about 1e8.
    For the same reason the normal equations cannot tell a rank-deficient A from one
    with ``cond(A)`` beyond about 1e8: both make ``A^T A`` singular to working
    precision. When the solve meets an exactly singular ``A^T A`` a ValueError says so;
    otherwise the result is returned as computed (for dependent columns, one of the
    many minimisers; use `lstsq_qr`, which detects them, or `lstsq_svd`).

    Parameters
    ----------
    A : ndarray, shape (M, N)
        M >= N, full column rank.
    b : ndarray, shape (M,) or (M, K)

    Returns
    -------
    x : ndarray, shape (N,) or (N, K)
        In the dtype of ``A @ b`` (float16 is computed in float32). All NaN if `A`
        holds NaN or inf; NaN or inf in `b` propagates.

    Raises
    ------
    ValueError
        On bad shapes or non-real input; if ``A^T A`` is exactly singular (dependent
        columns) or overflows.
    """
    A, b, out_dtype = _check_lstsq(A, b)
    if not np.all(np.isfinite(A)):
        return _nan_solution(A, b, out_dtype)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below
        G = A.T @ A  # (N, M) @ (M, N) -> (N, N) Gram matrix, cond(A)**2
    if not np.all(np.isfinite(G)):
        raise ValueError(
            f"A^T A overflows {G.dtype} (largest |A| entry {np.max(np.abs(A)):.1e}); "
            "use lstsq_qr or lstsq_svd, which never form it"
        )
    try:
        x = np.linalg.solve(G, A.T @ b)  # (N, N) x = (N, M) @ (M[, K]) -> (N[, K])
    except np.linalg.LinAlgError:
        raise _dependent_columns(A, "A^T A is singular") from None
    return x.astype(out_dtype, copy=False)


def lstsq_qr(A, b):
    """Least squares by the reduced QR decomposition: ``A = Q R``, then ``R x = Q^T b``.

    Q has orthonormal columns, so ``||A x - b||`` is minimised by making ``R x`` equal
    the part of b inside the column space, ``Q^T b``; no product ``A^T A`` is formed and
    the error is of order ``eps * cond(A)`` (for a small residual). Cost about
    ``2 M N**2``.

    A column of A that is (numerically) a combination of the columns before it gives a
    diagonal entry of R that is zero up to rounding, and solving with it would return
    entries of order ``1 / eps``. So R is refused as singular when
    ``min |R[j, j]| <= eps * max(M, N) * max |R[j, j]|``: the relative tolerance
    `lstsq_svd` uses by default for singular values (as ``numpy.linalg.matrix_rank``
    does). Since ``min |R[j, j]| / max |R[j, j]| >= 1 / cond(A)``, a matrix that
    `lstsq_svd` keeps at full rank is never refused.

    Parameters
    ----------
    A : ndarray, shape (M, N)
        M >= N, full column rank.
    b : ndarray, shape (M,) or (M, K)

    Returns
    -------
    x : ndarray, shape (N,) or (N, K)
        In the dtype of ``A @ b`` (float16 is computed in float32). All NaN if `A`
        holds NaN or inf; NaN or inf in `b` propagates.

    Raises
    ------
    ValueError
        On bad shapes or non-real input, or if the columns of A are linearly dependent
        to working precision (the message points to `lstsq_svd`).
    """
    A, b, out_dtype = _check_lstsq(A, b)
    if not np.all(np.isfinite(A)):
        return _nan_solution(A, b, out_dtype)
    Q, R = np.linalg.qr(A)  # (M, N) orthonormal columns, (N, N) upper triangular
    d = np.abs(np.diagonal(R))  # (N,)
    if d.size:
        tol = float(np.finfo(A.dtype).eps) * max(A.shape) * float(d.max())
        j = int(np.argmin(d))
        if not d[j] > tol:
            detail = f"|R[{j}, {j}]| = {d[j]:.1e} <= eps * max(M, N) * max |R[j, j]|"
            raise _dependent_columns(A, f"{detail} = {tol:.1e}")
    x = np.linalg.solve(R, Q.T @ b)  # (N, N) x = (N, M) @ (M[, K]) -> (N[, K])
    return x.astype(out_dtype, copy=False)


def lstsq_svd(A, b, rcond=None):
    """Least squares by the thin SVD: ``A = U S V^T``, then ``x = V S^+ U^T b``.

    Singular values below ``rcond * s_max`` are treated as zero (their directions are
    dropped), so the result is the minimum-norm least-squares solution and A may be any
    shape or rank: the same answer as ``numpy.linalg.lstsq``. Error of order
    ``eps * cond(A)`` like QR, at about twice its cost.

    Parameters
    ----------
    A : ndarray, shape (M, N)
    b : ndarray, shape (M,) or (M, K)
    rcond : float, optional
        Relative cut-off, a finite number in ``[0, 1)``; default ``eps * max(M, N)``
        (NumPy's default), with ``eps`` that of the dtype computed in. 0 keeps every
        non-zero singular value, so a rank-deficient A then gives huge entries. A
        negative value (NumPy's legacy "machine precision"), NaN or inf is refused.

    Returns
    -------
    x : ndarray, shape (N,) or (N, K)
        In the dtype of ``A @ b`` (float16 is computed in float32). All NaN if `A`
        holds NaN or inf; NaN or inf in `b` propagates.

    Raises
    ------
    ValueError
        On bad shapes or non-real input, or if `rcond` is not None or a number in
        ``[0, 1)``.

    Examples
    --------
    A rank-1 matrix: the SVD returns the smallest x among all minimisers.

    >>> A = np.array([[1.0, 1.0], [2.0, 2.0]]); b = np.array([1.0, 2.0])
    >>> lstsq_svd(A, b)
    array([0.5, 0.5])
    """
    A, b, out_dtype = _check_lstsq(A, b, need_tall=False)
    if rcond is None:
        rcond = float(np.finfo(A.dtype).eps) * max(A.shape)
    else:
        try:
            value = check_number(rcond, "rcond")
        except ValueError:  # a string, a bool, an array: reported as below
            value = float("nan")
        if not 0 <= value < 1:
            raise ValueError(
                f"rcond must be None or a number in [0, 1) (a cut-off relative to the "
                f"largest singular value), got {rcond!r}"
            )
        rcond = value
    if not np.all(np.isfinite(A)):
        return _nan_solution(A, b, out_dtype)
    U, s, Vt = np.linalg.svd(A, full_matrices=False)  # (M, r), (r,), (r, N)
    keep = s > rcond * s[0] if s.size else s.astype(bool)  # (r,) directions to keep
    s_inv = np.zeros_like(s)  # (r,)
    s_inv[keep] = 1.0 / s[keep]
    coef = U.T @ b  # (r, M) @ (M[, K]) -> (r[, K])
    coef = coef * (s_inv if b.ndim == 1 else s_inv[:, None])  # scale by S^+
    return (Vt.T @ coef).astype(out_dtype, copy=False)  # (N, r) @ (r[, K]) -> (N[, K])
