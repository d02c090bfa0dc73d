"""lalib.exercises.lowrank: the checkers of chapter 11 accept right answers only."""

import numpy as np
import pytest

from lalib.exercises import lowrank as ex
from lalib.exercises.lowrank import (
    check_energy_rank,
    check_truncation_errors,
    check_update_parameters,
)


def _tail():
    s, r = ex.EXERCISE1["s"], ex.EXERCISE1["r"]
    return float(np.sqrt(np.sum(s[r:] ** 2))), float(s[r])


def test_exercise1_answer_is_the_measured_error():
    # the checker's answer equals the error of an actual truncated SVD
    s, r = ex.EXERCISE1["s"], ex.EXERCISE1["r"]
    rng = np.random.default_rng(0)
    U, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    V, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    W = U @ np.diag(s) @ V.T
    W_r = U[:, :r] @ np.diag(s[:r]) @ V[:, :r].T
    fro, spec = ex.exercise1_errors()
    assert fro == pytest.approx(np.linalg.norm(W - W_r), rel=1e-12)
    assert spec == pytest.approx(np.linalg.norm(W - W_r, 2), rel=1e-12)


def test_truncation_errors_accepts_the_tail():
    fro, spec = _tail()
    assert check_truncation_errors(fro, spec)
    assert check_truncation_errors(round(fro, 4), np.float64(spec))
    assert repr(check_truncation_errors(fro, spec)).startswith("Correct")


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda f, s2, s: (f**2, s2), "square root"),
        (lambda f, s2, s: (np.sqrt(np.sum(s[1:] ** 2)), s2), "after s_r"),
        (lambda f, s2, s: (np.sum(s[2:]), s2), "squares"),
        (lambda f, s2, s: (f, s[1]), "s_r is kept"),
        (lambda f, s2, s: (f, f), "Frobenius error"),
        (lambda f, s2, s: (7.0, s2), "Eckart"),
    ],
    ids=["squared", "from-r", "not-squared", "spectral-off-by-one", "same", "other"],
)
def test_truncation_errors_rejects_slips_with_a_hint(answer, hint):
    fro, spec = _tail()
    result = check_truncation_errors(*answer(fro, spec, ex.EXERCISE1["s"]))
    assert not result and hint in repr(result)


@pytest.mark.parametrize("garbage", [None, "2.29", [1.0, 2.0], np.nan, True])
def test_truncation_errors_garbage_is_not_yet(garbage):
    result = check_truncation_errors(garbage, 2.0)
    assert not result and repr(result).startswith("Not yet")


def test_update_parameters():
    D, M, r = (ex.EXERCISE2[k] for k in ("D", "M", "r"))
    assert ex.exercise2_count() == r * (D + M)
    assert check_update_parameters(r * (D + M))
    assert check_update_parameters(float(r * (D + M)))
    for wrong, hint in [
        (D * M, "frozen"),
        (r * D * M, "add their sizes"),
        (r * (D + M) + M, "bias"),
        (r * D, "B is trainable"),
        (12345, "count the entries"),
    ]:
        result = check_update_parameters(wrong)
        assert not result and hint in repr(result)
    assert not check_update_parameters(2.5) and not check_update_parameters("5120")


def _energy_rank(fraction=0.9):
    s = np.linalg.svd(ex.exercise3_matrix(), compute_uv=False)
    energy = np.cumsum(s**2) / np.sum(s**2)
    return int(np.argmax(energy >= fraction)) + 1, s


def test_energy_rank_accepts_the_count_and_rejects_neighbours():
    k, s = _energy_rank()
    assert check_energy_rank(k) and check_energy_rank(np.int64(k))
    result = check_energy_rank(k - 1)
    assert not result and "searchsorted" in repr(result)
    result = check_energy_rank(k + 1)
    assert not result and "more than needed" in repr(result)
    by_values = int(np.argmax(np.cumsum(s) / s.sum() >= 0.9)) + 1
    assert by_values != k
    result = check_energy_rank(by_values)
    assert not result and "squares" in repr(result)
    assert not check_energy_rank(0) and not check_energy_rank(31)
    assert not check_energy_rank(None) and not check_energy_rank(2.5)


def test_energy_rank_other_fraction():
    k, _ = _energy_rank(0.5)
    assert check_energy_rank(k, fraction=0.5) and not check_energy_rank(k + 3, 0.5)
