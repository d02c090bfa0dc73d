"""Figures and widgets for "A linear layer in NumPy" and "Gradient computation".

Display code only (matplotlib, ipywidgets); no kernel module imports it. Each ``plot_*``
function draws on axes it is given and returns nothing of note, so the notebooks (and
the precomputed widgets) compose them freely.
"""

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from lalib.display.figures import annotated_heatmap, new_figure
from lalib.display.players import precomputed_player

# One colour per role, used in every figure of both chapters.
COLORS = {
    "x": "#4c72b0",  # the input batch and its gradient
    "W": "#dd8452",  # the weights and their gradient
    "b": "#55a868",  # the bias and its gradient
    "g": "#8172b3",  # the layer's output and the upstream gradient
}


_GAP = 1.1  # width of an operator between two matrices
_MIN_SLOT = 2.4  # narrowest slot a matrix gets, so that thin ones keep readable labels


def _slot(cols):
    """Width given to a matrix of `cols` columns: its cells plus room for its labels."""
    return max(cols + 0.4, _MIN_SLOT)


def _matrix(ax, x0, rows, cols, color, label, shape_text, top):
    """Draw a rows x cols grid of unit cells, top edge at `top`, in a slot from x0.

    The slot is at least `_MIN_SLOT` wide so that labels of thin matrices do not
    collide; the cells themselves are always 1 x 1. Returns where the slot ends.
    """
    slot = _slot(cols)
    left = x0 + (slot - cols) / 2
    ax.add_patch(
        Rectangle(
            (left, top - rows),
            cols,
            rows,
            facecolor=color,
            edgecolor="black",
            alpha=0.55,
            linewidth=1.2,
        )
    )
    if rows > 1:
        ax.hlines(
            top - np.arange(1, rows), left, left + cols, color="white", linewidth=0.8
        )
    if cols > 1:
        ax.vlines(
            left + np.arange(1, cols), top - rows, top, color="white", linewidth=0.8
        )
    ax.text(x0 + slot / 2, top + 0.15, label, ha="center", va="bottom", fontsize=12)
    ax.text(
        x0 + slot / 2, top - rows - 0.2, shape_text, ha="center", va="top", fontsize=11
    )
    return x0 + slot


def _equation(ax, terms, top, x0=0.0, gap=1.1):
    """Draw ``[(rows, cols, color, label, shape_text) or operator, ...]`` left to right.

    An operator is a string, or ``(string, width)`` for a wider one.
    """
    x = x0
    for term in terms:
        if isinstance(term, str) or len(term) == 2:
            text, width = (term, gap) if isinstance(term, str) else term
            size = 15 if len(text) == 1 else 11
            ax.text(
                x + width / 2, top - 0.5, text, ha="center", va="center", fontsize=size
            )
            x += width
        else:
            x = _matrix(ax, x, *term, top=top)
    return x


def plot_layer_shapes(ax, n, d, m, limits=None):
    """The forward pass and the three backward formulas of a linear layer, to scale.

    Every matrix is drawn as a grid of unit cells (one cell per number), so a batch of
    N rows and D columns is an N x D rectangle. The four equations are stacked in one
    column (forward pass, ``grad_weights``, ``grad_input``, ``grad_bias``), so that the
    picture stays narrow enough to read on a phone. The layout and the axes limits
    depend only on `limits`, so figures for different sizes line up cell for cell.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    n, d, m : int
        Batch size N, input size D, output size M.
    limits : tuple of int, optional
        ``(max_n, max_d, max_m)``, the largest sizes the layout must fit; ``(n, d, m)``
        by default.

    Returns
    -------
    (width, height) : tuple of float
        The extent of the drawing in cells, for a figure of the right proportions.
    """
    max_n, max_d, max_m = (n, d, m) if limits is None else limits
    C = COLORS
    pad = 3.4  # heading, matrix labels and shape text around the cells of a block
    blocks = [  # (height at the largest sizes, heading, terms)
        (
            max(max_n, max_d, max_m) + pad,
            "forward:  out = x @ W + b",
            [
                (n, d, C["x"], "x", f"({n}, {d})"),
                "@",
                (d, m, C["W"], "W", f"({d}, {m})"),
                "+",
                (1, m, C["b"], "b", f"({m},)"),
                "=",
                (n, m, C["g"], "out", f"({n}, {m})"),
            ],
        ),
        (
            max(max_d, max_n) + pad,
            "grad_weights = x.T @ g  (shape of W)",
            [
                (d, n, C["x"], "x.T", f"({d}, {n})"),
                "@",
                (n, m, C["g"], "g", f"({n}, {m})"),
                "=",
                (d, m, C["W"], "", f"({d}, {m})"),
            ],
        ),
        (
            max(max_n, max_m) + pad,
            "grad_input = g @ W.T  (shape of x)",
            [
                (n, m, C["g"], "g", f"({n}, {m})"),
                "@",
                (m, d, C["W"], "W.T", f"({m}, {d})"),
                "=",
                (n, d, C["x"], "", f"({n}, {d})"),
            ],
        ),
        (
            max_n + pad,
            "grad_bias = g.sum(axis=0)  (shape of b)",
            [
                (n, m, C["g"], "g", f"({n}, {m})"),
                ("sum\nrows", 1.8),
                (1, m, C["b"], "", f"({m},)"),
            ],
        ),
    ]
    width = max(
        _slot(max_d) + 3 * _slot(max_m) + 3 * _GAP,  # forward
        _slot(max_n) + 2 * _slot(max_m) + 2 * _GAP,  # grad_weights
        _slot(max_m) + 2 * _slot(max_d) + 2 * _GAP,  # grad_input
        2 * _slot(max_m) + 1.8,  # grad_bias
        15.0,  # the longest heading
    )
    y0 = 0.0
    for height, heading, terms in blocks:
        ax.text(
            0.0,
            y0 - 0.8,
            heading,
            ha="left",
            va="bottom",
            fontsize=11,
            fontweight="bold",
        )
        _equation(ax, terms, top=y0 - 2.0, x0=0.0, gap=_GAP)
        y0 -= height
    height = -y0 - 0.5
    ax.set_xlim(-0.2, width + 0.2)
    ax.set_ylim(-height, 0.2)
    ax.set_aspect("equal")
    ax.axis("off")
    return width + 0.4, height + 0.2


