"""Tests of lalib.optim: quadratic loss and gradient, descent steps and trajectories."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lalib import optim
from lalib.gradcheck import check_gradients


def spd_matrix(rng, eigenvalues):
    """A random rotation of diag(eigenvalues): symmetric, with exactly those
    eigenvalues."""
    d = len(eigenvalues)
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))  # (d, d) orthogonal
    A = (Q * np.asarray(eigenvalues)) @ Q.T  # Q diag(lam) Q^T
    return (A + A.T) / 2, Q


# ---------------------------------------------------------------- quadratic loss


@pytest.mark.parametrize("d", [1, 2, 5, 12])
def test_quadratic_loss_matches_formula_single_and_batch(rng, d):
    A, _ = spd_matrix(rng, rng.uniform(0.5, 5.0, size=d))
    b = rng.standard_normal(d)
    X = rng.standard_normal((7, d))  # (K, d)
    expected = np.array([0.5 * x @ A @ x - b @ x for x in X])  # one point at a time
    np.testing.assert_allclose(
        optim.quadratic_loss(X, A, b), expected, rtol=1e-12, atol=1e-12
    )
    single = optim.quadratic_loss(X[0], A, b)
    assert isinstance(single, float)
    assert single == pytest.approx(expected[0], rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("d", [1, 3, 8])
def test_quadratic_grad_is_the_gradient(rng, d):
    A, _ = spd_matrix(rng, rng.uniform(0.5, 5.0, size=d))
    b = rng.standard_normal(d)
    x = rng.standard_normal(d)
    g = optim.quadratic_grad(x, A, b)
    (err,) = check_gradients(lambda x: optim.quadratic_loss(x, A, b), (x,), [g])
    assert err < 1e-8


def test_quadratic_grad_batch_rows_match_single_points(rng):
    A, _ = spd_matrix(rng, [1.0, 2.0, 7.0])
    b = rng.standard_normal(3)
    X = rng.standard_normal((5, 3))
    G = optim.quadratic_grad(X, A, b)
    assert G.shape == (5, 3)
    for x, g in zip(X, G):
        np.testing.assert_allclose(g, A @ x - b, rtol=1e-12, atol=1e-12)


def test_minimizer_zeroes_the_gradient_and_is_lowest(rng):
    A, _ = spd_matrix(rng, [0.3, 1.0, 4.0, 9.0])
    b = rng.standard_normal(4)
    x_star = optim.quadratic_minimizer(A, b)
    np.testing.assert_allclose(optim.quadratic_grad(x_star, A, b), 0, atol=1e-12)
    others = x_star + rng.standard_normal((50, 4))  # (50, 4)
    assert np.all(
        optim.quadratic_loss(others, A, b) > optim.quadratic_loss(x_star, A, b)
    )


def test_quadratic_keeps_float32():
    A = np.diag([1.0, 2.0]).astype(np.float32)
    b = np.ones(2, dtype=np.float32)
    x = np.ones((3, 2), dtype=np.float32)
    assert optim.quadratic_grad(x, A, b).dtype == np.float32
    assert optim.quadratic_loss(x, A, b).dtype == np.float32


@pytest.mark.parametrize(
    "A, b, x, match",
    [
        (np.ones((2, 3)), np.ones(2), np.ones(2), "square"),
        (np.ones(4), np.ones(2), np.ones(2), "dimensions"),
        (np.array([[1.0, 2.0], [0.0, 1.0]]), np.ones(2), np.ones(2), "symmetric"),
        (np.eye(2), np.ones(3), np.ones(2), r"b must have shape \(d,\) = \(2,\)"),
        (np.eye(2), np.ones(2), np.ones(3), r"x must have shape"),
        (np.eye(2), np.ones(2), np.ones((2, 2, 2)), r"got \(2, 2, 2\)"),
    ],
)
def test_quadratic_bad_input(A, b, x, match):
    with pytest.raises(ValueError, match=match):
        optim.quadratic_loss(x, A, b)
    with pytest.raises(ValueError, match=match):
        optim.quadratic_grad(x, A, b)


def test_minimizer_refuses_indefinite():
    with pytest.raises(ValueError, match="positive definite"):
        optim.quadratic_minimizer(np.diag([1.0, -1.0]), np.ones(2))


# ---------------------------------------------------------------- steps


def test_gd_step_known_answer_and_no_mutation():
    p = np.array([1.0, -2.0, 3.0])
    g = np.array([10.0, 0.0, -10.0])
    new = optim.gd_step(p, g, 0.1)
    np.testing.assert_allclose(new, [0.0, -2.0, 4.0])
    np.testing.assert_array_equal(p, [1.0, -2.0, 3.0])


def test_gd_step_list_of_arrays(rng):
    params = [rng.standard_normal((3, 2)), rng.standard_normal(2)]
    grads = [rng.standard_normal((3, 2)), rng.standard_normal(2)]
    new = optim.gd_step(params, grads, 0.5)
    assert isinstance(new, list) and len(new) == 2
    for p, g, q in zip(params, grads, new):
        np.testing.assert_allclose(q, p - 0.5 * g)


def test_gd_step_keeps_float32():
    p = np.ones(3, dtype=np.float32)
    assert optim.gd_step(p, np.ones(3, dtype=np.float32), 0.1).dtype == np.float32


@pytest.mark.parametrize(
    "params, grads, lr, match",
    [
        (np.ones(3), np.ones(4), 0.1, r"shape of params \(3,\), got \(4,\)"),
        (np.ones(3), np.ones(3), 0.0, "positive"),
        (np.ones(3), np.ones(3), -1.0, "positive"),
        (np.ones(3), np.ones(3), np.nan, "positive"),
        (
            [np.ones(3), np.ones(2)],
            [np.ones(3)],
            0.1,
            r"grads must be a list with one gradient per array of params: params "
            r"holds 2 arrays, grads holds 1",
        ),
        ([], [np.ones(3)], 0.1, "params holds 0 arrays, grads holds 1"),
        ([np.ones(3)], np.ones(3), 0.1, "grads is a ndarray, not a list"),
        ([np.ones(3)], None, 0.1, "grads is a NoneType, not a list"),
        (
            [np.ones(3), np.ones(2)],
            [np.ones(3), np.ones(3)],
            0.1,
            r"grads\[1\] must have the shape of params\[1\] \(2,\), got \(3,\)",
        ),
        ([np.ones(3), None], [np.ones(3)] * 2, 0.1, r"params\[1\] must hold real"),
    ],
)
def test_gd_step_bad_input(params, grads, lr, match):
    with pytest.raises(ValueError, match=match):
        optim.gd_step(params, grads, lr)


# ---------------------------------------------------------------- trajectories


@pytest.mark.parametrize("d, steps", [(1, 0), (2, 5), (6, 40)])
def test_trajectory_shape_start_and_dtype(rng, d, steps):
    A, _ = spd_matrix(rng, np.linspace(1, 3, d))
    b = rng.standard_normal(d)
    x0 = rng.standard_normal(d).astype(np.float32)
    traj = optim.gradient_descent(
        lambda x: optim.quadratic_grad(x, A, b), x0, 0.1, steps
    )
    assert traj.shape == (steps + 1, d)
    assert traj.dtype == np.float32
    np.testing.assert_array_equal(traj[0], x0)


@pytest.mark.parametrize("d", [2, 5])
def test_trajectory_matches_eigenbasis_closed_form(rng, d):
    """x_t - x* = Q diag((1 - lr lam)^t) Q^T (x_0 - x*): every iterate, exactly."""
    lam = np.linspace(1.0, 10.0, d)
    A, Q = spd_matrix(rng, lam)
    b = rng.standard_normal(d)
    x_star = np.linalg.solve(A, b)
    x0 = rng.standard_normal(d)
    lr, steps = 0.15, 25
    traj = optim.gradient_descent(
        lambda x: optim.quadratic_grad(x, A, b), x0, lr, steps
    )
    t = np.arange(steps + 1)[:, None]  # (T, 1)
    factors = (1 - lr * lam)[None, :] ** t  # (T, d)
    expected = ((Q.T @ (x0 - x_star))[None, :] * factors) @ Q.T + x_star  # (T, d)
    np.testing.assert_allclose(traj, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("lam_max", [4.0, 10.0, 50.0])
def test_converges_below_two_over_lambda_max_and_diverges_above(rng, lam_max):
    d = 4
    A, _ = spd_matrix(rng, np.linspace(1.0, lam_max, d))
    b = rng.standard_normal(d)
    x_star = np.linalg.solve(A, b)
    x0 = x_star + rng.standard_normal(d)
    grad = lambda x: optim.quadratic_grad(x, A, b)  # noqa: E731
    limit = 2.0 / lam_max
    steps = 400
    below = optim.gradient_descent(grad, x0, 0.95 * limit, steps)
    above = optim.gradient_descent(grad, x0, 1.05 * limit, steps)
    err0 = np.linalg.norm(x0 - x_star)
    assert np.linalg.norm(below[-1] - x_star) < 1e-6 * err0
    assert np.linalg.norm(above[-1] - x_star) > 1e6 * err0
    assert optim.gd_rate(A, 0.95 * limit) < 1 < optim.gd_rate(A, 1.05 * limit)


@pytest.mark.parametrize("kappa", [2.0, 10.0, 100.0])
def test_measured_rate_equals_predicted_and_kappa_sets_it(rng, kappa):
    """With the best step 2/(lam_min+lam_max) the error falls like ((k-1)/(k+1))^t."""
    A, Q = spd_matrix(rng, [1.0, kappa])
    b = np.zeros(2)
    lr = 2.0 / (1.0 + kappa)
    predicted = (kappa - 1) / (kappa + 1)
    assert optim.gd_rate(A, lr) == pytest.approx(predicted, rel=1e-12)
    x0 = Q @ np.array([1.0, 1.0])  # both eigen-directions present
    traj = optim.gradient_descent(lambda x: optim.quadratic_grad(x, A, b), x0, lr, 30)
    err = np.linalg.norm(traj, axis=1)  # x* = 0
    np.testing.assert_allclose(err[1:] / err[:-1], predicted, rtol=1e-8)


def test_momentum_beats_plain_descent_on_ill_conditioned_quadratic(rng):
    kappa = 100.0
    A, Q = spd_matrix(rng, [1.0, kappa])
    b = np.zeros(2)
    grad = lambda x: optim.quadratic_grad(x, A, b)  # noqa: E731
    x0 = Q @ np.array([1.0, 1.0])
    plain = optim.gradient_descent(grad, x0, 2 / (1 + kappa), 100)
    sq = np.sqrt(kappa)
    beta = ((sq - 1) / (sq + 1)) ** 2  # Polyak's optimal parameters
    lr = 4 / (1 + sq) ** 2
    heavy = optim.gradient_descent(grad, x0, lr, 100, momentum=beta)
    e_plain = np.linalg.norm(plain, axis=1)  # (101,), x* = 0
    e_heavy = np.linalg.norm(heavy, axis=1)
    assert e_plain[-1] > 0.1  # (99/101)^100 = 0.13 of the start is left
    assert e_heavy[-1] < 1e-6
    # Critical damping: the error behaves like t * rho^t with
    # rho = (sqrt(k)-1)/(sqrt(k)+1), so the measured rate between steps 50 and 100 lies
    # between rho and rho * 2^(1/50).
    rho = (sq - 1) / (sq + 1)
    measured = (e_heavy[100] / e_heavy[50]) ** (1 / 50)
    assert rho * 0.999 < measured < rho * 2 ** (1 / 50) * 1.001


def test_momentum_zero_is_plain_descent(rng):
    A, _ = spd_matrix(rng, [1.0, 3.0, 5.0])
    b = rng.standard_normal(3)
    grad = lambda x: optim.quadratic_grad(x, A, b)  # noqa: E731
    x0 = rng.standard_normal(3)
    np.testing.assert_array_equal(
        optim.gradient_descent(grad, x0, 0.2, 10),
        optim.gradient_descent(grad, x0, 0.2, 10, momentum=0.0),
    )
    by_steps = [x0]
    for _ in range(10):
        by_steps.append(optim.gd_step(by_steps[-1], grad(by_steps[-1]), 0.2))
    np.testing.assert_allclose(
        optim.gradient_descent(grad, x0, 0.2, 10), np.array(by_steps)
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lr=0.0), "positive"),
        (dict(steps=-1), "non-negative integer"),
        (dict(steps=2.5), "non-negative integer"),
        (dict(momentum=1.0), r"\[0, 1\)"),
        (dict(momentum=-0.1), r"\[0, 1\)"),
    ],
)
def test_gradient_descent_bad_input(kwargs, match):
    args = dict(grad_fn=lambda x: x, x0=np.ones(2), lr=0.1, steps=3)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        optim.gradient_descent(**args)


def test_gradient_descent_checks_grad_shape():
    with pytest.raises(
        ValueError, match=r"grad_fn returned shape \(3,\), expected .* \(2,\)"
    ):
        optim.gradient_descent(lambda x: np.ones(3), np.ones(2), 0.1, 3)


@given(
    lam=st.lists(st.floats(0.1, 100.0), min_size=1, max_size=6),
    frac=st.floats(0.01, 1.99),
)
def test_gd_rate_is_the_spectral_radius_of_the_iteration(lam, frac):
    rng = np.random.default_rng(len(lam))
    A, _ = spd_matrix(rng, lam)
    lr = frac / max(lam)
    M = np.eye(len(lam)) - lr * A  # iteration matrix
    radius = np.max(np.abs(np.linalg.eigvals(M)))
    rate = optim.gd_rate(A, lr)
    assert rate == pytest.approx(radius, rel=1e-8, abs=1e-10)
    assert rate < 1  # lr < 2 / lam_max always converges


def test_gd_rate_bad_input():
    with pytest.raises(ValueError, match="square"):
        optim.gd_rate(np.ones((2, 3)), 0.1)
    with pytest.raises(ValueError, match="positive"):
        optim.gd_rate(np.eye(2), -0.1)


# ---------------------------------------------------------------- bad input


def test_minimizer_of_an_empty_problem_is_the_empty_vector():
    # eigvalsh(A)[0] raised IndexError for d = 0.
    x = optim.quadratic_minimizer(np.zeros((0, 0)), np.zeros(0))
    assert x.shape == (0,) and x.dtype == np.float64


def test_gd_rate_of_an_empty_problem_is_a_value_error():
    with pytest.raises(ValueError, match=r"at least \(1, 1\).*got \(0, 0\)"):
        optim.gd_rate(np.zeros((0, 0)), 0.1)


def test_minimizer_message_names_the_smallest_eigenvalue():
    with pytest.raises(
        ValueError, match=r"positive definite.*smallest eigenvalue is -1"
    ):
        optim.quadratic_minimizer(np.diag([1.0, -1.0]), np.ones(2))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_in_the_hessian_propagates(bad):
    # A NaN entry used to be reported as "A must be symmetric".
    A = np.array([[2.0, 0.0], [0.0, bad]])
    b = np.ones(2)
    with np.errstate(invalid="ignore"):
        assert not np.isfinite(optim.quadratic_loss(np.ones(2), A, b))
        assert not np.isfinite(optim.quadratic_grad(np.ones(2), A, b)[1])
    assert np.all(np.isnan(optim.quadratic_minimizer(A, b)))
    assert np.isnan(optim.gd_rate(A, 0.1))


def test_nan_must_still_be_symmetric():
    A = np.array([[1.0, np.nan], [0.0, 1.0]])  # NaN opposite 0: not symmetric
    with pytest.raises(ValueError, match=r"A \(shape \(2, 2\)\) must be symmetric"):
        optim.quadratic_minimizer(A, np.ones(2))


def test_float16_hessian_is_computed_in_float32():
    # NumPy's eigvalsh and solve refuse float16 with a TypeError.
    A = np.array([[2.0, 0.5], [0.5, 1.0]], dtype=np.float16)
    b = np.array([1.0, -1.0], dtype=np.float16)
    x = optim.quadratic_minimizer(A, b)
    assert x.dtype == np.float16
    np.testing.assert_array_equal(
        x,
        optim.quadratic_minimizer(A.astype(np.float32), b.astype(np.float32)).astype(
            np.float16
        ),
    )
    assert optim.gd_rate(A, 0.1) == pytest.approx(
        optim.gd_rate(A.astype(np.float32), 0.1)
    )


@pytest.mark.parametrize(
    "lr", [np.nan, np.inf, "0.1", True, None, np.array([0.1, 0.2]), 1j]
)
def test_lr_must_be_one_positive_finite_number(lr):
    # "0.1" and True were accepted through float(lr).
    with pytest.raises(ValueError, match="lr must be a"):
        optim.gd_step(np.ones(2), np.ones(2), lr)
    with pytest.raises(ValueError, match="lr must be a"):
        optim.gd_rate(np.eye(2), lr)
    with pytest.raises(ValueError, match="lr must be a"):
        optim.gradient_descent(lambda x: x, np.ones(2), lr, 3)


def test_lr_as_numpy_scalar_or_0d_array_is_fine():
    np.testing.assert_array_equal(
        optim.gd_step(np.ones(2), np.ones(2), np.float32(0.5)), [0.5, 0.5]
    )
    np.testing.assert_array_equal(
        optim.gd_step(np.ones(2), np.ones(2), np.array(0.5)), [0.5, 0.5]
    )


@pytest.mark.parametrize("steps", [np.inf, True, 2.0, "3", None, np.nan])
def test_steps_must_be_an_integer(steps):
    # steps=np.inf raised OverflowError; True ran one step.
    with pytest.raises(ValueError, match="steps must be a non-negative integer"):
        optim.gradient_descent(lambda x: x, np.ones(2), 0.1, steps)


def test_steps_too_many_to_store_is_a_value_error():
    with pytest.raises(
        ValueError, match=r"steps=10{30} asks for a trajectory of shape"
    ):
        optim.gradient_descent(lambda x: x, np.ones(2), 0.1, 10**30)


@pytest.mark.parametrize("momentum", [np.nan, np.inf, "0.5", True, None])
def test_momentum_must_be_a_number_in_the_unit_interval(momentum):
    with pytest.raises(ValueError, match="momentum must"):
        optim.gradient_descent(lambda x: x, np.ones(2), 0.1, 3, momentum=momentum)


def test_grad_fn_must_be_callable_and_return_real_numbers():
    with pytest.raises(TypeError, match="grad_fn must be callable, got NoneType"):
        optim.gradient_descent(None, np.ones(2), 0.1, 3)
    # A complex gradient was silently cut to its real part by the cast to x0's dtype.
    with pytest.raises(ValueError, match=r"grad_fn\(x\) must hold real numbers"):
        optim.gradient_descent(lambda x: x + 1j, np.ones(2), 0.1, 3)
    with pytest.raises(ValueError, match=r"grad_fn\(x\) must hold real numbers"):
        optim.gradient_descent(lambda x: np.array(["a", "b"]), np.ones(2), 0.1, 3)


def test_gd_step_ragged_input_names_the_argument():
    with pytest.raises(ValueError, match="grads must be a rectangular array"):
        optim.gd_step(np.ones(2), [1.0, [2.0]], 0.1)
