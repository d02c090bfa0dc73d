"""Fast 2-D convolution: im2col + matrix products, the columns built in cached blocks.

The same functions as `lalib.conv`, with the same signatures and return conventions
(`conv2d_forward`, `conv2d_backward`, `conv2d`), computing the same numbers; the
tests check both against each other, against the loops of `lalib.conv.conv2d_naive`
and against the Toeplitz matrix. `lalib.conv.conv2d` calls `conv2d_forward` here.
Chapter 7, "Matrix multiplication is the engine", explains and measures what follows.

Why not build all the columns, as `lalib.conv.im2col` does? Because they take
``KH * KW`` times the memory of the input: the copy writes all of them out to main
memory and the matrix product reads them back, and at C = 64 channels that traffic
took about as long as the product itself. So the columns are built for a few images
(or a band of output rows of one image, or for a huge kernel a range of output columns
of one row) at a time, in one reused buffer of about
`COLUMN_BLOCK_BYTES` that is still in the CPU cache when the product reads it, and
each block's product is written straight into the output. The backward pass rebuilds
the columns the same way instead of keeping them (the cache holds only the input and
the filters) and folds each block's column gradients back onto the pixels while they
are still in cache.

Two more details make the copy cheap:

- scratch buffers (the padded images, the columns, the block products) are kept per
  thread between calls, up to `SCRATCH_KEEP_BYTES` each, because the first write to
  freshly allocated memory costs a page fault per page;
- with stride 1 the images are padded into a flat buffer in which moving the window
  is a plain offset, so each row of columns is one long contiguous copy (see
  `_Blocks`).

`column_blocks` yields the blocks of columns alone, without the products: the
benchmark times the copy with it.

Three algorithms, one entry point. `conv2d_forward` (and `conv2d`, and
`lalib.conv.conv2d`) take ``algorithm="auto" | "im2col" | "winograd" | "fft"``:
im2col is the blocked product above; ``"winograd"`` is Winograd's F(4x4, 3x3)
(`lalib.engine.winograd`: 3x3 filters, stride 1, 4 times fewer multiplications);
``"fft"`` is the convolution theorem (`lalib.engine.fft`: any kernel, its cost
independent of the kernel size). ``"auto"`` asks `choose_algorithm`, which picks by
shape as cuDNN's heuristics do. The cache remembers the algorithm, so
`conv2d_backward` differentiates the same computation. `error_table` measures the
float32 error of each algorithm against float64 direct convolution.
"""

import math
import threading
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from lalib._checks import as_real_array, check_float_dtype, check_ndim
from lalib.conv import _check_dout, _pair, _used_stride, _validate, output_size
from lalib.engine import fft as _fft
from lalib.engine import winograd as _winograd
from lalib.engine._scratch import take as _take
from lalib.engine._scratch import workspace

__all__ = [
    "ALGORITHMS",
    "COLUMN_BLOCK_BYTES",
    "SCRATCH_KEEP_BYTES",
    "choose_algorithm",
    "column_blocks",
    "conv2d",
    "conv2d_backward",
    "conv2d_forward",
    "error_table",
]

#: The values of the `algorithm` keyword of `conv2d_forward` and `conv2d`.
ALGORITHMS = ("auto", "im2col", "winograd", "fft")

#: Target size, in bytes, of one block of im2col columns in `conv2d_forward` and
#: `conv2d_backward`: small enough that the columns are still in the CPU cache when
#: the matrix product reads them back.
COLUMN_BLOCK_BYTES = 4 * 2**20

#: Largest scratch buffer, in bytes, that a thread keeps between calls; larger ones
#: (the padded copy of a very large image) are allocated for the call and freed after.
SCRATCH_KEEP_BYTES = 32 * 2**20

_scratch = threading.local()  # per-thread scratch buffers of the conv kernels


def _workspace(name, size, dtype):
    """A flat scratch array of at least `size` entries, kept between calls by this
    thread (see `lalib.engine._scratch`), up to `SCRATCH_KEEP_BYTES` each."""
    return workspace(_scratch, name, size, dtype, SCRATCH_KEEP_BYTES)


