"""Figures and widgets for "A linear layer in NumPy" and "Gradient computation".

Display code only (matplotlib, anywidget); no kernel module imports it. Each ``plot_*``
function draws on axes it is given and returns nothing of note, so the notebooks (and
the frame player) compose them freely; `ShapesExplorer` draws in the browser.
"""

import numpy as np
import traitlets

from lalib.display.explorable import JS_DIR, Explorable
from lalib.display.figures import annotated_heatmap
from lalib.display.players import FramePlayer

# One colour per role, used in every figure of both chapters.
COLORS = {
    "x": "#4c72b0",  # the input batch and its gradient
    "W": "#dd8452",  # the weights and their gradient
    "b": "#55a868",  # the bias and its gradient
    "g": "#8172b3",  # the layer's output and the upstream gradient
}


#: Largest N, D and M the shapes explorable offers (a matrix of 8 x 8 cells).
SHAPES_MAX = 8


class ShapesExplorer(Explorable):
    """A linear layer's forward and backward products, drawn to scale in the browser.

    Sliders choose the batch size N, the input size D and the output size M; the
    browser draws ``out = x @ W + b`` and the three backward products (``grad_input =
    g @ W.T``, ``grad_weights = x.T @ g``, ``grad_bias = g.sum(axis=0)``) with one
    square per number, each array labelled with its shape, and counts the
    multiply-adds of each product.

    Parameters
    ----------
    N, D, M : int
        Batch size, input size and output size, each from 1 to `SHAPES_MAX`.

    Examples
    --------
    >>> ShapesExplorer(N=4, D=3, M=2).multiply_adds["grad_weights"]
    24
    """

    _module = "shapes.js"

    N = traitlets.Int(4).tag(sync=True)
    D = traitlets.Int(3).tag(sync=True)
    M = traitlets.Int(2).tag(sync=True)

    def __init__(self, N=4, D=3, M=2, **kwargs):
        super().__init__(N=N, D=D, M=M, **kwargs)

    @traitlets.validate("N", "D", "M")
    def _check_size(self, proposal):
        value, name = proposal["value"], proposal["trait"].name
        if not 1 <= value <= SHAPES_MAX:
            raise ValueError(f"{name} must be from 1 to {SHAPES_MAX}, got {value}")
        return value

    @property
    def shapes(self):
        """The shape of every array the figure draws, by its name in the chapter."""
        N, D, M = self.N, self.D, self.M
        return {
            "x": (N, D),
            "W": (D, M),
            "b": (M,),
            "out": (N, M),
            "g": (N, M),
            "grad_input": (N, D),
            "grad_weights": (D, M),
            "grad_bias": (M,),
        }

    @property
    def multiply_adds(self):
        """Multiply-adds of each product: N * D * M for all three."""
        N, D, M = self.N, self.D, self.M
        return {"out": N * D * M, "grad_input": N * M * D, "grad_weights": D * N * M}

    def describe(self):
        sh = self.shapes
        return (
            f"ShapesExplorer with N={self.N}, D={self.D}, M={self.M}: out {sh['out']} "
            f"= x {sh['x']} @ W {sh['W']} + b {sh['b']}; "
            f"{self.multiply_adds['out']} multiply-adds forward, "
            f"{2 * self.multiply_adds['out']} backward"
        )


ShapesExplorer._css = ShapesExplorer._css + (JS_DIR / "shapes.css").read_text(
    encoding="utf-8"
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


def training_player(snapshots, images, labels):
    """A Play button and a range over training epochs: digits and their probabilities.

    The browser draws each epoch's frame from its numbers (the k digits as 8 x 8 grey
    squares, below each a bar chart of its class probabilities, the true class in
    orange), so a frame is a few hundred numbers, crisp at any size, and its alt text
    says what the network guesses.

    Parameters
    ----------
    snapshots : dict of int -> (ndarray of shape (k, K), float)
        For each epoch shown: the class probabilities of the k example digits and the
        test accuracy at that point.
    images : ndarray, shape (k, 64)
        Grey levels in [0, 1].
    labels : ndarray of int, shape (k,)

    Returns
    -------
    lalib.display.players.FramePlayer
    """
    images = np.asarray(images, dtype=float)
    labels = [int(y) for y in labels]
    if images.ndim != 2 or images.shape[0] != len(labels):
        raise ValueError(
            f"images must have shape (k, 64) with one row per label, got "
            f"{images.shape} for {len(labels)} labels"
        )

    def alt(epoch, probs, acc):
        digits = "; ".join(
            f"true {y}, guess {int(np.argmax(p))} with probability {p.max():.2f}"
            for y, p in zip(labels, probs, strict=True)
        )
        return (
            f"After {epoch} epochs, test accuracy {100 * acc:.1f} %. "
            f"{len(labels)} test digits with bar charts of the network's class "
            f"probabilities: {digits}."
        )

    epochs = list(snapshots)
    charts, alts = [], []
    for epoch in epochs:
        probs, acc = snapshots[epoch]
        probs = np.asarray(probs, dtype=float)
        if probs.shape[0] != len(labels):
            raise ValueError(
                f"snapshot of epoch {epoch}: probabilities of shape {probs.shape} "
                f"for {len(labels)} digits"
            )
        charts.append(
            {
                "title": f"after {epoch} epochs: test accuracy {100 * acc:.1f} %",
                "probs": np.round(probs, 3).tolist(),
            }
        )
        alts.append(alt(epoch, np.round(probs, 3), acc))
    return FramePlayer(
        axes=[{"name": "epoch", "labels": [str(e) for e in epochs], "ordered": True}],
        alts=alts,
        charts=charts,
        kind="digits",
        shared={
            "digits": np.round(images, 2).tolist(),
            "labels": labels,
            "legend": "Bars: the probability of each class 0 to 9, from 0 to 1; "
            "the true class in orange.",
        },
        play="epoch",
        interval=900,
        label=f"The network's guesses for {len(labels)} test digits, epoch by epoch",
    )
