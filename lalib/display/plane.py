"""Pictures of maps of the plane: what a 2 x 2 layer does to a grid of points.

Display code only. The static pictures are matplotlib, their math from `lalib.linear`
and friends; the explorables `PlaneExplorer` (y = W x + b) and `FoldExplorer` (two
layers with a ReLU between) draw in the reader's browser with ``js/plane.js``, which
recomputes with ``js/lamath.js`` (tested against lalib).
"""

import numpy as np
import traitlets

from lalib import activations, linear
from lalib.display.explorable import JS_DIR, Array, Explorable

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


def _vec(v, digits=2):
    """A vector as the explorables print it: ``[1.00, -2.00]``."""
    zero = f"{0.0:.{digits}f}"
    text = (f"{float(c):.{digits}f}" for c in v)
    return "[" + ", ".join(zero if set(t) <= set("-0.") else t for t in text) + "]"


def _orientation(det):
    if abs(det) < 1e-9:
        return "collapsed (det W = 0)"
    return "preserved (det W > 0)" if det > 0 else "flipped (det W < 0)"


class PlaneExplorer(Explorable):
    """The plane under one layer ``y = W x + b``, explored in the browser.

    The reader drags the images of e1 and e2 (their tips are ``b + W e1`` and
    ``b + W e2``: the columns of W, drawn from b), the point b and an input x; the
    image of the grid, the unit square's parallelogram, ``det W``, the orientation
    and ``y = W x + b`` follow, as pictures and as numbers. A Preset menu holds the
    worked example, the identity, a rotation by 30 degrees, a shear, a scaling, a
    reflection and a singular matrix. Keyboard: focus a handle (Tab), then the arrow
    keys move it by 0.1 (Shift: 0.5).

    Parameters
    ----------
    W : array_like, shape (2, 2), optional
        The layer's matrix, math convention (one row per output). Default: the
        chapter's worked example ``[[1, 2], [3, 4]]``.
    b : array_like, shape (2,), optional
        The bias. Default ``[1, 1]``.
    x : array_like, shape (2,), optional
        The input whose output y is shown. Default ``[5, 6]``.

    Attributes
    ----------
    W, b, x : ndarray
        Synced with the browser: what the reader dragged, and setting them redraws.

    Examples
    --------
    >>> plane = PlaneExplorer()
    >>> plane.y
    array([18., 40.])
    """

    _module = "plane.js"
    _figure = traitlets.Unicode("plane").tag(sync=True)
    W = Array((2, 2))
    b = Array((2,))
    x = Array((2,))

    def __init__(self, W=None, b=None, x=None, **kwargs):
        super().__init__(
            W=[[1.0, 2.0], [3.0, 4.0]] if W is None else W,
            b=[1.0, 1.0] if b is None else b,
            x=[5.0, 6.0] if x is None else x,
            **kwargs,
        )

    @property
    def y(self):
        """``W x + b`` for the current inputs, by `lalib.linear.linear`."""
        return linear.linear(self.x[None, :], self.W.T, self.b)[0]  # (1, 2) -> (2,)

    @property
    def det(self):
        """``det W``: the area factor, its sign the orientation."""
        return float(np.linalg.det(self.W))

    def describe(self):
        W, det = self.W, self.det
        return (
            f"PlaneExplorer: W = [{_vec(W[0])}, {_vec(W[1])}], b = {_vec(self.b)}, "
            f"det W = {det + 0.0:.2f}, orientation {_orientation(det)}; "
            f"x = {_vec(self.x)} goes to y = {_vec(self.y)}"
        )


class FoldExplorer(Explorable):
    """Two layers with a ReLU between, ``y = W2 relu(W1 x + b1) + b2``, in the browser.

    Shows the grid of the square [-2, 2]^2 before and after the two layers, its 81
    points coloured by which hidden neurons are active, and the two hinges (where
    ``(W1 x + b1)_i = 0``) carried along. The reader toggles the ReLU (without it the
    two layers are one affine map), moves the hidden biases b1 with sliders (each
    slides its neuron's hinge) and drags an input x to read its y.

    Parameters
    ----------
    W1 : array_like, shape (2, 2)
    b1 : array_like, shape (2,)
    W2 : array_like, shape (2, 2)
    b2 : array_like, shape (2,)
        The two layers, math convention (one row per neuron).
    x : array_like, shape (2,), optional
        The input whose output is shown. Default ``[1, 1]``.
    relu : bool
        Whether the ReLU is on (default True).

    Attributes
    ----------
    W1, b1, W2, b2, x, relu
        Synced with the browser.
    """

    _module = "plane.js"
    _figure = traitlets.Unicode("fold").tag(sync=True)
    W1 = Array((2, 2))
    b1 = Array((2,))
    W2 = Array((2, 2))
    b2 = Array((2,))
    x = Array((2,))
    relu = traitlets.Bool(True).tag(sync=True)

    def __init__(self, W1, b1, W2, b2, x=None, relu=True, **kwargs):
        super().__init__(
            W1=W1,
            b1=b1,
            W2=W2,
            b2=b2,
            x=[1.0, 1.0] if x is None else x,
            relu=relu,
            **kwargs,
        )

    @property
    def y(self):
        """The output for the current x, by `lalib.linear` and `lalib.activations`."""
        hidden = linear.linear(self.x[None, :], self.W1.T, self.b1)  # (1, 2)
        if self.relu:
            hidden = activations.relu(hidden)
        return linear.linear(hidden, self.W2.T, self.b2)[0]  # (1, 2) -> (2,)

    def active_counts(self):
        """How many of the 81 points of the 9 x 9 grid of [-2, 2]^2 each pattern has.

        Returns
        -------
        dict
            ``{"both": n, "only 0": n, "only 1": n, "neither": n}``.
        """
        ticks = np.linspace(-2, 2, 9)
        grid = np.stack(np.meshgrid(ticks, ticks), axis=-1).reshape(-1, 2)  # (81, 2)
        on = linear.linear(grid, self.W1.T, self.b1) > 0  # (81, 2)
        return {
            "both": int(np.sum(on[:, 0] & on[:, 1])),
            "only 0": int(np.sum(on[:, 0] & ~on[:, 1])),
            "only 1": int(np.sum(~on[:, 0] & on[:, 1])),
            "neither": int(np.sum(~on[:, 0] & ~on[:, 1])),
        }

    def describe(self):
        counts = ", ".join(f"{k} {v}" for k, v in self.active_counts().items())
        mode = "with a ReLU between" if self.relu else "without a ReLU"
        return (
            f"FoldExplorer: two layers {mode}, b1 = {_vec(self.b1)}; "
            f"active neurons on the 81 grid points: {counts}; "
            f"x = {_vec(self.x)} goes to y = {_vec(self.y)}"
        )


_PLANE_CSS = (JS_DIR / "plane.css").read_text(encoding="utf-8")
PlaneExplorer._css = PlaneExplorer._css + _PLANE_CSS
FoldExplorer._css = FoldExplorer._css + _PLANE_CSS
