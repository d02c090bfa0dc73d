"""Figure helpers shared by the chapters' pictures.

`new_figure` makes a figure outside pyplot's care and `figure_png` turns it into the
PNG bytes a player stores; `annotated_heatmap` draws a small matrix with its numbers
written in the cells (the picture chapters 2 and 3 draw again and again), with
`cell_grid` and `outline_cells` to frame it.
"""

import io

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle


def new_figure(figsize=(6, 3), **subplots_kw):
    """A figure outside pyplot's care, and its axes, for rendering a frame.

    pyplot would display every figure it made at the end of a notebook cell; a bare
    `Figure` is only ever turned into PNG bytes by `figure_png`.

    Returns
    -------
    fig : matplotlib.figure.Figure
    axes : Axes or ndarray of Axes
        As ``Figure.subplots(**subplots_kw)`` returns them.
    """
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(**subplots_kw)


def figure_png(fig, dpi=72, colors=128):
    """Render `fig` to PNG bytes and close it (frames must not pile up in pyplot).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    dpi : int
    colors : int or None
        Quantise to a palette of this many colours (median cut, no dithering, so the
        bytes are deterministic). Frames are stored in the notebook and the page, and
        a 128-colour palette PNG of a plot is about a third of the RGBA one with no
        visible difference; None keeps full RGBA.

    Returns
    -------
    bytes
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    if colors is None:
        return buf.getvalue()
    from PIL import Image  # Pillow comes with matplotlib

    buf.seek(0)
    image = Image.open(buf).convert("RGB")
    palette = image.quantize(
        colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    out = io.BytesIO()
    palette.save(out, format="png", optimize=True)
    return out.getvalue()


# ---------------------------------------------------------------- annotated matrices


def cell_label(v):
    """A short label for a cell value: integers without decimals, else one decimal.

    Examples
    --------
    >>> cell_label(3.0), cell_label(1 / 9)
    ('3', '0.1')
    """
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"


def contrast_ink(v, lo, hi):
    """Text colour readable on a cell of value `v` on a colour scale from `lo` to `hi`.

    A scale with ``lo < 0 < hi`` is taken to be diverging (dark at both ends);
    otherwise dark at the top.

    Examples
    --------
    >>> contrast_ink(0.9, 0, 1), contrast_ink(-0.9, -1, 1), contrast_ink(0.1, -1, 1)
    ('white', 'white', 'black')
    """
    if lo < 0 < hi:  # diverging map: dark at both ends
        return "white" if abs(v) > 0.6 * max(-lo, hi) else "black"
    return "white" if v > lo + 0.6 * (hi - lo) else "black"


def annotated_heatmap(
    ax,
    values,
    cmap,
    vmin,
    vmax,
    fmt=cell_label,
    fontsize=7,
    color="contrast",
    show=None,
    **imshow_kw,
):
    """A matrix as an image with (some of) its entries written in their cells.

    Parameters
    ----------
    ax : matplotlib Axes
    values : ndarray, shape (R, C)
        Drawn with ``ax.imshow``; NaN cells stay blank.
    cmap : str
    vmin, vmax : float
        The colour scale.
    fmt : callable or None
        ``fmt(value) -> str`` for the text of a cell; None writes no numbers.
    fontsize : float
    color : str or None
        ``"contrast"`` picks black or white per cell (`contrast_ink` on the colour
        scale); any other colour is used for every cell (None: matplotlib's default).
    show : ndarray of bool, shape (R, C), optional
        Write numbers only where True (default: in every cell).
    **imshow_kw
        Passed to ``ax.imshow`` (``aspect``, ``interpolation``, ...).

    Returns
    -------
    matplotlib.image.AxesImage
    """
    image = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, **imshow_kw)
    if fmt is None:
        return image
    for (r, c), v in np.ndenumerate(values):
        if show is not None and not show[r, c]:
            continue
        ink = contrast_ink(v, vmin, vmax) if color == "contrast" else color
        ax.text(c, r, fmt(v), ha="center", va="center", fontsize=fontsize, color=ink)
    return image


def cell_grid(ax, shape):
    """Thin cell borders on an imshow of `shape` ``(rows, cols)``, and no ticks."""
    rows, cols = shape
    ax.set_xticks(np.arange(-0.5, cols, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, rows, 1), minor=True)
    ax.grid(which="minor", color="0.85", lw=0.4)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)


def outline_cells(ax, row, col, height, width, colour="tab:orange", lw=2.0):
    """Outline cells ``[row, row + height) x [col, col + width)`` of an imshow."""
    ax.add_patch(
        Rectangle(
            (col - 0.5, row - 0.5),
            width,
            height,
            fill=False,
            edgecolor=colour,
            lw=lw,
            zorder=3,
        )
    )
