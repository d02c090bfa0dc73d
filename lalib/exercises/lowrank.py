"""Checkers for the exercises of the chapter "Decompositions of trained weights".

Each checker takes the reader's answer and returns a `Check` (truthy when right, a
one-line verdict when shown). The right answers are computed here with
`lalib.lowrank`, never typed in; a wrong answer gets a hint about the usual slip.
"""

import numpy as np

from lalib import lowrank
from lalib.exercises import Check, reader_number


def _close(a, b, rtol=1e-3):
    return abs(a - b) <= rtol * max(abs(b), 1e-12)


# --------------------------------------------------------------------- exercise 1

#: Exercise 1: the singular values of a 5 x 5 matrix, and the rank to truncate it to.
EXERCISE1 = {"s": np.array([5.0, 3.0, 2.0, 1.0, 0.5]), "r": 2}


def exercise1_errors():
    """The Frobenius and spectral errors of the rank-r truncation of `EXERCISE1`.

    Computed from ``diag(s)``, which has exactly these singular values.
    """
    _, fro, spec = lowrank.eckart_young_errors(np.diag(EXERCISE1["s"]))
    r = EXERCISE1["r"]
    return float(fro[r]), float(spec[r])


def check_truncation_errors(frobenius, spectral):
    """Exercise 1: ``||W - W_r||_F`` and ``||W - W_r||_2`` from the singular values.

    Parameters
    ----------
    frobenius : float
        The Frobenius norm of the error of the best rank-r approximation of a matrix
        whose singular values are ``EXERCISE1["s"]``, ``r = EXERCISE1["r"]``.
    spectral : float
        The spectral norm (the largest singular value) of the same error.
    """
    s, r = EXERCISE1["s"], EXERCISE1["r"]
    right_f, right_2 = exercise1_errors()
    f, two = reader_number(frobenius), reader_number(spectral)
    if f is None or two is None:
        return Check(False, "give two numbers: frobenius and spectral")
    if not _close(f, right_f):
        hints = [
            (right_f**2, "that is the squared error: take the square root"),
            (float(np.sqrt(np.sum(s[r - 1 :] ** 2))), "the tail starts after s_r"),
            (float(np.sum(s[r:])), "add the squares of the left-out values"),
            (float(np.sqrt(np.sum(s[:r] ** 2))), "that is what is kept, not the error"),
        ]
        for value, hint in hints:
            if _close(f, value):
                return Check(False, f"frobenius = {f:.4g}: {hint}")
        return Check(
            False,
            f"frobenius = {f:.4g}: by Eckart–Young it is the root of the sum of the "
            "squared singular values left out",
        )
    if not _close(two, right_2):
        if _close(two, float(s[r - 1])):
            hint = "s_r is kept; the error starts at s_(r+1)"
        elif _close(two, right_f):
            hint = "that is the Frobenius error; the spectral one is a single value"
        else:
            hint = "the spectral error is the largest singular value left out"
        return Check(False, f"frobenius is right; spectral = {two:.4g}: {hint}")
    return Check(
        True,
        f"||W - W_{r}||_F = {right_f:.4f} and ||W - W_{r}||_2 = {right_2:g}: the "
        f"spectral error is s_{r + 1}, the Frobenius error the root of the tail",
    )


# --------------------------------------------------------------------- exercise 2

#: Exercise 2: a D x M weight matrix adapted by a rank-r update.
EXERCISE2 = {"D": 256, "M": 1024, "r": 4}


def exercise2_count():
    """The trainable numbers of the rank-r update A (D, r), B (r, M), from init_lora."""
    D, M, r = (EXERCISE2[k] for k in ("D", "M", "r"))
    A, B = lowrank.init_lora(
        np.zeros((D, M), dtype=np.float32), r, np.random.default_rng(0)
    )
    return A.size + B.size


def check_update_parameters(count):
    """Exercise 2: how many numbers a rank-r update of a D x M matrix trains.

    Parameters
    ----------
    count : int
        The number of entries of A and B for ``EXERCISE2``'s D, M and r.
    """
    D, M, r = (EXERCISE2[k] for k in ("D", "M", "r"))
    right = exercise2_count()
    value = reader_number(count)
    if value is None or value != int(value):
        return Check(False, "give the count as a whole number")
    value = int(value)
    if value == right:
        return Check(
            True,
            f"r (D + M) = {right}, {right / (D * M):.1%} of the D M = {D * M} "
            "entries of W",
        )
    hints = {
        D * M: "that is the size of W itself, which stays frozen",
        D * M + M: "that is W and its bias, which both stay frozen",
        r * D * M: "A is D x r and B is r x M: add their sizes",
        right + M: "the bias stays frozen: count A and B only",
        r * r: "A and B are not r x r: A is D x r, B is r x M",
        r * D: "B is trainable too",
        r * M: "A is trainable too",
    }
    return Check(
        False,
        f"{value}: " + hints.get(value, "count the entries of A (D, r) and B (r, M)"),
    )


# --------------------------------------------------------------------- exercise 3


def exercise3_matrix():
    """Exercise 3: a fixed 40 x 30 matrix, a rank-4 signal plus small noise."""
    rng = np.random.default_rng(11)
    signal = rng.standard_normal((40, 4)) @ rng.standard_normal((4, 30))  # rank 4
    return signal + 0.5 * rng.standard_normal((40, 30))  # (40, 30)


def _energy(W):
    """The fraction of ``||W||_F^2`` kept by the rank-r truncation, r = 1..K."""
    _, fro, _ = lowrank.eckart_young_errors(W)  # (K + 1,)
    return 1 - fro[1:] ** 2 / fro[0] ** 2  # (K,)


def check_energy_rank(k, fraction=0.9):
    """Exercise 3: the smallest rank keeping `fraction` of the energy.

    Parameters
    ----------
    k : int
        The smallest r whose truncated SVD of `exercise3_matrix()` keeps at least
        `fraction` of ``||W||_F^2 = s_1^2 + ... + s_K^2``.
    fraction : float
        0.9 in the chapter.
    """
    W = exercise3_matrix()
    energy = _energy(W)  # (K,)
    right = int(np.argmax(energy >= fraction)) + 1
    value = reader_number(k)
    if value is None or value != int(value):
        return Check(False, "give k as a whole number")
    k = int(value)
    if k == right:
        return Check(
            True,
            f"rank {right} keeps {energy[right - 1]:.1%} of the energy, rank "
            f"{right - 1} only {energy[right - 2]:.1%}",
        )
    s = lowrank.eckart_young_errors(W)[0]
    by_values = np.cumsum(s) / s.sum()  # (K,): singular values, not their squares
    if k == int(np.argmax(by_values >= fraction)) + 1:
        return Check(
            False,
            f"{k} counts the singular values themselves: the energy is the sum of "
            "their squares",
        )
    if k == right - 1:
        return Check(
            False,
            f"rank {k} keeps {energy[k - 1]:.1%}, short of {fraction:.0%}: "
            "np.searchsorted returns an index, the rank is one more",
        )
    if not 1 <= k <= len(energy):
        return Check(False, f"k is a rank of a 40 x 30 matrix: 1 to {len(energy)}")
    return Check(
        False,
        f"rank {k} keeps {energy[k - 1]:.1%} of the energy: "
        + ("not yet enough" if energy[k - 1] < fraction else "more than needed"),
    )
