"""Input validation shared by the public kernels.

Every message names the shape that was received and the shape that was expected, so a
reader who passes a (D, N) batch instead of (N, D) sees both at once. Scalar settings
(sizes, step counts, learning rates, generators, dtypes) are checked the same way: the
message names the value received and the kind of value expected.
"""

import math
import numbers
import operator

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
    """Raise ValueError unless `arr` has `ndim` dimensions; `layout` reads like
    '(N, D)'."""
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


# ------------------------------------------------------------------ additions (scalars)


def as_array(a, name):
    """``np.asarray(a)``, but a ragged nested sequence gets a ValueError naming `name`.

    ``np.asarray([[1, 2], [3]])`` raises NumPy's own "inhomogeneous shape" error, which
    does not say which argument was ragged; this names it.
    """
    try:
        return np.asarray(a)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"{name} must be a rectangular array, got a ragged or malformed "
            f"{type(a).__name__} ({exc})"
        ) from None


def as_real_array(a, name):
    """`as_float_array` after `as_array`: real numbers in, a floating ndarray out."""
    return as_float_array(as_array(a, name), name)


def check_int(value, name, minimum=None, maximum=None):
    """`value` as a Python int; ValueError unless it is an integer in the given range.

    Integers are what ``operator.index`` accepts (Python and NumPy integers); a float
    such as 2.0 or 2.5, a string, and a bool (``True`` is not a size) are refused rather
    than truncated. ValueError throughout, as `lalib.conv` does for strides.
    """
    if minimum is not None and maximum is not None:
        expected = f"an integer in {minimum}..{maximum}"
    elif minimum == 1:
        expected = "positive, an integer >= 1"
    elif minimum == 0:
        expected = "a non-negative integer"
    elif minimum is not None:
        expected = f"an integer >= {minimum}"
    else:
        expected = "an integer"
    try:
        if isinstance(value, (bool, np.bool_)):
            raise TypeError
        result = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be {expected}, got {value!r}") from None
    too_small = minimum is not None and result < minimum
    if too_small or (maximum is not None and result > maximum):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return result


def check_number(value, name):
    """`value` as a Python float; ValueError unless it is one real number.

    Python and NumPy integers and floats (and 0-d real arrays) pass; a bool, a string,
    a complex number or an array of several numbers do not. NaN and inf pass: callers
    that need a finite value say so (see `check_positive_finite`).
    """
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        try:
            return float(value)
        except OverflowError:  # an int beyond the float range (copysign would overflow)
            return math.inf if value > 0 else -math.inf
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        return float(value)  # a 0-d real array, e.g. the result of np.asarray(0.1)
    raise ValueError(f"{name} must be a real number, got {value!r}")


def check_positive_finite(value, name):
    """`value` as a Python float; ValueError unless it is a finite number > 0."""
    result = check_number(value, name)
    if not (math.isfinite(result) and result > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return result


def check_rng(rng, name="rng"):
    """Return `rng`; TypeError unless it is a ``numpy.random.Generator``.

    An int seed or the legacy ``np.random`` module are refused with a message naming
    them, instead of an AttributeError from deep inside the caller.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{name} must be a numpy.random.Generator such as "
            f"np.random.default_rng(0), got {type(rng).__name__} {rng!r}"
        )
    return rng


def check_float_dtype(dtype, name, allowed=(np.float32, np.float64)):
    """`dtype` as a ``numpy.dtype``; ValueError unless it is one of `allowed`.

    ``allowed=None`` accepts any floating dtype. Integer dtypes are refused: weights
    of ``0.01 * normal`` cast to int64 would all be 0.
    """
    try:
        dt = np.dtype(dtype)  # None means float64, as everywhere in NumPy
    except (TypeError, ValueError):
        dt = None
    if allowed is None:
        ok = dt is not None and np.issubdtype(dt, np.floating)
        expected = "a floating dtype"
    else:
        allowed = tuple(np.dtype(a) for a in allowed)
        # `is not None` first: np.dtype(...) == None is True (None converts to float64)
        ok = dt is not None and any(dt == a for a in allowed)
        expected = " or ".join(str(a) for a in allowed)
    if not ok:
        raise ValueError(f"{name} must be {expected}, got {dtype!r}")
    return dt
