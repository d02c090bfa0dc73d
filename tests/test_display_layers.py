"""lalib.display.layers: the pictures of chapters 4 and 5 are legible and to scale."""

import itertools

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.patches import Rectangle

from lalib.display import layers


def _text_boxes(fig):
    """Window extents of every non-empty text of `fig` (figure texts and axes texts)."""
    canvas = FigureCanvasAgg(fig)  # a bare Figure has no canvas that draws
    canvas.draw()  # applies the equal aspect, which moves the texts
    renderer = canvas.get_renderer()
    texts = list(fig.texts)
    for ax in fig.axes:
        texts += ax.texts + [ax.title]
        if ax.axison:  # an axes turned off draws no tick labels
            texts += ax.get_xticklabels() + ax.get_yticklabels()
    return [
        (t.get_text(), t.get_window_extent(renderer))
        for t in texts
        if t.get_visible() and t.get_text().strip()
    ]


def _overlaps(fig):
    boxes = _text_boxes(fig)
    return [
        (a, b)
        for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2)
        if box_a.overlaps(box_b)
    ]


@pytest.mark.parametrize("n, d, m", [(4, 3, 3), (1, 1, 1), (4, 3, 2), (2, 1, 3)])
def test_layer_shapes_figure_has_no_overlapping_text(n, d, m):
    fig = layers.layer_shapes_figure(n, d, m, limits=(4, 3, 3))
    assert _overlaps(fig) == []
    # every text stays inside the figure
    width, height = fig.canvas.get_width_height()
    for text, box in _text_boxes(fig):
        assert box.x0 >= 0 and box.y0 >= 0, text
        assert box.x1 <= width and box.y1 <= height, text


def test_layer_shapes_frames_share_one_size_and_fit_a_phone():
    sizes = {
        tuple(layers.layer_shapes_figure(n, d, m, limits=(4, 3, 3)).get_size_inches())
        for n, d, m in [(1, 1, 1), (4, 3, 3), (2, 3, 1)]
    }
    assert len(sizes) == 1  # frames of a player line up
    ((width, _),) = sizes
    # at the player's 80 dpi the frame is at most 390 px wide, so a phone shows it
    # unscaled and 11-point text stays about 12 px tall
    assert width * 80 <= 390


def test_layer_shapes_are_drawn_to_scale():
    fig = layers.layer_shapes_figure(4, 3, 2)
    ax = fig.axes[0]
    sizes = sorted(
        (p.get_height(), p.get_width()) for p in ax.patches if isinstance(p, Rectangle)
    )
    # x, W, b, out; x.T, g, grad_weights; g, W.T, grad_input; g, grad_bias
    expected = [(4, 3), (3, 2), (1, 2), (4, 2)]
    expected += [(3, 4), (4, 2), (3, 2), (4, 2), (2, 3), (4, 3), (4, 2), (1, 2)]
    assert sizes == sorted(expected)
    headings = [t.get_text() for t in ax.texts if t.get_fontweight() == "bold"]
    assert headings == [
        "forward:  out = x @ W + b",
        "grad_weights = x.T @ g  (shape of W)",
        "grad_input = g @ W.T  (shape of x)",
        "grad_bias = g.sum(axis=0)  (shape of b)",
    ]


def test_layer_shapes_player_opens_on_the_requested_sizes():
    player = layers.layer_shapes_player(
        d_sizes=(1, 3), m_sizes=(2,), n_sizes=(1, 4), start=dict(D=3, N=4)
    )
    sliders = [c if hasattr(c, "index") else c.children[1] for c in player.children[:3]]
    assert [s.value for s in sliders] == ["3", "2", "4"]
    assert len(player.frames) == 4
    with pytest.raises(ValueError):
        layers.layer_shapes_player(d_sizes=(1, 2), start=dict(D=5))


def test_training_figure_is_legible():
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(5, 64))
    probs = rng.dirichlet(np.ones(10), size=5)
    fig = layers.training_figure(images, np.arange(5), probs, 3, 0.9)
    assert _overlaps(fig) == []
    bars = fig.axes[5:]  # the second row: one bar chart per digit
    # the probability scale is labelled once, on the first chart of the row
    labelled = [[t.get_text() for t in ax.get_yticklabels()] for ax in bars]
    assert labelled[0] == ["0.0", "0.5", "1.0"]
    assert all(not any(label for label in labels) for labels in labelled[1:])
    sizes = {t.get_fontsize() for ax in bars for t in ax.get_xticklabels()}
    assert min(sizes) >= 9


def test_training_player_shows_frames_at_their_own_size():
    rng = np.random.default_rng(1)
    images = rng.uniform(size=(5, 64))
    snapshots = {e: (rng.dirichlet(np.ones(10), size=5), 0.5) for e in (0, 1)}
    player = layers.training_player(snapshots, images, np.arange(5), dpi=80)
    frame = next(iter(player.frames.values()))
    width = int.from_bytes(frame[16:20], "big")  # the PNG header's width
    image = player.children[-1].children[0]  # the first frame's Image widget
    assert image.layout.width == f"{width}px"
