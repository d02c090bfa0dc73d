"""Checkers for the exercises of the chapter "Matrix multiplication is the engine".

Each checker takes the reader's answer and returns a `Check` (truthy when right, a
one-line verdict when shown). The right answers are computed here from the shapes
(with `lalib.conv.output_size` for a convolution's output), never typed in; a wrong
answer gets a hint about the usual slip: a multiply-add counted as one FLOP, numbers
counted instead of bytes, the input size used for the output's.
"""

import numpy as np

from lalib import conv, fourier
from lalib.exercises import Check, reader_array, reader_number

MIB = 2**20  # bytes in a MiB


def _close(a, b, rtol=2e-3):
    return abs(a - b) <= rtol * abs(b)


def _slip(given, right, slips):
    """The hint of the first ``(factor, hint)`` with ``given == factor * right``."""
    for factor, hint in slips:
        if _close(given, factor * right):
            return hint
    return None


# --------------------------------------------------------------------- exercise 1

#: Exercise 1: a convolution layer (float32), images (N, C, H, W), F filters KH x KW.
EXERCISE1 = {
    "N": 16,
    "C": 128,
    "H": 28,
    "W": 28,
    "F": 256,
    "KH": 3,
    "KW": 3,
    "stride": 2,
    "padding": 1,
}


def conv_costs():
    """The right answers of exercise 1: useful FLOPs and MiB of the im2col columns."""
    e = EXERCISE1
    Ho, Wo = conv.output_size(
        (e["H"], e["W"]), (e["KH"], e["KW"]), e["stride"], e["padding"]
    )
    rows, cols = e["C"] * e["KH"] * e["KW"], e["N"] * Ho * Wo  # the column matrix
    flops = 2 * e["F"] * rows * cols  # (F, C KH KW) @ (C KH KW, N H' W')
    return flops, rows * cols * np.dtype(np.float32).itemsize / MIB


def check_conv_costs(flops, columns_mib):
    """Exercise 1: the FLOPs of the layer `EXERCISE1` and the size of its columns.

    Parameters
    ----------
    flops : float
        Useful FLOPs of the forward pass (2 per multiply-add).
    columns_mib : float
        MiB of its im2col column matrix in float32.
    """
    right_flops, right_mib = conv_costs()
    flops, columns_mib = reader_number(flops), reader_number(columns_mib)
    if flops is None or columns_mib is None:
        return Check(False, "give two numbers: the FLOPs and the columns' MiB")
    e = EXERCISE1
    shrink = (e["H"] * e["W"]) / np.prod(
        conv.output_size(
            (e["H"], e["W"]), (e["KH"], e["KW"]), e["stride"], e["padding"]
        )
    )  # input pixels per output pixel
    if not _close(flops, right_flops):
        hint = _slip(
            flops,
            right_flops,
            [
                (0.5, "that counts multiply-adds: a multiply-add is 2 FLOPs"),
                (shrink, "stride 2 halves the output's height and width: use H', W'"),
                (
                    shrink / 2,
                    "use the output size H' x W', and 2 FLOPs per multiply-add",
                ),
                (1 / e["N"], "that is one image: the batch has N of them"),
            ],
        )
        return Check(
            False,
            f"{flops:.4g} FLOPs: "
            + (hint or "every output number is a dot product of length C KH KW"),
        )
    if not _close(columns_mib, right_mib):
        hint = _slip(
            columns_mib,
            right_mib,
            [
                (shrink, "one column per *output* pixel (H' W' per image), not input"),
                (0.25, "a float32 number takes 4 bytes"),
                (MIB / 1e6, "a MiB is 2**20 bytes, not 10**6"),
                (1 / (e["KH"] * e["KW"]), "each column holds C KH KW numbers, not C"),
            ],
        )
        return Check(
            False,
            f"the FLOPs are right; {columns_mib:.4g} MiB is not: "
            + (hint or "the columns are a (C KH KW) x (N H' W') matrix"),
        )
    x_mib = e["N"] * e["C"] * e["H"] * e["W"] * 4 / MIB
    return Check(
        True,
        f"{right_flops / 1e9:.3f} GFLOP, and {right_mib:.2f} MiB of columns for "
        f"{x_mib:.2f} MiB of input: {right_mib / x_mib:.2f} times the input",
    )


# --------------------------------------------------------------------- exercise 2

#: Exercise 2: a float32 linear layer with D inputs and M outputs.
EXERCISE2 = {"D": 4096, "M": 4096, "itemsize": 4}


def gemm_intensity(
    N, D=EXERCISE2["D"], M=EXERCISE2["M"], itemsize=EXERCISE2["itemsize"]
):
    """FLOP per byte of ``(N, D) @ (D, M)``, each operand read or written once."""
    return 2 * N * D * M / (itemsize * (N * D + D * M + N * M))