#: Inches per cell of `layer_shapes_figure`: 11-point labels fit a 2.4-cell slot.
_CELL_INCHES = 0.26
_TITLE_INCHES = 0.55


def layer_shapes_figure(n, d, m, limits=None):
    """A frame (a bare Figure, not shown by pyplot) of `plot_layer_shapes`.

    Its size follows from the layout at `limits` (about 4.5 x 8 inches for the
    chapter's largest sizes), so every frame of a player has the same size.
    """
    fig = Figure()
    ax = fig.add_axes((0, 0, 1, 1))
    width, height = plot_layer_shapes(ax, n, d, m, limits=limits)
    fig_w, fig_h = width * _CELL_INCHES, height * _CELL_INCHES + _TITLE_INCHES
    fig.set_size_inches(fig_w, fig_h)
    ax.set_position((0, 0, 1, 1 - _TITLE_INCHES / fig_h))
    fig.text(
        0.5,
        1 - 0.08 / fig_h,
        f"N={n} examples, D={d} inputs, M={m} outputs\ng = dL/d(out)",
        ha="center",
        va="top",
        fontsize=11,
        linespacing=1.3,
    )
    return fig


def layer_shapes_player(
    d_sizes=(1, 2, 3), m_sizes=(1, 2, 3), n_sizes=(1, 2, 3, 4), start=None, dpi=80
):
    """Sliders for D, M and N, each position a precomputed `layer_shapes_figure`.

    Works in the static book without a kernel (see
    `lalib.display.players.precomputed_player`);
    N has a Play button. ``len(d_sizes) * len(m_sizes) * len(n_sizes)`` frames are
    stored in the notebook, so keep the lists short.

    Parameters
    ----------
    d_sizes, m_sizes, n_sizes : sequence of int
        The values each slider offers.
    start : dict, optional
        The sizes the player opens at, e.g. ``dict(D=3, M=2, N=4)``; the first of each
        list by default.
    dpi : int
        Resolution of the frames.
    """
    limits = (max(n_sizes), max(d_sizes), max(m_sizes))
    names = {"D": "input size D", "M": "output size M", "N": "batch size N"}

    def render(**kw):
        return layer_shapes_figure(
            kw["batch size N"], kw["input size D"], kw["output size M"], limits=limits
        )

    axes = {
        "input size D": {str(v): int(v) for v in d_sizes},
        "output size M": {str(v): int(v) for v in m_sizes},
        "batch size N": {str(v): int(v) for v in n_sizes},
    }
    initial = {names[k]: str(v) for k, v in (start or {}).items()}
    return precomputed_player(
        render, axes, play="batch size N", interval=700, dpi=dpi, initial=initial
    )


def plot_matrix(ax, a, title, cmap="RdBu_r", vmax=None, fmt="{:.2f}"):
    """A small matrix as a heat map with every entry written in its cell."""
    a = np.atleast_2d(a)
    vmax = float(np.abs(a).max()) if vmax is None else vmax
    annotated_heatmap(ax, a, cmap, -vmax, vmax, fmt=fmt.format, fontsize=9, color=None)
    ax.set_xticks(range(a.shape[1]))
    ax.set_yticks(range(a.shape[0]))
    ax.set_title(f"{title}\nshape {a.shape}", fontsize=10)


