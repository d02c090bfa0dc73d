"""lalib.fourier: circulant matrices, their Fourier eigenvectors, and the embedding of
a zero-padded convolution's Toeplitz matrix in a circulant one.

References are independent of the module: explicit loops over the defining formulas
(``cmath.exp`` for the Fourier modes), `lalib.conv.toeplitz_matrix` and
`lalib.conv.conv2d_naive` for the non-circular pieces, ``numpy.fft`` for the spectra.
"""

import cmath
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lalib import conv, fourier

# ------------------------------------------------------------------- loop references


def loop_circulant(c, n):
    """C[i, j] = c_pad[(i - j) mod n], one entry at a time."""
    c_pad = list(c) + [0.0] * (n - len(c))
    C = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            C[i, j] = c_pad[(i - j) % n]
    return C


def loop_convolve(c, x):
    """y[i] = sum_m c[m] x[(i - m) mod n]."""
    n = len(x)
    return np.array(
        [sum(c[m] * x[(i - m) % n] for m in range(len(c))) for i in range(n)]
    )


def loop_conv2d(x, w):
    """out[i, j] = sum_{u, v} w[u, v] x[(i + u) mod H, (j + v) mod W]."""
    H, W = x.shape
    KH, KW = w.shape
    out = np.zeros((H, W))
    for i in range(H):
        for j in range(W):
            for u in range(KH):
                for v in range(KW):
                    out[i, j] += w[u, v] * x[(i + u) % H, (j + v) % W]
    return out


def loop_circulant2d(w, H, W):
    """Row (i, j), column (r, q): the weight that output (i, j) gives pixel (r, q)."""
    M = np.zeros((H * W, H * W))
    for i in range(H):
        for j in range(W):
            for u in range(w.shape[0]):
                for v in range(w.shape[1]):
                    r, q = (i + u) % H, (j + v) % W
                    M[i * W + j, r * W + q] += w[u, v]
    return M


def fourier_mode(n, k):
    """The k-th Fourier mode e^{2 pi i j k / n} / sqrt(n), entry by entry."""
    return np.array(
        [cmath.exp(2j * math.pi * j * k / n) for j in range(n)]
    ) / math.sqrt(n)


@st.composite
def filter_and_signal(draw):
    n = draw(st.integers(1, 9))
    k = draw(st.integers(1, n))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    return rng.standard_normal(k), rng.standard_normal(n)


@st.composite
def image_and_kernel(draw):
    H, W = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    KH, KW = draw(st.integers(1, H)), draw(st.integers(1, W))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    return rng.standard_normal((H, W)), rng.standard_normal((KH, KW))


# ------------------------------------------------------------------------------ 1-D


def test_circulant_known_answer():
    # Each column is the one before it shifted down, the last entry coming round.
    expected = np.array([[1.0, 3.0, 2.0], [2.0, 1.0, 3.0], [3.0, 2.0, 1.0]])
    assert np.array_equal(fourier.circulant([1, 2, 3]), expected)


@given(filter_and_signal(), st.integers(0, 3))
def test_circulant_matches_the_loops_and_convolves(case, extra):
    c, x = case
    n = len(x) + extra
    x = np.concatenate([x, np.zeros(extra)])
    C = fourier.circulant(c, n)
    np.testing.assert_array_equal(C, loop_circulant(c, n))
    np.testing.assert_allclose(C @ x, loop_convolve(c, x), atol=1e-12)


def test_circulant_defaults_to_the_filter_length():
    c = np.array([4.0, -1.0, 2.0, 0.5])
    assert fourier.circulant(c).shape == (4, 4)
    np.testing.assert_array_equal(fourier.circulant(c), fourier.circulant(c, 4))


@given(filter_and_signal())
def test_circular_convolve_matches_the_loops(case):
    c, x = case
    np.testing.assert_allclose(
        fourier.circular_convolve(c, x), loop_convolve(c, x), atol=1e-12
    )


