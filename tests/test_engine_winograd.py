"""Tests for lalib.engine.winograd: Winograd F(2x2, 3x3) and F(4x4, 3x3).

The transforms against direct 1-D correlation; the forward pass against the loops of
`conv2d_naive`, the input gradient against the transposed Toeplitz matrix and the
weight gradient against im2col, on the geometries of tests/conv_cases.py with a 3x3
kernel at stride 1; gradient checks in float64; float32 error bounds; what a NaN
reaches.
"""

import numpy as np
import pytest
from conv_cases import CASES, IDS

from lalib import conv
from lalib.engine import winograd
from lalib.gradcheck import check_gradients

TILES = pytest.mark.parametrize("tile", [2, 4])


def make(rng, N, C, H, W, F, dtype=np.float64):
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((F, C, 3, 3)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    return x, w, b


def geometry(case):
    """The case's batch, channels, image and filters, with a 3x3 kernel at stride 1
    and the case's padding capped at 2 (enough to fit the kernel if needed)."""
    N, C, H, W, F, _, _, _, p = case
    ph, pw = (p, p) if np.ndim(p) == 0 else p
    ph, pw = min(ph, 2), min(pw, 2)
    ph, pw = max(ph, 3 - H, 0), max(pw, 3 - W, 0)  # the kernel must fit
    return (N, C, H, W, F), (ph, pw)


@TILES
def test_transforms_compute_the_1d_correlation(rng, tile):
    AT, G, BT = winograd.transform_matrices(tile)
    assert AT.shape == (tile, tile + 2) and G.shape == (tile + 2, 3)
    assert BT.shape == (tile + 2, tile + 2)
    for _ in range(5):
        d, g = rng.standard_normal(tile + 2), rng.standard_normal(3)
        direct = np.array([d[i : i + 3] @ g for i in range(tile)])
        np.testing.assert_allclose(AT @ ((G @ g) * (BT @ d)), direct, atol=1e-13)


@TILES
def test_transforms_compute_the_2d_tile(rng, tile):
    AT, G, BT = winograd.transform_matrices(tile)
    d, g = rng.standard_normal((tile + 2, tile + 2)), rng.standard_normal((3, 3))
    Y = AT @ ((G @ g @ G.T) * (BT @ d @ BT.T)) @ AT.T
    direct = conv.conv2d_naive(d[None, None], g[None, None])[0, 0]
    np.testing.assert_allclose(Y, direct, atol=1e-12)


@TILES
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_and_backward_match_loops_and_toeplitz(rng, case, tile):
    (N, C, H, W, F), p = geometry(case)
    x, w, b = make(rng, N, C, H, W, F)
    out, cache = winograd.conv2d_forward(x, w, b, 1, p, tile=tile)
    np.testing.assert_allclose(out, conv.conv2d_naive(x, w, b, 1, p), atol=1e-11)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = winograd.conv2d_backward(dout, cache)
    T = conv.toeplitz_matrix(w, (C, H, W), 1, p)  # dx[n] = T.T dout[n]
    np.testing.assert_allclose(dx.reshape(N, -1), dout.reshape(N, -1) @ T, atol=1e-11)
    cols = conv.im2col(x, 3, 1, p)  # (N, 9C, H'W')
    dw_ref = np.einsum("nfp,nkp->fk", dout.reshape(N, F, -1), cols).reshape(w.shape)
    np.testing.assert_allclose(dw, dw_ref, atol=1e-10)
    np.testing.assert_allclose(db, dout.sum(axis=(0, 2, 3)), atol=1e-12)


@TILES
@pytest.mark.parametrize("block_bytes", [1, 3000, 2**30])
def test_every_cut_into_blocks_gives_the_same_answer(
    rng, monkeypatch, tile, block_bytes
):
    monkeypatch.setattr(winograd, "TILE_BLOCK_BYTES", block_bytes)
    x, w, b = make(rng, 3, 2, 11, 9, 3)
    out, cache = winograd.conv2d_forward(x, w, b, 1, 1, tile=tile)
    np.testing.assert_allclose(out, conv.conv2d_naive(x, w, b, 1, 1), atol=1e-11)
    dout = rng.standard_normal(out.shape)
    _, ref = conv.conv2d_forward(x, w, b, 1, 1)
    for g, g_ref in zip(
        winograd.conv2d_backward(dout, cache), conv.conv2d_backward(dout, ref)
    ):
        np.testing.assert_allclose(g, g_ref, atol=1e-10)


@TILES
def test_gradients_match_central_differences(rng, tile):
    x, w, b = make(rng, 2, 2, 6, 5, 3)
    out, cache = winograd.conv2d_forward(x, w, b, 1, (1, 2), tile=tile)
    dout = rng.standard_normal(out.shape)
    grads = winograd.conv2d_backward(dout, cache)
    check_gradients(
        lambda x, w, b: winograd.conv2d_forward(x, w, b, 1, (1, 2), tile=tile)[0],
        (x, w, b),
        grads,
        dout,
    )


@pytest.mark.parametrize(("tile", "bound"), [(2, 2e-6), (4, 5e-5)])
def test_float32_error_is_bounded(rng, tile, bound):
    # Measured 3.3e-7 (F(2x2)) and 4.6e-6 (F(4x4)) of max |y| at C = 64.
    x, w, _ = make(rng, 2, 64, 16, 16, 16, np.float32)
    w /= np.float32(np.sqrt(9 * 64))
    out, cache = winograd.conv2d_forward(x, w, None, 1, 1, tile=tile)
    exact = conv.conv2d_naive(x.astype(np.float64), w.astype(np.float64), None, 1, 1)
    assert out.dtype == np.float32
    assert np.abs(out - exact).max() <= bound * np.abs(exact).max()
    grads = winograd.conv2d_backward(np.ones_like(out), cache)
    assert [g.dtype for g in grads] == [np.float32] * 3


@TILES
def test_nan_pixel_reaches_the_tiles_over_it(rng, tile):
    N, C, H, W, F, p = 2, 2, 9, 10, 3, 1
    x, w, b = make(rng, N, C, H, W, F)
    r, q = 4, 7
    x[1, 0, r, q] = np.nan
    out, cache = winograd.conv2d_forward(x, w, b, 1, p, tile=tile)
    # Output tile (i, j) covers outputs i*m..i*m+m-1 and reads input rows
    # i*m - p .. i*m - p + m + 1: it is NaN if that patch holds the pixel.
    rows = np.arange(out.shape[2]) // tile * tile - p
    cols = np.arange(out.shape[3]) // tile * tile - p
    hit = ((rows <= r) & (r < rows + tile + 2))[:, None] & (
        (cols <= q) & (q < cols + tile + 2)
    )[None, :]
    expected = np.zeros(out.shape, dtype=bool)
    expected[1] = hit  # every filter of image 1, nothing of image 0
    np.testing.assert_array_equal(np.isnan(out), expected)
    # ... which covers at least the windows over the pixel (the exact answer).
    exact = np.isnan(conv.conv2d_naive(x, w, b, 1, p))
    assert np.all(expected[exact])
    # The weight gradient: every filter's weights for channel 0 only.
    _, dw, db = winograd.conv2d_backward(np.ones_like(out), cache)
    assert np.isnan(dw[:, 0]).all() and not np.isnan(dw[:, 1]).any()
    assert not np.isnan(db).any()


def test_nan_weight_reaches_its_output_channel(rng):
    x, w, b = make(rng, 2, 2, 8, 8, 3)
    w[1, 0, 2, 2] = np.nan
    out, _ = winograd.conv2d_forward(x, w, b, 1, 0)
    expected = np.zeros(out.shape, dtype=bool)
    expected[:, 1] = True
    np.testing.assert_array_equal(np.isnan(out), expected)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"w": np.ones((2, 3, 5, 5))}, r"3x3 filters.*\(2, 3, 5, 5\)"),
        ({"w": np.ones((2, 3, 3, 2))}, r"3x3 filters.*\(2, 3, 3, 2\)"),
        ({"stride": 2}, r"stride 1.*\(2, 2\)"),
        ({"stride": (1, 2)}, r"stride 1.*\(1, 2\)"),
        ({"tile": 3}, "tile must be 2 or 4"),
        ({"tile": 4.0}, "tile must be 2 or 4"),
        ({"tile": True}, "tile must be 2 or 4"),
        ({"padding": 3}, "padding"),
        ({"x": np.ones((2, 4, 6, 6))}, "channels"),
    ],
)
def test_bad_input_is_refused(kwargs, match):
    args = {"x": np.ones((2, 3, 6, 6)), "w": np.ones((2, 3, 3, 3))} | kwargs
    with pytest.raises(ValueError, match=match):
        winograd.conv2d_forward(**args)


