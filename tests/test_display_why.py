"""lalib.display.why: chapter 6's pictures draw the numbers they are given."""

import numpy as np

from lalib.display import why
from lalib.display.figures import new_figure


def test_plot_affine_pieces_marks_the_kinks_and_draws_the_slope():
    x = np.linspace(-1, 1, 201)  # (201,)
    y = np.abs(x)  # two affine pieces, one kink at 0
    slope = np.sign(x)  # (201,)
    fig, axes = new_figure(figsize=(4, 4), nrows=2, sharex=True)
    why.plot_affine_pieces(
        axes, x, {"line": x, "abs": y}, slope, np.array([0.0]), title="t"
    )
    top, bottom = axes
    labels = [ln.get_label() for ln in top.lines]
    assert labels == ["line", "abs", "1 kinks"]
    kink = top.lines[-1]
    assert np.allclose(kink.get_xdata(), [0.0]) and np.allclose(kink.get_ydata(), [0.0])
    assert kink.get_color() == top.lines[1].get_color()  # the curve it belongs to
    (steps,) = bottom.lines
    assert steps.get_drawstyle() == "steps-mid"
    assert np.array_equal(steps.get_ydata(), slope)
    assert top.get_title() == "t" and bottom.get_ylabel() == "slope"
    assert bottom.get_xlim() == (-1.0, 1.0)
