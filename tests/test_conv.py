"""Tests for lalib.conv: naive loops == Toeplitz matrix == im2col + GEMM, and gradients.

Every forward/backward test runs against both implementations of `conv2d_forward` and
`conv2d_backward`: the readable one in `lalib.conv` (chapter 2) and the fast one in
`lalib.engine.conv` (chapter 7), so the engine is held to the same answers on every
shape. The engine's own machinery (blocks, scratch buffers) is tested in
tests/test_engine_conv.py.
"""

import inspect
import math
import tracemalloc

import numpy as np
import pytest
from conv_cases import CASES, IDS
from hypothesis import given
from hypothesis import strategies as st
from memory import traced_peak
from scipy.signal import correlate2d

from lalib import conv
from lalib.engine import conv as engine
from lalib.gradcheck import check_gradients

# The two implementations of conv2d_forward / conv2d_backward, same signatures.
BOTH = pytest.mark.parametrize("impl", [conv, engine], ids=["conv", "engine"])


def conv2d(impl, x, w, b=None, stride=1, padding=0):
    """`impl`'s forward pass without the cache (`conv.conv2d` is always the engine)."""
    return impl.conv2d_forward(x, w, b, stride, padding)[0]


def make(rng, N, C, H, W, F, KH, KW, dtype=np.float64):
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((F, C, KH, KW)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    return x, w, b


def expected_hw(H, W, KH, KW, stride, padding):
    (sh, sw) = (stride, stride) if np.ndim(stride) == 0 else stride
    (ph, pw) = (padding, padding) if np.ndim(padding) == 0 else padding
    return (H + 2 * ph - KH) // sh + 1, (W + 2 * pw - KW) // sw + 1


# ---------------------------------------------------------------- shapes, known answers


@BOTH
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_output_shape(rng, impl, case):
    N, C, H, W, F, KH, KW, s, p = case
    x, w, b = make(rng, N, C, H, W, F, KH, KW)
    Ho, Wo = expected_hw(H, W, KH, KW, s, p)
    assert conv.output_size((H, W), (KH, KW), s, p) == (Ho, Wo)
    assert conv2d(impl, x, w, b, s, p).shape == (N, F, Ho, Wo)
    assert impl.conv2d(x, w, b, s, p).shape == (N, F, Ho, Wo)
    assert conv.conv2d_naive(x, w, b, s, p).shape == (N, F, Ho, Wo)
    assert conv.im2col(x, (KH, KW), s, p).shape == (N, C * KH * KW, Ho * Wo)
    assert conv.toeplitz_matrix(w, (C, H, W), s, p).shape == (F * Ho * Wo, C * H * W)


@BOTH
def test_3x3_filter_over_5x5_image_known_answer(impl):
    # The chapter's example: a 3x3 filter slides over a 5x5 image to give a 3x3 output.
    x = np.arange(25.0).reshape(1, 1, 5, 5)
    w = np.array([[[[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]]])  # Laplacian
    # The Laplacian of a linear ramp is zero everywhere in the interior.
    assert np.array_equal(conv2d(impl, x, w), np.zeros((1, 1, 3, 3)))
    box = np.ones((1, 1, 3, 3))
    # Sum of each 3x3 neighbourhood of 0..24: 9 * centre value.
    centres = np.array([[6.0, 7.0, 8.0], [11.0, 12.0, 13.0], [16.0, 17.0, 18.0]])
    for out in (conv2d(impl, x, box), conv.conv2d(x, box), conv.conv2d_naive(x, box)):
        np.testing.assert_allclose(out[0, 0], 9 * centres)
    T = conv.toeplitz_matrix(box, (1, 5, 5))
    np.testing.assert_allclose(T @ x.ravel(), 9 * centres.ravel())


def test_toeplitz_known_structure():
    # Stride 1, no padding, one channel: each row is the previous one shifted by one,
    # except across an output row boundary, where the shift is KW (= skip a row end).
    w = np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    T = conv.toeplitz_matrix(w, (1, 3, 3))
    assert T.shape == (4, 9)
    np.testing.assert_array_equal(T[0], [1, 2, 0, 3, 4, 0, 0, 0, 0])
    np.testing.assert_array_equal(T[1], np.roll(T[0], 1))
    np.testing.assert_array_equal(T[2], np.roll(T[0], 3))
    np.testing.assert_array_equal(T[3], np.roll(T[0], 4))
    # Every row carries each weight exactly once (no padding).
    largest = np.sort(T, axis=1)[:, -4:]
    np.testing.assert_array_equal(largest, np.tile([1, 2, 3, 4], (4, 1)))


def test_toeplitz_padding_drops_out_of_image_weights():
    # With padding 1, the corner output pixel's window has 5 of its 9 weights in the
    # padding.
    w = np.ones((1, 1, 3, 3))
    T = conv.toeplitz_matrix(w, (1, 4, 4), padding=1)
    nnz_per_row = (T != 0).sum(axis=1).reshape(4, 4)
    np.testing.assert_array_equal(
        nnz_per_row, [[4, 6, 6, 4], [6, 9, 9, 6], [6, 9, 9, 6], [4, 6, 6, 4]]
    )


def test_im2col_known_columns():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    cols = conv.im2col(x, 2, stride=2)[0]  # 4 disjoint 2x2 blocks
    np.testing.assert_array_equal(
        cols.T, [[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]]
    )
    cols = conv.im2col(x, 3, padding=1)[0]  # column 0 is the top-left window, padded
    np.testing.assert_array_equal(cols[:, 0], [0, 0, 0, 0, 0, 1, 0, 4, 5])


def test_col2im_counts_overlaps():
    # Folding columns of ones counts how many windows cover each pixel.
    x_shape = (1, 1, 4, 4)
    counts = conv.col2im(np.ones((1, 9, 4)), x_shape, 3)
    np.testing.assert_array_equal(
        counts[0, 0], [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]]
    )


@BOTH
def test_matches_scipy_correlate2d_single_channel(rng, impl):
    # scipy's correlate2d (valid mode) is the same cross-correlation, one channel at a
    # time.
    x = rng.standard_normal((1, 1, 9, 11))
    w = rng.standard_normal((1, 1, 3, 4))
    expected = correlate2d(x[0, 0], w[0, 0], mode="valid")
    np.testing.assert_allclose(
        conv.conv2d_naive(x, w)[0, 0], expected, rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(
        conv2d(impl, x, w)[0, 0], expected, rtol=1e-12, atol=1e-12
    )
    # "same" with a 3x3 kernel is padding 1.
    w3 = rng.standard_normal((1, 1, 3, 3))
    same = correlate2d(x[0, 0], w3[0, 0], mode="same")
    np.testing.assert_allclose(
        conv.conv2d_naive(x, w3, padding=1)[0, 0], same, atol=1e-12
    )
    np.testing.assert_allclose(conv2d(impl, x, w3, padding=1)[0, 0], same, atol=1e-12)


def test_multichannel_is_sum_of_scipy_channels(rng):
    x = rng.standard_normal((1, 3, 6, 7))
    w = rng.standard_normal((2, 3, 3, 2))
    for f in range(2):
        expected = sum(correlate2d(x[0, c], w[f, c], mode="valid") for c in range(3))
        np.testing.assert_allclose(conv.conv2d_naive(x, w)[0, f], expected, atol=1e-12)


# ------------------------------------------------------- the three views agree


@BOTH
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_im2col_matches_naive(rng, impl, case):
    N, C, H, W, F, KH, KW, s, p = case
    x, w, b = make(rng, N, C, H, W, F, KH, KW)
    np.testing.assert_allclose(
        conv2d(impl, x, w, b, s, p),
        conv.conv2d_naive(x, w, b, s, p),
        rtol=1e-12,
        atol=1e-12,
    )
    np.testing.assert_allclose(
        conv2d(impl, x, w, None, s, p), conv.conv2d_naive(x, w, None, s, p), atol=1e-12
    )


@BOTH
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_toeplitz_matches_naive_and_gives_backward(rng, impl, case):
    N, C, H, W, F, KH, KW, s, p = case
    x, w, b = make(rng, N, C, H, W, F, KH, KW)
    T = conv.toeplitz_matrix(w, (C, H, W), s, p)
    out, cache = impl.conv2d_forward(x, w, b, s, p)
    naive = conv.conv2d_naive(x, w, None, s, p)
    dout = rng.standard_normal(out.shape)
    dx = impl.conv2d_backward(dout, cache)[0]
    for n in range(N):
        np.testing.assert_allclose(T @ x[n].ravel(), naive[n].ravel(), atol=1e-12)
        # The backward pass with respect to the input is multiplication by T transposed.
        np.testing.assert_allclose(T.T @ dout[n].ravel(), dx[n].ravel(), atol=1e-12)


def test_toeplitz_columns_are_responses_to_basis_images(rng):
    # The matrix of a linear map: column k is the map applied to the k-th basis vector.
    C, H, W = 2, 4, 5
    w = rng.standard_normal((3, C, 2, 3))
    basis = np.eye(C * H * W).reshape(C * H * W, C, H, W)  # (CHW, C, H, W)
    # (CHW, F, H', W')
    responses = conv.conv2d_naive(basis, w, stride=(1, 2), padding=1)
    T = conv.toeplitz_matrix(w, (C, H, W), stride=(1, 2), padding=1)
    np.testing.assert_allclose(T, responses.reshape(C * H * W, -1).T, atol=1e-15)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_col2im_is_adjoint_of_im2col(rng, case):
    N, C, H, W, F, KH, KW, s, p = case
    x = rng.standard_normal((N, C, H, W))
    cols = conv.im2col(x, (KH, KW), s, p)
    y = rng.standard_normal(cols.shape)
    back = conv.col2im(y, x.shape, (KH, KW), s, p)
    assert back.shape == x.shape
    np.testing.assert_allclose(np.sum(cols * y), np.sum(x * back), rtol=1e-12)


# --------------------------------------------- the readable version and the engine


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_engine_equals_the_readable_version(rng, case):
    N, C, H, W, F, KH, KW, s, p = case
    x, w, b = make(rng, N, C, H, W, F, KH, KW)
    out, cache = conv.conv2d_forward(x, w, b, s, p)
    out_e, cache_e = engine.conv2d_forward(x, w, b, s, p)
    np.testing.assert_allclose(out_e, out, rtol=1e-12, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    grads = conv.conv2d_backward(dout, cache)
    grads_e = engine.conv2d_backward(dout, cache_e)
    for g_e, g in zip(grads_e, grads, strict=True):
        assert g_e.shape == g.shape and g_e.dtype == g.dtype
        np.testing.assert_allclose(g_e, g, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_conv2d_is_the_engine(rng, monkeypatch, case):
    # The public entry point gives the engine's numbers, bit for bit ...
    N, C, H, W, F, KH, KW, s, p = case
    x, w, b = make(rng, N, C, H, W, F, KH, KW)
    expected = engine.conv2d_forward(x, w, b, s, p)[0]
    np.testing.assert_array_equal(conv.conv2d(x, w, b, s, p), expected)
    # ... because it calls the engine's forward pass, with its arguments.
    forward, calls = engine.conv2d_forward, []

    def spy(*args, **kwargs):
        calls.append(inspect.signature(forward).bind(*args, **kwargs).arguments)
        return forward(*args, **kwargs)

    monkeypatch.setattr(engine, "conv2d_forward", spy)
    np.testing.assert_array_equal(conv.conv2d(x, w, b, s, p), expected)
    assert len(calls) == 1
    assert calls[0]["x"] is x and calls[0]["w"] is w and calls[0]["b"] is b
    assert (calls[0]["stride"], calls[0]["padding"]) == (s, p)


def test_readable_cache_keeps_the_columns(rng):
    x, w, b = make(rng, 2, 3, 6, 5, 4, 3, 2)
    _, (x_c, w_c, cols, stride, padding) = conv.conv2d_forward(x, w, b, (2, 1), 1)
    np.testing.assert_array_equal(x_c, x)
    np.testing.assert_array_equal(w_c, w)
    np.testing.assert_array_equal(cols, conv.im2col(x, (3, 2), (2, 1), 1))
    assert (stride, padding) == ((2, 1), (1, 1))


def test_caches_are_not_interchangeable(rng):
    # Each backward pass takes its own forward pass's cache, and says so otherwise.
    x, w, b = make(rng, 2, 3, 5, 5, 4, 3, 3)
    out, cache = conv.conv2d_forward(x, w, b, padding=1)
    _, cache_e = engine.conv2d_forward(x, w, b, padding=1)
    dout = rng.standard_normal(out.shape)
    with pytest.raises(ValueError, match=r"lalib\.engine\.conv\.conv2d_forward"):
        engine.conv2d_backward(dout, cache)
    with pytest.raises(ValueError, match=r"lalib\.conv\.conv2d_forward"):
        conv.conv2d_backward(dout, cache_e)
    for bad in ((x, w), [x, w, None, (1, 1), (1, 1)], None):
        for impl in (conv, engine):
            with pytest.raises(ValueError, match=r"cache must"):
                impl.conv2d_backward(dout, bad)


# ------------------------------------------------------------------------ gradients


@BOTH
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradients_match_central_differences(rng, impl, case):
    N, C, H, W, F, KH, KW, s, p = case
    x, w, b = make(rng, N, C, H, W, F, KH, KW)
    out, cache = impl.conv2d_forward(x, w, b, s, p)
    dout = rng.standard_normal(out.shape)
    grads = impl.conv2d_backward(dout, cache)
    assert [g.shape for g in grads] == [x.shape, w.shape, b.shape]
    assert all(g.dtype == np.float64 for g in grads)
    errors = check_gradients(
        lambda x, w, b: conv2d(impl, x, w, b, s, p), (x, w, b), grads, dout
    )
    assert max(errors) < 1e-8, errors


@BOTH
def test_backward_without_bias_gives_bias_gradient(rng, impl):
    # db is returned even when forward had no bias: the gradient a bias would receive.
    x, w, _ = make(rng, 2, 2, 5, 5, 3, 3, 3)
    out, cache = impl.conv2d_forward(x, w)
    dout = rng.standard_normal(out.shape)
    db = impl.conv2d_backward(dout, cache)[2]
    np.testing.assert_allclose(db, dout.sum(axis=(0, 2, 3)))


@BOTH
def test_backward_does_not_modify_dout(rng, impl):
    x, w, b = make(rng, 2, 2, 5, 5, 3, 3, 3)
    out, cache = impl.conv2d_forward(x, w, b, 1, 1)
    dout = rng.standard_normal(out.shape)
    dout_copy = dout.copy()
    x_copy = x.copy()
    impl.conv2d_backward(dout, cache)
    np.testing.assert_array_equal(dout, dout_copy)
    np.testing.assert_array_equal(x, x_copy)


# --------------------------------------------------------------------------- dtypes


@BOTH
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(rng, impl, dtype):
    x, w, b = make(rng, 2, 3, 6, 6, 4, 3, 3, dtype)
    # A float64 bias is cast to the dtype of x and w.
    out, cache = impl.conv2d_forward(x, w, b.astype(np.float64), 2, 1)
    assert out.dtype == dtype
    dx, dw, db = impl.conv2d_backward(np.ones(out.shape, dtype=np.float64), cache)
    assert (dx.dtype, dw.dtype, db.dtype) == (dtype, dtype, dtype)
    assert impl.conv2d(x, w, b, 2, 1).dtype == dtype
    assert conv.conv2d_naive(x, w, b, 2, 1).dtype == dtype
    assert conv.im2col(x, 3, 2, 1).dtype == dtype
    assert conv.col2im(conv.im2col(x, 3, 2, 1), x.shape, 3, 2, 1).dtype == dtype
    assert conv.toeplitz_matrix(w, (3, 6, 6), 2, 1).dtype == dtype


@BOTH
def test_float32_agrees_with_float64(rng, impl):
    x, w, b = make(rng, 2, 8, 10, 10, 6, 3, 3)
    x32, w32, b32 = (a.astype(np.float32) for a in (x, w, b))
    out32, cache32 = impl.conv2d_forward(x32, w32, b32, 1, 1)
    out, cache = impl.conv2d_forward(x, w, b, 1, 1)
    np.testing.assert_allclose(out32, out, rtol=1e-4, atol=1e-4)
    dout = rng.standard_normal(out.shape)
    grads32 = impl.conv2d_backward(dout.astype(np.float32), cache32)
    for g32, g in zip(grads32, impl.conv2d_backward(dout, cache), strict=True):
        assert g32.dtype == np.float32
        np.testing.assert_allclose(g32, g, rtol=1e-3, atol=1e-3)


@BOTH
def test_integer_input_becomes_float64(impl):
    x = np.arange(25).reshape(1, 1, 5, 5)
    w = np.ones((1, 1, 3, 3), dtype=int)
    out = conv2d(impl, x, w)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, conv.conv2d_naive(x, w))


@BOTH
def test_non_contiguous_input(rng, impl):
    x = rng.standard_normal((5, 5, 2, 3)).transpose(2, 3, 0, 1)  # (2, 3, 5, 5), a view
    w = rng.standard_normal((2, 3, 3, 3))
    np.testing.assert_allclose(
        conv2d(impl, x, w, None, 1, 1), conv.conv2d_naive(x, w, None, 1, 1)
    )


# ------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "x_shape, w_shape, b_shape, stride, padding, match",
    [
        ((2, 3, 5, 5), (4, 2, 3, 3), None, 1, 0, r"C=3 channels .*\(2, 3, 5, 5\).*C=2"),
        (
            (3, 5, 5),
            (4, 3, 3, 3),
            None,
            1,
            0,
            r"x must have 4 dimensions .*\(3, 5, 5\)",
        ),
        ((1, 3, 5, 5), (3, 3, 3), None, 1, 0, r"w must have 4 dimensions"),
        (
            (1, 3, 5, 5),
            (4, 3, 3, 3),
            (3,),
            1,
            0,
            r"b must have shape \(F,\) = \(4,\), got \(3,\)",
        ),
        (
            (1, 3, 5, 5),
            (4, 3, 7, 3),
            None,
            1,
            0,
            r"kernel .*\(7, 3\) is larger .*\(5, 5\)",
        ),
        ((1, 3, 5, 5), (4, 3, 8, 8), None, 1, 1, r"\(8, 8\) is larger .*\(7, 7\)"),
        ((1, 3, 5, 5), (4, 3, 3, 3), None, 0, 0, r"stride must be an int >= 1"),
        ((1, 3, 5, 5), (4, 3, 3, 3), None, -1, 0, r"stride"),
        ((1, 3, 5, 5), (4, 3, 3, 3), None, 1, -1, r"padding must be an int >= 0"),
        ((1, 3, 5, 5), (4, 3, 3, 3), None, 1.5, 0, r"stride must be an int"),
        ((1, 3, 5, 5), (4, 3, 3, 3), None, (1, 2, 3), 0, r"stride"),
        ((1, 3, 5, 5), (4, 3, 3, 3), None, True, 0, r"stride"),
    ],
)
@pytest.mark.parametrize(
    "fn",
    [
        conv.conv2d,
        conv.conv2d_naive,
        conv.conv2d_forward,
        engine.conv2d_forward,
        engine.conv2d,
    ],
    ids=["conv2d", "conv2d_naive", "conv2d_forward", "engine_forward", "engine_conv2d"],
)
def test_bad_input_raises(fn, x_shape, w_shape, b_shape, stride, padding, match):
    x, w = np.zeros(x_shape), np.zeros(w_shape)
    b = None if b_shape is None else np.zeros(b_shape)
    with pytest.raises(ValueError, match=match):
        fn(x, w, b, stride, padding)


@BOTH
def test_bad_dout_raises(rng, impl):
    x, w, b = make(rng, 2, 3, 5, 5, 4, 3, 3)
    out, cache = impl.conv2d_forward(x, w, b)
    with pytest.raises(ValueError, match=r"\(2, 4, 3, 3\).*got \(2, 4, 9\)"):
        impl.conv2d_backward(np.zeros((2, 4, 9)), cache)


@BOTH
def test_complex_input_raises(impl):
    x, w = np.zeros((1, 1, 3, 3), dtype=complex), np.zeros((1, 1, 2, 2))
    for fn in (conv.conv2d, impl.conv2d, impl.conv2d_forward):
        with pytest.raises(ValueError, match="real numbers"):
            fn(x, w)
    _, cache = impl.conv2d_forward(x.real, w)
    with pytest.raises(ValueError, match="dout must hold real numbers"):
        impl.conv2d_backward(np.zeros((1, 1, 2, 2), dtype=complex), cache)


def test_toeplitz_bad_input_raises():
    w = np.zeros((2, 3, 3, 3))
    with pytest.raises(ValueError, match=r"input_shape has C=2 .*w expects C=3"):
        conv.toeplitz_matrix(w, (2, 5, 5))
    with pytest.raises(ValueError, match=r"input_shape must be \(C, H, W\)"):
        conv.toeplitz_matrix(w, (1, 3, 5, 5))
    with pytest.raises(ValueError, match=r"larger"):
        conv.toeplitz_matrix(w, (3, 2, 5))


def test_im2col_col2im_bad_input_raises():
    with pytest.raises(ValueError, match=r"x must have 4 dimensions"):
        conv.im2col(np.zeros((3, 5, 5)), 3)
    with pytest.raises(ValueError, match=r"kernel_size"):
        conv.im2col(np.zeros((1, 3, 5, 5)), 0)
    with pytest.raises(
        ValueError, match=r"cols must have shape .*\(1, 27, 9\).*got \(1, 27, 8\)"
    ):
        conv.col2im(np.zeros((1, 27, 8)), (1, 3, 5, 5), 3)
    with pytest.raises(ValueError, match=r"x_shape must be"):
        conv.col2im(np.zeros((1, 27, 9)), (3, 5, 5), 3)


# ------------------------------------------------------------------ property tests


@st.composite
def conv_problems(draw):
    N, C, F = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    KH, KW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    # At most KH - 1 rows and KW - 1 columns of padding (more is refused).
    ph, pw = draw(st.integers(0, KH - 1)), draw(st.integers(0, KW - 1))
    # Image at least as large as the kernel once padded.
    H = draw(st.integers(max(1, KH - 2 * ph), 9))
    W = draw(st.integers(max(1, KW - 2 * pw), 9))
    seed = draw(st.integers(0, 2**32 - 1))
    return (N, C, H, W, F, KH, KW, (sh, sw), (ph, pw), seed)


@BOTH
@given(conv_problems())
def test_property_three_views_agree(impl, problem):
    N, C, H, W, F, KH, KW, s, p, seed = problem
    x, w, b = make(np.random.default_rng(seed), N, C, H, W, F, KH, KW)
    fast = conv2d(impl, x, w, b, s, p)
    np.testing.assert_allclose(
        fast, conv.conv2d_naive(x, w, b, s, p), rtol=1e-10, atol=1e-10
    )
    T = conv.toeplitz_matrix(w, (C, H, W), s, p)
    # T @ x[n] for all n at once, plus the bias
    via_T = (x.reshape(N, -1) @ T.T).reshape(fast.shape) + b[:, None, None]
    np.testing.assert_allclose(fast, via_T, rtol=1e-10, atol=1e-10)


@BOTH
@given(conv_problems())
def test_property_backward_is_the_adjoint(impl, problem):
    # conv2d is bilinear in (x, w): <conv(x, w), dout> = <x, dx> = <w, dw>, exactly
    # (no finite differences), and db sums dout over everything but F.
    N, C, H, W, F, KH, KW, s, p, seed = problem
    rng = np.random.default_rng(seed)
    x, w, _ = make(rng, N, C, H, W, F, KH, KW)
    out, cache = impl.conv2d_forward(x, w, None, s, p)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = impl.conv2d_backward(dout, cache)
    inner = np.sum(out * dout)
    scale = np.sqrt(np.sum(out**2) * np.sum(dout**2)) + 1e-300
    assert abs(inner - np.sum(x * dx)) <= 1e-10 * scale
    assert abs(inner - np.sum(w * dw)) <= 1e-10 * scale
    np.testing.assert_allclose(db, dout.sum(axis=(0, 2, 3)), atol=1e-12)


# ------------------------------------------------------------------- empty problems


@BOTH
@pytest.mark.parametrize(
    "x_shape, w_shape",
    [((0, 3, 5, 5), (2, 3, 3, 3)), ((2, 0, 5, 5), (2, 0, 3, 3))],  # no images/channels
    ids=["no_images", "no_channels"],
)
def test_empty_batch_or_channels(rng, impl, x_shape, w_shape):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    out, cache = impl.conv2d_forward(x, w, padding=1)
    assert out.shape == (x_shape[0], w_shape[0], 5, 5)
    np.testing.assert_array_equal(out, conv.conv2d_naive(x, w, padding=1))
    dx, dw, db = impl.conv2d_backward(rng.standard_normal(out.shape), cache)
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == (w_shape[0],)
    assert not np.any(dx) and not np.any(dw)  # empty, or no images to learn from


# ------------------------------------------------------------------- NaN and inf


def reference_grads(x, w, dout, stride, padding):
    """dx and dw from their definitions, so that a NaN or an inf reaches exactly the
    entries that read it: dx by the Toeplitz matrix (``dout @ T``, per image), dw one
    kernel offset at a time, ``dw[f, c, u, v] = sum_{n,i,j} dout[n, f, i, j] *
    x_pad[n, c, i*sh + u, j*sw + v]``."""
    (sh, sw), (ph, pw) = (
        (v, v) if np.ndim(v) == 0 else tuple(v) for v in (stride, padding)
    )
    N, C, H, W = x.shape
    KH, KW = w.shape[2:]
    Ho, Wo = dout.shape[2:]
    T = conv.toeplitz_matrix(w, (C, H, W), stride, padding)  # (F*H'*W', C*H*W)
    dx = (dout.reshape(N, -1) @ T).reshape(x.shape)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    dw = np.empty(w.shape)
    for u in range(KH):
        for v in range(KW):
            patch = xp[:, :, u : u + sh * Ho : sh, v : v + sw * Wo : sw]  # (N,C,H',W')
            dw[:, :, u, v] = np.einsum("nfij,ncij->fc", dout, patch)
    return dx, dw


def dw_by_naive(x, dout, padding):
    """dw of a stride-1 convolution with conv2d_naive: the padded images as a batch of
    C images of N channels, dout as F filters of N channels of size (H', W')."""
    ph, pw = (padding, padding) if np.ndim(padding) == 0 else padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    dw = conv.conv2d_naive(xp.transpose(1, 0, 2, 3), dout.transpose(1, 0, 2, 3))
    return dw.transpose(1, 0, 2, 3)  # (C, F, KH, KW) -> (F, C, KH, KW)


@BOTH
def test_nan_pixel_and_weight_known_answers(impl):
    # A NaN pixel at the left edge: the engine's stride-1 columns past the right edge
    # read it from the row above, and 0 * NaN once put it in dw[0, 1] too.
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 0] = np.nan
    out, cache = impl.conv2d_forward(x, np.ones((1, 1, 2, 2)))
    dx, dw, db = impl.conv2d_backward(np.ones(out.shape), cache)
    np.testing.assert_array_equal(dw[0, 0], [[np.nan, 0], [np.nan, 0]])
    np.testing.assert_array_equal(dx[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])
    np.testing.assert_array_equal(db, [4])
    # A NaN weight reaches the pixels it multiplies, (0..1, 0..1), and no others.
    w = np.ones((1, 1, 2, 2))
    w[0, 0, 0, 0] = np.nan
    out, cache = impl.conv2d_forward(np.zeros((1, 1, 3, 3)), w)
    dx, dw, _ = impl.conv2d_backward(np.ones(out.shape), cache)
    nan = np.nan
    np.testing.assert_array_equal(dx[0, 0], [[nan, nan, 1], [nan, nan, 2], [1, 2, 1]])
    np.testing.assert_array_equal(dw, 0)


@BOTH
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_nonfinite_input_reaches_only_the_gradients_it_touches(rng, impl, case, bad):
    N, C, H, W, F, KH, KW, s, p = case
    x, w, _ = make(rng, N, C, H, W, F, KH, KW)
    # Corners and edges: the stride-1 engine wraps rows around the right edge.
    pixels = {(0, 0, 0, 0), (N - 1, C - 1, H - 1, W - 1), (0, C - 1, H // 2, 0)}
    pixels |= {(N - 1, 0, H // 2, W - 1), (0, 0, H - 1, 0), (0, 0, 0, W - 1)}
    weights = {(0, 0, 0, 0), (F - 1, C - 1, KH - 1, KW - 1), (0, C - 1, KH - 1, 0)}
    problems = [("x", spot) for spot in pixels] + [("w", spot) for spot in weights]
    for which, spot in problems:
        xb, wb = x.copy(), w.copy()
        (xb if which == "x" else wb)[spot] = bad
        # An inf may raise the invalid flag inside a matrix product (0 * inf in the
        # padding of a BLAS tile); what counts is where it ends up.
        with np.errstate(invalid="ignore"):
            out, cache = impl.conv2d_forward(xb, wb, None, s, p)
            dout = rng.standard_normal(out.shape)
            dx, dw, db = impl.conv2d_backward(dout, cache)
            ref_dx, ref_dw = reference_grads(xb, wb, dout, s, p)
            _, ref_cache = conv.conv2d_forward(xb, wb, None, s, p)
            readable = conv.conv2d_backward(dout, ref_cache)
            by_naive = dw_by_naive(xb, dout, p) if s == 1 else None
        np.testing.assert_allclose(dx, ref_dx, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(dw, ref_dw, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(db, dout.sum(axis=(0, 2, 3)), rtol=1e-12)
        # The bad value reaches the gradient of the other factor only.
        assert np.all(np.isfinite(dx if which == "x" else dw))
        for g, r in zip((dx, dw), readable[:2], strict=False):
            np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-12)
        if by_naive is not None:  # stride 1: dw as conv2d_naive computes it
            np.testing.assert_allclose(dw, by_naive, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------- sizes and geometry


def conv_entry_points(x, w, stride=1, padding=0):
    """Every public function of lalib.conv and lalib.engine.conv, called on (x, w)."""
    KH, KW = np.shape(w)[2:]
    x_shape = np.shape(x)
    try:  # columns of the right shape for col2im, when the geometry is valid
        n_out = math.prod(conv.output_size(x_shape[2:], (KH, KW), stride, padding))
    except ValueError:
        n_out = 1
    return {
        "conv2d": lambda: conv.conv2d(x, w, None, stride, padding),
        "conv2d_naive": lambda: conv.conv2d_naive(x, w, None, stride, padding),
        "conv2d_forward": lambda: conv.conv2d_forward(x, w, None, stride, padding),
        "engine_forward": lambda: engine.conv2d_forward(x, w, None, stride, padding),
        "engine_conv2d": lambda: engine.conv2d(x, w, None, stride, padding),
        "toeplitz": lambda: conv.toeplitz_matrix(w, x_shape[1:], stride, padding),
        "im2col": lambda: conv.im2col(x, (KH, KW), stride, padding),
        "col2im": lambda: conv.col2im(
            np.zeros((x_shape[0], x_shape[1] * KH * KW, n_out)),
            x_shape,
            (KH, KW),
            stride,
            padding,
        ),
        "column_blocks": lambda: engine.column_blocks(x, (KH, KW), stride, padding),
        "output_size": lambda: conv.output_size(x_shape[2:], (KH, KW), stride, padding),
    }


@pytest.mark.parametrize("kernel", [(0, 2), (2, 0), (0, 0)])
def test_empty_kernel_raises(kernel):
    x, w = np.ones((1, 1, 4, 4)), np.ones((1, 1, *kernel))
    for name, fn in conv_entry_points(x, w).items():
        with pytest.raises(ValueError) as info:
            fn()
        message = str(info.value)
        if name in ("im2col", "col2im", "column_blocks"):  # they take kernel_size
            assert "kernel_size must be an int >= 1" in message, name
            assert str(kernel) in message, name
        elif name == "output_size":
            assert "kernel_hw must be (KH, KW)" in message and str(kernel) in message
        else:  # the filters' shape, and what it must be
            assert str(w.shape) in message and "KH, KW >= 1" in message, name
    # the reproducer: a (1, 1, 0, 2) kernel once gave a (1, 1, 5, 3) array of biases
    with pytest.raises(ValueError, match=r"\(1, 1, 0, 2\)"):
        conv.conv2d(np.ones((1, 1, 4, 4)), np.ones((1, 1, 0, 2)), np.full(1, 7.0))


@pytest.mark.parametrize("padding", [3, (0, 3), (3, 0), 10**4, 2**63])
def test_padding_beyond_kernel_minus_one_is_refused_cheaply(padding):
    # Padding beyond KH - 1 only adds windows of zeros; with stride 10**4 and padding
    # 10**4 a 3x3 output once built a 3 GB padded image first.
    x, w = np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3))
    tracemalloc.start()
    try:
        for name, fn in conv_entry_points(x, w, stride=10**4, padding=padding).items():
            with pytest.raises(ValueError, match=r"padding .* at most .* \(2, 2\)"):
                fn()
                pytest.fail(name)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**20


@BOTH
@pytest.mark.parametrize("padding", [(2, 2), (2, 0), (0, 2)])
def test_full_padding_is_allowed(rng, impl, padding):
    # KH - 1 rows of padding: the "full" convolution, every window still overlaps x.
    x, w, b = make(rng, 2, 2, 4, 5, 3, 3, 3)
    out, cache = impl.conv2d_forward(x, w, b, 1, padding)
    np.testing.assert_allclose(out, conv.conv2d_naive(x, w, b, 1, padding), atol=1e-12)
    dout = rng.standard_normal(out.shape)
    errs = check_gradients(
        lambda x, w: impl.conv2d_forward(x, w, b, 1, padding)[0],
        (x, w),
        impl.conv2d_backward(dout, cache)[:2],
        dout,
    )
    assert max(errs) < 1e-7


@pytest.mark.parametrize(
    ("stride", "equivalent"),
    [(10**4, 3), (2**59, 3), (2**63, 3), (10**30, 3), ((1, 2**63), (1, 3))],
    ids=["1e4", "2^59", "2^63", "1e30", "pair"],
)
def test_huge_stride_over_a_single_output(rng, stride, equivalent):
    # With one output along an axis the stride is never applied: any value must give
    # the same numbers as a small one (2**59 once raised OverflowError), cheaply.
    x, w, b = make(rng, 2, 2, 3, 3, 2, 3, 3)
    expected = conv.conv2d_naive(x, w, b, equivalent, 1)
    assert conv.output_size((3, 3), (3, 3), stride, 1) == expected.shape[2:]
    tracemalloc.start()
    try:
        for impl in (conv, engine):
            out, cache = impl.conv2d_forward(x, w, b, stride, 1)
            np.testing.assert_allclose(out, expected, atol=1e-12)
            dout = rng.standard_normal(out.shape)
            ref = conv.conv2d_backward(
                dout, conv.conv2d_forward(x, w, b, equivalent, 1)[1]
            )
            for g, r in zip(impl.conv2d_backward(dout, cache), ref, strict=True):
                np.testing.assert_allclose(g, r, atol=1e-12)
        np.testing.assert_allclose(
            conv.conv2d(x, w, b, stride, 1), expected, atol=1e-12
        )
        np.testing.assert_allclose(
            conv.conv2d_naive(x, w, b, stride, 1), expected, atol=1e-12
        )
        cols = conv.im2col(x, 3, stride, 1)
        np.testing.assert_array_equal(cols, conv.im2col(x, 3, equivalent, 1))
        np.testing.assert_array_equal(
            conv.col2im(cols, x.shape, 3, stride, 1),
            conv.col2im(cols, x.shape, 3, equivalent, 1),
        )
        np.testing.assert_array_equal(
            conv.toeplitz_matrix(w, (2, 3, 3), stride, 1),
            conv.toeplitz_matrix(w, (2, 3, 3), equivalent, 1),
        )
        blocks = [c.copy() for *_, c in engine.column_blocks(x, 3, stride, 1)]
        assert len(blocks) == 1
        np.testing.assert_array_equal(blocks[0].reshape(cols.shape), cols)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**20


@BOTH
def test_kernel_that_fits_only_thanks_to_padding(rng, impl):
    x, w, b = make(rng, 2, 2, 5, 5, 3, 7, 3)
    for padding in (1, (1, 0)):  # 7 rows fit in 5 + 2 * 1
        out, cache = impl.conv2d_forward(x, w, b, 1, padding)
        assert out.shape == (2, 3, 1, 5 if padding == 1 else 3)
        np.testing.assert_allclose(out, conv.conv2d_naive(x, w, b, 1, padding))
    for padding in (0, (0, 1)):  # ... but not in 5
        with pytest.raises(ValueError, match=r"\(7, 3\) is larger .*\(5, "):
            impl.conv2d_forward(x, w, b, 1, padding)


@pytest.mark.parametrize(
    "call",
    [
        lambda: conv.output_size((5.5, 6), (3, 2)),
        lambda: conv.output_size((-3, 5), (1, 1)),
        lambda: conv.output_size((-3, -3), (1, 1), padding=2),
        lambda: conv.output_size((5, 5), (2.0, 2)),
        lambda: conv.output_size((5, 5), (True, 2)),
        lambda: conv.output_size((5, 5, 5), (2, 2)),
        lambda: conv.output_size(5, (2, 2)),
        lambda: conv.toeplitz_matrix(np.ones((1, 1, 2, 2)), (1, 3.9, 3.9)),
        lambda: conv.toeplitz_matrix(np.ones((1, 1, 2, 2)), (True, 3, 3)),
        lambda: conv.toeplitz_matrix(np.ones((1, 1, 2, 2)), (1, -3, 3)),
        lambda: conv.col2im(np.ones((1, 4, 4)), (1, 1, 3.0, 3), 2),
        lambda: conv.im2col(np.ones((1, 1, 3, 3)), 2.0),
        lambda: conv.im2col(np.ones((1, 1, 3, 3)), True),
        lambda: conv.im2col(np.ones((1, 1, 3, 3)), (2, True)),
        lambda: conv.conv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), None, True),
        lambda: conv.conv2d(
            np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), None, (1, 1.0)
        ),
        lambda: conv.conv2d(
            np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), None, (True, True)
        ),
        lambda: conv.conv2d(
            np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), None, (1, np.True_)
        ),
        lambda: conv.conv2d(
            np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), None, 1, (False, 0)
        ),
        lambda: conv.conv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), None, "2"),
        lambda: conv.conv2d(
            np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), None, [[1, 1]]
        ),
    ],
)
def test_sizes_must_be_integers_not_floats_or_bools(call):
    # Once truncated (3.9 -> 3), computed with (5.5 -> (3.0, 5)) or accepted (True).
    with pytest.raises(ValueError, match=r"must be .*got"):
        call()


