"""What every chapter's exercise checkers return.

A checker (in ``lalib.exercises.<chapter>``) takes the reader's answer, computes the
right one with lalib (never typed in), and returns a `Check`. No kernel module imports
this package.
"""

import numbers

import numpy as np


def reader_number(value):
    """The reader's `value` as a finite float, or None if it is not one number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real | np.ndarray):
        return None
    try:
        value = float(np.asarray(value, dtype=float).reshape(()))
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


def reader_array(value):
    """The reader's `value` as a float ndarray, or None if it is not real numbers."""
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None


class Check:
    """A verdict: ``bool(check)`` says if the answer is right, ``repr`` explains."""

    def __init__(self, ok, message):
        self.ok = bool(ok)
        self.message = message

    def __bool__(self):
        return self.ok

    def __repr__(self):
        return ("Correct: " if self.ok else "Not yet: ") + self.message
