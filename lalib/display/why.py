"""Figures and widgets for the chapter "Why linear algebra is essential".

Display code only (matplotlib, ipywidgets): pure ``plot_*(ax, ...)`` functions that draw
into given axes, plus thin builders that render every state of a control to a frame with
:func:`lalib.display.players.precomputed_player`, so the widgets respond in the static
book. No kernel module imports this one; the math itself comes from :mod:`lalib.optim`
and :mod:`lalib.decomp`.
"""

import matplotlib.pyplot as plt
import numpy as np

from lalib import decomp, optim
from lalib.display.players import precomputed_player

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


def plot_quadratic(ax, A, b, lim, levels=12, n=121):
    """Contours of ``1/2 x^T A x - b^T x`` over ``[-lim, lim]^2``, minimum marked.

    The contour lines are ellipses whose axes are the eigenvectors of A, with
    half-widths proportional to ``1 / sqrt(lambda)``: a large condition number draws a
    long, thin valley.

    Parameters
    ----------
    ax : matplotlib Axes
    A : ndarray, shape (2, 2)
        Symmetric positive definite.
    b : ndarray, shape (2,)
    lim : float
        Half-width of the plotted square.
    levels : int
        Number of contour lines (spaced evenly in the square root of the height above
        the minimum, so they are evenly spaced across the valley).
    n : int
        Grid points per side.
    """
    g = np.linspace(-lim, lim, n)  # (n,)
    gx, gy = np.meshgrid(g, g)  # (n, n) each
    pts = np.stack([gx.ravel(), gy.ravel()], axis=1)  # (n*n, 2)
    x_star = optim.quadratic_minimizer(A, b)  # (2,)
    f_min = optim.quadratic_loss(x_star, A, b)
    f = optim.quadratic_loss(pts, A, b).reshape(n, n) - f_min  # (n, n), >= 0
    heights = np.linspace(0, np.sqrt(f.max()), levels + 1)[1:] ** 2  # (levels,)
    ax.contour(gx, gy, f, levels=heights, cmap="viridis", linewidths=0.8)
    ax.plot(*x_star, marker="*", ms=12, color="crimson", zorder=3)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_trajectory(ax, trajectory, upto, lim=None, color="black"):
    """Draw the first ``upto + 1`` iterates of a 2-D trajectory as a connected path.

    Parameters
    ----------
    ax : matplotlib Axes
    trajectory : ndarray, shape (T, 2)
    upto : int
        Index of the last iterate shown.
    lim : float, optional
        Points beyond ``[-lim, lim]^2`` are clipped to the box edge so that a divergent
        path stays visible as it leaves.
    color : str
    """
    path = np.asarray(trajectory)[: upto + 1]  # (upto + 1, 2)
    if lim is not None:
        path = np.clip(path, -lim, lim)
    ax.plot(path[:, 0], path[:, 1], "-o", color=color, ms=3, lw=1.2, zorder=4)
    ax.plot(path[-1, 0], path[-1, 1], "o", color="darkorange", ms=7, zorder=5)


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


def gd_frame(A, b, trajectory, upto, lr, lim, figsize=(3.6, 3.3)):
    """A frame of the gradient-descent player: the path so far on the loss contours."""
    fig, ax = plt.subplots(figsize=figsize)
    plot_quadratic(ax, A, b, lim, levels=8)
    plot_trajectory(ax, trajectory, upto, lim=lim)
    x_star = optim.quadratic_minimizer(A, b)  # (2,)
    err = float(np.linalg.norm(trajectory[upto] - x_star))
    ax.set_title(f"lr {lr:g}, step {upto}: $\\|x_t - x^*\\|$ = {err:.2g}", fontsize=11)
    fig.tight_layout(pad=0.4)
    return fig