def test_sizes_accept_numpy_integers(rng):
    x, w, _ = make(rng, 1, 1, 5, 5, 1, 3, 3)
    assert conv.output_size(np.array([5, 5]), (np.int64(3), 3), np.int32(2)) == (2, 2)
    np.testing.assert_allclose(
        conv.conv2d(x, w, None, (np.int64(2), 1), np.array(1)),
        conv.conv2d_naive(x, w, None, (2, 1), 1),
        atol=1e-12,
    )


# ------------------------------------------------------------------- dtypes of a mix


@BOTH
@pytest.mark.parametrize(
    ("x_dtype", "w_dtype"), [(np.float32, np.float64), (np.float64, np.float32)]
)
def test_result_dtype_counts_x_and_w(rng, impl, x_dtype, w_dtype):
    x, w, b = make(rng, 2, 2, 5, 5, 3, 3, 3)
    x, w = x.astype(x_dtype), w.astype(w_dtype)
    out, cache = impl.conv2d_forward(x, w, b.astype(np.float32), 1, 1)
    assert out.dtype == np.float64  # np.result_type(x, w), whichever is float64
    for g in impl.conv2d_backward(np.ones(out.shape, np.float32), cache):
        assert g.dtype == np.float64
    assert conv.conv2d_naive(x, w, b, 1, 1).dtype == np.float64
    assert conv.conv2d(x, w, b, 1, 1).dtype == np.float64


