"""Tests for lalib.engine.fft: convolution by the convolution theorem.

The forward pass against the loops of `conv2d_naive`, the input gradient against the
transposed Toeplitz matrix and the weight gradient against im2col, on every shape of
tests/conv_cases.py (any kernel, stride and padding); gradient checks in float64;
float32 stays float32 with a bounded error; a NaN spreads over its whole image.
"""

import numpy as np
import pytest
from conv_cases import CASES, IDS

from lalib import conv
from lalib.engine import fft
from lalib.gradcheck import check_gradients


def make(rng, N, C, H, W, F, KH, KW, dtype=np.float64):
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((F, C, KH, KW)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    return x, w, b


LARGE = [(2, 3, 12, 10, 4, 7, 7, 1, 3), (2, 2, 13, 11, 3, 11, 9, 2, (5, 4))]


@pytest.mark.parametrize("case", CASES + LARGE, ids=IDS + ["7x7", "11x9s2"])
def test_forward_and_backward_match_loops_and_toeplitz(rng, case):
    N, C, H, W, F, KH, KW, s, p = case
    x, w, b = make(rng, N, C, H, W, F, KH, KW)
    out, cache = fft.conv2d_forward(x, w, b, s, p)
    np.testing.assert_allclose(out, conv.conv2d_naive(x, w, b, s, p), atol=1e-11)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = fft.conv2d_backward(dout, cache)
    T = conv.toeplitz_matrix(w, (C, H, W), s, p)  # dx[n] = T.T dout[n]
    np.testing.assert_allclose(dx.reshape(N, -1), dout.reshape(N, -1) @ T, atol=1e-11)
    cols = conv.im2col(x, (KH, KW), s, p)  # (N, C*KH*KW, H'W')
    dw_ref = np.einsum("nfp,nkp->fk", dout.reshape(N, F, -1), cols).reshape(w.shape)
    np.testing.assert_allclose(dw, dw_ref, atol=1e-10)
    np.testing.assert_allclose(db, dout.sum(axis=(0, 2, 3)), atol=1e-12)


def test_fft_sizes_are_the_smallest_5_smooth_ones():
    def smooth(n):
        for p in (2, 3, 5):
            while n % p == 0:
                n //= p
        return n == 1

    for n in range(300):
        size = fft._fft_size(n)
        assert size >= max(n, 1) and smooth(size)
        assert not any(smooth(k) for k in range(max(n, 1), size))


def test_gradients_match_central_differences(rng):
    x, w, b = make(rng, 2, 2, 7, 6, 3, 4, 3)
    out, cache = fft.conv2d_forward(x, w, b, (2, 1), (2, 1))
    dout = rng.standard_normal(out.shape)
    check_gradients(
        lambda x, w, b: fft.conv2d_forward(x, w, b, (2, 1), (2, 1))[0],
        (x, w, b),
        fft.conv2d_backward(dout, cache),
        dout,
    )


def test_float32_stays_float32_with_a_bounded_error(rng):
    # Measured 1.9e-7 of max |y| for 3x3 at C = 64; an 11 x 11 kernel here.
    x, w, b = make(rng, 2, 16, 20, 20, 8, 11, 11, np.float32)
    w /= np.float32(np.sqrt(w[0].size))
    out, cache = fft.conv2d_forward(x, w, b, 1, 5)
    assert out.dtype == np.float32
    exact = conv.conv2d_naive(*(a.astype(np.float64) for a in (x, w, b)), 1, 5)
    assert np.abs(out - exact).max() <= 2e-6 * np.abs(exact).max()
    grads = fft.conv2d_backward(np.ones_like(out), cache)
    assert [g.dtype for g in grads] == [np.float32] * 3


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_pixel_spreads_over_its_whole_image(rng, bad):
    # The DFT of an image with a NaN (or inf) is NaN at every frequency: unlike direct
    # convolution, every output of that image turns NaN; the other images do not.
    x, w, b = make(rng, 3, 2, 9, 8, 4, 5, 5)
    x[1, 1, 0, 0] = bad
    with np.errstate(invalid="ignore"):
        out, cache = fft.conv2d_forward(x, w, b, 1, 2)
        dx, dw, db = fft.conv2d_backward(np.ones_like(out), cache)
    assert np.isnan(out[1]).all()
    assert np.isfinite(out[[0, 2]]).all()
    np.testing.assert_allclose(
        out[[0, 2]], conv.conv2d_naive(x[[0, 2]], w, b, 1, 2), atol=1e-11
    )
    assert np.isfinite(dx).all()  # dx does not involve x
    assert np.isnan(dw[:, 1]).all() and np.isfinite(dw[:, 0]).all()
    assert np.isfinite(db).all()


def test_nan_weight_spreads_over_its_output_channel(rng):
    x, w, b = make(rng, 2, 2, 8, 8, 3, 5, 5)
    w[2, 1, 4, 0] = np.nan
    out, _ = fft.conv2d_forward(x, w, b, 1, 0)
    expected = np.zeros(out.shape, dtype=bool)
    expected[:, 2] = True
    np.testing.assert_array_equal(np.isnan(out), expected)


def test_bad_input_is_refused(rng):
    x, w, b = make(rng, 2, 2, 6, 6, 3, 3, 3)
    with pytest.raises(ValueError, match="channels"):
        fft.conv2d_forward(x[:, :1], w)
    with pytest.raises(ValueError, match="padding"):
        fft.conv2d_forward(x, w, b, 1, 3)
    out, cache = fft.conv2d_forward(x, w, b, 2, 1)
    with pytest.raises(ValueError, match=r"dout must have .*\(2, 3, 3, 3\)"):
        fft.conv2d_backward(np.ones((2, 3, 6, 6)), cache)
    with pytest.raises(ValueError, match="cache must come from lalib.engine.fft"):
        fft.conv2d_backward(out, conv.conv2d_forward(x, w, b, 2, 1)[1])
