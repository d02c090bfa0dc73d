import numpy as np
import pytest

from lalib import gradcheck


def test_numerical_gradient_of_a_known_function(rng):
    # f(a, b) = a * b elementwise, so d sum(f * dout)/da = b * dout and /db = a * dout.
    a, b, dout = (
        rng.standard_normal((3, 4)),
        rng.standard_normal((3, 4)),
        rng.standard_normal((3, 4)),
    )
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
    with pytest.raises(
        ValueError, match=r"dout must have the output's shape \(3,\), got \(2,\)"
    ):
        gradcheck.numerical_gradient(lambda v: v, (x,), dout=np.ones(2))
    with pytest.raises(
        ValueError,
        match=r"grads must hold one analytic gradient per argument checked "
        r"\(1, for args \[0\]\), got 2",
    ):
        gradcheck.check_gradients(lambda v: v, (x,), [x, x])
    with pytest.raises(ValueError, match=r"grads .*\(2, for args \[0, 1\]\), got 1"):
        gradcheck.check_gradients(lambda a, b: a * b, (x, x), [x])
    with pytest.raises(ValueError, match=r"grads .*\(1, for args \[1\]\), got 2"):
        gradcheck.check_gradients(lambda a, b: a * b, (x, x), [x, x], wrt=[-1])


def test_non_contiguous_arguments_are_perturbed(rng):
    # A transposed (Fortran-ordered) argument once gave an all-zero numerical gradient.
    W = rng.standard_normal((3, 4)).T  # (4, 3), not C-contiguous
    (g,) = gradcheck.numerical_gradient(lambda W: W**2, (W,))
    np.testing.assert_allclose(g, 2 * W, rtol=1e-6)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("h", [0, 0.0, -1e-6, np.nan, np.inf, "1e-6", None, True])
def test_step_size_must_be_positive_and_finite(rng, h):
    # h=0 returned 0/0 = NaN gradients without complaint.
    x = rng.standard_normal(3)
    with pytest.raises(ValueError, match="h must be a"):
        gradcheck.numerical_gradient(np.sin, (x,), h=h)
    with pytest.raises(ValueError, match="h must be a"):
        gradcheck.check_gradients(np.sin, (x,), [np.cos(x)], h=h)


def test_args_must_be_a_sequence_of_arrays(rng):
    # A bare (2, 3) array was iterated as two arguments, its rows.
    x = rng.standard_normal((2, 3))
    with pytest.raises(
        TypeError, match=r"args must be a list or tuple.*\(x,\).*ndarray"
    ):
        gradcheck.numerical_gradient(np.sin, x)
    with pytest.raises(TypeError, match="f must be callable"):
        gradcheck.numerical_gradient(None, (x,))


def test_complex_arguments_are_refused_not_truncated(rng):
    # np.array(a, dtype=float64) dropped the imaginary part (with only a warning).
    z = rng.standard_normal(3) + 1j
    with pytest.raises(ValueError, match=r"args\[0\] must hold real numbers"):
        gradcheck.numerical_gradient(np.sin, (z,))
    with pytest.raises(ValueError, match=r"dout must hold real numbers"):
        gradcheck.numerical_gradient(np.sin, (z.real,), dout=z)
    with pytest.raises(ValueError, match=r"f\(\*args\) must hold real numbers"):
        gradcheck.numerical_gradient(lambda v: v + 1j, (z.real,))
    with pytest.raises(ValueError, match="a must hold real numbers"):
        gradcheck.relative_error(z, z.real)


@pytest.mark.parametrize("wrt", [[5], [-3], [0.0], [True], 0, "0"])
def test_wrt_indices_must_name_arguments(rng, wrt):
    # [5] raised IndexError from deep inside; [0.0] a TypeError about list indices.
    a, b = rng.standard_normal(3), rng.standard_normal(3)
    with pytest.raises(ValueError, match="wrt"):
        gradcheck.numerical_gradient(lambda a, b: a * b, (a, b), wrt=wrt)


def test_negative_wrt_counts_from_the_end(rng):
    a, b = rng.standard_normal(3), rng.standard_normal(3)
    (g,) = gradcheck.numerical_gradient(lambda a, b: a * b, (a, b), wrt=[-1])
    np.testing.assert_allclose(g, a, rtol=1e-7)


def test_analytic_gradients_must_match_the_arguments(rng):
    x = rng.standard_normal(3)
    with pytest.raises(TypeError, match=r"grads must be a list or tuple.*\[g\]"):
        gradcheck.check_gradients(
            np.sin, (x,), np.cos(x)
        )  # one array, not a list of one
    with pytest.raises(
        ValueError,
        match=r"gradient for args\[0\] must have its shape "
        r"\(3,\), got \(1, 3\)",
    ):
        gradcheck.check_gradients(np.sin, (x,), [np.cos(x)[None]])


def test_nan_propagates_into_the_numerical_gradient():
    # L = sum(f * dout) is NaN, so every difference quotient of it is NaN too.
    (g,) = gradcheck.numerical_gradient(lambda v: v**2, (np.array([1.0, np.nan]),))
    assert np.all(np.isnan(g))
    assert np.isnan(gradcheck.relative_error([np.nan], [1.0]))
