"""Checkers for the exercises of the chapter "Position in attention".

Each checker takes the reader's answer and returns a `Check` (truthy when right, a
one-line verdict when shown). The right answers are computed here with
`lalib.positions`, never typed in.
"""

import math

import numpy as np

from lalib import positions
from lalib.exercises import Check, reader_number

# --------------------------------------------------------------------- exercise 1

#: Exercise 1: the angle of pair `pair` at position `position` (d and base as given).
EXERCISE1 = {"d": 8, "base": 10000.0, "pair": 2, "position": 5}


def _angle(pair):
    e = EXERCISE1
    return e["position"] * positions.rope_frequencies(e["d"], e["base"])[pair]


def check_rotation_angle(angle):
    """Exercise 1: the angle, in radians, by which RoPE turns pair `EXERCISE1["pair"]`
    (coordinates 2i and 2i + 1) of a vector at position `EXERCISE1["position"]`."""
    value = reader_number(angle)
    if value is None:
        return Check(False, "give the angle as one number, in radians")
    right = _angle(EXERCISE1["pair"])
    if math.isclose(value, right, rel_tol=1e-3):
        return Check(True, f"the angle is {right:.4g} rad (m * theta_i)")
    if math.isclose(value, math.degrees(right), rel_tol=1e-3):
        return Check(False, "that is the angle in degrees; RoPE works in radians")
    e = EXERCISE1
    column_as_i = e["position"] * e["base"] ** (-e["pair"] / e["d"])  # i, not 2i
    if math.isclose(value, column_as_i, rel_tol=1e-3):
        return Check(
            False, "pair i covers columns 2i and 2i + 1: theta_i = base**(-2i/d)"
        )
    if math.isclose(value, right / EXERCISE1["position"], rel_tol=1e-3):
        return Check(False, "that is theta_i, the angle per position: multiply by m")
    return Check(False, "the angle is m * theta_i with theta_i = base**(-2i/d)")


# --------------------------------------------------------------------- exercise 2

#: Exercise 2: which R(k) is R(m)^T R(n)? (width d)
EXERCISE2 = {"m": 3, "n": 7, "d": 8}


def check_composed_rotation(k):
    """Exercise 2: the k with ``R(m)^T R(n) == R(k)`` for `EXERCISE2`'s m and n."""
    value = reader_number(k)
    if value is None:
        return Check(False, "give k as one number")
    e = EXERCISE2
    product = positions.rope_matrix(e["m"], e["d"]).T @ positions.rope_matrix(
        e["n"], e["d"]
    )  # (d, d)
    if np.allclose(positions.rope_matrix(value, e["d"]), product, atol=1e-9):
        return Check(True, f"R({e['m']})^T R({e['n']}) = R({value:g}): R(n - m)")
    if math.isclose(value, e["m"] - e["n"]):
        return Check(False, "that is R(n)^T R(m); the transposed factor is R(m)")
    if math.isclose(value, e["m"] + e["n"]):
        return Check(False, "transposing a rotation reverses its angle: R(m)^T = R(-m)")
    return Check(False, "rotations add their angles, and R(m)^T = R(-m)")


# --------------------------------------------------------------------- exercise 3

#: Exercise 3: a query and a key (d = 8, default base) of a sequence of length n.
EXERCISE3 = {
    "q": np.array([1.0, 0.5, -0.8, 0.3, 0.6, -0.4, 0.9, 0.2]),
    "k": positions.rope_matrix(2, 8)
    @ np.array([1.0, 0.5, -0.8, 0.3, 0.6, -0.4, 0.9, 0.2]),
    "n": 7,
}


def _offset_scores():
    """Score of the query at position m against the key at n, by offset n - m."""
    e = EXERCISE3
    offsets = np.arange(-(e["n"] - 1), e["n"])  # (2n - 1,)
    q_rot = positions.rope(np.tile(e["q"], (e["n"], 1)))  # (n, d): q at every position
    k_rot = positions.rope(np.tile(e["k"], (e["n"], 1)))  # (n, d)
    S = q_rot @ k_rot.T  # (n, n): S[m, n']
    return offsets, np.array([np.diagonal(S, o)[0] for o in offsets])


def check_preferred_offset(offset):
    """Exercise 3: the offset n - m (key position minus query position) at which the
    score of `EXERCISE3`'s query and key, both placed at every position of a sequence
    of length n, is largest."""
    value = reader_number(offset)
    if value is None:
        return Check(False, "give the offset n - m as one integer")
    offsets, scores = _offset_scores()
    best = int(offsets[np.argmax(scores)])
    if value == best:
        where = "earlier" if best < 0 else "later"
        return Check(
            True,
            f"offset {best}: each query looks {abs(best)} positions {where} "
            f"(score {scores.max():.3f})",
        )
    if value == -best:
        return Check(
            False, "check the sign: the offset is key position - query position"
        )
    return Check(
        False, "place q and k at every position with rope, then read S[m, n] by n - m"
    )
