"""Checkers for the exercises of the chapter "Gradient computation".

Each checker takes the reader's answer and returns a `Check`: it is truthy when the
answer is right, and shows a one-line verdict in a notebook. The right answers are
computed here with lalib (`lalib.linear`, `lalib.losses`, `lalib.mlp` and, where no
formula is assumed, the finite differences of `lalib.gradcheck`), never typed in.
"""

import numpy as np

from lalib import gradcheck, linear, losses, mlp
from lalib.activations import softmax
from lalib.exercises import Check, reader_array


def _call(fn, *args):
    """``fn(*args)``, or the `Check` that reports its exception (warnings silenced)."""
    try:
        with np.errstate(all="ignore"):
            return fn(*(a.copy() for a in args)), None
    except Exception as exc:  # the reader's code: report, do not crash the notebook
        return None, Check(False, f"raised {type(exc).__name__}: {exc}")


# --------------------------------------------------------------------- exercise 1

#: Exercise 1: one example through y = W x + b, W of shape (M, D) = (2, 3), and the
#: squared error against the target t.
EXERCISE1 = {
    "W": np.array([[1.0, 2.0, 0.0], [0.0, 1.0, -1.0]]),  # (M, D)
    "b": np.array([0.0, 1.0]),  # (M,)
    "x": np.array([1.0, 2.0, 3.0]),  # (D,)
    "t": np.array([1.0, 2.0]),  # (M,)
}


def exercise1_gradient():
    """dL/dW (M, D) of `EXERCISE1`, by lalib's row-convention layer, transposed."""
    W, b, x, t = (EXERCISE1[k] for k in ("W", "b", "x", "t"))
    Y, cache = linear.linear_forward(x[None, :], W.T, b)  # (1, D) @ (D, M) -> (1, M)
    _, dY = losses.squared_error(Y, t[None, :])  # (1, M)
    dW_stored = linear.linear_backward(dY, cache)[1]  # (D, M), the stored array's
    return dW_stored.T  # (M, D)


def check_outer_product_gradient(dL_dW):
    """Exercise 1: dL/dW for ``L = 1/2 ||W x + b - t||^2`` at `EXERCISE1`.

    Parameters
    ----------
    dL_dW : array_like, shape (M, D) = (2, 3)
        In the column form: entry ``[j, i]`` is dL/dW_ji.
    """
    expected = exercise1_gradient()
    got = reader_array(dL_dW)
    if got is None:
        return Check(False, "give dL/dW as a 2 x 3 array of numbers")
    W, b, x, t = (EXERCISE1[k] for k in ("W", "b", "x", "t"))
    y = W @ x + b  # (M,)
    if got.shape == expected.shape[::-1] and np.allclose(got.T, expected):
        return Check(
            False,
            "that is outer(x, y - t), the gradient of the stored (D, M) array; W "
            "in y = Wx + b is (M, D), so dL/dW = outer(y - t, x)",
        )
    if got.shape != expected.shape:
        return Check(
            False, f"W is (M, D) = {expected.shape}, so is dL/dW; got {got.shape}"
        )
    if np.allclose(got, expected):
        return Check(
            True,
            f"dL/dW = outer(y - t, x) with y - t = {y - t}: every row is a multiple "
            "of x (rank one)",
        )
    if np.allclose(got, 2 * expected):
        hint = "twice too large: the 1/2 in L cancels the 2 from the square"
    elif np.allclose(got, -expected):
        hint = "wrong sign: dL/dy = y - t, not t - y"
    elif np.allclose(got, np.outer(y, x)):
        hint = "the chain rule's first factor is dL/dy = y - t, not y"
    elif np.allclose(got, np.outer(W @ x - t, x)):
        hint = "y = W x + b includes the bias"
    else:
        hint = "dL/dW_ji = (dL/dy_j)(dy_j/dW_ji) = (y_j - t_j) x_i"
    return Check(False, hint)


# --------------------------------------------------------------------- exercise 2


def _softmax_ce_cases():
    """(scores, labels) pairs: a batch, one row, and scores in the thousands."""
    rng = np.random.default_rng(7)
    cases = []
    for N, K, scale in [(4, 5, 1.0), (1, 3, 1.0), (3, 6, 1000.0)]:
        scores = scale * rng.standard_normal((N, K))
        labels = rng.integers(0, K, size=N)
        cases.append((scores, labels))
    return cases