def plot_history(ax_loss, ax_acc, history, fontsize=11):
    """Training loss per epoch on one axes, train and test accuracy on the other.

    Text is `fontsize` points (tick labels one less), large enough to read when a
    6.4-inch-wide figure is shrunk to a phone's width.
    """
    epochs = np.arange(1, len(history["loss"]) + 1)
    ax_loss.plot(epochs, history["loss"], color=COLORS["x"])
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("epoch", fontsize=fontsize)
    ax_loss.set_ylabel("mean training loss", fontsize=fontsize)
    ax_loss.set_title("softmax cross-entropy", fontsize=fontsize)
    ax_acc.plot(epochs, 100 * history["train_acc"], label="train", color=COLORS["x"])
    if "test_acc" in history:
        ax_acc.plot(epochs, 100 * history["test_acc"], label="test", color=COLORS["W"])
    ax_acc.axhline(95, color="grey", linestyle=":", linewidth=1, label="95 %")
    ax_acc.set_xlabel("epoch", fontsize=fontsize)
    ax_acc.set_ylabel("accuracy (%)", fontsize=fontsize)
    ax_acc.set_title("accuracy", fontsize=fontsize)
    ax_acc.legend(loc="lower right", fontsize=fontsize - 1)
    for ax in (ax_loss, ax_acc):
        ax.tick_params(labelsize=fontsize - 1)


def plot_digits(axes, images, titles, fontsize=11):
    """8 x 8 digit images (rows of 64 pixels) on `axes`, one title each."""
    for ax, img, title in zip(np.ravel(axes), images, titles, strict=False):
        ax.imshow(np.reshape(img, (8, 8)), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(title, fontsize=fontsize)
        ax.axis("off")
    for ax in np.ravel(axes)[len(images) :]:
        ax.axis("off")


def plot_probabilities(ax, p, label, title=None, ylabels=True):
    """Bar chart of one example's class probabilities, the true class highlighted.

    `ylabels` False hides the probability tick labels (for all but the first of a row
    of charts that share the 0..1 scale).
    """
    colors = [COLORS["W"] if k == label else COLORS["x"] for k in range(len(p))]
    ax.bar(np.arange(len(p)), p, color=colors)
    ax.set_ylim(0, 1)
    ax.set_xlim(-0.6, len(p) - 0.4)
    ax.set_xticks(np.arange(len(p)))
    ax.set_yticks([0, 0.5, 1])
    if not ylabels:
        ax.set_yticklabels([])
    ax.tick_params(labelsize=9, length=2, pad=1)
    if title is not None:
        ax.set_title(title, fontsize=11)


def training_figure(images, labels, probs, epoch, test_acc):
    """A frame: digits on top, below them their probabilities after `epoch` epochs."""
    k = len(images)
    fig, axes = new_figure(
        figsize=(1.6 * k, 3.4),
        nrows=2,
        ncols=k,
        gridspec_kw={"height_ratios": [1, 1.1]},
    )
    for j in range(k):
        plot_digits(axes[0, j : j + 1], images[j : j + 1], [f"true {labels[j]}"])
        guess = int(np.argmax(probs[j]))
        plot_probabilities(
            axes[1, j], probs[j], labels[j], title=f"guess {guess}", ylabels=j == 0
        )
    fig.suptitle(
        f"after {epoch} epochs: test accuracy {100 * test_acc:.1f} %", fontsize=12
    )
    fig.subplots_adjust(
        left=0.05, right=0.99, bottom=0.07, top=0.85, hspace=0.4, wspace=0.15
    )
    return fig


def training_player(snapshots, images, labels, dpi=80):
    """A Play button and slider over training epochs, showing `training_figure` frames.

    Parameters
    ----------
    snapshots : dict of int -> (ndarray of shape (k, K), float)
        For each epoch shown: the class probabilities of the k example digits and the
        test accuracy at that point.
    images : ndarray, shape (k, 64)
    labels : ndarray of int, shape (k,)
    """

    def render(epoch):
        probs, acc = snapshots[epoch]
        return training_figure(images, labels, probs, epoch, acc)

    axes = {"epoch": {str(e): e for e in snapshots}}
    return precomputed_player(
        lambda **kw: render(kw["epoch"]),
        axes,
        play="epoch",
        interval=900,
        dpi=dpi,
        width=f"{round(1.6 * len(images) * dpi)}px",  # the frame's own size, unscaled
    )
