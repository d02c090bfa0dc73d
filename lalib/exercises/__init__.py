"""What every chapter's exercise checkers return.

A checker (in ``lalib.exercises_<chapter>``) takes the reader's answer, computes the
right one with lalib (never typed in), and returns a `Check`.
"""


class Check:
    """A verdict: ``bool(check)`` says whether the answer is right, ``repr`` explains."""

    def __init__(self, ok, message):
        self.ok = bool(ok)
        self.message = message

    def __bool__(self):
        return self.ok

    def __repr__(self):
        return ("Correct: " if self.ok else "Not yet: ") + self.message
