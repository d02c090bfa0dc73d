"""Checkers for the exercises of the chapter "The transformer block".

Each checker takes the reader's answer and returns a `Check` (truthy when right, a
one-line verdict when shown). The right answers are computed here with
`lalib.transformer`, never typed in.
"""

import numpy as np

from lalib import transformer
from lalib.exercises import Check, reader_number

# --------------------------------------------------------------------- exercise 1

#: Exercise 1: the width d of the rows, and the number of random rows normalised.
EXERCISE1 = {"d": 16, "n_rows": 100}


def exercise1_answers():
    """The rank of P (d x d) and of a (n_rows, d) batch of LayerNorm outputs."""
    d, n = EXERCISE1["d"], EXERCISE1["n_rows"]
    P = transformer.centering_matrix(d)
    rows = np.random.default_rng(11).standard_normal((n, d)) * 3 + 5  # (n, d)
    normed = transformer.layer_norm(rows, np.ones(d), np.zeros(d))  # (n, d)
    return int(np.linalg.matrix_rank(P)), int(np.linalg.matrix_rank(normed))


def check_ranks(rank_P, rank_normalised):
    """Exercise 1: the rank of ``P = I - 1 1^T / d`` and of a batch of normalised rows.

    Parameters
    ----------
    rank_P : int
        The rank of the centring matrix for ``d = EXERCISE1["d"]``.
    rank_normalised : int
        The rank of ``EXERCISE1["n_rows"]`` random rows of width d after LayerNorm with
        ``gamma = 1`` and ``beta = 0``.
    """
    right_P, right_normed = exercise1_answers()
    d, n = EXERCISE1["d"], EXERCISE1["n_rows"]
    got_P, got_normed = reader_number(rank_P), reader_number(rank_normalised)
    if got_P is None or got_normed is None:
        return Check(False, "give each rank as one whole number")
    if got_P == d:
        return Check(
            False,
            "P is not invertible: P 1 = 0, so the all-ones vector is in its null "
            f"space and the rank is below {d}",
        )
    if got_P != right_P:
        return Check(
            False, "P projects onto the hyperplane of vectors whose entries sum to 0"
        )
    if got_normed in (d, n, min(n, d)):
        return Check(
            False,
            f"every normalised row is P x scaled, so all {n} rows lie in the range "
            "of P",
        )
    if got_normed != right_normed:
        return Check(False, "the rows are generic points of the range of P")
    return Check(
        True,
        f"rank P = {right_P} and the {n} normalised rows have rank {right_normed}: "
        f"centring removes one dimension, the direction 1",
    )


# --------------------------------------------------------------------- exercise 2

#: Exercise 2: the (d, n_heads, d_ff) triples the parameter count is checked on.
EXERCISE2 = [(4, 2, 8), (16, 4, 64), (6, 3, 10), (64, 8, 256), (512, 8, 2048)]


def _count(d, n_heads, d_ff):
    """Parameters of a block, counted from the shapes `init_block_params` makes."""
    sizes = {"d": d, "h*d_k": d, "h*d_v": d, "d_ff": d_ff}
    return sum(
        int(np.prod([sizes[s] for s in names]))
        for names in transformer.PARAM_LAYOUT.values()
    )


def block_parameter_count(d, n_heads, d_ff):
    """The number of parameters of `init_block_params(d, n_heads, d_ff, ...)`."""
    params = transformer.init_block_params(
        d, n_heads, d_ff, np.random.default_rng(0), np.float32
    )
    return sum(p.size for p in params.values())


def check_parameter_count(fn):
    """Exercise 2: ``fn(d, n_heads, d_ff)`` counts the parameters of one block.

    The block is the one of `lalib.transformer.init_block_params`: four d x d attention
    matrices, the feed-forward layer's two weight matrices and two biases, and the
    scale and shift of two LayerNorms.
    """
    for d, h, d_ff in EXERCISE2:
        try:
            got = reader_number(fn(d, h, d_ff))
        except Exception as exc:  # the reader's code: report, do not crash the checker
            return Check(
                False, f"fn({d}, {h}, {d_ff}) raised {type(exc).__name__}: {exc}"
            )
        right = block_parameter_count(d, h, d_ff) if d <= 64 else _count(d, h, d_ff)
        if got == right:
            continue
        if got is None:
            return Check(False, f"fn({d}, {h}, {d_ff}) must return one number")
        attn, ffn, norms = 4 * d * d, 2 * d * d_ff + d_ff + d, 4 * d
        hints = [
            (right - norms, "two LayerNorms have a scale and a shift each: 4 d"),
            (right - d_ff - d, "the feed-forward layer has two biases, d_ff and d"),
            (
                right - 3 * d * d,
                "attention has four d x d matrices: W_q, W_k, W_v, W_o",
            ),
            (
                h * attn + ffn + norms,
                "the heads split d: together they still use d x d",
            ),
            (attn + ffn, "the two LayerNorms have parameters too (gamma and beta)"),
        ]
        for wrong, hint in hints:
            if got == wrong:
                return Check(False, f"for d={d}, d_ff={d_ff}: {hint}")
        return Check(False, f"for d={d}, n_heads={h}, d_ff={d_ff}: got {got:g}")
    d, h, d_ff = EXERCISE2[-1]
    share = 2 * d * d_ff / _count(d, h, d_ff)
    return Check(
        True,
        f"{_count(d, h, d_ff):,} parameters for d={d}, d_ff={d_ff}; the feed-forward "
        f"weights are {share:.0%} of them",
    )


# --------------------------------------------------------------------- exercise 3


def check_layer_norm_dx(fn):
    """Exercise 3: ``fn(dout, x, gamma, eps)`` returns dL/dx of LayerNorm, (N, d).

    The forward pass is ``gamma * (x - mean) / sqrt(var + eps) + beta`` over each row;
    `dout` is dL/d(out), of the shape of `x`.
    """
    rng = np.random.default_rng(13)
    for n, d, eps in [(3, 4, 1e-5), (1, 6, 1e-3), (5, 2, 1e-5), (4, 8, 0.5)]:
        x = rng.standard_normal((n, d)) * 2 + 1
        gamma, beta = rng.standard_normal(d) + 1, rng.standard_normal(d)
        dout = rng.standard_normal((n, d))
        _, cache = transformer.layer_norm_forward(x, gamma, beta, eps)
        right = transformer.layer_norm_backward(dout, cache)[0]
        try:
            with np.errstate(all="ignore"):
                got = np.asarray(fn(dout.copy(), x.copy(), gamma.copy(), eps), float)
        except Exception as exc:  # the reader's code: report, do not crash the checker
            return Check(False, f"fn raised {type(exc).__name__}: {exc}")
        if got.shape != right.shape:
            return Check(
                False, f"dx has the shape of x, {right.shape}; got {got.shape}"
            )
        if np.allclose(got, right, rtol=1e-6, atol=1e-9):
            continue
        xhat, rstd, _ = cache
        if np.allclose(got, dout * gamma * rstd):
            return Check(
                False,
                "that treats the mean and the variance as constants; they depend on x",
            )
        if not np.allclose(got.sum(axis=1), 0, atol=1e-8):
            return Check(
                False,
                "each row of dx must sum to 0: adding c 1 to x does not change the "
                "output, so dx is orthogonal to 1 (project with P)",
            )
        return Check(
            False,
            "remove the component along xhat as well: scaling the centred row does "
            "not change xhat either",
        )
    return Check(
        True, "dx = rstd (g - mean(g) - xhat mean(g xhat)) with g = dout gamma"
    )
