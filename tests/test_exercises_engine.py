"""lalib.exercises.engine: the checkers of chapter 7 accept right answers only."""

import cmath
import math

import numpy as np
import pytest

from lalib.exercises import engine
from lalib.exercises.engine import (
    check_attention_costs,
    check_circulant_eigenvalues,
    check_conv_costs,
    check_intensity,
)

MIB = 2**20


def _conv_answer():
    # 28 x 28, 3 x 3, stride 2, padding 1: (28 + 2 - 3) // 2 + 1 = 14 per side.
    flops = 2 * 16 * 256 * 14 * 14 * 128 * 9
    columns_mib = 128 * 9 * 16 * 14 * 14 * 4 / MIB
    return flops, columns_mib


def test_conv_costs_accepts_the_count():
    flops, columns_mib = _conv_answer()
    assert engine.conv_costs() == pytest.approx((flops, columns_mib))
    result = check_conv_costs(flops, columns_mib)
    assert result and "GFLOP" in repr(result)
    assert check_conv_costs(np.int64(flops), np.float32(columns_mib))


@pytest.mark.parametrize(
    "scale_flops, scale_mib, hint",
    [
        (0.5, 1, "multiply-adds"),
        (4, 1, "stride 2"),
        (1 / 16, 1, "one image"),
        (1, 4, "output"),
        (1, 0.25, "4 bytes"),
        (1, MIB / 1e6, "2**20"),
        (1, 1 / 9, "C KH KW"),
        (1.3, 1, "dot product"),
    ],
)
def test_conv_costs_rejects_typical_slips(scale_flops, scale_mib, hint):
    flops, columns_mib = _conv_answer()
    result = check_conv_costs(scale_flops * flops, scale_mib * columns_mib)
    assert not result and hint in repr(result)


@pytest.mark.parametrize("garbage", [None, "2e9", [1, 2], np.inf, True])
def test_conv_costs_garbage_is_not_yet(garbage):
    result = check_conv_costs(garbage, 1.0)
    assert not result and repr(result).startswith("Not yet")


def _intensity(N, D=4096, M=4096):
    return 2 * N * D * M / (4 * (N * D + D * M + N * M))


def _smallest(ridge):
    return next(N for N in range(1, 10_000) if _intensity(N) >= ridge)


def test_intensity_accepts_the_formula_and_the_first_batch():
    ridge = 8.6
    n = _smallest(ridge)
    assert _intensity(n - 1) < ridge <= _intensity(n)
    result = check_intensity(_intensity, n, ridge)
    assert result and "matrix-vector" in repr(result)
    assert not check_intensity(_intensity, n - 1, ridge)
    assert not check_intensity(_intensity, n + 1, ridge)
    assert check_intensity(_intensity, _smallest(20.0), 20.0)  # follows the ridge given


@pytest.mark.parametrize(
    "fn, hint",
    [
        (lambda N: _intensity(N) / 2, "2 FLOPs"),
        (lambda N: _intensity(N) * 4, "bytes, not numbers"),
        (lambda N: 2 * N * 4096 * 4096 / (4 * 4096 * 4096), "x and of the output"),
        (lambda N: 1 / 0, "ZeroDivisionError"),
        (lambda N: "high", "one number"),
        (lambda N: 1.0, "FLOPs 2 N D M"),
    ],
    ids=["mult-adds", "numbers", "weights-only", "raises", "text", "constant"],
)
def test_intensity_rejects_with_a_hint(fn, hint):
    result = check_intensity(fn, 18, 8.6)
    assert not result and hint in repr(result)


@pytest.mark.parametrize("ridge", [None, -1, "9", np.nan])
def test_intensity_garbage_ridge_is_not_yet(ridge):
    assert not check_intensity(_intensity, 18, ridge)


def test_intensity_garbage_batch_is_not_yet():
    result = check_intensity(_intensity, "eighteen", 8.6)
    assert not result and "whole number" in repr(result)
    assert not check_intensity(_intensity, 17.5, 8.6)


