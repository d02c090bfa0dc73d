"""Loss functions, each returning the loss and its gradient with respect to the prediction."""

import numpy as np

from lalib._checks import as_float_array, check_same_shape


def squared_error(y, t):
    """Half the summed squared error, ``L = 1/2 * sum((y - t)**2)``, and ``dL/dy``.

    Parameters
    ----------
    y : ndarray, any shape
        Predictions.
    t : ndarray, same shape as `y`
        Targets.

    Returns
    -------
    L : float
    dL_dy : ndarray, same shape as `y`
        ``y - t``: the factor 1/2 exists to cancel the 2 from the derivative.
    """
    y = as_float_array(y, "y")
    t = as_float_array(t, "t")
    check_same_shape(y, t, "y", "t")
    diff = y - t
    return 0.5 * float(np.sum(diff * diff)), diff
