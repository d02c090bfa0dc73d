"""lalib.display.transformer: the LayerNorm picture draws the points it is given."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from lalib import transformer
from lalib.display.transformer import (
    PLANE_BASIS,
    plane_coordinates,
    plot_layer_norm_geometry,
)


def _points():
    x = np.random.default_rng(0).standard_normal((5, 3)) + 1
    centred = x @ transformer.centering_matrix(3)
    normed = transformer.layer_norm(x, np.ones(3), np.zeros(3))
    return x, centred, normed


def test_plane_basis_is_orthonormal_and_spans_the_sum_zero_plane():
    assert np.allclose(PLANE_BASIS @ PLANE_BASIS.T, np.eye(2))
    assert np.allclose(PLANE_BASIS.sum(axis=1), 0)
    _, centred, _ = _points()
    coords = plane_coordinates(centred)  # lengths are kept inside the plane
    assert np.allclose(np.linalg.norm(coords, axis=1), np.linalg.norm(centred, axis=1))


def test_plot_draws_the_given_points():
    x, centred, normed = _points()
    fig = Figure(figsize=(6.4, 3))
    ax3d = fig.add_subplot(1, 2, 1, projection="3d")
    ax2d = fig.add_subplot(1, 2, 2)
    plot_layer_norm_geometry(ax3d, ax2d, x, centred, normed)
    offsets = [c.get_offsets() for c in ax2d.collections]
    assert np.allclose(offsets[0], plane_coordinates(centred))
    assert np.allclose(offsets[1], plane_coordinates(normed))
    # the normalised points lie on the drawn circle of radius sqrt(3)
    assert np.allclose(np.linalg.norm(offsets[1], axis=1), np.sqrt(3), atol=1e-4)
    circle = ax2d.get_lines()[0].get_xydata()
    assert np.allclose(np.linalg.norm(circle, axis=1), np.sqrt(3))
    assert len(ax3d.get_lines()) == len(x)  # one segment from each x to P x


def test_plot_refuses_other_widths():
    fig = Figure()
    ax3d = fig.add_subplot(1, 2, 1, projection="3d")
    ax2d = fig.add_subplot(1, 2, 2)
    with pytest.raises(ValueError, match=r"x must have shape \(N, 3\)"):
        plot_layer_norm_geometry(
            ax3d, ax2d, np.ones((4, 2)), np.ones((4, 2)), np.ones((4, 2))
        )
