"""The LayerNorm explorer's Python side: traits, validation, and the numbers it states,
checked against `lalib.transformer` (and against the formula written out here)."""

import numpy as np
import pytest
import traitlets

from lalib import transformer
from lalib.display.explorable import bundle
from lalib.display.layernorm import DEFAULT_X, EPS, LayerNormExplorer

U = np.array([1.0, -1.0, 0.0]) / np.sqrt(2)
V = np.array([1.0, 1.0, -2.0]) / np.sqrt(6)


def test_defaults_and_bundle():
    ex = LayerNormExplorer()
    np.testing.assert_array_equal(ex.x, DEFAULT_X)
    np.testing.assert_array_equal(DEFAULT_X, [2.0, 0.5, -0.4])
    assert (ex.shift, ex.scale, ex.eps) == (0.0, 1.0, 1e-5)
    assert ex._esm == bundle("layernorm.js") and "la-ln" in ex._css
    assert "layerNorm" in ex._esm and "export default" in ex._esm
    state = ex.get_state()
    assert state["x"] == DEFAULT_X.tolist()
    assert (state["shift"], state["scale"], state["eps"]) == (0.0, 1.0, 1e-5)


def test_helpers_match_lalib_and_the_formula(rng):
    x = rng.uniform(-3, 3, 3)
    ex = LayerNormExplorer(x, shift=2.0, scale=0.5)
    z = 0.5 * x + 2.0
    np.testing.assert_allclose(ex.row(), z, rtol=1e-15)
    P = np.eye(3) - np.ones((3, 3)) / 3
    np.testing.assert_allclose(ex.centred(), P @ z, atol=1e-14)
    np.testing.assert_allclose(
        ex.centred(), transformer.centering_matrix(3) @ z, atol=1e-15
    )
    sigma = np.sqrt(np.mean((z - z.mean()) ** 2) + EPS)
    assert ex.sigma() == pytest.approx(sigma, rel=1e-14)
    np.testing.assert_allclose(ex.normalised(), (z - z.mean()) / sigma, atol=1e-13)
    np.testing.assert_allclose(
        ex.normalised(),
        transformer.layer_norm(z[None], np.ones(3), np.zeros(3))[0],
        atol=1e-15,
    )
    # in the plane: sum 0, norm sqrt(3) up to eps
    assert abs(ex.normalised().sum()) < 1e-12
    norm = np.linalg.norm(ex.centred())
    assert np.linalg.norm(ex.normalised()) == pytest.approx(
        np.sqrt(3) * norm / np.sqrt(norm**2 + 3 * EPS), rel=1e-12
    )


def test_plane_coords_are_coordinates_in_u_and_v(rng):
    ex = LayerNormExplorer(rng.uniform(-3, 3, 3))
    uv = ex.plane_coords()
    assert uv.shape == (2, 2)
    for row, w in zip(uv, [ex.centred(), ex.normalised()], strict=True):
        np.testing.assert_allclose(row, [w @ U, w @ V], atol=1e-14)
        np.testing.assert_allclose(row[0] * U + row[1] * V, w, atol=1e-13)
    # LN(z) is P z scaled by 1 / sigma: the same ray
    np.testing.assert_allclose(uv[1], uv[0] / ex.sigma(), atol=1e-13)


def test_shift_and_scale_leave_the_output():
    ex = LayerNormExplorer()
    before, centred = ex.normalised().copy(), ex.centred().copy()
    ex.shift = 3.0  # P 1 = 0: P z does not move
    np.testing.assert_allclose(ex.centred(), centred, atol=1e-14)
    np.testing.assert_allclose(ex.normalised(), before, atol=1e-14)
    ex.scale = 4.0  # P z four times as long, LN(z) the same up to eps
    np.testing.assert_allclose(ex.centred(), 4 * centred, atol=1e-13)
    np.testing.assert_allclose(ex.normalised(), before, atol=1e-5)
    assert np.abs(ex.normalised() - before).max() > 1e-9  # eps shows, a little


def test_constant_row_gives_zero():
    ex = LayerNormExplorer([0.1, 0.1, 0.1], shift=1.0, scale=2.0)
    assert ex.is_constant()
    assert np.abs(ex.centred()).max() < 1e-15
    assert np.abs(ex.normalised()).max() < 1e-12
    assert "all entries equal: P z = 0 and LN(z) = 0 (up to eps)" in repr(ex)
    assert not LayerNormExplorer().is_constant()


def test_describe_states_the_numbers():
    ex = LayerNormExplorer()
    text = repr(ex)
    assert text.startswith("LayerNormExplorer: x = (2.00, 0.50, -0.40), z = 1.00 x")
    assert "mean 0.700; P z = (1.300, -0.200, -1.100), |P z| = 1.715" in text
    assert f"sigma = {ex.sigma():.3f}" in text
    out = ex.normalised()
    assert f"LN(z) = ({out[0]:.3f}, {out[1]:.3f}, {out[2]:.3f})" in text
    assert text.endswith("sum 0.000, norm 1.732")


def test_setting_traits_from_python_resyncs():
    ex = LayerNormExplorer()
    ex.x = [1.0, -2.0, 3.0]
    ex.shift, ex.scale = -1.0, 2.0
    state = ex.get_state()
    assert state["x"] == [1.0, -2.0, 3.0]
    assert (state["shift"], state["scale"]) == (-1.0, 2.0)
    with pytest.raises(ValueError, match="read-only"):
        ex.x[0] = 1.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"x": np.ones(4)}, r"x must have shape \(3,\), got \(4,\)"),
        ({"x": np.ones((1, 3))}, r"x must have shape \(3,\), got \(1, 3\)"),
        ({"x": [1.0, np.nan, 0.0]}, "x must be finite"),
        ({"x": [3.5, 0.0, 0.0]}, r"x must have entries in \[-3, 3\], got \(3.50"),
        ({"shift": 4.0}, r"shift must be in \[-3, 3\], got 4.0"),
        ({"scale": 0.0}, r"scale must be in \[0.25, 4\], got 0.0"),
        ({"scale": 8.0}, r"scale must be in \[0.25, 4\], got 8.0"),
    ],
)
def test_refuses_what_it_cannot_draw(kwargs, message):
    with pytest.raises((ValueError, traitlets.TraitError), match=message):
        LayerNormExplorer(**kwargs)


def test_refuses_bad_values_set_later():
    ex = LayerNormExplorer()
    with pytest.raises((ValueError, traitlets.TraitError), match="got 5.0"):
        ex.shift = 5
    assert ex.shift == 0.0
    with pytest.raises(traitlets.TraitError):
        ex.eps = 1e-3  # LayerNorm's eps is fixed: lalib's default
