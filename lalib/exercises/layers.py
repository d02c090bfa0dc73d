"""Checkers for the exercises of the chapter "Neural network layers".

Each checker takes the reader's answer and returns a `Check`: it is truthy when the
answer is right, and shows a one-line verdict in a notebook. The right answers are
computed here with `lalib.linear` and `lalib.decomp`, never typed in.

The reader writes matrices as the chapter's mathematics does: a layer is
``y = W x + b`` with W of shape (M, D), one row per neuron. `lalib.linear` stores the
transpose, so every layer below is applied as ``linear.linear(X, W.T, b)``.
"""

import numpy as np

from lalib import decomp, linear
from lalib.exercises import Check


def _as_float_array(value, shape, what):
    """``(array, None)`` if `value` is a finite float array of `shape`, else
    ``(None, reason)``: a reader's answer of the wrong kind gets a verdict, not a crash.
    """
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None, f"{what} must be an array of numbers of shape {shape}"
    if a.shape != shape:
        return None, f"{what} must have shape {shape}, got {a.shape}"
    if not np.all(np.isfinite(a)):
        return None, f"{what} holds a NaN or an infinity"
    return a, None


def _layer(W, b, X):
    """``W x + b`` for every row x of X, with W in the math's (M, D) shape."""
    return linear.linear(X, W.T, b)  # (N, D) @ (D, M) + (M,) -> (N, M)


# --------------------------------------------------------------------- exercise 1

#: Exercise 1: a layer from D = 3 inputs to M = 2 neurons, and one input.
EXERCISE1 = {
    "W": np.array([[2.0, 0.0, -1.0], [1.0, 3.0, 1.0]]),  # (M, D) = (2, 3)
    "x": np.array([1.0, 2.0, 3.0]),  # (D,)
    "b": np.array([0.5, -1.0]),  # (M,)
}


def check_layer_output(y):
    """Exercise 1: the output ``y = W x + b`` of `EXERCISE1`'s layer.

    Parameters
    ----------
    y : array_like, shape (2,)
        One number per neuron.
    """
    W, x, b = EXERCISE1["W"], EXERCISE1["x"], EXERCISE1["b"]
    M = W.shape[0]
    expected = _layer(W, b, x[None, :])[0]  # (1, 3) -> (1, 2), take row 0
    y, problem = _as_float_array(y, (M,), "y")
    if problem:
        if "shape" in problem:
            problem += "; there is one output per neuron, that is per row of W"
        return Check(False, problem)
    if np.allclose(y, expected):
        shown = ", ".join(f"{v:g}" for v in expected)
        return Check(True, f"y = ({shown}): row i of W dotted with x, plus b_i")
    if np.allclose(y, expected - b):
        return Check(False, "that is W x; the layer adds the bias b after it")
    wrong = [i for i in range(M) if not np.isclose(y[i], expected[i])]
    return Check(
        False,
        f"entry {wrong[0]} is not right: it is row {wrong[0]} of W dotted with x, "
        f"plus b[{wrong[0]}]",
    )


# --------------------------------------------------------------------- exercise 2

#: Exercise 2: an affine map of the plane, known only by where it sends three points.
EXERCISE2 = {
    "points": np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]),  # (3, D) as rows
    "images": np.array([[3.0, 1.0], [0.0, 2.0], [2.0, 2.0]]),  # (3, M) as rows
}


def _exercise2_solution():
    """W (2, 2) and b (2,) of the map in `EXERCISE2`.

    ``f(p) = W p + b`` for the three points, written with the points as rows, is
    ``[P 1] [W^T; b^T] = F``: three equations per output coordinate for three
    unknowns, solved by `decomp.lstsq_qr`.
    """
    P, F = EXERCISE2["points"], EXERCISE2["images"]
    A = np.column_stack([P, np.ones(len(P))])  # (3, 3): [P 1]
    Wt_b = decomp.lstsq_qr(A, F)  # (3, 2): W^T over b^T
    return Wt_b[:2].T, Wt_b[2]


def check_affine_from_points(W, b):
    """Exercise 2: the W and b of the affine map that `EXERCISE2` describes.

    Parameters
    ----------
    W : array_like, shape (2, 2)
        In the math's convention: ``f(p) = W p + b`` for a column vector p.
    b : array_like, shape (2,)
    """
    W, problem = _as_float_array(W, (2, 2), "W")
    if problem:
        return Check(False, problem)
    b, problem = _as_float_array(b, (2,), "b")
    if problem:
        return Check(False, problem)
    P, F = EXERCISE2["points"], EXERCISE2["images"]
    if np.allclose(_layer(W, b, P), F):
        return Check(
            True,
            f"f(p) = W p + b with W = {W.tolist()} and b = {b.tolist()} sends "
            "all three points where they must go",
        )
    W_true, b_true = _exercise2_solution()
    if np.allclose(b, b_true) and np.allclose(W, W_true.T):
        return Check(
            False,
            "b is right, W is transposed: W e_1 is the first COLUMN of W, not its row",
        )
    if np.allclose(W, F[:2].T) or np.allclose(W, F[:2]):
        return Check(
            False,
            "f(e_1) = W e_1 + b includes the shift: the columns of W are "
            "f(e_1) - b and f(e_2) - b",
        )
    if np.allclose(W, W_true):
        return Check(
            False,
            "W is right, b is not: f(1, 1) = W e_1 + W e_2 + b, and you know "
            "f(e_1) and f(e_2), so b = f(e_1) + f(e_2) - f(1, 1)",
        )
    return Check(
        False,
        "write f(e_1), f(e_2) and f(e_1 + e_2) with W and b: the three equations "
        "give b first, then the columns of W",
    )


