"""The kernel-free widget pattern: frames, nesting and the client-side links."""

import ipywidgets as widgets
import numpy as np
import pytest

from lalib.display.figures import figure_png, new_figure
from lalib.display.players import precomputed_player


def _render(a, b):
    fig, ax = new_figure(figsize=(1, 1))
    ax.plot([0, 1], [a, b])
    return fig


def test_every_combination_is_rendered_once():
    calls = []

    def render(a, b):
        calls.append((a, b))
        return _render(a, b)

    player = precomputed_player(
        render, {"a": {"0": 0, "1": 1}, "b": {"x": 2, "y": 3, "z": 4}}
    )
    assert sorted(calls) == sorted((a, b) for a in (0, 1) for b in (2, 3, 4))
    assert set(player.frames) == {(a, b) for a in "01" for b in "xyz"}
    assert all(png.startswith(b"\x89PNG") for png in player.frames.values())


def test_nested_stacks_and_links_select_the_right_frame():
    player = precomputed_player(
        _render, {"a": {"0": 0, "1": 1}, "b": {"x": 2, "y": 3}}, play="b"
    )
    slider_a = player.children[0]
    play_box = player.children[1]
    play, slider_b = play_box.children
    outer = player.children[2]
    assert isinstance(play, widgets.Play) and play.max == 1
    assert isinstance(outer, widgets.Stack) and len(outer.children) == 2
    # Every inner Stack is linked to slider b, the outer one to slider a, Play to b.
    pairs = {
        (id(lk.source[0]), lk.source[1], id(lk.target[0]), lk.target[1])
        for lk in player.links
    }
    assert (id(slider_a), "index", id(outer), "selected_index") in pairs
    for inner in outer.children:
        assert (id(slider_b), "index", id(inner), "selected_index") in pairs
    assert (id(play), "value", id(slider_b), "index") in pairs
    assert len(player.links) == 1 + 1 + len(outer.children)
    # The leaf at [i][j] holds the frame of (a_i, b_j).
    assert outer.children[1].children[0].value == player.frames[("1", "x")]
    # (The links themselves run in the browser; tests/browser drives them there.)


def test_initial_labels_select_the_starting_frame():
    player = precomputed_player(
        _render,
        {"a": {"0": 0, "1": 1}, "b": {"x": 2, "y": 3}},
        play="b",
        initial={"a": "1", "b": "y"},
    )
    slider_a, play_box, outer = player.children
    play, slider_b = play_box.children
    assert slider_a.value == "1" and slider_b.value == "y" and play.value == 1
    assert outer.selected_index == 1
    assert all(inner.selected_index == 1 for inner in outer.children)


def test_bad_arguments():
    with pytest.raises(ValueError, match="at least one axis"):
        precomputed_player(_render, {})
    with pytest.raises(ValueError, match="play='c' is not one of the axes"):
        precomputed_player(_render, {"a": {"0": 0}, "b": {"0": 0}}, play="c")
    with pytest.raises(ValueError, match=r"initial\['a'\] = 'z' is not a label"):
        precomputed_player(_render, {"a": {"0": 0}}, initial={"a": "z"})
    with pytest.raises(ValueError, match="at least one value"):
        precomputed_player(_render, {"a": {}, "b": {"0": 0}})


def test_figure_png_is_deterministic():
    fig1, fig2 = _render(0, 1), _render(0, 1)
    assert figure_png(fig1) == figure_png(fig2)
    assert np.frombuffer(figure_png(_render(0, 2)), np.uint8).size > 0


def test_frames_are_palette_pngs_unless_asked_for_rgba():
    from io import BytesIO

    from PIL import Image

    assert Image.open(BytesIO(figure_png(_render(0, 1)))).mode == "P"
    assert Image.open(BytesIO(figure_png(_render(0, 1), colors=None))).mode == "RGBA"
