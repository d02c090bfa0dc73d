"""Convolution in the Fourier basis: circulant matrices and their eigenvectors.

A *circular* convolution treats the signal as a circle: what slides off one end comes
back at the other. Its matrix is *circulant*, every column the one before it shifted
down by one place:

    circulant(c) @ x == circular_convolve(c, x),    C[i, j] = c[(i - j) mod n].

Every circulant matrix has the same eigenvectors, the Fourier modes
``e^{2 pi i j k / n}``, the columns of ``F*`` where ``F`` is the unitary DFT matrix
(`dft_matrix`). Its eigenvalues are the discrete Fourier transform of its first column
(`circulant_eigenvalues`):

    C = F* diag(fft(c)) F,    so    C @ x == ifft(fft(c) * fft(x)).

In the Fourier basis the convolution is a diagonal matrix: an element-wise product of
spectra (the convolution theorem). With the fast Fourier transform this costs
O(n log n) multiplications instead of the O(n^2) of the dense matrix.

Deep learning's "convolution" (`lalib.conv`) is cross-correlation, the filter not
flipped. In 2-D, `circular_conv2d` computes it on a torus (the image wraps around both
axes) and `circulant2d` builds its matrix, circulant blocks arranged in a circulant
pattern, acting on the row-major flattened image. Its eigenvalues
(`circulant2d_eigenvalues`) are the *conjugate* of the kernel's 2-D spectrum:
correlating with ``w`` is convolving with ``w`` reversed, and for real numbers
reversing a signal conjugates its transform.

A convolution with zero padding is not circular, and its Toeplitz matrix
(`lalib.conv.toeplitz_matrix`) is not circulant. It is a block of a circulant one
(`embed_toeplitz`): pad the image with ``K - 1`` zeros per axis to ``n + K - 1`` and
convolve circularly.
On the circle the zeros after the image are also the zeros before it, so every window
that wraps around reads only padding, exactly what the zero padding supplies. This is
how FFT convolution computes ordinary convolutions.

The matrices are dense and meant for small examples: `circulant`, `circulant2d`,
`dft_matrix` and `embed_toeplitz` refuse to build more than 2**28 entries (2 GiB in
float64). Real input keeps its floating dtype (float32 stays float32, integers become
float64); the spectra are complex, in the matching precision (complex64 for float32,
as NumPy >= 2 computes the FFT of float32 data). `dft_matrix` is complex128.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from lalib._checks import as_real_array, check_int, check_ndim, result_dtype
from lalib.conv import _pair, _sizes, output_size

__all__ = [
    "circulant",
    "circular_convolve",
    "circulant_eigenvalues",
    "dft_matrix",
    "circulant2d",
    "circular_conv2d",
    "circulant2d_eigenvalues",
    "embed_toeplitz",
]

# Largest dense matrix, in entries, that this module builds (2 GiB in float64), and the
# longest spectrum it computes.
_MAX_ENTRIES = 2**28

# ----------------------------------------------------------------------------- helpers


def _filter_1d(c, name="c"):
    """`c` as a floating 1-D array with at least one entry."""
    c = as_real_array(c, name)
    check_ndim(c, 1, name, "(k,)")
    if c.shape[0] < 1:
        raise ValueError(f"{name} must have at least one entry, got shape {c.shape}")
    return c


def _length(n, k):
    """The circle's length: `k` when `n` is None, else an integer ``n >= k``."""
    if n is None:
        return k
    n = check_int(n, "n", minimum=1)
    if n < k:
        raise ValueError(
            f"n = {n} is shorter than the filter c of length k = {k}: "
            f"n must be at least k (c is zero-padded to length n)"
        )
    return n


def _check_entries(rows, cols, what):
    """ValueError if a dense (rows, cols) matrix would exceed `_MAX_ENTRIES`."""
    if rows * cols > _MAX_ENTRIES:
        raise ValueError(
            f"{what} would be ({rows}, {cols}), more than {_MAX_ENTRIES} entries: "
            f"it is dense, for small examples only"
        )


def _kernel_2d(w, name="w"):
    """`w` as a floating (KH, KW) array with KH, KW >= 1."""
    w = as_real_array(w, name)
    check_ndim(w, 2, name, "(KH, KW)")
    if min(w.shape) < 1:
        raise ValueError(
            f"{name} must be a kernel of at least 1x1, (KH, KW) with KH, KW >= 1, "
            f"got shape {w.shape}"
        )
    return w


