"""Small real data sets that ship inside installed packages: nothing is downloaded.

The loaders import their source package when called, so ``import lalib`` still needs
NumPy alone; the book's environment (requirements.txt) has both packages.
"""

import numpy as np

from lalib._checks import as_array, check_float_dtype, check_number, check_rng

__all__ = [
    "load_digits",
    "sample_image",
    "train_test_split",
]


def load_digits(dtype=np.float64):
    """scikit-learn's bundled handwritten digits (1,797 images of 8 x 8 pixels).

    Parameters
    ----------
    dtype : numpy dtype
        Of the returned images: a floating dtype (an integer one would truncate the
        intensities in 0..1 to 0 and 1).

    Returns
    -------
    X : ndarray, shape (1797, 64)
        Pixel intensities scaled from 0..16 to 0..1, one flattened image per row.
    y : ndarray of int64, shape (1797,)
        The digit, 0-9.

    Raises
    ------
    ValueError
        If `dtype` is not a floating dtype.
    """
    dtype = check_float_dtype(dtype, "dtype", allowed=None)
    try:
        from sklearn.datasets import load_digits as _load
    except ImportError as exc:  # pragma: no cover - the book's environment has it
        raise ImportError(
            "lalib.data.load_digits needs scikit-learn installed"
        ) from exc
    bunch = _load()
    X = (bunch.data / 16.0).astype(dtype)  # (1797, 64), 0..1
    y = bunch.target.astype(np.int64)  # (1797,)
    return X, y


def train_test_split(X, y, test_fraction=0.25, rng=None):
    """Shuffle the rows of (X, y) with `rng` and split them.

    Parameters
    ----------
    X : array_like, shape (N, ...)
        One example per row (any dtype: the rows are only reordered).
    y : array_like, shape (N, ...)
        The matching labels or targets.
    test_fraction : float
        The share of rows for the test part, a number in (0, 1); ``round(test_fraction
        * N)`` rows are held out.
    rng : numpy.random.Generator, optional
        Shuffles the rows; pass a seeded one for a reproducible split. None (the
        default) draws from a fresh ``np.random.default_rng()``.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray

    Raises
    ------
    ValueError
        If X and y disagree in rows, `test_fraction` is not a number in (0, 1) (NaN
        included), or either part would be empty.
    TypeError
        If `rng` is neither None nor a ``numpy.random.Generator`` (e.g. an int seed).
    """
    X = as_array(X, "X")
    y = as_array(y, "y")
    if X.ndim < 1 or y.ndim < 1 or X.shape[0] != y.shape[0]:
        raise ValueError(
            f"X and y must have as many rows, got X {X.shape} and y {y.shape}"
        )
    fraction = check_number(test_fraction, "test_fraction")
    if not 0 < fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    rng = np.random.default_rng() if rng is None else check_rng(rng, "rng")
    n_test = int(round(fraction * X.shape[0]))
    if not 0 < n_test < X.shape[0]:
        raise ValueError(
            f"test_fraction={test_fraction} of {X.shape[0]} rows leaves {n_test} for "
            f"test and {X.shape[0] - n_test} for training; both need at least one"
        )
    order = rng.permutation(X.shape[0])
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]


def sample_image(dtype=np.float64):
    """A grey-scale photograph shipped with matplotlib (Grace Hopper, 600 x 512).

    Parameters
    ----------
    dtype : numpy dtype
        Of the returned image: a floating dtype.

    Returns
    -------
    img : ndarray, shape (H, W) = (600, 512)
        Luminance in 0..1 (ITU-R BT.601 weights of the RGB channels).

    Raises
    ------
    ValueError
        If `dtype` is not a floating dtype.
    """
    dtype = check_float_dtype(dtype, "dtype", allowed=None)
    try:
        import matplotlib.cbook as cbook
        import matplotlib.image as mpimg
    except ImportError as exc:  # pragma: no cover
        raise ImportError("lalib.data.sample_image needs matplotlib installed") from exc
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        rgb = mpimg.imread(f, format="jpg")  # (600, 512, 3) uint8
    gray = rgb[..., :3] @ np.array([0.299, 0.587, 0.114])  # (H, W, 3) @ (3,) -> (H, W)
    return (gray / 255.0).astype(dtype)
