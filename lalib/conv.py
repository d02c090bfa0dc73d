"""2-D convolution as matrix multiplication: naive loops, the Toeplitz matrix, im2col + GEMM.

Layout is NCHW everywhere: a batch ``x`` is (N, C, H, W), filters ``w`` are
(F, C, KH, KW), biases ``b`` are (F,), and the output is (N, F, H', W') with

    H' = (H + 2 * padding - KH) // stride + 1,    W' likewise.

Like every deep-learning library, "convolution" here means cross-correlation: the
filter is not flipped, ``out[n, f, i, j] = sum_{c, u, v} x_pad[n, c, i*s + u, j*s + v]
* w[f, c, u, v] + b[f]``.

Three ways to compute the same thing, kept side by side:

- `conv2d_naive`: four explicit loops, the readable reference.
- `toeplitz_matrix`: the convolution of one image is a linear map, so it *is* a matrix
  ``T`` with ``T @ x.ravel() == conv2d(x[None], w)[0].ravel()``; its transpose gives the
  backward pass, ``dx = T.T @ dout.ravel()``. ``T`` is almost all zeros, so nobody stores it.
- `im2col` + one matrix product (`conv2d_forward`, `conv2d_backward`, `conv2d`): copy every
  receptive field into a column, then a single GEMM per image does all the arithmetic.
  This is the fast path, and what the book teaches as "matrix multiplication is the engine".
  The kernels build the columns a block of images (or rows) at a time, in a reused
  buffer that stays in cache, instead of all at once (see `_Blocks`).

`stride` and `padding` are an int or a pair ``(vertical, horizontal)``; kernels may be
rectangular.
"""

import math
import operator
import threading

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from lalib._checks import as_float_array, check_ndim, result_dtype

# ----------------------------------------------------------------------------- helpers


def _pair(value, name, minimum):
    """``value`` as a pair of ints ``(vertical, horizontal)``, each >= `minimum`."""
    try:
        if np.ndim(value) == 0:
            pair = (operator.index(value),) * 2
        else:
            pair = tuple(operator.index(v) for v in value)
    except TypeError:
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}") from None
    if len(pair) != 2 or isinstance(value, bool) or min(pair) < minimum:
        raise ValueError(
            f"{name} must be an int >= {minimum} or a pair of them, got {value!r}"
        )
    return pair


def output_size(input_hw, kernel_hw, stride=1, padding=0):
    """Output height and width of a convolution: ``(H + 2 p - KH) // s + 1`` per axis.

    Parameters
    ----------
    input_hw : tuple of int
        ``(H, W)``.
    kernel_hw : tuple of int
        ``(KH, KW)``.
    stride, padding : int or pair of int

    Returns
    -------
    (H', W') : tuple of int

    Raises
    ------
    ValueError
        If the kernel is larger than the padded input, or stride/padding are invalid.

    Examples
    --------
    The chapter's example: a 3x3 filter over a 5x5 image gives a 3x3 output.

    >>> output_size((5, 5), (3, 3))
    (3, 3)
    >>> output_size((5, 5), (3, 3), stride=2, padding=1)
    (3, 3)
    """
    (sh, sw), (ph, pw) = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    (H, W), (KH, KW) = input_hw, kernel_hw
    if KH > H + 2 * ph or KW > W + 2 * pw:
        raise ValueError(
            f"kernel (KH, KW) = {(KH, KW)} is larger than the padded input "
            f"(H + 2*padding, W + 2*padding) = {(H + 2 * ph, W + 2 * pw)}"
        )
    return (H + 2 * ph - KH) // sh + 1, (W + 2 * pw - KW) // sw + 1


def _validate(x, w, b, stride, padding):
    """Check ranks, channels, bias and geometry; return arrays in one dtype plus geometry."""
    x = as_float_array(x, "x")
    w = as_float_array(w, "w")
    check_ndim(x, 4, "x", "(N, C, H, W)")
    check_ndim(w, 4, "w", "(F, C, KH, KW)")
    if x.shape[1] != w.shape[1]:
        raise ValueError(
            f"x has C={x.shape[1]} channels (shape {x.shape}) but w expects "
            f"C={w.shape[1]} (shape {w.shape}); x must be (N, C, H, W) and w (F, C, KH, KW)"
        )
    stride, padding = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    output_size(x.shape[2:], w.shape[2:], stride, padding)  # raises if the kernel is too big
    # One dtype for the whole computation: float32 in -> float32 out. The bias is cast to
    # it, so a default float64 np.zeros(F) does not silently promote a float32 network.
    dtype = result_dtype(x, w)
    x, w = x.astype(dtype, copy=False), w.astype(dtype, copy=False)
    if b is not None:
        b = as_float_array(b, "b")
        if b.shape != (w.shape[0],):
            raise ValueError(f"b must have shape (F,) = ({w.shape[0]},), got {b.shape}")
        b = b.astype(dtype, copy=False)
    return x, w, b, stride, padding