def check_intensity(intensity, smallest_batch, ridge):
    """Exercise 2: the arithmetic intensity of a layer's product, and where it pays.

    Parameters
    ----------
    intensity : callable
        ``intensity(N)``: FLOP per byte of the forward product ``x @ W`` of the layer
        `EXERCISE2` for a batch of N rows, counting each of x, W and the output once.
    smallest_batch : int
        The smallest N whose intensity reaches `ridge`.
    ridge : float
        The ridge point (FLOP per byte) of the machine the chapter's results come from.
    """
    ridge = reader_number(ridge)
    if ridge is None or ridge <= 0:
        return Check(False, "pass the chapter's ridge point (a positive number)")
    for N in (1, 7, 64, 1000):
        right = gemm_intensity(N)
        try:
            given = reader_number(intensity(N))
        except Exception as exc:  # the reader's code: report, do not crash the notebook
            return Check(False, f"intensity({N}) raised {type(exc).__name__}: {exc}")
        if given is None:
            return Check(False, f"intensity({N}) must return one number")
        if not _close(given, right, 1e-6):
            D, M, itemsize = EXERCISE2["D"], EXERCISE2["M"], EXERCISE2["itemsize"]
            weights_only = 2 * N * D * M / (itemsize * D * M)
            hint = _slip(
                given,
                right,
                [
                    (0.5, "a multiply-add is 2 FLOPs"),
                    (itemsize, "divide by bytes, not numbers: float32 is 4 bytes each"),
                    (2 * itemsize, "2 FLOPs per multiply-add, 4 bytes per number"),
                ],
            )
            if hint is None and _close(given, weights_only, 1e-6):
                hint = "count the bytes of x and of the output as well as W's"
            return Check(
                False,
                f"intensity({N}) = {given:.4g}: "
                + (hint or "FLOPs 2 N D M over bytes 4 (N D + D M + N M)"),
            )
    n = 1
    while gemm_intensity(n) < ridge:
        n += 1
    value = reader_number(smallest_batch)
    if value is None or value != int(value):
        return Check(False, "intensity is right; give smallest_batch as a whole number")
    if int(value) != n:
        return Check(
            False,
            f"intensity is right; smallest_batch {int(value)} is not: the first N with "
            f"intensity(N) >= {ridge:.3g} "
            + ("(that N does not reach it)" if value < n else "(a smaller N does)"),
        )
    return Check(
        True,
        f"one row gives {gemm_intensity(1):.2f} FLOP/byte (memory-bound: a "
        f"matrix-vector product); {n} rows reach the ridge point {ridge:.3g}; 256 rows "
        f"give {gemm_intensity(256):.0f}",
    )


# --------------------------------------------------------------------- exercise 3

#: Exercise 3: self-attention over B sequences, h heads, n tokens, width d_k, float32;
#: the blockwise kernel multiplies a block of queries by a block of keys at a time.
EXERCISE3 = {"B": 4, "h": 16, "n": 4096, "d_k": 64, "block": 256}


def attention_costs():
    """The right answers of exercise 3: GFLOP, MiB of the scores, MiB of one tile."""
    e = EXERCISE3
    B, h, n, d, blk = e["B"], e["h"], e["n"], e["d_k"], e["block"]
    flops = 2 * (2 * B * h * n * n * d)  # Q K^T and P V: (n, d)(d, n), (n, n)(n, d)
    itemsize = np.dtype(np.float32).itemsize
    return (
        flops / 1e9,
        B * h * n * n * itemsize / MIB,
        B * h * blk * blk * itemsize / MIB,
    )


def check_attention_costs(gflop, scores_mib, tile_mib):
    """Exercise 3: the work of attention `EXERCISE3` and the memory of its scores.

    Parameters
    ----------
    gflop : float
        Useful GFLOP of the two products ``Q K^T`` and ``P V`` (2 per multiply-add).
    scores_mib : float
        MiB of the full (B, h, n, n) score tensor in float32.
    tile_mib : float
        MiB of one (B, h, block, block) tile of scores in float32: a block of queries
        against a block of keys, for every sequence and head.
    """
    right_gflop, right_scores, right_tile = attention_costs()
    answers = [reader_number(v) for v in (gflop, scores_mib, tile_mib)]
    if None in answers:
        return Check(False, "give three numbers: GFLOP, the scores' MiB, a tile's MiB")
    gflop, scores_mib, tile_mib = answers
    e = EXERCISE3
    if not _close(gflop, right_gflop):
        hint = _slip(
            gflop,
            right_gflop,
            [
                (
                    0.5,
                    "count both products (Q K^T and P V), at 2 FLOPs per multiply-add",
                ),
                (0.25, "two products, and 2 FLOPs per multiply-add"),
                (1 / (e["B"] * e["h"]), "that is one head of one sequence: times B h"),
            ],
        )
        return Check(
            False,
            f"{gflop:.4g} GFLOP: " + (hint or "each product is 2 n^2 d_k per head"),
        )
    if not _close(scores_mib, right_scores):
        hint = _slip(
            scores_mib,
            right_scores,
            [
                (0.25, "a float32 number takes 4 bytes"),
                (MIB / 1e6, "a MiB is 2**20 bytes, not 10**6"),
                (1 / (e["B"] * e["h"]), "every sequence and head has its own n x n"),
            ],
        )
        return Check(
            False,
            f"the GFLOP are right; {scores_mib:.4g} MiB of scores is not: "
            + (hint or "B h n^2 numbers of 4 bytes"),
        )
    if not _close(tile_mib, right_tile):
        hint = _slip(
            tile_mib,
            right_tile,
            [
                (e["n"] / e["block"], "a tile is block x block, not n x block"),
                (0.25, "a float32 number takes 4 bytes"),
                (MIB / 1e6, "a MiB is 2**20 bytes, not 10**6"),
            ],
        )
        return Check(
            False,
            f"GFLOP and scores are right; {tile_mib:.4g} MiB per tile is not: "
            + (hint or "B h block^2 numbers of 4 bytes"),
        )
    return Check(
        True,
        f"{right_gflop:.1f} GFLOP; the scores take {right_scores:.0f} MiB "
        f"({right_scores / 1024:.0f} GiB), one tile {right_tile:.0f} MiB: "
        f"{right_scores / right_tile:.0f} times less",
    )