class _Blocks:
    """How `conv2d_forward` and `conv2d_backward` cut a batch into cache-sized blocks.

    A block is either ``g`` whole images or one band of output rows of one image,
    chosen so that its columns, ``C*KH*KW`` rows by (rows x ``Wq``) columns, take about
    `COLUMN_BLOCK_BYTES`; when a single row's columns exceed that (a huge kernel over
    a small output), a block is a range of output columns of one row (`spans`).

    The images are copied into a zero-padded buffer with each channel flattened,
    ``flat[n, c, h * Wp + w] = x_pad[n, c, h, w]`` (plus ``KW - 1`` spare zeros at the
    end). With stride 1, moving the window by ``(u, v)`` is then just an offset of
    ``u * Wp + v`` in that flat array, so the im2col row for kernel offset ``(u, v)``
    and channel ``c``, over a band of output rows, is one *contiguous* slice of
    ``flat[n, c]`` and is copied as one long run instead of row by row. The price is
    that each output row is computed ``Wq = Wp`` wide: its last ``KW - 1`` entries
    straddle the right edge and are thrown away (``(KW - 1) / Wp`` extra work, 6 % at
    32 x 32 with 3 x 3). They read pixels of the next row, so when the input or the
    filters hold a NaN or an inf the backward pass zeroes them (in the columns and in
    the column gradients) before they meet a product: through ``0 * inf``, a bad pixel
    or weight would otherwise reach gradients it does not touch. With a larger stride
    the windows are gathered row by row and ``Wq = W'``: nothing is wasted.
    """

    def __init__(self, x_shape, kernel, stride, padding, itemsize, split_rows=True):
        N, C, H, W = x_shape
        (KH, KW), (ph, pw) = kernel, padding
        self.Ho, self.Wo = output_size((H, W), (KH, KW), stride, padding)
        # A huge stride over a single output would overflow the byte strides below.
        sh, sw = _used_stride(stride, (self.Ho, self.Wo))
        self.Hp, self.Wp = H + 2 * ph, W + 2 * pw
        self.Wq = self.Wp if (sh, sw) == (1, 1) else self.Wo  # width of a row of cols
        self.kernel, self.stride = (KH, KW), (sh, sw)
        self.inner = (slice(ph, ph + H), slice(pw, pw + W))
        row_bytes = max(1, C * KH * KW * self.Wq * itemsize)  # one output row's columns
        rows_fit = max(1, COLUMN_BLOCK_BYTES // row_bytes)
        if rows_fit >= self.Ho:
            # Whole images fit: take several per block (>= 1, even if N = 0).
            self.g, self.bands = max(1, min(N, rows_fit // self.Ho)), [(0, self.Ho)]
        else:  # one image is too big: bands of output rows, as even as possible
            self.g = 1
            n_bands = -(-self.Ho // rows_fit)  # ceil division
            edges = [self.Ho * k // n_bands for k in range(n_bands + 1)]
            self.bands = list(zip(edges[:-1], edges[1:], strict=True))
        self.spans = [(0, self.Wq)]  # ranges of output columns of a block: all of them
        self.split = split_rows and row_bytes > COLUMN_BLOCK_BYTES
        if self.split:
            # One row's columns alone exceed the budget (a huge kernel over a small
            # output): cut the rows into ranges of output columns, as even as possible
            # (and without the spare stride-1 columns: each range is its own block).
            # A block then has fewer output pixels than the kernel has entries, so
            # the loops below run over those pixels, not over the kernel offsets.
            per_span = max(1, COLUMN_BLOCK_BYTES // max(1, C * KH * KW * itemsize))
            n_spans = -(-self.Wo // per_span)  # ceil division
            edges = [self.Wo * k // n_spans for k in range(n_spans + 1)]
            self.spans = list(zip(edges[:-1], edges[1:], strict=True))
        # The stride-1 windows read KW - 1 entries past the end of the last row.
        self.flat_len = self.Hp * self.Wp + KW - 1

    def buffer(self, name, n_rows, dtype):
        """Scratch space for `n_rows` rows of the largest block (g x rows x width)."""
        rows = max(i1 - i0 for i0, i1 in self.bands)
        width = max(j1 - j0 for j0, j1 in self.spans)
        return _workspace(name, self.g * n_rows * rows * width, dtype)

    def padded(self, name, C, dtype):
        """Zeroed scratch (g, C, flat_len) for padded images."""
        shape = (self.g, C, self.flat_len)
        flat = _take(_workspace(name, math.prod(shape), dtype), shape)
        flat.fill(0)
        return flat

    def groups(self, N):
        """Image ranges ``(n0, n1)`` of at most ``g`` images."""
        return [(n, min(n + self.g, N)) for n in range(0, N, self.g)]

    def padded2d(self, flat):
        """The (g, C, Hp, Wp) view of `flat` (g, C, flat_len): the padded images."""
        g, C = flat.shape[:2]
        return flat[:, :, : self.Hp * self.Wp].reshape(g, C, self.Hp, self.Wp)

    def interior(self, flat):
        """The (g, C, H, W) view of `flat` (g, C, flat_len) where the images go."""
        return self.padded2d(flat)[:, :, self.inner[0], self.inner[1]]  # (g, C, H, W)

    def window(self, flat, u, v, i0, i1, j0, j1):
        """View (g, C, i1 - i0, j1 - j0) of `flat`: kernel offset (u, v), output rows
        i0..i1-1 and columns j0..j1-1.

        ``window[n, c, i, j] = flat[n, c, ((i0 + i) * sh + u) * Wp + v + (j0 + j) *
        sw]``: the pixel that kernel entry ``(u, v)`` meets at output pixel
        ``(i0 + i, j0 + j)``.
        """
        (sh, sw), s = self.stride, flat.strides
        start = (i0 * sh + u) * self.Wp + v + j0 * sw
        return as_strided(
            flat[:, :, start:],
            shape=flat.shape[:2] + (i1 - i0, j1 - j0),  # (g, C, rows, columns)
            strides=(s[0], s[1], sh * self.Wp * s[2], sw * s[2]),
        )

    def columns(self, flat, i0, i1, j0, j1, cols):
        """Fill `cols` (g, C, KH, KW, rows, columns) with the columns of output rows
        i0..i1-1 and output columns j0..j1-1."""
        (KH, KW), (sh, sw) = self.kernel, self.stride
        if self.split:  # a few output pixels, a huge kernel: one strided copy
            windows = sliding_window_view(self.padded2d(flat), (KH, KW), axis=(2, 3))
            # windows: (g, C, Hp-KH+1, Wp-KW+1, KH, KW); the block's output pixels
            windows = windows[:, :, i0 * sh : i1 * sh : sh, j0 * sw : j1 * sw : sw]
            cols[...] = windows.transpose(0, 1, 4, 5, 2, 3)  # (g, C, KH, KW, r, wc)
            return cols
        for u in range(KH):
            for v in range(KW):
                # One long copy per (n, c) with stride 1 and whole rows.
                cols[:, :, u, v] = self.window(flat, u, v, i0, i1, j0, j1)
        return cols

    def fold(self, dflat, dcols, i0, i1, j0, j1):
        """Add the column gradients `dcols` (g, C, KH, KW, rows, columns) of output
        rows i0..i1-1, columns j0..j1-1 onto the padded images `dflat` (col2im)."""
        (KH, KW), (sh, sw) = self.kernel, self.stride
        if self.split:  # a few output pixels, a huge kernel: one slab per pixel
            padded = self.padded2d(dflat)  # (g, C, Hp, Wp), a view
            for i in range(i1 - i0):
                for j in range(j1 - j0):
                    top, left = (i0 + i) * sh, (j0 + j) * sw
                    padded[:, :, top : top + KH, left : left + KW] += dcols[..., i, j]
            return
        for u in range(KH):
            for v in range(KW):
                self.window(dflat, u, v, i0, i1, j0, j1)[...] += dcols[:, :, u, v]


def _column_blocks(x, blk):
    """Yield ``(n0, n1, i0, i1, j0, j1, cols)`` for every block of `x` by `blk`.

    ``cols`` (n1 - n0, C*KH*KW, (i1 - i0) * (j1 - j0)) holds the im2col columns of
    output rows i0..i1-1, columns j0..j1-1 (up to Wq: past W' they are spare), of
    images n0..n1-1. It lives in scratch memory and is overwritten by the next block:
    use it before asking for the next one.
    """
    (N, C), (KH, KW) = x.shape[:2], blk.kernel
    flat = blk.padded("x", C, x.dtype)  # padded images; the border stays 0
    buf = blk.buffer("cols", C * KH * KW, x.dtype)
    for n0, n1 in blk.groups(N):
        m = n1 - n0
        blk.interior(flat[:m])[...] = x[n0:n1]
        for i0, i1 in blk.bands:
            for j0, j1 in blk.spans:
                r, wc = i1 - i0, j1 - j0
                cols = _take(buf, (m, C, KH, KW, r, wc))  # (m, C, KH, KW, r, wc)
                cols = blk.columns(flat[:m], i0, i1, j0, j1, cols)
                yield n0, n1, i0, i1, j0, j1, cols.reshape(m, C * KH * KW, r * wc)


def column_blocks(x, kernel_size, stride=1, padding=0):
    """Yield the im2col columns of a batch by blocks, as `conv2d_forward` builds them.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    kernel_size : int or pair of int
        ``(KH, KW)``.
    stride, padding : int or pair of int

    Yields
    ------
    n0, n1, i0, i1 : int
        The block covers images ``n0..n1-1`` and output rows ``i0..i1-1``.
    cols : ndarray, shape (n1 - n0, C * KH * KW, i1 - i0, Wq)
        ``cols[..., :W']`` equals ``lalib.conv.im2col(x, ...)`` for those images and
        rows, reshaped to (N, C*KH*KW, H', W'). With stride 1, ``Wq = W + 2 * pw``
        and the last ``Wq - W'`` entries of each row are spare (the kernels compute
        and drop them); otherwise ``Wq = W'``.

    Notes
    -----
    The copying part of the fast kernels alone: the benchmark times it. `cols` lives
    in this thread's scratch memory, shared with `conv2d_forward` and
    `conv2d_backward`: it is overwritten by the next block, so use it before asking
    for the next one, and do not run a convolution of this module in the same thread
    until the generator is finished. Its blocks are whole rows: when one row's columns
    alone exceed `COLUMN_BLOCK_BYTES` (a huge kernel), the kernels cut it into ranges
    of output columns, and this generator does not.

    Examples
    --------
    >>> from lalib.conv import im2col
    >>> x = np.arange(32.0).reshape(2, 1, 4, 4)
    >>> for n0, n1, i0, i1, cols in column_blocks(x, 3):
    ...     print(n0, n1, i0, i1, cols.shape)
    ...     ok = np.array_equal(cols[..., :2].reshape(2, 9, 4), im2col(x, 3))
    0 2 0 2 (2, 9, 2, 4)
    >>> ok
    True
    """
    x = as_real_array(x, "x")
    check_ndim(x, 4, "x", "(N, C, H, W)")
    kernel = _pair(kernel_size, "kernel_size", 1)
    stride, padding = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    # Whole rows: this generator does not cut a row into ranges of columns.
    blk = _Blocks(x.shape, kernel, stride, padding, x.dtype.itemsize, split_rows=False)
    return _reshaped_blocks(x, blk)  # bad input raised above, not at the first next()


def _reshaped_blocks(x, blk):
    """`_column_blocks` with each block as (n1 - n0, C*KH*KW, i1 - i0, Wq)."""
    ckk = x.shape[1] * blk.kernel[0] * blk.kernel[1]
    for n0, n1, i0, i1, _, _, cols in _column_blocks(x, blk):
        yield n0, n1, i0, i1, cols.reshape(n1 - n0, ckk, i1 - i0, blk.Wq)


class _Cache(NamedTuple):
    """What `conv2d_backward` needs: input, filters, geometry (not the columns), and
    the algorithm that computed the forward pass."""

    x: np.ndarray  # (N, C, H, W)
    w: np.ndarray  # (F, C, KH, KW)
    stride: tuple
    padding: tuple
    algorithm: str = "im2col"


# ---------------------------------------------------------------- choosing an algorithm

#: `choose_algorithm` picks Winograd F(4x4, 3x3) for 3x3 filters, stride 1, when both
#: the channels and the filters number at least this many ...
WINOGRAD_MIN_CHANNELS = 16
#: ... and the output is at least this many pixels high and wide (tiles of 4 x 4).
WINOGRAD_MIN_SIDE = 4
#: It picks the FFT, stride 1, for kernels of at least this many rows and columns ...
FFT_MIN_KERNEL = 5
#: ... with at least this many channels and filters.
FFT_MIN_CHANNELS = 8


def _algorithm(algorithm):
    """`algorithm` if it is one of `ALGORITHMS`; ValueError naming it otherwise."""
    if not (isinstance(algorithm, str) and algorithm in ALGORITHMS):
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    return algorithm


def choose_algorithm(x_shape, w_shape, stride=1, padding=0, dtype=np.float32):
    """Which algorithm ``algorithm="auto"`` runs for these shapes, and why.

    The rule, cuDNN-like, from the benchmark's sweep of the algorithms
    (``python -m benchmarks --only sweep``, its ``algorithms`` rows; chapter 7 shows
    them) on the machine of chapter 7 (2 cores, OpenBLAS): Winograd F(4x4, 3x3) for
    3x3 filters at stride 1 when the channels and the filters are at least
    `WINOGRAD_MIN_CHANNELS` (the batched products then have enough work to hide the
    transforms) and the output at least `WINOGRAD_MIN_SIDE` pixels on each side (one
    whole 4 x 4 tile); the FFT for kernels of at least `FFT_MIN_KERNEL` x
    `FFT_MIN_KERNEL` at stride 1 with at least `FFT_MIN_CHANNELS` channels and filters
    (its cost does not grow with the kernel); im2col otherwise. All three keep the
    float32 error far below 1e-3 of the output's largest value (`error_table`; the
    measured table is in `lalib.engine.winograd`).

    Parameters
    ----------
    x_shape : tuple of int
        ``(N, C, H, W)``.
    w_shape : tuple of int
        ``(F, C, KH, KW)``.
    stride, padding : int or pair of int
    dtype : float32 or float64
        The dtype of the computation (the rule is the same for both).

    Returns
    -------
    name : str
        ``"im2col"``, ``"winograd"`` or ``"fft"``.
    reason : str
        One sentence saying why.

    Raises
    ------
    ValueError
        If the shapes are not four non-negative integers each, the channels differ,
        or the geometry is invalid (as `lalib.conv.output_size`).

    Examples
    --------
    >>> choose_algorithm((8, 64, 32, 32), (64, 64, 3, 3), padding=1)[0]
    'winograd'
    >>> choose_algorithm((8, 32, 64, 64), (32, 32, 11, 11), padding=5)[0]
    'fft'
    >>> name, reason = choose_algorithm((32, 3, 32, 32), (16, 3, 3, 3), padding=1)
    >>> print(name, "--", reason)  # doctest: +NORMALIZE_WHITESPACE
    im2col -- im2col: 3 channels and 16 filters are too few for the transforms of
    Winograd or the FFT to pay off
    """
    from lalib.conv import _sizes

    N, C, H, W = _sizes(x_shape, "x_shape", "(N, C, H, W)")
    F, Cw, KH, KW = _sizes(w_shape, "w_shape", "(F, C, KH, KW)")
    if min(KH, KW) < 1:
        raise ValueError(
            "w_shape must have a kernel of at least 1x1, (F, C, KH, KW) with KH, KW "
            f">= 1, got {(F, Cw, KH, KW)}"
        )
    if C != Cw:
        raise ValueError(
            f"x_shape has C={C} channels ({(N, C, H, W)}) but w_shape expects "
            f"C={Cw} ({(F, Cw, KH, KW)})"
        )
    Ho, Wo = output_size((H, W), (KH, KW), stride, padding)
    stride = _pair(stride, "stride", 1)
    check_float_dtype(dtype, "dtype")  # float32 or float64 (None means float64)
    few = min(C, F)
    if stride != (1, 1):
        return "im2col", f"im2col: stride {stride} (Winograd and the FFT need stride 1)"
    if (KH, KW) == (3, 3):
        if few < WINOGRAD_MIN_CHANNELS:
            return "im2col", (
                f"im2col: {C} channels and {F} filters are too few for the "
                "transforms of Winograd or the FFT to pay off"
            )
        if min(Ho, Wo) < WINOGRAD_MIN_SIDE:
            return "im2col", (
                f"im2col: a {Ho} x {Wo} output is too small for Winograd's 4 x 4 tiles"
            )
        return "winograd", (
            f"winograd: 3x3 filters at stride 1 with {C} channels and {F} filters, "
            "F(4x4, 3x3) does 4 times fewer multiplications"
        )
    if min(KH, KW) >= FFT_MIN_KERNEL and few >= FFT_MIN_CHANNELS:
        return "fft", (
            f"fft: a {KH} x {KW} kernel at stride 1, where the FFT's cost does not "
            "grow with the kernel"
        )
    return "im2col", (
        f"im2col: a {KH} x {KW} kernel with {C} channels and {F} filters is "
        "computed fastest as one matrix product"
    )


def conv2d_forward(x, w, b=None, stride=1, padding=0, algorithm="auto"):
    """2-D convolution of a batch as im2col + matrix products, in cache-sized blocks
    (or by Winograd or the FFT).

    Same result (up to float rounding) and checks as `lalib.conv.conv2d_forward`,
    plus the choice of algorithm.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    w : ndarray, shape (F, C, KH, KW)
    b : ndarray, shape (F,), optional
    stride, padding : int or pair of int
    algorithm : {"auto", "im2col", "winograd", "fft"}
        ``"auto"`` runs what `choose_algorithm` picks for the shapes; ``"winograd"``
        is `lalib.engine.winograd` (F(4x4, 3x3): 3x3 filters, stride 1 only),
        ``"fft"`` `lalib.engine.fft`.

    Returns
    -------
    out : ndarray, shape (N, F, H', W')
        In the dtype of ``np.result_type(x, w)`` (float32 stays float32; `b` is cast).
    cache : tuple
        What `conv2d_backward` (of this module) needs: the input, the filters, the
        geometry and the algorithm, so that the backward pass uses the same one. The
        backward pass rebuilds the columns (or tiles) block by block rather than
        keeping all of them, which would take ``KH * KW`` times the memory of the
        input.

    Raises
    ------
    ValueError
        Wrong rank, channel mismatch between `x` and `w`, `b` not (F,), an empty
        kernel (KH or KW = 0), stride < 1, padding < 0 or more than (KH - 1, KW - 1),
        a kernel larger than the padded input, or non-real input; an unknown
        `algorithm`, or ``"winograd"`` with a kernel other than 3x3 or a stride
        other than 1.

    Notes
    -----
    With im2col, the arithmetic is the product of `lalib.conv.im2col` in chapter 2,

        out[n] = w.reshape(F, C*KH*KW) @ cols[n]    # (F, CKK) @ (CKK, H'W')

    but the columns are built for a few images (or a band of rows) at a time, in one
    reused buffer of about `COLUMN_BLOCK_BYTES` that stays in cache, and each block's
    product is written straight into the output; see `_Blocks` for the flat-offset
    trick that makes each stride-1 copy one long run.

    Examples
    --------
    >>> from lalib.conv import conv2d_naive
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(2, 3, 8, 8)).astype(np.float32)
    >>> w = rng.normal(size=(4, 3, 3, 3)).astype(np.float32)
    >>> out, cache = conv2d_forward(x, w, stride=2, padding=1)
    >>> out.shape, out.dtype
    ((2, 4, 4, 4), dtype('float32'))
    >>> bool(np.allclose(out, conv2d_naive(x, w, stride=2, padding=1), atol=1e-5))
    True
    """
    algorithm = _algorithm(algorithm)
    x, w, b, stride, padding = _validate(x, w, b, stride, padding)
    if algorithm == "auto":
        algorithm = choose_algorithm(x.shape, w.shape, stride, padding, x.dtype)[0]
    if algorithm == "winograd":
        out, _ = _winograd.conv2d_forward(x, w, b, stride, padding)
        return out, _Cache(x, w, stride, padding, "winograd")
    if algorithm == "fft":
        out, _ = _fft.conv2d_forward(x, w, b, stride, padding)
        return out, _Cache(x, w, stride, padding, "fft")
    (N, C), F, (KH, KW) = x.shape[:2], w.shape[0], w.shape[2:]
    blk = _Blocks(x.shape, (KH, KW), stride, padding, x.dtype.itemsize)
    Wo = blk.Wo
    w_mat = w.reshape(F, C * KH * KW)  # rows in the (C, KH, KW) order of the columns
    out = np.empty((N, F, blk.Ho, Wo), dtype=x.dtype)  # (N, F, H', W')
    prod_buf = blk.buffer("prod", F, x.dtype)
    for n0, n1, i0, i1, j0, j1, cols in _column_blocks(x, blk):  # (m, CKK, r*wc)
        m, r, wc = n1 - n0, i1 - i0, j1 - j0
        k = min(j1, Wo) - j0  # the block's columns inside the output; then spare ones
        # (F, CKK) @ (m, CKK, r*wc) -> (m, F, r*wc)
        p = np.matmul(w_mat, cols, out=_take(prod_buf, (m, F, r * wc)))
        p = p.reshape(m, F, r, wc)[..., :k]  # drop the columns past the right edge
        if b is None:
            out[n0:n1, :, i0:i1, j0 : j0 + k] = p
        else:  # bias on the way out
            np.add(p, b[:, None, None], out=out[n0:n1, :, i0:i1, j0 : j0 + k])
    return out, _Cache(x, w, stride, padding, "im2col")


def conv2d_backward(dout, cache):
    """Gradients of `conv2d_forward` given the upstream gradient `dout`.

    Same signature, results and checks as `lalib.conv.conv2d_backward`.

    Parameters
    ----------
    dout : ndarray, shape (N, F, H', W')
        dL/d(out).
    cache : tuple
        From `conv2d_forward` of this module (a cache from `lalib.conv` goes to
        `lalib.conv.conv2d_backward`).

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
        ``col2im(w_mat.T @ dout[n])``: the gradient reaching each column is scattered
        back to the pixels it was copied from.
    dw : ndarray, shape (F, C, KH, KW)
        ``sum_n dout[n] @ cols[n].T``.
    db : ndarray, shape (F,)
        ``dout.sum(axis=(0, 2, 3))``, returned even when the forward pass had no bias.

    Raises
    ------
    ValueError
        If `dout` does not have the output's shape, or `cache` does not come from
        this module's `conv2d_forward`.

    Notes
    -----
    Block by block, as in the forward pass: the columns of a block are rebuilt in
    cache, ``dw_mat += dout_block @ cols_block.T``, and ``dcols = w_mat.T @
    dout_block`` is folded back (col2im) into the padded images at once, while it is
    still in cache.
    """
    if not isinstance(cache, _Cache):
        raise ValueError(
            "cache must come from lalib.engine.conv.conv2d_forward, got a "
            f"{type(cache).__name__} (a cache from lalib.conv.conv2d_forward goes to "
            "lalib.conv.conv2d_backward)"
        )
    x, w, stride, padding, algorithm = cache
    if algorithm == "winograd":
        return _winograd._backward(dout, x, w, padding, 4)
    if algorithm == "fft":
        return _fft._backward(dout, x, w, stride, padding)
    N, F = x.shape[0], w.shape[0]
    blk = _Blocks(x.shape, w.shape[2:], stride, padding, x.dtype.itemsize)
    Ho, Wo = blk.Ho, blk.Wo
    dout = _check_dout(dout, (N, F, Ho, Wo), x.dtype)
    db = dout.sum(axis=(0, 2, 3))  # (F,)
    # With stride 1 the spare columns past the right edge (computed, then dropped) read
    # pixels of the next row: a NaN or inf there, times the 0 of the spare dout, would
    # reach dw (and a NaN or inf weight, dx) at entries it never touches. So they are
    # zeroed when that can happen: for w, a glance at the filters; for x, a pass over
    # it costs more than the zeroing, so the blocks run again, zeroing, only if dw
    # comes out non-finite (a NaN or inf in x, or in dout) and x does hold one.
    spare = blk.Wq > blk.Wo
    spare_w = spare and not np.isfinite(w).all()
    dx, dw = _backward_blocks(dout, x, w, blk, False, spare_w)
    if spare and not np.isfinite(dw).all() and not np.isfinite(x).all():
        dx, dw = _backward_blocks(dout, x, w, blk, True, spare_w)
    return dx, dw, db


def _backward_blocks(dout, x, w, blk, spare_x, spare_w):
    """dx and dw of `conv2d_backward`, block by block; `spare_x` and `spare_w` zero
    the spare stride-1 columns (of the columns, of their gradients) first."""
    C, (F, _, KH, KW) = x.shape[1], w.shape
    Ho, Wo = blk.Ho, blk.Wo
    w_mat = w.reshape(F, C * KH * KW)  # (F, CKK)
    dw_mat = np.zeros((F, C * KH * KW), dtype=x.dtype)  # (F, CKK)
    dx = np.empty(x.shape, dtype=x.dtype)  # (N, C, H, W)
    dflat = blk.padded("dx", C, x.dtype)  # gradient of the padded images, padding too
    dcols_buf = blk.buffer("dcols", C * KH * KW, x.dtype)
    dq_buf = blk.buffer("prod", F, x.dtype)
    last = blk.spans[-1][1]
    for n0, n1, i0, i1, j0, j1, cols in _column_blocks(x, blk):  # (m, CKK, r*wc)
        m, r, wc = n1 - n0, i1 - i0, j1 - j0
        k = min(j1, Wo) - j0  # the block's columns inside the output; then spare ones
        d = _take(dq_buf, (m, F, r, wc))  # dout of the block, wc wide
        d[..., :k] = dout[n0:n1, :, i0:i1, j0 : j0 + k]
        d[..., k:] = 0  # so the columns past the right edge contribute nothing below
        d = d.reshape(m, F, r * wc)  # (m, F, r*wc)
        if spare_x and k < wc:  # ... not even 0 * NaN: they read the next row's pixels
            cols.reshape(m, C * KH * KW, r, wc)[..., k:] = 0  # a strided write
        # out[n] = w_mat @ cols[n], so dw_mat = sum_n dout[n] @ cols[n].T
        for n in range(m):
            dw_mat += d[n] @ cols[n].T  # (F, r*wc) @ (r*wc, CKK), a transposed view
        # ... and dcols[n] = w_mat.T @ dout[n], folded back onto the pixels (col2im).
        dc = _take(dcols_buf, (m, C * KH * KW, r * wc))
        dc = np.matmul(w_mat.T, d, out=dc)  # (CKK, F) @ (m, F, r*wc) -> (m, CKK, r*wc)
        dc = dc.reshape(m, C, KH, KW, r, wc)  # (m, C, KH, KW, r, wc)
        if spare_w and k < wc:
            dc[..., k:] = 0  # w_mat.T @ 0 is NaN where w is: keep it off the pixels
        if i0 == 0 and j0 == 0:
            dflat[:m] = 0  # a new group of images
        blk.fold(dflat[:m], dc, i0, i1, j0, j1)
        if i1 == Ho and j1 == last:  # the group's last block: its images are complete
            dx[n0:n1] = blk.interior(dflat[:m])  # drop the padding
    return dx, dw_mat.reshape(w.shape)


def conv2d(x, w, b=None, stride=1, padding=0, algorithm="auto"):
    """2-D convolution (cross-correlation), NCHW; `conv2d_forward` without the cache.

    Parameters and return value as in `conv2d_forward`; `lalib.conv.conv2d` calls it.
    """
    return conv2d_forward(x, w, b, stride, padding, algorithm)[0]


# ----------------------------------------------------------------------- accuracy


def error_table(channels=(3, 16, 64, 256), rng=None, kernel_size=3):
    """The float32 error of each algorithm against float64 direct convolution.

    For each number of channels C: N = 2 images of 16 x 16, F = 16 filters of
    `kernel_size` x `kernel_size`, padding ``kernel_size // 2``, standard normal data
    drawn in float64 and rounded to float32 (the filters scaled by
    ``1 / sqrt(C KH KW)``); each algorithm runs in float32 and is compared with the
    float64 im2col result on the rounded data, so only the arithmetic's error is
    measured. Winograd applies to 3 x 3 filters only: for another `kernel_size` its
    entries are None.

    Parameters
    ----------
    channels : sequence of int
        The values of C, each >= 1.
    rng : numpy.random.Generator, optional
        Default ``np.random.default_rng(0)``.
    kernel_size : int, optional
        The side of the square filters, 1 to 15 (3 by default).

    Returns
    -------
    rows : list of dict
        One per C: ``{"C": C, "im2col": e, "winograd F(2x2,3x3)": e,
        "winograd F(4x4,3x3)": e, "fft": e}`` with ``e = max |y32 - y64| /
        max |y64|``, the error relative to the output's scale (None where Winograd
        does not apply).

    Examples
    --------
    >>> rows = error_table(channels=(8,))
    >>> all(e < 1e-5 for key, e in rows[0].items() if key != "C")
    True
    """
    from lalib._checks import check_int, check_rng

    rng = np.random.default_rng(0) if rng is None else check_rng(rng)
    if isinstance(channels, (str, bytes)) or not hasattr(channels, "__iter__"):
        raise ValueError(f"channels must be a sequence of ints >= 1, got {channels!r}")
    channels = [check_int(c, "channels", minimum=1, maximum=4096) for c in channels]
    K = check_int(kernel_size, "kernel_size", minimum=1, maximum=15)
    p = K // 2
    runs = {
        "im2col": (conv2d_forward, {"algorithm": "im2col"}),
        "winograd F(2x2,3x3)": (_winograd.conv2d_forward, {"tile": 2}),
        "winograd F(4x4,3x3)": (_winograd.conv2d_forward, {"tile": 4}),
        "fft": (_fft.conv2d_forward, {}),
    }
    rows = []
    for C in channels:
        x = rng.standard_normal((2, C, 16, 16)).astype(np.float32)
        w = rng.standard_normal((16, C, K, K)) / np.sqrt(K * K * C)
        w = w.astype(np.float32)
        exact = conv2d_forward(
            x.astype(np.float64), w.astype(np.float64), None, 1, p, "im2col"
        )[0]
        scale = np.abs(exact).max()
        row = {"C": C}
        for name, (forward, options) in runs.items():
            if name.startswith("winograd") and K != 3:
                row[name] = None
                continue
            y = forward(x, w, None, 1, p, **options)[0]  # float32
            row[name] = float(np.abs(y - exact).max() / scale)
        rows.append(row)
    return rows
