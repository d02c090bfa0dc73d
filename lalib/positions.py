r"""Positions in attention: sinusoidal encodings and rotary embeddings (RoPE).

Attention compares every query with every key by a dot product, so it cannot tell
where a token sits: permuting the tokens permutes the outputs and changes nothing
else. Two ways of putting order back, both made of 2 x 2 rotations.

**Sinusoidal encodings** (Vaswani et al., 2017) add to token ``p`` the vector

.. math::

    \mathrm{PE}[p, 2i] = \sin(p\,\theta_i), \qquad
    \mathrm{PE}[p, 2i + 1] = \cos(p\,\theta_i), \qquad
    \theta_i = \mathrm{base}^{-2i/d}.

Each column pair ``(2i, 2i + 1)`` is a point on the unit circle that turns by the
angle ``theta_i`` per position, every pair at its own frequency. Moving ``k``
positions on is the same rotation of a pair whatever ``p`` is, so
``PE[p] . PE[q] = sum_i cos((p - q) theta_i)`` depends on ``p - q`` alone.

**Rotary embeddings** (RoPE, Su et al., 2021) rotate the queries and keys instead of
adding anything. ``R(m)`` (`rope_matrix`) is block-diagonal with the 2 x 2 rotations

.. math::

    \begin{pmatrix} \cos m\theta_i & -\sin m\theta_i \\
                    \sin m\theta_i & \cos m\theta_i \end{pmatrix}

on the pairs ``(2i, 2i + 1)`` (interleaved pairs, as in the RoFormer paper), acting on
column vectors. The query at position ``m`` becomes ``R(m) q`` and the key at position
``n`` becomes ``R(n) k``; since rotations compose by adding angles and
``R(m)^T = R(-m)``,

.. math::

    (R(m) q)^\top (R(n) k) = q^\top R(m)^\top R(n)\, k = q^\top R(n - m)\, k,

a score that depends on the positions only through the offset ``n - m``. Rows of an
array are vectors here (a sequence is (n, d), one token per row), so a row ``x`` is
rotated as ``x @ R.T``. `rope_forward` never forms ``R``: it multiplies the pairs by
cosines and sines, ``O(n d)`` work.

`rope_attention_forward` is self-attention with RoPE applied to the queries and keys
of every head, built from `lalib.attention` (projections, `split_heads`,
`attention_forward`, `merge_heads`) with `rope_forward` in between.

Angles are computed in float64 from the positions and frequencies, then the cosines
and sines are cast to the input's dtype: float32 stays float32. `rope_matrix`,
`rope_frequencies` are float64, and `sinusoidal_encoding` returns the dtype asked for.
"""

import numpy as np

from lalib import attention
from lalib._checks import (
    as_real_array,
    check_float_dtype,
    check_int,
    check_number,
    check_positive_finite,
)

__all__ = [
    "sinusoidal_encoding",
    "rope_frequencies",
    "rope_matrix",
    "rope_forward",
    "rope_backward",
    "rope",
    "rope_attention_forward",
    "rope_attention_backward",
    "rope_attention",
]

# Largest table or matrix, in entries, that this module builds (2 GiB in float64).
_MAX_ENTRIES = 2**28

# ------------------------------------------------------------------------------ helpers


def _even_width(d, name="d"):
    """`d` as an int; ValueError unless it is a positive even number."""
    d = check_int(d, name, minimum=1)
    if d > _MAX_ENTRIES:
        raise ValueError(f"{name} = {d} is larger than 2**28 (too wide to build)")
    if d % 2:
        raise ValueError(
            f"{name} must be even (the coordinates are rotated in pairs), got {d}"
        )
    return d


def _base(base):
    return check_positive_finite(base, "base")


def _angles(positions, d, base):
    """``positions[:, None] * theta[None, :]`` in float64: (n,), d -> (n, d/2)."""
    theta = base ** (-np.arange(0, d, 2, dtype=np.float64) / d)  # (d/2,)
    return np.asarray(positions, dtype=np.float64)[:, None] * theta  # (n, d/2)