def _pad(x, padding):
    """Zero-pad the last two axes of (N, C, H, W) by ``padding = (ph, pw)``."""
    ph, pw = padding
    if ph == pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))  # (N, C, H+2ph, W+2pw)


# ------------------------------------------------------------------- 1. naive reference


def conv2d_naive(x, w, b=None, stride=1, padding=0):
    """2-D convolution (cross-correlation) by explicit loops: the readable reference.

    One Python iteration per output number: take the receptive field under the filter,
    multiply elementwise, sum. Slow on purpose; tests compare every fast path with it.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    w : ndarray, shape (F, C, KH, KW)
    b : ndarray, shape (F,), optional
    stride, padding : int or pair of int

    Returns
    -------
    out : ndarray, shape (N, F, H', W')
        In the dtype of ``np.result_type(x, w)``.

    Examples
    --------
    A 3x3 box filter over a 5x5 image of 0..24 averages each 3x3 neighbourhood:

    >>> x = np.arange(25.0).reshape(1, 1, 5, 5)
    >>> conv2d_naive(x, np.full((1, 1, 3, 3), 1 / 9))[0, 0]
    array([[ 6.,  7.,  8.],
           [11., 12., 13.],
           [16., 17., 18.]])
    """
    x, w, b, (sh, sw), padding = _validate(x, w, b, stride, padding)
    N, F = x.shape[0], w.shape[0]
    KH, KW = w.shape[2:]
    Ho, Wo = output_size(x.shape[2:], (KH, KW), (sh, sw), padding)
    xp = _pad(x, padding)  # (N, C, Hp, Wp)
    out = np.zeros((N, F, Ho, Wo), dtype=x.dtype)  # (N, F, H', W')
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    patch = xp[n, :, i * sh : i * sh + KH, j * sw : j * sw + KW]  # (C, KH, KW)
                    out[n, f, i, j] = np.sum(patch * w[f])
            if b is not None:
                out[n, f] += b[f]
    return out


# ------------------------------------------------------------------ 2. Toeplitz matrix


