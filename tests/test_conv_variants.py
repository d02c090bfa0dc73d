"""Convolution variants as matrices: the 1x1 convolution, the transposed convolution
(``T.T``, the input gradient of a convolution) and receptive fields of stacks."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lalib import conv
from lalib.gradcheck import check_gradients

# (N, C_in, H, W, C_out, KH, KW, stride, padding, output_padding)
CASES = [
    (1, 1, 3, 3, 1, 3, 3, 1, 0, 0),
    (1, 1, 3, 4, 1, 3, 3, 2, 0, 0),
    (2, 3, 4, 4, 2, 3, 3, 2, 1, 1),
    (2, 2, 3, 5, 3, 4, 4, 2, 1, 0),
    (1, 2, 2, 3, 2, 3, 2, (2, 3), (1, 0), (1, 2)),
    (3, 1, 1, 1, 2, 2, 3, 3, 0, 2),
]
IDS = [f"case{i}" for i in range(len(CASES))]


def make(rng, N, C_in, H, W, C_out, KH, KW, dtype=np.float64):
    x = rng.standard_normal((N, C_in, H, W)).astype(dtype)
    w = rng.standard_normal((C_in, C_out, KH, KW)).astype(dtype)
    b = rng.standard_normal(C_out).astype(dtype)
    return x, w, b


def out_hw(H, W, KH, KW, s, p, op):
    (sh, sw), (ph, pw), (oh, ow) = (
        conv._pair(s, "s", 1),
        conv._pair(p, "p", 0),
        conv._pair(op, "op", 0),
    )
    return (H - 1) * sh - 2 * ph + KH + oh, (W - 1) * sw - 2 * pw + KW + ow


# ----------------------------------------------------------------- transposed conv


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_output_shape(rng, case):
    N, C_in, H, W, C_out, KH, KW, s, p, op = case
    x, w, b = make(rng, N, C_in, H, W, C_out, KH, KW)
    out = conv.conv_transpose2d(x, w, b, s, p, op)
    assert out.shape == (N, C_out, *out_hw(H, W, KH, KW, s, p, op))


def test_known_answer_stamps_overlap():
    # Two pixels, stride 2, a 3x3 filter of ones: the stamps overlap in column 2.
    out = conv.conv_transpose2d(
        np.array([[[[1.0, 2.0]]]]), np.ones((1, 1, 3, 3)), None, 2
    )
    expected = np.array([[1.0, 1.0, 3.0, 2.0, 2.0]] * 3)
    np.testing.assert_array_equal(out[0, 0], expected)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_equals_toeplitz_transpose(rng, case):
    N, C_in, H, W, C_out, KH, KW, s, p, op = case
    x, w, _ = make(rng, N, C_in, H, W, C_out, KH, KW)
    out = conv.conv_transpose2d(x, w, None, s, p, op)
    Ho, Wo = out.shape[2:]
    # T is the convolution from (C_out, Ho, Wo) images with filters w (C_in as F).
    T = conv.toeplitz_matrix(w, (C_out, Ho, Wo), s, p)  # (C_in*H*W, C_out*Ho*Wo)
    assert T.shape == (C_in * H * W, C_out * Ho * Wo)
    for n in range(N):
        np.testing.assert_allclose(out[n].ravel(), T.T @ x[n].ravel(), atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_equals_conv2d_input_gradient(rng, case):
    N, C_in, H, W, C_out, KH, KW, s, p, op = case
    x, w, _ = make(rng, N, C_in, H, W, C_out, KH, KW)
    Ho, Wo = out_hw(H, W, KH, KW, s, p, op)
    y = rng.standard_normal((N, C_out, Ho, Wo))
    conv_out, cache = conv.conv2d_forward(y, w, None, s, p)
    assert conv_out.shape == x.shape  # the convolution maps back to x's shape
    dy, _, _ = conv.conv2d_backward(x, cache)
    np.testing.assert_allclose(conv.conv_transpose2d(x, w, None, s, p, op), dy)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_torch(rng, case):
    torch = pytest.importorskip("torch")
    N, C_in, H, W, C_out, KH, KW, s, p, op = case
    x, w, b = make(rng, N, C_in, H, W, C_out, KH, KW)
    ref = torch.nn.functional.conv_transpose2d(
        torch.from_numpy(x),
        torch.from_numpy(w),
        torch.from_numpy(b),
        stride=s,
        padding=p,
        output_padding=op,
    ).numpy()
    np.testing.assert_allclose(
        conv.conv_transpose2d(x, w, b, s, p, op), ref, atol=1e-12
    )


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradients_match_central_differences(rng, case):
    N, C_in, H, W, C_out, KH, KW, s, p, op = case
    x, w, b = make(rng, N, C_in, H, W, C_out, KH, KW)
    out, cache = conv.conv_transpose2d_forward(x, w, b, s, p, op)
    dout = rng.standard_normal(out.shape)
    grads = conv.conv_transpose2d_backward(dout, cache)
    assert [g.shape for g in grads] == [x.shape, w.shape, b.shape]
    errors = check_gradients(
        lambda x, w, b: conv.conv_transpose2d(x, w, b, s, p, op), (x, w, b), grads, dout
    )
    assert max(errors) < 1e-8, errors


def test_backward_input_gradient_is_a_convolution(rng):
    x, w, b = make(rng, 2, 3, 4, 4, 2, 3, 3)
    out, cache = conv.conv_transpose2d_forward(x, w, b, 2, 1, 1)
    dout = rng.standard_normal(out.shape)
    dx, _, db = conv.conv_transpose2d_backward(dout, cache)
    np.testing.assert_allclose(dx, conv.conv2d_forward(dout, w, None, 2, 1)[0])
    np.testing.assert_allclose(db, dout.sum(axis=(0, 2, 3)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(rng, dtype):
    x, w, b = make(rng, 2, 2, 3, 3, 3, 3, 3, dtype)
    out, cache = conv.conv_transpose2d_forward(x, w, b.astype(np.float64), 2, 1)
    grads = conv.conv_transpose2d_backward(np.ones(out.shape), cache)
    assert out.dtype == dtype
    assert all(g.dtype == dtype for g in grads)
    ref = conv.conv_transpose2d(*(a.astype(np.float64) for a in (x, w, b)), 2, 1)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)


def test_integer_input_becomes_float64():
    out = conv.conv_transpose2d(np.ones((1, 1, 2, 2), int), np.ones((1, 1, 2, 2), int))
    assert out.dtype == np.float64


def test_nan_reaches_exactly_the_stamp_of_its_pixel(rng):
    x, w, _ = make(rng, 2, 2, 3, 3, 2, 3, 3)
    x[1, 0, 1, 2] = np.nan
    out = conv.conv_transpose2d(x, w, None, 2, 1)
    expected = np.zeros(out.shape, bool)
    # Pixel (1, 2) stamps rows 2*1-1 .. 2*1+1 and columns 2*2-1 .. 2*2+1 (padding 1).
    expected[1, :, 1:4, 3:6] = True
    np.testing.assert_array_equal(np.isnan(out), expected)


def test_nan_dout_reaches_the_inputs_under_it(rng):
    x, w, b = make(rng, 1, 2, 3, 3, 2, 3, 3)
    out, cache = conv.conv_transpose2d_forward(x, w, b, 2)
    dout = np.zeros(out.shape)
    dout[0, 1, 4, 4] = np.nan  # output (4, 4) is stamped by input pixels 1..2 x 1..2
    dx, dw, db = conv.conv_transpose2d_backward(dout, cache)
    expected = np.zeros(dx.shape, bool)
    expected[0, :, 1:3, 1:3] = True
    np.testing.assert_array_equal(np.isnan(dx), expected)
    np.testing.assert_array_equal(np.isnan(db), [False, True])
    # Output 4 = 2*2 + 0 = 2*1 + 2: only kernel offsets 0 and 2 reach it, per axis.
    expected_dw = np.zeros(dw.shape, bool)
    expected_dw[:, 1, ::2, ::2] = True
    np.testing.assert_array_equal(np.isnan(dw), expected_dw)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(x=np.ones((1, 2, 3, 3)), w=np.ones((3, 1, 3, 3))), "C_in"),
        (dict(x=np.ones((2, 3, 3)), w=np.ones((2, 1, 3, 3))), "x"),
        (dict(x=np.ones((1, 2, 3, 3)), w=np.ones((2, 1, 3))), "w"),
        (dict(x=np.ones((1, 2, 3, 0)), w=np.ones((2, 1, 3, 3))), "pixel"),
        (dict(x=np.ones((1, 2, 3, 3)), w=np.ones((2, 1, 0, 3))), "kernel"),
        (dict(x=np.ones((1, 2, 3, 3)), w=np.ones((2, 1, 3, 3)), b=np.ones(2)), "C_out"),
        (dict(x=np.ones((1, 2, 3, 3)), w=np.ones((2, 1, 3, 3)), stride=0), "stride"),
        (dict(x=np.ones((1, 2, 3, 3)), w=np.ones((2, 1, 3, 3)), padding=3), "padding"),
        (
            dict(x=np.ones((1, 2, 3, 3)), w=np.ones((2, 1, 3, 3)), output_padding=1),
            "output_padding",
        ),
        (
            dict(x=np.ones((1, 1, 1, 1)), w=np.ones((1, 1, 3, 3)), padding=2),
            "crops",
        ),
        (
            dict(x=np.ones((1, 1, 5, 5)), w=np.ones((1, 1, 3, 3)), stride=2**40),
            "allocated",
        ),
        (dict(x=np.ones((1, 1, 3, 3)) + 1j, w=np.ones((1, 1, 3, 3))), "x"),
    ],
)
def test_bad_input_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        conv.conv_transpose2d_forward(**kwargs)


def test_bad_dout_and_cache_raise(rng):
    x, w, b = make(rng, 1, 2, 3, 3, 2, 3, 3)
    out, cache = conv.conv_transpose2d_forward(x, w, b)
    with pytest.raises(ValueError, match="dout"):
        conv.conv_transpose2d_backward(np.ones((1, 2, 4, 5)), cache)
    conv_cache = conv.conv2d_forward(np.ones((1, 2, 5, 5)), w)[1]
    with pytest.raises(ValueError, match="cache"):
        conv.conv_transpose2d_backward(out, conv_cache)
    with pytest.raises(ValueError, match="cache"):
        conv.conv_transpose2d_backward(out, tuple(cache))


@given(
    N=st.integers(1, 2),
    C_in=st.integers(1, 3),
    C_out=st.integers(1, 3),
    H=st.integers(1, 4),
    W=st.integers(1, 4),
    KH=st.integers(1, 4),
    KW=st.integers(1, 4),
    sh=st.integers(1, 3),
    sw=st.integers(1, 3),
    data=st.data(),
)
def test_hypothesis_toeplitz_and_adjoint(N, C_in, C_out, H, W, KH, KW, sh, sw, data):
    ph, pw = data.draw(st.integers(0, KH - 1)), data.draw(st.integers(0, KW - 1))
    oh, ow = data.draw(st.integers(0, sh - 1)), data.draw(st.integers(0, sw - 1))
    Ho, Wo = out_hw(H, W, KH, KW, (sh, sw), (ph, pw), (oh, ow))
    if min(Ho, Wo) < 1:
        with pytest.raises(ValueError, match="crops"):
            conv.conv_transpose2d(
                np.ones((N, C_in, H, W)), np.ones((C_in, C_out, KH, KW)), None,
                (sh, sw), (ph, pw), (oh, ow),
            )  # fmt: skip
        return
    rng = np.random.default_rng(H * 1000 + W * 100 + KH * 10 + KW)
    x, w, _ = make(rng, N, C_in, H, W, C_out, KH, KW)
    out, cache = conv.conv_transpose2d_forward(x, w, None, (sh, sw), (ph, pw), (oh, ow))
    T = conv.toeplitz_matrix(w, (C_out, Ho, Wo), (sh, sw), (ph, pw))
    np.testing.assert_allclose(
        out.reshape(N, -1), x.reshape(N, -1) @ T, atol=1e-12
    )  # row-wise T.T @ x[n]
    # Adjointness: <T.T x, y> == <x, T y>, the backward pass applied to y.
    y = rng.standard_normal(out.shape)
    dx = conv.conv_transpose2d_backward(y, cache)[0]
    np.testing.assert_allclose(np.sum(out * y), np.sum(x * dx), rtol=1e-10)


# ------------------------------------------------------------------ 1x1 convolution


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 1, 1, 1), (3, 4, 2, 2)])
def test_1x1_convolution_is_a_matmul_over_channels(rng, shape):
    N, C, H, W = shape
    F = 3
    x = rng.standard_normal(shape)
    w = rng.standard_normal((F, C, 1, 1))
    b = rng.standard_normal(F)
    out = conv.conv2d(x, w, b)
    ref = np.einsum("fc,nchw->nfhw", w[:, :, 0, 0], x) + b[:, None, None]
    np.testing.assert_allclose(out, ref, atol=1e-12)
    # The same as one GEMM (F, C) @ (C, N*H*W).
    gemm = w[:, :, 0, 0] @ x.transpose(1, 0, 2, 3).reshape(C, N * H * W)
    np.testing.assert_allclose(
        out - b[:, None, None],
        gemm.reshape(F, N, H, W).transpose(1, 0, 2, 3),
        atol=1e-12,
    )


# ------------------------------------------------------------------ receptive field


def brute_force_field(layers, length=64):
    """Size and jump of the last layer's field along one axis, read off the product of
    the stack's 1-D Toeplitz matrices (filters of ones: no cancellation)."""
    M, n = np.eye(length), length
    for k, s in layers:
        T = conv.toeplitz_matrix(np.ones((1, 1, 1, k)), (1, 1, n), (1, s))
        M, n = T @ M, T.shape[0]
    centre = n // 2
    reached = [np.flatnonzero(M[row]) for row in (centre, centre + 1)]
    size = reached[0][-1] - reached[0][0] + 1
    assert size == len(reached[0])  # a contiguous window
    return int(size), int(reached[1][0] - reached[0][0])