# ------------------------------------------------------- malformed input, more kinds


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ([[[[1.0, 2.0], [3.0]]]], "rectangular"),
        (np.array([[[["a"]]]]), "real numbers"),
        (np.array([[[[None]]]]), "real numbers"),
        (np.ones((1, 1, 3, 3), complex), "real numbers"),
    ],
    ids=["ragged", "str", "object", "complex"],
)
def test_malformed_arrays_raise_value_error(bad, match):
    x, w = np.ones((1, 1, 3, 3)), np.ones((1, 1, 1, 1))
    for fn in conv_entry_points(x, w).values():
        fn()  # the good input passes everywhere
    calls = [
        lambda: conv.conv2d(bad, w),
        lambda: conv.conv2d(x, bad),
        lambda: conv.conv2d(x, w, bad),
        lambda: conv.conv2d_naive(bad, w),
        lambda: conv.conv2d_forward(x, bad),
        lambda: engine.conv2d_forward(bad, w),
        lambda: conv.toeplitz_matrix(bad, (1, 3, 3)),
        lambda: conv.im2col(bad, 1),
        lambda: conv.col2im(bad, (1, 1, 3, 3), 1),
        lambda: engine.column_blocks(bad, 1),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=match):
            call()
    for impl in (conv, engine):
        out, cache = impl.conv2d_forward(x, w)
        with pytest.raises(ValueError, match=match):
            impl.conv2d_backward(bad, cache)


