"""Checkers for the exercises of the chapter "Convolutions as matrix multiplication".

Each checker takes the reader's answer and returns a `Check`: it is truthy when the
answer is right, and shows a one-line verdict in a notebook. The right answers are
computed here with `lalib.conv`, never typed in.
"""

import numpy as np

from lalib import conv
from lalib.exercises import Check

# --------------------------------------------------------------------- exercise 1

#: The layer of exercise 1: one 6 x 6 single-channel image, a 3 x 3 filter, padding 1.
EXERCISE1 = {"input_shape": (1, 6, 6), "kernel": (3, 3), "stride": 1, "padding": 1}


def check_toeplitz_count(shape, nonzeros):
    """Exercise 1: the shape of the Toeplitz matrix of `EXERCISE1`, its nonzero count.

    Parameters
    ----------
    shape : tuple of int
        ``(rows, columns)`` of T.
    nonzeros : int
        How many entries of T hold a filter weight (the filter has no zero weight).
    """
    C, H, W = EXERCISE1["input_shape"]
    w = np.ones((1, C, *EXERCISE1["kernel"]))  # all weights nonzero
    T = conv.toeplitz_matrix(w, (C, H, W), EXERCISE1["stride"], EXERCISE1["padding"])
    true_nnz = int(np.count_nonzero(T))
    try:
        shape = tuple(int(n) for n in shape)
        nonzeros = int(nonzeros)
    except (TypeError, ValueError, OverflowError):
        return Check(
            False,
            "give the shape as (rows, columns) and the nonzeros as a whole number",
        )
    if shape != T.shape:
        return Check(
            False,
            f"T has one row per output pixel and one column per input "
            f"pixel; shape {shape} is not right",
        )
    if nonzeros != true_nnz:
        hint = (
            "count the window positions per axis that stay inside the image"
            if nonzeros > true_nnz
            else "border windows still hold some pixels"
        )
        return Check(
            False, f"shape {T.shape} is right, {nonzeros} nonzeros is not: {hint}"
        )
    return Check(
        True,
        f"T is {T.shape} with {true_nnz} nonzeros, "
        f"{100 * true_nnz / T.size:.1f} % of its entries",
    )


# --------------------------------------------------------------------- exercise 2


def check_shift_filter(w):
    """Exercise 2: a 3 x 3 filter that moves an image one pixel to the right.

    With padding 1, ``conv2d`` of an (H, W) image with `w` must give
    ``out[i, j] = x[i, j - 1]`` (and 0 in column 0).

    Parameters
    ----------
    w : array_like, shape (3, 3)
    """
    try:
        w = np.asarray(w, dtype=float)
    except (TypeError, ValueError):
        return Check(False, "the filter must be a 3 x 3 array of numbers")
    if w.shape != (3, 3):
        return Check(False, f"the filter must be 3 x 3, got shape {w.shape}")
    x = np.random.default_rng(2).standard_normal((6, 7))  # (H, W)
    expected = np.zeros_like(x)
    expected[:, 1:] = x[:, :-1]  # move right, zeros enter on the left
    out = conv.conv2d(x[None, None], w[None, None], padding=1)[0, 0]  # (H, W)
    if np.allclose(out, expected):
        return Check(
            True,
            "out[i, j] = x[i, j-1]: the single 1 sits left of the centre, "
            "because the window reads, it does not write",
        )
    if not np.any(out):
        return Check(
            False,
            "the output is all zeros: a filter with a single 1 copies one pixel of "
            "each window to the output",
        )
    # What each one-hot filter does, computed the same way: which shift is it?
    for u in range(3):
        for v in range(3):
            unit = np.zeros((1, 1, 3, 3))
            unit[0, 0, u, v] = 1.0
            if np.allclose(out, conv.conv2d(x[None, None], unit, padding=1)[0, 0]):
                down, right = 1 - u, 1 - v  # out[i, j] = x[i - down, j - right]
                if (down, right) == (0, 0):
                    where = "leaves the image where it is"
                else:
                    steps = [
                        f"{abs(n)} pixel {name[n > 0]}"
                        for n, name in [
                            (down, ("up", "down")),
                            (right, ("left", "right")),
                        ]
                        if n
                    ]
                    where = "moves the image " + " and ".join(steps)
                flip = (
                    ": conv2d does not flip the filter (it is a cross-correlation)"
                    if (down, right) == (0, -1)
                    else ""
                )
                return Check(False, f"this filter {where}{flip}")
    return Check(
        False,
        "out[i, j] must be exactly x[i, j-1]: which single weight of the window "
        "centred on (i, j) lands on the pixel x[i, j-1]?",
    )


# --------------------------------------------------------------------- exercise 3


