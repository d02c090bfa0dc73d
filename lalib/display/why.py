"""Figures and explorables for the chapters "Gradient computation" and "Why linear
algebra is essential".

Display code only: pure ``plot_*(ax, ...)`` functions that draw into given axes
(matplotlib), and three explorables (`lalib.display.explorable.Explorable`) that
recompute in the reader's browser, in the static book too:

- `GDExplorer`: gradient descent on ``f(x) = 1/2 x^T A x - b^T x`` (``gd.js``);
- `PCAExplorer`: PCA of 2-D points the reader drags (``pca.js``);
- `ReconstructionExplorer`: digits rebuilt from their first k principal components
  (``recon.js``).

No kernel module imports this one; the math itself comes from :mod:`lalib.optim` and
:mod:`lalib.decomp`, and the JavaScript repeats it with ``lamath.js``.
"""

import operator

import matplotlib.pyplot as plt
import numpy as np
import traitlets

from lalib import decomp, optim
from lalib.display.explorable import JS_DIR, Array, Explorable

__all__ = [
    "GDExplorer",
    "PCAExplorer",
    "ReconstructionExplorer",
    "plot_affine_pieces",
    "plot_error_curves",
    "plot_explained_variance",
    "plot_functions_1d",
    "plot_lstsq_errors",
    "plot_projection",
]

DIGIT_COLORS = plt.get_cmap("tab10").colors  # one colour per digit 0-9


def plot_functions_1d(ax, x, curves, title=None):
    """Plot several scalar functions of one variable.

    Parameters
    ----------
    ax : matplotlib Axes
    x : ndarray, shape (n,)
    curves : dict of str -> ndarray, shape (n,)
        Label -> values.
    title : str, optional
    """
    for label, y in curves.items():
        ax.plot(x, y, label=label, lw=2)
    ax.set_xlabel("input $x$")
    ax.set_ylabel("network output")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)


def plot_affine_pieces(axes, x, curves, slope, kinks, title=None):
    """A piecewise-affine function and its slope, the kinks marked, on two axes.

    Parameters
    ----------
    axes : (matplotlib Axes, matplotlib Axes)
        Top: the functions, with the kinks of the last one marked by dots. Bottom: the
        slope of the last one, drawn as steps: it is constant on every affine piece.
    x : ndarray, shape (n,)
    curves : dict of str -> ndarray, shape (n,)
        Label -> values; the last one is the piecewise-affine function.
    slope : ndarray, shape (n,)
        Its slope at each `x` (exact on each piece).
    kinks : ndarray, shape (k,)
        The inputs where its slope changes.
    title : str, optional
    """
    ax_f, ax_s = axes
    plot_functions_1d(ax_f, x, curves, title=title)
    y = list(curves.values())[-1]  # (n,)
    colour = ax_f.lines[-1].get_color()
    ax_f.plot(
        kinks,
        np.interp(kinks, x, y),
        "o",
        ms=3.5,
        mfc="white",
        color=colour,
        label=f"{len(kinks)} kinks",
    )
    ax_f.legend(loc="best", fontsize=8)
    ax_f.set_xlabel("")
    ax_s.plot(x, slope, color=colour, lw=1.5, drawstyle="steps-mid")
    ax_s.set_xlabel("input $x$")
    ax_s.set_ylabel("slope")
    ax_s.grid(alpha=0.3)
    ax_s.set_xlim(x[0], x[-1])


def plot_error_curves(ax, errors, rates, ylim=(1e-4, 1e3)):
    """Distance to the minimum against step on a log scale, one run per learning rate.

    A straight line on this plot is geometric convergence; its slope is the log of the
    contraction factor, drawn dashed as predicted by the eigenvalues (`optim.gd_rate`).

    Parameters
    ----------
    ax : matplotlib Axes
    errors : dict of float -> ndarray, shape (T,)
        Learning rate -> ``||x_t - x*||`` for t = 0..T-1.
    rates : dict of float -> float
        Learning rate -> predicted contraction per step.
    ylim : tuple of float
    """
    colors = plt.get_cmap("tab10").colors
    for (lr, err), color in zip(errors.items(), colors, strict=False):
        steps = np.arange(len(err))  # (T,)
        ax.semilogy(
            steps,
            np.clip(err, ylim[0], ylim[1]),
            "-o",
            ms=2.5,
            lw=1.2,
            color=color,
            label=f"lr = {lr:g}: rate {rates[lr]:.3f}",
        )
        ax.semilogy(
            steps,
            np.clip(err[0] * rates[lr] ** steps, ylim[0], ylim[1]),
            "--",
            lw=0.8,
            color=color,
        )
    ax.set_ylim(*ylim)
    ax.set_xlim(0, max(len(e) for e in errors.values()) - 1)
    ax.set_xlabel("step $t$")
    ax.set_ylabel("$\\|x_t - x^*\\|$ (dashed: rate$^t$)")
    ax.legend(fontsize=7, loc="lower left")
    ax.grid(alpha=0.3, which="both")


