"""What every chapter's exercise checkers return.

A checker (in ``lalib.exercises.<chapter>``) takes the reader's answer, computes the
right one with lalib (never typed in), and returns a `Check`. No kernel module imports
this package.
"""


class Check:
    """A verdict: ``bool(check)`` says if the answer is right, ``repr`` explains."""

    def __init__(self, ok, message):
        self.ok = bool(ok)
        self.message = message

    def __bool__(self):
        return self.ok

    def __repr__(self):
        return ("Correct: " if self.ok else "Not yet: ") + self.message