def toeplitz_matrix(w, input_shape, stride=1, padding=0):
    """The dense matrix of the convolution ``x -> conv2d(x[None], w)[0]`` for one image.

    Convolution without bias is linear in the input, so it has a matrix ``T``:

        T @ x.ravel() == conv2d(x[None], w)[0].ravel()

    Row ``(f, i, j)`` of ``T`` (flattened in C order) holds the filter ``w[f]`` laid out
    at the positions of output pixel ``(i, j)``'s receptive field, zeros elsewhere;
    positions that fall in the zero padding are simply dropped. For one channel, stride 1
    and no padding, ``T`` is block Toeplitz with Toeplitz blocks (constant along
    diagonals), hence the name.

    The backward pass with respect to the input is multiplication by the transpose:

        dx.ravel() == T.T @ dout.ravel()

    (the derivative of ``x -> T x`` is ``T``, and a vector-Jacobian product uses
    ``T^T``). This is why the backward convolution is also called a "transposed
    convolution".

    Parameters
    ----------
    w : ndarray, shape (F, C, KH, KW)
    input_shape : tuple of int
        ``(C, H, W)`` of the single image.
    stride, padding : int or pair of int

    Returns
    -------
    T : ndarray, shape (F * H' * W', C * H * W)
        In the dtype of `w`. At most ``C * KH * KW`` nonzeros per row, so nearly all
        of it is zero: fine for teaching, never for computing.

    Examples
    --------
    A 2x2 filter over a 3x3 image: four rows, one per output pixel.

    >>> w = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    >>> toeplitz_matrix(w, (1, 3, 3))
    array([[1., 2., 0., 3., 4., 0., 0., 0., 0.],
           [0., 1., 2., 0., 3., 4., 0., 0., 0.],
           [0., 0., 0., 1., 2., 0., 3., 4., 0.],
           [0., 0., 0., 0., 1., 2., 0., 3., 4.]])
    """
    w = as_float_array(w, "w")
    check_ndim(w, 4, "w", "(F, C, KH, KW)")
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (C, H, W), got {tuple(input_shape)}")
    C, H, W = (int(s) for s in input_shape)
    F, Cw, KH, KW = w.shape
    if C != Cw:
        raise ValueError(
            f"input_shape has C={C} channels ({tuple(input_shape)}) but w expects "
            f"C={Cw} (shape {w.shape})"
        )
    (sh, sw), (ph, pw) = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    Ho, Wo = output_size((H, W), (KH, KW), (sh, sw), (ph, pw))

    # One axis per index of the sum out[f, i, j] = sum_{c, u, v} w[f, c, u, v] x[c, r, q]:
    # broadcasting over (F, H', W', C, KH, KW) enumerates every (output, weight) pair.
    f = np.arange(F).reshape(F, 1, 1, 1, 1, 1)
    i = np.arange(Ho).reshape(1, Ho, 1, 1, 1, 1)
    j = np.arange(Wo).reshape(1, 1, Wo, 1, 1, 1)
    c = np.arange(C).reshape(1, 1, 1, C, 1, 1)
    u = np.arange(KH).reshape(1, 1, 1, 1, KH, 1)
    v = np.arange(KW).reshape(1, 1, 1, 1, 1, KW)
    r, q = i * sh + u - ph, j * sw + v - pw  # input row and column read by weight (u, v)
    shape = (F, Ho, Wo, C, KH, KW)
    inside = np.broadcast_to((r >= 0) & (r < H) & (q >= 0) & (q < W), shape)  # not padding
    rows = np.broadcast_to((f * Ho + i) * Wo + j, shape)[inside]  # flat output index
    cols = np.broadcast_to((c * H + r) * W + q, shape)[inside]  # flat input index
    vals = np.broadcast_to(w[:, None, None], shape)[inside]  # w[f, c, u, v]

    T = np.zeros((F * Ho * Wo, C * H * W), dtype=w.dtype)  # (F*H'*W', C*H*W)
    T[rows, cols] = vals  # no (row, col) repeats: distinct (c, u, v) read distinct pixels
    return T


# --------------------------------------------------------------- 3. im2col + one GEMM


def im2col(x, kernel_size, stride=1, padding=0):
    """Unroll every receptive field of a batch into a column.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    kernel_size : int or pair of int
        ``(KH, KW)``.
    stride, padding : int or pair of int

    Returns
    -------
    cols : ndarray, shape (N, C * KH * KW, H' * W')
        ``cols[n, :, i * W' + j]`` is the receptive field of output pixel ``(i, j)`` of
        image ``n``, flattened in (C, KH, KW) order, the order of
        ``w.reshape(F, -1)``; so ``w.reshape(F, -1) @ cols[n]`` is the (F, H' * W')
        output of image ``n``.

    Notes
    -----
    No Python loop over pixels: `numpy.lib.stride_tricks.sliding_window_view` gives
    every window as a view of the padded input (no copy); the one copy is the
    rearrangement into columns. Each input pixel is copied up to ``KH * KW`` times:
    im2col trades memory for one large, fast matrix product.

    Examples
    --------
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> im2col(x, 3)[0]  # 4 output pixels -> 4 columns of 9
    array([[ 0.,  1.,  4.,  5.],
           [ 1.,  2.,  5.,  6.],
           [ 2.,  3.,  6.,  7.],
           [ 4.,  5.,  8.,  9.],
           [ 5.,  6.,  9., 10.],
           [ 6.,  7., 10., 11.],
           [ 8.,  9., 12., 13.],
           [ 9., 10., 13., 14.],
           [10., 11., 14., 15.]])
    """
    x = as_float_array(x, "x")
    check_ndim(x, 4, "x", "(N, C, H, W)")
    KH, KW = _pair(kernel_size, "kernel_size", 1)
    (sh, sw), padding = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    N, C = x.shape[:2]
    Ho, Wo = output_size(x.shape[2:], (KH, KW), (sh, sw), padding)
    xp = _pad(x, padding)  # (N, C, Hp, Wp)
    # Every KH x KW window, as a view: windows[n, c, i, j] = xp[n, c, i:i+KH, j:j+KW].
    windows = sliding_window_view(xp, (KH, KW), axis=(2, 3))  # (N, C, Hp-KH+1, Wp-KW+1, KH, KW)
    windows = windows[:, :, : (Ho - 1) * sh + 1 : sh, : (Wo - 1) * sw + 1 : sw]  # (N, C, H', W', KH, KW)
    # Kernel offsets before pixels, then the single copy: a column per output pixel.
    cols = np.ascontiguousarray(windows.transpose(0, 1, 4, 5, 2, 3))  # (N, C, KH, KW, H', W')
    return cols.reshape(N, C * KH * KW, Ho * Wo)  # (N, C*KH*KW, H'*W'), a free reshape


