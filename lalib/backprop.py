"""Backpropagation as linear algebra: Jacobians, their chain, and the gate rules.

A network is a composition ``f = f_L o ... o f_1``; its Jacobian is the product of the
layers' Jacobians, ``J = J_L ... J_1``, with ``J_l`` of shape ``(d_l, d_{l-1})``. For a
scalar loss the gradient is the row ``v^T J_L ... J_1`` (``v = dL/d(output)``), and the
order of the multiplications decides the cost:

- reverse mode (backpropagation) multiplies from the left, ``((v^T J_L) J_{L-1}) ...``:
  a vector-Jacobian product (VJP) per layer, `vjp_chain`;
- forward mode multiplies from the right, ``J_L (... (J_1 u))``: a Jacobian-vector
  product (JVP) per layer, `jvp_chain`.

Choosing the cheapest order of a product of matrices is the matrix-chain-ordering
problem: `chain_cost` counts the scalar multiplications of a given order and
`matrix_chain_order` finds the cheapest one by dynamic programming.

The explicit Jacobians (`linear_jacobian`, `relu_jacobian`, `softmax_jacobian`) are for
teaching and testing: a backward pass never forms them, it computes the VJP directly
(``dout @ W.T`` in `lalib.linear.linear_backward`). Arrays are flattened in row-major
(C) order, so entry ``[n, m]`` of an (N, M) output is row ``n * M + m`` of a Jacobian.

`graph_forward` and `graph_backward` evaluate a small expression graph of ``add``,
``mul`` and ``max`` gates and apply the gate rules backwards: add distributes the
upstream gradient, mul swaps its inputs, max routes the gradient to the larger input.
"""

import numbers

import numpy as np

from lalib._checks import as_real_array, check_int, check_ndim, result_dtype

__all__ = [
    "CIRCUIT",
    "chain_cost",
    "chain_product",
    "graph_backward",
    "graph_forward",
    "jvp_chain",
    "linear_jacobian",
    "matrix_chain_order",
    "relu_jacobian",
    "softmax_jacobian",
    "vjp_chain",
]

#: Explicit Jacobians larger than this many entries are refused (use the VJP instead).
MAX_JACOBIAN_ENTRIES = 2**26

#: The circuit ``f = 2 * (x * y + max(z, w))``: one node per gate, in evaluation order.
CIRCUIT = (
    ("p", "mul", ("x", "y")),
    ("m", "max", ("z", "w")),
    ("q", "add", ("p", "m")),
    ("f", "mul", ("q", 2.0)),
)


# ------------------------------------------------------------------- explicit Jacobians


def _check_entries(rows, cols, what):
    if rows * cols > MAX_JACOBIAN_ENTRIES:
        raise ValueError(
            f"the Jacobian {what} would be {rows} x {cols} = {rows * cols} entries, "
            f"more than {MAX_JACOBIAN_ENTRIES}; compute the vector-Jacobian product "
            "instead of the matrix"
        )


