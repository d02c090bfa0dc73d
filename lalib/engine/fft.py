"""FFT convolution: the convolution theorem, for large kernels.

A circular convolution is multiplication by a circulant matrix, and the discrete
Fourier transform diagonalises every circulant matrix: in the Fourier basis the
convolution is an element-wise product of spectra. For an image ``x`` and a filter
``w`` zero-padded to a common size ``S``,

    circular convolution:          x (*) w  =  irfft2(rfft2(x) * rfft2(w))
    circular cross-correlation:    x (*) w~ =  irfft2(rfft2(x) * conj(rfft2(w)))

and deep-learning "convolution" is the cross-correlation (the filter is not flipped),
so the filter's spectrum is conjugated (for real data, conjugating the spectrum is
reversing the signal). The zero padding keeps the circle from wrapping onto the
outputs that are kept: with ``S >= H + 2 p`` along each axis, output ``i`` (which
reads input rows ``i .. i + KH - 1 <= H + 2 p - 1``) never reaches past the end of
the circle. `conv2d_forward` uses the smallest ``S >= H + 2 p`` whose only prime
factors are 2, 3 and 5, where the FFT is fastest.

For a batch the sum over the channels is, at each frequency ``k``, a matrix product:

    Y[k] = X[k] @ conj(W[k]).T      # (N, C) @ (C, F) -> (N, F), one per frequency

(one ``np.matmul`` over a leading axis of frequencies). The cost does not depend on
the kernel size: about ``8 N C F`` real multiplications per frequency, plus the
transforms (``O(N (C + F) S^2 log S)``), against ``N C F H' W' KH KW`` for direct
convolution; so it pays for large kernels (measured with one thread, 8 to 64
channels: from 5 x 5 on, 2 to 5 times faster than im2col at 7 x 7 and 11 x 11) and
not for 3 x 3 (3 to 4 times slower than im2col).

Strides: the stride-1 correlation is computed, then every ``s``-th output kept (so a
stride costs as much as stride 1). Backward pass, also by FFT: ``dx`` is the true
convolution of ``dout`` (zeros between the kept outputs for a stride) with the filters,
``dX[k] = dY[k] @ W[k]``, and ``dw`` the correlation of the input with ``dout``,
``dW[k] = dY[k]^H @ X[k]``; ``db`` is the sum of ``dout``.

Precision: NumPy >= 2 computes the FFT of float32 data in single precision (``rfft2``
of float32 is complex64, measured with NumPy 2.4), so float32 stays float32 and the
error is that of float32 arithmetic. The FFT's rounding error is spread over the
whole image: it is a small multiple of float32's epsilon times the largest output,
not of each output (an output much smaller than the largest one has a larger relative
error than with direct convolution). See `lalib.engine.winograd` for the measured
error table.

Non-finite input: the Fourier transform of an image with one NaN (or inf) is NaN at
every frequency, so a NaN or inf anywhere in image ``n`` turns every output of image
``n`` (all filters) into NaN, and a NaN or inf weight of filter ``f`` every output of
channel ``f`` of every image: more than direct convolution, whose NaN stays in the
windows over the pixel. The gradients spread alike. Images of the batch stay apart.
"""

from typing import NamedTuple

import numpy as np

from lalib.conv import _check_dout, _pad, _used_stride, _validate, output_size

__all__ = ["conv2d_forward", "conv2d_backward"]


def _fft_size(n):
    """The smallest integer ``>= n`` (and >= 1) whose prime factors are 2, 3 and 5.

    >>> [_fft_size(n) for n in (7, 11, 17, 97, 100)]
    [8, 12, 18, 100, 100]
    """
    n = max(int(n), 1)
    best = 1 << (n - 1).bit_length()  # a power of 2 always qualifies
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            q = p35
            while q < n:
                q *= 2
            best = min(best, q)
            p35 *= 3
        p5 *= 5
    return best


class _Cache(NamedTuple):
    """What `conv2d_backward` needs: the input, the filters, the geometry."""

    x: np.ndarray  # (N, C, H, W)
    w: np.ndarray  # (F, C, KH, KW)
    stride: tuple
    padding: tuple


