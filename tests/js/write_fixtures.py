"""Write the fixtures tests/js checks lamath.js and the explorables' bundles against.

    .venv/bin/python tests/js/write_fixtures.py OUT_DIR     (``make node`` does this)

lalib computes every expected value from inputs drawn with a seeded
``numpy.random.default_rng``, so the browser's math (``lalib/display/js/lamath.js``) is
checked against the library the chapters use, not against a second JavaScript guess.
One JSON file per lamath function, ``OUT_DIR/<function>.json``: a list of cases, each
with the arguments lamath takes and the result lalib gives. JSON has no NaN or
infinity, so they are written as the strings ``"NaN"``, ``"Infinity"`` and
``"-Infinity"`` (tests/js/fixtures.js turns them back into numbers). ``errors.json``
holds inputs that lalib refuses with a ValueError: lamath must throw an Error naming
the same shapes. Each case has a ``scale`` (the size of the terms its result sums),
against which the tests measure rounding (see tests/js/lamath.test.js).

``OUT_DIR/bundles/`` gets the bundled ES module of every explorable in
``lalib/display/js`` (each file with an ``export default``), as the widget classes ship
them, and ``bundles/index.json`` lists them.
"""

import json
import math
import re
import sys
from pathlib import Path

import numpy as np

from lalib import (
    activations,
    attention,
    conv,
    decomp,
    linear,
    optim,
    positions,
    transformer,
)
from lalib.display.explorable import JS_DIR, bundle

SEED = 20261129


def encode(value):
    """`value` (arrays, numbers, bools, nested lists/dicts) as JSON-ready data."""
    if isinstance(value, np.ndarray):
        return encode(value.tolist())
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return v
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"cannot encode {type(value).__name__}")


def _scale(*arrays):
    """The largest finite magnitude among `arrays` (at least 1e-300): the tolerance's
    unit."""
    finite = [np.abs(a[np.isfinite(a)]) for a in map(np.asarray, arrays)]
    return max([1e-300] + [float(f.max()) for f in finite if f.size])


def _product_scale(A, B):
    """max |A| @ |B|: the size of the terms a product sums (NaN/inf ignored)."""
    A, B = np.nan_to_num(np.abs(A), posinf=0), np.nan_to_num(np.abs(B), posinf=0)
    return _scale(A @ B)


# ------------------------------------------------------------------- products, relu


def matmul_cases(rng):
    cases = []
    for n, k, m in [(1, 1, 1), (2, 2, 2), (3, 4, 2), (5, 1, 3), (4, 7, 6), (1, 5, 1)]:
        A = rng.standard_normal((n, k)) * rng.choice([1e-3, 1.0, 1e3])
        B = rng.standard_normal((k, m))
        cases.append({"A": A, "B": B, "expected": A @ B, "scale": _product_scale(A, B)})
    return cases


def transpose_cases(rng):
    return [
        {"A": A, "expected": A.T.copy()}
        for A in (rng.standard_normal(s) for s in [(1, 1), (2, 3), (4, 1), (3, 5)])
    ]


def matvec_cases(rng):
    cases = []
    for m, n in [(1, 1), (2, 2), (3, 2), (2, 5), (6, 4)]:
        W, x = rng.standard_normal((m, n)), rng.standard_normal(n) * 10
        cases.append(
            {"W": W, "x": x, "expected": W @ x, "scale": _product_scale(W, x[:, None])}
        )
    return cases


def affine_cases(rng):
    """y = W x + b as lalib computes it: one row through ``linear_forward``."""
    W, x, b = np.array([[1.0, 2], [3, 4]]), np.array([5.0, 6]), np.array([1.0, 1])
    specs = [(W, x, b)]  # the worked example of chapter 1: [18, 40]
    for m, n in [(2, 2), (2, 2), (3, 2), (2, 3), (4, 4)]:
        specs.append(
            (
                rng.standard_normal((m, n)),
                rng.standard_normal(n),
                rng.standard_normal(m),
            )
        )
    cases = []
    for W, x, b in specs:
        y = linear.linear_forward(x[None], W.T, b)[0][
            0
        ]  # (1, n) @ (n, m) + (m,) -> (m,)
        scale = _scale(_product_scale(W, x[:, None]), b)
        cases.append({"W": W, "x": x, "b": b, "expected": y, "scale": scale})
    assert cases[0]["expected"].tolist() == [18.0, 40.0]
    return cases


