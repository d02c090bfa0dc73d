"""Checkers for the exercises of the chapter "Attention".

Each checker takes the reader's answer and returns a `Check` (truthy when right, a
one-line verdict when shown). The right answers are computed here with
`lalib.attention`, never typed in.
"""

import numpy as np

from lalib import activations, attention
from lalib.exercises import Check

# --------------------------------------------------------------------- exercise 1

#: Exercise 1: one query against three keys (d_k = 2), values are 1-D.
EXERCISE1 = {
    "q": np.array([[1.0, 1.0]]),  # (1, d_k)
    "K": np.array([[2.0, 0.0], [0.0, 0.0], [1.0, 1.0]]),  # (3, d_k)
    "V": np.array([[10.0], [20.0], [40.0]]),  # (3, 1)
}


def check_weights_by_hand(weights, output):
    """Exercise 1: the attention weights of `EXERCISE1`'s query and its output.

    Parameters
    ----------
    weights : sequence of 3 floats
        The query's weight on each key (two decimals are enough).
    output : float
        The attention output, the weighted sum of the values.
    """
    out, w = attention.scaled_dot_product_attention(
        EXERCISE1["q"], EXERCISE1["K"], EXERCISE1["V"]
    )  # (1, 1), (1, 3)
    try:
        weights = np.asarray(weights, dtype=float).reshape(-1)  # (3,)
        output = np.asarray(output, dtype=float).reshape(-1)  # (1,)
    except (TypeError, ValueError):
        return Check(False, "give the weights as 3 numbers and the output as 1 number")
    if weights.shape != (3,):
        return Check(False, f"give one weight per key (3 numbers), got {weights.size}")
    if output.shape != (1,):
        return Check(
            False, f"the values are 1-D, so the output is 1 number, got {output.size}"
        )
    output = output[0]
    if not np.all(np.isfinite(weights)) or not np.isfinite(output):
        return Check(False, "the weights and the output are finite numbers")
    if abs(weights.sum() - 1) > 0.02:
        return Check(
            False, f"your weights sum to {weights.sum():.3f}; softmax weights sum to 1"
        )
    if not np.allclose(weights, w[0], atol=0.006):
        unscaled = activations.softmax(EXERCISE1["q"] @ EXERCISE1["K"].T)[0]
        if np.allclose(weights, unscaled, atol=0.006):
            return Check(False, "those are the weights without the 1/sqrt(d_k) scaling")
        return Check(
            False, "scores are q.k / sqrt(2); then exponentiate and divide by the sum"
        )
    if abs(output - out[0, 0]) > 0.06:
        return Check(False, "the weights are right, the output is not: sum_j w_j v_j")
    return Check(True, f"weights {np.round(w[0], 3)}, output {out[0, 0]:.3f}")


# --------------------------------------------------------------------- exercise 2


def check_padding_mask(fn):
    """Exercise 2: ``fn(lengths, n)`` builds the key-padding mask of a padded batch.

    Sequence b of the batch has ``lengths[b]`` real tokens followed by padding up to
    length n. The mask must have shape (N, 1, n), True where key j is a real token
    (``j < lengths[b]``), so that it broadcasts over the n query rows of
    `scaled_dot_product_attention` with Q (N, n, d_k).
    """
    rng = np.random.default_rng(5)
    for lengths, n in [([3, 1, 4], 4), ([0, 2], 3), ([5], 5), ([2, 2, 6, 1], 7)]:
        lengths = np.array(lengths)
        try:
            mask = np.asarray(fn(lengths, n))
        except Exception as exc:  # the reader's code: report, do not crash the checker
            return Check(
                False, f"fn({lengths.tolist()}, {n}) raised {type(exc).__name__}: {exc}"
            )
        expected = np.arange(n)[None, None, :] < lengths[:, None, None]  # (N, 1, n)
        if mask.shape != expected.shape:
            return Check(
                False,
                f"for lengths {lengths.tolist()}, n={n} the mask must have shape "
                f"(N, 1, n) = {expected.shape}, got {mask.shape}",
            )
        if mask.dtype != np.bool_:
            return Check(False, f"the mask must be boolean, got dtype {mask.dtype}")
        if not np.array_equal(mask, expected):
            return Check(
                False,
                f"wrong entries for lengths {lengths.tolist()}, n={n}: "
                "key j of sequence b is real when j < lengths[b]",
            )
        Q, K, V = (rng.standard_normal((len(lengths), n, 3)) for _ in range(3))
        _, w = attention.scaled_dot_product_attention(Q, K, V, mask=mask)
        if np.any(
            w[~np.broadcast_to(expected, w.shape)] != 0
        ):  # pragma: no cover (mask checked above)
            return Check(False, "padded keys still get weight")
    return Check(
        True,
        "padded keys get weight exactly 0, and a sequence of length 0 "
        "attends to nothing (output zeros)",
    )