# --------------------------------------------------------------------- exercise 4

#: Exercise 4: the difference filter ``y[i] = x[i] - x[i - 1]`` on a circle of 6.
EXERCISE4 = {"c": (1.0, -1.0, 0.0, 0.0, 0.0, 0.0)}


def _complex_array(value):
    """The reader's `value` as a complex ndarray, or None if it is not numbers."""
    try:
        return np.asarray(value, dtype=complex)
    except (TypeError, ValueError):
        return None


def _same_values(a, b):
    """Do `a` and `b` hold the same numbers, in any order? (Rounded first, so that
    rounding errors in the real parts do not change the sorted order.)"""
    a, b = (np.sort_complex(np.round(v, 8) + 0) for v in (a, b))  # + 0: no -0
    return bool(np.allclose(a, b, atol=1e-7))


def circulant_answers():
    """The right answers of exercise 4: the circulant matrix and its eigenvalues."""
    c = np.array(EXERCISE4["c"])
    return fourier.circulant(c), fourier.circulant_eigenvalues(c)


def check_circulant_eigenvalues(C, eigenvalues):
    """Exercise 4: the circulant matrix of the filter `EXERCISE4` and its eigenvalues.

    Parameters
    ----------
    C : ndarray, shape (6, 6)
        The circulant matrix whose first column is the filter c:
        ``C[i, j] = c[(i - j) mod 6]``.
    eigenvalues : ndarray, shape (6,)
        Its eigenvalues, found without an eigensolver, in the order of the Fourier
        modes k = 0, 1, ..., 5 (the eigenvalue of the mode ``e^{2 pi i j k / 6}``).
    """
    right_C, right_lam = circulant_answers()
    n = right_C.shape[0]
    C = reader_array(C)
    if C is None or C.shape != right_C.shape:
        shape = None if C is None else C.shape
        return Check(False, f"C must be a {n} x {n} matrix of numbers, got {shape}")
    if not np.allclose(C, right_C):
        if np.allclose(C, right_C.T):
            hint = (
                "that is the transpose: the first *column* is c, each column the one "
                "before it shifted down"
            )
        else:
            hint = "C[i, j] = c[(i - j) mod 6]: the first column is c"
        return Check(False, "C is not the circulant matrix of c: " + hint)
    lam = _complex_array(eigenvalues)
    if lam is None or lam.shape != right_lam.shape:
        shape = None if lam is None else lam.shape
        return Check(
            False, f"C is right; give the {n} eigenvalues as one array, got {shape}"
        )
    if not np.allclose(lam, right_lam, atol=1e-9):
        if np.allclose(lam, right_lam.conj(), atol=1e-9):
            hint = (
                "those are the conjugates (the eigenvalues of C transposed): the "
                "eigenvalue of mode k is sum_m c[m] e^{-2 pi i m k / n}, as fft has it"
            )
        elif np.allclose(lam * np.sqrt(n), right_lam, atol=1e-9):
            hint = "that is F @ c with the unitary F: fft(c) is sqrt(n) times it"
        elif _same_values(lam, right_lam):
            hint = (
                "the right values in the wrong order: list them by Fourier mode "
                "k = 0, ..., 5 (an eigensolver returns them in no particular order)"
            )
        else:
            hint = (
                "the eigenvalues of a circulant matrix are the DFT of its first column"
            )
        return Check(False, "C is right; the eigenvalues are not: " + hint)
    k_max = int(np.argmax(np.abs(right_lam)))
    return Check(
        True,
        f"eigenvalue {abs(right_lam[0]):.0f} for k = 0: the filter removes constants; "
        f"the largest, |lambda| = {abs(right_lam[k_max]):.0f} for k = {k_max}, belongs "
        f"to the alternating signal (1, -1, 1, -1, 1, -1), which it doubles",
    )