def col2im(cols, x_shape, kernel_size, stride=1, padding=0):
    """Fold columns back into images, summing where receptive fields overlap.

    The adjoint (transpose) of `im2col`: for any ``x`` and ``y`` of matching shapes,
    ``np.sum(im2col(x, ...) * y) == np.sum(x * col2im(y, x.shape, ...))``. That is
    exactly what the backward pass needs: gradients flowing into the columns are
    scattered back to the pixels they were copied from, and a pixel copied into
    several columns receives the sum.

    Parameters
    ----------
    cols : ndarray, shape (N, C * KH * KW, H' * W')
    x_shape : tuple of int
        ``(N, C, H, W)`` of the image batch `cols` came from.
    kernel_size, stride, padding : int or pair of int
        As given to `im2col`.

    Returns
    -------
    x : ndarray, shape (N, C, H, W)

    Notes
    -----
    The loop runs over the ``KH * KW`` kernel offsets, not over pixels: offset
    ``(u, v)`` adds one whole (N, C, H', W') slab into a strided slice of the padded
    image.
    """
    cols = as_float_array(cols, "cols")
    if len(x_shape) != 4:
        raise ValueError(f"x_shape must be (N, C, H, W), got {tuple(x_shape)}")
    N, C, H, W = (int(s) for s in x_shape)
    KH, KW = _pair(kernel_size, "kernel_size", 1)
    (sh, sw), (ph, pw) = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    Ho, Wo = output_size((H, W), (KH, KW), (sh, sw), (ph, pw))
    expected = (N, C * KH * KW, Ho * Wo)
    if cols.shape != expected:
        raise ValueError(
            f"cols must have shape (N, C*KH*KW, H'*W') = {expected} for x_shape "
            f"{(N, C, H, W)}, got {cols.shape}"
        )
    cols6 = cols.reshape(N, C, KH, KW, Ho, Wo)  # (N, C, KH, KW, H', W')
    xp = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=cols.dtype)  # (N, C, Hp, Wp)
    for u in range(KH):
        for v in range(KW):
            # Kernel offset (u, v) read pixel (i*sh + u, j*sw + v) for output (i, j).
            xp[:, :, u : u + sh * Ho : sh, v : v + sw * Wo : sw] += cols6[:, :, u, v]
    return xp[:, :, ph : ph + H, pw : pw + W]  # drop the padding: (N, C, H, W)


#: Target size, in bytes, of one block of im2col columns in `conv2d_forward` and
#: `conv2d_backward`: small enough that the columns are still in the CPU cache when the
#: matrix product reads them back.
COLUMN_BLOCK_BYTES = 4 * 2**20


def _take(buf, shape):
    """The first ``prod(shape)`` entries of the flat buffer `buf`, as a C-contiguous array."""
    return buf[: math.prod(shape)].reshape(shape)


_scratch = threading.local()  # per-thread scratch buffers of the conv kernels

#: Largest scratch buffer, in bytes, that a thread keeps between calls; larger ones (the
#: padded copy of a very large image) are allocated for the call and freed after it.
SCRATCH_KEEP_BYTES = 32 * 2**20


def _workspace(name, size, dtype):
    """A flat scratch array of at least `size` entries, kept between calls (per thread).

    Fresh memory is not free: the first write to every page of a new allocation costs a
    page fault, and on the machine the benchmarks ran on that made a freshly allocated
    column block cost more than the copy into it. So each thread keeps one buffer per
    `name` and dtype, grown when a larger one is needed, up to `SCRATCH_KEEP_BYTES`
    each (a few MiB for the book's layers). Callers must not return views of it.
    """
    dtype = np.dtype(dtype)
    if size * dtype.itemsize > SCRATCH_KEEP_BYTES:
        return np.empty(size, dtype=dtype)  # too big to keep around
    bufs = _scratch.__dict__.setdefault("bufs", {})
    key = (name, dtype)
    if key not in bufs or bufs[key].size < size:
        bufs[key] = np.empty(size, dtype=dtype)
    return bufs[key]