def check_conv_function(my_conv2d):
    """Exercise 3: a convolution written as `conv.im2col` plus one matrix product.

    Parameters
    ----------
    my_conv2d : callable
        ``my_conv2d(x, w, stride, padding)`` for x (N, C, H, W) and w (F, C, KH, KW),
        returning (N, F, H', W') in the input's dtype.
    """
    rng = np.random.default_rng(3)
    cases = [  # (N, C, H, W, F, KH, KW, stride, padding)
        (1, 1, 5, 5, 1, 3, 3, 1, 0),
        (2, 3, 7, 6, 4, 3, 2, 2, 1),
        (3, 2, 8, 8, 5, 1, 1, 1, 0),
        (1, 4, 6, 9, 2, 4, 3, 3, 2),
    ]
    for N, C, H, W, F, KH, KW, s, p in cases:
        x = rng.standard_normal((N, C, H, W)).astype(np.float32)
        w = rng.standard_normal((F, C, KH, KW)).astype(np.float32)
        expected = conv.conv2d_naive(x, w, stride=s, padding=p)
        try:
            out = np.asarray(my_conv2d(x, w, s, p))
        except NotImplementedError:
            return Check(
                False,
                "my_conv2d is not written yet: build the columns with conv.im2col, "
                "multiply by the filters reshaped to (F, C*KH*KW), then reshape to "
                "(N, F, H', W')",
            )
        except Exception as exc:  # the reader's code: report, do not crash the notebook
            return Check(
                False,
                f"x {x.shape}, w {w.shape}, stride {s}, padding {p} "
                f"raised {type(exc).__name__}: {exc}",
            )
        if out.shape != expected.shape:
            return Check(
                False,
                f"x {x.shape}, w {w.shape}, stride {s}, padding {p}: "
                f"expected shape {expected.shape}, got {out.shape}",
            )
        try:
            close = np.allclose(out.astype(float), expected, rtol=1e-4, atol=1e-4)
        except (TypeError, ValueError):
            return Check(
                False, f"the result must be an array of numbers, got {out.dtype}"
            )
        if not close:
            return Check(
                False,
                f"x {x.shape}, w {w.shape}, stride {s}, padding {p}: "
                f"values differ from conv2d_naive",
            )
        if out.dtype != np.float32:
            return Check(False, f"float32 input came back as {out.dtype}")
    return Check(
        True, f"matches conv2d_naive on {len(cases)} shapes, strides and paddings"
    )


# --------------------------------------------------------------------- exercise 4

#: The layer of exercise 4: a 2x upsampling of one 4 x 4 channel by a transposed
#: convolution with a 3 x 3 kernel.
EXERCISE4 = {
    "input_hw": (4, 4),
    "kernel": (3, 3),
    "stride": 2,
    "padding": 1,
    "output_padding": 1,
}


def upsampling_counts():
    """Output of `EXERCISE4` on an image of ones with a kernel of ones: each output
    pixel holds the number of input pixels whose stamp covers it."""
    e = EXERCISE4
    ones_x, ones_w = np.ones((1, 1, *e["input_hw"])), np.ones((1, 1, *e["kernel"]))
    out = conv.conv_transpose2d(
        ones_x, ones_w, None, e["stride"], e["padding"], e["output_padding"]
    )
    return out[0, 0].astype(int)  # (H_out, W_out)


def check_upsampling(shape, counts):
    """Exercise 4: the output size of `EXERCISE4`, and how many output pixels receive
    1, 2 and 4 stamps of the kernel.

    Parameters
    ----------
    shape : tuple of int
        ``(H_out, W_out)``.
    counts : dict
        ``{stamps: number of output pixels}``, e.g. ``{1: ..., 2: ..., 4: ...}``.
    """
    true = upsampling_counts()
    values, numbers = np.unique(true, return_counts=True)
    expected = {int(v): int(n) for v, n in zip(values, numbers, strict=True)}
    try:
        shape = tuple(int(n) for n in shape)
        given = {int(k): int(v) for k, v in dict(counts).items()}
    except (TypeError, ValueError, OverflowError):
        return Check(
            False,
            "give the shape as (H_out, W_out) and the counts as a dict "
            "{stamps: number of pixels}",
        )
    if shape != true.shape:
        return Check(
            False,
            f"shape {shape} is not right: H_out = (H - 1) * stride - 2 * padding + "
            f"KH + output_padding",
        )
    given = {k: v for k, v in given.items() if v}  # {3: 0} says nothing wrong
    if given != expected:
        return Check(
            False,
            f"shape {true.shape} is right, the counts {given} are not: count along "
            f"one axis first (which output rows do two stamps reach?), then multiply",
        )
    return Check(
        True,
        f"{true.shape[0]} x {true.shape[1]} output, stamps per pixel "
        + ", ".join(f"{k}: {v} pixels" for k, v in expected.items())
        + f"; along each axis the count alternates, because the kernel width "
        f"{EXERCISE4['kernel'][1]} is not a multiple of the stride "
        f"{EXERCISE4['stride']}",
    )