def linear_jacobian(x, W):
    """The Jacobians of ``out = x @ W + b`` with respect to `x` and to `W`.

    With row-major flattening (``out.ravel()[n * M + m] = out[n, m]``):

    - ``J_x[(n, m), (n', d)] = W[d, m]`` if ``n == n'``, else 0: the block-diagonal
      matrix ``kron(I_N, W.T)``, since each output row depends on its own input row;
    - ``J_W[(n, m), (d, m')] = x[n, d]`` if ``m == m'``, else 0: ``kron(x, I_M)``.

    Neither depends on the bias (the layer is affine). A vector-Jacobian product with
    them is what `lalib.linear.linear_backward` computes without forming them:
    ``dout.ravel() @ J_x == (dout @ W.T).ravel()`` and
    ``dout.ravel() @ J_W == (x.T @ dout).ravel()``.

    Parameters
    ----------
    x : ndarray, shape (N, D)
    W : ndarray, shape (D, M)

    Returns
    -------
    J_x : ndarray, shape (N * M, N * D)
    J_W : ndarray, shape (N * M, D * M)
        Both in the dtype of ``x @ W``. Zeros are placed, not computed, so a NaN in `W`
        (or `x`) reaches only the entries that hold it.

    Raises
    ------
    ValueError
        If a rank is wrong, the D of `x` and `W` disagree, an input is not real numbers,
        or a Jacobian would exceed `MAX_JACOBIAN_ENTRIES` entries.

    Examples
    --------
    One example (N = 1): J_x is W transposed, the matrix of ``y = W^T x``.

    >>> W = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])  # (D, M) = (3, 2)
    >>> linear_jacobian(np.ones((1, 3)), W)[0]
    array([[1., 3., 5.],
           [2., 4., 6.]])
    """
    x = as_real_array(x, "x")
    W = as_real_array(W, "W")
    check_ndim(x, 2, "x", "(N, D)")
    check_ndim(W, 2, "W", "(D, M)")
    if x.shape[1] != W.shape[0]:
        raise ValueError(
            f"x has D={x.shape[1]} features (shape {x.shape}) but W expects "
            f"D={W.shape[0]} (shape {W.shape}); x must be (N, D) and W (D, M)"
        )
    (n, d), m = x.shape, W.shape[1]
    _check_entries(n * m, n * d, f"of x {x.shape} @ W {W.shape} with respect to x")
    _check_entries(n * m, d * m, f"of x {x.shape} @ W {W.shape} with respect to W")
    dtype = result_dtype(x, W)
    rows = np.arange(n)
    J_x = np.zeros((n, m, n, d), dtype=dtype)  # [n, m, n', d]
    J_x[rows, :, rows, :] = W.T  # (N, M, D) <- (M, D): the diagonal blocks n == n'
    cols = np.arange(m)
    J_W = np.zeros((n, m, d, m), dtype=dtype)  # [n, m, d, m']
    J_W[:, cols, :, cols] = x  # (M, N, D) <- (N, D): the entries m == m'
    return J_x.reshape(n * m, n * d), J_W.reshape(n * m, d * m)


def relu_jacobian(x):
    """The Jacobian of ``relu(x)`` with respect to `x`: a diagonal matrix.

    Entry ``[i, i]`` is 1 where ``x.ravel()[i] > 0`` and 0 elsewhere (0 at exactly 0,
    as `lalib.activations.relu_backward` takes it); off the diagonal everything is 0,
    because each output depends on its own input only. A NaN input gives NaN on its
    diagonal entry.

    Parameters
    ----------
    x : ndarray, any shape, S entries

    Returns
    -------
    J : ndarray, shape (S, S)
        In the dtype of `x` (integer input gives float64).

    Raises
    ------
    ValueError
        If `x` is not a rectangular array of real numbers, or J would exceed
        `MAX_JACOBIAN_ENTRIES` entries.

    Examples
    --------
    >>> relu_jacobian(np.array([-1.0, 2.0, 0.5]))
    array([[0., 0., 0.],
           [0., 1., 0.],
           [0., 0., 1.]])
    """
    x = as_real_array(x, "x")
    s = x.size
    _check_entries(s, s, f"of relu at x of shape {x.shape}")
    slope = np.where(np.isnan(x), np.nan, x > 0).astype(x.dtype).ravel()  # (S,)
    J = np.zeros((s, s), dtype=x.dtype)
    J[np.arange(s), np.arange(s)] = slope  # only the diagonal
    return J


def softmax_jacobian(p):
    """The Jacobian of ``p = softmax(z)`` with respect to `z`: ``diag(p) - p p^T``.

    Entry ``[i, j]`` is ``dp_i / dz_j = p_i (delta_ij - p_j)``. It is symmetric, and its
    rows sum to 0 (adding a constant to every logit changes nothing), so it is
    singular. `lalib.activations.softmax_backward` computes ``v^T J`` as
    ``p * (v - v . p)`` without forming it.

    Parameters
    ----------
    p : ndarray, shape (K,)
        One softmax output (a row of probabilities).

    Returns
    -------
    J : ndarray, shape (K, K)
        In the dtype of `p`.

    Raises
    ------
    ValueError
        If `p` is not one row (K,) of real numbers, or J would exceed
        `MAX_JACOBIAN_ENTRIES` entries.

    Examples
    --------
    >>> softmax_jacobian(np.array([0.5, 0.5]))
    array([[ 0.25, -0.25],
           [-0.25,  0.25]])
    """
    p = as_real_array(p, "p")
    check_ndim(p, 1, "p", "(K,)")
    k = p.shape[0]
    _check_entries(k, k, f"of softmax at p of shape {p.shape}")
    return np.diag(p) - np.outer(p, p)  # (K, K) - (K, 1)(1, K)