@given(filter_and_signal())
def test_circular_convolve_is_the_folded_linear_convolution(case):
    # np.convolve gives the n + k - 1 outputs of the linear convolution; on a circle of
    # n the last k - 1 of them land on the first ones.
    c, x = case
    n = len(x)
    full = np.convolve(c, x)
    folded = full[:n].copy()
    folded[: len(full) - n] += full[n:]
    np.testing.assert_allclose(fourier.circular_convolve(c, x), folded, atol=1e-12)


def test_circular_convolve_known_answer():
    y = fourier.circular_convolve([0.0, 1.0], [1.0, 2.0, 3.0, 4.0])
    assert np.array_equal(y, [4.0, 1.0, 2.0, 3.0])  # a shift by one place


@given(filter_and_signal())
def test_convolution_theorem_1d(case):
    c, x = case
    n = len(x)
    by_spectra = np.fft.ifft(np.fft.fft(c, n) * np.fft.fft(x)).real
    np.testing.assert_allclose(fourier.circular_convolve(c, x), by_spectra, atol=1e-12)


def test_dft_matrix_matches_the_formula():
    n = 6
    F = fourier.dft_matrix(n)
    for j in range(n):
        for k in range(n):
            assert F[j, k] == pytest.approx(
                cmath.exp(-2j * math.pi * j * k / n) / math.sqrt(n), abs=1e-15
            )
    assert F.dtype == np.complex128


@pytest.mark.parametrize("n", [1, 2, 5, 8, 33])
def test_dft_matrix_is_unitary_and_is_the_fft(n, rng):
    F = fourier.dft_matrix(n)
    np.testing.assert_allclose(F.conj().T @ F, np.eye(n), atol=1e-12)
    x = rng.standard_normal(n)
    np.testing.assert_allclose(F @ x, np.fft.fft(x) / np.sqrt(n), atol=1e-12)
    # The columns of F* are the Fourier modes.
    for k in range(n):
        np.testing.assert_allclose(F.conj()[:, k], fourier_mode(n, k), atol=1e-12)


def test_dft_matrix_stays_accurate_for_large_n():
    # The FFT of the unit vectors is the DFT matrix, its twiddle factors accurate to
    # rounding. Without reducing jk mod n first, exp(-2 pi i jk / n) with jk up to
    # 261121 is off by up to 1.5e-14 here (measured); reduced, by about 4e-17.
    n = 512
    exact = np.fft.fft(np.eye(n), axis=0) / np.sqrt(n)
    assert np.abs(fourier.dft_matrix(n) - exact).max() < 1e-15


@given(filter_and_signal())
def test_circulant_eigenvalues_are_the_fft(case):
    c, x = case
    n = len(x)
    lam = fourier.circulant_eigenvalues(c, n)
    np.testing.assert_allclose(
        lam, np.fft.fft(np.concatenate([c, np.zeros(n - len(c))]))
    )
    C = fourier.circulant(c, n)
    for k in range(n):  # C v_k = lam_k v_k for the k-th Fourier mode
        v = fourier_mode(n, k)
        np.testing.assert_allclose(C @ v, lam[k] * v, atol=1e-12)


@pytest.mark.parametrize("n", [1, 4, 7, 8])
def test_fourier_basis_diagonalises_the_circulant(n, rng):
    c = rng.standard_normal(n)
    C, F = fourier.circulant(c), fourier.dft_matrix(n)
    lam = fourier.circulant_eigenvalues(c)
    np.testing.assert_allclose(F @ C @ F.conj().T, np.diag(lam), atol=1e-12)
    np.testing.assert_allclose(F.conj().T @ np.diag(lam) @ F, C, atol=1e-12)


