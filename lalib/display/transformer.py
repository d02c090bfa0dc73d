"""Pictures for the chapter "The transformer block": the geometry of LayerNorm in d = 3.

Display code only: the points are computed by `lalib.transformer` in the chapter and
passed in; this module only fixes an orthonormal basis of the plane x + y + z = 0 to
draw them in.
"""

import numpy as np

#: An orthonormal basis (u, v) of the plane x + y + z = 0, the range of P for d = 3.
PLANE_BASIS = np.array([[1.0, -1.0, 0.0], [1.0, 1.0, -2.0]]) / np.sqrt(
    [[2.0], [6.0]]
)  # (2, 3)


def plane_coordinates(points):
    """Coordinates (N, 2) in `PLANE_BASIS` of points (N, 3) of the plane x+y+z = 0."""
    return np.asarray(points, dtype=float) @ PLANE_BASIS.T  # (N, 3) @ (3, 2) -> (N, 2)


def plot_layer_norm_geometry(ax_space, ax_plane, x, centred, normalised):
    """Two views of LayerNorm for rows of width 3.

    Left (`ax_space`, a 3-D Axes): the rows `x` and their centred versions on the
    plane x + y + z = 0, joined by segments parallel to (1, 1, 1). Right (`ax_plane`):
    the centred rows and the normalised rows in coordinates of that plane; the
    normalised ones lie on the circle of radius sqrt(3).

    Parameters
    ----------
    ax_space : matplotlib Axes3D
    ax_plane : matplotlib Axes
    x, centred, normalised : ndarray, shape (N, 3)
        The rows, ``P x`` and ``LayerNorm(x)`` (gamma = 1, beta = 0).
    """
    x, centred, normalised = (
        np.asarray(a, dtype=float) for a in (x, centred, normalised)
    )
    for name, a in (("x", x), ("centred", centred), ("normalised", normalised)):
        if a.ndim != 2 or a.shape[1] != 3 or a.shape != x.shape:
            raise ValueError(
                f"{name} must have shape (N, 3), as x, got {a.shape} (x: {x.shape})"
            )
    lim = float(np.abs(np.concatenate([x, centred])).max()) * 1.1
    s, t = np.meshgrid(np.linspace(-lim, lim, 2), np.linspace(-lim, lim, 2))
    ax_space.plot_surface(s, t, -s - t, alpha=0.15, color="#4c72b0")
    for a, b in zip(x, centred, strict=True):
        ax_space.plot(*np.stack([a, b]).T, color="#999999", lw=0.8)
    ax_space.scatter(*x.T, color="#dd8452", s=14, label="x", depthshade=False)
    ax_space.scatter(*centred.T, color="#4c72b0", s=14, label="P x", depthshade=False)
    for setter in (ax_space.set_xlim, ax_space.set_ylim, ax_space.set_zlim):
        setter(-lim, lim)
    ax_space.set_xlabel("x₁", fontsize=8, labelpad=-8)
    ax_space.set_ylabel("x₂", fontsize=8, labelpad=-8)
    ax_space.set_zlabel("x₃", fontsize=8, labelpad=-8)
    ax_space.set_xticklabels([])
    ax_space.set_yticklabels([])
    ax_space.set_zticklabels([])
    ax_space.set_title("centring: onto x₁+x₂+x₃ = 0", fontsize=9)
    ax_space.legend(fontsize=8, loc="upper left")

    c2, n2 = plane_coordinates(centred), plane_coordinates(normalised)  # (N, 2)
    angle = np.linspace(0, 2 * np.pi, 200)
    r = np.sqrt(3)
    ax_plane.plot(r * np.cos(angle), r * np.sin(angle), color="#55a868", lw=1)
    for a, b in zip(c2, n2, strict=True):
        ax_plane.plot(*np.stack([a, b]).T, color="#999999", lw=0.8)
    ax_plane.scatter(*c2.T, color="#4c72b0", s=14, label="P x", zorder=3)
    ax_plane.scatter(*n2.T, color="#55a868", s=14, label="LayerNorm(x)", zorder=3)
    ax_plane.set_aspect("equal")
    ax_plane.axhline(0, color="#cccccc", lw=0.6, zorder=0)
    ax_plane.axvline(0, color="#cccccc", lw=0.6, zorder=0)
    ax_plane.set_xlabel("u", fontsize=8)
    ax_plane.set_ylabel("v", fontsize=8)
    ax_plane.tick_params(labelsize=7)
    ax_plane.set_title("scaling: onto the circle of radius √3", fontsize=9)
    ax_plane.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
