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


def basis_labels(name=None):
    """The labels of the two arrows `plot_grid_map` draws: the images of e1 and e2.

    Parameters
    ----------
    name : str, optional
        What the text calls the map's matrix, in TeX: ``"W"`` gives ``$We_1$`` and
        ``$We_2$``; ``""`` gives ``$e_1$`` and ``$e_2$`` (right only for the
        identity). The default None gives ``$f(e_1)$`` and ``$f(e_2)$``, right for any
        map ``f``.

    Returns
    -------
    tuple of str
    """
    if name is None:
        return "$f(e_1)$", "$f(e_2)$"
    return f"${name}e_1$", f"${name}e_2$"


def hinge_lines(W, b, lim=2.0):
    """Where each neuron of ``W x + b`` switches sign, inside the square [-lim, lim]^2.

    Neuron i is zero on the line ``W[i] . x + b[i] = 0``; after a ReLU it is active
    (positive) on one side and clamped to zero on the other, so its hinge is there.

    Parameters
    ----------
    W : array_like, shape (M, 2)
        The math's matrix: one row per neuron.
    b : array_like, shape (M,)
    lim : float

    Returns
    -------
    lines : list of ndarray, each shape (_LINE_SAMPLES, 2) or (0, 2)
        Points of each hinge inside the square, as rows; empty when the line misses
        the square (the neuron is then on, or off, on all of it).
    """
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    lines = []
    for w, c in zip(W, b, strict=True):
        norm2 = float(w @ w)
        if norm2 == 0.0:
            lines.append(np.empty((0, 2)))
            continue
        foot = -c * w / norm2  # the point of the line nearest the origin
        d = np.array([-w[1], w[0]]) / np.sqrt(norm2)  # unit direction of the line
        lo, hi = -np.inf, np.inf  # the s with |foot + s d| <= lim in both coordinates
        for k in range(2):
            if d[k] == 0.0:
                if abs(foot[k]) > lim:
                    lo, hi = 1.0, 0.0
                continue
            s1, s2 = sorted(((-lim - foot[k]) / d[k], (lim - foot[k]) / d[k]))
            lo, hi = max(lo, s1), min(hi, s2)
        if not lo < hi:
            lines.append(np.empty((0, 2)))
            continue
        s = np.linspace(lo, hi, _LINE_SAMPLES)
        lines.append(foot + s[:, None] * d)  # (S, 2)
    return lines


def _unit(v):
    n = float(np.hypot(*v))
    return v / n if n > 0 else np.zeros(2)


def _label_offset(arrow, other, points=8.0):
    """Where an arrow's label goes, in points from its tip: beyond the tip, and to the
    side away from the other arrow, so labels of arrows that end close together (or
    lie almost along each other) do not cover each other or the other arrow.
    """
    u = _unit(np.asarray(arrow, dtype=float))
    if not u.any():
        u = np.array([1.0, 0.0])
    n = np.array([-u[1], u[0]])  # u turned a quarter left
    if n @ np.asarray(other, dtype=float) > 0:
        n = -n  # the side away from the other arrow
    return tuple(points * _unit(u + n))


def _alignment(offset):
    """Text alignment that puts a label on the side of its anchor `offset` points to."""
    dx, dy = offset
    size = float(np.hypot(dx, dy)) or 1.0
    ha = "left" if dx > 0.3 * size else "right" if dx < -0.3 * size else "center"
    va = "bottom" if dy > 0.3 * size else "top" if dy < -0.3 * size else "center"
    return {"ha": ha, "va": va}


def plot_grid_map(ax, f, lim=2.0, view=None, title=None, name=None, curves=()):
    """Draw the image under `f` of a grid, of the unit square and of the basis vectors.

    The red and blue arrows run from the image of the origin to the images of e1 and
    e2. For an affine map ``f(p) = W p + b`` they are the columns of W, drawn from b,
    and are labelled ``We_1``, ``We_2`` when `name` is ``"W"``.

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
    name : str, optional
        What the text calls the map's matrix; the arrows' labels, see `basis_labels`.
    curves : sequence of (ndarray, dict), optional
        Extra curves given as points in the plane *before* the map, shape (S, 2), each
        with keyword arguments for ``ax.plot`` (colour, line style, label); they are
        drawn after the map, e.g. the `hinge_lines` of a ReLU layer.
    """
    for k, line in enumerate(grid_lines(lim)):
        img = f(line)  # (S, 2) -> (S, 2)
        ax.plot(img[:, 0], img[:, 1], color="0.75" if k % 2 else "0.6", lw=0.8)
    for points, style in curves:
        if len(points):
            img = f(np.asarray(points, dtype=float))  # (S, 2) -> (S, 2)
            ax.plot(img[:, 0], img[:, 1], **{"lw": 2, **style})
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]], dtype=float)
    sq = f(square)  # (5, 2)
    ax.fill(sq[:, 0], sq[:, 1], color="tab:orange", alpha=0.35, lw=0)
    origin, e1, e2 = f(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    labels = basis_labels(name)
    arrows = ((e1, e2, "tab:red", labels[0]), (e2, e1, "tab:blue", labels[1]))
    for end, other, colour, label in arrows:
        ax.annotate(
            "",
            xy=end,
            xytext=origin,
            arrowprops={"arrowstyle": "->", "color": colour, "lw": 2},
        )
        ax.annotate(
            label,
            xy=end,
            xytext=_label_offset(end - origin, other - origin),
            textcoords="offset points",
            color=colour,
            fontsize=12,
            **_alignment(_label_offset(end - origin, other - origin)),
        )
    if view is None:
        corners = f(np.array([[-lim, -lim], [lim, -lim], [lim, lim], [-lim, lim]]))
        view = max(1.0, float(np.abs(corners).max()) * 1.05)
    ax.set_xlim(-view, view)
    ax.set_ylim(-view, view)
    ax.set_aspect("equal")
    ax.locator_params(nbins=5)  # few ticks: two panels side by side stay legible
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

    Frame t shows the map of ``A_t = (1 - t) I + t A``; its arrows are labelled
    ``A_t e_1`` and ``A_t e_2``.

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
            name="A_t",
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
            name="A",
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
