"""Pictures for the chapter "Position in attention": the sinusoidal encoding as a heat
map, and one of its (sin, cos) column pairs as points on the unit circle.

Display code only: the encodings are computed by `lalib.positions` and passed in.
"""

import numpy as np


def plot_encoding(ax, PE, title="sinusoidal encoding"):
    """Heat map of an encoding table, positions down, coordinates across.

    Parameters
    ----------
    ax : matplotlib Axes
    PE : ndarray, shape (n, d)
        Values in [-1, 1], as `lalib.positions.sinusoidal_encoding` returns.
    title : str

    Returns
    -------
    image : matplotlib AxesImage
        For a colour bar.
    """
    PE = np.asarray(PE)
    image = ax.imshow(
        PE, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto", interpolation="nearest"
    )
    ax.set_xlabel("coordinate (pair i = columns 2i, 2i + 1)", fontsize=8)
    ax.set_ylabel("position p", fontsize=8)
    ax.tick_params(labelsize=8)
    ax.set_title(title, fontsize=9)
    return image


def plot_pair_on_circle(ax, PE, pair, positions, step=None):
    """The points ``(cos, sin)`` of one column pair, one per position, on the circle.

    Column ``2 * pair`` holds the sines and ``2 * pair + 1`` the cosines, so the point
    of position p is drawn at ``(PE[p, 2 pair + 1], PE[p, 2 pair])``: angle
    ``p * theta_pair`` counter-clockwise from the positive x axis.

    Parameters
    ----------
    ax : matplotlib Axes
    PE : ndarray, shape (n, d)
    pair : int
        Which pair, 0 <= pair < d / 2.
    positions : sequence of int
        Rows of `PE` to draw and label.
    step : int, optional
        Draw an arrow from each labelled point to the point `step` positions later
        (when that row is among `positions`): every arrow turns by the same angle.
    """
    PE = np.asarray(PE)
    positions = [int(p) for p in positions]
    t = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(t), np.sin(t), color="0.75", lw=1)
    xs, ys = PE[positions, 2 * pair + 1], PE[positions, 2 * pair]
    ax.scatter(xs, ys, s=18, color="C0", zorder=3)
    for p, x, y in zip(positions, xs, ys):
        ax.annotate(
            str(p), (x, y), xytext=(1.17 * x, 1.17 * y), fontsize=8, ha="center",
            va="center",
        )  # fmt: skip
    if step:
        index = {p: k for k, p in enumerate(positions)}
        for p in positions:
            if p + step in index:
                a, b = index[p], index[p + step]
                ax.annotate(
                    "",
                    (xs[b], ys[b]),
                    (xs[a], ys[a]),
                    arrowprops=dict(arrowstyle="->", color="C1", lw=1),
                )
    ax.set_aspect("equal")
    ax.set_xlim(-1.35, 1.35)
    ax.set_ylim(-1.35, 1.35)
    ax.set_xlabel(f"cos (column {2 * pair + 1})", fontsize=8)
    ax.set_ylabel(f"sin (column {2 * pair})", fontsize=8)
    ax.tick_params(labelsize=8)
    ax.set_title(f"pair {pair}: one point per position", fontsize=9)