def test_difference_filter_spectrum():
    # (C x)[i] = x[i] - x[i-1]: constants are removed, the alternating mode doubled,
    # |lam_k| = 2 |sin(pi k / n)|.
    n = 6
    lam = fourier.circulant_eigenvalues([1.0, -1.0], n)
    assert abs(lam[0]) < 1e-15
    assert lam[3] == pytest.approx(2.0)
    np.testing.assert_allclose(
        np.abs(lam), [2 * abs(math.sin(math.pi * k / n)) for k in range(n)], atol=1e-12
    )


def test_symmetric_filter_has_real_eigenvalues():
    c = np.array([2.0, -1.0, 0.0, 0.0, 0.0, -1.0])  # c[m] == c[-m]: C is symmetric
    C = fourier.circulant(c)
    assert np.array_equal(C, C.T)
    lam = fourier.circulant_eigenvalues(c)
    np.testing.assert_allclose(lam.imag, 0.0, atol=1e-12)
    np.testing.assert_allclose(np.sort(lam.real), np.linalg.eigvalsh(C), atol=1e-12)


# ------------------------------------------------------------------------------ 2-D


@given(image_and_kernel())
def test_circular_conv2d_matches_the_loops(case):
    x, w = case
    np.testing.assert_allclose(
        fourier.circular_conv2d(x, w), loop_conv2d(x, w), atol=1e-12
    )


@given(image_and_kernel())
def test_circular_conv2d_is_conv2d_where_no_window_wraps(case):
    x, w = case
    (KH, KW), (H, W) = w.shape, x.shape
    valid = conv.conv2d_naive(x[None, None], w[None, None])[0, 0]  # (H-KH+1, W-KW+1)
    np.testing.assert_allclose(
        fourier.circular_conv2d(x, w)[: H - KH + 1, : W - KW + 1], valid, atol=1e-12
    )


@given(image_and_kernel())
def test_circulant2d_matches_the_loops_and_the_direct_product(case):
    x, w = case
    H, W = x.shape
    M = fourier.circulant2d(w, (H, W))
    np.testing.assert_array_equal(M, loop_circulant2d(w, H, W))
    np.testing.assert_allclose(
        M @ x.ravel(), fourier.circular_conv2d(x, w).ravel(), atol=1e-12
    )


def test_circulant2d_is_doubly_block_circulant(rng):
    H, W = 4, 5
    M = fourier.circulant2d(rng.standard_normal((3, 2)), (H, W))
    blocks = M.reshape(H, W, H, W).transpose(0, 2, 1, 3)  # blocks[a, b] is (W, W)
    for a in range(H):
        for b in range(H):
            # the block pattern is circulant ...
            np.testing.assert_array_equal(
                blocks[a, b], blocks[(a + 1) % H, (b + 1) % H]
            )
            # ... and each block is circulant
            B = blocks[a, b]
            np.testing.assert_array_equal(B, np.roll(np.roll(B, 1, axis=0), 1, axis=1))


def test_circulant2d_known_answer():
    M = fourier.circulant2d([[1.0, 10.0]], (2, 2))
    expected = [[1, 10, 0, 0], [10, 1, 0, 0], [0, 0, 1, 10], [0, 0, 10, 1]]
    assert np.array_equal(M, expected)


@given(image_and_kernel())
def test_convolution_theorem_2d_cross_correlation_conjugates(case):
    x, w = case
    H, W = x.shape
    out = fourier.circular_conv2d(x, w)
    spectrum = np.fft.rfft2(w, s=(H, W))
    by_spectra = np.fft.irfft2(np.fft.rfft2(x) * np.conj(spectrum), s=(H, W))
    np.testing.assert_allclose(out, by_spectra, atol=1e-10)
    lam = fourier.circulant2d_eigenvalues(w, (H, W))
    np.testing.assert_allclose(np.fft.ifft2(np.fft.fft2(x) * lam).real, out, atol=1e-10)