# --------------------------------------------------------------------- exercise 3

#: Exercise 3: the quarter turn, the matrix at the end of the path (1 - t) I + t R.
EXERCISE3 = {"R": np.array([[0.0, -1.0], [1.0, 0.0]])}


def _exercise3_solution():
    """(t, det) at the lowest point of ``det((1 - t) I + t R)`` for t in [0, 1].

    For a 2 x 2 matrix the determinant along the path is a polynomial of degree 2
    in t, so its values at three t determine it; its lowest point is where the
    derivative vanishes (or an end of [0, 1]).
    """
    R = EXERCISE3["R"]
    ts = np.array([0.0, 0.5, 1.0])
    dets = [np.linalg.det((1 - t) * np.eye(2) + t * R) for t in ts]
    p = np.polynomial.Polynomial.fit(ts, dets, 2).convert()
    candidates = [0.0, 1.0] + [
        float(r.real)
        for r in p.deriv().roots()
        if abs(r.imag) < 1e-12 and 0 <= r.real <= 1
    ]
    t_min = min(candidates, key=p)
    return t_min, float(p(t_min))


def check_rotation_path(t, det):
    """Exercise 3: where the path from I to the quarter turn squashes areas most.

    Parameters
    ----------
    t : float
        The t in [0, 1] at which ``det((1 - t) I + t R)`` is smallest.
    det : float
        That smallest determinant (the area factor there).
    """
    try:
        t, det = float(t), float(det)
    except (TypeError, ValueError):
        return Check(False, "give t and det as two numbers")
    if not (np.isfinite(t) and np.isfinite(det)):
        return Check(False, "t and det are finite numbers")
    t_true, det_true = _exercise3_solution()
    t_ok = abs(t - t_true) < 1e-3
    det_ok = abs(det - det_true) < 1e-3
    if t_ok and det_ok:
        return Check(
            True,
            f"the area factor dips to {det_true:.2f} at t = {t_true:.2f} and is "
            "never 0, so the quarter turn is reached without flattening the plane",
        )
    if det <= 0:
        return Check(
            False,
            "the determinant along this path never reaches 0: write it out, it is "
            "a sum of two squares",
        )
    if t_ok:
        return Check(False, f"t = {t:g} is right; evaluate the determinant there")
    return Check(
        False,
        "write det((1 - t) I + t R) as a polynomial in t and find its lowest point "
        "on [0, 1]",
    )


# --------------------------------------------------------------------- exercise 4

#: Exercise 4: two layers, 2 -> 3 -> 2, with no nonlinearity between them.
EXERCISE4 = {
    "W1": np.array([[1.0, 0.0], [2.0, -1.0], [0.0, 1.0]]),  # (3, 2)
    "b1": np.array([1.0, 0.0, -1.0]),  # (3,)
    "W2": np.array([[1.0, 1.0, 0.0], [0.0, 2.0, 1.0]]),  # (2, 3)
    "b2": np.array([0.0, 1.0]),  # (2,)
}


def check_composition(W, b):
    """Exercise 4: the single layer equal to `EXERCISE4`'s layer 2 after layer 1.

    Parameters
    ----------
    W : array_like, shape (2, 2)
    b : array_like, shape (2,)
    """
    W1, b1, W2, b2 = (EXERCISE4[k] for k in ("W1", "b1", "W2", "b2"))
    try:
        shape = np.shape(np.asarray(W, dtype=float))
    except (TypeError, ValueError):
        shape = None
    if shape == (W1.shape[0], W1.shape[0]):
        return Check(
            False,
            f"W has shape {shape}: that is W1 W2, the wrong order. Layer 1 acts "
            "first, so its matrix stands on the right: W2 W1",
        )
    W, problem = _as_float_array(W, (W2.shape[0], W1.shape[1]), "W")
    if problem:
        return Check(False, problem + " (2 inputs, 2 outputs)")
    b, problem = _as_float_array(b, (W2.shape[0],), "b")
    if problem:
        return Check(False, problem)
    # The right answer, computed as the two layers do it: where they send the
    # origin and the basis vectors.
    E = np.vstack([np.zeros(W1.shape[1]), np.eye(W1.shape[1])])  # (3, 2): 0, e1, e2
    images = _layer(W2, b2, _layer(W1, b1, E))  # (3, 2) -> (3, 3) -> (3, 2)
    b_true = images[0]
    W_true = (images[1:] - b_true).T  # column j is the image of e_j, less the shift
    W_ok, b_ok = np.allclose(W, W_true), np.allclose(b, b_true)
    if W_ok and b_ok:
        X = np.random.default_rng(4).standard_normal((50, W1.shape[1]))  # (50, 2)
        if np.allclose(_layer(W, b, X), _layer(W2, b2, _layer(W1, b1, X))):
            return Check(
                True,
                "W = W2 W1 and b = W2 b1 + b2: on 50 random inputs the single layer "
                "and the two layers agree up to rounding",
            )
    if W_ok:
        if np.allclose(b, W2 @ b1):
            return Check(False, "W is right; b is missing the second layer's bias b2")
        if np.allclose(b, b2):
            return Check(
                False, "W is right; b1 passes through layer 2 too: b = W2 b1 + b2"
            )
        return Check(False, "W is right; b is where the two layers send x = 0")
    if np.allclose(W, W_true.T):
        return Check(
            False, "W is transposed: the math's W has one row per output (M x D)"
        )
    return Check(
        False, "substitute layer 1 into layer 2: W2 (W1 x + b1) + b2, then expand"
    )