# --------------------------------------------------------------------- exercise 3


def _partials(S, V):
    """(m, l, A) of one key block: row max, row sum of exp(S - m), exp(S - m) V."""
    m = S.max(axis=-1, keepdims=True)  # (n_q, 1)
    E = np.exp(S - m)  # (n_q, n_k_block)
    return m, E.sum(axis=-1, keepdims=True), E @ V  # (n_q, 1), (n_q, 1), (n_q, d_v)


def check_merge(fn):
    """Exercise 3: ``fn(m1, l1, A1, m2, l2, A2) -> (m, l, A)`` merges two key blocks.

    For key block b with scores ``S_b`` (n_q, n_b) and values ``V_b``:
    ``m_b = rowmax(S_b)`` (n_q, 1), ``l_b = rowsum(exp(S_b - m_b))`` (n_q, 1) and
    ``A_b = exp(S_b - m_b) V_b`` (n_q, d_v). The merge must return the same three
    quantities for both blocks together, so that ``A / l`` is the attention output.
    """
    rng = np.random.default_rng(7)
    for n_q, n1, n2, d_v, spread in [
        (3, 2, 4, 2, 1.0),
        (5, 1, 1, 3, 10.0),
        (4, 6, 3, 1, 100.0),
    ]:
        S1, S2 = (
            rng.standard_normal((n_q, n1)) * spread,
            rng.standard_normal((n_q, n2)) * spread,
        )
        S2[0] += 5 * spread  # block 2 holds the maximum of row 0 ...
        S1[1] += 5 * spread  # ... and block 1 that of row 1
        V1, V2 = rng.standard_normal((n1, d_v)), rng.standard_normal((n2, d_v))
        try:
            result = fn(*_partials(S1, V1), *_partials(S2, V2))
        except Exception as exc:  # the reader's code: report, do not crash the checker
            return Check(False, f"fn raised {type(exc).__name__}: {exc}")
        try:
            m, l, A = (np.asarray(a, dtype=float) for a in result)
        except (TypeError, ValueError):
            return Check(False, "return three arrays of numbers: (m, l, A)")
        m_true, l_true, A_true = _partials(
            np.concatenate([S1, S2], 1), np.concatenate([V1, V2], 0)
        )
        if (
            m.shape != m_true.shape
            or l.shape != l_true.shape
            or A.shape != A_true.shape
        ):
            return Check(
                False,
                f"shapes must be m {m_true.shape}, l {l_true.shape}, A {A_true.shape}; "
                f"got {m.shape}, {l.shape}, {A.shape}",
            )
        if not np.allclose(m, m_true):
            return Check(False, "m is the maximum over both blocks: np.maximum(m1, m2)")
        if not (np.all(np.isfinite(l)) and np.all(np.isfinite(A))):
            return Check(
                False, "inf or NaN: rescale by exp(m_b - m) <= 1, never by exp(m - m_b)"
            )
        if not np.allclose(l, l_true) or not np.allclose(A, A_true):
            if np.allclose(A / l, A_true / l_true):
                return Check(
                    False,
                    "A / l is right, but l and A must be relative to the new "
                    "maximum m, so that a third block can still be merged",
                )
            return Check(
                False,
                "rescale each block by the diagonal matrix diag(exp(m_b - m)) "
                "before adding",
            )
        dense, _ = attention.scaled_dot_product_attention(
            np.eye(n_q),
            np.concatenate([S1, S2], 1).T,
            np.concatenate([V1, V2], 0),
            scale=1.0,
        )
        if not np.allclose(
            A / l, dense
        ):  # pragma: no cover (follows from the checks above)
            return Check(False, "A / l differs from dense attention")
    return Check(
        True, "A / l equals dense attention, even when the maximum moves between blocks"
    )
