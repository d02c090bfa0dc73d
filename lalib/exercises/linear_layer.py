"""Checkers for the exercises of the chapter "A linear layer in NumPy".

Each checker takes the reader's answer and returns a `Check`: it is truthy when the
answer is right, and shows a one-line verdict in a notebook. The right answers are
computed here with `lalib.linear` (a real `LinearLayer`, `linear_forward` and
`linear_backward`), never typed in. The arrays follow lalib's convention: a batch
``x`` of shape (N, D), weights stored as (D, M), ``out = x @ W + b`` of shape (N, M).
"""

import numpy as np

from lalib import linear
from lalib.exercises import Check, reader_array


def _shape_tuple(value):
    """`value` as a tuple of ints (a shape), or None if it is not one."""
    try:
        items = tuple(value)
    except TypeError:
        return None
    if not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items
    ):
        return None
    return tuple(int(v) for v in items)


# --------------------------------------------------------------------- exercise 1

#: Exercise 1: 32 images of 28 x 28 = 784 pixels, 10 classes.
EXERCISE1 = {"N": 32, "D": 784, "M": 10}

#: The arrays of exercise 1, in the order the checker asks about them, and the array
#: whose shape each one has.
SHAPE_NAMES = {
    "out": "x @ W + b",
    "grad_output": "out",
    "grad_weights": "weights",
    "grad_bias": "bias",
    "grad_input": "x",
}


def exercise1_shapes():
    """The true shapes of exercise 1, from a real layer's forward and backward pass."""
    N, D, M = EXERCISE1["N"], EXERCISE1["D"], EXERCISE1["M"]
    rng = np.random.default_rng(0)
    layer = linear.LinearLayer(D, M, rng=rng)
    x = rng.standard_normal((N, D))  # (N, D)
    out = layer.forward(x)  # (N, M)
    grad_output = np.ones_like(out)  # (N, M)
    grad_input, grad_weights, grad_bias = layer.backward(grad_output, x)
    arrays = {
        "out": out,
        "grad_output": grad_output,
        "grad_weights": grad_weights,
        "grad_bias": grad_bias,
        "grad_input": grad_input,
    }
    return {name: a.shape for name, a in arrays.items()}


def check_gradient_shapes(shapes):
    """Exercise 1: the shape of the output and of each gradient for `EXERCISE1`.

    Parameters
    ----------
    shapes : dict of str -> tuple of int
        One shape per key of `SHAPE_NAMES`: ``"out"``, ``"grad_output"``,
        ``"grad_weights"``, ``"grad_bias"``, ``"grad_input"``.
    """
    true = exercise1_shapes()
    N, D, M = EXERCISE1["N"], EXERCISE1["D"], EXERCISE1["M"]
    if not isinstance(shapes, dict):
        return Check(
            False, f"give a dict with the keys {list(SHAPE_NAMES)}, one shape each"
        )
    missing = [name for name in SHAPE_NAMES if name not in shapes]
    if missing:
        return Check(False, f"the dict has no shape for {missing}")
    for name, like in SHAPE_NAMES.items():
        given = _shape_tuple(shapes[name])
        if given is None:
            return Check(
                False, f"{name}: a shape is a tuple of ints, got {shapes[name]!r}"
            )
        if given == true[name]:
            continue
        if name == "grad_weights" and given == true[name][::-1]:
            hint = (
                f"({M}, {D}) is the shape of W in the column form y = Wx + b; the "
                f"array `weights` is stored as (D, M) = {true[name]}, and a gradient "
                "has the shape of its variable"
            )
        elif name == "grad_bias" and given == (N, M):
            hint = (
                "the bias is one vector of M numbers shared by all N examples, so its "
                "gradient is one vector too: g summed over the batch"
            )
        elif name == "grad_input" and given == (N, M):
            hint = "grad_input is the gradient with respect to x: it has x's shape"
        elif name == "out":
            hint = f"x is (N, D) = {(N, D)} and weights is (D, M) = {(D, M)}"
        else:
            hint = f"{name} has the shape of {like}"
        return Check(False, f"{name} is not {given}: {hint}")
    n_weights = int(np.prod(true["grad_weights"]))
    return Check(
        True,
        f"grad_weights {true['grad_weights']} holds {n_weights} numbers, like the "
        "weights, whatever the batch size; only out, grad_output and grad_input "
        "grow with N",
    )


