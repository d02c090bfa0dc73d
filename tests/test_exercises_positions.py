"""lalib.exercises.positions: the checkers of the chapter "Position in attention"
accept the right answers, computed independently here, and explain the usual
wrong ones."""

import math

import numpy as np

from lalib.exercises.positions import (
    EXERCISE1,
    EXERCISE2,
    EXERCISE3,
    check_composed_rotation,
    check_preferred_offset,
    check_rotation_angle,
)


def test_check_rotation_angle():
    e = EXERCISE1
    right = e["position"] * e["base"] ** (-2 * e["pair"] / e["d"])
    assert check_rotation_angle(right)
    assert check_rotation_angle(round(right, 4))
    assert "degrees" in repr(check_rotation_angle(math.degrees(right)))
    assert "2i" in repr(check_rotation_angle(e["position"] * e["base"] ** (-0.25)))
    assert "multiply by m" in repr(check_rotation_angle(right / e["position"]))
    assert not check_rotation_angle(right * 2)
    assert not check_rotation_angle("0.05")
    assert not check_rotation_angle(math.nan)


def test_check_composed_rotation():
    m, n = EXERCISE2["m"], EXERCISE2["n"]
    assert check_composed_rotation(n - m)
    assert check_composed_rotation(np.int64(n - m))
    assert "R(n)^T R(m)" in repr(check_composed_rotation(m - n))
    assert "reverses" in repr(check_composed_rotation(m + n))
    assert not check_composed_rotation(n - m + 2 * math.pi)  # only pair 0 is periodic
    assert not check_composed_rotation(None)


def _rotate(x, p, base=10000.0):
    """x rotated by position p, pair by pair with complex numbers."""
    d = len(x)
    theta = base ** (-np.arange(0, d, 2) / d)
    z = (x[0::2] + 1j * x[1::2]) * np.exp(1j * p * theta)
    out = np.empty(d)
    out[0::2], out[1::2] = z.real, z.imag
    return out


def test_check_preferred_offset():
    q, k, n = EXERCISE3["q"], EXERCISE3["k"], EXERCISE3["n"]
    offsets = range(-(n - 1), n)
    # score of the query at position 0 or m against the key at m + o
    scores = [_rotate(q, max(0, -o)) @ _rotate(k, max(0, -o) + o) for o in offsets]
    best = list(offsets)[int(np.argmax(scores))]
    assert check_preferred_offset(best)
    assert "sign" in repr(check_preferred_offset(-best))
    assert not check_preferred_offset(best + 1)
    assert not check_preferred_offset([1, 2])