def plot_lstsq_errors(ax, conds, errors, eps):
    """Relative error of least-squares solvers against cond(A), on log-log axes.

    Parameters
    ----------
    ax : matplotlib Axes
    conds : ndarray, shape (n,)
        Condition numbers of the test matrices.
    errors : dict of str -> ndarray, shape (n,)
        Solver name -> relative error of its solution.
    eps : float
        Machine epsilon; ``eps * cond`` and ``eps * cond**2`` are drawn as guides.
    """
    for (name, err), marker in zip(errors.items(), "osd^v", strict=False):
        ax.loglog(conds, err, marker=marker, lw=1.2, ms=5, label=name)
    ax.loglog(conds, eps * conds, ":", color="grey", label="eps cond(A)")
    ax.loglog(conds, eps * conds**2, "--", color="grey", label="eps cond(A)$^2$")
    ax.set_ylim(1e-17, 1e1)
    ax.set_xlabel("cond(A)")
    ax.set_ylabel("relative error of x")
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3, which="both")


def plot_explained_variance(ax, explained_variance, marks=(0.9, 0.95)):
    """Variance ratio per principal component (bars) and cumulative ratio (line).

    Parameters
    ----------
    ax : matplotlib Axes
    explained_variance : ndarray, shape (D,)
        All the eigenvalues of the covariance, decreasing.
    marks : tuple of float
        Cumulative fractions to mark with a horizontal line.
    """
    ratio = explained_variance / explained_variance.sum()  # (D,)
    k = np.arange(1, len(ratio) + 1)  # (D,)
    ax.bar(k, ratio, color="steelblue", label="per component")
    ax.set_xlabel("component $k$")
    ax.set_ylabel("fraction of variance")
    ax2 = ax.twinx()
    ax2.plot(k, np.cumsum(ratio), color="crimson", lw=2, label="cumulative")
    for m in marks:
        ax2.axhline(m, color="crimson", ls=":", lw=1)
    ax2.set_ylim(0, 1.02)
    ax2.set_ylabel("cumulative", color="crimson")
    ax.set_xlim(0, len(ratio) + 1)


def plot_projection(ax, Z, y):
    """Scatter the first two principal coordinates, a colour and a label per digit.

    Parameters
    ----------
    ax : matplotlib Axes
    Z : ndarray, shape (N, 2)
    y : ndarray of int, shape (N,)
    """
    for d in range(10):
        pts = Z[y == d]  # (N_d, 2)
        ax.scatter(pts[:, 0], pts[:, 1], s=6, alpha=0.5, color=DIGIT_COLORS[d])
        if len(pts):
            cx, cy = pts.mean(axis=0)
            ax.text(
                cx,
                cy,
                str(d),
                fontsize=12,
                weight="bold",
                ha="center",
                va="center",
                color="black",
                bbox={
                    "facecolor": "white",
                    "edgecolor": DIGIT_COLORS[d],
                    "alpha": 0.85,
                    "lw": 2,
                    "boxstyle": "round,pad=0.2",
                },
            )
    ax.set_xlabel("principal coordinate 1")
    ax.set_ylabel("principal coordinate 2")
    ax.grid(alpha=0.3)


def _count(value, name, lo, hi):
    """`value` as an int in ``lo..hi`` (bools and floats refused), else ValueError."""
    try:
        n = None if isinstance(value, (bool, np.bool_)) else operator.index(value)
    except TypeError:
        n = None
    if n is None or not lo <= n <= hi:
        raise ValueError(f"{name} must be an integer in {lo}..{hi}, got {value!r}")
    return n


def _g(v, digits=3):
    """A number for a describe() sentence: fixed digits, no "-0"."""
    text = f"{v:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