def test_without_the_conjugate_the_kernel_is_flipped(rng):
    # The plain product of spectra is the true convolution: cross-correlation with the
    # kernel reversed on the torus, not the deep-learning one.
    x, w = rng.standard_normal((5, 6)), rng.standard_normal((3, 3))
    plain = np.fft.irfft2(np.fft.rfft2(x) * np.fft.rfft2(w, s=x.shape), s=x.shape)
    w_rev = np.zeros((5, 6))  # w reversed on the torus
    for u in range(3):
        for v in range(3):
            w_rev[(-u) % 5, (-v) % 6] = w[u, v]
    np.testing.assert_allclose(plain, loop_conv2d(x, w_rev), atol=1e-10)
    assert not np.allclose(plain, fourier.circular_conv2d(x, w))


@pytest.mark.parametrize(
    "shape, kernel", [((4, 4), (3, 3)), ((3, 5), (2, 1)), ((1, 6), (1, 3))]
)
def test_2d_fourier_modes_are_the_eigenvectors(shape, kernel, rng):
    H, W = shape
    w = rng.standard_normal(kernel)
    M = fourier.circulant2d(w, shape)
    lam = fourier.circulant2d_eigenvalues(w, shape)
    assert lam.shape == shape
    for k1 in range(H):
        for k2 in range(W):
            v = np.kron(fourier_mode(H, k1), fourier_mode(W, k2))  # row-major flat
            np.testing.assert_allclose(M @ v, lam[k1, k2] * v, atol=1e-12)
    F = np.kron(fourier.dft_matrix(H), fourier.dft_matrix(W))
    np.testing.assert_allclose(F @ M @ F.conj().T, np.diag(lam.ravel()), atol=1e-12)


# --------------------------------------------------------- Toeplitz inside a circulant


@st.composite
def padded_geometry(draw):
    H, W = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    KH, KW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    ph, pw = draw(st.integers(0, KH - 1)), draw(st.integers(0, KW - 1))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    return H, W, rng.standard_normal((KH, KW)), (ph, pw), rng


def _kernel_fits(H, W, w, padding):
    return w.shape[0] <= H + 2 * padding[0] and w.shape[1] <= W + 2 * padding[1]


@given(padded_geometry())
def test_toeplitz_is_a_block_of_the_circulant(case):
    H, W, w, padding, rng = case
    if not _kernel_fits(H, W, w, padding):
        with pytest.raises(ValueError, match="kernel"):
            fourier.embed_toeplitz(w, (H, W), padding)
        return
    M, rows, cols = fourier.embed_toeplitz(w, (H, W), padding)
    KH, KW = w.shape
    P, Q = H + KH - 1, W + KW - 1
    assert M.shape == (P * Q, P * Q)
    np.testing.assert_array_equal(M, fourier.circulant2d(w, (P, Q)))
    T = conv.toeplitz_matrix(w[None, None], (1, H, W), padding=padding)
    np.testing.assert_array_equal(M[np.ix_(rows, cols)], T)
    # Acting on the image zero-padded on the torus: the padded convolution's outputs.
    x = rng.standard_normal((H, W))
    x_torus = np.zeros((P, Q))
    x_torus[:H, :W] = x
    expected = conv.conv2d_naive(x[None, None], w[None, None], padding=padding)[0, 0]
    np.testing.assert_allclose(
        (M @ x_torus.ravel())[rows], expected.ravel(), atol=1e-12
    )


def test_a_smaller_torus_lets_the_wrap_around_in():
    # Full 1-D convolution (padding k - 1) of n = 5 with k = 3: on a circle of n + k - 2
    # the first output's window wraps onto the last pixel.
    x, c = np.arange(1.0, 6.0), np.array([1.0, 2.0, 3.0])
    full = conv.conv2d_naive(x[None, None, None], c[None, None, None], padding=(0, 2))
    M, rows, cols = fourier.embed_toeplitz(c[None], (1, 5), padding=(0, 2))
    x_torus = np.zeros(7)
    x_torus[:5] = x
    np.testing.assert_allclose((M @ x_torus)[rows], full.ravel())
    short = np.zeros(6)
    short[:5] = x
    wrapped = fourier.circulant2d(c[None], (1, 6)) @ short
    assert wrapped[(0 - 2) % 6] != full.ravel()[0]