def _kernel_spectrum(w, S, conj, order):
    """``rfft2(w, s=S)`` of small filters `w` (F, C, KH, KW), frequency first.

    Returns (S0 * (S1//2+1), C, F) for ``order="cf"``, (..., F, C) for ``"fc"``,
    conjugated if `conj`: the layout of the per-frequency matrix products.
    ``rfft2`` would transform S0 rows of which only KH are not zero, then columns of
    length S0 of which only KH entries are not zero; here the KH rows are transformed
    alone and the columns by one matrix product with the (S0, KH) part of the DFT
    matrix that meets them.
    """
    (F, C, KH, _), (S0, S1) = w.shape, S
    rows = np.fft.rfft(w, n=S1, axis=-1)  # (F, C, KH, S1//2+1)
    axes = (2, 3, 1, 0) if order == "cf" else (2, 3, 0, 1)
    cols = rows.transpose(axes).reshape(KH, -1)  # (KH, (S1//2+1) * C * F)
    dft = np.exp(-2j * np.pi * np.outer(np.arange(S0), np.arange(KH)) / S0)
    dft = dft.astype(rows.dtype)  # (S0, KH)
    if conj:
        dft, cols = np.conj(dft), np.conj(cols)
    spec = dft @ cols  # (S0, (S1//2+1) * ...): frequency (k0, k1) first
    return spec.reshape(S0 * rows.shape[-1], *((C, F) if order == "cf" else (F, C)))


