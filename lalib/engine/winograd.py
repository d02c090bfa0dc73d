"""Winograd convolution for 3x3 filters: fewer multiplications, as batched GEMMs.

Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (CVPR 2016,
arXiv:1509.09308), after Winograd's minimal filtering algorithms. A 1-D correlation
of ``m`` outputs with a 3-tap filter ``g`` over an input tile ``d`` of ``r = m + 2``
samples is computed as

    y = A^T [(G g) * (B^T d)]          (* element by element)

with ``r`` multiplications instead of ``3 m``; nesting it gives the 2-D tile

    Y = A^T [(G g G^T) * (B^T d B)] A      (m x m outputs from an r x r tile)

with ``r^2`` multiplications instead of ``9 m^2``:

=============  ====  ===============================  =========================
algorithm      r     multiplications per output tile  saving over direct 3x3
=============  ====  ===============================  =========================
F(2x2, 3x3)    4     16 instead of 36                 2.25 x
F(4x4, 3x3)    6     36 instead of 144                4 x
=============  ====  ===============================  =========================

(per input channel and filter; the transforms add additions and a few
multiplications by constants, shared by all filters or all channels). The matrices
are those of the paper (`transform_matrices`); the tests check them against direct
correlation.

How the layer computes it, for a batch of N images, C channels and F filters: the
image is cut into overlapping r x r tiles (stride m), the filters are transformed once
(``U = G g G^T``, one (r^2, C, F) array), each tile of each channel is transformed
(``V = B^T d B``, an (r^2, tiles, C) array), and the element-wise products summed over
the channels become, for each of the r^2 positions of a transformed tile, one matrix
product

    M[p] = V[p] @ U[p]        # (tiles, C) @ (C, F) -> (tiles, F), p = 0..r^2-1

(one ``np.matmul`` over a leading axis of 16 or 36). The output transform
``A^T M A`` gives the m x m outputs of each tile. The two transforms are themselves
matrix products with Kronecker matrices, ``vec(B^T d B) = (B^T kron B^T) vec(d)``,
and everything is done a block of tiles at a time so that the block stays in the CPU
cache.

Where the time goes. On one core the three matrix products (the two transforms and
the channel sums) take about two thirds of it, the copies (padding the images,
cutting out the tiles, putting the output tiles in place) the rest; with two cores
the products share them but NumPy's copies run on one, and take about 40 %. The
tiles overlap, so they hold ``(r / m)^2`` times as many values as the images (2.25
for F(4x4, 3x3)). They are copied channel last, ``d[u, v, tile, c]``, so that the
copy moves runs of C values instead of runs of one tile row's few tiles; the
(tiles, C) @ (C, F) products then need no transposed operand. The transforms stay
dense Kronecker products: applying ``B^T`` on each side separately does three times
fewer multiplications but, as two products with an inner dimension of only 6, was no
faster on the machine measured, and neither was skipping the zeros of
``B^T kron B^T``: these products appear limited by moving the tiles through memory,
not by the multiplications.

Backward pass: the input gradient is the same algorithm on the flipped filters with
input and output channels exchanged, ``w[f, c, u, v] -> w[c, f, 2 - u, 2 - v]``, and
padding ``2 - p``; the weight gradient has its own transform,
``dg = G^T [(A dY A^T) * (B^T d B)] G``, again one batched matrix product
``dU[p] = V[p]^T @ dM[p]`` summed over the tiles.

Accuracy. The transforms of F(4x4, 3x3) hold entries up to 8 (A) and 5 (B) and
fractions like 1/24 (G), so in float32 it loses about a decimal digit more than
direct convolution; F(2x2, 3x3) loses almost nothing. Measured on this machine
(``lalib.engine.conv.error_table()``: N = 2 images of 16 x 16, F = 16 filters,
padding 1, normal data; the largest error against float64 direct convolution of the
same float32-rounded data, divided by ``max |y|``):

=====  ========  ===========  ===========  ========
C      im2col    F(2x2,3x3)   F(4x4,3x3)   FFT
=====  ========  ===========  ===========  ========
3      2.0e-07   1.5e-07      2.3e-06      1.5e-07
16     3.5e-07   1.8e-07      3.1e-06      1.4e-07
64     7.7e-07   3.3e-07      4.6e-06      1.9e-07
256    4.1e-07   5.9e-07      1.0e-05      2.0e-07
=====  ========  ===========  ===========  ========

F(4x4, 3x3) is about 10 times less accurate than direct convolution and its error
grows with C (2.3e-6 to 1.0e-5 here); all are still far below the 1e-3 of
``max |y|`` that `lalib.engine.conv.choose_algorithm` allows.

Non-finite input. A tile is transformed as a whole, so a NaN or an inf in one pixel
reaches the m x m outputs of every tile whose r x r input patch contains it (as NaN:
the transforms subtract and multiply by 0), a few more outputs than the windows over
the pixel; the weight gradient of every filter for that channel; nothing in other
images. A NaN or inf weight reaches the whole output channel of its filter, as in
direct convolution.
"""

