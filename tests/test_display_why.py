"""lalib.display.why: chapter 6's pictures draw the numbers they are given."""

import numpy as np
import pytest

from lalib import decomp, optim
from lalib.display import why
from lalib.display.figures import new_figure


def test_plot_affine_pieces_marks_the_kinks_and_draws_the_slope():
    x = np.linspace(-1, 1, 201)  # (201,)
    y = np.abs(x)  # two affine pieces, one kink at 0
    slope = np.sign(x)  # (201,)
    fig, axes = new_figure(figsize=(4, 4), nrows=2, sharex=True)
    why.plot_affine_pieces(
        axes, x, {"line": x, "abs": y}, slope, np.array([0.0]), title="t"
    )
    top, bottom = axes
    labels = [ln.get_label() for ln in top.lines]
    assert labels == ["line", "abs", "1 kinks"]
    kink = top.lines[-1]
    assert np.allclose(kink.get_xdata(), [0.0]) and np.allclose(kink.get_ydata(), [0.0])
    assert kink.get_color() == top.lines[1].get_color()  # the curve it belongs to
    (steps,) = bottom.lines
    assert steps.get_drawstyle() == "steps-mid"
    assert np.array_equal(steps.get_ydata(), slope)
    assert top.get_title() == "t" and bottom.get_ylabel() == "slope"
    assert bottom.get_xlim() == (-1.0, 1.0)


# ---- the explorables: traits, validation, describe(), the bundle, sync


def _valley():
    theta = np.deg2rad(30)
    R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    A = R @ np.diag([1.0, 10.0]) @ R.T  # (2, 2)
    return A, A @ np.array([1.0, 0.5])


def test_gd_explorer_defaults_and_lalib_numbers():
    A, b = _valley()
    g = why.GDExplorer(A, b, [-2.5, 2.0], 0.18, presets=[0.1, 0.21])
    assert g.steps == 20 and g.lim == 3.0 and g.symbol == "x"
    assert np.array_equal(g.center, [0.0, 0.0]) and g.presets == [0.1, 0.21]
    expected = optim.gradient_descent(
        lambda x: optim.quadratic_grad(x, A, b), np.array([-2.5, 2.0]), 0.18, 20
    )
    assert np.allclose(g.trajectory, expected, rtol=0, atol=0)
    assert np.allclose(g.minimizer, [1.0, 0.5])
    assert np.isclose(g.rate, 0.82)
    assert g.describe() == (
        "GDExplorer: eigenvalues 1.00 and 10.00, lr 0.180, 20 steps from "
        "(-2.50, 2.00): converges (factor 0.820 per step; 2/lambda_max = 0.200)"
    )
    g.lr = 0.21
    assert "does not converge (factor 1.100" in repr(g)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"A": np.eye(3)}, r"A must have shape \(2, 2\), got \(3, 3\)"),
        ({"A": [[1.0, 2.0], [0.0, 1.0]]}, "A must be symmetric"),
        ({"A": [[1.0, 0.0], [0.0, -1.0]]}, "positive definite"),
        ({"b": [1.0, 2.0, 3.0]}, r"b must have shape \(2,\), got \(3,\)"),
        ({"x0": [[0.0, 0.0]]}, r"x0 must have shape \(2,\), got \(1, 2\)"),
        ({"lr": 0.0}, r"lr must lie in \(0, 10\]"),
        ({"steps": 2.5}, "steps must be an integer in 0..200"),
        ({"steps": 201}, "steps must be an integer in 0..200"),
        ({"x0": [np.nan, 0.0]}, "finite"),
    ],
)
def test_gd_explorer_refuses_bad_input(kwargs, match):
    A, b = _valley()
    args = {"A": A, "b": b, "x0": [0.0, 0.0], "lr": 0.1} | kwargs
    with pytest.raises(ValueError, match=match):
        why.GDExplorer(**args)


def test_gd_explorer_state_round_trip():
    A, b = _valley()
    g = why.GDExplorer(A, b, [-2.5, 2.0], 0.1)
    state = g.get_state()
    assert state["A"] == A.tolist() and state["x0"] == [-2.5, 2.0]
    assert state["lr"] == 0.1 and state["steps"] == 20
    A2 = np.diag([2.0, 4.0])
    g.set_state({"A": A2.tolist(), "b": [2.0, 4.0], "x0": [1.5, -0.5], "lr": 0.3})
    assert np.array_equal(g.A, A2) and np.allclose(g.minimizer, [1.0, 1.0])
    assert np.array_equal(g.x0, [1.5, -0.5]) and g.lr == 0.3
    assert g.trajectory.shape == (21, 2)