def relu_cases(rng):
    v = rng.standard_normal(7)
    v[[1, 4]] = [np.nan, 0.0]
    M = rng.standard_normal((3, 4))
    M[0, 0], M[1, 2], M[2, 3] = np.nan, np.inf, -np.inf
    return [
        {"x": x, "expected": activations.relu(x)} for x in (v, M, np.array([-0.0, 3.5]))
    ]


def det2_cases(rng):
    mats = [np.array([[1.0, 2], [3, 4]]), np.array([[1.0, 2], [2, 4]]), np.eye(2)]
    mats += [rng.standard_normal((2, 2)) * s for s in (1e-4, 1.0, 1.0, 1e4)]
    return [
        {
            "W": W,
            "expected": float(np.linalg.det(W)),
            "scale": abs(W[0, 0] * W[1, 1]) + abs(W[0, 1] * W[1, 0]),
        }
        for W in mats
    ]


# ----------------------------------------------------------------- softmax, attention


def _masked_softmax(S, mask):
    """lalib's masked softmax: what attention_forward does to its scores."""
    with np.errstate(invalid="ignore"):
        z = S if mask is None else np.where(mask, S, -np.inf)
        return activations.softmax(z, axis=-1)


def softmax_cases(rng):
    specs = []
    for n, m in [(1, 1), (2, 3), (4, 5), (3, 8)]:
        specs.append((rng.standard_normal((n, m)) * 3, None))
    big = rng.choice([-1e4, 1e4], size=(4, 5)) + rng.standard_normal((4, 5))
    specs.append((big, None))  # +-1e4 logits: exp would overflow without the max
    specs.append(
        (
            np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4], [1e4, 1e4 - 1, 1e4 - 2]]),
            None,
        )
    )
    S = rng.standard_normal((4, 4))
    S[0, 1], S[1, :] = -np.inf, -np.inf  # one -inf entry; a row of -inf: zeros
    S[2, 3] = np.nan  # a NaN logit: its row is NaN
    S[3, 0] = np.inf  # a +inf logit: its row is NaN too (inf - inf)
    specs.append((S, None))
    for n, m in [(3, 3), (4, 6), (5, 2)]:
        mask = rng.random((n, m)) < 0.6
        mask[0] = False  # a fully masked row: zeros
        specs.append((rng.standard_normal((n, m)) * 2, mask))
    S = rng.standard_normal((3, 4))
    S[0, 2] = np.nan  # NaN where masked: hidden by the mask; NaN where not: NaN row
    S[1, 0] = np.nan
    S[2, 1] = np.inf
    mask = np.array([[1, 1, 0, 1], [1, 0, 1, 1], [1, 0, 1, 1]], bool)
    specs.append((S, mask))
    specs.append((rng.choice([-1e4, 1e4], size=(3, 4)), rng.random((3, 4)) < 0.7))
    return [
        {"S": S, "mask": mask, "expected": _masked_softmax(S, mask)}
        for S, mask in specs
    ]


def causal_mask_cases(rng):
    shapes = [(1, 1), (3, 3), (5, 5), (1, 4), (2, 5), (5, 2), (4, 1), (0, 3), (3, 0)]
    return [
        {"nQ": nq, "nK": nk, "expected": attention.causal_mask(nq, nk)}
        for nq, nk in shapes
    ]


