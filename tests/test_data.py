"""Tests of lalib.data: the bundled digits, the split, the sample image."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lalib import data


@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


def test_digits_shapes_dtypes_ranges(digits):
    X, y = digits
    assert X.shape == (1797, 64) and y.shape == (1797,)
    assert X.dtype == np.float64 and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert set(np.unique(y)) == set(range(10))
    # the raw pixels are integers 0..16, so X * 16 is integral
    np.testing.assert_array_equal(X * 16, np.round(X * 16))


def test_digits_class_counts_are_balanced(digits):
    _, y = digits
    counts = np.bincount(y, minlength=10)
    assert counts.sum() == 1797 and counts.min() >= 170 and counts.max() <= 190


def test_digits_float32_and_deterministic(digits):
    X32, y32 = data.load_digits(dtype=np.float32)
    assert X32.dtype == np.float32
    np.testing.assert_allclose(X32, digits[0], atol=1e-7)
    np.testing.assert_array_equal(y32, digits[1])
    X2, _ = data.load_digits()
    np.testing.assert_array_equal(X2, digits[0])


def test_digit_image_looks_like_its_label(digits):
    """A zero has an empty centre and ink around it; a one has ink in the middle
    column."""
    X, y = digits
    zeros = X[y == 0].reshape(-1, 8, 8).mean(axis=0)
    ones = X[y == 1].reshape(-1, 8, 8).mean(axis=0)
    assert zeros[3:5, 3:5].mean() < 0.3 < zeros[3:5, 1:3].mean()
    assert ones[2:6, 3:5].mean() > 0.5


@pytest.mark.parametrize("N, frac", [(10, 0.2), (1797, 0.25), (7, 0.5), (100, 0.01)])
def test_split_sizes_partition_and_pairing(N, frac):
    X = np.arange(N * 3).reshape(N, 3)  # row i is [3i, 3i+1, 3i+2]
    y = np.arange(N)  # label i belongs to row i
    Xtr, Xte, ytr, yte = data.train_test_split(X, y, frac, rng=np.random.default_rng(1))
    assert len(Xte) == len(yte) == int(round(frac * N))
    assert len(Xtr) + len(Xte) == N
    np.testing.assert_array_equal(np.sort(np.concatenate([ytr, yte])), np.arange(N))
    np.testing.assert_array_equal(Xtr[:, 0], 3 * ytr)  # rows stay with their labels
    np.testing.assert_array_equal(Xte[:, 0], 3 * yte)


def test_split_is_deterministic_given_the_seed_and_shuffles(digits):
    X, y = digits
    a = data.train_test_split(X, y, rng=np.random.default_rng(0))
    b = data.train_test_split(X, y, rng=np.random.default_rng(0))
    c = data.train_test_split(X, y, rng=np.random.default_rng(1))
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[3], c[3])
    assert not np.array_equal(a[2], np.sort(a[2]))  # the order is shuffled
    # every class is represented in a 25 % test split of the digits
    assert set(np.unique(a[3])) == set(range(10))


def test_split_does_not_modify_inputs():
    X = np.arange(20.0).reshape(10, 2)
    y = np.arange(10)
    X0, y0 = X.copy(), y.copy()
    data.train_test_split(X, y, 0.3, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


@given(N=st.integers(2, 300), frac=st.floats(0.05, 0.95), seed=st.integers(0, 2**16))
def test_split_hypothesis_partition(N, frac, seed):
    X = np.arange(N)[:, None] * np.ones((1, 2))  # (N, 2)
    y = np.arange(N)
    n_test = int(round(frac * N))
    if not 0 < n_test < N:  # one side would be empty: refused, never returned empty
        with pytest.raises(ValueError, match="both need at least one"):
            data.train_test_split(X, y, frac, rng=np.random.default_rng(seed))
        return
    Xtr, Xte, ytr, yte = data.train_test_split(
        X, y, frac, rng=np.random.default_rng(seed)
    )
    assert len(yte) == n_test
    np.testing.assert_array_equal(np.sort(np.concatenate([ytr, yte])), y)
    np.testing.assert_array_equal(Xtr[:, 1], ytr)
    np.testing.assert_array_equal(Xte[:, 1], yte)


@pytest.mark.parametrize(
    "X, y, frac, match",
    [
        (
            np.ones((5, 2)),
            np.ones(4),
            0.2,
            r"as many rows, got X \(5, 2\) and y \(4,\)",
        ),
        (np.ones((5, 2)), np.ones(5), 0.0, r"\(0, 1\), got 0.0"),
        (np.ones((5, 2)), np.ones(5), 1.0, r"\(0, 1\)"),
        (np.ones((5, 2)), np.ones(5), -0.1, r"\(0, 1\)"),
        (np.ones((1, 2)), np.ones(1), 0.4, r"leaves 0 for test and 1 for training"),
        (np.ones((3, 2)), np.ones(3), 0.9, r"leaves 3 for test and 0 for training"),
        (np.array(1.0), np.ones(1), 0.5, r"as many rows, got X \(\) and y \(1,\)"),
    ],
)
def test_split_bad_input(X, y, frac, match):
    with pytest.raises(ValueError, match=match):
        data.train_test_split(X, y, frac, rng=np.random.default_rng(0))


def test_sample_image_shape_range_dtype():
    img = data.sample_image()
    assert img.shape == (600, 512) and img.dtype == np.float64
    assert 0.0 <= img.min() < 0.1 and 0.9 < img.max() <= 1.0
    img32 = data.sample_image(dtype=np.float32)
    assert img32.dtype == np.float32
    np.testing.assert_allclose(img32, img, atol=1e-6)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("rng", [0, 42, np.random.RandomState(0), "seed"])
def test_split_rng_must_be_a_generator(rng):
    # AttributeError: 'int' object has no attribute 'permutation'.
    with pytest.raises(TypeError, match=r"rng must be a numpy.random.Generator.*got"):
        data.train_test_split(np.ones((5, 2)), np.ones(5), 0.4, rng)


def test_split_rng_none_still_draws_a_fresh_split():
    Xtr, Xte, ytr, yte = data.train_test_split(np.ones((5, 2)), np.arange(5), 0.4)
    assert len(yte) == 2 and len(ytr) == 3


@pytest.mark.parametrize("frac", ["0.3", None, np.nan, np.inf, True, [0.3], 1j])
def test_split_test_fraction_must_be_a_number_in_the_unit_interval(frac):
    # "0.3" raised TypeError: '<' not supported between 'int' and 'str'.
    with pytest.raises(ValueError, match="test_fraction must"):
        data.train_test_split(
            np.ones((5, 2)), np.ones(5), frac, rng=np.random.default_rng(0)
        )


def test_split_ragged_input_names_the_argument():
    with pytest.raises(ValueError, match="X must be a rectangular array"):
        data.train_test_split([[1, 2], [3]], [0, 1], 0.5, rng=np.random.default_rng(0))


@pytest.mark.parametrize("loader", [data.load_digits, data.sample_image])
@pytest.mark.parametrize("dtype", [np.int64, np.uint8, bool, np.complex128, "nope"])
def test_loaders_refuse_non_floating_dtypes(loader, dtype):
    # load_digits(dtype=int) truncated the 0..1 intensities to 0 and 1.
    with pytest.raises(ValueError, match="dtype must be a floating dtype"):
        loader(dtype=dtype)