def _attention_answer():
    B, h, n, d, blk = 4, 16, 4096, 64, 256
    return (
        4 * B * h * n * n * d / 1e9,
        B * h * n * n * 4 / MIB,
        B * h * blk * blk * 4 / MIB,
    )


def test_attention_costs_accepts_the_count():
    answer = _attention_answer()
    assert engine.attention_costs() == pytest.approx(answer)
    result = check_attention_costs(*answer)
    assert result and "times less" in repr(result)


@pytest.mark.parametrize(
    "scales, hint",
    [
        ((0.5, 1, 1), "both products"),
        ((1 / 64, 1, 1), "one head"),
        ((1, 0.25, 1), "4 bytes"),
        ((1, MIB / 1e6, 1), "2**20"),
        ((1, 1 / 64, 1), "own n x n"),
        ((1, 1, 16), "block x block"),
        ((1, 1, 0.25), "4 bytes"),
        ((1, 1, 3), "B h block^2"),
    ],
)
def test_attention_costs_rejects_typical_slips(scales, hint):
    answer = [s * a for s, a in zip(scales, _attention_answer(), strict=True)]
    result = check_attention_costs(*answer)
    assert not result and hint in repr(result)


@pytest.mark.parametrize("garbage", [None, "275", (1, 2), np.nan])
def test_attention_costs_garbage_is_not_yet(garbage):
    result = check_attention_costs(garbage, 1.0, 1.0)
    assert not result and repr(result).startswith("Not yet")


# --------------------------------------------------------------------- exercise 4


def _circulant_answer():
    # C[i, j] = c[(i - j) mod 6]; eigenvalue k = sum_m c[m] e^{-2 pi i m k / 6},
    # entry by entry, independent of lalib.fourier.
    c = [1.0, -1.0, 0.0, 0.0, 0.0, 0.0]
    C = np.array([[c[(i - j) % 6] for j in range(6)] for i in range(6)])
    lam = np.array(
        [
            sum(c[m] * cmath.exp(-2j * math.pi * m * k / 6) for m in range(6))
            for k in range(6)
        ]
    )
    return C, lam


def test_circulant_exercise_accepts_the_answer():
    C, lam = _circulant_answer()
    assert list(engine.EXERCISE4["c"]) == [1.0, -1.0, 0.0, 0.0, 0.0, 0.0]
    right_C, right_lam = engine.circulant_answers()
    np.testing.assert_allclose(right_C, C)
    np.testing.assert_allclose(right_lam, lam, atol=1e-12)
    result = check_circulant_eigenvalues(C, lam)
    assert result
    assert "eigenvalue 0 for k = 0" in repr(result)
    assert "|lambda| = 2 for k = 3" in repr(result)
    assert check_circulant_eigenvalues(C.tolist(), list(lam))  # lists are fine


@pytest.mark.parametrize(
    "change, hint",
    [
        (lambda C, lam: (C.T, lam), "transpose"),
        (lambda C, lam: (C[:5], lam), "6 x 6"),
        (lambda C, lam: ("C", lam), "6 x 6"),
        (lambda C, lam: (np.roll(C, 1, axis=0), lam), "first column is c"),
        (lambda C, lam: (C, lam.conj()), "conjugates"),
        (lambda C, lam: (C, lam / np.sqrt(6)), "unitary F"),
        (lambda C, lam: (C, np.sort_complex(lam)), "wrong order"),
        (lambda C, lam: (C, lam[:5]), "one array"),
        (lambda C, lam: (C, "eigenvalues"), "one array"),
        (lambda C, lam: (C, lam + 0.5), "DFT of its first column"),
    ],
    ids=[
        "transpose", "short-C", "text-C", "rolled-C", "conjugate", "unitary",
        "sorted", "short-lam", "text-lam", "off",
    ],
)  # fmt: skip
def test_circulant_exercise_rejects_with_a_hint(change, hint):
    C, lam = _circulant_answer()
    result = check_circulant_eigenvalues(*change(C, lam))
    assert not result and hint in repr(result)