def test_embed_toeplitz_known_answer():
    M, rows, cols = fourier.embed_toeplitz([[1.0, 2.0]], (1, 3), padding=(0, 1))
    assert rows.tolist() == [3, 0, 1, 2] and cols.tolist() == [0, 1, 2]
    assert np.array_equal(
        M[np.ix_(rows, cols)], [[2, 0, 0], [1, 2, 0], [0, 1, 2], [0, 0, 1]]
    )


def test_1d_toeplitz_is_the_top_left_of_the_circulant():
    # In 1-D, true convolution: np.convolve's matrix is circulant(c, n+k-1)[:, :n].
    rng = np.random.default_rng(3)
    c, x = rng.standard_normal(4), rng.standard_normal(7)
    C = fourier.circulant(c, 7 + 4 - 1)
    np.testing.assert_allclose(C[:, :7] @ x, np.convolve(c, x), atol=1e-12)


# ----------------------------------------------------------------------------- dtypes

F32_CALLS = {
    "circulant": lambda a, b: fourier.circulant(a, 6),
    "circular_convolve": lambda a, b: fourier.circular_convolve(a, b),
    "circulant2d": lambda a, b: fourier.circulant2d(a.reshape(1, 3), (2, 6)),
    "circular_conv2d": lambda a, b: fourier.circular_conv2d(
        b.reshape(2, 3), a.reshape(1, 3)
    ),
    "embed_toeplitz": lambda a, b: fourier.embed_toeplitz(
        a.reshape(1, 3), (2, 3), (0, 1)
    )[0],
}


@pytest.mark.parametrize("name", sorted(F32_CALLS))
def test_float32_stays_float32(name, rng):
    a = rng.standard_normal(3).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    assert F32_CALLS[name](a, b).dtype == np.float32
    assert (
        F32_CALLS[name](a.astype(np.float64), b.astype(np.float64)).dtype == np.float64
    )


def test_spectra_keep_the_precision():
    c = np.array([1.0, -1.0], dtype=np.float32)
    assert fourier.circulant_eigenvalues(c, 4).dtype == np.complex64
    assert fourier.circulant2d_eigenvalues(c[None], (2, 2)).dtype == np.complex64
    assert fourier.circulant_eigenvalues(c.astype(np.float64)).dtype == np.complex128


def test_integers_become_float64():
    assert fourier.circulant([1, 2]).dtype == np.float64
    assert fourier.circular_conv2d(np.ones((2, 2), int), [[1]]).dtype == np.float64


