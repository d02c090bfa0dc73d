"""The frame player: frames, their alt texts, the controls' axes and the selection."""

import base64

import numpy as np
import pytest
import traitlets

from lalib.display.figures import figure_png, new_figure
from lalib.display.players import FramePlayer, precomputed_player


def _render(a, b=1):
    fig, ax = new_figure(figsize=(1, 1))
    ax.plot([0, 1], [a, b])
    return fig


AXES = {"a": {"0": 0, "1": 1}, "b": {"x": "two", "y": "three", "z": "four"}}


def test_every_combination_is_rendered_once_in_order():
    calls = []

    def render(a, b):
        calls.append((a, b))
        return _render(a, len(b))

    player = precomputed_player(render, AXES, alt=lambda a, b: f"a is {a}, b is {b}")
    assert calls == [(a, b) for a in (0, 1) for b in ("two", "three", "four")]
    assert list(player.frames) == [(a, b) for a in "01" for b in "xyz"]
    assert all(png.startswith(b"\x89PNG") for png in player.frames.values())
    # the synced images are the same PNGs, in the same order, as base64
    assert [base64.b64decode(s) for s in player.images] == list(player.frames.values())
    assert player.alts[4] == "a is 1, b is three"
    assert player.kind == "png" and player.charts == []


def test_frames_are_drawn_at_twice_their_css_width():
    player = precomputed_player(_render, {"a": {"0": 0}}, dpi=72)
    png = player.frames[("0",)]
    assert int.from_bytes(png[16:20], "big") == 144  # 1 inch at 2 x 72 dpi
    assert player.width == "72px"
    assert precomputed_player(_render, {"a": {"0": 0}}, width="50px").width == "50px"


def test_numeric_and_played_axes_are_ordered_others_categorical():
    player = precomputed_player(_render, AXES)
    assert [a["ordered"] for a in player.axes] == [True, False]
    player = precomputed_player(_render, AXES, play="b")
    assert [a["ordered"] for a in player.axes] == [True, True]
    assert player.play == "b"


def test_initial_labels_select_the_starting_frame():
    player = precomputed_player(
        _render, AXES, play="b", initial={"a": "1", "b": "y"}, alt=lambda a, b: b
    )
    assert player.index == [1, 1] and player.flat_index == 4
    assert player.selection == {"a": "1", "b": "y"}
    assert repr(player) == "FramePlayer of 6 frames, showing a = 1, b = y: three"


def test_the_selection_syncs_and_is_validated():
    player = precomputed_player(_render, AXES, alt=lambda a, b: f"{a} {b}")
    state = player.get_state()
    assert state["index"] == [0, 0] and len(state["images"]) == 6
    player.set_state({"index": [1, 2]})
    assert player.selection == {"a": "1", "b": "z"} and player.flat_index == 5
    with pytest.raises(ValueError, match=r"within sizes \[2, 3\], got \[2, 0\]"):
        player.index = [2, 0]
    with pytest.raises(ValueError, match="one position per axis"):
        player.index = [0]
    assert player.index == [1, 2]


def test_bad_arguments():
    with pytest.raises(ValueError, match="at least one axis"):
        precomputed_player(_render, {})
    with pytest.raises(ValueError, match="play='c' is not one of the axes"):
        precomputed_player(_render, {"a": {"0": 0}, "b": {"0": 0}}, play="c")
    with pytest.raises(ValueError, match=r"initial\['a'\] = 'z' is not a label"):
        precomputed_player(_render, {"a": {"0": 0}}, initial={"a": "z"})
    with pytest.raises(ValueError, match="at least one value"):
        precomputed_player(_render, {"a": {}, "b": {"0": 0}})
    axes = [{"name": "k", "labels": ["1", "2"]}]
    with pytest.raises(ValueError, match="2 combinations .* got 1 frames and 2 alt"):
        FramePlayer(axes=axes, alts=["one", "two"], charts=[{}])
    with pytest.raises(ValueError, match="either images .* or charts"):
        FramePlayer(axes=axes, alts=["one", "two"])
    with pytest.raises(ValueError, match="play='q' is not one of the axes"):
        FramePlayer(axes=axes, alts=["1", "2"], charts=[{}, {}], play="q")


def test_the_player_bundles_its_module_and_css():
    player = FramePlayer(
        axes=[{"name": "k", "labels": ["1"], "ordered": False}],
        alts=["one"],
        charts=[{"title": "t", "unit": "ms", "log_range": [1, 10], "bars": []}],
    )
    assert "function barChart" in player._esm and "export default" in player._esm
    assert ".la-bar-track" in player._css and ".la-explorable" in player._css
    assert player.label and player.kind == "bars"


def test_figure_png_is_deterministic():
    fig1, fig2 = _render(0, 1), _render(0, 1)
    assert figure_png(fig1) == figure_png(fig2)
    assert np.frombuffer(figure_png(_render(0, 2)), np.uint8).size > 0


def test_frames_are_palette_pngs_unless_asked_for_rgba():
    from io import BytesIO

    from PIL import Image

    assert Image.open(BytesIO(figure_png(_render(0, 1)))).mode == "P"
    assert Image.open(BytesIO(figure_png(_render(0, 1), colors=None))).mode == "RGBA"


def test_a_frame_kind_needs_its_kind_of_frames():
    axes = [{"name": "epoch", "labels": ["0"]}]
    chart = {"title": "after 0 epochs", "probs": [[0.1] * 10]}
    player = FramePlayer(axes=axes, alts=["a"], charts=[chart], kind="digits")
    assert player.kind == "digits" and player.shared == {}
    with pytest.raises(ValueError, match="kind='png' frames need images"):
        FramePlayer(axes=axes, alts=["a"], charts=[chart], kind="png")
    with pytest.raises(traitlets.TraitError):
        FramePlayer(axes=axes, alts=["a"], charts=[chart], kind="gif")