def check_softmax_ce_gradient(my_grad):
    """Exercise 2: ``my_grad(scores, labels)`` returns dL/dscores.

    ``L`` is the mean over the N rows of ``-log softmax(scores[n])[labels[n]]``; the
    answer is compared with `lalib.losses.softmax_cross_entropy`.

    Parameters
    ----------
    my_grad : callable
        Takes scores (N, K) and integer labels (N,); returns an (N, K) array.
    """
    for scores, labels in _softmax_ce_cases():
        N, K = scores.shape
        expected = losses.softmax_cross_entropy(scores, labels)[1]  # (N, K)
        case = f"scores of shape {scores.shape}"
        got, error = _call(my_grad, scores, labels)
        if error is not None:
            return Check(False, f"{case}: {error.message}")
        got = reader_array(got)
        if got is None or got.shape != expected.shape:
            shape = None if got is None else got.shape
            return Check(False, f"{case}: the gradient must be (N, K), got {shape}")
        if np.allclose(got, expected):
            continue
        p = softmax(scores, axis=1)  # (N, K)
        onehot = np.eye(K)[labels]  # (N, K)
        if not np.all(np.isfinite(got)):
            hint = (
                "inf or NaN: exp overflows for scores in the thousands; subtract each "
                "row's maximum before exp (softmax does not change)"
            )
        elif N > 1 and np.allclose(got, N * expected):
            hint = "L is the mean over the N rows: divide by N"
        elif np.allclose(got, -expected):
            hint = "wrong sign: p - onehot, not onehot - p"
        elif np.allclose(got, p / N):
            hint = "that is p / N: subtract 1 at each row's true class"
        elif N > 1 and np.allclose(got, (softmax(scores, axis=0) - onehot) / N):
            hint = "softmax runs along each row (axis=1), over the K classes"
        else:
            hint = "dL/ds[n, k] = (p[n, k] - (1 if k == labels[n] else 0)) / N"
        return Check(False, f"{case}: {hint}")
    return Check(
        True,
        "(p - onehot) / N on every batch, scores in the thousands included; each row "
        "sums to zero",
    )


# --------------------------------------------------------------------- exercise 3

#: Exercise 3: (N, D, H, K) of the two-layer networks the checker tries.
EXERCISE3_SIZES = [(5, 4, 6, 3), (8, 3, 3, 4)]


def _two_layer_cases():
    rng = np.random.default_rng(8)
    for N, D, H, K in EXERCISE3_SIZES:
        x = rng.standard_normal((N, D))
        W1, b1 = rng.standard_normal((D, H)), 0.5 * rng.standard_normal(H)
        W2, b2 = rng.standard_normal((H, K)), 0.5 * rng.standard_normal(K)
        labels = rng.integers(0, K, size=N)
        yield x, W1, b1, W2, b2, labels