def _fits(w, hw, name):
    """ValueError unless the kernel `w` fits in an image of size `hw` = (H, W)."""
    if w.shape[0] > hw[0] or w.shape[1] > hw[1]:
        raise ValueError(
            f"w of shape (KH, KW) = {w.shape} does not fit in {name} (H, W) = "
            f"{tuple(hw)}: the kernel must satisfy KH <= H and KW <= W"
        )


def _padded(c, n):
    """`c` zero-padded at the end to length `n`."""
    out = np.zeros(n, dtype=c.dtype)
    out[: c.shape[0]] = c
    return out


# ------------------------------------------------------------------------------- 1-D


def circulant(c, n=None):
    """The n x n circulant matrix whose first column is `c` (zero-padded to length n).

    ``C[i, j] = c[(i - j) mod n]``: each column is the previous one shifted down by
    one place, the entry that falls off the bottom coming back at the top. So
    ``C @ x`` is the circular convolution of `c` and `x` (`circular_convolve`).

    Parameters
    ----------
    c : ndarray, shape (k,)
        The filter, k >= 1.
    n : int, optional
        Size of the matrix, at least k; `c` is zero-padded to this length. Default k.

    Returns
    -------
    C : ndarray, shape (n, n)
        In the floating dtype of `c`.

    Raises
    ------
    ValueError
        If `c` is not a non-empty 1-D array of real numbers, `n` is not an integer
        >= k, or the matrix would have more than 2**28 entries.

    Examples
    --------
    >>> circulant([1.0, 2.0, 3.0])
    array([[1., 3., 2.],
           [2., 1., 3.],
           [3., 2., 1.]])

    The difference filter ``[1, -1]`` on a circle of 4: ``(C x)[i] = x[i] - x[i-1]``.

    >>> circulant([1.0, -1.0], 4)
    array([[ 1.,  0.,  0., -1.],
           [-1.,  1.,  0.,  0.],
           [ 0., -1.,  1.,  0.],
           [ 0.,  0., -1.,  1.]])
    """
    c = _filter_1d(c)
    n = _length(n, c.shape[0])
    _check_entries(n, n, f"circulant(c, n={n})")
    i = np.arange(n)
    return _padded(c, n)[(i[:, None] - i[None, :]) % n]  # (n, n)


def circular_convolve(c, x):
    """Circular convolution ``y[i] = sum_m c[m] x[(i - m) mod n]``, computed directly.

    The filter is flipped, as in mathematics and ``numpy.convolve`` (deep learning's
    convolution does not flip it: see `circular_conv2d`); indices wrap around the
    circle of length ``n = len(x)``. Equal to ``circulant(c, len(x)) @ x``, and to
    ``ifft(fft(c, n) * fft(x))``, without building either.

    Parameters
    ----------
    c : ndarray, shape (k,)
        The filter, 1 <= k <= n.
    x : ndarray, shape (n,)
        The signal.

    Returns
    -------
    y : ndarray, shape (n,)
        In the dtype of ``np.result_type(c, x)``. A NaN in ``x[j]`` reaches the
        outputs ``y[(j + m) mod n]``, m < k; a NaN in `c` reaches every output.

    Examples
    --------
    A shift by one place, the last entry coming round to the front:

    >>> circular_convolve([0.0, 1.0], [1.0, 2.0, 3.0, 4.0])
    array([4., 1., 2., 3.])
    """
    c = _filter_1d(c)
    x = as_real_array(x, "x")
    check_ndim(x, 1, "x", "(n,)")
    k, n = c.shape[0], x.shape[0]
    if k > n:
        raise ValueError(
            f"c of shape {c.shape} is longer than x of shape {x.shape}: "
            f"the filter (k,) must satisfy k <= n for x (n,)"
        )
    dtype = result_dtype(c, x)
    c, x = c.astype(dtype, copy=False), x.astype(dtype, copy=False)
    # x_wrap[t] = x[(t - (k - 1)) mod n]: the last k - 1 entries of x, then x.
    x_wrap = np.concatenate([x[n - (k - 1) :], x])  # (n + k - 1,)
    windows = sliding_window_view(x_wrap, k)  # (n, k): windows[i, u] = x[i - k+1 + u]
    return windows @ c[::-1]  # (n, k) @ (k,): sum_m c[m] x[i - m]