def _positions(positions, n):
    """`positions` as a finite float64 (n,) array; ``arange(n)`` when None."""
    if positions is None:
        return np.arange(n, dtype=np.float64)  # (n,)
    positions = as_real_array(positions, "positions")
    if positions.ndim != 1 or positions.shape[0] != n:
        raise ValueError(
            f"positions must have shape (n,) = ({n},), one per row of x, "
            f"got shape {positions.shape}"
        )
    positions = positions.astype(np.float64, copy=False)
    if not np.all(np.isfinite(positions)):
        raise ValueError(f"positions must be finite numbers, got {positions}")
    return positions


# ---------------------------------------------------------------------------- encodings


def sinusoidal_encoding(n, d, base=10000.0, dtype=np.float64):
    """The sinusoidal position encodings of positions ``0..n-1``, one row each.

    Column ``2i`` is ``sin(p * theta_i)`` and column ``2i + 1`` is
    ``cos(p * theta_i)``, with ``theta_i = base**(-2i/d)``: pair i is the point of
    the unit circle at angle ``p * theta_i``.

    Parameters
    ----------
    n : int
        Number of positions, >= 0.
    d : int
        Width of each encoding, a positive even number.
    base : float
        Positive and finite; the slowest pair turns by ``base**(-(d-2)/d)`` per step.
    dtype : {numpy.float64, numpy.float32}
        Dtype of the result (the angles are computed in float64 first).

    Returns
    -------
    PE : ndarray, shape (n, d)

    Raises
    ------
    ValueError
        If `n` or `d` is not an integer of the documented range (`d` odd included),
        `base` is not a positive finite number, `dtype` is not float32 or float64, or
        the table would hold more than 2**28 entries.

    Examples
    --------
    Each (sin, cos) pair lies on the unit circle:

    >>> PE = sinusoidal_encoding(50, 8)
    >>> bool(np.allclose(PE[:, 0::2] ** 2 + PE[:, 1::2] ** 2, 1.0))
    True
    """
    n = check_int(n, "n", minimum=0)
    d = _even_width(d)
    base = _base(base)
    dtype = check_float_dtype(dtype, "dtype")
    if n * d > _MAX_ENTRIES:
        raise ValueError(
            f"an encoding of shape (n, d) = ({n}, {d}) has more than 2**28 entries"
        )
    angles = _angles(np.arange(n), d, base)  # (n, d/2)
    PE = np.empty((n, d), dtype=dtype)  # (n, d)
    PE[:, 0::2] = np.sin(angles)  # even columns: sines
    PE[:, 1::2] = np.cos(angles)  # odd columns: cosines
    return PE


def rope_frequencies(d, base=10000.0):
    """The angles per position of the d/2 rotated pairs, ``theta_i = base**(-2i/d)``.

    Parameters
    ----------
    d : int
        A positive even width.
    base : float
        Positive and finite.

    Returns
    -------
    theta : ndarray, shape (d/2,), float64
        From ``theta_0 = 1`` (one radian per position) down to
        ``base**(-(d-2)/d)``.

    Raises
    ------
    ValueError
        If `d` is not a positive even integer or `base` not a positive finite number.

    Examples
    --------
    >>> rope_frequencies(4, base=100.0)
    array([1. , 0.1])
    """
    d = _even_width(d)
    base = _base(base)
    return base ** (-np.arange(0, d, 2, dtype=np.float64) / d)  # (d/2,)


def rope_matrix(position, d, base=10000.0):
    """The rotation ``R(position)``: 2 x 2 rotation blocks on the pairs (2i, 2i + 1).

    Block i is ``[[cos a, -sin a], [sin a, cos a]]`` with ``a = position * theta_i``,
    acting on column vectors; a row vector ``x`` is rotated as ``x @ R.T``. This is
    the matrix `rope_forward` applies without forming it, for small examples.

    Parameters
    ----------
    position : float
        A finite real number (positions are usually integers).
    d : int
        A positive even width; the result is d x d.
    base : float
        Positive and finite.

    Returns
    -------
    R : ndarray, shape (d, d), float64
        Orthogonal, ``R(m).T @ R(n) == R(n - m)``.

    Raises
    ------
    ValueError
        If `position` is not a finite real number, `d` not a positive even integer
        (or d*d above 2**28), or `base` not a positive finite number.

    Examples
    --------
    With one pair, a quarter turn at position pi/2 (theta_0 = 1):

    >>> np.round(rope_matrix(np.pi / 2, 2), 12) + 0.0
    array([[ 0., -1.],
           [ 1.,  0.]])
    """
    position = check_number(position, "position")
    if not np.isfinite(position):
        raise ValueError(f"position must be a finite number, got {position!r}")
    d = _even_width(d)
    base = _base(base)
    if d * d > _MAX_ENTRIES:
        raise ValueError(f"a rotation of shape (d, d) = ({d}, {d}) is too large")
    a = _angles(np.array([position]), d, base)[0]  # (d/2,)
    c, s = np.cos(a), np.sin(a)  # (d/2,) each
    R = np.zeros((d, d))  # (d, d)
    i = np.arange(0, d, 2)  # first index of each pair
    R[i, i], R[i, i + 1] = c, -s
    R[i + 1, i], R[i + 1, i + 1] = s, c
    return R