def gd_player(A, b, x0, lrs, steps, lim=3.0, every=1, interval=300):
    """Gradient descent on a 2-D quadratic: a learning-rate slider, Play over steps.

    Every (learning rate, step) frame is rendered now, so the widget works without a
    kernel.

    Parameters
    ----------
    A : ndarray, shape (2, 2)
    b : ndarray, shape (2,)
    x0 : ndarray, shape (2,)
    lrs : sequence of float
        Learning rates offered by the slider.
    steps : int
        Steps of every run.
    lim : float
        Half-width of the plotted square.
    every : int
        Show every `every`-th step (fewer frames, smaller notebook).
    interval : int
        Milliseconds between frames when playing.

    Returns
    -------
    ipywidgets.VBox
        From `precomputed_player`; ``.trajectories`` maps each lr to its path,
        shape (steps + 1, 2).
    """
    grad = lambda x: optim.quadratic_grad(x, A, b)  # noqa: E731
    trajectories = {lr: optim.gradient_descent(grad, x0, lr, steps) for lr in lrs}
    shown = list(range(0, steps + 1, every))

    def render(lr, step):
        return gd_frame(A, b, trajectories[lr], step, lr, lim)

    player = precomputed_player(
        render,
        {"lr": {f"{lr:g}": lr for lr in lrs}, "step": {str(t): t for t in shown}},
        play="step",
        interval=interval,
    )
    player.trajectories = trajectories
    return player


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


def digit_mosaic(rows, pad=1):
    """Tile rows of 8 x 8 digit images into one array, with `pad` blank pixels between.

    Parameters
    ----------
    rows : sequence of ndarray, each shape (n, 64)
    pad : int

    Returns
    -------
    mosaic : ndarray, shape (R * (8 + pad) - pad, n * (8 + pad) - pad)
        Blank (0) between the tiles.
    """
    R, n = len(rows), len(rows[0])
    cell = 8 + pad
    mosaic = np.zeros((R * cell - pad, n * cell - pad))
    for r, imgs in enumerate(rows):
        tiles = np.asarray(imgs).reshape(n, 8, 8)  # (n, 64) -> (n, 8, 8)
        for c in range(n):
            mosaic[r * cell : r * cell + 8, c * cell : c * cell + 8] = tiles[c]
    return mosaic


def plot_digit_mosaic(ax, rows, row_labels, pad=1):
    """Rows of 8 x 8 digits as one image (grey scale clipped to 0..1), rows labelled.

    Parameters
    ----------
    ax : matplotlib Axes
    rows : sequence of ndarray, each shape (n, 64)
    row_labels : sequence of str
    pad : int
    """
    ax.imshow(
        np.clip(digit_mosaic(rows, pad), 0, 1),
        cmap="gray_r",
        vmin=0,
        vmax=1,
        interpolation="nearest",
    )
    ax.set_xticks([])
    ax.set_yticks(
        [4 + r * (8 + pad) for r in range(len(rows))], labels=row_labels, fontsize=8
    )
    ax.tick_params(length=0)


def reconstruction_figure(images, components, mean, k, figsize=(6.4, 1.9)):
    """Digits (top) and their reconstructions from the first `k` principal axes."""
    Z = decomp.pca_transform(images, components[:k], mean)  # (n, k)
    rec = decomp.pca_reconstruct(Z, components[:k], mean)  # (n, 64)
    err = float(np.mean(np.sum((images - rec) ** 2, axis=1)))
    fig, ax = plt.subplots(figsize=figsize)
    plot_digit_mosaic(ax, [images, rec], ["original", f"k = {k}"])
    ax.set_title(
        f"{k} of 64 numbers per image; mean squared error {err:.2f}", fontsize=9
    )
    fig.tight_layout(pad=0.3)
    return fig


def reconstruction_player(images, components, mean, ks):
    """A slider over k showing `reconstruction_figure` for each k (precomputed)."""
    return precomputed_player(
        lambda k: reconstruction_figure(images, components, mean, k),
        {"k": {str(k): k for k in ks}},
        play="k",
        interval=700,
    )