def test_explorers_bundle_their_modules_and_css():
    for cls, module, marker in [
        (why.GDExplorer, "gd.js", "gdQuadratic"),
        (why.PCAExplorer, "pca.js", "function pca2"),
        (why.ReconstructionExplorer, "recon.js", "function rebuild"),
    ]:
        assert cls._module == module
        assert f"// {module}" in cls._esm and marker in cls._esm
        assert "import " not in cls._esm and "</" not in cls._esm
        assert ".la-explorable" in cls._css and ".la-why" in cls._css


def test_pca_explorer_matches_decomp(rng):
    X = rng.standard_normal((12, 2)) @ np.array([[2.0, 0.8], [0.0, 0.5]])
    p = why.PCAExplorer(X)
    comps, var, _ = decomp.pca(X, 2)
    assert np.allclose(p.pca[0], comps) and np.allclose(p.pca[1], var)
    assert np.allclose(p.explained_variance_ratio, var / var.sum())
    assert p.describe().startswith("PCAExplorer: 12 points; PC1 = (")
    assert f"{100 * var[0] / var.sum():.1f} % of the variance" in p.describe()
    p.set_state({"points": [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]})
    assert p.points.shape == (3, 2) and p.get_state()["points"][2] == [2.0, 2.0]
    assert np.allclose(p.explained_variance_ratio, [1.0, 0.0])
    assert "PC1 = (0.707, 0.707) explains 100.0 %" in repr(p)


@pytest.mark.parametrize(
    "points, match",
    [
        (np.zeros((1, 2)), r"2 to 200 rows \(N, 2\), got \(1, 2\)"),
        (np.zeros((3, 3)), r"points must have shape \(n, 2\), got \(3, 3\)"),
        (np.zeros(4), r"points must have shape \(n, 2\), got \(4,\)"),
    ],
)
def test_pca_explorer_refuses_bad_points(points, match):
    with pytest.raises(ValueError, match=match):
        why.PCAExplorer(points)


def test_reconstruction_explorer_matches_decomp(rng):
    X = rng.random((40, 64))
    comps, _, mean = decomp.pca(X, 64)
    images = X[:5]
    r = why.ReconstructionExplorer(images, comps, mean, k=3, labels="abcde")
    assert r.k == 3 and r.labels == list("abcde")
    assert np.array_equal(r.components, np.round(comps, 4))  # stored rounded
    V = np.round(comps, 4)[:3]
    m = np.round(mean, 4)
    expected = decomp.pca_reconstruct(decomp.pca_transform(images, V, m), V, m)
    assert np.allclose(r.reconstructions, expected)
    assert np.allclose(r.squared_errors, np.sum((images - expected) ** 2, axis=1))
    assert r.describe() == (
        "ReconstructionExplorer: 5 images rebuilt from k = 3 of 64 components; "
        f"mean squared error {r.squared_errors.mean():.3f}"
    )
    r.set_state({"k": 64})
    assert np.allclose(r.reconstructions, images, atol=1e-3)  # all: exact but rounding
    exact = why.ReconstructionExplorer(images, comps, mean, k=64, decimals=None)
    assert np.allclose(exact.reconstructions, images, atol=1e-10)
    assert r.get_state()["k"] == 64


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"k": 0}, "k must be an integer in 1..64"),
        ({"k": 65}, "k must be an integer in 1..64"),
        ({"k": True}, "k must be an integer in 1..64"),
        ({"labels": ["a"]}, "labels must name each of the 2 images, got 1"),
        ({"images": np.zeros((2, 63))}, r"images must have shape \(n, 64\)"),
        ({"mean": np.zeros(8)}, r"mean must have shape \(64,\), got \(8,\)"),
    ],
)
def test_reconstruction_explorer_refuses_bad_input(kwargs, match):
    args = {"images": np.zeros((2, 64)), "components": np.eye(64), "mean": np.zeros(64)}
    with pytest.raises(ValueError, match=match):
        why.ReconstructionExplorer(**(args | kwargs))