STACKS = [
    [(3, 1)],
    [(3, 1)] * 5,
    [(3, 1), (3, 2), (3, 1), (3, 1), (3, 1)],
    [(3, 2)] * 3,
    [(5, 1), (2, 2), (3, 1), (1, 1)],
    [(7, 2), (3, 2), (1, 1), (3, 3)],
]


@pytest.mark.parametrize("layers", STACKS, ids=[str(s) for s in STACKS])
def test_receptive_field_matches_toeplitz_product(layers):
    fields = conv.receptive_field(layers)
    assert len(fields) == len(layers)
    (size, _), (jump, _) = fields[-1]
    assert (size, jump) == brute_force_field(layers)


def test_receptive_field_grows_by_two_per_3x3_layer():
    sizes = [size for size, _ in conv.receptive_field([(3, 1)] * 5)]
    assert sizes == [(3, 3), (5, 5), (7, 7), (9, 9), (11, 11)]


def test_receptive_field_per_axis_and_empty():
    fields = conv.receptive_field([((3, 1), (2, 1)), ((3, 3), 1)])
    assert fields == [((3, 1), (2, 1)), ((7, 3), (2, 1))]
    assert conv.receptive_field([]) == []


@pytest.mark.parametrize(
    "layers",
    [None, 3, "33", [3], [(3,)], [(3, 1, 1)], [(0, 1)], [(3, 0)], [(2.5, 1)],
     [(True, 1)], [(3, "1")]],
)  # fmt: skip
def test_receptive_field_bad_input(layers):
    with pytest.raises(ValueError, match="layers"):
        conv.receptive_field(layers)


def test_output_is_contiguous_without_bias(rng):
    x, w, _ = make(rng, 1, 2, 3, 3, 2, 3, 3)
    out = conv.conv_transpose2d(x, w, None, 2, 1)  # padding crops the canvas
    assert out.flags.c_contiguous and out.shape == (1, 2, 5, 5)
