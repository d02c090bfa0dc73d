"""lalib.display.plane: the pictures of maps of the plane label what they draw."""

import matplotlib.colors
import numpy as np
import pytest

from lalib.display import plane
from lalib.display.figures import new_figure


def _arrow_labels(ax):
    """``{colour: (text, anchor)}`` of the arrows' labels on `ax`."""
    return {
        matplotlib.colors.to_hex(t.get_color()): (t.get_text(), tuple(t.xy))
        for t in ax.texts
        if t.get_text()
    }


RED, BLUE = matplotlib.colors.to_hex("tab:red"), matplotlib.colors.to_hex("tab:blue")


def test_basis_labels_name_the_images_of_e1_and_e2():
    assert plane.basis_labels("W") == ("$We_1$", "$We_2$")
    assert plane.basis_labels("W_2W_1") == ("$W_2W_1e_1$", "$W_2W_1e_2$")
    assert plane.basis_labels("") == ("$e_1$", "$e_2$")
    assert plane.basis_labels() == ("$f(e_1)$", "$f(e_2)$")


def test_plot_grid_map_labels_the_transformed_arrows_with_the_matrix_name():
    W = np.array([[1.0, 2.0], [3.0, 4.0]])
    b = np.array([1.0, -1.0])
    fig, ax = new_figure(figsize=(3, 3))
    plane.plot_grid_map(ax, plane.affine_map(W, b), name="W")
    labels = _arrow_labels(ax)
    # The labels sit at the arrow tips, the images of e1 and e2: W e_j + b.
    assert labels[RED] == ("$We_1$", tuple(W[:, 0] + b))
    assert labels[BLUE] == ("$We_2$", tuple(W[:, 1] + b))


def test_plot_grid_map_default_labels_say_f_of_e():
    fig, ax = new_figure(figsize=(3, 3))
    plane.plot_grid_map(ax, lambda P: np.abs(P) + 1.0)  # not affine: no matrix name
    assert {text for text, _ in _arrow_labels(ax).values()} == {"$f(e_1)$", "$f(e_2)$"}


def test_labels_of_nearly_parallel_arrows_go_to_opposite_sides():
    # W's columns (1, 3) and (2, 4) point almost the same way: each label moves
    # away from the other arrow, so they do not cover each other.
    a, o = np.array([1.0, 3.0]), np.array([2.0, 4.0])
    off_a, off_o = plane._label_offset(a, o), plane._label_offset(o, a)
    normal = np.array([-a[1], a[0]])  # left of the first arrow
    assert np.dot(off_a, normal) * np.dot(off_o, normal) < 0
    assert np.dot(off_a, a) > 0 and np.dot(off_o, o) > 0  # both beyond the tip
    assert np.hypot(*off_a) == pytest.approx(8.0)


def test_plot_grid_map_draws_curves_after_the_map():
    W = np.array([[2.0, 0.0], [0.0, 3.0]])
    points = np.array([[0.0, 0.0], [1.0, 1.0]])
    fig, ax = new_figure(figsize=(3, 3))
    n_before = len(plane.grid_lines())
    plane.plot_grid_map(
        ax, plane.affine_map(W), curves=[(points, {"color": "g", "label": "mark"})]
    )
    (curve,) = [line for line in ax.lines if line.get_label() == "mark"]
    assert np.allclose(curve.get_xydata(), points @ W.T)
    assert len(ax.lines) >= n_before + 1


def test_hinge_lines_lie_on_the_zero_set_inside_the_square():
    W = np.array([[1.0, 0.5], [-0.5, 1.0], [0.0, 2.0]])  # (M, 2)
    b = np.array([0.5, -0.5, 1.0])
    for i, pts in enumerate(plane.hinge_lines(W, b, lim=2.0)):
        assert pts.shape[1] == 2 and len(pts) > 2
        assert np.allclose(pts @ W[i] + b[i], 0)  # neuron i is zero there
        assert np.all(np.abs(pts) <= 2.0 + 1e-12)  # inside the square
        # and it runs from one side of the square to another
        assert np.isclose(np.abs(pts[0]).max(), 2.0)
        assert np.isclose(np.abs(pts[-1]).max(), 2.0)
    horizontal = plane.hinge_lines(W[2:], b[2:])[0]  # 2 y + 1 = 0: y = -1/2
    assert np.allclose(horizontal[:, 1], -0.5)
    assert np.allclose([horizontal[:, 0].min(), horizontal[:, 0].max()], [-2, 2])


def test_hinge_lines_that_miss_the_square_are_empty():
    W = np.array([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0]])
    b = np.array([10.0, -3.0, 1.0])  # x + y = -10, y = 3, and a neuron with w = 0
    assert [len(pts) for pts in plane.hinge_lines(W, b, lim=2.0)] == [0, 0, 0]


def test_transform_player_frames_label_the_interpolated_matrix(monkeypatch):
    seen = []
    real = plane.plot_grid_map

    def spy(ax, f, **kwargs):
        seen.append(kwargs.get("name"))
        return real(ax, f, **kwargs)

    monkeypatch.setattr(plane, "plot_grid_map", spy)
    player = plane.transform_player({"shear": np.array([[1.0, 1.0], [0.0, 1.0]])}, 2)
    assert len(player.frames) == 2 and seen == ["A_t", "A_t"]