@BOTH
@pytest.mark.parametrize("cache", [None, (), (1, 2, 3, 4, 5), "cache"])
def test_backward_rejects_what_is_not_a_cache(impl, cache):
    with pytest.raises(ValueError, match="cache must"):
        impl.conv2d_backward(np.ones((1, 1, 2, 2)), cache)


def test_toeplitz_refuses_a_giant_matrix():
    w = np.ones((4, 3, 3, 3))
    with pytest.raises(ValueError, match=r"\(1048576, 786432\), more than .* entries"):
        conv.toeplitz_matrix(w, (3, 512, 512), padding=1)
    assert conv.toeplitz_matrix(w, (3, 8, 8), padding=1).shape == (256, 192)


def test_columns_that_cannot_be_allocated_raise_value_error(monkeypatch):
    # A "full" 256 x 256 kernel over a 2 x 2 image asks for 32 GiB of columns; NumPy's
    # MemoryError becomes a ValueError naming their shape (as LinearLayer does).
    def no_memory(*args, **kwargs):
        raise MemoryError("simulated")

    monkeypatch.setattr(np, "ascontiguousarray", no_memory)
    x = np.ones((1, 1, 2, 2))
    match = r"columns \(N, C\*KH\*KW, H'\*W'\) = \(1, 65536, 66049\).*cannot be"
    with pytest.raises(ValueError, match=match):
        conv.im2col(x, 256, 1, 255)
    with pytest.raises(ValueError, match="cannot be allocated"):
        conv.conv2d_forward(x, np.ones((1, 1, 256, 256)), None, 1, 255)


