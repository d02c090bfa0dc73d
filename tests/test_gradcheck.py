import numpy as np
import pytest

from lalib import gradcheck


def test_numerical_gradient_of_a_known_function(rng):
    # f(a, b) = a * b elementwise, so d sum(f * dout)/da = b * dout and /db = a * dout.
    a, b, dout = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    da, db = gradcheck.numerical_gradient(lambda a, b: a * b, (a, b), dout=dout)
    np.testing.assert_allclose(da, b * dout, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, a * dout, rtol=1e-6, atol=1e-8)


def test_numerical_gradient_does_not_modify_arguments(rng):
    a = rng.standard_normal(5)
    copy = a.copy()
    gradcheck.numerical_gradient(lambda v: np.sin(v), (a,))
    np.testing.assert_array_equal(a, copy)


def test_wrt_selects_arguments(rng):
    a, b = rng.standard_normal(3), rng.standard_normal(2)
    (gb,) = gradcheck.numerical_gradient(lambda a, b: np.sum(a) * b, (a, b), wrt=[1])
    np.testing.assert_allclose(gb, np.full(2, a.sum()), rtol=1e-7)


def test_check_gradients_accepts_right_and_catches_wrong(rng):
    x = rng.standard_normal((4, 3))
    f = lambda x: x**3  # noqa: E731
    (good,) = gradcheck.check_gradients(f, (x,), [3 * x**2])
    (bad,) = gradcheck.check_gradients(f, (x,), [2 * x**2])
    assert good < 1e-8
    assert bad > 0.1


def test_relative_error():
    assert gradcheck.relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert gradcheck.relative_error([1.0, 0.0], [1.0, 0.0]) == 0.0
    assert gradcheck.relative_error([1.0], [-1.0]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"cannot compare shapes \(2,\) and \(3,\)"):
        gradcheck.relative_error(np.ones(2), np.ones(3))


def test_bad_dout_and_gradient_count(rng):
    x = rng.standard_normal(3)
    with pytest.raises(ValueError, match=r"dout must have the output's shape \(3,\), got \(2,\)"):
        gradcheck.numerical_gradient(lambda v: v, (x,), dout=np.ones(2))
    with pytest.raises(ValueError, match="got 2 analytic gradients for 1 arguments"):
        gradcheck.check_gradients(lambda v: v, (x,), [x, x])


def test_non_contiguous_arguments_are_perturbed(rng):
    # A transposed (Fortran-ordered) argument once gave an all-zero numerical gradient.
    W = rng.standard_normal((3, 4)).T  # (4, 3), not C-contiguous
    (g,) = gradcheck.numerical_gradient(lambda W: W**2, (W,))
    np.testing.assert_allclose(g, 2 * W, rtol=1e-6)