def attention_cases(rng):
    specs = []
    for nq, nk, dk, dv in [
        (1, 1, 1, 1),
        (2, 2, 2, 2),
        (3, 4, 2, 3),
        (4, 4, 4, 2),
        (5, 3, 2, 2),
    ]:
        Q, K, V = (rng.standard_normal(s) for s in [(nq, dk), (nk, dk), (nk, dv)])
        specs.append((Q, K, V, {}))
        specs.append((Q, K, V, {"scale": float(rng.uniform(0.1, 8))}))
        specs.append((Q, K, V, {"causal": True}))
        mask = rng.random((nq, nk)) < 0.6
        specs.append((Q, K, V, {"mask": mask, "causal": True, "scale": 2.0}))
        specs.append((Q, K, V, {"mask": mask}))
    # the chapter's toy: a query that looks mostly at the second key
    Q, K, V = (
        np.array([[0.0, 2]]),
        np.array([[2.0, 0], [0, 2]]),
        np.array([[10.0, 0], [0, 10]]),
    )
    specs.append((Q, K, V, {}))
    # a large scale (a cold softmax); more queries than keys with a causal mask (a
    # first query that sees nothing attends to nothing: zeros)
    Q, K, V = (rng.standard_normal(s) for s in [(4, 2), (2, 2), (2, 3)])
    specs.append((Q, K, V, {"scale": 50.0}))
    specs.append((Q, K, V, {"causal": True}))
    # NaN / inf where a mask hides it: lalib neither reads a masked key's value nor
    # lets a NaN query's weights leak into the keys it may not see
    Q, K, V = (rng.standard_normal(s) for s in [(3, 2), (3, 2), (3, 2)])
    V[2] = [np.nan, np.inf]  # the last key's value: only the last query may read it
    specs.append((Q, K, V, {"causal": True}))
    Q2 = Q.copy()
    Q2[1, 0] = np.nan  # query 1 is NaN: NaN weights where it may look, 0 elsewhere
    specs.append((Q2, K, V[[0, 1, 0]], {"causal": True}))
    specs.append((Q2, K, V[[0, 1, 0]], {}))
    cases = []
    for Q, K, V, kw in specs:
        with np.errstate(invalid="ignore"):
            out, cache = attention.attention_forward(Q, K, V, **kw)
            scale = cache[5]
            scores = (
                Q * scale
            ) @ K.T  # attention_forward's step 1 and 2, before the mask
        opts = {
            "scale": kw.get("scale"),
            "mask": kw.get("mask"),
            "causal": kw.get("causal", False),
        }
        cases.append(
            {
                "Q": Q,
                "K": K,
                "V": V,
                "options": opts,
                "expected": {"scores": scores, "weights": cache[3], "out": out},
                "scale": {
                    "scores": _product_scale(Q * scale, K.T),
                    "weights": 1.0,
                    "out": _product_scale(np.ones((1, len(K))), V),
                },
            }
        )
    return cases


# ------------------------------------------------------------------------ convolution


def _conv_specs(rng):
    """(x (C, H, W), w (C, KH, KW), stride, padding): strides 1-3, paddings 0-2,
    C = 1 and 3."""
    specs = [
        # the chapter's 5x5 example with a 3x3 filter
        (np.arange(25.0).reshape(1, 5, 5), np.ones((1, 3, 3)), 1, 0),
    ]
    for C in (1, 3):
        for stride in (1, 2, 3):
            for padding in (0, 1, 2):
                H, W = rng.integers(5, 9, size=2)
                x = rng.standard_normal((C, H, W))
                w = rng.standard_normal((C, 3, 3))
                specs.append((x, w, stride, padding))
    specs.append((rng.standard_normal((2, 6, 7)), rng.standard_normal((2, 2, 3)), 2, 1))
    specs.append((rng.standard_normal((1, 4, 4)), rng.standard_normal((1, 4, 4)), 1, 0))
    specs.append((rng.standard_normal((3, 3, 3)), rng.standard_normal((3, 1, 1)), 3, 0))
    return specs


def output_size_cases(rng):
    cases = []
    for n in (1, 3, 5, 7, 8):
        for k in (1, 2, 3, 5):
            for stride in (1, 2, 3):
                for padding in range(k):  # lalib allows padding up to k - 1
                    if k <= n + 2 * padding:
                        got = conv.output_size((n, n), (k, k), stride, padding)
                        cases.append(
                            {
                                "n": n,
                                "k": k,
                                "stride": stride,
                                "padding": padding,
                                "expected": got[0],
                            }
                        )
    return cases


def conv2d_cases(rng):
    cases = []
    for x, w, stride, padding in _conv_specs(rng):
        out = conv.conv2d(x[None], w[None], stride=stride, padding=padding)[0, 0]
        cases.append(
            {
                "x": x,
                "w": w,
                "stride": stride,
                "padding": padding,
                "expected": out,
                "scale": _scale(x) * float(np.abs(w).sum()),
            }
        )
    return cases


