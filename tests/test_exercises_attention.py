"""lalib.exercises.attention: the checkers of chapter 3 (attention)."""

import math

import numpy as np


def test_check_weights_by_hand():
    from lalib.exercises.attention import EXERCISE1, check_weights_by_hand

    s = (EXERCISE1["q"] @ EXERCISE1["K"].T)[0] / math.sqrt(2)
    w = np.exp(s) / np.exp(s).sum()
    out = float(w @ EXERCISE1["V"][:, 0])
    assert check_weights_by_hand(w, out)
    assert check_weights_by_hand(np.round(w, 2), round(out, 2))
    unscaled = np.exp(s * math.sqrt(2)) / np.exp(s * math.sqrt(2)).sum()
    assert "without the 1/sqrt" in repr(check_weights_by_hand(unscaled, out))
    assert not check_weights_by_hand(w, out + 1)
    assert not check_weights_by_hand([1 / 3, 1 / 3, 1 / 3], out)
    assert not check_weights_by_hand(w[:2], out)


def test_check_padding_mask():
    from lalib.exercises.attention import check_padding_mask

    def right(lengths, n):
        return np.arange(n)[None, None, :] < np.asarray(lengths)[:, None, None]

    assert check_padding_mask(right)
    assert not check_padding_mask(
        lambda lengths, n: right(lengths, n)[:, 0]
    )  # (N, n): wrong shape
    assert not check_padding_mask(
        lambda lengths, n: right(lengths, n).astype(int)
    )  # not boolean
    assert not check_padding_mask(
        lambda lengths, n: (
            np.arange(n)[None, None, :] <= np.asarray(lengths)[:, None, None]
        )
    )
    assert "raised" in repr(check_padding_mask(lambda lengths, n: 1 / 0))


def test_check_merge():
    from lalib.exercises.attention import check_merge

    def right(m1, l1, A1, m2, l2, A2):
        m = np.maximum(m1, m2)
        a1, a2 = np.exp(m1 - m), np.exp(m2 - m)
        return m, a1 * l1 + a2 * l2, a1 * A1 + a2 * A2

    def no_rescale(m1, l1, A1, m2, l2, A2):
        return np.maximum(m1, m2), l1 + l2, A1 + A2

    def normalised_only(
        m1, l1, A1, m2, l2, A2
    ):  # right ratio A / l, but relative to m = 0
        m, l, A = right(m1, l1, A1, m2, l2, A2)
        return m, l * np.exp(m), A * np.exp(m)

    assert check_merge(right)
    assert not check_merge(no_rescale)
    assert "relative to the new" in repr(check_merge(normalised_only))
    assert "maximum" in repr(check_merge(lambda *a: (a[0], *right(*a)[1:])))


def test_check_weights_by_hand_hints_and_garbage():
    from lalib.exercises.attention import check_weights_by_hand

    starter = check_weights_by_hand([0.0, 0.0, 0.0], 0.0)  # the starter cell's answer
    assert not starter and "sum to 1" in repr(starter)
    assert "scores are q.k" in repr(check_weights_by_hand([0.5, 0.25, 0.25], 20.0))
    for weights, output in [
        ("abc", 1.0),
        (None, None),
        ([0.4, 0.2, 0.4], "x"),
        ([0.4, 0.2, 0.4], [1.0, 2.0]),
        ([np.nan, 0.5, 0.5], 1.0),
        ([[0.4, 0.2], [0.4, 0.0]], 1.0),
    ]:
        verdict = check_weights_by_hand(weights, output)
        assert not verdict and repr(verdict).startswith("Not yet: ")


def test_check_padding_mask_starter_and_garbage():
    from lalib.exercises.attention import check_padding_mask

    def starter(lengths, n):  # the starter cell: every key counts as real
        return np.ones((len(lengths), 1, n), dtype=bool)

    verdict = check_padding_mask(starter)
    assert not verdict and "j < lengths[b]" in repr(verdict)
    for fn in [None, lambda lengths, n: None, lambda lengths, n: "mask"]:
        verdict = check_padding_mask(fn)
        assert not verdict and repr(verdict).startswith("Not yet: ")


def test_check_merge_starter_and_garbage():
    from lalib.exercises.attention import check_merge

    verdict = check_merge(lambda m1, l1, A1, m2, l2, A2: (m1, l1, A1))  # the starter
    assert not verdict and "np.maximum(m1, m2)" in repr(verdict)
    for fn in [
        None,
        lambda *a: None,
        lambda *a: a[:2],
        lambda *a: ("m", "l", "A"),
        lambda *a: (a[0], a[1], [[1.0], [2.0, 3.0]]),
    ]:
        verdict = check_merge(fn)
        assert not verdict and repr(verdict).startswith("Not yet: ")
