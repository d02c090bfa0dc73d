"""lalib.exercises.layers: the checkers of chapter 1 accept right answers only."""

import numpy as np
import pytest

from lalib.exercises.layers import (
    EXERCISE1,
    EXERCISE2,
    EXERCISE4,
    check_affine_from_points,
    check_composition,
    check_layer_output,
    check_rotation_path,
)

GARBAGE = [None, "abc", [[1, 2], [3]], {"a": 1}, [np.nan, 1.0], object()]
GARBAGE_IDS = ["none", "string", "ragged", "dict", "nan", "object"]


# ------------------------------------------------------------------ exercise 1


def test_layer_output_accepts_the_product_worked_out_by_hand():
    # W = [[2, 0, -1], [1, 3, 1]], x = (1, 2, 3), b = (0.5, -1):
    # 2 - 3 + 0.5 = -0.5 and 1 + 6 + 3 - 1 = 9.
    assert check_layer_output([-0.5, 9.0])
    assert check_layer_output(np.array([-0.5, 9.0], dtype=np.float32))
    assert "Correct" in repr(check_layer_output((-0.5, 9)))


def test_layer_output_rejects_typical_slips_with_a_hint():
    no_bias = check_layer_output([-1.0, 10.0])  # W x only
    assert not no_bias and "bias" in repr(no_bias)
    one_wrong = check_layer_output([-0.5, 8.0])
    assert not one_wrong and "entry 1" in repr(one_wrong)
    transposed_shape = check_layer_output([1.0, 2.0, 3.0])  # x^T W-like, 3 numbers
    assert not transposed_shape and "per row of W" in repr(transposed_shape)


@pytest.mark.parametrize("answer", GARBAGE, ids=GARBAGE_IDS)
def test_layer_output_gives_a_verdict_on_garbage(answer):
    result = check_layer_output(answer)
    assert not result and repr(result).startswith("Not yet: ")


def test_exercise1_is_a_genuine_m_by_d_layer():
    assert EXERCISE1["W"].shape == (2, 3)  # M != D, so a transposition shows


# ------------------------------------------------------------------ exercise 2

W2_RIGHT = np.array([[2.0, -1.0], [0.0, 1.0]])
B2_RIGHT = np.array([1.0, 1.0])


def test_affine_from_points_accepts_the_map_through_the_three_points():
    P, F = EXERCISE2["points"], EXERCISE2["images"]
    assert np.allclose(P @ W2_RIGHT.T + B2_RIGHT, F)  # the test's own answer is right
    assert check_affine_from_points(W2_RIGHT, B2_RIGHT)
    assert check_affine_from_points(W2_RIGHT.tolist(), tuple(B2_RIGHT))


def test_affine_from_points_rejects_typical_slips_with_a_hint():
    transposed = check_affine_from_points(W2_RIGHT.T, B2_RIGHT)
    assert not transposed and "COLUMN" in repr(transposed)
    images_as_columns = EXERCISE2["images"][:2].T  # forgot to subtract b
    unshifted = check_affine_from_points(images_as_columns, B2_RIGHT)
    assert not unshifted and "f(e_1) - b" in repr(unshifted)
    wrong_b = check_affine_from_points(W2_RIGHT, [0.0, 0.0])
    assert not wrong_b and "b = f(e_1) + f(e_2) - f(1, 1)" in repr(wrong_b)
    assert not check_affine_from_points(np.eye(2), [0.0, 0.0])


@pytest.mark.parametrize("answer", GARBAGE + [np.eye(3)], ids=GARBAGE_IDS + ["3x3"])
def test_affine_from_points_gives_a_verdict_on_garbage(answer):
    assert not check_affine_from_points(answer, B2_RIGHT)
    assert not check_affine_from_points(W2_RIGHT, answer)


# ------------------------------------------------------------------ exercise 3


def test_rotation_path_accepts_the_lowest_point():
    # det((1 - t) I + t R) = (1 - t)^2 + t^2: lowest at t = 1/2, where it is 1/2.
    assert check_rotation_path(0.5, 0.5)
    assert check_rotation_path(np.float32(0.5), "0.5")


def test_rotation_path_rejects_typical_slips_with_a_hint():
    zero = check_rotation_path(0.5, 0.0)  # "it must flatten on the way"
    assert not zero and "never reaches 0" in repr(zero)
    det_wrong = check_rotation_path(0.5, 0.25)  # cos(45°)^2 or so
    assert not det_wrong and "t = 0.5 is right" in repr(det_wrong)
    assert not check_rotation_path(1.0, 1.0)  # an end point, not the lowest point
    assert not check_rotation_path(0.25, 0.5)


@pytest.mark.parametrize(
    "answer",
    [None, "x", [1, 2], float("nan"), object()],
    ids=["none", "string", "list", "nan", "object"],
)
def test_rotation_path_gives_a_verdict_on_garbage(answer):
    assert not check_rotation_path(answer, 0.5)
    assert not check_rotation_path(0.5, answer)


# ------------------------------------------------------------------ exercise 4


def _right_composition():
    W1, b1, W2, b2 = (EXERCISE4[k] for k in ("W1", "b1", "W2", "b2"))
    return W2 @ W1, W2 @ b1 + b2


def test_composition_accepts_w2w1_and_w2b1_plus_b2():
    W, b = _right_composition()
    assert np.allclose(W, [[3.0, -1.0], [4.0, -1.0]]) and np.allclose(b, [1.0, 0.0])
    assert check_composition(W, b)


def test_composition_rejects_typical_slips_with_a_hint():
    W1, b1, W2, b2 = (EXERCISE4[k] for k in ("W1", "b1", "W2", "b2"))
    W, b = _right_composition()
    wrong_order = check_composition(W1 @ W2, b)
    assert not wrong_order and "wrong order" in repr(wrong_order)
    no_b2 = check_composition(W, W2 @ b1)
    assert not no_b2 and "b2" in repr(no_b2)
    only_b2 = check_composition(W, b2)
    assert not only_b2 and "W2 b1 + b2" in repr(only_b2)
    transposed = check_composition(W.T, b)
    assert not transposed and "transposed" in repr(transposed)
    assert not check_composition(np.eye(2), b)


@pytest.mark.parametrize("answer", GARBAGE, ids=GARBAGE_IDS)
def test_composition_gives_a_verdict_on_garbage(answer):
    W, b = _right_composition()
    assert not check_composition(answer, b)
    assert not check_composition(W, answer)