def test_backward_checks_its_arguments(rng):
    x, w, b = make(rng, 2, 2, 6, 6, 3)
    out, cache = winograd.conv2d_forward(x, w, b, 1, 1)
    with pytest.raises(
        ValueError, match=r"dout must have .*\(2, 3, 6, 6\).*\(2, 3, 6, 5\)"
    ):
        winograd.conv2d_backward(out[..., :5], cache)
    with pytest.raises(ValueError, match="cache must come from lalib.engine.winograd"):
        winograd.conv2d_backward(out, conv.conv2d_forward(x, w, b, 1, 1)[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("tile", [2, 4])
def test_scratch_left_by_an_earlier_call_does_not_leak(dtype, tile, rng):
    # The scratch buffers are kept between calls: a call on NaN data of another shape
    # must leave nothing that a later call reads (the zero border is rewritten).
    cases = [
        ((3, 4, 17, 13), (2, 4, 9, 7), 1),
        ((1, 4, 30, 30), (3, 4, 8, 8), (0, 2)),
        ((2, 4, 12, 12), (2, 4, 12, 12), 2),
    ]
    for bad_shape, shape, padding in cases:
        x_bad = np.full(bad_shape, np.nan, dtype)
        out_bad, cache_bad = winograd.conv2d_forward(
            x_bad, np.ones((5, bad_shape[1], 3, 3), dtype), None, 1, 1, tile=tile
        )
        winograd.conv2d_backward(np.full(out_bad.shape, np.nan, dtype), cache_bad)
        x = rng.standard_normal(shape).astype(dtype)
        w = rng.standard_normal((5, shape[1], 3, 3)).astype(dtype)
        out, cache = winograd.conv2d_forward(x, w, None, 1, padding, tile=tile)
        x64, w64 = x.astype(np.float64), w.astype(np.float64)
        np.testing.assert_allclose(
            out, conv.conv2d_naive(x64, w64, None, 1, padding), atol=1e-4
        )
        dout = rng.standard_normal(out.shape).astype(dtype)
        grads = winograd.conv2d_backward(dout, cache)
        _, cache64 = conv.conv2d_forward(x64, w64, None, 1, padding)
        expected = conv.conv2d_backward(dout.astype(np.float64), cache64)
        for got, want in zip(grads, expected):
            assert got.dtype == dtype
            scale = max(1.0, np.abs(want).max())
            np.testing.assert_allclose(got, want, atol=1e-3 * scale)