import threading
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from lalib.conv import _check_dout, _validate, output_size
from lalib.engine._scratch import take as _take
from lalib.engine._scratch import workspace

__all__ = [
    "TILE_BLOCK_BYTES",
    "transform_matrices",
    "conv2d_forward",
    "conv2d_backward",
]

#: Target size, in bytes, of the transformed tiles of one block (the larger of the
#: input and output sides): small enough to stay in the CPU's caches between the
#: copies and the products, large enough that each batched product keeps two cores
#: busy (on the machine measured, with two BLAS threads and 64 or 128 channels,
#: 4 MiB was faster than 2 MiB).
TILE_BLOCK_BYTES = 4 * 2**20

# Largest scratch buffer, in bytes, that a thread keeps between calls; larger ones
# (the padded copy of a very large image) are allocated for the call and freed after.
_SCRATCH_KEEP_BYTES = 32 * 2**20

_scratch = threading.local()  # per-thread scratch buffers

_F2 = (
    # A^T (2 x 4)
    [[1, 1, 1, 0], [0, 1, -1, -1]],
    # G (4 x 3)
    [[1, 0, 0], [1 / 2, 1 / 2, 1 / 2], [1 / 2, -1 / 2, 1 / 2], [0, 0, 1]],
    # B^T (4 x 4)
    [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
)
_F4 = (
    # A^T (4 x 6)
    [
        [1, 1, 1, 1, 1, 0],
        [0, 1, -1, 2, -2, 0],
        [0, 1, 1, 4, 4, 0],
        [0, 1, -1, 8, -8, 1],
    ],
    # G (6 x 3)
    [
        [1 / 4, 0, 0],
        [-1 / 6, -1 / 6, -1 / 6],
        [-1 / 6, 1 / 6, -1 / 6],
        [1 / 24, 1 / 12, 1 / 6],
        [1 / 24, -1 / 12, 1 / 6],
        [0, 0, 1],
    ],
    # B^T (6 x 6)
    [
        [4, 0, -5, 0, 1, 0],
        [0, -4, -4, 1, 1, 0],
        [0, 4, -4, -1, 1, 0],
        [0, -2, -1, 2, 1, 0],
        [0, 2, -1, -2, 1, 0],
        [0, 4, 0, -5, 0, 1],
    ],
)


def _tile(tile):
    """`tile` as the int 2 or 4; ValueError otherwise."""
    is_int = isinstance(tile, (int, np.integer)) and not isinstance(tile, bool)
    if not is_int or tile not in (2, 4):
        raise ValueError(f"tile must be 2 or 4 (F(m x m, 3 x 3)), got {tile!r}")
    return int(tile)


def transform_matrices(tile=4):
    """The matrices ``A^T, G, B^T`` of Winograd's F(m, 3), m = `tile`.

    For a filter ``g`` of 3 taps and an input ``d`` of ``m + 2`` samples, the ``m``
    outputs of the correlation ``y[i] = sum_k d[i + k] g[k]`` are

        y = A^T @ ((G @ g) * (B^T @ d))

    with ``m + 2`` multiplications (the ``*``) instead of ``3 m``.

    Parameters
    ----------
    tile : {2, 4}
        ``m``, the outputs per tile (and per side of a 2-D tile).

    Returns
    -------
    AT : ndarray, shape (m, m + 2)
    G : ndarray, shape (m + 2, 3)
    BT : ndarray, shape (m + 2, m + 2)
        float64, from Lavin & Gray (2016).

    Examples
    --------
    >>> AT, G, BT = transform_matrices(2)
    >>> d, g = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 0.0, -1.0])
    >>> AT @ ((G @ g) * (BT @ d))       # d[i] - d[i + 2]
    array([-2., -2.])
    """
    AT, G, BT = _F2 if _tile(tile) == 2 else _F4
    return tuple(np.array(T, dtype=np.float64) for T in (AT, G, BT))


def _workspace(name, size, dtype):
    """A flat scratch array of at least `size` entries, kept between calls by this
    thread (see `lalib.engine._scratch`), up to `_SCRATCH_KEEP_BYTES` each."""
    return workspace(_scratch, name, size, dtype, _SCRATCH_KEEP_BYTES)


def _kron_matrices(m, dtype):
    """The 2-D transforms as matrices on flattened tiles, in `dtype`:
    ``vec(A^T Y A) = KA @ vec(Y)``, ``vec(G g G^T) = KG @ vec(g)``,
    ``vec(B^T d B) = KB @ vec(d)`` (row-major vec)."""
    AT, G, BT = transform_matrices(m)
    return tuple(np.kron(T, T).astype(dtype) for T in (AT, G, BT))


class _Cache(NamedTuple):
    """What `conv2d_backward` needs: the input, the filters, the geometry."""

    x: np.ndarray  # (N, C, H, W)
    w: np.ndarray  # (F, C, 3, 3)
    padding: tuple
    tile: int


def _check_3x3_stride_1(w, stride):
    """ValueError unless the filters are 3x3 and the stride is 1."""
    if w.shape[2:] != (3, 3):
        raise ValueError(
            "Winograd F(m x m, 3 x 3) needs 3x3 filters, w of shape (F, C, 3, 3), got "
            f"w of shape {w.shape}: use algorithm='im2col' or 'fft'"
        )
    if stride != (1, 1):
        raise ValueError(
            f"Winograd convolution needs stride 1, got stride {stride}: use "
            "algorithm='im2col'"
        )


def _plan(N, C, F, Ho, Wo, m, itemsize):
    """Tiles per side and the blocks: ``(th, tw, g, bands)``.

    A block is ``g`` whole images or, when one image's tiles exceed
    `TILE_BLOCK_BYTES`, one band ``(t0, t1)`` of tile rows of one image.
    """
    r = m + 2
    th, tw = -(-Ho // m), -(-Wo // m)  # ceil divisions: tiles per column and per row
    row_bytes = max(1, r * r * max(C, F, 1) * tw * itemsize)  # one row of tiles
    rows_fit = max(1, TILE_BLOCK_BYTES // row_bytes)
    if rows_fit >= th:
        return th, tw, max(1, min(N, rows_fit // th)), [(0, th)]
    n_bands = -(-th // rows_fit)
    edges = [th * k // n_bands for k in range(n_bands + 1)]
    return th, tw, 1, list(zip(edges[:-1], edges[1:]))


def _planes(name, shape, dtype, inner):
    """Scratch (g, C, rows, cols), zero outside the (row, col) slices `inner` (which
    the caller fills), with channel planes that do not start a multiple of 1 KiB
    apart.

    The tiles are copied channel last, so each copy loop reads one value from each of
    C planes. Planes a multiple of 4 KiB apart (32 x 32 float32 values) share the
    same few sets of the CPU cache and evict each other; one spare cache line (64
    bytes) at the end of each plane spreads them over all the sets.
    """
    g, C, rows, cols = shape
    dtype = np.dtype(dtype)
    plane = rows * cols
    if plane * dtype.itemsize % 1024 == 0:
        plane += max(1, 64 // dtype.itemsize)
    flat = _take(_workspace(name, g * C * plane, dtype), (g, C, plane))
    buf = flat[:, :, : rows * cols].reshape(shape)
    (r0, r1, _), (c0, c1, _) = (s.indices(n) for s, n in zip(inner, (rows, cols)))
    buf[:, :, :r0] = 0  # the border: rows above and below, columns left and right
    buf[:, :, r1:] = 0
    buf[:, :, r0:r1, :c0] = 0
    buf[:, :, r0:r1, c1:] = 0
    return buf


def _tiles(xp, m, s, t0, t1, tw):
    """View (s, s, g, t1 - t0, tw, C) of the s x s tiles, channel last, of tile rows
    t0..t1-1 of the padded images `xp` (g, C, Hp, Wp): tile (i, j) starts at pixel
    (i m, j m), ``view[u, v, n, i, j, c] = xp[n, c, (t0 + i) m + u, j m + v]``."""
    st = xp.strides
    return as_strided(
        xp[:, :, t0 * m :],
        shape=(s, s, xp.shape[0], t1 - t0, tw, xp.shape[1]),
        strides=(st[2], st[3], st[0], m * st[2], m * st[3], st[1]),
        writeable=False,
    )


def _winograd(x, w, padding, m, b=None, dw_of=None):
    """Stride-1 3x3 convolution of `x` (N, C, H, W) with `w` (F, C, 3, 3), F(m, 3).

    With ``dw_of = dout`` (N, F, H', W') it returns instead the weight gradient
    ``dw`` (F, C, 3, 3) of that convolution, by the transposed transforms.

    The tiles of a block are laid out position first and channel last, ``d[u, v,
    tile, c]``: cutting them out copies runs of C values (rather than runs of the
    few tiles of a tile row), and the channel sums are one (tiles, C) @ (C, F)
    product per position.
    """
    (N, C, H, W), F = x.shape, w.shape[0]
    (ph, pw), r = padding, m + 2
    Ho, Wo = output_size((H, W), (3, 3), 1, padding)
    dtype = x.dtype
    KA, KG, KB = _kron_matrices(m, dtype)  # (m^2, r^2), (r^2, 9), (r^2, r^2)
    th, tw, g, bands = _plan(N, C, F, Ho, Wo, m, dtype.itemsize)
    most = g * max(t1 - t0 for t0, t1 in bands) * tw  # tiles in the largest block
    # The padded images: the zero padding, then zeros up to whole tiles.
    inner = (slice(ph, ph + H), slice(pw, pw + W))  # where the images go
    xp = _planes("xp", (g, C, th * m + 2, tw * m + 2), dtype, inner)
    # Two block buffers used in turn, to keep less scratch memory: the tiles d in the
    # first, B^T d B (V) in the second, then the products M (or their gradient) in
    # the first, the tiles being no longer needed, and the output tiles Y in the
    # second (the weight gradient, which still needs V, puts dout's tiles in a third).
    size = r * r * most * max(C, F)
    d_buf, v_buf = _workspace("d", size, dtype), _workspace("v", size, dtype)
    m_buf, y_buf = d_buf, v_buf
    if dw_of is not None:
        y_buf = _workspace("y", m * m * most * F, dtype)
    if dw_of is None:
        # G g G^T per position, filters last: (r^2, 9) @ (9, C*F) -> (r^2, C, F)
        U = (KG @ w.reshape(F, C, 9).transpose(2, 1, 0).reshape(9, C * F)).reshape(
            r * r, C, F
        )
        out = np.empty((N, F, Ho, Wo), dtype=dtype)
    else:
        dU = np.zeros((r * r, C, F), dtype=dtype)  # the gradient of U, as U is laid out
        dUb = np.empty_like(dU)  # one block's share of it
        # dout on whole tiles, zero past the output's edge
        dyp = _planes("dyp", (g, F, th * m, tw * m), dtype, np.s_[:Ho, :Wo])
    for n0 in range(0, N, g):
        n1 = min(n0 + g, N)
        k = n1 - n0
        xp[:k, :, ph : ph + H, pw : pw + W] = x[n0:n1]
        if dw_of is not None:
            dyp[:k, :, :Ho, :Wo] = dw_of[n0:n1]
        for t0, t1 in bands:
            tb = t1 - t0
            P = k * tb * tw  # tiles in the block, ordered (image, tile row, tile col)
            # The tiles: d[u, v, (n, i, j), c] is pixel (u, v) of tile (i, j) of
            # image n in channel c
            d = _take(d_buf, (r, r, k, tb, tw, C))
            d[...] = _tiles(xp[:k], m, r, t0, t1, tw)
            # B^T d B of every tile and channel: (r^2, r^2) @ (r^2, P*C)
            V = np.matmul(KB, d.reshape(r * r, P * C), out=_take(v_buf, (r * r, P * C)))
            V = V.reshape(r * r, P, C)
            if dw_of is None:
                # the channel sums: (r^2, P, C) @ (r^2, C, F) -> (r^2, P, F)
                M = np.matmul(V, U, out=_take(m_buf, (r * r, P, F)))
                # A^T M A: (m^2, r^2) @ (r^2, P*F) -> (m, m, n, i, j, F)
                Y = np.matmul(
                    KA, M.reshape(r * r, P * F), out=_take(y_buf, (m * m, P * F))
                )
                _scatter(Y.reshape(m, m, k, tb, tw, F), out[n0:n1], t0 * m, b)
            else:
                # dout's m x m tiles, channel last: (m, m, n, i, j, F)
                dY = _take(y_buf, (m, m, k, tb, tw, F))
                dY[...] = _tiles(dyp[:k], m, m, t0, t1, tw)
                # dM = A dY A^T: (r^2, m^2) @ (m^2, P*F) -> (r^2, P, F)
                dM = np.matmul(
                    KA.T, dY.reshape(m * m, P * F), out=_take(m_buf, (r * r, P * F))
                )
                # (r^2, C, P) @ (r^2, P, F): the sum over the block's tiles
                dU += np.matmul(V.transpose(0, 2, 1), dM.reshape(r * r, P, F), out=dUb)
    if dw_of is not None:
        # U = KG @ w_flat, so dw_flat = KG^T @ dU: (9, r^2) @ (r^2, C*F) -> (3, 3, C, F)
        dw = (KG.T @ dU.reshape(r * r, C * F)).reshape(3, 3, C, F)
        return np.ascontiguousarray(dw.transpose(3, 2, 0, 1))
    return out


def _scatter(Y, out, i0, b):
    """Write the output tiles `Y` (m, m, n, i, j, F) into `out` (n, F, H', W'), plus
    the bias `b` (F,) if given: ``out[n, f, i0 + i m + u, j m + v] = Y[u, v, n, i,
    j, f]``, cut at the output's edge.

    This is the transposition back from channel last: one strided copy (through a
    temporary block when the tiles overhang the output's edge).
    """
    m, _, n, tb, tw, F = Y.shape
    Ho, Wo = out.shape[2:]
    rows = out[:, :, i0 : min(i0 + tb * m, Ho)]
    Yt = Y.transpose(2, 5, 3, 0, 4, 1)  # (n, F, i, u, j, v)
    if rows.shape[2] == tb * m and Wo == tw * m:
        rows = rows.reshape(n, F, tb, m, tw, m)
    else:
        Yt = Yt.reshape(n, F, tb * m, tw * m)[:, :, : rows.shape[2], :Wo]
    if b is None:
        rows[...] = Yt
    else:
        np.add(Yt, b.reshape((F,) + (1,) * (rows.ndim - 2)), out=rows)


def conv2d_forward(x, w, b=None, stride=1, padding=0, tile=4):
    """3x3 convolution of a batch by Winograd's F(m x m, 3 x 3), stride 1.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    w : ndarray, shape (F, C, 3, 3)
    b : ndarray, shape (F,), optional
    stride : int or pair of int
        Must be 1 (Winograd's tiles move by m outputs).
    padding : int or pair of int
        0, 1 or 2 per axis.
    tile : {4, 2}
        ``m``: F(4x4, 3x3) does 4 times fewer multiplications than direct
        convolution, F(2x2, 3x3) 2.25 times fewer and loses fewer digits.

    Returns
    -------
    out : ndarray, shape (N, F, H', W')
        In the dtype of ``np.result_type(x, w)``.
    cache : tuple
        What `conv2d_backward` needs: the input, the filters, the padding and `tile`.

    Raises
    ------
    ValueError
        As `lalib.conv.conv2d_forward`, and for a kernel other than 3x3, a stride
        other than 1, or a `tile` other than 2 or 4.

    Examples
    --------
    >>> from lalib.conv import conv2d_naive
    >>> rng = np.random.default_rng(0)
    >>> x, w = rng.normal(size=(2, 3, 9, 7)), rng.normal(size=(4, 3, 3, 3))
    >>> out, cache = conv2d_forward(x, w, padding=1)
    >>> out.shape
    (2, 4, 9, 7)
    >>> bool(np.allclose(out, conv2d_naive(x, w, padding=1)))
    True
    """
    tile = _tile(tile)
    x, w, b, stride, padding = _validate(x, w, b, stride, padding)
    _check_3x3_stride_1(w, stride)
    out = _winograd(x, w, padding, tile, b)
    return out, _Cache(x, w, padding, tile)


def conv2d_backward(dout, cache):
    """Gradients of `conv2d_forward` given the upstream gradient `dout`.

    Parameters
    ----------
    dout : ndarray, shape (N, F, H', W')
    cache : tuple
        From `conv2d_forward` of this module.

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
        Winograd again: ``dout`` convolved with the flipped filters, input and output
        channels exchanged (``w[f, c, 2 - u, 2 - v]`` as filter c of channel f), padding
        ``2 - p``: the transposed convolution.
    dw : ndarray, shape (F, C, 3, 3)
        ``G^T [(A dY A^T) * (B^T d B)] G`` summed over the tiles, as one batched matrix
        product per transformed position.
    db : ndarray, shape (F,)

    Raises
    ------
    ValueError
        If `dout` does not have the output's shape, or `cache` does not come from this
        module's `conv2d_forward`.
    """
    if not isinstance(cache, _Cache):
        raise ValueError(
            "cache must come from lalib.engine.winograd.conv2d_forward, got a "
            f"{type(cache).__name__}"
        )
    x, w, padding, tile = cache
    return _backward(dout, x, w, padding, tile)


def _backward(dout, x, w, padding, tile):
    """dx, dw, db of the stride-1 3x3 convolution, Winograd F(tile, 3)."""
    N, F = x.shape[0], w.shape[0]
    Ho, Wo = output_size(x.shape[2:], (3, 3), 1, padding)
    dout = _check_dout(dout, (N, F, Ho, Wo), x.dtype)
    flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (C, F, 3, 3)
    back = tuple(2 - p for p in padding)
    dx = _winograd(dout, np.ascontiguousarray(flipped), back, tile)
    dw = _winograd(x, w, padding, tile, dw_of=dout)
    return dx, dw, dout.sum(axis=(0, 2, 3))