# ------------------------------------------------------------------- chains of products


def _check_matrices(matrices, name):
    """`matrices` as a list of real 2-D arrays whose shapes chain, else an error."""
    if isinstance(matrices, np.ndarray) or not isinstance(matrices, (list, tuple)):
        raise TypeError(
            f"{name} must be a list of 2-D arrays (wrap a single matrix as [A]), "
            f"got {type(matrices).__name__}"
        )
    if not matrices:
        raise ValueError(f"{name} must hold at least one matrix, got an empty list")
    checked = []
    for i, A in enumerate(matrices):
        A = as_real_array(A, f"{name}[{i}]")
        check_ndim(A, 2, f"{name}[{i}]", "(rows, columns)")
        if checked and checked[-1].shape[1] != A.shape[0]:
            raise ValueError(
                f"{name}[{i - 1}] of shape {checked[-1].shape} and {name}[{i}] of "
                f"shape {A.shape} do not chain: the columns of one must equal the "
                "rows of the next"
            )
        checked.append(A)
    return checked


def _check_jacobians(jacobians):
    """`jacobians` [J_1, ..., J_L] in order of application: J_l is (d_l, d_{l-1})."""
    if isinstance(jacobians, np.ndarray) or not isinstance(jacobians, (list, tuple)):
        raise TypeError(
            "jacobians must be a list [J_1, ..., J_L] of 2-D arrays in the order the "
            f"layers apply, got {type(jacobians).__name__}"
        )
    if not jacobians:
        raise ValueError("jacobians must hold at least one matrix, got an empty list")
    checked = []
    for i, J in enumerate(jacobians):
        J = as_real_array(J, f"jacobians[{i}]")
        check_ndim(J, 2, f"jacobians[{i}]", "(d_out, d_in)")
        if checked and J.shape[1] != checked[-1].shape[0]:
            raise ValueError(
                f"jacobians[{i}] of shape {J.shape} must have as many columns as "
                f"jacobians[{i - 1}] of shape {checked[-1].shape} has rows: layer "
                f"{i + 1} takes the output of layer {i}"
            )
        checked.append(J)
    return checked


def _check_vector(v, length, name, what):
    v = as_real_array(v, name)
    if v.shape != (length,):
        raise ValueError(f"{name} must have shape ({length},) ({what}), got {v.shape}")
    return v


def vjp_chain(jacobians, v):
    """Reverse mode: ``v^T J_L ... J_1``, multiplied from the left.

    Each step is a vector-Jacobian product, a row times a matrix: ``d_l * d_{l-1}``
    multiplications for ``J_l`` of shape ``(d_l, d_{l-1})``, and no matrix-matrix
    product ever.

    Parameters
    ----------
    jacobians : list of ndarray
        ``[J_1, ..., J_L]`` in the order the layers apply, ``J_l`` of shape
        ``(d_l, d_{l-1})``.
    v : ndarray, shape (d_L,)
        The gradient of a scalar with respect to the last output, dL/d(out).

    Returns
    -------
    g : ndarray, shape (d_0,)
        ``v^T J_L ... J_1``, the gradient with respect to the first input.
    flops : int
        The scalar multiplications done, ``sum_l d_l * d_{l-1}``.

    Raises
    ------
    ValueError
        If the Jacobians do not chain, `v` does not have the last output's length, or
        an input is not real numbers.
    TypeError
        If `jacobians` is not a list of arrays.

    Examples
    --------
    >>> J1, J2 = np.ones((3, 4)), 2 * np.ones((2, 3))  # 4 -> 3 -> 2
    >>> vjp_chain([J1, J2], np.array([1.0, 0.0]))
    (array([6., 6., 6., 6.]), 18)
    """
    jacobians = _check_jacobians(jacobians)
    v = _check_vector(v, jacobians[-1].shape[0], "v", "the rows of jacobians[-1]")
    g, flops = v.astype(result_dtype(v, *jacobians), copy=False), 0
    for J in reversed(jacobians):
        g = g @ J  # (d_l,) @ (d_l, d_{l-1}) -> (d_{l-1},)
        flops += J.size
    return g, flops


