"""2-D convolution as matrix multiplication: loops, Toeplitz matrix, im2col + GEMM.

Layout is NCHW everywhere: a batch ``x`` is (N, C, H, W), filters ``w`` are
(F, C, KH, KW), biases ``b`` are (F,), and the output is (N, F, H', W') with

    H' = (H + 2 * padding - KH) // stride + 1,    W' likewise.

Like every deep-learning library, "convolution" here means cross-correlation: the
filter is not flipped, ``out[n, f, i, j] = sum_{c, u, v} x_pad[n, c, i*s + u, j*s + v]
* w[f, c, u, v] + b[f]``.

Three ways to compute the same thing, kept side by side, as chapter 2 writes them:

- `conv2d_naive`: four explicit loops, the readable reference.
- `toeplitz_matrix`: the convolution of one image is a linear map, so it *is* a matrix
  ``T`` with ``T @ x.ravel() == conv2d(x[None], w)[0].ravel()``; its transpose gives
  the backward pass, ``dx = T.T @ dout.ravel()``. ``T`` is almost all zeros, so nobody
  stores it.
- `im2col` + one matrix product (`conv2d_forward`, `conv2d_backward`): copy every
  receptive field into a column, then a single matrix product does all the
  arithmetic; the backward pass is the two other products and `col2im`.

`conv2d` is the public entry point, and it runs the fast version of the same
computation: `lalib.engine.conv`, which has the same signatures and is tested equal
to the functions here. It builds the columns a few images at a time in a buffer that
stays in the CPU cache instead of all at once; chapter 7, "Matrix multiplication is
the engine", explains and measures why.

Two relatives, in the same terms: `conv_transpose2d` multiplies by ``T.T`` (the input
gradient of a convolution, used as an upsampling layer), and `receptive_field` says
how far the product of a stack's matrices reaches into the input.

`stride` and `padding` are an int or a pair ``(vertical, horizontal)``; kernels may be
rectangular. The padding is at most ``KH - 1`` rows and ``KW - 1`` columns (a "full"
convolution, in which every window still overlaps the image): more would only add
output pixels whose window sees nothing but zeros, and a padded copy of the input as
large as the padding, so it is refused with a ValueError. Sizes, strides and paddings
are integers; a float or a bool (``True`` is not a size) is refused, not truncated.
"""

import operator
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from lalib._checks import as_real_array, check_ndim, result_dtype

__all__ = [
    "output_size",
    "conv2d_naive",
    "toeplitz_matrix",
    "im2col",
    "col2im",
    "conv2d_forward",
    "conv2d_backward",
    "conv2d",
    "conv_transpose2d_forward",
    "conv_transpose2d_backward",
    "conv_transpose2d",
    "receptive_field",
]

# Largest Toeplitz matrix, in entries, that `toeplitz_matrix` builds (2 GiB in float64):
# it is dense and meant for small examples.
_TOEPLITZ_MAX_ENTRIES = 2**28

# ----------------------------------------------------------------------------- helpers


def _index(value):
    """``operator.index(value)``, but a bool is not a size: TypeError for it too."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError("a bool is not a size")
    return operator.index(value)


def _pair(value, name, minimum):
    """``value`` as a pair of ints ``(vertical, horizontal)``, each >= `minimum`.

    An int stands for both; floats, strings and bools (also inside a pair) are refused
    rather than truncated.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()  # a 0-d array: the number it holds
    items = tuple(value) if isinstance(value, (tuple, list, np.ndarray)) else None
    try:
        if items is None:
            pair = (_index(value),) * 2
        elif len(items) == 2:
            pair = tuple(_index(v) for v in items)
        else:
            raise TypeError
    except TypeError:
        pair = None
    if pair is None or min(pair) < minimum:
        raise ValueError(
            f"{name} must be an int >= {minimum} or a pair of them "
            f"(vertical, horizontal), got {value!r}"
        )
    return pair


def _sizes(value, name, layout, minimum=0):
    """`value` as a tuple of ints, one per name in `layout` (e.g. '(C, H, W)'), each
    at least `minimum`; ValueError naming `value` and `layout` otherwise."""
    n = layout.count(",") + 1
    try:
        items = tuple(value)
        sizes = tuple(_index(v) for v in items) if len(items) == n else None
    except TypeError:  # not a sequence, or a float, string or bool in it
        sizes = None
    if sizes is None or min(sizes) < minimum:
        raise ValueError(
            f"{name} must be {layout}, {n} integers >= {minimum}, got {value!r}"
        )
    return sizes