def circulant_eigenvalues(c, n=None):
    """The eigenvalues of ``circulant(c, n)``, one per Fourier mode: ``fft(c, n)``.

    With ``F`` the unitary DFT matrix (`dft_matrix`),

        circulant(c, n) == F* @ diag(fft(c, n)) @ F,

    so column k of ``F*``, the Fourier mode ``e^{2 pi i j k / n} / sqrt(n)``, is an
    eigenvector with eigenvalue ``fft(c, n)[k]``. No eigensolver is needed: the
    eigenvectors are known in advance, the same for every circulant matrix.

    Parameters
    ----------
    c : ndarray, shape (k,)
    n : int, optional
        Length of the circle, at least k; default k.

    Returns
    -------
    lam : ndarray, shape (n,)
        Complex (complex64 for float32 `c`, complex128 otherwise), in the order of the
        modes k = 0, 1, ..., n - 1. Real and symmetric (``lam[k] == lam[n - k]``) when
        `c` is symmetric around 0 on the circle. A NaN in `c` makes every one NaN.

    Examples
    --------
    The difference filter removes constants (eigenvalue 0 for the mode k = 0) and
    doubles the alternating signal ``(1, -1, 1, -1)`` (mode k = 2):

    >>> np.round(circulant_eigenvalues([1.0, -1.0], 4), 12)
    array([0.+0.j, 1.+1.j, 2.+0.j, 1.-1.j])
    """
    c = _filter_1d(c)
    n = _length(n, c.shape[0])
    _check_entries(1, n, f"the spectrum of length n={n}")
    return np.fft.fft(_padded(c, n))


def dft_matrix(n):
    """The unitary discrete Fourier transform matrix, ``F[j, k] = e^{-2 pi i jk/n} /
    sqrt(n)``.

    ``F @ x == fft(x) / sqrt(n)``; ``F`` is unitary (``F* F = I``, ``F*`` its conjugate
    transpose), so ``F*`` is its inverse and the columns of ``F*`` are the Fourier
    modes. Exponents are reduced modulo n first (``jk mod n``), so the entries stay
    accurate for large n.

    Parameters
    ----------
    n : int
        Size, at least 1.

    Returns
    -------
    F : ndarray, shape (n, n), complex128

    Raises
    ------
    ValueError
        If `n` is not an integer >= 1 or ``n * n`` exceeds 2**28.

    Examples
    --------
    >>> F = dft_matrix(4)
    >>> np.round(2 * F, 12)
    array([[ 1.+0.j,  1.+0.j,  1.+0.j,  1.+0.j],
           [ 1.+0.j,  0.-1.j, -1.-0.j, -0.+1.j],
           [ 1.+0.j, -1.-0.j,  1.+0.j, -1.-0.j],
           [ 1.+0.j, -0.+1.j, -1.-0.j,  0.-1.j]])
    >>> bool(np.allclose(F.conj().T @ F, np.eye(4)))
    True
    """
    n = check_int(n, "n", minimum=1)
    _check_entries(n, n, f"dft_matrix(n={n})")
    j = np.arange(n)
    jk = (j[:, None] * j[None, :]) % n  # (n, n), exact integers
    return np.exp(-2j * np.pi * jk / n) / np.sqrt(n)


# ------------------------------------------------------------------------------- 2-D


def circulant2d(w, shape):
    """The (H W) x (H W) matrix of the circular cross-correlation with a kernel `w`.

    ``circulant2d(w, (H, W)) @ x.ravel() == circular_conv2d(x, w).ravel()`` for an
    (H, W) image ``x`` flattened in row-major order: entry ``((i, j), (r, q))`` is
    ``w_pad[(r - i) mod H, (q - j) mod W]``, with `w` zero-padded to (H, W). It is
    *doubly block circulant*: H x H blocks of size W x W, the blocks arranged in a
    circulant pattern and each block itself circulant.

    Parameters
    ----------
    w : ndarray, shape (KH, KW)
        The kernel, KH <= H and KW <= W.
    shape : tuple of int
        ``(H, W)`` of the image.

    Returns
    -------
    M : ndarray, shape (H * W, H * W)
        In the floating dtype of `w`.

    Raises
    ------
    ValueError
        If `w` is not a non-empty 2-D array of real numbers, `shape` is not two
        positive integers, the kernel does not fit in the image, or `M` would have more
        than 2**28 entries.

    Examples
    --------
    A 1 x 2 kernel on a 2 x 2 torus: each output adds its right neighbour, times 10.

    >>> circulant2d([[1.0, 10.0]], (2, 2))
    array([[ 1., 10.,  0.,  0.],
           [10.,  1.,  0.,  0.],
           [ 0.,  0.,  1., 10.],
           [ 0.,  0., 10.,  1.]])
    """
    w = _kernel_2d(w)
    H, W = _sizes(shape, "shape", "(H, W)", minimum=1)
    _fits(w, (H, W), "shape")
    _check_entries(H * W, H * W, f"circulant2d(w, shape={(H, W)})")
    w_pad = np.zeros((H, W), dtype=w.dtype)
    w_pad[: w.shape[0], : w.shape[1]] = w
    i = np.arange(H)[:, None, None, None]  # output row
    j = np.arange(W)[None, :, None, None]  # output column
    r = np.arange(H)[None, None, :, None]  # input row
    q = np.arange(W)[None, None, None, :]  # input column
    M = w_pad[(r - i) % H, (q - j) % W]  # (H, W, H, W)
    return M.reshape(H * W, H * W)