class _Blocks:
    """How `conv2d_forward` and `conv2d_backward` cut a batch into cache-sized blocks.

    A block is either ``g`` whole images or one band of output rows of one image, chosen
    so that its columns, ``C*KH*KW`` rows by (rows x ``Wq``) columns, take about
    `COLUMN_BLOCK_BYTES`.

    The images are copied into a zero-padded buffer with each channel flattened,
    ``flat[n, c, h * Wp + w] = x_pad[n, c, h, w]`` (plus ``KW - 1`` spare zeros at the
    end). With stride 1, moving the window by ``(u, v)`` is then just an offset of
    ``u * Wp + v`` in that flat array, so the im2col row for kernel offset ``(u, v)`` and
    channel ``c``, over a band of output rows, is one *contiguous* slice of ``flat[n, c]``
    and is copied as one long run instead of row by row. The price is that each output
    row is computed ``Wq = Wp`` wide: its last ``KW - 1`` entries straddle the right edge
    and are thrown away (``(KW - 1) / Wp`` extra work, 6 % at 32 x 32 with 3 x 3). With a
    larger stride the windows are gathered row by row and ``Wq = W'``: nothing is wasted.
    """

    def __init__(self, x_shape, kernel, stride, padding, itemsize):
        N, C, H, W = x_shape
        (KH, KW), (sh, sw), (ph, pw) = kernel, stride, padding
        self.Ho, self.Wo = output_size((H, W), (KH, KW), stride, padding)
        self.Hp, self.Wp = H + 2 * ph, W + 2 * pw
        self.Wq = self.Wp if (sh, sw) == (1, 1) else self.Wo  # width of a row of columns
        self.kernel, self.stride, self.inner = (KH, KW), (sh, sw), (slice(ph, ph + H), slice(pw, pw + W))
        row_bytes = max(1, C * KH * KW * self.Wq * itemsize)  # one output row's columns
        rows_fit = max(1, COLUMN_BLOCK_BYTES // row_bytes)
        if rows_fit >= self.Ho:  # whole images fit: take several per block (>= 1, even if N = 0)
            self.g, self.bands = max(1, min(N, rows_fit // self.Ho)), [(0, self.Ho)]
        else:  # one image is too big: bands of output rows, as even as possible
            self.g = 1
            n_bands = -(-self.Ho // rows_fit)  # ceil division
            edges = [self.Ho * k // n_bands for k in range(n_bands + 1)]
            self.bands = list(zip(edges[:-1], edges[1:]))
        self.flat_len = self.Hp * self.Wp + KW - 1  # the stride-1 windows read KW - 1 past the end

    def buffer(self, name, n_rows, dtype):
        """Scratch space for `n_rows` rows of the largest block (g x rows x Wq)."""
        rows = max(i1 - i0 for i0, i1 in self.bands)
        return _workspace(name, self.g * n_rows * rows * self.Wq, dtype)

    def padded(self, name, C, dtype):
        """Zeroed scratch (g, C, flat_len) for padded images."""
        flat = _take(_workspace(name, self.g * C * self.flat_len, dtype), (self.g, C, self.flat_len))
        flat.fill(0)
        return flat

    def groups(self, N):
        """Image ranges ``(n0, n1)`` of at most ``g`` images."""
        return [(n, min(n + self.g, N)) for n in range(0, N, self.g)]

    def interior(self, flat):
        """The (g, C, H, W) view of `flat` (g, C, flat_len) where the unpadded images go."""
        g, C = flat.shape[:2]
        return flat[:, :, : self.Hp * self.Wp].reshape(g, C, self.Hp, self.Wp)[:, :, self.inner[0], self.inner[1]]

    def window(self, flat, u, v, i0, i1):
        """View (g, C, i1 - i0, Wq) of `flat`: kernel offset (u, v) for output rows i0..i1-1.

        ``window[n, c, i, j] = flat[n, c, ((i0 + i) * sh + u) * Wp + v + j * sw]``: the
        pixel that kernel entry ``(u, v)`` meets at output pixel ``(i0 + i, j)``.
        """
        (sh, sw), s = self.stride, flat.strides
        start = (i0 * sh + u) * self.Wp + v
        return as_strided(flat[:, :, start:], shape=flat.shape[:2] + (i1 - i0, self.Wq),
                          strides=(s[0], s[1], sh * self.Wp * s[2], sw * s[2]))

    def columns(self, flat, i0, i1, cols):
        """Fill `cols` (g, C, KH, KW, rows, Wq) with the im2col columns of rows i0..i1-1."""
        KH, KW = self.kernel
        for u in range(KH):
            for v in range(KW):
                cols[:, :, u, v] = self.window(flat, u, v, i0, i1)  # one long copy per (n, c)
        return cols


def _column_blocks(x, blk):
    """Yield ``(n0, n1, i0, i1, cols)`` for every block of `x` (N, C, H, W) cut by `blk`.

    ``cols`` (n1 - n0, C*KH*KW, (i1 - i0) * Wq) holds the im2col columns of output rows
    i0..i1-1 of images n0..n1-1. It lives in scratch memory and is overwritten by the
    next block: use it before asking for the next one.
    """
    (N, C), (KH, KW) = x.shape[:2], blk.kernel
    flat = blk.padded("x", C, x.dtype)  # padded images; the border stays 0
    buf = blk.buffer("cols", C * KH * KW, x.dtype)
    for n0, n1 in blk.groups(N):
        m = n1 - n0
        blk.interior(flat[:m])[...] = x[n0:n1]
        for i0, i1 in blk.bands:
            r = i1 - i0
            cols = blk.columns(flat[:m], i0, i1, _take(buf, (m, C, KH, KW, r, blk.Wq)))
            yield n0, n1, i0, i1, cols.reshape(m, C * KH * KW, r * blk.Wq)


def conv2d_forward(x, w, b=None, stride=1, padding=0):
    """2-D convolution of a batch as im2col + matrix products, in cache-sized blocks.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    w : ndarray, shape (F, C, KH, KW)
    b : ndarray, shape (F,), optional
    stride, padding : int or pair of int

    Returns
    -------
    out : ndarray, shape (N, F, H', W')
        In the dtype of ``np.result_type(x, w)`` (float32 stays float32; `b` is cast).
    cache : tuple
        What `conv2d_backward` needs: the input, the filters and the geometry. The
        backward pass rebuilds the columns block by block rather than keeping all of
        them, which would take ``KH * KW`` times the memory of the input.

    Raises
    ------
    ValueError
        Wrong rank, channel mismatch between `x` and `w`, `b` not (F,), stride < 1,
        padding < 0, or a kernel larger than the padded input.

    Notes
    -----
    The arithmetic is the product of `im2col` in the chapter,

        out[n] = w.reshape(F, C*KH*KW) @ cols[n]    # (F, CKK) @ (CKK, H'W') -> (F, H'W')

    which lands directly in NCHW order. Building all the columns at once writes
    ``KH * KW`` copies of the batch to main memory and reads them back, which took about
    as long as the product itself at C = 64. So the columns are built for a few images
    (or a band of rows) at a time, in one reused buffer of about `COLUMN_BLOCK_BYTES`
    that stays in cache, and each block's product is written straight into the output;
    see `_Blocks` for the flat-offset trick that makes each stride-1 copy one long run.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(2, 3, 8, 8)).astype(np.float32)
    >>> w = rng.normal(size=(4, 3, 3, 3)).astype(np.float32)
    >>> out, cache = conv2d_forward(x, w, stride=2, padding=1)
    >>> out.shape, out.dtype
    ((2, 4, 4, 4), dtype('float32'))
    >>> bool(np.allclose(out, conv2d_naive(x, w, stride=2, padding=1), atol=1e-5))
    True
    """
    x, w, b, stride, padding = _validate(x, w, b, stride, padding)
    (N, C), F, (KH, KW) = x.shape[:2], w.shape[0], w.shape[2:]
    blk = _Blocks(x.shape, (KH, KW), stride, padding, x.dtype.itemsize)
    Wo, Wq = blk.Wo, blk.Wq
    w_mat = w.reshape(F, C * KH * KW)  # rows in the (C, KH, KW) order of the columns
    out = np.empty((N, F, blk.Ho, Wo), dtype=x.dtype)
    prod_buf = blk.buffer("prod", F, x.dtype)
    for n0, n1, i0, i1, cols in _column_blocks(x, blk):  # cols: (m, CKK, r*Wq)
        m, r = n1 - n0, i1 - i0
        p = np.matmul(w_mat, cols, out=_take(prod_buf, (m, F, r * Wq)))  # (F, CKK) @ (m, CKK, r*Wq)
        p = p.reshape(m, F, r, Wq)[..., :Wo]  # drop the columns past the right edge
        if b is None:
            out[n0:n1, :, i0:i1] = p
        else:
            np.add(p, b[:, None, None], out=out[n0:n1, :, i0:i1])  # bias on the way out
    return out, (x, w, stride, padding)


def conv2d_backward(dout, cache):
    """Gradients of `conv2d_forward` given the upstream gradient `dout`.

    Parameters
    ----------
    dout : ndarray, shape (N, F, H', W')
        dL/d(out).
    cache : tuple
        From `conv2d_forward`.

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
        ``col2im(w_mat.T @ dout[n])``: the gradient reaching each column is scattered
        back to the pixels it was copied from. Equal to ``T.T @ dout.ravel()`` per image,
        with ``T = toeplitz_matrix(w, (C, H, W), stride, padding)``.
    dw : ndarray, shape (F, C, KH, KW)
        ``sum_n dout[n] @ cols[n].T``: the forward GEMM differentiated in its left factor.
    db : ndarray, shape (F,)
        ``dout.sum(axis=(0, 2, 3))``: each bias is added at every pixel of every image.
        Returned even when the forward pass had no bias.

    Notes
    -----
    Block by block, as in the forward pass: the columns of a block are rebuilt in
    cache, ``dw_mat += dout_block @ cols_block.T``, and ``dcols = w_mat.T @ dout_block``
    is folded back (col2im) into the padded images at once, while it is still in cache.
    """
    x, w, stride, padding = cache
    (N, C), F, (KH, KW) = x.shape[:2], w.shape[0], w.shape[2:]
    blk = _Blocks(x.shape, (KH, KW), stride, padding, x.dtype.itemsize)
    Ho, Wo, Wq = blk.Ho, blk.Wo, blk.Wq
    dout = as_float_array(dout, "dout")
    if dout.shape != (N, F, Ho, Wo):
        raise ValueError(
            f"dout must have the output's shape (N, F, H', W') = {(N, F, Ho, Wo)}, "
            f"got {dout.shape}"
        )
    dout = dout.astype(x.dtype, copy=False)
    w_mat = w.reshape(F, C * KH * KW)
    db = dout.sum(axis=(0, 2, 3))  # (F,)
    dw_mat = np.zeros((F, C * KH * KW), dtype=x.dtype)
    dx = np.empty(x.shape, dtype=x.dtype)
    dflat = blk.padded("dx", C, x.dtype)  # gradient of the padded images, padding included
    dcols_buf, dq_buf = blk.buffer("dcols", C * KH * KW, x.dtype), blk.buffer("prod", F, x.dtype)
    for n0, n1, i0, i1, cols in _column_blocks(x, blk):  # cols: (m, CKK, r*Wq)
        m, r = n1 - n0, i1 - i0
        d = _take(dq_buf, (m, F, r, Wq))  # dout of the block, Wq wide
        d[..., :Wo] = dout[n0:n1, :, i0:i1]
        d[..., Wo:] = 0  # so the columns past the right edge contribute nothing below
        d = d.reshape(m, F, r * Wq)
        # out[n] = w_mat @ cols[n], so dw_mat = sum_n dout[n] @ cols[n].T (transposed view)
        for k in range(m):
            dw_mat += d[k] @ cols[k].T  # (F, r*Wq) @ (r*Wq, CKK)
        # ... and dcols[n] = w_mat.T @ dout[n], folded back onto the pixels (col2im).
        dc = np.matmul(w_mat.T, d, out=_take(dcols_buf, (m, C * KH * KW, r * Wq)))
        dc = dc.reshape(m, C, KH, KW, r, Wq)
        if i0 == 0:
            dflat[:m] = 0  # a new group of images
        for u in range(KH):
            for v in range(KW):
                blk.window(dflat[:m], u, v, i0, i1)[...] += dc[:, :, u, v]
        if i1 == Ho:  # the group's last band: its images are complete
            dx[n0:n1] = blk.interior(dflat[:m])  # drop the padding
    return dx, dw_mat.reshape(w.shape), db


def conv2d(x, w, b=None, stride=1, padding=0):
    """2-D convolution (cross-correlation), NCHW; `conv2d_forward` without the cache.

    Parameters and return value as in `conv2d_forward`.
    """
    return conv2d_forward(x, w, b, stride, padding)[0]
