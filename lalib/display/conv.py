"""Pictures of one convolution seen three ways: window, Toeplitz row, im2col column.

Display code only (matplotlib, ipywidgets); every number drawn comes from `lalib.conv`.
The pure plotting functions take an Axes (or a few); the widget builders call them.
"""

from collections import namedtuple

import numpy as np

from lalib import conv
from lalib.display.figures import (
    annotated_heatmap,
    cell_grid,
    cell_label,
    figure_png,
    outline_cells,
)
from lalib.display.players import precomputed_player

#: Classic 3x3 filters, as (KH, KW) arrays. Cross-correlation: not flipped.
FILTERS = {
    "edge": np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]),  # Sobel x
    "blur": np.full((3, 3), 1.0 / 9.0),  # box filter: the mean of the window
    "sharpen": np.array([[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]]),
}

ConvViews = namedtuple("ConvViews", "x w stride padding xp T cols out")
ConvViews.__doc__ = """One single-channel convolution and its three matrix views.

x (H, W), w (KH, KW), xp the padded input, T the Toeplitz matrix (H'W', HW),
cols the im2col matrix (KH KW, H'W'), out (H', W'); all computed by `lalib.conv`."""


def conv_views(x, w, stride=1, padding=0):
    """Compute the three views of ``conv2d(x, w)`` for one single-channel image.

    Parameters
    ----------
    x : ndarray, shape (H, W)
    w : ndarray, shape (KH, KW)
    stride, padding : int

    Returns
    -------
    ConvViews
    """
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    x4, w4 = x[None, None], w[None, None]  # (1, 1, H, W), (1, 1, KH, KW)
    return ConvViews(
        x=x,
        w=w,
        stride=stride,
        padding=padding,
        xp=np.pad(x, padding),  # (H + 2p, W + 2p)
        T=conv.toeplitz_matrix(w4, (1, *x.shape), stride, padding),  # (H'W', HW)
        cols=conv.im2col(x4, w.shape, stride, padding)[0],  # (KH KW, H'W')
        out=conv.conv2d(x4, w4, None, stride, padding)[0, 0],  # (H', W')
    )


def plot_conv_step(axes, views, position):
    """Draw output pixel `position` being computed, in all three views at once.

    Parameters
    ----------
    axes : sequence of 5 Axes
        Input (with the window), filter, Toeplitz matrix (with the row), im2col matrix
        (with the column), output (filled in up to this pixel).
    views : ConvViews
        From `conv_views`.
    position : int
        Output pixel in row-major order, ``i * W' + j``.

    Returns
    -------
    value : float
        The output pixel just computed (the number the title shows).
    """
    ax_in, ax_w, ax_T, ax_cols, ax_out = axes
    Ho, Wo = views.out.shape
    KH, KW = views.w.shape
    i, j = divmod(int(position), Wo)
    p, s, pad = i * Wo + j, views.stride, views.padding
    value = views.out[i, j]
    lim = max(float(np.abs(views.x).max()), 1e-12)
    grey = {"cmap": "Greys", "vmin": -0.15 * lim, "vmax": 1.6 * lim}  # pixels

    # Input, padded; the padding ring is shown hatched so its zeros are visibly "not x".
    Hp, Wp = views.xp.shape
    annotated_heatmap(ax_in, views.xp, **grey, fontsize=8)
    if pad:
        mask = np.ones((Hp, Wp), bool)
        mask[pad : Hp - pad, pad : Wp - pad] = False
        ax_in.imshow(
            np.where(mask, 1.0, np.nan), cmap="Blues", vmin=0, vmax=4, alpha=0.6
        )
    cell_grid(ax_in, (Hp, Wp))
    outline_cells(ax_in, i * s, j * s, KH, KW)
    ax_in.set_title(f"input x, window of out[{i}, {j}]", fontsize=9)

    # The filter, on the colour scale of the Toeplitz matrix it is spread into.
    wlim = max(float(np.abs(views.w).max()), 1e-12)
    annotated_heatmap(ax_w, views.w, "RdBu_r", -wlim, wlim, fontsize=8)
    cell_grid(ax_w, views.w.shape)
    ax_w.set_title("filter w", fontsize=9)

    # Toeplitz matrix: one row per output pixel, one column per input pixel.
    ax_T.imshow(
        views.T,
        cmap="RdBu_r",
        vmin=-wlim,
        vmax=wlim,
        aspect="auto",
        interpolation="nearest",
    )
    cell_grid(ax_T, views.T.shape)
    outline_cells(ax_T, p, 0, 1, views.T.shape[1])
    ax_T.set_title(f"Toeplitz T {views.T.shape}: row {p}", fontsize=9)
    ax_T.set_xlabel("input pixel (column of T)", fontsize=8)
    ax_T.set_ylabel("output pixel (row of T)", fontsize=8)

    # im2col: one column per output pixel, holding its window's pixels.
    column = np.arange(views.cols.shape[1]) == p  # (H'W',): numbers in column p only
    annotated_heatmap(
        ax_cols,
        views.cols,
        **grey,
        fontsize=7.5,
        show=np.broadcast_to(column, views.cols.shape),
        aspect="auto",
        interpolation="nearest",
    )
    cell_grid(ax_cols, views.cols.shape)
    outline_cells(ax_cols, 0, p, views.cols.shape[0], 1)
    ax_cols.set_title(f"im2col {views.cols.shape}: column {p}", fontsize=9)
    ax_cols.set_xlabel("output pixel", fontsize=8)
    ax_cols.set_ylabel("window entry", fontsize=8)

    # Output, filled in up to this pixel (row-major, the order the window slides).
    done = np.arange(Ho * Wo).reshape(Ho, Wo) <= p
    olim = max(float(np.abs(views.out).max()), 1e-12)
    annotated_heatmap(
        ax_out,
        np.where(done, views.out, np.nan),
        "RdBu_r",
        -olim,
        olim,
        show=done,
        fontsize=8,
    )
    cell_grid(ax_out, (Ho, Wo))
    outline_cells(ax_out, i, j, 1, 1)
    ax_out.set_title(f"output: out[{i}, {j}] = {cell_label(value)}", fontsize=9)
    return float(value)


