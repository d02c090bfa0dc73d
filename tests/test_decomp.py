"""Tests of lalib.decomp: PCA by eigendecomposition, least squares by NE / QR / SVD."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from lalib import decomp

EPS = np.finfo(np.float64).eps


def data_with_spectrum(rng, N, variances):
    """N rows whose covariance has (approximately) the given, well separated
    variances."""
    D = len(variances)
    Q, _ = np.linalg.qr(rng.standard_normal((D, D)))  # random orthonormal axes
    Z = rng.standard_normal((N, D)) * np.sqrt(variances)  # (N, D) independent columns
    return Z @ Q.T + rng.standard_normal(D)  # rotated and shifted


def matrix_with_condition(rng, M, N, cond):
    """A (M, N) matrix with singular values spaced geometrically from 1 down to
    1/cond."""
    U, _ = np.linalg.qr(rng.standard_normal((M, N)))  # (M, N) orthonormal columns
    V, _ = np.linalg.qr(rng.standard_normal((N, N)))  # (N, N) orthogonal
    s = np.logspace(0, -np.log10(cond), N)  # (N,)
    return (U * s) @ V.T


def svd_reference(X):
    """PCA the other way: right singular vectors of the centred data, variances
    S^2/(N-1)."""
    Xc = X - X.mean(axis=0)
    _, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    return Vt, s**2 / (X.shape[0] - 1)


# ---------------------------------------------------------------- PCA


def test_covariance_matches_numpy(rng):
    X = rng.standard_normal((40, 6))
    C, mean = decomp.covariance(X)
    np.testing.assert_allclose(C, np.cov(X, rowvar=False), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(mean, X.mean(axis=0))
    np.testing.assert_array_equal(C, C.T)


@pytest.mark.parametrize(
    "N, D, k", [(50, 3, 1), (50, 3, 3), (200, 10, 4), (30, 64, 20)]
)
def test_pca_shapes_orthonormal_sorted(rng, N, D, k):
    X = rng.standard_normal((N, D))
    comps, var, mean = decomp.pca(X, k)
    assert comps.shape == (k, D) and var.shape == (k,) and mean.shape == (D,)
    np.testing.assert_allclose(comps @ comps.T, np.eye(k), atol=1e-12)
    assert np.all(np.diff(var) <= 0) and np.all(var >= 0)


@pytest.mark.parametrize("N, D", [(100, 5), (500, 12), (40, 8)])
def test_pca_matches_svd_of_centred_data(rng, N, D):
    variances = np.geomspace(20.0, 0.5, D)  # well separated: directions are unique
    X = data_with_spectrum(rng, N, variances)
    comps, var, _ = decomp.pca(X, D)
    Vt, var_svd = svd_reference(X)
    np.testing.assert_allclose(var, var_svd, rtol=1e-10)
    signs = np.sign(np.sum(comps * Vt, axis=1))  # (D,) +-1: SVD signs are arbitrary
    np.testing.assert_allclose(comps, Vt * signs[:, None], atol=1e-8)


def test_pca_sign_convention_largest_entry_positive(rng):
    X = data_with_spectrum(rng, 80, [9.0, 4.0, 1.0, 0.25])
    comps, _, _ = decomp.pca(X, 4)
    rows = np.arange(4)
    assert np.all(comps[rows, np.argmax(np.abs(comps), axis=1)] > 0)
    # negating the data leaves the covariance, hence the components, unchanged
    comps_neg, _, _ = decomp.pca(-X, 4)
    np.testing.assert_allclose(comps_neg, comps, atol=1e-10)


def test_pca_known_answer_axis_aligned():
    """Independent columns with variances 4 and 1: components are the coordinate
    axes."""
    X = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    comps, var, mean = decomp.pca(X, 2)
    np.testing.assert_allclose(comps, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(var, [8.0 / 3.0, 2.0 / 3.0])
    np.testing.assert_allclose(mean, [0.0, 0.0])


@pytest.mark.parametrize("N, D", [(30, 5), (10, 20), (200, 64)])
def test_reconstruction_with_all_components_is_exact(rng, N, D):
    X = rng.standard_normal((N, D)) * 3 + 1
    comps, _, mean = decomp.pca(X, D)
    Z = decomp.pca_transform(X, comps, mean)
    assert Z.shape == (N, D)
    np.testing.assert_allclose(decomp.pca_reconstruct(Z, comps, mean), X, atol=1e-10)


@pytest.mark.parametrize("k", [1, 3, 6])
def test_truncated_reconstruction_error_is_discarded_variance(rng, k):
    """Mean squared error of the rank-k reconstruction = (N-1)/N * sum of dropped
    eigenvalues."""
    N, D = 300, 8
    X = data_with_spectrum(rng, N, np.geomspace(10.0, 0.1, D))
    comps, var, mean = decomp.pca(X, D)
    Z = decomp.pca_transform(X, comps[:k], mean)
    X_hat = decomp.pca_reconstruct(Z, comps[:k], mean)
    mse = np.mean(np.sum((X - X_hat) ** 2, axis=1))
    assert mse == pytest.approx((N - 1) / N * var[k:].sum(), rel=1e-10)
    # and the coordinates are uncorrelated with the eigenvalues as variances
    np.testing.assert_allclose(
        np.cov(Z, rowvar=False).reshape(k, k), np.diag(var[:k]), atol=1e-10 * var[0]
    )


def test_pca_keeps_float32(rng):
    X = rng.standard_normal((50, 4)).astype(np.float32)
    comps, var, mean = decomp.pca(X, 2)
    assert comps.dtype == var.dtype == mean.dtype == np.float32
    Z = decomp.pca_transform(X, comps, mean)
    assert Z.dtype == np.float32
    assert decomp.pca_reconstruct(Z, comps, mean).dtype == np.float32


@given(
    N=st.integers(3, 40),
    D=st.integers(1, 8),
    seed=st.integers(0, 2**16),
    data=st.data(),
)
def test_pca_hypothesis_against_svd(N, D, seed, data):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D)) * rng.uniform(0.5, 3.0, size=D)
    r = min(N - 1, D)  # rank of the centred data
    k = data.draw(st.integers(1, r))
    comps, var, mean = decomp.pca(X, k)
    Vt, var_svd = svd_reference(X)
    np.testing.assert_allclose(var, var_svd[:k], rtol=1e-8, atol=1e-10 * var_svd[0])
    np.testing.assert_allclose(comps @ comps.T, np.eye(k), atol=1e-10)
    # The subspaces agree wherever the eigenvalues are separated from the next one
    gaps = (var_svd[:k] - np.append(var_svd[1:], 0)[:k]) / var_svd[0]  # (k,)
    assume(np.all(gaps > 1e-3))
    P_eig = comps.T @ comps  # (D, D) projector onto span of the k components
    P_svd = Vt[:k].T @ Vt[:k]
    np.testing.assert_allclose(P_eig, P_svd, atol=1e-6)
    # full-rank reconstruction is exact
    comps_all, _, _ = decomp.pca(X, D)
    X_back = decomp.pca_reconstruct(
        decomp.pca_transform(X, comps_all, mean), comps_all, mean
    )
    np.testing.assert_allclose(X_back, X, atol=1e-9)


@pytest.mark.parametrize(
    "X, k, match",
    [
        (np.ones(5), 1, r"2 dimensions \(N, D\), got shape \(5,\)"),
        (np.ones((1, 3)), 1, r"at least 2 rows .* got \(1, 3\)"),
        (np.ones((5, 3)), 0, r"k must be an integer in 1..D = 1..3"),
        (np.ones((5, 3)), 4, r"1..3 for X of shape \(5, 3\), got 4"),
        (np.ones((5, 3)), 1.5, "integer"),
        (np.ones((5, 3), dtype=complex), 1, "real numbers"),
    ],
)
def test_pca_bad_input(X, k, match):
    with pytest.raises(ValueError, match=match):
        decomp.pca(X, k)


def test_transform_reconstruct_bad_input():
    comps, mean = np.eye(2, 4), np.zeros(4)
    with pytest.raises(ValueError, match=r"X has D=3 .* expect D=4"):
        decomp.pca_transform(np.ones((5, 3)), comps, mean)
    with pytest.raises(ValueError, match=r"mean must have shape \(D,\) = \(4,\)"):
        decomp.pca_transform(np.ones((5, 4)), comps, np.zeros(3))
    with pytest.raises(ValueError, match=r"Z has k=3 columns .* k=2 rows"):
        decomp.pca_reconstruct(np.ones((5, 3)), comps, mean)
    with pytest.raises(ValueError, match=r"\(N, k\)"):
        decomp.pca_reconstruct(np.ones(2), comps, mean)


# ---------------------------------------------------------------- least squares

SOLVERS = [decomp.lstsq_normal_equations, decomp.lstsq_qr, decomp.lstsq_svd]


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize(
    "M, N, K", [(5, 5, None), (30, 4, None), (100, 10, 3), (8, 1, 2)]
)
def test_lstsq_matches_numpy(rng, solver, M, N, K):
    A = rng.standard_normal((M, N))
    b = rng.standard_normal(M) if K is None else rng.standard_normal((M, K))
    x = solver(A, b)
    expected = np.linalg.lstsq(A, b, rcond=None)[0]
    assert x.shape == expected.shape
    np.testing.assert_allclose(x, expected, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("solver", SOLVERS)
def test_lstsq_residual_is_orthogonal_to_columns(rng, solver):
    A = rng.standard_normal((40, 6))
    b = rng.standard_normal(40)
    r = A @ solver(A, b) - b
    np.testing.assert_allclose(A.T @ r, 0, atol=1e-11)


def test_lstsq_svd_minimum_norm_for_rank_deficient_and_wide(rng):
    A = rng.standard_normal((20, 3)) @ rng.standard_normal((3, 6))  # rank 3, (20, 6)
    b = rng.standard_normal(20)
    np.testing.assert_allclose(
        decomp.lstsq_svd(A, b), np.linalg.lstsq(A, b, rcond=None)[0], atol=1e-10
    )
    W = rng.standard_normal((3, 7))  # underdetermined: minimum-norm exact solution
    c = rng.standard_normal(3)
    x = decomp.lstsq_svd(W, c)
    np.testing.assert_allclose(W @ x, c, atol=1e-12)
    np.testing.assert_allclose(x, np.linalg.pinv(W) @ c, atol=1e-12)


@pytest.mark.parametrize("solver", SOLVERS)
def test_lstsq_keeps_float32(rng, solver):
    A = rng.standard_normal((10, 3)).astype(np.float32)
    b = rng.standard_normal(10).astype(np.float32)
    assert solver(A, b).dtype == np.float32


def median_errors(rng, cond, reps=5, M=60, N=8):
    """Median relative error of each solver on consistent systems A x = b with
    cond(A)."""
    errs = np.empty((reps, len(SOLVERS)))
    for i in range(reps):
        A = matrix_with_condition(rng, M, N, cond)
        x = rng.standard_normal(N)
        b = (
            A @ x
        )  # consistent: zero residual, so QR/SVD are limited by cond, not cond^2
        errs[i] = [np.linalg.norm(s(A, b) - x) / np.linalg.norm(x) for s in SOLVERS]
    return np.median(errs, axis=0)  # (3,)


def test_normal_equations_square_the_condition_number(rng):
    """Error ~ eps cond^2 for the normal equations, ~ eps cond for QR and SVD."""
    conds = np.array([1e2, 1e3, 1e4, 1e5, 1e6, 1e7])
    errs = np.array([median_errors(rng, c) for c in conds])  # (6, 3): NE, QR, SVD
    log_c = np.log10(conds)
    slope_ne, slope_qr, slope_svd = (
        np.polyfit(log_c, np.log10(e), 1)[0] for e in errs.T
    )
    assert 1.6 < slope_ne < 2.4
    assert 0.6 < slope_qr < 1.4
    assert 0.6 < slope_svd < 1.4
    # and the sizes themselves: within a factor ~30 below the first-order bounds
    assert np.all(errs[:, 0] < 10 * EPS * conds**2) and np.all(
        errs[:, 0] > 1e-3 * EPS * conds**2
    )
    assert np.all(errs[:, 1:] < 10 * EPS * conds[:, None])
    # at cond 1e7 the normal equations have lost ~14 digits, QR about 7
    assert errs[-1, 0] > 1e4 * errs[-1, 1]


@pytest.mark.parametrize(
    "A, b, match",
    [
        (np.ones(3), np.ones(3), r"2 dimensions \(M, N\)"),
        (
            np.ones((4, 2)),
            np.ones(3),
            r"b must have shape \(M,\) or \(M, K\) with M=4, got \(3,\)",
        ),
        (np.ones((4, 2)), np.ones((4, 2, 1)), r"got \(4, 2, 1\)"),
    ],
)
@pytest.mark.parametrize("solver", SOLVERS)
def test_lstsq_bad_input(solver, A, b, match):
    with pytest.raises(ValueError, match=match):
        solver(A, b)


@pytest.mark.parametrize("solver", [decomp.lstsq_normal_equations, decomp.lstsq_qr])
def test_tall_solvers_refuse_wide_matrices(solver):
    with pytest.raises(ValueError, match=r"M >= N.*\(2, 5\).*lstsq_svd"):
        solver(np.ones((2, 5)), np.ones(2))


# ---------------------------------------------------------------- bad input


def rank_deficient(rng, M=6):
    A = rng.standard_normal((M, 3))
    A[:, 2] = A[:, 1]  # two equal columns: rank 2
    return A, rng.standard_normal(M)


def test_lstsq_qr_refuses_dependent_columns(rng):
    # It used to solve with |R[2, 2]| ~ 1e-16 and return entries around 1e16.
    A, b = rank_deficient(rng)
    with pytest.raises(
        ValueError,
        match=r"columns of A \(shape \(6, 3\)\) are linearly "
        r"dependent.*R\[2, 2\].*use lstsq_svd",
    ):
        decomp.lstsq_qr(A, b)
    with pytest.raises(ValueError, match="linearly dependent"):
        decomp.lstsq_qr(np.zeros((4, 2)), np.ones(4))  # a zero matrix has rank 0


@pytest.mark.parametrize("M, N, cond", [(60, 8, 1e10), (100, 14, 1e10), (5, 5, 1e8)])
def test_lstsq_qr_still_solves_ill_conditioned_full_rank(rng, M, N, cond):
    # min |R_jj| / max |R_jj| >= 1 / cond(A): far above eps * max(M, N) here.
    A = matrix_with_condition(rng, M, N, cond)
    x = rng.standard_normal(N)
    err = np.linalg.norm(decomp.lstsq_qr(A, A @ x) - x) / np.linalg.norm(x)
    assert err < 1e3 * EPS * cond


def test_lstsq_svd_gives_the_minimum_norm_solution_when_rank_deficient(rng):
    A, b = rank_deficient(rng)
    x = decomp.lstsq_svd(A, b)
    np.testing.assert_allclose(x, np.linalg.pinv(A) @ b, atol=1e-12)
    assert x[1] == pytest.approx(x[2])  # the weight is shared between the equal columns


@pytest.mark.parametrize("rcond", [-1.0, np.nan, np.inf, 1.0, 2, "0.1", True])
def test_lstsq_svd_validates_rcond(rng, rcond):
    # -1 (NumPy's legacy "machine precision") gave entries ~1e16; NaN gave all zeros.
    A, b = rank_deficient(rng)
    with pytest.raises(ValueError, match=r"rcond must be None or a number in \[0, 1\)"):
        decomp.lstsq_svd(A, b, rcond=rcond)


def test_lstsq_svd_rcond_zero_keeps_every_nonzero_singular_value(rng):
    A = rng.standard_normal((8, 3))
    b = rng.standard_normal(8)
    np.testing.assert_allclose(decomp.lstsq_svd(A, b, rcond=0), decomp.lstsq_svd(A, b))
    assert decomp.lstsq_svd(A, b, rcond=np.float32(0.5)).shape == (3,)


def test_lstsq_normal_equations_singular_gram_is_a_value_error(rng):
    # np.linalg.solve raised LinAlgError("Singular matrix") for this one.
    A, b = rank_deficient(np.random.default_rng(0))
    with pytest.raises(
        ValueError, match=r"linearly dependent.*A\^T A is singular.*lstsq_svd"
    ):
        decomp.lstsq_normal_equations(A, b)
    with pytest.raises(ValueError, match="A\\^T A is singular"):
        decomp.lstsq_normal_equations(np.zeros((4, 2)), np.ones((4, 0)))


def test_lstsq_normal_equations_overflow_is_a_value_error(rng):
    A = rng.standard_normal((6, 3)) * 1e200  # A is fine, A^T A is not
    b = rng.standard_normal(6)
    with pytest.raises(
        ValueError, match="A\\^T A overflows float64.*lstsq_qr or lstsq_svd"
    ):
        decomp.lstsq_normal_equations(A, b)
    assert np.all(np.isfinite(decomp.lstsq_qr(A, b)))


@pytest.mark.parametrize("solver", SOLVERS)
def test_lstsq_nan_in_gives_nan_out(rng, solver):
    A = rng.standard_normal((6, 3))
    b = rng.standard_normal((6, 2))
    A_nan = A.copy()
    A_nan[0, 0] = np.nan  # the SVD raised LinAlgError("SVD did not converge")
    x = solver(A_nan, b)
    assert x.shape == (3, 2) and np.all(np.isnan(x))
    A_inf = A.copy()
    A_inf[1, 2] = np.inf
    assert np.all(np.isnan(solver(A_inf, b[:, 0])))
    b_nan = b[:, 0].copy()
    b_nan[3] = np.nan
    assert np.all(np.isnan(solver(A, b_nan)))


@pytest.mark.parametrize("solver", SOLVERS)
def test_lstsq_float16_is_computed_in_float32(rng, solver):
    # NumPy's linalg refuses float16 with a TypeError.
    A = rng.standard_normal((10, 3))
    x_true = rng.standard_normal(3)
    A16, b16 = A.astype(np.float16), (A @ x_true).astype(np.float16)
    x = solver(A16, b16)
    assert x.dtype == np.float16
    expected = solver(A16.astype(np.float32), b16.astype(np.float32))
    np.testing.assert_array_equal(x, expected.astype(np.float16))
    assert solver(A16, b16.astype(np.float64)).dtype == np.float64


def test_pca_float16_is_computed_in_float32(rng):
    X = rng.standard_normal((20, 4)).astype(np.float16)
    comps, var, mean = decomp.pca(X, 2)
    assert comps.dtype == var.dtype == mean.dtype == np.float16
    ref = decomp.pca(X.astype(np.float32), 2)
    for got, want in zip((comps, var, mean), ref, strict=True):
        np.testing.assert_array_equal(got, want.astype(np.float16))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_pca_nan_in_gives_nan_out(rng, bad):
    X = rng.standard_normal((10, 3))
    X[4, 1] = bad
    comps, var, mean = decomp.pca(X, 2)
    assert comps.shape == (2, 3) and var.shape == (2,) and mean.shape == (3,)
    assert np.all(np.isnan(comps)) and np.all(np.isnan(var))
    assert not np.isfinite(mean[1]) and np.all(np.isfinite(mean[[0, 2]]))


@pytest.mark.parametrize(
    "k", [True, False, 2.5, 2.0, float("inf"), float("nan"), "2", None, np.float64(1.0)]
)
def test_pca_k_must_be_an_integer(rng, k):
    # True and 2.0 were accepted as 1 and 2; inf raised OverflowError.
    X = rng.standard_normal((6, 3))
    with pytest.raises(
        ValueError,
        match=r"k must be an integer in 1..D = 1..3 for X of "
        r"shape \(6, 3\), got",
    ):
        decomp.pca(X, k)


def test_pca_numpy_integer_k_is_fine(rng):
    X = rng.standard_normal((6, 3))
    comps, _, _ = decomp.pca(X, np.int64(2))
    np.testing.assert_array_equal(comps, decomp.pca(X, 2)[0])


@pytest.mark.parametrize(
    "fn, args",
    [
        (decomp.covariance, ([[1.0, 2.0], [3.0]],)),
        (decomp.lstsq_qr, ([[1.0, 2.0], [3.0]], [1.0, 2.0])),
        (decomp.pca_transform, ([[1.0], [2.0, 3.0]], np.eye(1, 2), np.zeros(2))),
    ],
)
def test_ragged_input_names_the_argument(fn, args):
    with pytest.raises(ValueError, match="must be a rectangular array"):
        fn(*args)