def _used_stride(stride, out_hw):
    """The stride to index with: along an axis with a single output it is never applied,
    so cap it at 2 there (a huge one, valid, would overflow int64 index arithmetic).

    Capping at 2 rather than 1 keeps a stride > 1 above 1, so the engine takes the same
    path and computes the same numbers.
    """
    return tuple(s if o > 1 else min(s, 2) for s, o in zip(stride, out_hw, strict=True))


def _check_kernel(w):
    """ValueError unless the filters `w` (F, C, KH, KW) have KH, KW >= 1."""
    if min(w.shape[2:]) < 1:
        raise ValueError(
            "w must have a kernel of at least 1x1, (F, C, KH, KW) with KH, KW >= 1, "
            f"got shape {w.shape}"
        )


def output_size(input_hw, kernel_hw, stride=1, padding=0):
    """Output height and width of a convolution: ``(H + 2 p - KH) // s + 1`` per axis.

    Parameters
    ----------
    input_hw : tuple of int
        ``(H, W)``, each >= 0.
    kernel_hw : tuple of int
        ``(KH, KW)``, each >= 1.
    stride, padding : int or pair of int
        Stride >= 1; padding >= 0 and at most ``(KH - 1, KW - 1)``.

    Returns
    -------
    (H', W') : tuple of int

    Raises
    ------
    ValueError
        If a size is not an integer in range, stride/padding are invalid, the padding
        exceeds ``KH - 1`` or ``KW - 1`` (it would only add windows of zeros), or the
        kernel is larger than the padded input.

    Examples
    --------
    The chapter's example: a 3x3 filter over a 5x5 image gives a 3x3 output.

    >>> output_size((5, 5), (3, 3))
    (3, 3)
    >>> output_size((5, 5), (3, 3), stride=2, padding=1)
    (3, 3)
    """
    H, W = _sizes(input_hw, "input_hw", "(H, W)", minimum=0)
    KH, KW = _sizes(kernel_hw, "kernel_hw", "(KH, KW)", minimum=1)
    (sh, sw), (ph, pw) = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    if ph > KH - 1 or pw > KW - 1:
        raise ValueError(
            f"padding (vertical, horizontal) = {(ph, pw)} must be at most "
            f"(KH - 1, KW - 1) = {(KH - 1, KW - 1)} for the kernel (KH, KW) = "
            f"{(KH, KW)}: more padding only adds windows that see nothing but zeros"
        )
    if KH > H + 2 * ph or KW > W + 2 * pw:
        raise ValueError(
            f"kernel (KH, KW) = {(KH, KW)} is larger than the padded input "
            f"(H + 2*padding, W + 2*padding) = {(H + 2 * ph, W + 2 * pw)}"
        )
    return (H + 2 * ph - KH) // sh + 1, (W + 2 * pw - KW) // sw + 1


def _validate(x, w, b, stride, padding):
    """Check ranks, channels, bias and geometry; return same-dtype arrays, geometry."""
    x = as_real_array(x, "x")
    w = as_real_array(w, "w")
    check_ndim(x, 4, "x", "(N, C, H, W)")
    check_ndim(w, 4, "w", "(F, C, KH, KW)")
    _check_kernel(w)
    if x.shape[1] != w.shape[1]:
        raise ValueError(
            f"x has C={x.shape[1]} channels (shape {x.shape}) but w expects "
            f"C={w.shape[1]} (shape {w.shape}); x must be (N, C, H, W) and w "
            f"(F, C, KH, KW)"
        )
    stride, padding = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    output_size(x.shape[2:], w.shape[2:], stride, padding)  # raises if they do not fit
    # One dtype for the whole computation: float32 in -> float32 out. The bias is cast
    # to it, so a default float64 np.zeros(F) does not silently promote a float32
    # network.
    dtype = result_dtype(x, w)
    x, w = x.astype(dtype, copy=False), w.astype(dtype, copy=False)
    if b is not None:
        b = as_real_array(b, "b")
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