# --------------------------------------------------------------------- exercise 2

#: Exercise 2: the (N, D, M) of the test layers, some with two equal sizes, where a
#: wrong product can have the right shape.
EXERCISE2_SIZES = [(3, 3, 2), (4, 3, 2), (2, 3, 2), (5, 4, 4), (1, 3, 5), (3, 3, 3)]


def _backward_hint(name, got, x, dout, expected):
    """Why `got` (the reader's `name` gradient, of the right shape) is wrong."""
    N, D = x.shape
    if name == "dW":
        if N == D and np.allclose(got, x @ dout):
            return (
                "x @ dout has W's shape here only because N = D; the batch index n "
                "must be summed away: dW[i, j] = sum_n x[n, i] dout[n, j]"
            )
        if got.shape[::-1] == expected.shape and np.allclose(got.T, expected):
            return (
                "this is the transpose, the gradient of the column form's W (M, D); "
                "the stored weights are (D, M)"
            )
        if np.allclose(got, expected / N):
            return "divided by N: the weight gradient is a sum over the batch"
        return "dW[i, j] = sum over n of x[n, i] * dout[n, j]"
    if name == "db":
        if np.allclose(got, dout.mean(axis=0)):
            return "a mean over the batch; the bias gradient is the sum"
        if np.allclose(got, dout[0]):
            return "only the first example: every row of dout adds to db"
        return "the bias is added to every row, so db sums dout over the rows"
    return "dx[n, i] = sum over j of dout[n, j] * W[i, j]"


def check_linear_backward(my_backward):
    """Exercise 2: ``my_backward(dout, x, W)`` returns ``(dx, dW, db)``.

    Compared with `lalib.linear.linear_backward` on the layers of `EXERCISE2_SIZES`.

    Parameters
    ----------
    my_backward : callable
        Takes dout (N, M), x (N, D) and W (D, M); returns dx (N, D), dW (D, M) and
        db (M,).
    """
    rng = np.random.default_rng(4)
    for N, D, M in EXERCISE2_SIZES:
        x = rng.standard_normal((N, D))
        W = rng.standard_normal((D, M))
        dout = rng.standard_normal((N, M))
        _, cache = linear.linear_forward(x, W, np.zeros(M))
        expected = linear.linear_backward(dout, cache)  # dx, dW, db
        case = f"N={N}, D={D}, M={M}"
        try:
            got = my_backward(dout.copy(), x.copy(), W.copy())
        except Exception as exc:  # the reader's code: report, do not crash the notebook
            return Check(False, f"{case}: raised {type(exc).__name__}: {exc}")
        try:
            got = list(got)
        except TypeError:
            got = [got]
        if len(got) != 3:
            return Check(False, f"return three arrays (dx, dW, db), got {len(got)}")
        for name, like, g, e in zip(("dx", "dW", "db"), ("x", "W", "b"), got, expected):
            g = reader_array(g)
            if g is None:
                return Check(False, f"{case}: {name} is not an array of numbers")
            if g.shape != e.shape:
                return Check(
                    False,
                    f"{case}: {name} must have {like}'s shape {e.shape}, got {g.shape}",
                )
            if not np.allclose(g, e):
                return Check(
                    False,
                    f"{case}: {name} is wrong: {_backward_hint(name, g, x, dout, e)}",
                )
    return Check(
        True,
        f"matches linear_backward on {len(EXERCISE2_SIZES)} layers, including those "
        "where N, D and M are not all different",
    )


# --------------------------------------------------------------------- exercise 3


