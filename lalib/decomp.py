"""Matrix decompositions at work: PCA by eigendecomposition, least squares three ways.

PCA. For data ``X`` with one example per row (N, D) and mean row ``mu``, the covariance
``C = (X - mu)^T (X - mu) / (N - 1)`` is symmetric positive semi-definite, so
``C = V diag(lam) V^T`` with orthonormal eigenvectors. The eigenvector of the largest
eigenvalue is the direction of greatest variance, the next one the greatest variance
orthogonal to it, and so on; ``lam_i`` is the variance along it. The same vectors are the
right singular vectors of the centred data, ``X - mu = U S V^T``, with ``lam = S**2 / (N - 1)``.

Least squares. ``min_x ||A x - b||`` for A (M, N) with M >= N is solved by

- the normal equations ``A^T A x = A^T b``: cheapest, but ``cond(A^T A) = cond(A)**2``, so
  the computed x has a relative error of order ``eps * cond(A)**2``;
- QR, ``A = Q R`` then ``R x = Q^T b``: never forms ``A^T A``; error of order
  ``eps * cond(A)`` when the residual is small (a large residual adds a
  ``eps * cond(A)**2 * ||r|| / (||A|| ||x||)`` term that no method avoids);
- the SVD, ``A = U S V^T`` then ``x = V S^{-1} U^T b``: the same accuracy as QR, about
  twice the cost, and it can drop singular values below a threshold, which gives the
  minimum-norm solution when A is (numerically) rank deficient.

``eps`` is the machine epsilon of the dtype: 2.2e-16 in float64.
"""

import numpy as np

from lalib._checks import as_float_array, check_ndim


