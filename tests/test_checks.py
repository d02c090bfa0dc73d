"""lalib._checks: the argument checks every public function shares."""

import math

import numpy as np
import pytest

from lalib import _checks, mlp


@pytest.mark.parametrize("big", [10**400, -(10**400)])
def test_an_int_beyond_the_float_range_is_an_infinity_not_an_overflow(big):
    assert _checks.check_number(big, "x") == math.copysign(math.inf, big / abs(big))
    with pytest.raises(
        ValueError, match="lr must be a positive finite number, got 1000"
    ):
        _checks.check_positive_finite(10**400, "lr")


def test_a_public_function_refuses_a_huge_int_with_a_value_error():
    X, y = np.ones((4, 2)), np.array([0, 1, 0, 1])
    params = mlp.init_params((2, 3, 2), np.random.default_rng(0))
    with pytest.raises(ValueError, match="lr must be a positive finite number"):
        mlp.train(
            params,
            X,
            y,
            epochs=1,
            batch_size=2,
            lr=10**400,
            rng=np.random.default_rng(1),
        )
