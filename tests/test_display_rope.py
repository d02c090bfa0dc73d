"""The RoPE explorer's Python side: traits, validation, and the numbers it states,
checked against `lalib.positions` (and against plain 2 x 2 rotations written here)."""

import numpy as np
import pytest
import traitlets

from lalib import positions
from lalib.display.explorable import bundle
from lalib.display.rope import (
    BASES,
    DEFAULT_K,
    DEFAULT_Q,
    MAX_POSITION,
    RopeExplorer,
)


def _turn(v, angle):
    """A 2-vector turned counter-clockwise by `angle`."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def test_defaults_and_bundle():
    ex = RopeExplorer()
    np.testing.assert_array_equal(ex.q, DEFAULT_Q)
    np.testing.assert_array_equal(ex.k, DEFAULT_K)
    assert (ex.m, ex.n, ex.pair, ex.base, ex.offset) == (3, 7, 0, 10000.0, 4)
    assert ex._esm == bundle("rope.js") and "la-rope" in ex._css
    assert "ropePairScores" in ex._esm and "export default" in ex._esm
    state = ex.get_state()
    assert state["q"] == DEFAULT_Q.tolist() and state["bases"] == list(BASES)
    assert (state["m"], state["n"], state["pair"]) == (3, 7, 0)


def test_rotated_pairs_turn_by_position_times_theta(rng):
    q, k = rng.standard_normal(8), rng.standard_normal(8)
    ex = RopeExplorer(q, k, m=5, n=12, base=100.0)
    theta = 100.0 ** (-np.arange(0, 8, 2) / 8)  # (4,)
    np.testing.assert_allclose(ex.frequencies(), theta, rtol=1e-15)
    qm, kn = ex.rotated()
    for i in range(4):
        np.testing.assert_allclose(
            qm[2 * i : 2 * i + 2], _turn(q[2 * i : 2 * i + 2], 5 * theta[i]), atol=1e-12
        )
        np.testing.assert_allclose(
            kn[2 * i : 2 * i + 2],
            _turn(k[2 * i : 2 * i + 2], 12 * theta[i]),
            atol=1e-12,
        )
    np.testing.assert_allclose(qm, positions.rope(q[None], np.array([5]), 100.0)[0])


def test_score_is_the_sum_of_the_pairs_and_depends_on_the_offset_alone(rng):
    q, k = rng.standard_normal(8), rng.standard_normal(8)
    ex = RopeExplorer(q, k, m=2, n=9)
    terms = ex.contributions()
    assert terms.shape == (4,)
    assert ex.score() == pytest.approx(terms.sum(), abs=1e-12)
    R = positions.rope_matrix(7, 8)  # R(m)^T R(n) = R(n - m)
    assert ex.score() == pytest.approx(q @ R @ k, abs=1e-12)
    before = (ex.score(), ex.pair_angles().copy(), terms.copy())
    ex.m, ex.n = 20, 27  # shift both by 18
    assert ex.score() == pytest.approx(before[0], abs=1e-12)
    np.testing.assert_allclose(ex.pair_angles(), before[1], atol=1e-9)
    np.testing.assert_allclose(ex.contributions(), before[2], atol=1e-12)
    ex.n = 26  # another offset: another score
    assert abs(ex.score() - before[0]) > 1e-3


def test_pair_angles_and_terms_agree(rng):
    q, k = rng.standard_normal(8), rng.standard_normal(8)
    ex = RopeExplorer(q, k, m=1, n=30, base=100.0)
    angles = ex.pair_angles()
    assert ((angles > -np.pi) & (angles <= np.pi)).all()
    qp, kp = q.reshape(4, 2), k.reshape(4, 2)
    norms = np.linalg.norm(qp, axis=1) * np.linalg.norm(kp, axis=1)
    # each term is |q_i| |k_i| cos(angle between the rotated pairs)
    np.testing.assert_allclose(ex.contributions(), norms * np.cos(angles), atol=1e-12)
    # the angle is the unrotated one plus (n - m) theta_i, modulo 2 pi
    start = np.arctan2(kp[:, 1], kp[:, 0]) - np.arctan2(qp[:, 1], qp[:, 0])
    turn = start + 29 * ex.frequencies() - angles
    np.testing.assert_allclose(np.exp(1j * turn), 1.0, atol=1e-9)


def test_scores_by_offset_cover_every_offset_and_match_the_widget(rng):
    ex = RopeExplorer()
    offsets, scores = ex.scores_by_offset()
    assert offsets.tolist() == list(range(-MAX_POSITION, MAX_POSITION + 1))
    for m, n in [(3, 7), (0, 0), (31, 0), (0, 31), (12, 5)]:
        ex.m, ex.n = m, n
        assert scores[n - m + MAX_POSITION] == pytest.approx(ex.score(), abs=1e-12)
    assert scores[MAX_POSITION] == pytest.approx(DEFAULT_Q @ DEFAULT_K)
    # the defaults are alike: the score peaks at offset 0
    assert np.argmax(scores) == MAX_POSITION


def test_setting_traits_from_python_resyncs():
    ex = RopeExplorer()
    ex.base = 100
    ex.pair = 3
    state = ex.get_state()
    assert (state["base"], state["pair"]) == (100.0, 3)
    ex.q = np.arange(8.0)
    assert ex.get_state()["q"] == list(range(8))
    with pytest.raises(ValueError, match="read-only"):
        ex.q[0] = 1.0


def test_describe_states_the_numbers():
    ex = RopeExplorer(m=3, n=7, pair=1)
    text = repr(ex)
    assert text.startswith("RopeExplorer: d = 8, base 10000; query at m = 3, key at n")
    assert "(offset 4)" in text and "pair 1 (theta = 0.1000)" in text
    assert f"{ex.pair_angles()[1]:.2f} rad" in text
    assert text.endswith(f"= {ex.score():.3f}")
    terms = " + ".join(f"{c:.3f}" for c in ex.contributions())
    assert terms in text


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"q": np.ones(7)}, r"q must have shape \(8,\), got \(7,\)"),
        ({"k": np.ones((2, 4))}, r"k must have shape \(8,\), got \(2, 4\)"),
        ({"q": [1.0, np.nan, 0, 0, 0, 0, 0, 0]}, "q must be finite"),
        ({"m": 32}, r"m must be a position 0..31, got 32"),
        ({"n": -1}, r"n must be a position 0..31, got -1"),
        ({"pair": 4}, r"pair must be 0..3 \(d = 8\), got 4"),
        ({"base": 50.0}, r"base must be 10000 or 100, got 50.0"),
    ],
)
def test_refuses_what_it_cannot_draw(kwargs, message):
    with pytest.raises((ValueError, traitlets.TraitError), match=message):
        RopeExplorer(**kwargs)


def test_refuses_bad_values_set_later():
    ex = RopeExplorer()
    with pytest.raises((ValueError, traitlets.TraitError), match="got 40"):
        ex.n = 40
    assert ex.n == 7
