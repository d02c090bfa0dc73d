"""Pictures of maps of the plane: what a 2 x 2 layer does to a grid of points.

Display code only: matplotlib here, the math comes from `lalib.linear` and friends.
"""

import numpy as np

from lalib import linear
from lalib.display.figures import new_figure
from lalib.display.players import precomputed_player

_LINE_SAMPLES = (
    41  # points per grid line: enough for curved images under nonlinear maps
)


def grid_lines(lim=2.0, n_lines=9):
    """Horizontal and vertical lines of the square [-lim, lim]^2 as point arrays.

    Returns
    -------
    lines : list of ndarray, each shape (_LINE_SAMPLES, 2)
    """
    ticks = np.linspace(-lim, lim, n_lines)
    s = np.linspace(-lim, lim, _LINE_SAMPLES)
    horizontal = [np.column_stack([s, np.full_like(s, c)]) for c in ticks]  # y = c
    vertical = [np.column_stack([np.full_like(s, c), s]) for c in ticks]  # x = c
    return horizontal + vertical


def plot_grid_map(ax, f, lim=2.0, view=None, title=None):
    """Draw the image under `f` of a grid, of the unit square and of the basis vectors.

    Parameters
    ----------
    ax : matplotlib Axes
    f : callable
        Maps points given as rows, shape (N, 2), to points (N, 2).
    lim : float
        The grid covers [-lim, lim]^2 before the map.
    view : float, optional
        Half-width of the axes after the map; by default what fits the image.
    title : str, optional
    """
    for k, line in enumerate(grid_lines(lim)):
        img = f(line)  # (S, 2) -> (S, 2)
        ax.plot(img[:, 0], img[:, 1], color="0.75" if k % 2 else "0.6", lw=0.8)
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]], dtype=float)
    sq = f(square)  # (5, 2)
    ax.fill(sq[:, 0], sq[:, 1], color="tab:orange", alpha=0.35, lw=0)
    origin, e1, e2 = f(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    for end, colour, name in ((e1, "tab:red", "$e_1$"), (e2, "tab:blue", "$e_2$")):
        ax.annotate(
            "",
            xy=end,
            xytext=origin,
            arrowprops={"arrowstyle": "->", "color": colour, "lw": 2},
        )
        ax.text(*end, name, color=colour, fontsize=11)
    if view is None:
        corners = f(np.array([[-lim, -lim], [lim, -lim], [lim, lim], [-lim, lim]]))
        view = max(1.0, float(np.abs(corners).max()) * 1.05)
    ax.set_xlim(-view, view)
    ax.set_ylim(-view, view)
    ax.set_aspect("equal")
    ax.axhline(0, color="k", lw=0.5)
    ax.axvline(0, color="k", lw=0.5)
    if title:
        ax.set_title(title, fontsize=10)


def affine_map(A, b=None):
    """The map ``p -> A p + b`` on points given as rows, by `lalib.linear.linear`.

    With points as the rows of P (N, 2), ``A p + b`` for every row is ``P @ A.T + b``.
    """
    A = np.asarray(A, dtype=float)
    b = np.zeros(A.shape[0]) if b is None else np.asarray(b, dtype=float)
    return lambda P: linear.linear(P, A.T, b)  # (N, 2) @ (2, 2) + (2,) -> (N, 2)


def interpolate_matrix(A, t):
    """``(1 - t) I + t A``: the straight path from the identity (t = 0) to A (t = 1)."""
    A = np.asarray(A, dtype=float)
    return (1 - t) * np.eye(A.shape[0]) + t * A


def _fit_view(A, lim=2.0):
    """Half-width of axes that holds the grid [-lim, lim]^2 before and after ``A``."""
    corners = lim * np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=float)
    return max(lim, float(np.abs(corners @ np.asarray(A, float).T).max())) * 1.05


def transform_player(matrices, steps=11):
    """Play/slider widget morphing the grid from the identity to each matrix.

    Parameters
    ----------
    matrices : dict of str -> ndarray, shape (2, 2)
        The reader picks one of these with a slider.
    steps : int
        Frames from t = 0 to t = 1.

    Returns
    -------
    ipywidgets.VBox
        Works without a kernel: every frame is precomputed. The axes stay fixed while
        one matrix is played, so the frames of an animation are comparable.
    """
    ts = np.linspace(0.0, 1.0, steps)

    def render(matrix, t):
        name, A = matrix
        At = interpolate_matrix(A, t)
        fig, ax = new_figure(figsize=(4.2, 4.4))
        det = np.linalg.det(At)
        plot_grid_map(
            ax,
            affine_map(At),
            view=_fit_view(A),
            title=f"towards {name}, t = {t:.1f}\n"
            f"[[{At[0, 0]:.2f}, {At[0, 1]:.2f}], "
            f"[{At[1, 0]:.2f}, {At[1, 1]:.2f}]],  det = {det:.2f}",
        )
        fig.tight_layout()
        return fig

    return precomputed_player(
        render,
        {
            "matrix": {name: (name, A) for name, A in matrices.items()},
            "t": {f"{t:.1f}": float(t) for t in ts},
        },
        play="t",
        width="420px",
    )


def live_transform(A, lim=2.0):
    """Four free sliders, one per entry of a 2 x 2 matrix, redrawing the grid live.

    Needs a running kernel (the redraw is Python); `transform_player` is the
    kernel-free version for the static book.
    """
    import ipywidgets as widgets  # display-only dependency
    import matplotlib.pyplot as plt

    A = np.asarray(A, dtype=float)

    def draw(a11, a12, a21, a22):
        M = np.array([[a11, a12], [a21, a22]])
        fig, ax = plt.subplots(figsize=(4.2, 4.2))
        plot_grid_map(
            ax,
            affine_map(M),
            lim=lim,
            view=3 * lim,
            title=f"det = {np.linalg.det(M):.2f}",
        )
        plt.show()

    sliders = {
        name: widgets.FloatSlider(
            value=A.flat[k], min=-4, max=4, step=0.1, description=name
        )
        for k, name in enumerate(("a11", "a12", "a21", "a22"))
    }
    return widgets.interactive(draw, **sliders)