def circular_conv2d(x, w):
    """Circular cross-correlation of an image with a kernel, computed directly.

    ``out[i, j] = sum_{u, v} w[u, v] x[(i + u) mod H, (j + v) mod W]``: the
    convention of `lalib.conv` (the kernel is not flipped), on a torus, so the output
    has the image's size and a window that runs off one edge continues at the other.

    Parameters
    ----------
    x : ndarray, shape (H, W)
    w : ndarray, shape (KH, KW)
        KH <= H and KW <= W.

    Returns
    -------
    out : ndarray, shape (H, W)
        In the dtype of ``np.result_type(x, w)``. A NaN pixel reaches the outputs whose
        window covers it (``KH KW`` of them); a NaN weight reaches every output.

    Examples
    --------
    A 2 x 2 box over a 3 x 3 image: the top-left 2 x 2 block, whose windows do not
    wrap, is what `lalib.conv.conv2d` gives; the last row and column wrap around.

    >>> x = np.arange(9.0).reshape(3, 3)
    >>> circular_conv2d(x, [[1.0, 1.0], [1.0, 1.0]])
    array([[ 8., 12., 10.],
           [20., 24., 22.],
           [14., 18., 16.]])
    """
    x = as_real_array(x, "x")
    check_ndim(x, 2, "x", "(H, W)")
    w = _kernel_2d(w)
    _fits(w, x.shape, "x")
    dtype = result_dtype(x, w)
    x, w = x.astype(dtype, copy=False), w.astype(dtype, copy=False)
    KH, KW = w.shape
    # Wrap the first KH - 1 rows and KW - 1 columns round to the end: every window of
    # the torus is then an ordinary window of the padded image.
    x_wrap = np.pad(x, ((0, KH - 1), (0, KW - 1)), mode="wrap")  # (H+KH-1, W+KW-1)
    windows = sliding_window_view(x_wrap, (KH, KW))  # (H, W, KH, KW), a view
    return np.einsum("ijuv,uv->ij", windows, w)  # (H, W)


def circulant2d_eigenvalues(w, shape):
    """The eigenvalues of ``circulant2d(w, shape)``, one per 2-D Fourier mode.

    The eigenvector for the mode ``(k1, k2)`` is the flattened 2-D wave
    ``e^{2 pi i (k1 r / H + k2 q / W)} / sqrt(H W)``, the Kronecker product of the
    columns k1 and k2 of ``F*`` for sizes H and W. Its eigenvalue is

        lam[k1, k2] = sum_{u, v} w[u, v] e^{+2 pi i (k1 u / H + k2 v / W)}
                    = conj(fft2(w, s=(H, W)))[k1, k2]:

    the *conjugate* of the kernel's spectrum, because cross-correlation does not flip
    the kernel (a true convolution would have ``fft2(w)`` itself). In the Fourier
    basis the circular cross-correlation is an element-wise product:

        circular_conv2d(x, w) == ifft2(fft2(x) * lam).real

    Parameters
    ----------
    w : ndarray, shape (KH, KW)
        The kernel, KH <= H and KW <= W.
    shape : tuple of int
        ``(H, W)``.

    Returns
    -------
    lam : ndarray, shape (H, W)
        Complex (complex64 for float32 `w`). A NaN in `w` makes every one NaN.

    Examples
    --------
    The kernel ``[[0, 1]]`` reads the right neighbour, ``out[j] = x[j + 1]``, on a row
    of 4. Moving the wave ``e^{2 pi i k j / 4}`` one place left multiplies it by
    ``e^{2 pi i k / 4} = i^k``, the conjugate of ``fft([0, 1, 0, 0])[k] = (-i)^k``:

    >>> lam = circulant2d_eigenvalues([[0.0, 1.0]], (1, 4))
    >>> bool(np.allclose(lam, [[1, 1j, -1, -1j]]))
    True
    """
    w = _kernel_2d(w)
    H, W = _sizes(shape, "shape", "(H, W)", minimum=1)
    _fits(w, (H, W), "shape")
    _check_entries(H, W, f"the spectrum of shape {(H, W)}")
    return np.conj(np.fft.fft2(w, s=(H, W)))


