"""lalib.exercises.why: the checkers of chapter 6 accept right answers only."""

import numpy as np
import pytest

from lalib import data, decomp
from lalib.exercises import why
from lalib.exercises.why import check_components, check_learning_rates, check_lstsq_qr


def _eigenvalues():
    X = why.regression_data()
    return np.linalg.eigvalsh(X.T @ X / X.shape[0]), X


def test_regression_data_is_fixed_and_ill_conditioned():
    lam, X = _eigenvalues()
    assert X.shape == (200, 3)
    assert np.array_equal(X, why.regression_data())  # seeded: the same every call
    assert lam[-1] / lam[0] > 10  # worth a learning-rate question


def test_learning_rates_accepts_the_eigenvalue_answer():
    lam, _ = _eigenvalues()
    result = check_learning_rates(2 / lam[-1], 2 / (lam[0] + lam[-1]))
    assert result and "kappa" in repr(result)
    # np.float64 and 0-d arrays are numbers too
    assert check_learning_rates(
        np.float64(2 / lam[-1]), np.array(2 / (lam[0] + lam[-1]))
    )


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda lam, N, s: 1 / lam[-1], "twice"),
        (lambda lam, N, s: 2 / lam[0], "largest eigenvalue"),
        (lambda lam, N, s: 2 / lam[-1] / N, "divide by N"),
        (lambda lam, N, s: 2 / s, "singular values"),
        (lambda lam, N, s: 3 / lam[-1], "diverges"),
    ],
    ids=["one-over", "lambda-min", "sum-not-mean", "singular-value", "too-large"],
)
def test_learning_rates_rejects_typical_limits_with_a_hint(wrong, hint):
    lam, X = _eigenvalues()
    s = np.linalg.svd(X, compute_uv=False)[0]
    result = check_learning_rates(wrong(lam, X.shape[0], s), 2 / (lam[0] + lam[-1]))
    assert not result and hint in repr(result)


def test_learning_rates_rejects_a_wrong_best_step():
    lam, _ = _eigenvalues()
    result = check_learning_rates(2 / lam[-1], 1 / lam[-1])
    assert not result and "steep" in repr(result)
    result = check_learning_rates(2 / lam[-1], 2 / (lam[1] + lam[-1]))
    assert not result and "smallest and the largest" in repr(result)


@pytest.mark.parametrize("garbage", [None, "0.1", [0.1, 0.2], np.nan, True])
def test_learning_rates_garbage_is_not_yet(garbage):
    result = check_learning_rates(garbage, 0.1)
    assert not result and repr(result).startswith("Not yet")


def _digit_answer():
    X, y = data.load_digits()
    _, var, _ = decomp.pca(X[y == why.EXERCISE2["digit"]], 64)
    cumulative = np.cumsum(var) / var.sum()
    return int(np.argmax(cumulative >= why.EXERCISE2["fraction"])) + 1


def test_components_accepts_the_count_and_rejects_neighbours():
    k = _digit_answer()
    assert (
        check_components(k)
        and check_components(np.int64(k))
        and check_components(float(k))
    )
    result = check_components(k - 1)
    assert not result and "searchsorted" in repr(result)
    result = check_components(k + 1)
    assert not result and "more than needed" in repr(result)
    assert not check_components(1)


def test_components_names_the_all_digits_answer():
    X, _ = data.load_digits()
    _, var, _ = decomp.pca(X, 64)
    k_all = int(np.argmax(np.cumsum(var) / var.sum() >= 0.9)) + 1
    assert k_all != _digit_answer()
    result = check_components(k_all)
    assert not result and "all the digits" in repr(result)


@pytest.mark.parametrize("garbage", [0, 65, -3, 2.5, "ten", None, [5]])
def test_components_garbage_is_not_yet(garbage):
    result = check_components(garbage)
    assert not result and repr(result).startswith("Not yet")


def _qr(A, b):
    Q, R = np.linalg.qr(A)  # reduced: (M, N), (N, N)
    return np.linalg.solve(R, Q.T @ b)


def _normal_equations(A, b):
    return np.linalg.solve(A.T @ A, A.T @ b)


def _complete_qr(A, b):
    Q, R = np.linalg.qr(A, mode="complete")  # R is (M, N): not square
    return np.linalg.solve(R, Q.T @ b)


def test_lstsq_accepts_qr_and_the_svd():
    assert check_lstsq_qr(_qr)
    assert check_lstsq_qr(decomp.lstsq_svd)  # as accurate as QR: accepted


@pytest.mark.parametrize(
    "solve, hint",
    [
        (_normal_equations, "A^T A"),
        (_complete_qr, "reduced QR"),
        (lambda A, b: np.zeros(A.shape[1]), "minimise"),
        (lambda A, b: np.zeros(3), "shape"),
        (lambda A, b: 1 / 0, "ZeroDivisionError"),
        (lambda A, b: "x", "ValueError"),
    ],
    ids=["normal-equations", "complete-qr", "zeros", "wrong-shape", "raises", "text"],
)
def test_lstsq_rejects_with_a_hint(solve, hint):
    result = check_lstsq_qr(solve)
    assert not result and hint in repr(result)
