"""lalib.display.attention: the memory plot of chapter 3 labels what was measured, and
the chapter's two explorables hold, validate and sync their inputs."""

import math
import re

import numpy as np
import pytest

from lalib import attention
from lalib.display.attention import (
    AttentionPlaneExplorer,
    SentenceAttentionExplorer,
    plot_memory,
)
from lalib.display.explorable import JS_DIR, bundle
from lalib.display.figures import new_figure

Q2 = np.array([[2.0, 0.5], [-0.5, 1.5], [-1.0, -1.0]])  # (n_q, d_k)
K2 = np.array([[2.0, 0.0], [0.0, 2.0], [-1.5, 1.0]])  # (n_k, d_k)
V2 = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])  # (n_k, d_v)
TOKENS = ["the", "cat", "sat"]
SCALES = [("0", 0.0), ("1/√d_k", 1 / math.sqrt(2)), ("4/√d_k", 4 / math.sqrt(2))]


def test_plot_memory_labels_each_n_once_without_collisions():
    ns = [512, 1024, 2048, 4096]
    fig, ax = new_figure(figsize=(5, 3.2))
    plot_memory(ax, ns, [1.3, 4.5, 17.0, 66.0], [0.8, 0.9, 1.2, 1.7])
    fig.canvas.draw()
    labels = [t for t in ax.get_xticklabels() if t.get_text()]
    assert [t.get_text() for t in labels] == ["512", "1024", "2048", "4096"]
    assert not ax.xaxis.get_minorticklocs().size
    boxes = [t.get_window_extent() for t in labels]
    assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:], strict=False))
    y = [float(t.get_text()) for t in ax.get_yticklabels() if t.get_text()]
    assert y == [2.0**k for k in range(-1, 8)]  # powers of 2 MiB around 0.8 .. 66
    dense, blockwise = (line.get_ydata() for line in ax.get_lines()[:2])
    assert np.array_equal(dense, [1.3, 4.5, 17.0, 66.0])
    assert np.array_equal(blockwise, [0.8, 0.9, 1.2, 1.7])


# ------------------------------------------------------------------ the plane explorer


def test_plane_defaults_and_results_are_lalibs():
    ex = AttentionPlaneExplorer(Q2, K2, V2)
    assert ex.scale == pytest.approx(1 / math.sqrt(2)) and ex.causal is False
    assert ex.Q.dtype == np.float64 and np.array_equal(ex.Q, Q2)
    for causal in (False, True):
        ex.causal = causal
        out, cache = attention.attention_forward(Q2, K2, V2, causal=causal)
        np.testing.assert_allclose(ex.weights, cache[3])
        np.testing.assert_allclose(ex.out, out)


def test_plane_describe_names_the_strongest_key_of_each_query():
    ex = AttentionPlaneExplorer(Q2, K2, V2)
    assert (
        repr(ex)
        == ex.describe()
        == (
            "Attention in the plane: 3 queries, 3 keys, d_v = 2, scale 0.707, no mask. "
            "q1 attends most to k1 (0.88); q2 attends most to k2 (0.61); "
            "q3 attends most to k3 (0.75)."
        )
    )
    one = AttentionPlaneExplorer(Q2[:1], K2, V2, scale=0.0, causal=True)
    # one query aligned with the last key sees all three keys: uniform weights
    assert one.describe().endswith(
        "1 query, 3 keys, d_v = 2, scale 0.000, "
        "causal mask. q1 attends most to k1 (0.33)."
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"Q": np.ones((3, 3))}, r"Q must have shape \(n, 2\), got \(3, 3\)"),
        ({"K": np.ones(2)}, r"K must have shape \(n, 2\), got \(2,\)"),
        ({"V": np.ones((2, 2))}, r"K has shape \(3, 2\), V \(2, 2\)"),
        ({"scale": -1.0}, "scale must be a finite number >= 0, got -1.0"),
        ({"Q": [[np.nan, 0.0]]}, "Q must be finite"),
    ],
)
def test_plane_validation_names_the_shapes(kwargs, message):
    args = {"Q": Q2, "K": K2, "V": V2, **kwargs}
    with pytest.raises(ValueError, match=message):
        AttentionPlaneExplorer(**args)


def test_plane_n_k_changes_when_k_and_v_change_together():
    ex = AttentionPlaneExplorer(Q2, K2, V2)
    with pytest.raises(ValueError, match="one row per key"):
        ex.K = K2[:2]
    assert ex.K.shape == (3, 2)
    with ex.hold_trait_notifications():
        ex.K, ex.V = K2[:2], V2[:2]
    assert ex.weights.shape == (3, 2) and ex.out.shape == (3, 2)