# ---------------------------------------------------------------------------- RoPE


def rope_forward(x, positions=None, base=10000.0):
    """Rotate row m of `x` by its position: ``out[..., m, :] = R(p_m) x[..., m, :]``.

    Pair ``(2i, 2i + 1)`` of row m turns by the angle ``p_m * theta_i``:

        out[2i]     = cos * x[2i] - sin * x[2i + 1]
        out[2i + 1] = sin * x[2i] + cos * x[2i + 1]

    Parameters
    ----------
    x : ndarray, shape (..., n, d)
        Rows to rotate (queries or keys), d even. Leading axes (batch, heads) share
        the positions.
    positions : ndarray, shape (n,), optional
        Finite positions of the rows; ``arange(n)`` by default.
    base : float
        Positive and finite (`rope_frequencies`).

    Returns
    -------
    out : ndarray, shape (..., n, d)
        In the dtype of `x` (integers become float64).
    cache : tuple
        The cosines and sines (n, d/2) that `rope_backward` needs.

    Raises
    ------
    ValueError
        If `x` has fewer than 2 dimensions or an odd or zero last dimension,
        `positions` is not a finite (n,) array, or `base` not a positive finite
        number.

    Examples
    --------
    The norm of every row is kept: a rotation moves, it does not stretch.

    >>> x = np.ones((3, 4))
    >>> out, _ = rope_forward(x, positions=np.array([0.0, 5.0, 100.0]))
    >>> np.round(np.linalg.norm(out, axis=-1), 12)
    array([2., 2., 2.])
    """
    x = as_real_array(x, "x")
    if x.ndim < 2:
        raise ValueError(
            f"x must have at least 2 dimensions (..., n, d), got shape {x.shape}"
        )
    *lead, n, d = x.shape
    if d == 0 or d % 2:
        raise ValueError(
            f"x must have an even, positive last dimension d (pairs of coordinates "
            f"are rotated), got shape {x.shape}"
        )
    positions = _positions(positions, n)
    base = _base(base)
    angles = _angles(positions, d, base)  # (n, d/2)
    cos = np.cos(angles).astype(x.dtype, copy=False)  # (n, d/2)
    sin = np.sin(angles).astype(x.dtype, copy=False)  # (n, d/2)
    x_even, x_odd = x[..., 0::2], x[..., 1::2]  # (..., n, d/2) each
    out = np.empty_like(x)  # (..., n, d)
    out[..., 0::2] = cos * x_even - sin * x_odd
    out[..., 1::2] = sin * x_even + cos * x_odd
    return out, (cos, sin)