def jvp_chain(jacobians, u):
    """Forward mode: ``J_L ... J_1 u``, multiplied from the right.

    Each step is a Jacobian-vector product: ``d_l * d_{l-1}`` multiplications for
    ``J_l``. It gives the derivative of every output along one input direction `u`.

    Parameters
    ----------
    jacobians : list of ndarray
        ``[J_1, ..., J_L]`` in the order the layers apply, ``J_l`` of shape
        ``(d_l, d_{l-1})``.
    u : ndarray, shape (d_0,)
        A direction in the input space.

    Returns
    -------
    y : ndarray, shape (d_L,)
        ``J_L ... J_1 u``.
    flops : int
        The scalar multiplications done, ``sum_l d_l * d_{l-1}``.

    Raises
    ------
    ValueError
        If the Jacobians do not chain, `u` does not have the first input's length, or
        an input is not real numbers.
    TypeError
        If `jacobians` is not a list of arrays.
    """
    jacobians = _check_jacobians(jacobians)
    u = _check_vector(u, jacobians[0].shape[1], "u", "the columns of jacobians[0]")
    y, flops = u.astype(result_dtype(u, *jacobians), copy=False), 0
    for J in jacobians:
        y = J @ y  # (d_l, d_{l-1}) @ (d_{l-1},) -> (d_l,)
        flops += J.size
    return y, flops


def _check_dims(dims):
    """`dims` as a list of n + 1 positive ints: matrix i is dims[i] x dims[i + 1]."""
    expected = (
        "dims must be a sequence of at least two positive integers (matrix i of the "
        f"chain is dims[i] x dims[i + 1]), got {dims!r}"
    )
    if isinstance(dims, (str, bytes)) or not np.iterable(dims):
        raise ValueError(expected)
    try:
        dims = [check_int(d, "each entry of dims", minimum=1) for d in dims]
    except ValueError:
        raise ValueError(expected) from None
    if len(dims) < 2:
        raise ValueError(expected)
    return dims


def _parse_order(order, n):
    """`order` ("left", "right", a nested tuple of 0-based indices or a string such as
    "((A1 A2) A3)") as a nested tuple covering matrices 0..n-1 once each, in order."""
    if isinstance(order, str) and order in ("left", "right"):
        tree = 0
        if order == "left":
            for i in range(1, n):
                tree = (tree, i)
        else:
            tree = n - 1
            for i in range(n - 2, -1, -1):
                tree = (i, tree)
        return tree
    if isinstance(order, str):
        tree = _parse_text(order, n)
    else:
        tree = order
    leaves = []
    _collect(tree, leaves, order)
    if leaves != list(range(n)):
        raise ValueError(
            f"order must multiply the {n} matrices of the chain once each, in their "
            f"order, got {order!r} (matrices {leaves})"
        )
    return tree


def _collect(tree, leaves, order):
    if isinstance(tree, tuple):
        if len(tree) != 2:
            raise ValueError(
                "order must be 'left', 'right' or a parenthesisation in which every "
                f"product has two factors, got {order!r}"
            )
        for t in tree:
            _collect(t, leaves, order)
        return
    if isinstance(tree, (bool, np.bool_)) or not isinstance(tree, numbers.Integral):
        raise ValueError(
            "order must be 'left', 'right', a string such as '((A1 A2) A3)' or a "
            f"nested tuple of matrix indices such as ((0, 1), 2), got {order!r}"
        )
    leaves.append(int(tree))


