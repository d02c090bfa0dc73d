"""Peak memory of one call, for the tests that check a kernel allocates no more than
its result needs (tracemalloc counts NumPy's array buffers)."""

import tracemalloc


def traced_peak(call):
    """The peak of traced memory while `call()` runs, in bytes, and its result."""
    tracemalloc.start()
    try:
        result = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, result