def _check_dout(dout, shape, dtype):
    """`dout` as an array of the output's `shape` (N, F, H', W') in `dtype` (float32
    stays float32); ValueError naming both shapes otherwise. Every backward pass
    (readable, im2col, Winograd, FFT) checks its upstream gradient with it."""
    dout = as_real_array(dout, "dout")
    if dout.shape != tuple(shape):
        raise ValueError(
            f"dout must have the output's shape (N, F, H', W') = {tuple(shape)}, "
            f"got {dout.shape}"
        )
    return dout.astype(dtype, copy=False)


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
                    top, left = i * sh, j * sw  # the window's top-left pixel
                    patch = xp[n, :, top : top + KH, left : left + KW]  # (C, KH, KW)
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
    positions that fall in the zero padding are simply dropped. For one channel,
    stride 1 and no padding, ``T`` is block Toeplitz with Toeplitz blocks (constant
    along diagonals), hence the name.

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

    Raises
    ------
    ValueError
        As `output_size`, if `input_shape` is not three non-negative integers or its C
        is not that of `w`, or if `T` would have more than 2**28 entries (2 GiB in
        float64).

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
    w = as_real_array(w, "w")
    check_ndim(w, 4, "w", "(F, C, KH, KW)")
    _check_kernel(w)
    C, H, W = _sizes(input_shape, "input_shape", "(C, H, W)")
    F, Cw, KH, KW = w.shape
    if C != Cw:
        raise ValueError(
            f"input_shape has C={C} channels ({(C, H, W)}) but w expects "
            f"C={Cw} (shape {w.shape})"
        )
    (sh, sw), (ph, pw) = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    Ho, Wo = output_size((H, W), (KH, KW), (sh, sw), (ph, pw))
    if F * Ho * Wo * C * H * W > _TOEPLITZ_MAX_ENTRIES:
        raise ValueError(
            f"the Toeplitz matrix for w {w.shape} and input_shape {(C, H, W)} would be "
            f"(F*H'*W', C*H*W) = {(F * Ho * Wo, C * H * W)}, more than "
            f"{_TOEPLITZ_MAX_ENTRIES} entries: it is dense, for small examples only"
        )
    sh, sw = _used_stride((sh, sw), (Ho, Wo))  # a huge stride over one output: 2

    # One axis per index of the sum out[f, i, j] = sum_{c,u,v} w[f, c, u, v] x[c, r, q]:
    # broadcasting over (F, H', W', C, KH, KW) enumerates every (output, weight) pair.
    f = np.arange(F).reshape(F, 1, 1, 1, 1, 1)
    i = np.arange(Ho).reshape(1, Ho, 1, 1, 1, 1)
    j = np.arange(Wo).reshape(1, 1, Wo, 1, 1, 1)
    c = np.arange(C).reshape(1, 1, 1, C, 1, 1)
    u = np.arange(KH).reshape(1, 1, 1, 1, KH, 1)
    v = np.arange(KW).reshape(1, 1, 1, 1, 1, KW)
    r, q = i * sh + u - ph, j * sw + v - pw  # input row and column that (u, v) reads
    shape = (F, Ho, Wo, C, KH, KW)
    in_image = (r >= 0) & (r < H) & (q >= 0) & (q < W)  # False where it reads padding
    inside = np.broadcast_to(in_image, shape)  # (F, H', W', C, KH, KW)
    rows = np.broadcast_to((f * Ho + i) * Wo + j, shape)[inside]  # flat output index
    cols = np.broadcast_to((c * H + r) * W + q, shape)[inside]  # flat input index
    vals = np.broadcast_to(w[:, None, None], shape)[inside]  # w[f, c, u, v]

    T = np.zeros((F * Ho * Wo, C * H * W), dtype=w.dtype)  # (F*H'*W', C*H*W)
    T[rows, cols] = vals  # no (row, col) repeats: distinct (c, u, v) read other pixels
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

    Raises
    ------
    ValueError
        As `output_size`; if `x` is not a 4-D array of real numbers; or if the
        columns, ``KH * KW`` copies of the input, cannot be allocated.

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
    x = as_real_array(x, "x")
    check_ndim(x, 4, "x", "(N, C, H, W)")
    KH, KW = _pair(kernel_size, "kernel_size", 1)
    (sh, sw), padding = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    N, C = x.shape[:2]
    Ho, Wo = output_size(x.shape[2:], (KH, KW), (sh, sw), padding)
    xp = _pad(x, padding)  # (N, C, Hp, Wp)
    # Every KH x KW window, as a view: windows[n, c, i, j] = xp[n, c, i:i+KH, j:j+KW].
    windows = sliding_window_view(xp, (KH, KW), axis=(2, 3))
    # windows: (N, C, Hp-KH+1, Wp-KW+1, KH, KW); keep every stride-th window
    windows = windows[:, :, : (Ho - 1) * sh + 1 : sh, : (Wo - 1) * sw + 1 : sw]
    # windows: (N, C, H', W', KH, KW)
    # Kernel offsets before pixels, then the single copy: a column per output pixel.
    try:
        cols = np.ascontiguousarray(windows.transpose(0, 1, 4, 5, 2, 3))
    except MemoryError:  # KH * KW copies of the input: beyond the memory
        raise ValueError(
            f"the columns (N, C*KH*KW, H'*W') = {(N, C * KH * KW, Ho * Wo)} of x "
            f"{x.shape} with kernel_size {(KH, KW)} cannot be allocated"
        ) from None
    # cols: (N, C, KH, KW, H', W')
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
    cols = as_real_array(cols, "cols")
    N, C, H, W = _sizes(x_shape, "x_shape", "(N, C, H, W)")
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


