"""lalib.lowrank: truncated SVDs (Eckart–Young) and low-rank updates (LoRA)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lalib import lowrank, mlp
from lalib.gradcheck import check_gradients
from lalib.losses import softmax_cross_entropy

SHAPES = [(1, 1), (5, 3), (3, 5), (8, 8), (12, 7)]  # (D, M)


def _brute_rank_r(W, r):
    """The truncated SVD written out as a sum of r outer products."""
    U, s, Vt = np.linalg.svd(W)
    return sum(s[i] * np.outer(U[:, i], Vt[i]) for i in range(r))


# ------------------------------------------------------------------- Eckart–Young


@pytest.mark.parametrize("D, M", SHAPES)
def test_low_rank_approx_is_the_truncated_svd(rng, D, M):
    W = rng.standard_normal((D, M))
    for r in range(1, min(D, M) + 1):
        W_r = lowrank.low_rank_approx(W, r)
        np.testing.assert_allclose(W_r, _brute_rank_r(W, r), atol=1e-12)
        assert np.linalg.matrix_rank(W_r) == r
        L, R = lowrank.low_rank_factors(W, r)
        assert L.shape == (D, r) and R.shape == (r, M)
        np.testing.assert_allclose(L @ R, W_r, atol=1e-12)


@pytest.mark.parametrize("D, M", SHAPES)
def test_full_rank_returns_W(rng, D, M):
    W = rng.standard_normal((D, M))
    np.testing.assert_allclose(lowrank.low_rank_approx(W, min(D, M)), W, atol=1e-12)


@pytest.mark.parametrize("D, M", SHAPES)
def test_errors_are_the_tail_of_the_spectrum(rng, D, M):
    W = rng.standard_normal((D, M))
    s, fro, spec = lowrank.eckart_young_errors(W)
    K = min(D, M)
    np.testing.assert_allclose(s, np.linalg.svd(W, compute_uv=False), rtol=1e-12)
    assert fro.shape == spec.shape == (K + 1,)
    np.testing.assert_allclose(fro[0], np.linalg.norm(W), rtol=1e-12)
    assert fro[K] == 0 and spec[K] == 0
    for r in range(1, K + 1):
        E = W - lowrank.low_rank_approx(W, r)
        # measured distances, against the theorem's tail sums
        np.testing.assert_allclose(np.linalg.norm(E), fro[r], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(np.linalg.norm(E, 2), spec[r], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(fro[r] ** 2, np.sum(s[r:] ** 2), atol=1e-12)


def test_truncated_svd_beats_random_rank_r_matrices(rng):
    W = rng.standard_normal((10, 6))
    for r in (1, 2, 4):
        best = np.linalg.norm(W - lowrank.low_rank_approx(W, r))
        best2 = np.linalg.norm(W - lowrank.low_rank_approx(W, r), 2)
        for _ in range(200):
            # a random rank-r matrix, and the least-squares one in the same column space
            P = rng.standard_normal((10, r)) @ rng.standard_normal((r, 6))
            Q, _ = np.linalg.qr(rng.standard_normal((10, r)))
            for cand in (P, Q @ (Q.T @ W)):
                assert np.linalg.norm(W - cand) >= best - 1e-12
                assert np.linalg.norm(W - cand, 2) >= best2 - 1e-12


def test_known_answer_diagonal():
    s, fro, spec = lowrank.eckart_young_errors(np.diag([3.0, 4.0, 0.0]))
    np.testing.assert_array_equal(s, [4.0, 3.0, 0.0])
    np.testing.assert_allclose(fro, [5.0, 3.0, 0.0, 0.0])
    np.testing.assert_array_equal(spec, [4.0, 3.0, 0.0, 0.0])
    np.testing.assert_allclose(
        lowrank.low_rank_approx(np.diag([3.0, 4.0, 0.0]), 1), np.diag([0.0, 4.0, 0.0])
    )


def test_small_tail_keeps_its_accuracy():
    # singular values 1 and 1e-10: the tail is accumulated from the small end
    W = np.diag([1.0, 1e-10])
    _, fro, _ = lowrank.eckart_young_errors(W)
    assert fro[1] == pytest.approx(1e-10, rel=1e-12)


@given(
    D=st.integers(1, 6),
    M=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_hypothesis_eckart_young(D, M, seed, data):
    W = np.random.default_rng(seed).standard_normal((D, M))
    r = data.draw(st.integers(1, min(D, M)))
    s, fro, spec = lowrank.eckart_young_errors(W)
    E = W - lowrank.low_rank_approx(W, r)
    assert np.linalg.norm(E) == pytest.approx(fro[r], rel=1e-8, abs=1e-10)
    assert np.linalg.norm(E, 2) == pytest.approx(spec[r], rel=1e-8, abs=1e-10)
    assert np.all(np.diff(s) <= 1e-12) and np.all(np.diff(fro) <= 1e-12)


# ------------------------------------------------------------------ compress_params


def test_compress_params_counts_and_layers(rng):
    params = mlp.init_params((6, 5, 3), rng)
    before = [p.copy() for p in params]
    compressed, n_before, n_after = lowrank.compress_params(params, [2, None])
    assert n_before == 6 * 5 + 5 + 5 * 3 + 3
    assert n_after == 2 * (6 + 5) + 5 + 5 * 3 + 3
    np.testing.assert_allclose(compressed[0], lowrank.low_rank_approx(params[0], 2))
    np.testing.assert_array_equal(compressed[2], params[2])
    for p, q in zip(before, params, strict=True):
        np.testing.assert_array_equal(p, q)  # not modified
    assert compressed[1] is not params[1]
    full, _, n_full = lowrank.compress_params(params, [5, 3])
    for p, q in zip(full, params, strict=True):
        np.testing.assert_allclose(p, q, atol=1e-12)
    assert n_full == 5 * 11 + 5 + 3 * 8 + 3


@pytest.mark.parametrize(
    "ranks, match",
    [
        ([7, None], "ranks\\[0\\]"),
        ([0, None], "ranks\\[0\\]"),
        ([2], "ranks"),
        ([None, 4], "ranks\\[1\\]"),
        ([2.0, None], "ranks\\[0\\]"),
    ],
)
def test_compress_params_bad_ranks(rng, ranks, match):
    params = mlp.init_params((6, 5, 3), rng)
    with pytest.raises(ValueError, match=match):
        lowrank.compress_params(params, ranks)
    with pytest.raises(TypeError, match="ranks"):
        lowrank.compress_params(params, 2)


# ------------------------------------------------------------------ bad input, dtypes


@pytest.mark.parametrize("r", [0, -1, 4, 2.0, True])
def test_bad_rank_names_r_and_the_shape(rng, r):
    W = rng.standard_normal((3, 5))
    for fn in (lowrank.low_rank_approx, lowrank.low_rank_factors):
        with pytest.raises(ValueError, match=r"r \(a rank.*\(3, 5\)"):
            fn(W, r)


@pytest.mark.parametrize("W", [np.ones(3), np.ones((0, 3)), np.ones((2, 2, 2))])
def test_bad_matrix_names_W(W):
    with pytest.raises(ValueError, match="W"):
        lowrank.eckart_young_errors(W)


def test_nan_gives_nan_not_an_error(rng):
    W = rng.standard_normal((4, 3))
    W[1, 2] = np.nan
    s, fro, spec = lowrank.eckart_young_errors(W)
    assert np.isnan(s).all() and np.isnan(fro[:-1]).all()
    assert np.isnan(lowrank.low_rank_approx(W, 2)).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_dtype_is_kept(rng, dtype):
    W = rng.standard_normal((5, 4)).astype(dtype)
    assert lowrank.low_rank_approx(W, 2).dtype == dtype
    assert all(a.dtype == dtype for a in lowrank.eckart_young_errors(W))
    assert all(a.dtype == dtype for a in lowrank.init_lora(W, 2, rng))


# ------------------------------------------------------------------------------ LoRA


def _lora_args(rng, N, D, M, r, dtype=np.float64):
    x = rng.standard_normal((N, D)).astype(dtype)
    W = rng.standard_normal((D, M)).astype(dtype)
    b = rng.standard_normal(M).astype(dtype)
    A = rng.standard_normal((D, r)).astype(dtype)
    B = rng.standard_normal((r, M)).astype(dtype)
    return x, W, b, A, B


# (N, D, M, r): small batches take the factored path, large ones form A @ B
LORA_SHAPES = [(1, 6, 5, 2), (3, 4, 4, 4), (40, 6, 5, 3), (2, 1, 1, 1), (0, 3, 2, 1)]


@pytest.mark.parametrize("N, D, M, r", LORA_SHAPES)
@pytest.mark.parametrize("alpha", [1.0, 0.5, -2.0])
def test_lora_forward_matches_the_formula(rng, N, D, M, r, alpha):
    x, W, b, A, B = _lora_args(rng, N, D, M, r)
    out, _ = lowrank.lora_forward(x, W, b, A, B, alpha)
    np.testing.assert_allclose(out, x @ (W + alpha * A @ B) + b, atol=1e-12)
    np.testing.assert_array_equal(lowrank.lora(x, W, b, A, B, alpha), out)


@pytest.mark.parametrize("N, D, M, r", LORA_SHAPES[:4])
def test_lora_backward_matches_finite_differences(rng, N, D, M, r):
    x, W, b, A, B = _lora_args(rng, N, D, M, r)
    dout = rng.standard_normal((N, M))
    frozen = [a.copy() for a in (x, W, b)]
    out, cache = lowrank.lora_forward(x, W, b, A, B, 0.7)
    dA, dB = lowrank.lora_backward(dout, cache)
    errors = check_gradients(
        lambda A_, B_: lowrank.lora(x, W, b, A_, B_, 0.7), (A, B), (dA, dB), dout
    )
    assert max(errors) < 1e-7
    for before, after in zip(frozen, (x, W, b), strict=True):
        np.testing.assert_array_equal(before, after)  # W and b stay frozen


def test_b_zero_starts_at_the_frozen_layer_and_only_B_moves(rng):
    x, W, b, _, _ = _lora_args(rng, 5, 6, 4, 2)
    A, B = lowrank.init_lora(W, 2, rng)
    assert A.shape == (6, 2) and B.shape == (2, 4) and not B.any()
    out, cache = lowrank.lora_forward(x, W, b, A, B)
    np.testing.assert_array_equal(out, x @ W + b)
    dA, dB = lowrank.lora_backward(rng.standard_normal((5, 4)), cache)
    assert not dA.any() and dB.any()


@pytest.mark.parametrize(
    "shapes, match",
    [
        (((6, 2), (3, 4)), "share r"),  # mismatched A and B
        (((5, 2), (2, 4)), "D=6 rows"),
        (((6, 2), (2, 3)), "M=4 columns"),
        (((6, 5), (5, 4)), "1..4"),  # r > min(D, M)
        (((6, 0), (0, 4)), "got r=0"),  # r < 1
    ],
)
def test_lora_bad_shapes_name_them(rng, shapes, match):
    x, W, b, _, _ = _lora_args(rng, 3, 6, 4, 1)
    A, B = np.ones(shapes[0]), np.ones(shapes[1])
    with pytest.raises(ValueError, match=match) as info:
        lowrank.lora_forward(x, W, b, A, B)
    assert str(shapes[0]) in str(info.value) or str(shapes[1]) in str(info.value)


def test_lora_other_bad_input(rng):
    x, W, b, A, B = _lora_args(rng, 3, 6, 4, 2)
    with pytest.raises(ValueError, match="x has D=5"):
        lowrank.lora_forward(x[:, :5], W, b, A, B)
    with pytest.raises(ValueError, match="alpha"):
        lowrank.lora_forward(x, W, b, A, B, np.nan)
    _, cache = lowrank.lora_forward(x, W, b, A, B)
    with pytest.raises(ValueError, match=r"dout.*\(3, 4\)"):
        lowrank.lora_backward(np.ones((4, 3)), cache)
    with pytest.raises(TypeError, match="cache"):
        lowrank.lora_backward(np.ones((3, 4)), cache[:-1])


@pytest.mark.parametrize("N", [1, 40])  # both evaluation orders
def test_lora_nan_propagates_to_its_row(rng, N):
    x, W, b, A, B = _lora_args(rng, N, 6, 5, 2)
    x[0, 1] = np.nan
    out = lowrank.lora(x, W, b, A, B)
    assert np.isnan(out[0]).all() and not np.isnan(out[1:]).any()


@pytest.mark.parametrize("N", [1, 40])
def test_lora_float32_stays_float32(rng, N):
    x, W, b, A, B = _lora_args(rng, N, 6, 5, 2, np.float32)
    out, cache = lowrank.lora_forward(x, W, b.astype(np.float64), A, B, 0.5)
    assert out.dtype == np.float32
    dA, dB = lowrank.lora_backward(np.ones((N, 5)), cache)  # float64 dout is cast
    assert dA.dtype == dB.dtype == np.float32


@given(
    N=st.integers(1, 5),
    D=st.integers(1, 5),
    M=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_hypothesis_lora(N, D, M, seed, data):
    r = data.draw(st.integers(1, min(D, M)))
    rng = np.random.default_rng(seed)
    x, W, b, A, B = _lora_args(rng, N, D, M, r)
    dout = rng.standard_normal((N, M))
    out, cache = lowrank.lora_forward(x, W, b, A, B, 1.5)
    np.testing.assert_allclose(out, x @ (W + 1.5 * A @ B) + b, atol=1e-10)
    dA, dB = lowrank.lora_backward(dout, cache)
    np.testing.assert_allclose(dA, 1.5 * x.T @ dout @ B.T, atol=1e-10)
    np.testing.assert_allclose(dB, 1.5 * (x @ A).T @ dout, atol=1e-10)


# ----------------------------------------------------------------------- LoRA on an MLP


def _mlp_case(rng):
    params = mlp.init_params((6, 5, 4, 3), rng)
    for bias in params[1::2]:
        bias += 0.1 * rng.standard_normal(bias.shape)
    adapters = [
        (rng.standard_normal((6, 2)), rng.standard_normal((2, 5))),
        None,
        (rng.standard_normal((4, 1)), rng.standard_normal((1, 3))),
    ]
    x = rng.standard_normal((7, 6))
    labels = rng.integers(0, 3, size=7)
    return params, adapters, x, labels


def test_lora_mlp_loss_is_the_merged_network_and_gradchecks(rng):
    params, adapters, x, labels = _mlp_case(rng)
    frozen = [p.copy() for p in params]
    L, grads = lowrank.lora_mlp_loss(params, adapters, x, labels, alpha=0.5)
    merged = lowrank.merge_lora(params, adapters, alpha=0.5)
    L_merged, _ = mlp.mlp_loss(merged, x, labels)
    assert L == pytest.approx(L_merged, rel=1e-12)
    assert grads[1] is None
    flat = [a for pair in adapters if pair for a in pair]
    analytic = [g for pair in grads if pair for g in pair]

    def loss(A1, B1, A3, B3):
        ad = [(A1, B1), None, (A3, B3)]
        scores = mlp.mlp_forward(lowrank.merge_lora(params, ad, 0.5), x)[0]
        return np.array(softmax_cross_entropy(scores, labels)[0])

    assert max(check_gradients(loss, flat, analytic)) < 1e-7
    for before, after in zip(frozen, params, strict=True):
        np.testing.assert_array_equal(before, after)


def test_train_lora_learns_and_touches_only_the_adapters(rng):
    params, _, _, _ = _mlp_case(rng)
    x = rng.standard_normal((40, 6))
    labels = rng.integers(0, 3, size=40)
    frozen = [p.copy() for p in params]
    adapters = [lowrank.init_lora(params[2 * i], 2, rng) for i in range(3)]
    L0, _ = lowrank.lora_mlp_loss(params, adapters, x, labels)
    history = lowrank.train_lora(
        params,
        adapters,
        x,
        labels,
        epochs=30,
        batch_size=8,
        lr=0.1,
        rng=np.random.default_rng(1),
        X_test=x,
        y_test=labels,
    )
    L1, _ = lowrank.lora_mlp_loss(params, adapters, x, labels)
    assert L1 < 0.9 * L0 and history["loss"].shape == (30,)
    assert history["test_acc"][-1] == history["train_acc"][-1]
    assert history["train_acc"][-1] == mlp.accuracy(
        lowrank.merge_lora(params, adapters), x, labels
    )
    for before, after in zip(frozen, params, strict=True):
        np.testing.assert_array_equal(before, after)
    for A, B in adapters:
        assert np.linalg.matrix_rank(A @ B) == 2


def test_train_lora_leaves_adapters_unchanged_on_divergence(rng):
    params, _, _, _ = _mlp_case(rng)
    x, labels = 100 * rng.standard_normal((20, 6)), rng.integers(0, 3, size=20)
    adapters = [lowrank.init_lora(params[2 * i], 1, rng) for i in range(3)]
    saved = [(A.copy(), B.copy()) for A, B in adapters]
    with pytest.raises(ValueError, match="diverged"):
        lowrank.train_lora(
            params,
            adapters,
            x,
            labels,
            epochs=5,
            batch_size=4,
            lr=1e6,
            rng=np.random.default_rng(0),
        )
    for (A, B), (A0, B0) in zip(adapters, saved, strict=True):
        np.testing.assert_array_equal(A, A0)
        np.testing.assert_array_equal(B, B0)


def test_mlp_functions_refuse_bad_adapters(rng):
    params, adapters, x, labels = _mlp_case(rng)
    with pytest.raises(ValueError, match="one entry per layer"):
        lowrank.lora_mlp_loss(params, adapters[:2], x, labels)
    with pytest.raises(TypeError, match=r"adapters\[1\]"):
        lowrank.merge_lora(params, [adapters[0], np.ones(2), None])
    bad = [(np.ones((6, 2)), np.ones((3, 5))), None, None]
    with pytest.raises(ValueError, match=r"adapters\[0\]"):
        lowrank.lora_mlp_loss(params, bad, x, labels)
    with pytest.raises(ValueError, match="at least one"):
        lowrank.train_lora(
            params, [None] * 3, x, labels, epochs=1, batch_size=2, lr=0.1, rng=rng
        )
