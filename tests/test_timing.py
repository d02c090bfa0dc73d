"""lalib.timing: call counts and arithmetic on a fake clock, never real durations."""

import time

import pytest

from lalib import timing


class FakeClock:
    """A clock that returns the given readings in turn and counts the reads."""

    def __init__(self, readings):
        self.readings = list(readings)
        self.reads = 0

    def __call__(self):
        value = self.readings[self.reads]
        self.reads += 1
        return value


class Counter:
    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1


def test_best_time_calls_number_times_repeat_and_reads_the_clock_twice_a_round():
    fn = Counter()
    clock = FakeClock(range(100))
    timing.best_time(fn, number=4, repeat=3, timer=clock)
    assert fn.calls == 12
    assert clock.reads == 6


def test_best_time_is_the_fastest_round_per_call():
    # rounds of 2 calls taking 3 s, 1 s and 2 s: the best is 1 s, 0.5 s per call
    clock = FakeClock([0.0, 3.0, 10.0, 11.0, 20.0, 22.0])
    assert timing.best_time(Counter(), number=2, repeat=3, timer=clock) == 0.5


def test_best_time_defaults_to_one_call_per_round_five_rounds():
    fn = Counter()
    clock = FakeClock([0, 5, 0, 4, 0, 6, 0, 2, 0, 7])
    assert timing.best_time(fn, timer=clock) == 2
    assert fn.calls == 5


def test_best_time_uses_perf_counter_by_default(monkeypatch):
    clock = FakeClock([1.0, 1.25] * 5)
    monkeypatch.setattr(time, "perf_counter", clock)
    assert timing.best_time(Counter()) == 0.25
    assert clock.reads == 10


@pytest.mark.parametrize("number, repeat", [(0, 5), (1, 0), (-1, 1)])
def test_best_time_rejects_empty_rounds(number, repeat):
    fn = Counter()
    with pytest.raises(ValueError, match="at least 1"):
        timing.best_time(fn, number=number, repeat=repeat)
    assert fn.calls == 0


def test_best_time_lets_exceptions_through():
    def boom():
        raise RuntimeError("inside")

    with pytest.raises(RuntimeError, match="inside"):
        timing.best_time(boom, timer=FakeClock(range(10)))


def test_stopwatch_measures_the_block():
    clock = FakeClock([100.0, 103.5])
    with timing.Stopwatch(timer=clock) as watch:
        assert watch.seconds is None  # not known until the block ends
    assert watch.seconds == 3.5
    assert clock.reads == 2


def test_stopwatch_records_a_block_that_raises():
    watch = timing.Stopwatch(timer=FakeClock([0.0, 2.0]))
    with pytest.raises(KeyError), watch:
        raise KeyError("x")
    assert watch.seconds == 2.0


def test_stopwatch_can_be_reused_and_defaults_to_perf_counter(monkeypatch):
    monkeypatch.setattr(time, "perf_counter", FakeClock([0.0, 1.0, 5.0, 5.5]))
    watch = timing.Stopwatch()
    with watch:
        pass
    assert watch.seconds == 1.0
    with watch:
        pass
    assert watch.seconds == 0.5