# -------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda: fourier.circulant(np.ones((2, 2))),
            r"c must have 1 dimensions \(k,\), got shape \(2, 2\)",
        ),
        (lambda: fourier.circulant([]), r"at least one entry, got shape \(0,\)"),
        (
            lambda: fourier.circulant([1.0, 2.0, 3.0], 2),
            "n = 2 is shorter than the filter c of length k = 3",
        ),
        (
            lambda: fourier.circulant([1.0], 2**15),
            r"\(32768, 32768\), more than 268435456",
        ),
        (lambda: fourier.circulant([1 + 2j]), "real numbers, got dtype complex128"),
        (
            lambda: fourier.circulant([1.0], 2.0),
            "n must be positive, an integer >= 1, got 2.0",
        ),
        (
            lambda: fourier.circular_convolve([1.0, 2.0, 3.0], [1.0, 2.0]),
            r"c of shape \(3,\) is longer than x of shape \(2,\)",
        ),
        (
            lambda: fourier.circular_convolve([1.0], np.ones((2, 2))),
            r"x must have 1 dimensions \(n,\), got shape \(2, 2\)",
        ),
        (lambda: fourier.dft_matrix(0), "n must be positive"),
        (lambda: fourier.dft_matrix(True), "n must be positive"),
        (
            lambda: fourier.circulant2d(np.ones((3, 3)), (2, 5)),
            r"w of shape \(KH, KW\) = \(3, 3\) does not fit in shape \(H, W\) = "
            r"\(2, 5\)",
        ),
        (
            lambda: fourier.circulant2d(np.ones(3), (2, 5)),
            r"w must have 2 dimensions \(KH, KW\), got shape \(3,\)",
        ),
        (
            lambda: fourier.circulant2d(np.ones((1, 0)), (2, 5)),
            r"at least 1x1.*got shape \(1, 0\)",
        ),
        (lambda: fourier.circulant2d(np.ones((1, 1)), (2,)), r"shape must be \(H, W\)"),
        (
            lambda: fourier.circulant2d(np.ones((1, 1)), (200, 200)),
            r"\(40000, 40000\), more than",
        ),
        (
            lambda: fourier.circular_conv2d(np.ones((2, 2)), np.ones((3, 1))),
            r"does not fit in x \(H, W\) = \(2, 2\)",
        ),
        (
            lambda: fourier.circular_conv2d(np.ones((1, 2, 2)), np.ones((1, 1))),
            r"x must have 2 dimensions \(H, W\), got shape \(1, 2, 2\)",
        ),
        (
            lambda: fourier.circulant2d_eigenvalues(np.ones((2, 2)), (1, 4)),
            "does not fit",
        ),
        (
            lambda: fourier.embed_toeplitz(np.ones((2, 2)), (3, 3), padding=2),
            r"padding.*at most",
        ),
        (
            lambda: fourier.embed_toeplitz(np.ones((3, 3)), (1, 1), padding=0),
            "larger than the padded input",
        ),
    ],
)
def test_bad_input_names_what_was_received(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------------- NaN


@given(filter_and_signal(), st.data())
def test_nan_sample_reaches_exactly_the_outputs_that_read_it(case, data):
    c, x = case
    n, k = len(x), len(c)
    j = data.draw(st.integers(0, n - 1))
    x[j] = np.nan
    y = fourier.circular_convolve(c, x)
    expected = np.zeros(n, dtype=bool)
    expected[[(j + m) % n for m in range(k)]] = True
    assert np.array_equal(np.isnan(y), expected)
    assert np.isnan(fourier.circulant(c, n) @ x)[expected].all()


@given(image_and_kernel(), st.data())
def test_nan_pixel_reaches_exactly_the_windows_over_it(case, data):
    x, w = case
    (H, W), (KH, KW) = x.shape, w.shape
    r, q = data.draw(st.integers(0, H - 1)), data.draw(st.integers(0, W - 1))
    x[r, q] = np.nan
    out = fourier.circular_conv2d(x, w)
    expected = np.zeros((H, W), dtype=bool)
    for u in range(KH):
        for v in range(KW):
            expected[(r - u) % H, (q - v) % W] = True
    assert np.array_equal(np.isnan(out), expected)


def test_nan_weight_reaches_everything_it_touches():
    w = np.array([[1.0, np.nan]])
    assert np.isnan(fourier.circular_conv2d(np.ones((2, 3)), w)).all()
    assert np.isnan(fourier.circular_convolve([1.0, np.nan], np.ones(3))).all()
    M = fourier.circulant2d(w, (2, 3))
    assert np.isnan(M).sum() == 6  # one entry per output row: the tap's position
    assert np.isnan(fourier.circulant_eigenvalues([1.0, np.nan], 4)).all()
    assert np.isnan(fourier.circulant2d_eigenvalues(w, (2, 3))).all()
    C = fourier.circulant([1.0, np.nan], 4)
    assert np.array_equal(
        np.isnan(C), np.eye(4, k=-1, dtype=bool) | np.eye(4, k=3, dtype=bool)
    )
