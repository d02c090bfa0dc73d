"""lalib.display.figures: the annotated matrices the chapters' pictures share."""

import matplotlib.colors
import numpy as np

from lalib.display import figures
from lalib.display.figures import new_figure


def _texts(ax):
    """``{(row, col): (text, colour)}`` of the numbers written on `ax`."""
    return {
        (round(t.get_position()[1]), round(t.get_position()[0])): (
            t.get_text(),
            matplotlib.colors.to_hex(t.get_color()),
        )
        for t in ax.texts
    }


def test_annotated_heatmap_writes_every_cell_with_contrasting_ink():
    fig, ax = new_figure(figsize=(2, 2))
    values = np.array([[0.0, 1.0], [-4.0, 2.25]])  # (2, 2)
    image = figures.annotated_heatmap(ax, values, "RdBu_r", -4, 4)
    assert image.get_cmap().name == "RdBu_r" and image.get_clim() == (-4, 4)
    white, black = "#ffffff", "#000000"
    assert _texts(ax) == {
        (0, 0): ("0", black),
        (0, 1): ("1", black),
        (1, 0): ("-4", white),  # |v| > 0.6 * 4 on a diverging scale
        (1, 1): ("2.2", black),  # 2.25 <= 2.4
    }


def test_annotated_heatmap_show_fmt_and_fixed_colour():
    fig, ax = new_figure(figsize=(2, 2))
    values = np.arange(6.0).reshape(2, 3)
    show = np.array([[True, False, False], [False, False, True]])
    figures.annotated_heatmap(
        ax,
        values,
        "Greys",
        0,
        5,
        fmt="{:.2f}".format,
        fontsize=9,
        color="tab:red",
        show=show,
    )
    red = matplotlib.colors.to_hex("tab:red")
    assert _texts(ax) == {(0, 0): ("0.00", red), (1, 2): ("5.00", red)}
    assert {t.get_fontsize() for t in ax.texts} == {9}
    fig, ax = new_figure(figsize=(2, 2))
    figures.annotated_heatmap(ax, values, "Greys", 0, 5, fmt=None)
    assert len(ax.texts) == 0 and len(ax.images) == 1


def test_contrast_ink_and_cell_label():
    assert figures.contrast_ink(0.61, 0, 1) == "white"
    assert figures.contrast_ink(0.6, 0, 1) == "black"
    assert figures.contrast_ink(-3.0, -4, 2) == "white"  # diverging: by |v| / max |end|
    assert figures.cell_label(-2.0) == "-2" and figures.cell_label(0.25) == "0.2"


def test_cell_grid_and_outline_cells():
    fig, ax = new_figure(figsize=(2, 2))
    ax.imshow(np.zeros((2, 3)))
    figures.cell_grid(ax, (2, 3))
    figures.outline_cells(ax, 1, 0, 1, 3)
    assert list(ax.get_xticks(minor=True)) == [-0.5, 0.5, 1.5, 2.5]
    (box,) = ax.patches
    assert box.get_xy() == (-0.5, 0.5) and (box.get_width(), box.get_height()) == (3, 1)
