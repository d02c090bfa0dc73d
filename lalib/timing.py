"""Wall-clock timing for the chapters: one way to time code, in one place.

`best_time` is the best seconds per call of a function (what ``timeit`` reports);
`Stopwatch` times a ``with`` block that is not a function, such as a training loop.
Both take the clock as an argument, so the tests can give them a fake one.

Timings depend on the machine and on what else it is running: a chapter prints them
only in cells tagged ``nbval-ignore-output``. Benchmarks proper live in
``benchmarks/``. Standard library only.
"""

import time
import timeit

__all__ = [
    "Stopwatch",
    "best_time",
]


def best_time(fn, number=1, repeat=5, timer=None):
    """The best time per call of ``fn()``, in seconds.

    Runs `repeat` rounds of `number` calls each and returns the fastest round divided
    by `number`. The minimum is the time least disturbed by the rest of the machine;
    several calls per round average out the clock's resolution for fast functions. As
    in `timeit`, garbage collection is switched off while a round runs.

    Parameters
    ----------
    fn : callable
        Called with no arguments, ``number * repeat`` times.
    number : int
        Calls per round (at least 1).
    repeat : int
        Rounds (at least 1).
    timer : callable, optional
        A clock in seconds; `time.perf_counter` by default.

    Returns
    -------
    float
        Seconds per call in the fastest round.

    Examples
    --------
    >>> seconds = best_time(lambda: sorted(range(1000)), number=10)

    With a fake clock that advances one second per reading, every round of two calls
    takes one second:

    >>> ticks = iter(range(100))
    >>> best_time(lambda: None, number=2, repeat=3, timer=lambda: next(ticks))
    0.5
    """
    if number < 1 or repeat < 1:
        raise ValueError(
            f"number and repeat must be at least 1, got {number}, {repeat}"
        )
    clock = time.perf_counter if timer is None else timer
    rounds = timeit.Timer(fn, timer=clock).repeat(repeat=repeat, number=number)
    return min(rounds) / number


class Stopwatch:
    """The wall-clock seconds a ``with`` block took.

    Parameters
    ----------
    timer : callable, optional
        A clock in seconds; `time.perf_counter` by default.

    Attributes
    ----------
    seconds : float or None
        Set when the block ends (also when it raises); None until then.

    Examples
    --------
    >>> with Stopwatch() as watch:
    ...     total = sum(range(1000))
    >>> watch.seconds is not None
    True

    With a fake clock:

    >>> readings = iter([10.0, 12.5])
    >>> with Stopwatch(timer=lambda: next(readings)) as watch:
    ...     pass
    >>> watch.seconds
    2.5
    """

    def __init__(self, timer=None):
        self.timer = time.perf_counter if timer is None else timer
        self.seconds = None
        self._start = None

    def __enter__(self):
        self.seconds = None
        self._start = self.timer()
        return self

    def __exit__(self, *exc_info):
        self.seconds = self.timer() - self._start
        return False  # exceptions propagate
