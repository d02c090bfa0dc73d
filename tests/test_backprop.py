"""lalib.backprop: explicit Jacobians, Jacobian chains, matrix-chain ordering, gates."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lalib import activations, backprop, gradcheck, linear, losses, mlp

# ------------------------------------------------------------------------- helpers


def numerical_jacobian(f, args, wrt):
    """The Jacobian of ``f(*args).ravel()`` w.r.t. ``args[wrt].ravel()``, one row per
    output entry, each row a central-difference gradient of that entry."""
    out = np.asarray(f(*args))
    rows = []
    for i in range(out.size):
        e = np.zeros(out.size)
        e[i] = 1.0
        g = gradcheck.numerical_gradient(f, args, dout=e.reshape(out.shape), wrt=[wrt])
        rows.append(g[0].ravel())
    return np.array(rows).reshape(out.size, np.asarray(args[wrt]).size)


def all_orders(i, j):
    """Every full parenthesisation of matrices i..j (0-based) as nested tuples."""
    if i == j:
        yield i
        return
    for k in range(i, j):
        for left in all_orders(i, k):
            for right in all_orders(k + 1, j):
                yield (left, right)


# ------------------------------------------------------------------ linear Jacobian


@pytest.mark.parametrize("n, d, m", [(1, 3, 2), (3, 4, 2), (2, 1, 5), (4, 3, 3)])
def test_linear_jacobian_matches_finite_differences(rng, n, d, m):
    x, W, b = rng.normal(size=(n, d)), rng.normal(size=(d, m)), rng.normal(size=m)
    J_x, J_W = backprop.linear_jacobian(x, W)
    assert J_x.shape == (n * m, n * d) and J_W.shape == (n * m, d * m)
    np.testing.assert_allclose(
        J_x, numerical_jacobian(linear.linear, (x, W, b), 0), atol=1e-8
    )
    np.testing.assert_allclose(
        J_W, numerical_jacobian(linear.linear, (x, W, b), 1), atol=1e-8
    )


def test_linear_jacobian_is_kronecker(rng):
    x, W = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    J_x, J_W = backprop.linear_jacobian(x, W)
    np.testing.assert_array_equal(J_x, np.kron(np.eye(3), W.T))
    np.testing.assert_array_equal(J_W, np.kron(x, np.eye(2)))


def test_linear_jacobian_vjp_is_linear_backward(rng):
    x, W, b = rng.normal(size=(5, 3)), rng.normal(size=(3, 4)), rng.normal(size=4)
    dout = rng.normal(size=(5, 4))
    _, cache = linear.linear_forward(x, W, b)
    dx, dW, _ = linear.linear_backward(dout, cache)
    J_x, J_W = backprop.linear_jacobian(x, W)
    np.testing.assert_allclose(dout.ravel() @ J_x, dx.ravel())
    np.testing.assert_allclose(dout.ravel() @ J_W, dW.ravel())


def test_linear_jacobian_nan_stays_in_its_entries():
    W = np.array([[1.0, np.nan], [3.0, 4.0]])  # W[0, 1] feeds output m=1 from d=0
    J_x, _ = backprop.linear_jacobian(np.ones((2, 2)), W)
    # J_x[(n, 1), (n, 0)] = W[0, 1] for each n, and nothing else is NaN
    expected = np.zeros((4, 4), bool)
    expected[1, 0] = expected[3, 2] = True
    np.testing.assert_array_equal(np.isnan(J_x), expected)


def test_linear_jacobian_refuses_huge():
    with pytest.raises(ValueError, match="vector-Jacobian product"):
        backprop.linear_jacobian(np.ones((100, 100)), np.ones((100, 100)))


@pytest.mark.parametrize(
    "x, W, words",
    [
        (np.ones((2, 3)), np.ones((4, 2)), "D=3"),
        (np.ones(3), np.ones((3, 2)), "x must have 2 dimensions"),
        (np.ones((2, 3)), np.ones(3), "W must have 2 dimensions"),
        (np.ones((2, 3)) + 1j, np.ones((3, 2)), "x must hold real"),
    ],
)
def test_linear_jacobian_bad_input(x, W, words):
    with pytest.raises(ValueError, match=words):
        backprop.linear_jacobian(x, W)


# -------------------------------------------------------------- relu and softmax


@pytest.mark.parametrize("shape", [(5,), (2, 3)])
def test_relu_jacobian_matches_finite_differences_and_backward(rng, shape):
    x = rng.normal(size=shape)
    x[np.abs(x) < 0.1] = 0.5  # away from the kink, where differences are exact
    J = backprop.relu_jacobian(x)
    np.testing.assert_allclose(J, numerical_jacobian(activations.relu, (x,), 0))
    assert np.count_nonzero(J - np.diag(np.diag(J))) == 0  # diagonal
    dout = rng.normal(size=shape)
    expected = activations.relu_backward(dout, x)
    np.testing.assert_array_equal(dout.ravel() @ J, expected.ravel())


def test_relu_jacobian_known_values_and_nan():
    J = backprop.relu_jacobian(np.array([-1.0, 0.0, 2.0, np.nan]))
    np.testing.assert_array_equal(np.diag(J)[:3], [0.0, 0.0, 1.0])
    assert np.isnan(J[3, 3]) and np.isnan(J).sum() == 1


@pytest.mark.parametrize("k", [1, 2, 5])
def test_softmax_jacobian_matches_finite_differences_and_backward(rng, k):
    z = rng.normal(size=k)
    p = activations.softmax(z)
    J = backprop.softmax_jacobian(p)
    np.testing.assert_allclose(
        J, numerical_jacobian(activations.softmax, (z,), 0), atol=1e-8
    )
    np.testing.assert_allclose(J, J.T)
    np.testing.assert_allclose(J.sum(axis=1), 0, atol=1e-15)
    v = rng.normal(size=k)
    np.testing.assert_allclose(v @ J, activations.softmax_backward(v, p))


def test_softmax_jacobian_known_values_and_bad_input():
    np.testing.assert_array_equal(
        backprop.softmax_jacobian([0.5, 0.5]), [[0.25, -0.25], [-0.25, 0.25]]
    )
    J = backprop.softmax_jacobian([0.5, np.nan])
    assert np.isnan(J[1]).all() and np.isnan(J[:, 1]).all() and J[0, 0] == 0.25
    with pytest.raises(ValueError, match=r"p must have 1 dimensions \(K,\)"):
        backprop.softmax_jacobian(np.ones((2, 2)) / 2)


# ------------------------------------------------------------------ VJP and JVP


def _mlp_jacobians(params, x):
    """The Jacobians of the scores of one example w.r.t. x, layer by layer."""
    jacobians = []
    h = x[None, :]  # (1, D)
    n_layers = len(params) // 2
    for layer in range(n_layers):
        W, b = params[2 * layer], params[2 * layer + 1]
        jacobians.append(backprop.linear_jacobian(h, W)[0])
        a = linear.linear(h, W, b)
        if layer < n_layers - 1:
            jacobians.append(backprop.relu_jacobian(a))
            h = activations.relu(a)
        else:
            h = a
    return jacobians, h


def test_vjp_chain_is_mlp_backward(rng):
    params = mlp.init_params([4, 5, 3], rng)
    x = rng.normal(size=4)
    jacobians, scores = _mlp_jacobians(params, x)
    assert [J.shape for J in jacobians] == [(5, 4), (5, 5), (3, 5)]
    _, dscores = losses.softmax_cross_entropy(scores, np.array([2]))
    g, flops = backprop.vjp_chain(jacobians, dscores[0])
    _, caches = mlp.mlp_forward(params, x[None, :])
    _, dx = mlp.mlp_backward(dscores, caches)
    np.testing.assert_allclose(g, dx[0])
    assert flops == 5 * 4 + 5 * 5 + 3 * 5


def test_jvp_and_vjp_agree_with_the_full_jacobian(rng):
    jacobians = [rng.normal(size=s) for s in [(3, 4), (6, 3), (2, 6)]]
    full = jacobians[2] @ jacobians[1] @ jacobians[0]  # (2, 4)
    v, u = rng.normal(size=2), rng.normal(size=4)
    g, f_rev = backprop.vjp_chain(jacobians, v)
    y, f_fwd = backprop.jvp_chain(jacobians, u)
    np.testing.assert_allclose(g, v @ full)
    np.testing.assert_allclose(y, full @ u)
    assert f_rev == f_fwd == 12 + 18 + 12
    # v . (J u) == (v J) . u: both modes see the same derivative
    np.testing.assert_allclose(v @ y, g @ u)


def test_reverse_mode_is_the_left_order_of_the_chain(rng):
    # v^T J_3 J_2 J_1 is the chain (1 x 2)(2 x 6)(6 x 3)(3 x 4): dims [1, 2, 6, 3, 4]
    jacobians = [rng.normal(size=s) for s in [(3, 4), (6, 3), (2, 6)]]
    dims = [1, 2, 6, 3, 4]
    _, flops = backprop.vjp_chain(jacobians, np.ones(2))
    assert flops == backprop.chain_cost(dims, "left")
    product, right = backprop.chain_product(
        [np.ones((1, 2))] + jacobians[::-1], "right"
    )
    np.testing.assert_allclose(product[0], backprop.vjp_chain(jacobians, np.ones(2))[0])
    assert right == backprop.chain_cost(dims, "right") > flops


@pytest.mark.parametrize(
    "jacobians, vec, words",
    [
        ([np.ones((3, 4)), np.ones((2, 4))], np.ones(2), r"jacobians\[1\]"),
        ([np.ones((3, 4))], np.ones(4), r"v must have shape \(3,\)"),
        ([], np.ones(3), "at least one"),
        ([np.ones(3)], np.ones(3), r"jacobians\[0\] must have 2 dimensions"),
    ],
)
def test_vjp_chain_bad_input(jacobians, vec, words):
    with pytest.raises(ValueError, match=words):
        backprop.vjp_chain(jacobians, vec)


def test_chain_bad_types():
    with pytest.raises(TypeError, match="jacobians must be a list"):
        backprop.jvp_chain(np.ones((3, 3)), np.ones(3))
    with pytest.raises(ValueError, match=r"u must have shape \(4,\)"):
        backprop.jvp_chain([np.ones((3, 4))], np.ones(3))
    with pytest.raises(TypeError, match="matrices must be a list"):
        backprop.chain_product(np.ones((3, 3)), "left")


def test_chains_propagate_nan_and_keep_float32(rng):
    jacobians = [rng.normal(size=(3, 4)).astype(np.float32) for _ in range(1)]
    jacobians.append(rng.normal(size=(2, 3)).astype(np.float32))
    v = np.array([np.nan, 1.0], dtype=np.float32)
    g, _ = backprop.vjp_chain(jacobians, v)
    assert g.dtype == np.float32 and np.isnan(g).all()
    y, _ = backprop.jvp_chain(jacobians, np.ones(4, np.float32))
    assert y.dtype == np.float32 and not np.isnan(y).any()


# ------------------------------------------------------------- matrix-chain order


def test_matrix_chain_order_textbook_case():
    # The six-matrix example of Cormen et al., Introduction to Algorithms, 15.2.
    cost, order, text = backprop.matrix_chain_order([30, 35, 15, 5, 10, 20, 25])
    assert cost == 15125
    assert text == "((A1 (A2 A3)) ((A4 A5) A6))"
    assert order == ((0, (1, 2)), ((3, 4), 5))
    assert backprop.chain_cost([30, 35, 15, 5, 10, 20, 25], text) == 15125


def test_chain_cost_left_and_right():
    dims = [1, 10, 20, 30]
    # from the left: (1x10)(10x20) then (1x20)(20x30)
    assert backprop.chain_cost(dims, "left") == 1 * 10 * 20 + 1 * 20 * 30
    # from the right: (10x20)(20x30) then (1x10)(10x30)
    assert backprop.chain_cost(dims, "right") == 10 * 20 * 30 + 1 * 10 * 30
    assert backprop.chain_cost(dims, "((A1 A2) A3)") == backprop.chain_cost(
        dims, "left"
    )
    assert backprop.chain_cost(dims, (0, (1, 2))) == backprop.chain_cost(dims, "right")
    assert backprop.chain_cost([4, 5], "left") == 0  # one matrix: nothing to multiply
    assert backprop.chain_cost([2**40, 2**40, 2], "left") == 2**81  # exact ints


@given(st.lists(st.integers(1, 12), min_size=2, max_size=7))
def test_matrix_chain_order_is_the_brute_force_minimum(dims):
    n = len(dims) - 1
    costs = {o: backprop.chain_cost(dims, o) for o in all_orders(0, n - 1)}
    cost, order, text = backprop.matrix_chain_order(dims)
    assert cost == min(costs.values())
    assert costs[order] == cost
    assert backprop.chain_cost(dims, text) == cost


@given(st.lists(st.integers(1, 40), min_size=2, max_size=7))
def test_from_the_left_is_within_a_factor_two_for_a_row_vector(widths):
    # v^T J_L ... J_1: from the left costs the entries of the Jacobians, and every
    # Jacobian is a factor of a product that costs at least its entries.
    dims = [1] + widths
    left = backprop.chain_cost(dims, "left")
    assert left == sum(p * q for p, q in itertools.pairwise(widths))
    assert 2 * backprop.matrix_chain_order(dims)[0] >= left


def test_from_the_left_is_not_always_the_cheapest_for_a_row_vector():
    dims = [1, 2, 100, 1]  # the chain narrows again at the right end
    assert backprop.chain_cost(dims, "left") == 300
    assert backprop.matrix_chain_order(dims)[:2] == (202, (0, (1, 2)))


@given(st.lists(st.integers(1, 5), min_size=2, max_size=5), st.integers(0, 2**31))
def test_chain_product_is_the_same_matrix_in_every_order(dims, seed):
    rng = np.random.default_rng(seed)
    matrices = [rng.normal(size=(p, q)) for p, q in itertools.pairwise(dims)]
    reference = matrices[0]
    for A in matrices[1:]:
        reference = reference @ A
    for order in itertools.chain(all_orders(0, len(matrices) - 1), ["left", "right"]):
        product, flops = backprop.chain_product(matrices, order)
        np.testing.assert_allclose(product, reference, rtol=1e-10, atol=1e-10)
        assert flops == backprop.chain_cost(dims, order)


@pytest.mark.parametrize(
    "dims, order, words",
    [
        ([3, 4, 5], "middle", "order"),
        ([3, 4, 5], "(A1 A3)", "order"),
        ([3, 4, 5], "((A1 A2)", "order"),
        ([3, 4, 5, 6], "(A1 A2)", "order"),
        ([3, 4, 5], (1, 0), "once each, in their order"),
        ([3, 4, 5], (0, 1, 1), "two factors"),
        ([3, 4, 5], (0, 1.0), "order"),
        ([3, 4, 5], None, "order"),
        ([3], "left", "dims"),
        ([3, 0], "left", "dims"),
        ([3, 2.5], "left", "dims"),
        ([3, True], "left", "dims"),
        ("34", "left", "dims"),
        (None, "left", "dims"),
    ],
)
def test_chain_cost_bad_input(dims, order, words):
    with pytest.raises(ValueError, match=words):
        backprop.chain_cost(dims, order)


def test_chain_product_refuses_shapes_that_do_not_chain():
    with pytest.raises(ValueError, match=r"matrices\[0\] of shape \(2, 3\)"):
        backprop.chain_product([np.ones((2, 3)), np.ones((4, 2))], "left")


# ----------------------------------------------------------------------- gate rules

CIRCUIT_INPUTS = {"x": 3.0, "y": -4.0, "z": 2.0, "w": -1.0}


def test_circuit_forward_and_gate_rules():
    out, cache = backprop.graph_forward(backprop.CIRCUIT, CIRCUIT_INPUTS)
    assert out == 2 * (3 * -4 + max(2, -1))
    grads = backprop.graph_backward(1.0, cache)
    assert grads["f"] == 1.0
    assert grads["q"] == 2.0  # mul by the constant 2: the swap gives it the 2
    assert grads["p"] == grads["m"] == 2.0  # add distributes
    assert grads["x"] == 2.0 * -4 and grads["y"] == 2.0 * 3  # mul swaps
    assert grads["z"] == 2.0 and grads["w"] == 0.0  # max routes to the larger


def _circuit_fn(x, y, z, w):
    values = {"x": x, "y": y, "z": z, "w": w}
    return backprop.graph_forward(backprop.CIRCUIT, values)[0]


@given(st.lists(st.floats(-5, 5), min_size=4, max_size=4), st.floats(-2, 2))
def test_circuit_gradients_match_finite_differences(inputs, dout):
    z, w = inputs[2], inputs[3]
    if abs(z - w) < 1e-3:  # max has a kink at a tie
        return
    args = [np.array(v) for v in inputs]
    _, cache = backprop.graph_forward(backprop.CIRCUIT, dict(zip("xyzw", args)))
    grads = backprop.graph_backward(dout, cache)
    numeric = gradcheck.numerical_gradient(_circuit_fn, args, dout=np.array(dout))
    for name, g in zip("xyzw", numeric):
        np.testing.assert_allclose(grads[name], g, atol=1e-6)


def test_a_reused_input_sums_its_gradients(rng):
    nodes = [("s", "mul", ("a", "a")), ("t", "add", ("s", "a"))]  # a^2 + a
    a = rng.normal(size=(2, 3))
    out, cache = backprop.graph_forward(nodes, {"a": a})
    np.testing.assert_allclose(out, a**2 + a)
    dout = rng.normal(size=(2, 3))
    grads = backprop.graph_backward(dout, cache)
    np.testing.assert_allclose(grads["a"], dout * (2 * a + 1))


def test_max_routes_ties_to_the_first_and_nan_to_both():
    nodes = [("m", "max", ("a", "b"))]
    _, cache = backprop.graph_forward(
        nodes, {"a": [1.0, 2.0, np.nan], "b": [1.0, 3.0, 0.0]}
    )
    grads = backprop.graph_backward(np.ones(3), cache)
    np.testing.assert_array_equal(grads["a"][:2], [1.0, 0.0])
    np.testing.assert_array_equal(grads["b"][:2], [0.0, 1.0])
    assert np.isnan(grads["a"][2]) and np.isnan(grads["b"][2])
    assert np.isnan(cache[1]["m"][2])


def test_graph_keeps_float32():
    values = {k: np.float32(v) for k, v in CIRCUIT_INPUTS.items()}
    out, cache = backprop.graph_forward(backprop.CIRCUIT, values)
    grads = backprop.graph_backward(np.float64(1.0), cache)
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())
    assert all(v.dtype == np.float32 for v in cache[1].values())


@pytest.mark.parametrize(
    "nodes, values, error, words",
    [
        ([("f", "pow", ("x", "y"))], {"x": 1.0, "y": 2.0}, ValueError, "op 'pow'"),
        ([("f", "add", ("x",))], {"x": 1.0}, ValueError, "two inputs"),
        ([("f", "add", ("x", "q"))], {"x": 1.0}, ValueError, "input 'q'"),
        ([("x", "add", ("x", "x"))], {"x": 1.0}, ValueError, "redefines"),
        ([("f", "add", ("x", True))], {"x": 1.0}, ValueError, "input True"),
        ([], {"x": 1.0}, TypeError, "non-empty list"),
        ([("f", "add")], {"x": 1.0}, TypeError, r"nodes\[0\]"),
        (backprop.CIRCUIT, None, TypeError, "values must be a dict"),
        (
            [("f", "add", ("x", "y"))],
            {"x": [1.0], "y": [1.0, 2.0]},
            ValueError,
            "shape",
        ),
        ([("f", "add", ("x", "y"))], {"x": 1j, "y": 1.0}, ValueError, "values"),
    ],
)
def test_graph_bad_input(nodes, values, error, words):
    with pytest.raises(error, match=words):
        backprop.graph_forward(nodes, values)


def test_graph_backward_bad_input():
    _, cache = backprop.graph_forward(backprop.CIRCUIT, CIRCUIT_INPUTS)
    with pytest.raises(ValueError, match="dout must have the output's shape"):
        backprop.graph_backward(np.ones(2), cache)
    with pytest.raises(TypeError, match="cache must be"):
        backprop.graph_backward(1.0, None)
    with pytest.raises(TypeError, match="cache must be"):
        backprop.graph_backward(1.0, cache[:1])