def conv_step_figure(views, position, figsize=(7.6, 4.6)):
    """A figure with the five panels of `plot_conv_step` and the identity they show.

    Two rows, so that the text stays legible at the width of a book page: the input,
    the filter and the output above; the Toeplitz matrix and the im2col matrix below.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    grid = fig.add_gridspec(
        2, 6, height_ratios=[1.0, 1.15], width_ratios=[1, 1, 1, 1, 1, 1]
    )
    axes = [
        fig.add_subplot(grid[0, 0:2]),  # input
        fig.add_subplot(grid[0, 2:4]),  # filter
        fig.add_subplot(grid[0, 4:6]),  # output
        fig.add_subplot(grid[1, 0:4]),  # Toeplitz matrix
        fig.add_subplot(grid[1, 4:6]),  # im2col matrix
    ]
    ax_in, ax_w, ax_out, ax_T, ax_cols = axes
    value = plot_conv_step([ax_in, ax_w, ax_T, ax_cols, ax_out], views, position)
    fig.suptitle(
        f"T[{position}] · x  =  w · cols[:, {position}]  =  {cell_label(value)}",
        fontsize=10,
    )
    fig.subplots_adjust(
        left=0.04, right=0.99, bottom=0.08, top=0.88, wspace=0.5, hspace=0.35
    )
    return fig


def conv_step_player(x, filters, stride=1, padding=0, interval=700, dpi=100):
    """Play + slider over the output pixels, for each filter; works without a kernel.

    Parameters
    ----------
    x : ndarray, shape (H, W)
    filters : dict of str -> ndarray, shape (KH, KW)
    stride, padding : int
    interval : int
        Milliseconds per step when playing.
    dpi : int
        Resolution of the frames: 100 draws a 760-pixel-wide frame whose text is
        legible at the width of a book page.

    Returns
    -------
    ipywidgets.VBox
        From `lalib.display.players.precomputed_player`: a filter slider, then Play
        and a position slider, then the frame.
    """
    views = {name: conv_views(x, w, stride, padding) for name, w in filters.items()}
    Ho, Wo = next(iter(views.values())).out.shape

    def render(filter, position):
        return conv_step_figure(views[filter], position)

    positions = {f"({i}, {j})": i * Wo + j for i in range(Ho) for j in range(Wo)}
    return precomputed_player(
        render,
        {"filter": {name: name for name in filters}, "position": positions},
        play="position",
        interval=interval,
        dpi=dpi,
    )


def conv_explorer(x, filters, custom="0, 0, 0, 0, 1, 0, 0, 0, 0"):
    """Live-only explorer (needs a running kernel): filter, stride, padding, position.

    Parameters
    ----------
    x : ndarray, shape (H, W)
    filters : dict of str -> ndarray, shape (3, 3)
        Offered in a drop-down, plus "custom", read from a text box of 9 numbers.
    custom : str
        Initial content of the text box (the identity filter).

    Returns
    -------
    ipywidgets.VBox
        Controls and an Image redrawn by Python callbacks: in the static book it stays
        on its first frame.
    """
    import ipywidgets as widgets

    choice = widgets.Dropdown(options=[*filters, "custom"], description="filter")
    text = widgets.Text(
        value=custom, description="custom 3x3", layout=widgets.Layout(width="320px")
    )
    stride = widgets.IntSlider(value=1, min=1, max=3, description="stride")
    padding = widgets.IntSlider(value=0, min=0, max=2, description="padding")
    position = widgets.IntSlider(value=0, min=0, max=0, description="position")
    play = widgets.Play(value=0, min=0, max=0, interval=700, description="Play")
    widgets.jslink((play, "value"), (position, "value"))
    widgets.jslink((play, "max"), (position, "max"))
    image = widgets.Image(format="png")
    message = widgets.Label()

    def current_filter():
        if choice.value != "custom":
            return filters[choice.value]
        numbers = [float(t) for t in text.value.replace(",", " ").split()]
        if len(numbers) != 9:
            raise ValueError(f"type 9 numbers for a 3x3 filter, got {len(numbers)}")
        return np.array(numbers).reshape(3, 3)

    cache = {}

    def redraw(*_):
        try:
            key = (choice.value, text.value, stride.value, padding.value)
            if key not in cache:
                cache.clear()
                cache[key] = conv_views(
                    x, current_filter(), stride.value, padding.value
                )
            views = cache[key]
        except ValueError as exc:
            message.value = str(exc)
            return
        last = views.out.size - 1
        position.max = play.max = last
        message.value = (
            f"output {views.out.shape}, T {views.T.shape}, im2col {views.cols.shape}"
        )
        frame = conv_step_figure(views, min(position.value, last))
        image.value = figure_png(frame, dpi=100)

    for w in (choice, text, stride, padding, position):
        w.observe(redraw, names="value")
    redraw()
    return widgets.VBox(
        [
            widgets.HBox([choice, text]),
            widgets.HBox([stride, padding]),
            widgets.HBox([play, position]),
            message,
            image,
        ]
    )


def plot_images(axes, images, titles, cmap="gray", symmetric=None):
    """Show images side by side, each on its own colour scale.

    Parameters
    ----------
    axes : sequence of Axes
    images : sequence of ndarray, shape (H, W)
    titles : sequence of str
    cmap : str
        Colour map for images that are not in `symmetric`.
    symmetric : set of int, optional
        Indices of signed images (edge responses): drawn with a diverging map centred
        on zero.
    """
    symmetric = set() if symmetric is None else set(symmetric)
    for k, (ax, img, title) in enumerate(zip(axes, images, titles, strict=False)):
        if k in symmetric:  # clip the rare extremes so that typical responses show
            lim = float(np.percentile(np.abs(img), 99.5)) or 1.0
            ax.imshow(img, cmap="RdBu_r", vmin=-lim, vmax=lim)
        else:
            ax.imshow(img, cmap=cmap)
        ax.set_title(title, fontsize=9)
        ax.axis("off")


def plot_sparsity(ax, T, title):
    """Picture of a Toeplitz matrix: nonzeros coloured by value, zeros white."""
    lim = float(np.abs(T).max()) or 1.0
    ax.imshow(
        np.where(T == 0, np.nan, T),
        cmap="RdBu_r",
        vmin=-lim,
        vmax=lim,
        interpolation="nearest",
    )
    nnz = int(np.count_nonzero(T))
    ax.set_title(
        f"{title}\n{T.shape[0]} x {T.shape[1]}, {nnz} nonzeros "
        f"({100 * nnz / T.size:.1f} %)",
        fontsize=10,
    )
    ax.set_xlabel("input pixel (flattened)", fontsize=9)
    ax.set_ylabel("output pixel (flattened)", fontsize=9)


def plot_timings(ax, sizes, seconds, title=None):
    """Log-log plot of run time against image side for several methods.

    Parameters
    ----------
    ax : Axes
    sizes : sequence of int
        Image side H = W.
    seconds : dict of str -> sequence of float
        Time per method; NaN where a method was not run.
    """
    for (name, ts), marker in zip(seconds.items(), "osd^v", strict=False):
        ax.loglog(sizes, ts, marker=marker, label=name)
    ax.set_xticks(list(sizes))
    ax.set_xticklabels([str(s) for s in sizes])
    ax.minorticks_off()
    ax.set_xlabel("image side H = W (pixels)")
    ax.set_ylabel("seconds (fastest of repeated runs)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=9)
    if title:
        ax.set_title(title, fontsize=10)
