"""lalib.display.plane: the pictures of maps of the plane label what they draw, and
the explorables (PlaneExplorer, FoldExplorer) hold validated, synced NumPy inputs."""

import matplotlib.colors
import numpy as np
import pytest

from lalib import activations, linear
from lalib.display import plane
from lalib.display.explorable import JS_DIR, bundle
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


W1 = np.array([[1.0, 0.5], [-0.5, 1.0]])  # the chapter's two layers
B1 = np.array([0.5, -0.5])
W2 = np.array([[1.0, -1.0], [1.0, 1.0]])
B2 = np.zeros(2)


def test_plane_explorer_defaults_to_the_worked_example():
    p = plane.PlaneExplorer()
    assert np.array_equal(p.W, [[1, 2], [3, 4]])
    assert np.array_equal(p.b, [1, 1]) and np.array_equal(p.x, [5, 6])
    assert np.array_equal(p.y, [18, 40])
    assert p.det == pytest.approx(-2.0)
    assert p.W.dtype == np.float64 and not p.W.flags.writeable


def test_plane_explorer_y_is_lalibs_layer():
    rng = np.random.default_rng(0)
    W, b, x = rng.normal(size=(2, 2)), rng.normal(size=2), rng.normal(size=2)
    p = plane.PlaneExplorer(W, b, x)
    assert np.allclose(p.y, linear.linear(x[None, :], W.T, b)[0])
    assert p.det == pytest.approx(np.linalg.det(W))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"W": np.eye(3)}, r"W must have shape \(2, 2\), got \(3, 3\)"),
        ({"b": [1.0, 2.0, 3.0]}, r"b must have shape \(2,\), got \(3,\)"),
        ({"x": [[1.0, 2.0]]}, r"x must have shape \(2,\), got \(1, 2\)"),
        ({"W": [[np.nan, 0], [0, 1]]}, "finite"),
    ],
)
def test_plane_explorer_validates_shapes(kwargs, message):
    with pytest.raises(ValueError, match=message):
        plane.PlaneExplorer(**kwargs)
    p = plane.PlaneExplorer()
    name, value = next(iter(kwargs.items()))
    with pytest.raises(ValueError, match=message):
        setattr(p, name, value)


@pytest.mark.parametrize(
    ("W", "orientation"),
    [
        ([[1.0, 2.0], [3.0, 4.0]], "flipped (det W < 0)"),
        ([[1.0, 1.0], [0.0, 1.0]], "preserved (det W > 0)"),
        ([[1.0, 2.0], [0.5, 1.0]], "collapsed (det W = 0)"),
    ],
)
def test_plane_explorer_describe_says_det_and_orientation(W, orientation):
    text = plane.PlaneExplorer(W).describe()
    assert orientation in text
    assert repr(plane.PlaneExplorer(W)) == text
    assert "0x" not in text
    rows = f"[{plane._vec(W[0])}, {plane._vec(W[1])}]"
    assert text.startswith(f"PlaneExplorer: W = {rows}")


def test_plane_explorer_describe_of_the_worked_example():
    assert plane.PlaneExplorer().describe() == (
        "PlaneExplorer: W = [[1.00, 2.00], [3.00, 4.00]], b = [1.00, 1.00], "
        "det W = -2.00, orientation flipped (det W < 0); "
        "x = [5.00, 6.00] goes to y = [18.00, 40.00]"
    )


def test_vec_never_prints_minus_zero():
    assert plane._vec([-0.001, 0.0, -1.5]) == "[0.00, 0.00, -1.50]"


def test_plane_explorer_state_round_trip():
    p = plane.PlaneExplorer()
    state = p.get_state()
    assert state["W"] == [[1.0, 2.0], [3.0, 4.0]]
    assert state["b"] == [1.0, 1.0] and state["x"] == [5.0, 6.0]
    assert state["_figure"] == "plane"
    c, s = np.cos(np.pi / 6), np.sin(np.pi / 6)
    p.set_state({"W": [[c, -s], [s, c]], "x": [1.0, 0.0]})  # as the browser sends it
    assert np.allclose(p.W, [[c, -s], [s, c]]) and np.array_equal(p.x, [1, 0])
    assert np.allclose(p.y, [c + 1, s + 1])
    p.b = np.array([0.0, -2.0])  # Python to the browser
    assert p.get_state()["b"] == [0.0, -2.0]


def test_explorers_bundle_plane_js_with_lamath_and_its_css():
    for cls in (plane.PlaneExplorer, plane.FoldExplorer):
        esm = cls._esm
        assert esm == bundle("plane.js")
        assert "\n// lamath.js\n" in f"\n{esm}" and "\n// ui.js\n" in esm
        assert "\n// plane.js\n" in esm and "export default" in esm
        assert "</" not in esm  # embedded in a <script> of the page
        assert cls._css.endswith((JS_DIR / "plane.css").read_text(encoding="utf-8"))
    js = (JS_DIR / "plane.js").read_text(encoding="utf-8")
    # what the JupyterLab test looks for
    assert '"rotation 30°"' in js and 'label: "Preset"' in js


def test_fold_explorer_counts_match_the_chapter():
    f = plane.FoldExplorer(W1, B1, W2, B2)
    assert f.active_counts() == {"both": 17, "only 0": 30, "only 1": 12, "neither": 22}
    assert f.get_state()["_figure"] == "fold" and f.get_state()["relu"] is True


def test_fold_explorer_y_with_and_without_relu():
    x = np.array([-1.5, 1.0])
    f = plane.FoldExplorer(W1, B1, W2, B2, x=x)
    hidden = linear.linear(x[None, :], W1.T, B1)
    relu_y = linear.linear(activations.relu(hidden), W2.T, B2)[0]
    assert np.allclose(f.y, relu_y)
    f.relu = False
    assert np.allclose(f.y, (W2 @ W1) @ x + W2 @ B1 + B2)
    assert "without a ReLU" in f.describe()
    f.set_state({"b1": [2.0, -0.5]})
    assert np.array_equal(f.b1, [2.0, -0.5])
    assert "b1 = [2.00, -0.50]" in f.describe()


def test_fold_explorer_validates_shapes():
    with pytest.raises(ValueError, match=r"W1 must have shape \(2, 2\), got \(2, 3\)"):
        plane.FoldExplorer(np.zeros((2, 3)), B1, W2, B2)
    with pytest.raises(ValueError, match=r"b2 must have shape \(2,\), got \(3,\)"):
        plane.FoldExplorer(W1, B1, W2, np.zeros(3))