def _check_data(X):
    X = as_float_array(X, "X")
    check_ndim(X, 2, "X", "(N, D)")
    if X.shape[0] < 2 or X.shape[1] < 1:
        raise ValueError(f"X must have at least 2 rows and 1 column (N, D), got {X.shape}")
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
        orthonormal completion.

    Returns
    -------
    components : ndarray, shape (k, D)
        Orthonormal rows, by decreasing variance. Sign convention: the entry of largest
        magnitude in each row is positive (the first such entry on a tie), so the result
        does not depend on the eigensolver's arbitrary signs.
    explained_variance : ndarray, shape (k,)
        The eigenvalues of the covariance, decreasing; tiny negative rounding is set to 0.
    mean : ndarray, shape (D,)
        What `pca_transform` subtracts.

    Raises
    ------
    ValueError
        If `X` is not (N, D) with N >= 2, or `k` is not in ``1..D``.

    Examples
    --------
    Points on the line y = 2x: one direction carries all the variance.

    >>> t = np.array([-1.0, 0.0, 1.0])
    >>> comps, var, mean = pca(np.stack([t, 2 * t], axis=1), k=2)
    >>> np.round(comps * np.sqrt(5), 6)  # (1, 2) / sqrt(5) and a perpendicular direction
    array([[ 1.,  2.],
           [ 2., -1.]])
    >>> np.round(var, 6)  # (1 + 4) * 2 / (3 - 1) along the line, nothing across
    array([5., 0.])
    """
    X = _check_data(X)
    D = X.shape[1]
    if int(k) != k or not 1 <= k <= D:
        raise ValueError(f"k must be an integer in 1..D = 1..{D} for X of shape {X.shape}, got {k}")
    C, mean = covariance(X)  # (D, D), (D,)
    lam, V = np.linalg.eigh(C)  # (D,) ascending, (D, D) eigenvectors as columns
    order = np.argsort(lam)[::-1][: int(k)]  # (k,) largest first (stable on ties)
    components = V[:, order].T  # (k, D)
    rows = np.arange(components.shape[0])
    signs = np.sign(components[rows, np.argmax(np.abs(components), axis=1)])  # (k,)
    components = components * signs[:, None]  # (k, D) largest entry positive
    explained_variance = np.maximum(lam[order], 0)  # (k,)
    return components, explained_variance, mean


def _check_basis(components, mean):
    components = as_float_array(components, "components")
    mean = as_float_array(mean, "mean")
    check_ndim(components, 2, "components", "(k, D)")
    if mean.shape != (components.shape[1],):
        raise ValueError(
            f"mean must have shape (D,) = ({components.shape[1]},) for components of shape "
            f"{components.shape}, got {mean.shape}"
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
    """
    components, mean = _check_basis(components, mean)
    X = as_float_array(X, "X")
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
    """
    components, mean = _check_basis(components, mean)
    Z = as_float_array(Z, "Z")
    check_ndim(Z, 2, "Z", "(N, k)")
    if Z.shape[1] != components.shape[0]:
        raise ValueError(
            f"Z has k={Z.shape[1]} columns (shape {Z.shape}) but components has "
            f"k={components.shape[0]} rows (shape {components.shape})"
        )
    return Z @ components + mean  # (N, k) @ (k, D) + (D,) -> (N, D)


def _check_lstsq(A, b, need_tall=True):
    A = as_float_array(A, "A")
    b = as_float_array(b, "b")
    check_ndim(A, 2, "A", "(M, N)")
    if b.ndim not in (1, 2) or b.shape[0] != A.shape[0]:
        raise ValueError(f"b must have shape (M,) or (M, K) with M={A.shape[0]}, got {b.shape}")
    if need_tall and A.shape[0] < A.shape[1]:
        raise ValueError(
            f"A must have at least as many rows as columns (M >= N), got {A.shape}; "
            "use lstsq_svd for an underdetermined system"
        )
    return A, b


def lstsq_normal_equations(A, b):
    """Least squares by the normal equations ``(A^T A) x = A^T b``.

    Cost about ``M N**2`` flops, the cheapest of the three, but ``cond(A^T A)`` is
    ``cond(A)**2``: expect a relative error in x of order ``eps * cond(A)**2``, so in
    float64 the answer has no correct digit left once ``cond(A)`` reaches about 1e8.

    Parameters
    ----------
    A : ndarray, shape (M, N)
        M >= N, full column rank.
    b : ndarray, shape (M,) or (M, K)

    Returns
    -------
    x : ndarray, shape (N,) or (N, K)

    Raises
    ------
    ValueError
        On bad shapes. ``numpy.linalg.LinAlgError`` if ``A^T A`` is exactly singular.
    """
    A, b = _check_lstsq(A, b)
    G = A.T @ A  # (N, M) @ (M, N) -> (N, N) Gram matrix, cond(A)**2
    return np.linalg.solve(G, A.T @ b)  # (N, N) x = (N, M) @ (M[, K]) -> (N[, K])


def lstsq_qr(A, b):
    """Least squares by the reduced QR decomposition: ``A = Q R``, then ``R x = Q^T b``.

    Q has orthonormal columns, so ``||A x - b||`` is minimised by making ``R x`` equal the
    part of b inside the column space, ``Q^T b``; no product ``A^T A`` is formed and the
    error is of order ``eps * cond(A)`` (for a small residual). Cost about ``2 M N**2``.

    Parameters
    ----------
    A : ndarray, shape (M, N)
        M >= N, full column rank.
    b : ndarray, shape (M,) or (M, K)

    Returns
    -------
    x : ndarray, shape (N,) or (N, K)
    """
    A, b = _check_lstsq(A, b)
    Q, R = np.linalg.qr(A)  # (M, N) orthonormal columns, (N, N) upper triangular
    return np.linalg.solve(R, Q.T @ b)  # (N, N) x = (N, M) @ (M[, K]) -> (N[, K])


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
        Relative cut-off; default ``eps * max(M, N)`` (NumPy's default).

    Returns
    -------
    x : ndarray, shape (N,) or (N, K)

    Examples
    --------
    A rank-1 matrix: the SVD returns the smallest x among all minimisers.

    >>> A = np.array([[1.0, 1.0], [2.0, 2.0]]); b = np.array([1.0, 2.0])
    >>> lstsq_svd(A, b)
    array([0.5, 0.5])
    """
    A, b = _check_lstsq(A, b, need_tall=False)
    if rcond is None:
        rcond = float(np.finfo(A.dtype).eps) * max(A.shape)
    U, s, Vt = np.linalg.svd(A, full_matrices=False)  # (M, r), (r,), (r, N); r = min(M, N)
    keep = s > rcond * s[0] if s.size else s.astype(bool)  # (r,) directions to keep
    s_inv = np.zeros_like(s)  # (r,)
    s_inv[keep] = 1.0 / s[keep]
    coef = U.T @ b  # (r, M) @ (M[, K]) -> (r[, K])
    coef = coef * (s_inv if b.ndim == 1 else s_inv[:, None])  # scale by S^+
    return Vt.T @ coef  # (N, r) @ (r[, K]) -> (N[, K])