# ------------------------------------------------- messages, defaults, copies

# The messages a reader sees, in full: each names the argument, what was expected and
# what was received.
MESSAGES = {
    "empty kernel": (
        lambda: conv.conv2d_forward(np.ones((1, 1, 3, 3)), np.ones((1, 1, 0, 2))),
        "w must have a kernel of at least 1x1, (F, C, KH, KW) with KH, KW >= 1, "
        "got shape (1, 1, 0, 2)",
    ),
    "x rank": (
        lambda: conv.conv2d_forward(np.ones((3, 3)), np.ones((1, 1, 2, 2))),
        "x must have 4 dimensions (N, C, H, W), got shape (3, 3)",
    ),
    "w rank": (
        lambda: conv.conv2d_forward(np.ones((1, 1, 3, 3)), np.ones((2, 2))),
        "w must have 4 dimensions (F, C, KH, KW), got shape (2, 2)",
    ),
    "im2col x rank": (
        lambda: conv.im2col(np.ones((3, 3)), 2),
        "x must have 4 dimensions (N, C, H, W), got shape (3, 3)",
    ),
    "toeplitz w rank": (
        lambda: conv.toeplitz_matrix(np.ones((2, 2)), (1, 3, 3)),
        "w must have 4 dimensions (F, C, KH, KW), got shape (2, 2)",
    ),
    "input_hw": (
        lambda: conv.output_size((5, -1), (3, 3)),
        "input_hw must be (H, W), 2 integers >= 0, got (5, -1)",
    ),
    "kernel beyond the padded input": (
        lambda: conv.output_size((1, 5), (4, 3), padding=1),
        "kernel (KH, KW) = (4, 3) is larger than the padded input "
        "(H + 2*padding, W + 2*padding) = (3, 7)",
    ),
    "backward cache": (
        lambda: conv.conv2d_backward(np.ones((1, 1, 2, 2)), [1, 2, 3, 4, 5]),
        "cache must be the (x, w, cols, stride, padding) tuple returned by "
        "lalib.conv.conv2d_forward, got list (a cache from "
        "lalib.engine.conv.conv2d_forward goes to lalib.engine.conv.conv2d_backward)",
    ),
    "transposed backward cache": (
        lambda: conv.conv_transpose2d_backward(np.ones((1, 1, 2, 2)), [1, 2, 3, 4, 5]),
        "cache must be the cache returned by lalib.conv.conv_transpose2d_forward, "
        "got list",
    ),
}
# stride and padding are named in every function that takes them.
for _name, _call in {
    "output_size": lambda **kw: conv.output_size((5, 5), (3, 3), **kw),
    "im2col": lambda **kw: conv.im2col(np.ones((1, 1, 5, 5)), 3, **kw),
    "toeplitz_matrix": lambda **kw: conv.toeplitz_matrix(
        np.ones((1, 1, 3, 3)), (1, 5, 5), **kw
    ),
}.items():
    MESSAGES[f"{_name} stride"] = (
        lambda c=_call: c(stride=0),
        "stride must be an int >= 1 or a pair of them (vertical, horizontal), got 0",
    )
    MESSAGES[f"{_name} padding"] = (
        lambda c=_call: c(padding=(1, -1)),
        "padding must be an int >= 0 or a pair of them (vertical, horizontal), "
        "got (1, -1)",
    )


