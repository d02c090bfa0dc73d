"""lalib.display.conv: the convolution player's frames are legible at page width."""

import io

import numpy as np
from PIL import Image

from lalib.display.conv import FILTERS, conv_step_figure, conv_step_player, conv_views


def test_step_figure_puts_small_panels_above_the_matrices():
    x = np.arange(25.0).reshape(5, 5)
    fig = conv_step_figure(conv_views(x, FILTERS["edge"]), 4)
    titles = {ax.get_title().split()[0]: ax for ax in fig.axes}  # first word
    top = [titles[t] for t in ("input", "filter", "output:")]
    bottom = [titles[t] for t in ("Toeplitz", "im2col")]
    lowest_top = min(ax.get_position().y0 for ax in top)
    assert all(ax.get_position().y1 < lowest_top for ax in bottom)
    assert min(t.get_fontsize() for ax in fig.axes for t in ax.texts) >= 7.5


def test_player_frames_are_drawn_at_100_dpi():
    x = np.arange(16.0).reshape(4, 4)
    player = conv_step_player(x, {"edge": FILTERS["edge"]})
    assert len(player.frames) == 4  # one per output pixel of the 2 x 2 output
    width, _ = Image.open(io.BytesIO(next(iter(player.frames.values())))).size
    assert width == 760  # figsize 7.6 in at 100 dpi