def rope_backward(dout, cache):
    """Gradient of `rope_forward` with respect to `x`: rotate back, ``R(p_m)^T dout``.

    The forward pass is linear in `x` with an orthogonal matrix per row, so its
    gradient is the rotation by the opposite angle. Positions get no gradient (they
    are data, not parameters).

    Parameters
    ----------
    dout : ndarray, shape (..., n, d)
        Cast to the cache's dtype (float32 stays float32).
    cache : tuple
        From `rope_forward`.

    Returns
    -------
    dx : ndarray, shape (..., n, d)
    """
    if not isinstance(cache, tuple) or len(cache) != 2:
        raise ValueError(
            "cache must be the (cos, sin) tuple returned by rope_forward, got "
            f"{type(cache).__name__}"
        )
    cos, sin = cache
    dout = as_real_array(dout, "dout")
    n, half = cos.shape
    if dout.ndim < 2 or dout.shape[-2:] != (n, 2 * half):
        raise ValueError(
            f"dout must have shape (..., n, d) = (..., {n}, {2 * half}), "
            f"got {dout.shape}"
        )
    dout = dout.astype(cos.dtype, copy=False)
    d_even, d_odd = dout[..., 0::2], dout[..., 1::2]  # (..., n, d/2) each
    dx = np.empty_like(dout)  # (..., n, d)
    dx[..., 0::2] = cos * d_even + sin * d_odd  # the transposed 2 x 2 block
    dx[..., 1::2] = -sin * d_even + cos * d_odd
    return dx


def rope(x, positions=None, base=10000.0):
    """`rope_forward` without the cache: the rotated rows alone.

    Returns
    -------
    out : ndarray, shape (..., n, d)
    """
    return rope_forward(x, positions, base)[0]


# ------------------------------------------------------------- attention with RoPE


def _validate_rope_attention(x, W_q, W_k, W_v, W_o, n_heads):
    x = as_real_array(x, "x")
    x, _, W_q, W_k, W_v, W_o, n_heads = attention._validate_mha(
        x, x, W_q, W_k, W_v, W_o, n_heads
    )
    d_k = W_q.shape[1] // n_heads
    if d_k % 2:
        raise ValueError(
            f"each head's query width d_k = {W_q.shape[1]} / n_heads({n_heads}) = "
            f"{d_k} must be even for RoPE (W_q {W_q.shape}, W_k {W_k.shape})"
        )
    return x, W_q, W_k, W_v, W_o, n_heads


def rope_attention_forward(
    x, W_q, W_k, W_v, W_o, n_heads=1, positions=None, base=10000.0, causal=False
):
    """Multi-head self-attention with rotary position embeddings on queries and keys.

    Project, split into heads, rotate each head's queries and keys by their
    positions (`rope_forward`), attend (`lalib.attention.attention_forward`), merge,
    project. The values are not rotated. The scores of a head are
    ``q_m^T R(p_n - p_m) k_n / sqrt(d_k)``: the only positional information the
    model gets is the offset between a query and a key.

    Parameters
    ----------
    x : ndarray, shape (..., n, D)
        The sequence (no position codes needed).
    W_q : ndarray, shape (D, h*d_k)
    W_k : ndarray, shape (D, h*d_k)
    W_v : ndarray, shape (D, h*d_v)
    W_o : ndarray, shape (h*d_v, M)
    n_heads : int
        h; must divide h*d_k and h*d_v, and d_k must be even.
    positions : ndarray, shape (n,), optional
        Finite positions of the rows; ``arange(n)`` by default.
    base : float
        Positive and finite (`rope_frequencies`).
    causal : bool
        Let query m see keys at positions <= m only (`lalib.attention.causal_mask`).

    Returns
    -------
    out : ndarray, shape (..., n, M)
        In the ``np.result_type`` of the five arrays.
    cache : tuple
        What `rope_attention_backward` needs; ``cache[-1]`` is the attention cache,
        whose weights (..., h, n, n) `rope_attention` returns.

    Raises
    ------
    ValueError
        If the shapes disagree (as in `lalib.attention.multi_head_attention_forward`),
        d_k is odd, `positions` is not a finite (n,) array, or `base` and `causal` are
        not what `rope_forward` and `lalib.attention.attention_forward` accept.
    """
    x, W_q, W_k, W_v, W_o, n_heads = _validate_rope_attention(
        x, W_q, W_k, W_v, W_o, n_heads
    )
    q = x @ W_q  # (..., n, D) @ (D, h*d_k) -> (..., n, h*d_k)
    k = x @ W_k  # (..., n, D) @ (D, h*d_k) -> (..., n, h*d_k)
    v = x @ W_v  # (..., n, D) @ (D, h*d_v) -> (..., n, h*d_v)
    Q = attention.split_heads(q, n_heads)  # (..., n, h*d_k) -> (..., h, n, d_k)
    K = attention.split_heads(k, n_heads)  # (..., n, h*d_k) -> (..., h, n, d_k)
    V = attention.split_heads(v, n_heads)  # (..., n, h*d_v) -> (..., h, n, d_v)
    Q_rot, rope_cache = rope_forward(Q, positions, base)  # (..., h, n, d_k)
    K_rot, _ = rope_forward(K, positions, base)  # the same angles: (..., h, n, d_k)
    O, att_cache = attention.attention_forward(Q_rot, K_rot, V, causal=causal)
    o = attention.merge_heads(O)  # (..., h, n, d_v) -> (..., n, h*d_v)
    out = o @ W_o  # (..., n, h*d_v) @ (h*d_v, M) -> (..., n, M)
    return out, (x, W_q, W_k, W_v, W_o, n_heads, o, rope_cache, att_cache)