@pytest.mark.parametrize("case", MESSAGES)
def test_messages_in_full(case):
    call, message = MESSAGES[case]
    with pytest.raises(ValueError) as info:
        call()
    assert str(info.value) == message


def test_stride_and_padding_default_to_1_and_0():
    assert conv.output_size((5, 5), (3, 3)) == (3, 3)
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    # every 3x3 window at stride 1: four columns, the first the top-left window
    cols = conv.im2col(x, 3)
    assert cols.shape == (1, 9, 4)
    np.testing.assert_array_equal(cols[0, :, 0], [0, 1, 2, 4, 5, 6, 8, 9, 10])


def test_float32_bias_is_rounded_to_float32_before_it_is_added():
    # The bias of a float32 convolution is a float32: 2**-24 + 2**-50 rounds to 2**-24,
    # and 1 + 2**-24 is a tie that float32 rounds to 1 (to even). Added in float64 and
    # rounded once, the same sum would round up to 1 + 2**-23.
    x = np.ones((1, 1, 1, 1), np.float32)
    w = np.ones((1, 1, 1, 1), np.float32)
    out, _ = conv.conv2d_forward(x, w, np.array([2.0**-24 + 2.0**-50]))
    assert out.dtype == np.float32 and out[0, 0, 0, 0] == np.float32(1.0)