def embed_toeplitz(w, shape, padding=0):
    """The Toeplitz matrix of a zero-padded convolution as a block of a circulant one.

    For an (H, W) image, a (KH, KW) kernel and zero padding ``p <= K - 1``, take the
    circulant matrix of the circular cross-correlation on the larger torus
    ``(H + KH - 1, W + KW - 1)`` (`circulant2d`), with the image in its top-left
    corner and zeros elsewhere. Then

        M[np.ix_(rows, cols)] == lalib.conv.toeplitz_matrix(
            w[None, None], (1, H, W), padding=padding)

    ``cols`` are the positions ``(r, q)`` of the image's pixels on the torus, ``rows``
    the positions ``((i - ph) mod (H + KH - 1), (j - pw) mod (W + KW - 1))`` of the
    outputs. A window that starts in the padding before the image starts, on the
    torus, at the end, among the ``KH - 1`` zero rows (``KW - 1`` zero columns) after
    the image: the wrap-around only ever reads zeros, as the zero padding does.
    (``H + ph`` rows would already do; ``H + KH - 1`` does for every padding, up to
    the "full" convolution with ``p = K - 1``.)

    Parameters
    ----------
    w : ndarray, shape (KH, KW)
    shape : tuple of int
        ``(H, W)`` of the image, each >= 1.
    padding : int or pair of int
        Zero padding ``(ph, pw)``, at most ``(KH - 1, KW - 1)``, as in `lalib.conv`.

    Returns
    -------
    M : ndarray, shape (P Q, P Q)
        ``circulant2d(w, (P, Q))`` with ``P = H + KH - 1``, ``Q = W + KW - 1``.
    rows : ndarray of int, shape (H' W',)
        Rows of `M` that are the outputs, in row-major order of the (H', W') output.
    cols : ndarray of int, shape (H W,)
        Columns of `M` that are the image's pixels, in row-major order.

    Raises
    ------
    ValueError
        As `circulant2d`, and as `lalib.conv.output_size` for the padding.

    Examples
    --------
    One row of 3 pixels and the kernel ``[1, 2]``, padding 1: a 4 x 4 circulant, of
    which rows (3, 0, 1, 2) and columns (0, 1, 2) are the Toeplitz matrix.

    >>> M, rows, cols = embed_toeplitz([[1.0, 2.0]], (1, 3), padding=(0, 1))
    >>> M
    array([[1., 2., 0., 0.],
           [0., 1., 2., 0.],
           [0., 0., 1., 2.],
           [2., 0., 0., 1.]])
    >>> rows, cols
    (array([3, 0, 1, 2]), array([0, 1, 2]))
    >>> M[np.ix_(rows, cols)]
    array([[2., 0., 0.],
           [1., 2., 0.],
           [0., 1., 2.],
           [0., 0., 1.]])
    """
    w = _kernel_2d(w)
    H, W = _sizes(shape, "shape", "(H, W)", minimum=1)
    KH, KW = w.shape
    ph, pw = _pair(padding, "padding", 0)
    Ho, Wo = output_size((H, W), (KH, KW), 1, (ph, pw))  # raises for a bad padding
    P, Q = H + KH - 1, W + KW - 1  # the torus
    _check_entries(
        P * Q, P * Q, f"for shape {(H, W)}, the circulant of the torus {(P, Q)}"
    )
    M = circulant2d(w, (P, Q))
    out_r, out_q = (np.arange(Ho) - ph) % P, (np.arange(Wo) - pw) % Q
    rows = (out_r[:, None] * Q + out_q[None, :]).ravel()  # (H' W',)
    cols = (np.arange(H)[:, None] * Q + np.arange(W)[None, :]).ravel()  # (H W,)
    return M, rows, cols