def test_plane_arrays_are_read_only():
    ex = AttentionPlaneExplorer(Q2, K2, V2)
    with pytest.raises(ValueError, match="read-only"):
        ex.Q[0, 0] = 5.0


def test_plane_state_round_trip():
    ex = AttentionPlaneExplorer(Q2, K2, V2)
    state = ex.get_state()
    assert state["Q"] == Q2.tolist()
    assert state["causal"] is False
    # what the browser sends after a drag of q1 and a press of the mask button
    ex.set_state({"Q": [[1.0, 1.0], [-0.5, 1.5], [-1.0, -1.0]], "causal": True})
    assert np.array_equal(ex.Q[0], [1.0, 1.0]) and ex.causal is True
    _, cache = attention.attention_forward(ex.Q, K2, V2, causal=True)
    np.testing.assert_allclose(ex.weights, cache[3])
    ex.set_state({"scale": 0.0})
    np.testing.assert_allclose(ex.weights[2], [1 / 3] * 3)


def test_bundles_contain_the_modules_and_the_css():
    plane, sentence = AttentionPlaneExplorer._esm, SentenceAttentionExplorer._esm
    assert plane == bundle("attention.js")
    assert sentence == bundle("attention_sentence.js")
    assert "function renderPlane(" in plane and "renderSentence" not in plane
    assert "function renderSentence(" in sentence and "renderPlane" not in sentence
    assert "export function attention(" in plane and "export function h(" in plane
    for esm in (plane, sentence):
        assert "</" not in esm  # the module is embedded in a <script> of the page
        assert '"http://www.w3.org/2000/svg"' in esm  # a // in a string stays
        # No comment lines (but the bundler's "// file.js" markers), no indentation.
        assert not re.search(r"^\s*//(?! [\w.]+\.js$)|^\s*/\*|^[ \t]", esm, re.M)
    css = (JS_DIR / "attention.css").read_text(encoding="utf-8")
    assert AttentionPlaneExplorer._css.endswith(css)
    assert SentenceAttentionExplorer._css.endswith(css)


# --------------------------------------------------------------- the sentence explorer


def _sentence(**kwargs):
    args = {"Q": Q2, "K": K2, "tokens": TOKENS, "scales": SCALES, **kwargs}
    return SentenceAttentionExplorer(**args)


def test_sentence_defaults_and_results_are_lalibs():
    ex = _sentence()
    assert ex.scale == 0.0 and ex.causal is False and ex.query == 0
    assert ex.scales == [[label, value] for label, value in SCALES]
    np.testing.assert_allclose(ex.weights, 1 / 3)
    np.testing.assert_allclose(ex.entropy, math.log(3))
    ex.scale, ex.causal = SCALES[2][1], True
    _, cache = attention.attention_forward(
        Q2, K2, np.zeros((3, 1)), scale=SCALES[2][1], causal=True
    )
    np.testing.assert_allclose(ex.weights, cache[3])
    P = cache[3]
    expected = -np.sum(np.where(P > 0, P * np.log(np.where(P > 0, P, 1)), 0), axis=1)
    np.testing.assert_allclose(ex.entropy, expected)


def test_sentence_describe():
    ex = _sentence(scale=SCALES[1][1], query=1)
    _, cache = attention.attention_forward(Q2, K2, np.zeros((3, 1)))
    P = cache[3]  # (3, 3); row 1 ("cat") puts most on key 1
    assert P[1].argmax() == 1
    H = -np.sum(P * np.log(P), axis=1).mean()
    assert repr(ex) == (
        "Attention weights of 'the cat sat', scale 1/√d_k, no mask: "
        f'"cat" attends most to "cat" ({P[1, 1]:.2f}); mean row entropy {H:.2f} nats.'
    )
    ex.scale = 0.3
    assert "scale 0.300" in ex.describe()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"K": np.ones((2, 2))}, r"same shape \(n, d_k\), got \(3, 2\) and \(2, 2\)"),
        ({"tokens": ["a"]}, "3 rows of Q need 3 tokens, got 1"),
        ({"scales": []}, "at least one"),
        ({"scales": [("neg", -1.0)]}, "must be >= 0"),
        ({"query": 3}, r"query must be in 0..2, got 3"),
        ({"Q": np.ones(3)}, r"Q must have shape \(n, n\), got \(3,\)"),
    ],
)
def test_sentence_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _sentence(**kwargs)


def test_sentence_state_round_trip():
    ex = _sentence()
    state = ex.get_state()
    assert state["tokens"] == TOKENS
    assert state["scales"][1] == ["1/√d_k", 1 / math.sqrt(2)]
    ex.set_state({"scale": SCALES[2][1], "causal": True, "query": 2})
    assert (ex.scale, ex.causal, ex.query) == (SCALES[2][1], True, 2)
    assert "causal mask" in ex.describe()