def _small_inverse(spec, S, KH, KW):
    """``irfft2(spec, s=S)[..., :KH, :KW]`` for spec (S0 * (S1//2+1), F, C), as
    (F, C, KH, KW): only the KH rows that are kept are inverted along the first axis
    (one matrix product with KH rows of the inverse DFT matrix)."""
    (S0, S1), (K, F, C) = S, spec.shape
    idft = np.exp(2j * np.pi * np.outer(np.arange(KH), np.arange(S0)) / S0) / S0
    rows = idft.astype(spec.dtype) @ spec.reshape(S0, K // S0 * F * C)  # (KH, ...)
    rows = rows.reshape(KH, K // S0, F, C).transpose(2, 3, 0, 1)  # (F, C, KH, S1h)
    return np.fft.irfft(rows, n=S1, axis=-1)[..., :KW]


def _by_frequency(spec):
    """Spectra (P, Q, S0, S1h) as (S0 * S1h, P, Q): one (P, Q) matrix per frequency."""
    P, Q, S0, S1h = spec.shape
    K = S0 * S1h
    return np.ascontiguousarray(spec.reshape(P * Q, K).T).reshape(K, P, Q)


def _to_images(spec_k, S):
    """(S0 * S1h, P, Q) per-frequency matrices back to the images irfft2 of (P, Q)."""
    K, P, Q = spec_k.shape
    shape = (P, Q, S[0], K // S[0])
    spec = np.ascontiguousarray(spec_k.reshape(K, P * Q).T).reshape(shape)
    return np.fft.irfft2(spec, s=S)  # (P, Q, S0, S1)


def _geometry(x_shape, padding):
    """Padded size (Hp, Wp) and the FFT size S, the smallest 5-smooth sizes >= it."""
    (H, W), (ph, pw) = x_shape[2:], padding
    Hp, Wp = H + 2 * ph, W + 2 * pw
    return Hp, Wp, (_fft_size(Hp), _fft_size(Wp))


def conv2d_forward(x, w, b=None, stride=1, padding=0):
    """2-D convolution (cross-correlation) of a batch by the FFT, NCHW.

    Same parameters, result and checks as `lalib.engine.conv.conv2d_forward`, for
    any kernel size, stride and padding.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    w : ndarray, shape (F, C, KH, KW)
    b : ndarray, shape (F,), optional
    stride, padding : int or pair of int

    Returns
    -------
    out : ndarray, shape (N, F, H', W')
        In the dtype of ``np.result_type(x, w)``: float32 stays float32 (the FFT is
        computed in complex64).
    cache : tuple
        What `conv2d_backward` needs: the input, the filters and the geometry.

    Raises
    ------
    ValueError
        As `lalib.conv.conv2d_forward`.

    Examples
    --------
    >>> from lalib.conv import conv2d_naive
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(2, 3, 12, 10)).astype(np.float32)
    >>> w = rng.normal(size=(4, 3, 7, 7)).astype(np.float32)
    >>> out, cache = conv2d_forward(x, w, padding=3)
    >>> out.shape, out.dtype
    ((2, 4, 12, 10), dtype('float32'))
    >>> bool(np.allclose(out, conv2d_naive(x, w, padding=3), atol=1e-4))
    True
    """
    x, w, b, stride, padding = _validate(x, w, b, stride, padding)
    out = _forward(x, w, stride, padding)
    if b is not None:
        out += b[:, None, None]
    return out, _Cache(x, w, stride, padding)


def _forward(x, w, stride, padding):
    """The FFT correlation of `x` with `w`, then every stride-th output."""
    KH, KW = w.shape[2:]
    Ho, Wo = output_size(x.shape[2:], (KH, KW), stride, padding)
    sh, sw = _used_stride(stride, (Ho, Wo))
    Hp, Wp, S = _geometry(x.shape, padding)
    Xk = _by_frequency(np.fft.rfft2(_pad(x, padding), s=S))  # (K, N, C)
    Wk = _kernel_spectrum(w, S, conj=True, order="cf")  # (K, C, F), conjugated
    y = _to_images(np.matmul(Xk, Wk), S)  # (K, N, F) -> (N, F, S0, S1)
    # stride-1 outputs 0..Hp-KH, then every stride-th of them
    y = y[:, :, : (Ho - 1) * sh + 1 : sh, : (Wo - 1) * sw + 1 : sw]
    return np.ascontiguousarray(y, dtype=x.dtype)


def conv2d_backward(dout, cache):
    """Gradients of `conv2d_forward` given the upstream gradient `dout`, by the FFT.

    Parameters
    ----------
    dout : ndarray, shape (N, F, H', W')
    cache : tuple
        From `conv2d_forward` of this module.

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
        The convolution (filter not flipped in the formula: flipped relative to the
        forward pass) of ``dout``, spread back to the stride-1 positions, with the
        filters: ``dX[k] = dY[k] @ W[k]``; then the padding dropped.
    dw : ndarray, shape (F, C, KH, KW)
        The correlation of the padded input with ``dout``: ``dW[k] = dY[k]^H @ X[k]``.
    db : ndarray, shape (F,)

    Raises
    ------
    ValueError
        If `dout` does not have the output's shape, or `cache` does not come from this
        module's `conv2d_forward`.
    """
    if not isinstance(cache, _Cache):
        raise ValueError(
            "cache must come from lalib.engine.fft.conv2d_forward, got a "
            f"{type(cache).__name__}"
        )
    x, w, stride, padding = cache
    return _backward(dout, x, w, stride, padding)


def _backward(dout, x, w, stride, padding):
    """dx, dw, db of the convolution, by the FFT."""
    (N, _, H, W), (F, _, KH, KW) = x.shape, w.shape
    Ho, Wo = output_size((H, W), (KH, KW), stride, padding)
    dout = _check_dout(dout, (N, F, Ho, Wo), x.dtype)
    sh, sw = _used_stride(stride, (Ho, Wo))
    (ph, pw) = padding
    Hp, Wp, S = _geometry(x.shape, padding)
    # dout at the stride-1 positions it was taken from, zeros between
    up = np.zeros((N, F, Hp - KH + 1, Wp - KW + 1), dtype=x.dtype)
    up[:, :, : (Ho - 1) * sh + 1 : sh, : (Wo - 1) * sw + 1 : sw] = dout
    Dk = _by_frequency(np.fft.rfft2(up, s=S))  # (K, N, F)
    Xk = _by_frequency(np.fft.rfft2(_pad(x, padding), s=S))  # (K, N, C)
    Wk = _kernel_spectrum(w, S, conj=False, order="fc")  # (K, F, C)
    # dx_pad = dout convolved with w: dX[k] = dY[k] @ W[k]
    dxp = _to_images(np.matmul(Dk, Wk), S)  # (K, N, C) -> (N, C, S0, S1)
    dx = np.ascontiguousarray(dxp[:, :, ph : ph + H, pw : pw + W], dtype=x.dtype)
    # dw = x_pad correlated with dout: dW[k] = conj(dY[k]).T @ X[k]
    dW = np.matmul(np.conj(Dk).transpose(0, 2, 1), Xk)  # (K, F, C)
    dw = np.ascontiguousarray(_small_inverse(dW, S, KH, KW), dtype=x.dtype)
    return dx, dw, dout.sum(axis=(0, 2, 3))