def _parse_text(text, n):
    """ "((A1 A2) A3)" -> ((0, 1), 2); names are A1..An (1-based, as in the text)."""
    tokens = text.replace("(", " ( ").replace(")", " ) ").split()
    bad = ValueError(
        f"order must be 'left', 'right' or fully parenthesised like "
        f"'((A1 A2) A3)' with names A1..A{n}, got {text!r}"
    )

    def parse(pos):
        if pos >= len(tokens):
            raise bad
        tok = tokens[pos]
        if tok == "(":
            left, pos = parse(pos + 1)
            right, pos = parse(pos)
            if pos >= len(tokens) or tokens[pos] != ")":
                raise bad
            return (left, right), pos + 1
        if tok[:1] in "Aa" and tok[1:].isdigit() and 1 <= int(tok[1:]) <= n:
            return int(tok[1:]) - 1, pos + 1
        raise bad

    tree, end = parse(0)
    if end != len(tokens):
        raise bad
    return tree


def _tree_cost(tree, dims):
    """(rows, cols, multiplications) of the product a tree describes."""
    if not isinstance(tree, tuple):
        return dims[tree], dims[tree + 1], 0
    p, q, c1 = _tree_cost(tree[0], dims)
    _, r, c2 = _tree_cost(tree[1], dims)
    return p, r, c1 + c2 + p * q * r  # (p, q) @ (q, r): p * q * r multiplications


def _text(tree):
    if not isinstance(tree, tuple):
        return f"A{tree + 1}"
    return f"({_text(tree[0])} {_text(tree[1])})"


def chain_cost(dims, order):
    """Scalar multiplications to multiply a chain of matrices in a given order.

    Multiplying a (p, q) matrix by a (q, r) one takes ``p * q * r`` multiplications
    (and as many additions, less ``p * r``); this counts the multiplications.

    Parameters
    ----------
    dims : sequence of int
        ``(d_0, d_1, ..., d_n)``: matrix ``A_{i+1}`` (``A1`` first) is
        ``d_i x d_{i+1}``. At least two entries (one matrix).
    order : str or nested tuple
        ``"left"`` (``((A1 A2) A3) ...``, from the left), ``"right"``
        (``A1 (A2 (A3 ...))``, from the right), a fully parenthesised string such
        as ``"(A1 (A2 A3))"``, or a nested tuple of 0-based indices such as
        ``(0, (1, 2))``.

    Returns
    -------
    cost : int
        A Python int, exact for any sizes.

    Raises
    ------
    ValueError
        If `dims` is not a sequence of at least two positive integers, or `order` is
        not a parenthesisation of the chain's matrices, each once, in order.

    Examples
    --------
    A row times two square matrices: from the left, two row-matrix products; from the
    right, a matrix-matrix product first.

    >>> chain_cost([1, 100, 100, 100], "left"), chain_cost([1, 100, 100, 100], "right")
    (20000, 1010000)
    """
    dims = _check_dims(dims)
    tree = _parse_order(order, len(dims) - 1)
    return _tree_cost(tree, dims)[2]


def chain_product(matrices, order):
    """The product ``A1 A2 ... An`` of a chain, in a given order, and its cost.

    Parameters
    ----------
    matrices : list of ndarray
        ``[A1, ..., An]``, ``A_i`` of shape ``(d_{i-1}, d_i)``.
    order : str or nested tuple
        As in `chain_cost`.

    Returns
    -------
    product : ndarray, shape (d_0, d_n)
        The same matrix for every order (up to rounding).
    flops : int
        ``chain_cost(dims, order)``: the scalar multiplications done.

    Raises
    ------
    ValueError
        If the shapes do not chain, an input is not real numbers, or `order` is not
        a parenthesisation of the chain.
    TypeError
        If `matrices` is not a list of arrays.
    """
    matrices = _check_matrices(matrices, "matrices")
    dims = [matrices[0].shape[0]] + [A.shape[1] for A in matrices]
    tree = _parse_order(order, len(matrices))
    dtype = result_dtype(*matrices)

    def multiply(t):
        if not isinstance(t, tuple):
            return matrices[t].astype(dtype, copy=False)
        return multiply(t[0]) @ multiply(t[1])  # (p, q) @ (q, r) -> (p, r)

    return multiply(tree), _tree_cost(tree, dims)[2]


