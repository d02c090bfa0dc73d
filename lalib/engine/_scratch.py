"""Scratch buffers the engine's kernels keep between calls, one set per thread.

Fresh memory is not free: the first write to every page of a new allocation costs a
page fault, and on the machine the benchmarks ran on that made a freshly allocated
block of im2col columns cost more than the copy into it. So a kernel asks `workspace`
for a flat buffer by name; each thread keeps one buffer per name and dtype in the
kernel's own `threading.local` store, grown when a larger one is needed, up to a size
limit of the kernel's choosing.
"""

import math

import numpy as np


def take(buf, shape):
    """The first ``prod(shape)`` entries of the flat buffer `buf`, C-contiguous."""
    return buf[: math.prod(shape)].reshape(shape)


def workspace(store, name, size, dtype, keep_bytes):
    """A flat array of at least `size` entries of `dtype`, kept in `store` (a
    `threading.local`) under `name` if it takes at most `keep_bytes`, allocated for the
    call otherwise. Callers must not return views of it."""
    dtype = np.dtype(dtype)
    if size * dtype.itemsize > keep_bytes:
        return np.empty(size, dtype=dtype)  # too big to keep around
    bufs = store.__dict__.setdefault("bufs", {})
    key = (name, dtype)
    if key not in bufs or bufs[key].size < size:
        bufs[key] = np.empty(size, dtype=dtype)
    return bufs[key]