def conv2d_forward(x, w, b=None, stride=1, padding=0):
    """2-D convolution of a batch as im2col + one matrix product.

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
        ``(x, w, cols, stride, padding)``, what `conv2d_backward` needs. Keeping
        ``cols`` saves building it again, but it holds ``KH * KW`` copies of the input
        (9 times its memory for a 3x3 kernel): this is why the fast version in
        `lalib.engine.conv` keeps only the input and rebuilds the columns.

    Raises
    ------
    ValueError
        Wrong rank, channel mismatch between `x` and `w`, `b` not (F,), an empty
        kernel (KH or KW = 0), stride < 1, padding < 0 or more than (KH - 1, KW - 1),
        a kernel larger than the padded input, or non-real input.

    Notes
    -----
    All the arithmetic is one matrix product, broadcast over the batch:

        out[n] = w.reshape(F, C*KH*KW) @ cols[n]    # (F, CKK) @ (CKK, H'W')

    and its result is already in NCHW order. This is the version chapter 2 teaches;
    `conv2d` runs `lalib.engine.conv.conv2d_forward` instead, which has the same
    signature and gives the same numbers (the tests check it), building the columns
    in cache-sized blocks. Chapter 7, "Matrix multiplication is the engine", explains
    and measures the difference.

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
    Ho, Wo = output_size(x.shape[2:], (KH, KW), stride, padding)
    cols = im2col(x, (KH, KW), stride, padding)  # (N, C*KH*KW, H'*W')
    w_mat = w.reshape(F, C * KH * KW)  # (F, C*KH*KW): rows in the columns' order
    out = w_mat @ cols  # (F, CKK) @ (N, CKK, H'W') -> (N, F, H'*W')
    out = out.reshape(N, F, Ho, Wo)  # (N, F, H', W'), a free reshape
    if b is not None:
        out += b[:, None, None]  # (F, 1, 1): one bias per filter, at every pixel
    return out, (x, w, cols, stride, padding)


def conv2d_backward(dout, cache):
    """Gradients of `conv2d_forward` given the upstream gradient `dout`.

    Parameters
    ----------
    dout : ndarray, shape (N, F, H', W')
        dL/d(out).
    cache : tuple
        From `conv2d_forward` (of this module: a cache from `lalib.engine.conv`
        goes to that module's `conv2d_backward`).

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
        ``col2im(w_mat.T @ dout[n])``: the gradient reaching each column is scattered
        back to the pixels it was copied from. Equal to ``T.T @ dout.ravel()`` per
        image, with ``T = toeplitz_matrix(w, (C, H, W), stride, padding)``.
    dw : ndarray, shape (F, C, KH, KW)
        ``sum_n dout[n] @ cols[n].T``: the forward product differentiated in its left
        factor.
    db : ndarray, shape (F,)
        ``dout.sum(axis=(0, 2, 3))``: each bias is added at every pixel of every image.
        Returned even when the forward pass had no bias.

    Raises
    ------
    ValueError
        If `dout` does not have the output's shape, or `cache` does not come from
        this module's `conv2d_forward`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x, w = rng.normal(size=(2, 3, 6, 6)), rng.normal(size=(4, 3, 3, 3))
    >>> out, cache = conv2d_forward(x, w, padding=1)
    >>> dx, dw, db = conv2d_backward(np.ones_like(out), cache)
    >>> dx.shape, dw.shape, db.shape
    ((2, 3, 6, 6), (4, 3, 3, 3), (4,))
    """
    arrays = isinstance(cache, tuple) and len(cache) == 5
    if not (arrays and all(isinstance(a, np.ndarray) for a in cache[:3])):
        raise ValueError(
            "cache must be the (x, w, cols, stride, padding) tuple returned by "
            f"lalib.conv.conv2d_forward, got {type(cache).__name__} "
            "(a cache from lalib.engine.conv.conv2d_forward goes to "
            "lalib.engine.conv.conv2d_backward)"
        )
    x, w, cols, stride, padding = cache
    (N, C), F, (KH, KW) = x.shape[:2], w.shape[0], w.shape[2:]
    Ho, Wo = output_size(x.shape[2:], (KH, KW), stride, padding)
    dout = _check_dout(dout, (N, F, Ho, Wo), x.dtype)
    d = dout.reshape(N, F, Ho * Wo)  # (N, F, H'*W')
    w_mat = w.reshape(F, C * KH * KW)  # (F, C*KH*KW)
    # out[n] = w_mat @ cols[n]: differentiate the product in each factor.
    # The filters: dw_mat = sum_n dout[n] @ cols[n].T.
    dw_mat = (d @ cols.transpose(0, 2, 1)).sum(axis=0)  # (N, F, CKK) -> (F, CKK)
    # The columns: dcols[n] = w_mat.T @ dout[n], folded back onto the pixels.
    dcols = w_mat.T @ d  # (CKK, F) @ (N, F, H'W') -> (N, CKK, H'*W')
    dx = col2im(dcols, x.shape, (KH, KW), stride, padding)  # (N, C, H, W)
    db = dout.sum(axis=(0, 2, 3))  # (F,)
    return dx, dw_mat.reshape(w.shape), db


def conv2d(x, w, b=None, stride=1, padding=0, algorithm="auto"):
    """2-D convolution (cross-correlation), NCHW: the fast entry point.

    Same parameters, same result (up to float rounding) and same checks as
    ``conv2d_forward(...)[0]``, but computed by `lalib.engine.conv.conv2d_forward`:
    im2col with the columns built in cache-sized blocks, Winograd's F(4x4, 3x3) or
    the FFT (chapter 7 explains and measures them).

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    w : ndarray, shape (F, C, KH, KW)
    b : ndarray, shape (F,), optional
    stride, padding : int or pair of int
    algorithm : {"auto", "im2col", "winograd", "fft"}
        ``"auto"`` picks by shape (`lalib.engine.conv.choose_algorithm` says which
        and why); ``"winograd"`` needs 3x3 filters and stride 1.

    Returns
    -------
    out : ndarray, shape (N, F, H', W')
        In the dtype of ``np.result_type(x, w)``.

    Examples
    --------
    >>> x = np.arange(25.0).reshape(1, 1, 5, 5)
    >>> conv2d(x, np.ones((1, 1, 3, 3)))[0, 0]
    array([[ 54.,  63.,  72.],
           [ 99., 108., 117.],
           [144., 153., 162.]])
    """
    from lalib.engine import conv as engine  # here: the engine imports this module

    return engine.conv2d_forward(x, w, b, stride, padding, algorithm=algorithm)[0]


# -------------------------------------------------- 4. transposed convolution, depth


def _transpose_geometry(x, w, stride, padding, output_padding):
    """Check a transposed convolution's shapes; return the geometry it needs.

    The output ``(H_out, W_out)`` is the input size of the convolution whose input
    gradient this is: ``(H - 1) * stride - 2 * padding + KH + output_padding``.
    """
    check_ndim(x, 4, "x", "(N, C_in, H, W)")
    check_ndim(w, 4, "w", "(C_in, C_out, KH, KW)")
    if min(w.shape[2:]) < 1:
        raise ValueError(
            "w must have a kernel of at least 1x1, (C_in, C_out, KH, KW) with "
            f"KH, KW >= 1, got shape {w.shape}"
        )
    if x.shape[1] != w.shape[0]:
        raise ValueError(
            f"x has C_in={x.shape[1]} channels (shape {x.shape}) but w expects "
            f"C_in={w.shape[0]} (shape {w.shape}); x must be (N, C_in, H, W) and w "
            f"(C_in, C_out, KH, KW)"
        )
    if min(x.shape[2:]) < 1:
        raise ValueError(
            f"x must have at least one pixel, (N, C_in, H, W) with H, W >= 1, "
            f"got shape {x.shape}"
        )
    stride, padding = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    extra = _pair(output_padding, "output_padding", 0)
    if extra[0] >= stride[0] or extra[1] >= stride[1]:
        raise ValueError(
            f"output_padding (vertical, horizontal) = {extra} must be smaller than "
            f"the stride {stride}: rows or columns beyond it are reached by no input "
            f"pixel"
        )
    (H, W), (KH, KW) = x.shape[2:], w.shape[2:]
    (sh, sw), (ph, pw) = stride, padding
    if ph > KH - 1 or pw > KW - 1:
        raise ValueError(
            f"padding (vertical, horizontal) = {padding} must be at most "
            f"(KH - 1, KW - 1) = {(KH - 1, KW - 1)} for the kernel (KH, KW) = "
            f"{(KH, KW)}, as for the convolution it transposes"
        )
    out_hw = (
        (H - 1) * sh - 2 * ph + KH + extra[0],
        (W - 1) * sw - 2 * pw + KW + extra[1],
    )
    if min(out_hw) < 1:
        raise ValueError(
            f"padding {padding} crops the whole output of x {x.shape} with kernel "
            f"{(KH, KW)} and stride {stride}: (H_out, W_out) = {out_hw}"
        )
    return stride, padding, extra, out_hw


class _TransposeCache(NamedTuple):
    """What `conv_transpose2d_backward` needs from the forward pass."""

    x: np.ndarray
    w: np.ndarray
    stride: tuple
    padding: tuple
    output_padding: tuple


def conv_transpose2d_forward(x, w, b=None, stride=1, padding=0, output_padding=0):
    """Transposed convolution of a batch: multiplication by ``T.T``, an upsampling.

    The convolution ``y -> conv2d(y, w, stride=stride, padding=padding)`` of images
    of C_out channels is a matrix ``T`` (`toeplitz_matrix`). This function applies
    its transpose, per image:

        out[n].ravel() == T.T @ x[n].ravel()    (+ b per output channel)

    which is exactly the input gradient `conv2d_backward` computes: each input pixel
    stamps the filter, scaled by its value, onto the output, ``stride`` pixels apart,
    and overlapping stamps add up. With stride > 1 the output is larger than the
    input: the layer learns an upsampling.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, H, W)
    w : ndarray, shape (C_in, C_out, KH, KW)
        As in PyTorch's ConvTranspose2d: the filters of the convolution from C_out to
        C_in channels that this layer transposes.
    b : ndarray, shape (C_out,), optional
    stride, padding : int or pair of int
        Those of the convolution it transposes: ``padding`` crops the output, at most
        ``(KH - 1, KW - 1)``.
    output_padding : int or pair of int
        Extra rows and columns at the bottom and right, each smaller than the
        stride: a convolution with stride s maps s input sizes to the same output
        size, and this picks which one to return to.

    Returns
    -------
    out : ndarray, shape (N, C_out, H_out, W_out)
        ``H_out = (H - 1) * stride - 2 * padding + KH + output_padding``, ``W_out``
        likewise. In the dtype of ``np.result_type(x, w)`` (float32 stays float32;
        `b` is cast).
    cache : tuple
        What `conv_transpose2d_backward` needs.

    Raises
    ------
    ValueError
        Wrong rank, channel mismatch between `x` and `w`, `b` not (C_out,), an
        empty image or kernel, stride < 1, padding < 0 or more than
        ``(KH - 1, KW - 1)``, ``output_padding`` not smaller than the stride, a
        padding that crops the whole output, an output too large to allocate, or
        non-real input.

    Notes
    -----
    The same two steps as the input gradient of `conv2d_backward`:

        cols[n] = w.reshape(C_in, C_out*KH*KW).T @ x[n]   # (CKK, C_in) @ (C_in, HW)
        out = col2im(cols, (N, C_out, H_out, W_out), (KH, KW), stride, padding)

    Examples
    --------
    One pixel stamps the filter; two pixels two strides apart stamp it twice:

    >>> w = np.ones((1, 1, 3, 3))
    >>> x = np.array([[[[1.0, 2.0]]]])
    >>> out, _ = conv_transpose2d_forward(x, w, stride=2)
    >>> out[0, 0]
    array([[1., 1., 3., 2., 2.],
           [1., 1., 3., 2., 2.],
           [1., 1., 3., 2., 2.]])
    """
    x = as_real_array(x, "x")
    w = as_real_array(w, "w")
    stride, padding, extra, (Ho, Wo) = _transpose_geometry(
        x, w, stride, padding, output_padding
    )
    dtype = result_dtype(x, w)
    x, w = x.astype(dtype, copy=False), w.astype(dtype, copy=False)
    (N, C_in, H, W), (C_out, KH, KW) = x.shape, w.shape[1:]
    if b is not None:
        b = as_real_array(b, "b")
        if b.shape != (C_out,):
            raise ValueError(f"b must have shape (C_out,) = ({C_out},), got {b.shape}")
        b = b.astype(dtype, copy=False)
    w_mat = w.reshape(C_in, C_out * KH * KW)  # (C_in, C_out*KH*KW)
    cols = w_mat.T @ x.reshape(N, C_in, H * W)  # (CKK, C_in) @ (N, C_in, HW)
    # cols: (N, C_out*KH*KW, H*W), one stamp of the filter per input pixel
    (ph, pw), itemsize = padding, np.dtype(dtype).itemsize
    canvas_bytes = N * C_out * (Ho + 2 * ph) * (Wo + 2 * pw) * itemsize  # exact int
    try:
        if canvas_bytes >= 2**62:  # beyond any address space: refuse before NumPy
            raise MemoryError
        out = col2im(cols, (N, C_out, Ho, Wo), (KH, KW), stride, padding)
    except MemoryError:
        raise ValueError(
            f"the output (N, C_out, H_out, W_out) = {(N, C_out, Ho, Wo)} of x "
            f"{x.shape} with stride {stride} and padding {padding} cannot be allocated"
        ) from None
    # out: (N, C_out, H_out, W_out), a view of the padded canvas
    if b is not None:
        out = out + b[:, None, None]  # (C_out, 1, 1): one bias per output channel
    else:
        out = np.ascontiguousarray(out)  # without the cropped border (padding > 0)
    return out, _TransposeCache(x, w, stride, padding, extra)


def conv_transpose2d_backward(dout, cache):
    """Gradients of `conv_transpose2d_forward` given the upstream gradient `dout`.

    The forward pass is ``out = T.T @ x`` per image, so the input gradient is
    ``T @ dout``: an ordinary convolution of `dout` with the same filters, stride
    and padding. The transposed convolution's backward pass is the convolution's
    forward pass.

    Parameters
    ----------
    dout : ndarray, shape (N, C_out, H_out, W_out)
        dL/d(out).
    cache : tuple
        From `conv_transpose2d_forward`.

    Returns
    -------
    dx : ndarray, shape (N, C_in, H, W)
        ``conv2d(dout, w, stride=stride, padding=padding)``, as im2col and one product.
    dw : ndarray, shape (C_in, C_out, KH, KW)
        ``sum_n x[n] @ im2col(dout)[n].T``: the forward product differentiated in the
        filters.
    db : ndarray, shape (C_out,)
        ``dout.sum(axis=(0, 2, 3))``. Returned even when the forward pass had no bias.

    Raises
    ------
    ValueError
        If `dout` does not have the output's shape, or `cache` does not come from
        `conv_transpose2d_forward`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x, w = rng.normal(size=(2, 3, 4, 4)), rng.normal(size=(3, 5, 3, 3))
    >>> out, cache = conv_transpose2d_forward(x, w, stride=2, padding=1)
    >>> out.shape
    (2, 5, 7, 7)
    >>> dx, dw, db = conv_transpose2d_backward(np.ones_like(out), cache)
    >>> dx.shape, dw.shape, db.shape
    ((2, 3, 4, 4), (3, 5, 3, 3), (5,))
    """
    if not isinstance(cache, _TransposeCache):
        raise ValueError(
            "cache must be the cache returned by lalib.conv.conv_transpose2d_forward, "
            f"got {type(cache).__name__}"
        )
    x, w, stride, padding, extra = cache
    (N, C_in, H, W), (C_out, KH, KW) = x.shape, w.shape[1:]
    Ho = (H - 1) * stride[0] - 2 * padding[0] + KH + extra[0]
    Wo = (W - 1) * stride[1] - 2 * padding[1] + KW + extra[1]
    dout = _check_dout(dout, (N, C_out, Ho, Wo), x.dtype)
    dcols = im2col(dout, (KH, KW), stride, padding)  # (N, C_out*KH*KW, H*W)
    w_mat = w.reshape(C_in, C_out * KH * KW)  # (C_in, C_out*KH*KW)
    dx = (w_mat @ dcols).reshape(N, C_in, H, W)  # (C_in, CKK) @ (N, CKK, HW)
    x_flat = x.reshape(N, C_in, H * W)  # (N, C_in, H*W)
    dw = (x_flat @ dcols.transpose(0, 2, 1)).sum(axis=0)  # (N, C_in, CKK) -> sum
    db = dout.sum(axis=(0, 2, 3))  # (C_out,)
    return dx, dw.reshape(w.shape), db


def conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0):
    """Transposed convolution, NCHW: ``conv_transpose2d_forward(...)[0]``.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, H, W)
    w : ndarray, shape (C_in, C_out, KH, KW)
    b : ndarray, shape (C_out,), optional
    stride, padding, output_padding : int or pair of int

    Returns
    -------
    out : ndarray, shape (N, C_out, H_out, W_out)

    Examples
    --------
    Stride 2 doubles the size of a 2x2 image with a 2x2 filter, each pixel stamping
    its own 2x2 block:

    >>> x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    >>> conv_transpose2d(x, np.ones((1, 1, 2, 2)), stride=2)[0, 0]
    array([[1., 1., 2., 2.],
           [1., 1., 2., 2.],
           [3., 3., 4., 4.],
           [3., 3., 4., 4.]])
    """
    return conv_transpose2d_forward(x, w, b, stride, padding, output_padding)[0]


def receptive_field(layers):
    """Receptive field and jump of every layer of a stack of convolutions.

    Output pixels of layer ``l`` are ``j_l`` input pixels apart (the jump, the
    product of the strides so far), and each sees ``r_l`` input pixels along an axis:

        r_l = r_{l-1} + (k_l - 1) * j_{l-1},    j_l = j_{l-1} * s_l,

    starting from ``r_0 = j_0 = 1`` (a pixel sees itself). A kernel of size k adds
    ``k - 1`` steps of the layer below, each ``j_{l-1}`` input pixels long. Padding
    shifts the windows but does not change their size.

    Parameters
    ----------
    layers : sequence of (kernel_size, stride)
        One pair per layer, first layer first; each an int or a pair of int
        ``(vertical, horizontal)``, kernel sizes >= 1 and strides >= 1.

    Returns
    -------
    fields : list of (size, jump)
        One entry per layer; `size` and `jump` are pairs of int (vertical,
        horizontal). An empty stack gives an empty list.

    Raises
    ------
    ValueError
        If `layers` is not a sequence of (kernel_size, stride) pairs of valid sizes.

    Examples
    --------
    Three 3x3 layers: the field grows by 2 per layer; a stride of 2 in the first
    layer doubles what each later layer adds.

    >>> [size[0] for size, _ in receptive_field([(3, 1)] * 3)]
    [3, 5, 7]
    >>> [size[0] for size, _ in receptive_field([(3, 2), (3, 1), (3, 1)])]
    [3, 7, 11]
    """
    try:
        items = list(layers)
    except TypeError:
        items = None
    if items is None or isinstance(layers, (str, bytes, np.ndarray)):
        raise ValueError(
            f"layers must be a sequence of (kernel_size, stride) pairs, got {layers!r}"
        )
    r, j, fields = (1, 1), (1, 1), []
    for index, layer in enumerate(items):
        if not isinstance(layer, (tuple, list)) or len(layer) != 2:
            raise ValueError(
                f"layers[{index}] must be a (kernel_size, stride) pair, got {layer!r}"
            )
        k = _pair(layer[0], f"layers[{index}] kernel_size", 1)
        s = _pair(layer[1], f"layers[{index}] stride", 1)
        r = tuple(r_a + (k_a - 1) * j_a for r_a, k_a, j_a in zip(r, k, j, strict=True))
        j = tuple(j_a * s_a for j_a, s_a in zip(j, s, strict=True))
        fields.append((r, j))
    return fields