def conv_transpose_cases(rng):
    """One channel, no padding: the whole output and the output after the first
    `upto` pixels stamped (lalib on the image with the later pixels set to 0)."""
    cases = []
    for H, W, K, stride in [(3, 3, 3, 2), (2, 4, 4, 2), (3, 2, 2, 1), (2, 2, 3, 3)]:
        x = rng.standard_normal((H, W))
        w = rng.standard_normal((K, K))
        for upto in (1, H * W // 2, H * W):
            shown = np.where(np.arange(H * W).reshape(H, W) < upto, x, 0.0)
            out = conv.conv_transpose2d(shown[None, None], w[None, None], stride=stride)
            cases.append(
                {
                    "x": x,
                    "w": w,
                    "stride": stride,
                    "upto": upto,
                    "expected": out[0, 0],
                    "scale": _scale(x) * float(np.abs(w).sum()),
                }
            )
    return cases


def im2col_cases(rng):
    """The im2col matrix of one image: column i * W' + j is output pixel (i, j)."""
    cases = []
    for x, w, stride, padding in _conv_specs(rng):
        kernel = w.shape[1:]
        cols = conv.im2col(x[None], kernel, stride=stride, padding=padding)[0]
        Ho, Wo = conv.output_size(x.shape[1:], kernel, stride, padding)
        cases.append(
            {
                "x": x,
                "kernel": list(kernel),
                "stride": stride,
                "padding": padding,
                "outShape": [Ho, Wo],
                "expected": cols,  # (C*KH*KW, H'*W')
            }
        )
    return cases


def toeplitz_cases(rng):
    """The Toeplitz matrix of one filter: row i * W' + j is output pixel (i, j)."""
    cases = []
    for x, w, stride, padding in _conv_specs(rng):
        T = conv.toeplitz_matrix(w[None], x.shape, stride=stride, padding=padding)
        Ho, Wo = conv.output_size(x.shape[1:], w.shape[1:], stride, padding)
        cases.append(
            {
                "w": w,
                "inputShape": list(x.shape),
                "stride": stride,
                "padding": padding,
                "outShape": [Ho, Wo],
                "expected": T,  # (H'*W', C*H*W)
            }
        )
    return cases


# ------------------------------------------------------------- eigen, descent, PCA


def eig_sym2_cases(rng):
    mats = [
        np.array([[2.0, 1], [1, 2]]),
        np.array([[3.0, 0], [0, 1]]),  # diagonal, descending on the diagonal
        np.array([[1.0, 0], [0, 3]]),
        2 * np.eye(2),  # a multiple of I: eigh gives the standard basis
        np.array([[0.0, 1], [1, 0]]),
        np.array([[1.0, 1], [1, 1 + 1e-9]]),  # nearly singular
        np.array([[1.0, 1e-9], [1e-9, 1 + 1e-9]]),  # nearly a multiple of I
        np.array([[-4.0, 1], [1, -2]]),  # negative definite
    ]
    for s in (1e-6, 1e6) + (1.0,) * 30:
        B = rng.standard_normal((2, 2)) * s
        mats.append((B + B.T) / 2)
    cases = []
    for A in mats:
        values, vectors = np.linalg.eigh(A)  # ascending; eigenvectors as columns
        V = vectors.T.copy()  # rows: V[k] belongs to values[k], as lamath returns them
        for k in range(2):  # lamath's orientation: the larger entry positive, the
            # first on a tie (within rounding), as lalib.decomp.pca orients components
            big = V[k, 0] if abs(V[k, 0]) >= abs(V[k, 1]) - 1e-15 else V[k, 1]
            V[k] *= np.sign(big)
        cases.append(
            {
                "A": A,
                "expected": {"values": values, "vectors": V},
                "scale": float(np.abs(A).max()),
                "gap": float(values[1] - values[0]),
            }
        )
    return cases


def _quadratic(rng, d, lam):
    """A (d, d) symmetric with eigenvalues `lam`, and b."""
    Qm, _ = np.linalg.qr(rng.standard_normal((d, d)))
    A = Qm @ np.diag(lam) @ Qm.T
    return (A + A.T) / 2, rng.standard_normal(d)


def quadratic_cases(rng):
    cases = []
    for d, lam in [
        (2, [1.0, 3.0]),
        (2, [0.5, 10.0]),
        (3, [1.0, 2.0, 4.0]),
        (2, [-1.0, 2.0]),
    ]:
        A, b = _quadratic(rng, d, lam)
        for _ in range(3):
            x = rng.standard_normal(d) * 3
            cases.append(
                {
                    "x": x,
                    "A": A,
                    "b": b,
                    "loss": optim.quadratic_loss(x, A, b),
                    "grad": optim.quadratic_grad(x, A, b),
                    "scale": float(
                        np.abs(x) @ np.abs(A) @ np.abs(x) + np.abs(b) @ np.abs(x)
                    ),
                    "gradScale": _scale(np.abs(A) @ np.abs(x) + np.abs(b)),
                }
            )
    return cases


def gd_cases(rng):
    cases = []
    specs = [
        ([1.0, 3.0], 0.1, 25),  # converges
        ([1.0, 3.0], 0.6, 25),  # 0.6 < 2/3: converges, oscillating along the steep axis
        ([0.5, 10.0], 0.19, 40),  # just below 2 / lambda_max = 0.2
        ([0.5, 10.0], 0.21, 40),  # just beyond 2 / lambda_max: diverges
        ([1.0, 4.0], 1.0, 30),  # far beyond: grows by 3x per step
        ([1.0, 2.0, 4.0], 0.3, 20),
        ([1.0, 3.0], 2.0, 0),  # no steps: just x0
        ([1.0, 4.0], 1.0, 660),  # until it overflows: inf, then NaN, as in NumPy
    ]
    for lam, lr, steps in specs:
        A, b = _quadratic(rng, len(lam), lam)
        x0 = rng.standard_normal(len(lam)) * 2

        def grad(x, A=A, b=b):
            return optim.quadratic_grad(x, A, b)

        with np.errstate(over="ignore", invalid="ignore"):
            path = optim.gradient_descent(grad, x0, lr=lr, steps=steps)
        cases.append(
            {"A": A, "b": b, "x0": x0, "lr": lr, "steps": steps, "expected": path}
        )
    return cases


def covariance_cases(rng):
    cases = []
    for N, D in [(2, 1), (2, 2), (3, 2), (10, 2), (25, 2), (7, 3)]:
        X = rng.standard_normal((N, D)) * rng.uniform(0.5, 5, size=D) + rng.uniform(
            -10, 10, size=D
        )
        C, mean = decomp.covariance(X)
        # rounding of the mean shifts the centred data by eps |X|: so the terms' size
        # is that of |X|^T |X|, not of the centred product
        cases.append(
            {
                "X": X,
                "expected": {"C": C, "mean": mean},
                "scale": {
                    "C": _scale(np.abs(X).T @ np.abs(X) / (N - 1)),
                    "mean": _scale(X),
                },
            }
        )
    X = np.array([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]])  # no spread: C = 0
    C, mean = decomp.covariance(X)
    cases.append(
        {"X": X, "expected": {"C": C, "mean": mean}, "scale": {"C": 1.0, "mean": 2.0}}
    )
    return cases


