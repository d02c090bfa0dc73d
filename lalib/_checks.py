"""Input validation shared by the public kernels.

Every message names the shape that was received and the shape that was expected, so a
reader who passes a (D, N) batch instead of (N, D) sees both at once.
"""

import numpy as np


def as_float_array(a, name):
    """Return `a` as a floating ndarray, keeping float32/float64 and promoting the rest.

    Integer and boolean input becomes float64; float16 stays float16 (NumPy's matmul
    handles it); complex input is refused.
    """
    arr = np.asarray(a)
    if np.issubdtype(arr.dtype, np.floating):
        return arr
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_:
        return arr.astype(np.float64)
    raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")


def check_ndim(arr, ndim, name, layout):
    """Raise ValueError unless `arr` has `ndim` dimensions; `layout` reads like '(N, D)'."""
    if arr.ndim != ndim:
        raise ValueError(
            f"{name} must have {ndim} dimensions {layout}, got shape {arr.shape}"
        )


def check_same_shape(a, b, name_a, name_b):
    """Raise ValueError unless `a` and `b` have the same shape."""
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, "
            f"got {name_a} {a.shape} and {name_b} {b.shape}"
        )


def result_dtype(*arrays):
    """The floating dtype a kernel should compute and return in for these inputs."""
    return np.result_type(*arrays)
