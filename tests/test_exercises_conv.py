"""lalib.exercises.conv: the checkers of chapter 2 accept right answers only."""

import numpy as np
import pytest

from lalib import conv
from lalib.exercises import Check
from lalib.exercises.conv import (
    check_conv_function,
    check_shift_filter,
    check_toeplitz_count,
)


def test_check_is_truthy_and_explains():
    assert bool(Check(True, "fine")) and repr(Check(True, "fine")) == "Correct: fine"
    assert not Check(False, "no") and repr(Check(False, "no")) == "Not yet: no"


def test_toeplitz_count():
    # 6 x 6 image, 3 x 3, padding 1: 36 x 36; per axis windows hold 2,3,3,3,3,2 pixels.
    per_axis = 2 + 3 * 4 + 2
    assert check_toeplitz_count((36, 36), per_axis**2)
    assert not check_toeplitz_count((36, 36), 36 * 9)  # forgetting the padding
    assert not check_toeplitz_count((16, 36), per_axis**2)  # the shape without padding
    assert "shape (36, 36) is right" in repr(check_toeplitz_count((36, 36), 1))


def test_shift_filter():
    right = np.zeros((3, 3))
    right[1, 0] = 1.0  # out[i, j] = x[i, j - 1]
    left = np.zeros((3, 3))
    left[1, 2] = 1.0
    assert check_shift_filter(right)
    result = check_shift_filter(left)
    assert not result and "left" in repr(result)
    assert not check_shift_filter(np.eye(3))
    assert not check_shift_filter(np.zeros((2, 2)))


def _good(x, w, stride, padding):
    cols = conv.im2col(x, w.shape[2:], stride, padding)  # (N, CKK, P)
    Ho, Wo = conv.output_size(x.shape[2:], w.shape[2:], stride, padding)
    return (w.reshape(w.shape[0], -1) @ cols).reshape(x.shape[0], w.shape[0], Ho, Wo)


@pytest.mark.parametrize(
    "fn, accepted",
    [
        (_good, True),
        (lambda x, w, s, p: conv.conv2d(x, w, None, s, p), True),
        (
            lambda x, w, s, p: _good(x, w, s, p).astype(np.float64),
            False,
        ),  # promotes dtype
        (
            lambda x, w, s, p: _good(x, w[:, :, ::-1, ::-1], s, p),
            False,
        ),  # flipped: convolution
        (lambda x, w, s, p: _good(x, w, 1, p), False),  # ignores stride
        (lambda x, w, s, p: 1 / 0, False),  # crashes
    ],
    ids=["im2col", "conv2d", "float64", "flipped", "no-stride", "raises"],
)
def test_conv_function(fn, accepted):
    assert bool(check_conv_function(fn)) is accepted


def test_starters_get_a_hint():
    # The chapter's starter cells run as shipped and get "Not yet" with a hint.
    assert "one row per output pixel" in repr(check_toeplitz_count((0, 0), 0))
    assert "all zeros" in repr(check_shift_filter(np.zeros((3, 3))))

    def starter(x, w, stride, padding):
        raise NotImplementedError("your code here")

    verdict = check_conv_function(starter)
    assert not verdict and "conv.im2col" in repr(verdict)


@pytest.mark.parametrize(
    "u, v, words",
    [
        (1, 1, "where it is"),
        (1, 2, "1 pixel left: conv2d does not flip"),
        (0, 1, "1 pixel down"),
        (2, 0, "1 pixel up and 1 pixel right"),
        (0, 0, "1 pixel down and 1 pixel right"),
    ],
)
def test_shift_filter_names_the_move_of_a_one_hot_filter(u, v, words):
    w = np.zeros((3, 3))
    w[u, v] = 1.0  # out[i, j] = x[i + u - 1, j + v - 1]
    verdict = check_shift_filter(w)
    assert not verdict and words in repr(verdict)


@pytest.mark.parametrize(
    "check, args",
    [
        (check_toeplitz_count, ("abc", 3)),
        (check_toeplitz_count, ((36, 36), "many")),
        (check_toeplitz_count, (36, 256)),
        (check_toeplitz_count, ((36, 36), float("nan"))),
        (check_shift_filter, ("abc",)),
        (check_shift_filter, (None,)),
        (check_shift_filter, ([[1, 2], [3]],)),
        (check_conv_function, (None,)),
        (check_conv_function, (lambda x, w, s, p: "out",)),
        (
            check_conv_function,
            (lambda x, w, s, p: np.full(_good(x, w, s, p).shape, "a"),),
        ),
    ],
)
def test_garbage_gets_not_yet(check, args):
    verdict = check(*args)
    assert not verdict and repr(verdict).startswith("Not yet: ")