def matrix_chain_order(dims):
    """The cheapest order to multiply a chain of matrices (dynamic programming).

    ``cost[i][j]``, the fewest multiplications for ``A_i ... A_j``, is the minimum over
    the last split ``k`` of ``cost[i][k] + cost[k+1][j] + d_{i-1} d_k d_j``: O(n^3)
    time for n matrices, instead of trying the Catalan-many parenthesisations. Ties go
    to the leftmost split.

    Parameters
    ----------
    dims : sequence of int
        ``(d_0, ..., d_n)`` as in `chain_cost`.

    Returns
    -------
    cost : int
        The fewest scalar multiplications.
    order : int or nested tuple
        The parenthesisation, 0-based indices: ``((0, 1), 2)`` is ``(A1 A2) A3``.
    text : str
        The same, e.g. ``"((A1 A2) A3)"``.

    Raises
    ------
    ValueError
        If `dims` is not a sequence of at least two positive integers.

    Examples
    --------
    >>> matrix_chain_order([10, 100, 5, 50])
    (7500, ((0, 1), 2), '((A1 A2) A3)')
    """
    dims = _check_dims(dims)
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(2, n + 1):
        for i in range(n - length + 1):
            j = i + length - 1
            best = None
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if best is None or c < best:
                    best, split[i][j] = c, k
            cost[i][j] = best

    def build(i, j):
        if i == j:
            return i
        k = split[i][j]
        return (build(i, k), build(k + 1, j))

    tree = build(0, n - 1)
    return cost[0][n - 1], tree, _text(tree)


# ------------------------------------------------------------------------- gate rules

_OPS = ("add", "mul", "max")


def _check_graph(nodes, values):
    """Validate a graph and its input values; return (nodes, values as arrays)."""
    if not isinstance(values, dict):
        raise TypeError(
            "values must be a dict from input name to number or array, got "
            f"{type(values).__name__}"
        )
    if not isinstance(nodes, (list, tuple)) or len(nodes) == 0:
        raise TypeError(
            "nodes must be a non-empty list of (name, op, (a, b)) gates, got "
            f"{type(nodes).__name__} {nodes!r}"[:200]
        )
    arrays = {}
    for key, value in values.items():
        if not isinstance(key, str):
            raise TypeError(f"values must have str keys (input names), got {key!r}")
        arrays[key] = as_real_array(value, f"values[{key!r}]")
    shapes = {a.shape for a in arrays.values()}
    if len(shapes) > 1:
        raise ValueError(
            "values must all have the same shape (the gates act elementwise), got "
            + ", ".join(f"{k}: {a.shape}" for k, a in arrays.items())
        )
    known = set(arrays)
    checked = []
    for i, node in enumerate(nodes):
        try:
            name, op, args = node
            ok = isinstance(name, str) and isinstance(args, (list, tuple))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise TypeError(
                f"nodes[{i}] must be a (name, op, (a, b)) triple with a str name, "
                f"got {node!r}"
            )
        if op not in _OPS:
            raise ValueError(f"nodes[{i}] has op {op!r}; the ops are {_OPS}")
        if len(args) != 2:
            raise ValueError(
                f"nodes[{i}] ({name!r}) must have two inputs, got {len(args)}: {args!r}"
            )
        if name in known:
            raise ValueError(f"nodes[{i}] redefines the name {name!r}")
        for a in args:
            constant = isinstance(a, numbers.Real) and not isinstance(a, bool)
            if not (constant or (isinstance(a, str) and a in known)):
                raise ValueError(
                    f"nodes[{i}] ({name!r}) has input {a!r}, which is neither a real "
                    f"number nor an earlier name; known names: {sorted(known)}"
                )
        known.add(name)
        checked.append((name, op, tuple(args)))
    return checked, arrays