# ------------------------------------------------------------------ rotary positions


def rope_frequencies_cases(rng):
    return [
        {"d": d, "base": base, "expected": positions.rope_frequencies(d, base)}
        for d in (2, 4, 8, 16)
        for base in (10000.0, 100.0, 10.0)
    ]


def rope_rotate_cases(rng):
    """One vector at one position: `rope` on a single row, and the same by the
    block-diagonal `rope_matrix` (the two must agree)."""
    cases = []
    for d in (2, 4, 8, 16):
        for position in (0, 1, 7, 31, 100):
            for base in (10000.0, 100.0):
                x = rng.standard_normal(d) * rng.choice([1e-3, 1.0, 1e3])
                out = positions.rope(x[None], np.array([position]), base)[0]  # (d,)
                by_matrix = positions.rope_matrix(position, d, base) @ x
                assert np.allclose(out, by_matrix, rtol=1e-12, atol=1e-12 * _scale(x))
                cases.append(
                    {
                        "x": x,
                        "position": position,
                        "base": base,
                        "expected": out,
                        "byMatrix": by_matrix,
                        "scale": _scale(x),
                    }
                )
    return cases


def rope_pair_scores_cases(rng):
    """(R(m) q) . (R(n) k) pair by pair, with `rope_matrix`: the terms and their sum."""
    cases = []
    for d in (4, 8):
        for m, n in [(0, 0), (3, 7), (10, 14), (31, 0), (0, 31), (12, 12)]:
            for base in (10000.0, 100.0):
                q, k = rng.standard_normal(d), rng.standard_normal(d)
                qm = positions.rope_matrix(m, d, base) @ q  # (d,)
                kn = positions.rope_matrix(n, d, base) @ k
                terms = (qm * kn).reshape(d // 2, 2).sum(axis=1)  # (d/2,)
                cases.append(
                    {
                        "q": q,
                        "k": k,
                        "m": m,
                        "n": n,
                        "base": base,
                        "expected": {"terms": terms, "score": float(qm @ kn)},
                        # each rotated term mixes the pair's coordinates
                        "scale": float(np.abs(q).sum() * np.abs(k).sum()),
                    }
                )
    return cases


# ---------------------------------------------------------------------- layer norm


def layer_norm_cases(rng):
    """One row through `transformer.layer_norm` (gamma = 1, beta = 0): the mean, the
    centred row ``centering_matrix(d) @ x``, sigma = 1 / rstd, and the output."""
    cases = []
    rows = [
        rng.standard_normal(d) * rng.choice([1e-3, 1.0, 1e3]) for d in (1, 2, 3, 3, 8)
    ]
    rows += [
        np.array([2.0, 0.5, -0.4]),  # the explorer's default
        np.array([1.5, 1.5, 1.5]),  # constant: P x = 0, out = 0
        1e4 + rng.standard_normal(3),  # a large mean against a small spread
        np.array([0.1, 0.1, 0.1]),  # constant, though 0.1 is not exact in binary
    ]
    for x in rows:
        for eps in (1e-5, 1e-2):
            d = len(x)
            out, (_, rstd, _) = transformer.layer_norm_forward(
                x[None], np.ones(d), np.zeros(d), eps
            )
            cases.append(
                {
                    "x": x,
                    "eps": eps,
                    "expected": {
                        "mean": float(x.mean()),
                        "centred": transformer.centering_matrix(d) @ x,
                        "sigma": float(1 / rstd[0, 0]),
                        "out": out[0],
                    },
                    "scale": _scale(x),
                    # out = P x / sigma carries P x's rounding divided by sigma
                    "outScale": _scale(x) * float(rstd[0, 0]),
                }
            )
    return cases


# ------------------------------------------------------------------------ errors


def _refused(call):
    """lalib's ValueError message for `call` (which must raise)."""
    try:
        call()
    except ValueError as err:
        return str(err)
    raise AssertionError("lalib accepted input the fixture says it refuses")


def error_cases(rng):
    """Inputs lalib refuses; lamath must throw an Error whose message holds `names`."""
    A23, A22, A32 = (
        rng.standard_normal((2, 3)),
        rng.standard_normal((2, 2)),
        rng.standard_normal((3, 2)),
    )
    x4 = rng.standard_normal(4)
    cases = [
        {
            "fn": "matmul",
            "args": [A23, A22],
            "names": ["(2, 3)", "(2, 2)"],
            "lalib": _refused(lambda: linear.linear_forward(A23, A22, np.zeros(2))),
        },
        {
            "fn": "matvec",
            "args": [A23, x4],
            "names": ["(2, 3)", "(4,)"],
            "lalib": _refused(
                lambda: linear.linear_forward(x4[None], A23.T, np.zeros(2))
            ),
        },
        {
            "fn": "affine",
            "args": [A32, np.ones(2), np.ones(2)],
            "names": ["(3, 2)", "(2,)"],
            "lalib": _refused(
                lambda: linear.linear_forward(np.ones((1, 2)), A32.T, np.ones(2))
            ),
        },
        {
            "fn": "softmaxRows",
            "args": [A23, np.ones((3, 2), bool)],
            "names": ["(2, 3)", "(3, 2)"],
            "lalib": _refused(
                lambda: attention.attention_forward(
                    A22, A32, A32, mask=np.ones((3, 2), bool)
                )
            ),
        },
        {
            "fn": "attention",
            "args": [A23, A22, A22, {}],
            "names": ["(2, 3)", "(2, 2)"],
            "lalib": _refused(lambda: attention.attention_forward(A23, A22, A22)),
        },
        {
            "fn": "attention",
            "args": [A22, A22, A32, {}],
            "names": ["(2, 2)", "(3, 2)"],
            "lalib": _refused(lambda: attention.attention_forward(A22, A22, A32)),
        },
        {
            "fn": "outputSize",
            "args": [2, 5, 1, 1],
            "names": ["5", "2", "1"],
            "lalib": _refused(lambda: conv.output_size((2, 2), (5, 5), 1, 1)),
        },
        {
            "fn": "outputSize",
            "args": [5, 3, 1, 3],
            "names": ["3"],
            "lalib": _refused(lambda: conv.output_size((5, 5), (3, 3), 1, 3)),
        },
        {
            "fn": "conv2d",
            "args": [np.ones((3, 5, 5)), np.ones((1, 3, 3)), {}],
            "names": ["3", "1"],
            "lalib": _refused(
                lambda: conv.conv2d(np.ones((1, 3, 5, 5)), np.ones((1, 1, 3, 3)))
            ),
        },
        {
            "fn": "ropeFrequencies",
            "args": [7],
            "names": ["7"],
            "lalib": _refused(lambda: positions.rope_frequencies(7)),
        },
        {
            "fn": "covariance",
            "args": [np.ones((1, 2))],
            "names": ["1"],
            "lalib": _refused(lambda: decomp.covariance(np.ones((1, 2)))),
        },
        {
            "fn": "layerNorm",
            "args": [np.ones(3), 0.0],
            "names": ["eps", "0"],
            "lalib": _refused(
                lambda: transformer.layer_norm(
                    np.ones((1, 3)), np.ones(3), np.zeros(3), 0.0
                )
            ),
        },
    ]
    return cases


FIXTURES = {
    "matmul": matmul_cases,
    "transpose": transpose_cases,
    "matvec": matvec_cases,
    "affine": affine_cases,
    "relu": relu_cases,
    "det2": det2_cases,
    "softmaxRows": softmax_cases,
    "causalMask": causal_mask_cases,
    "attention": attention_cases,
    "outputSize": output_size_cases,
    "conv2d": conv2d_cases,
    "convTranspose2d": conv_transpose_cases,
    "im2colColumn": im2col_cases,
    "toeplitzRow": toeplitz_cases,
    "eigSym2": eig_sym2_cases,
    "quadratic": quadratic_cases,
    "gdQuadratic": gd_cases,
    "covariance": covariance_cases,
    "ropeFrequencies": rope_frequencies_cases,
    "ropeRotate": rope_rotate_cases,
    "ropePairScores": rope_pair_scores_cases,
    "layerNorm": layer_norm_cases,
    "errors": error_cases,
}


def explorable_modules():
    """The ES modules in JS_DIR that export a default (an explorable), sorted."""
    return sorted(
        p.name
        for p in JS_DIR.glob("*.js")
        if re.search(r"^export\s+default\b", p.read_text(encoding="utf-8"), re.M)
    )


def main(out_dir):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    counts = {}
    for name, make in FIXTURES.items():
        cases = make(rng)
        counts[name] = len(cases)
        text = json.dumps(encode(cases), allow_nan=False, separators=(",", ":"))
        (out / f"{name}.json").write_text(text, encoding="utf-8")
    bundles = out / "bundles"
    bundles.mkdir(exist_ok=True)
    for old in bundles.glob("*.mjs"):
        old.unlink()
    modules = explorable_modules()
    for name in modules:
        # .mjs: an ES module whatever package.json says
        (bundles / f"{Path(name).stem}.mjs").write_text(bundle(name), encoding="utf-8")
    (bundles / "index.json").write_text(json.dumps(modules), encoding="utf-8")
    (out / "index.json").write_text(json.dumps(counts, indent=1), encoding="utf-8")
    total = sum(counts.values())
    print(
        f"wrote {total} lamath cases ({len(counts)} files) and {len(modules)} "
        f"explorable bundle(s) to {out}"
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: write_fixtures.py OUT_DIR")
    main(sys.argv[1])