def check_two_layer_backward(my_backward):
    """Exercise 3: gradients of a linear -> ReLU -> linear network.

    The loss is ``losses.softmax_cross_entropy(relu(x @ W1 + b1) @ W2 + b2, labels)``;
    the answer is compared with `lalib.mlp.mlp_loss`.

    Parameters
    ----------
    my_backward : callable
        ``my_backward(x, W1, b1, W2, b2, labels)`` returns ``[dW1, db1, dW2, db2]``.
    """
    names = ("dW1", "db1", "dW2", "db2")
    for x, W1, b1, W2, b2, labels in _two_layer_cases():
        params = [W1, b1, W2, b2]
        expected = mlp.mlp_loss(params, x, labels)[1]  # [dW1, db1, dW2, db2]
        case = f"x {x.shape}, W1 {W1.shape}, W2 {W2.shape}"
        got, error = _call(my_backward, x, W1, b1, W2, b2, labels)
        if error is not None:
            return Check(False, f"{case}: {error.message}")
        try:
            got = [reader_array(g) for g in got]
        except TypeError:
            got = []
        if len(got) != 4 or any(g is None for g in got):
            return Check(False, "return four arrays: [dW1, db1, dW2, db2]")
        shapes = [g.shape for g in got]
        if shapes != [e.shape for e in expected]:
            if shapes == [e.shape for e in expected[2:] + expected[:2]]:
                return Check(
                    False,
                    "return them in the order of the parameters: dW1, db1, dW2, db2",
                )
            return Check(
                False,
                f"{case}: shapes {shapes}; each gradient has its parameter's shape",
            )
        # the forward quantities, to name the usual mistakes
        a = x @ W1 + b1  # (N, H)
        h = np.maximum(a, 0)  # (N, H)
        _, dscores = losses.softmax_cross_entropy(h @ W2 + b2, labels)  # (N, K)
        dh_unmasked = dscores @ W2.T  # (N, H)
        mistakes = {  # name -> ([(a usual wrong answer, its hint), ...], formula)
            "dW2": (
                [(a.T @ dscores, "h = relu(a) is its input, not a")],
                "h.T @ dscores",
            ),
            "db2": ([], "dscores summed over the batch"),
            "dW1": (
                [(x.T @ dh_unmasked, "pass dh = dscores @ W2.T through the ReLU")],
                "x.T @ da with da = (dscores @ W2.T) * (a > 0)",
            ),
            "db1": (
                [(dh_unmasked.sum(axis=0), "mask dh with the ReLU before summing")],
                "da summed over the batch, da = (dscores @ W2.T) * (a > 0)",
            ),
        }
        for name in ("dW2", "db2", "dW1", "db1"):  # from the loss down
            i = names.index(name)
            if np.allclose(got[i], expected[i]):
                continue
            known, formula = mistakes[name]
            hint = f"{name} = {formula}"
            for wrong, why in known:
                if np.allclose(got[i], wrong):
                    hint = f"{why}: {hint}"
            return Check(False, f"{case}: {name} is wrong: {hint}")
    return Check(
        True,
        f"all four gradients match mlp_loss on {len(EXERCISE3_SIZES)} networks: "
        "each linear layer's backward is the chapter's, joined by the ReLU mask",
    )


# --------------------------------------------------------------------- exercise 4


def _quadratic_cases():
    rng = np.random.default_rng(9)
    A = rng.standard_normal((4, 4))  # not symmetric
    S = rng.standard_normal((3, 3))
    yield A, rng.standard_normal(4)
    yield S + S.T, rng.standard_normal(3)  # symmetric
    yield rng.standard_normal((5, 5)), rng.standard_normal(5)


def check_quadratic_gradient(my_grad):
    """Exercise 4: ``my_grad(A, x)`` returns the gradient of ``f(x) = x @ A @ x``.

    Compared with central differences (`lalib.gradcheck.numerical_gradient`), so no
    formula is assumed; the matrices are square and mostly not symmetric.

    Parameters
    ----------
    my_grad : callable
        Takes A (n, n) and x (n,); returns an (n,) array.
    """
    for A, x in _quadratic_cases():
        expected = gradcheck.numerical_gradient(lambda v, A=A: v @ A @ v, [x])[0]
        n = x.shape[0]
        symmetric = np.allclose(A, A.T)
        case = f"{n} x {n} {'symmetric' if symmetric else 'non-symmetric'} A"
        got, error = _call(my_grad, A, x)
        if error is not None:
            return Check(False, f"{case}: {error.message}")
        got = reader_array(got)
        if got is None or got.shape != (n,):
            shape = None if got is None else got.shape
            return Check(
                False, f"{case}: the gradient has x's shape ({n},), got {shape}"
            )
        if np.allclose(got, expected, rtol=1e-5, atol=1e-6):
            continue
        if np.allclose(got, 2 * A @ x):
            hint = (
                "2 A x holds for a symmetric A only; x appears on both sides of A, "
                "and each side contributes its own term"
            )
        elif np.allclose(got, A @ x) or np.allclose(got, A.T @ x):
            hint = "x appears twice in x @ A @ x: differentiate each occurrence"
        else:
            hint = "df/dx_k = sum_j A[k, j] x_j + sum_i x_i A[i, k]"
        return Check(False, f"{case}: {hint}")
    return Check(
        True,
        "(A + A.T) @ x, which is 2 A @ x when A is symmetric (as the W.T @ W of a "
        "squared error is)",
    )