def graph_forward(nodes, values):
    """Evaluate an expression graph of ``add``, ``mul`` and ``max`` gates.

    Parameters
    ----------
    nodes : list of tuple
        ``(name, op, (a, b))`` per gate, in evaluation order (such as `CIRCUIT`): `op`
        is ``"add"``, ``"mul"`` or ``"max"``; `a` and `b` are names of inputs or of
        earlier gates, or real constants. The last gate is the output.
    values : dict
        Input name -> number or array; all of one shape (the gates act elementwise).
        float32 stays float32.

    Returns
    -------
    out : ndarray
        The last gate's value (0-d for scalar inputs).
    cache : tuple
        ``(nodes, forward)``, `forward` mapping every name (inputs and gates) to its
        value; what `graph_backward` needs, and what a drawing of the graph shows.

    Raises
    ------
    ValueError
        If an op is unknown, a gate does not have two inputs, an input is neither an
        earlier name nor a real constant, a name is defined twice, or the values are
        not real numbers of one shape.
    TypeError
        If `nodes` is not a non-empty list of triples or `values` not a dict.

    Examples
    --------
    >>> out, _ = graph_forward(CIRCUIT, {"x": 3.0, "y": -4.0, "z": 2.0, "w": -1.0})
    >>> float(out)  # 2 * (3 * -4 + max(2, -1))
    -20.0
    """
    nodes, forward = _check_graph(nodes, values)
    dtype = result_dtype(*forward.values()) if forward else np.float64

    def value(a):
        return forward[a] if isinstance(a, str) else a  # a constant stays a scalar

    for name, op, (a, b) in nodes:
        va, vb = value(a), value(b)
        if op == "add":
            out = np.add(va, vb, dtype=dtype)
        elif op == "mul":
            out = np.multiply(va, vb, dtype=dtype)
        else:
            out = np.maximum(va, vb, dtype=dtype)  # NaN in either gives NaN
        forward[name] = np.asarray(out)
    return forward[nodes[-1][0]], (nodes, forward)


def graph_backward(dout, cache):
    """The gate rules, applied from the output back: every gradient of the graph.

    With upstream gradient ``g`` at a gate's output:

    - ``add``: both inputs get ``g`` (add distributes);
    - ``mul``: ``a`` gets ``g * b`` and ``b`` gets ``g * a`` (mul swaps);
    - ``max``: the larger input gets ``g``, the other 0 (max routes; a tie goes to
      the first input, a NaN input gives NaN to both).

    A name used by several gates sums the gradients it receives (the multivariate
    chain rule).

    Parameters
    ----------
    dout : number or ndarray
        dL/d(out), of the output's shape.
    cache : tuple
        From `graph_forward`.

    Returns
    -------
    grads : dict
        Name -> dL/d(name) for every input and every gate, in the dtype of the
        forward values (`dout` is cast to it).

    Raises
    ------
    ValueError
        If `dout` is not real numbers of the output's shape.
    TypeError
        If `cache` is not the ``(nodes, forward)`` pair from `graph_forward`.
    """
    try:
        nodes, forward = cache
        ok = isinstance(forward, dict) and all(
            isinstance(n, tuple) and len(n) == 3 and n[0] in forward for n in nodes
        )
        ok = ok and len(nodes) > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise TypeError(
            "cache must be the (nodes, forward) pair from graph_forward, got "
            f"{type(cache).__name__}"
        )
    out = np.asarray(forward[nodes[-1][0]])
    dout = as_real_array(dout, "dout")
    if dout.shape != out.shape:
        raise ValueError(
            f"dout must have the output's shape {out.shape}, got {dout.shape}"
        )
    dtype = out.dtype
    grads = {name: np.zeros(out.shape, dtype=dtype) for name in forward}
    grads[nodes[-1][0]] = dout.astype(dtype)
    for name, op, (a, b) in reversed(nodes):
        g = grads[name]
        va = forward[a] if isinstance(a, str) else np.asarray(a, dtype=dtype)
        vb = forward[b] if isinstance(b, str) else np.asarray(b, dtype=dtype)
        if op == "add":
            ga, gb = g, g  # distributes
        elif op == "mul":
            ga, gb = g * vb, g * va  # swaps: each input gets the other one
        else:
            first = va >= vb  # routes, a tie to the first input
            either_nan = np.isnan(va) | np.isnan(vb)
            ga = np.where(either_nan, np.nan, np.where(first, g, 0)).astype(dtype)
            gb = np.where(either_nan, np.nan, np.where(first, 0, g)).astype(dtype)
        if isinstance(a, str):
            grads[a] = grads[a] + ga
        if isinstance(b, str):
            grads[b] = grads[b] + gb
    return {name: np.asarray(g, dtype=dtype) for name, g in grads.items()}