def check_bias_as_weight(augment):
    """Exercise 3: ``augment(x, W, b)`` folds the bias into the weights.

    It must return ``x_aug`` (N, D + 1), `x` with a column of ones appended, and
    ``W_aug`` (D + 1, M), `W` with `b` appended as a last row, so that
    ``x_aug @ W_aug == x @ W + b``.

    Parameters
    ----------
    augment : callable
    """
    rng = np.random.default_rng(5)
    for N, D, M in [(4, 3, 2), (6, 2, 5)]:
        x = rng.standard_normal((N, D))
        W = rng.standard_normal((D, M))
        b = rng.standard_normal(M)
        case = f"N={N}, D={D}, M={M}"
        try:
            result = augment(x.copy(), W.copy(), b.copy())
            x_aug, W_aug = result
        except Exception as exc:  # the reader's code: report, do not crash the notebook
            return Check(False, f"{case}: {type(exc).__name__}: {exc}")
        x_aug, W_aug = reader_array(x_aug), reader_array(W_aug)
        if x_aug is None or W_aug is None:
            return Check(False, "return two arrays, x_aug and W_aug")
        if x_aug.shape != (N, D + 1):
            return Check(
                False,
                f"{case}: x_aug must be (N, D + 1) = {(N, D + 1)}, got {x_aug.shape}",
            )
        if W_aug.shape != (D + 1, M):
            return Check(
                False,
                f"{case}: W_aug must be (D + 1, M) = {(D + 1, M)}, got {W_aug.shape}",
            )
        if not (np.allclose(x_aug[:, :D], x) and np.allclose(x_aug[:, D], 1)):
            return Check(False, f"{case}: x_aug must be x followed by a column of ones")
        if not (np.allclose(W_aug[:D], W) and np.allclose(W_aug[D], b)):
            return Check(False, f"{case}: W_aug must be W followed by the row b")
        out, cache = linear.linear_forward(x, W, b)
        out_aug, cache_aug = linear.linear_forward(x_aug, W_aug, np.zeros(M))
        if not np.allclose(out_aug, out):  # cannot fail once the blocks are right
            return Check(False, f"{case}: x_aug @ W_aug differs from x @ W + b")
        g = rng.standard_normal((N, M))
        db = linear.linear_backward(g, cache)[2]  # (M,)
        dW_aug = linear.linear_backward(g, cache_aug)[1]  # (D + 1, M)
        if not np.allclose(dW_aug[D], db):  # a property of the layer, not of the reader
            return Check(False, "the last row of x_aug.T @ g differs from grad_bias")
    return Check(
        True,
        "x_aug @ W_aug == x @ W + b, and the last row of the weight gradient "
        "x_aug.T @ g is ones @ g = g.sum(axis=0), the bias gradient",
    )


# --------------------------------------------------------------------- exercise 4

#: Exercise 4: the (N, D, M) whose weight-gradient rank the reader gives.
EXERCISE4_SIZES = [(1, 5, 4), (2, 5, 4), (3, 5, 4), (8, 5, 4)]


def exercise4_ranks():
    """The rank of ``grad_weights`` for random x and g at each of `EXERCISE4_SIZES`.

    Random (Gaussian) inputs reach the largest possible rank with probability 1.
    """
    rng = np.random.default_rng(6)
    ranks = {}
    for N, D, M in EXERCISE4_SIZES:
        x = rng.standard_normal((N, D))
        g = rng.standard_normal((N, M))
        _, cache = linear.linear_forward(x, rng.standard_normal((D, M)), np.zeros(M))
        grad_weights = linear.linear_backward(g, cache)[1]  # (D, M)
        ranks[(N, D, M)] = int(np.linalg.matrix_rank(grad_weights))
    return ranks


def check_weight_gradient_rank(ranks):
    """Exercise 4: the largest rank of ``grad_weights`` for each of `EXERCISE4_SIZES`.

    Parameters
    ----------
    ranks : dict of (N, D, M) -> int
    """
    true = exercise4_ranks()
    if not isinstance(ranks, dict):
        return Check(False, f"give a dict with the keys {list(true)}, one rank each")
    missing = [key for key in true if key not in ranks]
    if missing:
        return Check(False, f"the dict has no rank for {missing}")
    for (N, D, M), r in true.items():
        given = ranks[(N, D, M)]
        if isinstance(given, bool) or not isinstance(given, (int, np.integer)):
            return Check(False, f"N={N}: a rank is an int, got {given!r}")
        if int(given) == r:
            continue
        if N == 1:
            hint = (
                "with one example grad_weights = outer(x_1, g_1), a column times a "
                "row: every column is a multiple of x_1"
            )
        elif given > min(D, M):
            hint = f"a ({D}, {M}) matrix has rank at most min(D, M) = {min(D, M)}"
        elif given < r:
            hint = (
                "each example adds one outer product of rank one, and random "
                "examples point in independent directions"
            )
        else:
            hint = "N outer products of rank one add up to rank at most N"
        return Check(False, f"N={N}, D={D}, M={M}: the rank is not {given}: {hint}")
    return Check(
        True,
        "rank min(N, D, M): "
        + ", ".join(f"N={N} gives {r}" for (N, _, _), r in true.items()),
    )