class GDExplorer(Explorable):
    """Gradient descent on ``f(x) = 1/2 x^T A x - b^T x``, recomputed in the browser.

    The reader sets the eigenvalues of `A` and the angle of its eigenvectors (the
    minimum ``x* = A^{-1} b`` stays put: `b` follows `A`), the learning rate and the
    number of steps, and places the start by clicking the plane (or drags the start,
    or moves it with the arrow keys). The figure draws the level sets (ellipses), the
    eigenvectors and the path; a status line says whether descent converges (the
    contraction factor ``max_i |1 - lr lam_i|``, `lalib.optim.gd_rate`) or diverges
    (``lr > 2 / lam_max``). The path is the one `lalib.optim.gradient_descent` takes
    with `lalib.optim.quadratic_grad`.

    Parameters
    ----------
    A : ndarray, shape (2, 2)
        Symmetric positive definite.
    b : ndarray, shape (2,)
    x0 : ndarray, shape (2,)
        The start.
    lr : float
        Learning rate, in ``(0, 10]``.
    steps : int
        Number of steps shown, 0..200.
    lim : float
        Half-width of the square view.
    center : ndarray, shape (2,), optional
        Centre of the view (default the origin).
    presets : sequence of float
        Learning rates offered as buttons.
    symbol : str
        The name of the variable in the text (``"x"``; chapter 5 uses ``"w"``).

    Examples
    --------
    ``explorer.x0`` is where the reader put the start, ``explorer.trajectory`` the
    iterates for the current settings; ``explorer.lr = 0.21`` redraws the figure.
    """

    _module = "gd.js"

    A = Array((2, 2))
    b = Array((2,))
    x0 = Array((2,))
    center = Array((2,))
    lr = traitlets.Float(0.1).tag(sync=True)
    steps = traitlets.Int(20).tag(sync=True)
    lim = traitlets.Float(3.0).tag(sync=True)
    presets = traitlets.List(traitlets.Float()).tag(sync=True)
    symbol = traitlets.Unicode("x").tag(sync=True)

    def __init__(
        self, A, b, x0, lr, steps=20, lim=3.0, center=(0.0, 0.0), presets=(), **kw
    ):
        super().__init__(
            A=A,
            b=b,
            x0=x0,
            lr=lr,
            steps=_count(steps, "steps", 0, 200),
            lim=lim,
            center=center,
            presets=list(presets),
            **kw,
        )

    @traitlets.validate("A")
    def _check_A(self, proposal):
        A = Array.validate(self.traits()["A"], self, proposal["value"])
        if not np.allclose(A, A.T, rtol=1e-10, atol=1e-12):
            raise ValueError(f"A must be symmetric, got {A.tolist()}")
        if np.linalg.eigvalsh(A)[0] <= 0:
            raise ValueError(
                f"A must be positive definite (a unique minimum), got eigenvalues "
                f"{np.linalg.eigvalsh(A).round(6).tolist()}"
            )
        return A

    @traitlets.validate("lr")
    def _check_lr(self, proposal):
        lr = float(proposal["value"])
        if not 0 < lr <= 10:
            raise ValueError(f"lr must lie in (0, 10], got {proposal['value']!r}")
        return lr

    @traitlets.validate("steps")
    def _check_steps(self, proposal):
        return _count(proposal["value"], "steps", 0, 200)

    @traitlets.validate("lim")
    def _check_lim(self, proposal):
        lim = float(proposal["value"])
        if not 0 < lim < 1e6:
            raise ValueError(
                f"lim must be a positive number, got {proposal['value']!r}"
            )
        return lim

    @property
    def minimizer(self):
        """``x* = A^{-1} b``, shape (2,)."""
        return optim.quadratic_minimizer(self.A, self.b)

    @property
    def trajectory(self):
        """The iterates ``x_0 .. x_steps``, shape (steps + 1, 2), computed by lalib."""
        A, b = self.A, self.b
        return optim.gradient_descent(
            lambda x: optim.quadratic_grad(x, A, b), self.x0, self.lr, self.steps
        )

    @property
    def rate(self):
        """The contraction factor ``max_i |1 - lr lam_i|`` (`optim.gd_rate`)."""
        return optim.gd_rate(self.A, self.lr)

    def describe(self):
        lam = np.linalg.eigvalsh(self.A)  # (2,) ascending
        verdict = "converges" if self.rate < 1 else "does not converge"
        return (
            f"GDExplorer: eigenvalues {_g(lam[0], 2)} and {_g(lam[1], 2)}, "
            f"lr {_g(self.lr)}, {self.steps} steps from "
            f"({_g(self.x0[0], 2)}, {_g(self.x0[1], 2)}): {verdict} "
            f"(factor {_g(self.rate)} per step; 2/lambda_max = {_g(2 / lam[1])})"
        )


