"""lalib.exercises.conv: the checkers of chapter 2 accept right answers only."""

import numpy as np
import pytest

from lalib import conv
from lalib.exercises import Check
from lalib.exercises.conv import (
    EXERCISE4,
    check_conv_function,
    check_shift_filter,
    check_toeplitz_count,
    check_upsampling,
    upsampling_counts,
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


# --------------------------------------------------------------------- exercise 4


def _stamps_by_hand():
    """Stamps per output pixel of EXERCISE4 counted with loops over the input pixels,
    independently of conv_transpose2d."""
    (H, W), (KH, KW) = EXERCISE4["input_hw"], EXERCISE4["kernel"]
    s, p, op = EXERCISE4["stride"], EXERCISE4["padding"], EXERCISE4["output_padding"]
    Ho, Wo = (H - 1) * s - 2 * p + KH + op, (W - 1) * s - 2 * p + KW + op
    canvas = np.zeros((Ho + 2 * p, Wo + 2 * p), int)
    for i in range(H):
        for j in range(W):
            canvas[i * s : i * s + KH, j * s : j * s + KW] += 1  # one stamp
    return canvas[p : p + Ho, p : p + Wo]


def test_upsampling_counts_match_stamping_by_hand():
    np.testing.assert_array_equal(upsampling_counts(), _stamps_by_hand())
    assert upsampling_counts().shape == (8, 8)  # a 2x upsampling of 4 x 4


def test_upsampling_accepts_the_right_answer_only():
    values, numbers = np.unique(_stamps_by_hand(), return_counts=True)
    right = dict(zip(values.tolist(), numbers.tolist(), strict=True))
    assert right == {1: 25, 2: 30, 4: 9}
    assert check_upsampling((8, 8), right)
    assert check_upsampling([8, 8], {**right, 3: 0})  # a zero count says nothing wrong
    assert not check_upsampling((8, 8), {1: 16, 2: 32, 4: 16})  # stride-2 even split
    assert not check_upsampling((9, 9), right)  # padding forgotten
    assert not check_upsampling((7, 7), right)  # output_padding forgotten
    assert not check_upsampling((8, 8), {1: 25, 2: 30})
    assert "shape (8, 8) is right" in repr(check_upsampling((8, 8), {1: 64}))


@pytest.mark.parametrize(
    "args", [("ab", {}), ((8, 8), "many"), ((8, 8), None), (None, {1: 1}),
             ((8, 8), {1: float("nan")})],
)  # fmt: skip
def test_upsampling_garbage_gets_not_yet(args):
    verdict = check_upsampling(*args)
    assert not verdict and repr(verdict).startswith("Not yet: ")


def test_upsampling_starter_gets_a_hint():
    assert "H_out = (H - 1) * stride" in repr(check_upsampling((0, 0), {}))