def rope_attention_backward(dout, cache):
    """Gradients of `rope_attention_forward`, in argument order.

    Parameters
    ----------
    dout : ndarray, shape (..., n, M)
        Cast to the cache's dtype (float32 stays float32).
    cache : tuple
        From `rope_attention_forward`.

    Returns
    -------
    dx, dW_q, dW_k, dW_v, dW_o : ndarray
        Each of its argument's shape; the weight gradients are summed over every
        leading (batch) dimension. Positions and base get no gradient.
    """
    if not isinstance(cache, tuple) or len(cache) != 9:
        raise ValueError(
            "cache must be the tuple returned by rope_attention_forward, got "
            f"{type(cache).__name__}"
        )
    x, W_q, W_k, W_v, W_o, n_heads, o, rope_cache, att_cache = cache
    dout = as_real_array(dout, "dout")
    expected = o.shape[:-1] + (W_o.shape[1],)
    if dout.shape != expected:
        raise ValueError(
            f"dout must have shape (..., n, M) = {expected}, got {dout.shape}"
        )
    dout = dout.astype(o.dtype, copy=False)  # float32 stays float32

    def rows(a):  # (..., n, X) -> (N*n, X)
        return a.reshape(-1, a.shape[-1])

    dW_o = rows(o).T @ rows(dout)  # (h*d_v, N*n) @ (N*n, M) -> (h*d_v, M)
    do = dout @ W_o.T  # (..., n, M) @ (M, h*d_v) -> (..., n, h*d_v)
    dO = attention.split_heads(do, n_heads)  # (..., n, h*d_v) -> (..., h, n, d_v)
    dQ_rot, dK_rot, dV = attention.attention_backward(dO, att_cache)
    dQ = rope_backward(dQ_rot, rope_cache)  # rotate back: (..., h, n, d_k)
    dK = rope_backward(dK_rot, rope_cache)  # (..., h, n, d_k)
    dq = attention.merge_heads(dQ)  # (..., h, n, d_k) -> (..., n, h*d_k)
    dk = attention.merge_heads(dK)  # (..., h, n, d_k) -> (..., n, h*d_k)
    dv = attention.merge_heads(dV)  # (..., h, n, d_v) -> (..., n, h*d_v)
    dW_q = rows(x).T @ rows(dq)  # (D, N*n) @ (N*n, h*d_k) -> (D, h*d_k)
    dW_k = rows(x).T @ rows(dk)  # (D, N*n) @ (N*n, h*d_k) -> (D, h*d_k)
    dW_v = rows(x).T @ rows(dv)  # (D, N*n) @ (N*n, h*d_v) -> (D, h*d_v)
    dx = dq @ W_q.T + dk @ W_k.T + dv @ W_v.T  # (..., n, D): x feeds all three
    return dx, dW_q, dW_k, dW_v, dW_o


def rope_attention(
    x, W_q, W_k, W_v, W_o, n_heads=1, positions=None, base=10000.0, causal=False
):
    """`rope_attention_forward` returning ``(out, weights)`` instead of a cache, as
    `lalib.attention.multi_head_attention` does.

    Returns
    -------
    out : ndarray, shape (..., n, M)
    weights : ndarray, shape (..., h, n, n)
        Each head's attention weights.
    """
    out, cache = rope_attention_forward(
        x, W_q, W_k, W_v, W_o, n_heads, positions, base, causal
    )
    return out, cache[-1][3]