class PCAExplorer(Explorable):
    """PCA of points in the plane: drag a point, the principal axes follow.

    Shows the points, their mean, the covariance ellipse (two standard deviations along
    each principal axis), the principal components as arrows, the covariance matrix and
    the explained variance ratio, all recomputed in the browser as `decomp.covariance`
    and `decomp.pca` compute them (components by decreasing variance, the largest entry
    of each positive). Points move by dragging or with the arrow keys (0.1 a press).

    Parameters
    ----------
    points : ndarray, shape (N, 2)
        N >= 2 points, one per row.
    lim : float
        Half-width of the square view.
    center : ndarray, shape (2,), optional
    show_projections : bool
        Draw each point's projection on the first principal axis.

    Examples
    --------
    ``explorer.points`` returns the points where the reader left them;
    ``explorer.explained_variance_ratio`` is what the figure prints.
    """

    _module = "pca.js"

    points = Array((None, 2))
    center = Array((2,))
    lim = traitlets.Float(3.0).tag(sync=True)
    show_projections = traitlets.Bool(False).tag(sync=True)

    def __init__(self, points, lim=3.0, center=(0.0, 0.0), **kw):
        super().__init__(points=points, lim=lim, center=center, **kw)

    @traitlets.validate("points")
    def _check_points(self, proposal):
        X = Array.validate(self.traits()["points"], self, proposal["value"])
        if not 2 <= len(X) <= 200:
            raise ValueError(f"points must have 2 to 200 rows (N, 2), got {X.shape}")
        return X

    @property
    def pca(self):
        """`decomp.pca` of the points: components (2, 2), variances (2,), mean (2,)."""
        return decomp.pca(self.points, 2)

    @property
    def explained_variance_ratio(self):
        """Each component's share of the total variance, shape (2,) (NaN if none)."""
        var = self.pca[1]
        total = var.sum()
        return var / total if total > 0 else np.full(2, np.nan)

    def describe(self):
        comps, _, _ = self.pca
        ratio = self.explained_variance_ratio
        return (
            f"PCAExplorer: {len(self.points)} points; PC1 = "
            f"({_g(comps[0, 0])}, {_g(comps[0, 1])}) explains "
            f"{100 * ratio[0]:.1f} % of the variance, PC2 {100 * ratio[1]:.1f} %"
        )


class ReconstructionExplorer(Explorable):
    """Images rebuilt from their first k principal components; the reader chooses k.

    The browser computes ``z = (x - mean) V_k^T`` and ``x_hat = mean + z V_k`` for each
    image (`decomp.pca_transform`, `decomp.pca_reconstruct`) with ``V_k`` the first k
    rows of `components`, draws originals and reconstructions as 8 x 8 grey images in
    SVG (0 white, 1 black) and prints each image's squared error and their mean.

    Parameters
    ----------
    images : ndarray, shape (n, 64)
        8 x 8 images, one per row, pixels in 0..1.
    components : ndarray, shape (K, 64)
        Orthonormal rows by decreasing variance (`decomp.pca`); the slider offers
        k = 1..K. They travel in the page, so a few decimals are enough: `decimals`.
    mean : ndarray, shape (64,)
    k : int
        The k shown first.
    labels : sequence of str, optional
        A name per image (e.g. its digit), for the captions and alt texts.
    decimals : int or None
        Round `components` and `mean` to this many decimals (the page stays small;
        4 decimals move a rebuilt digit pixel by at most about 3e-4). None keeps
        them exact.
    """

    _module = "recon.js"

    images = Array((None, 64))
    components = Array((None, 64))
    mean = Array((64,))
    k = traitlets.Int(1).tag(sync=True)
    labels = traitlets.List(traitlets.Unicode()).tag(sync=True)

    def __init__(self, images, components, mean, k=1, labels=(), decimals=4, **kw):
        if decimals is not None:
            components = np.round(np.asarray(components, dtype=np.float64), decimals)
            mean = np.round(np.asarray(mean, dtype=np.float64), decimals)
        super().__init__(
            images=images,
            components=components,
            mean=mean,
            labels=[str(t) for t in labels],
            **kw,
        )
        K = len(self.components)
        if K == 0:
            raise ValueError(
                f"components must have at least one row (K, 64), got "
                f"{self.components.shape}"
            )
        if self.labels and len(self.labels) != len(self.images):
            raise ValueError(
                f"labels must name each of the {len(self.images)} images, got "
                f"{len(self.labels)}"
            )
        self.k = _count(k, "k", 1, K)

    @traitlets.validate("k")
    def _check_k(self, proposal):
        return _count(proposal["value"], "k", 1, max(len(self.components), 1))

    @property
    def reconstructions(self):
        """The images rebuilt from the first `k` components, shape (n, 64)."""
        V = self.components[: self.k]  # (k, 64)
        Z = decomp.pca_transform(self.images, V, self.mean)  # (n, k)
        return decomp.pca_reconstruct(Z, V, self.mean)  # (n, 64)

    @property
    def squared_errors(self):
        """Each image's squared error ``||x - x_hat||^2``, shape (n,)."""
        return np.sum((self.images - self.reconstructions) ** 2, axis=1)

    def describe(self):
        return (
            f"ReconstructionExplorer: {len(self.images)} images rebuilt from "
            f"k = {self.k} of {len(self.components)} components; mean squared error "
            f"{self.squared_errors.mean():.3f}"
        )


for _cls, _extra in [
    (GDExplorer, "why.css"),
    (PCAExplorer, "why.css"),
    (ReconstructionExplorer, "recon.css"),
]:
    _cls._css = _cls._css + (JS_DIR / _extra).read_text(encoding="utf-8")