def test_readable_cache_holds_x_and_w_not_copies(rng):
    x, w, b = make(rng, 2, 3, 5, 5, 4, 3, 3)
    _, cache = conv.conv2d_forward(x, w, b)
    assert cache[0] is x and cache[1] is w


def test_readable_version_copies_neither_bias_nor_dout(rng):
    # 100,000 1x1 filters over one pixel: the output and the bias are the big arrays,
    # and the bias is added where it is.
    x, w, b = make(rng, 1, 1, 1, 1, 100_000, 1, 1)
    peak, (out, _) = traced_peak(lambda: conv.conv2d_forward(x, w, b))
    assert peak < 1.5 * out.nbytes
    # 64 1x1 filters over a 200x200 image: dout is the big array, read where it is.
    x, w, _ = make(rng, 1, 1, 200, 200, 64, 1, 1)
    out, cache = conv.conv2d_forward(x, w)
    dout = rng.standard_normal(out.shape)
    peak, _ = traced_peak(lambda: conv.conv2d_backward(dout, cache))
    assert peak < 0.5 * dout.nbytes


@pytest.mark.parametrize("C", [1, 2])
def test_toeplitz_size_limit_counts_every_entry(monkeypatch, C):
    # (F*H'*W', C*H*W) = (4, 9*C) for a 2x2 filter over a 3x3 image: exactly the limit
    # is allowed, one entry less is not.
    w, shape = np.ones((1, C, 2, 2)), (C, 3, 3)
    monkeypatch.setattr(conv, "_TOEPLITZ_MAX_ENTRIES", 4 * 9 * C)
    assert conv.toeplitz_matrix(w, shape).shape == (4, 9 * C)
    monkeypatch.setattr(conv, "_TOEPLITZ_MAX_ENTRIES", 4 * 9 * C - 1)
    with pytest.raises(
        ValueError, match=rf"\(4, {9 * C}\), more than {36 * C - 1} entries"
    ):
        conv.toeplitz_matrix(w, shape)
