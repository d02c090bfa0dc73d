"""Tests for lalib.mlp: shapes, end-to-end gradient checks, dtype, training on real
data."""

import warnings

import numpy as np
import pytest

from lalib import data, mlp
from lalib.activations import relu
from lalib.gradcheck import check_gradients
from lalib.losses import softmax_cross_entropy

SIZES = [(3, 2), (4, 5, 3), (6, 4, 5, 3), (2, 3, 3, 3, 2)]


def _batch(rng, n, sizes):
    x = rng.normal(size=(n, sizes[0]))
    labels = rng.integers(0, sizes[-1], size=n)
    return x, labels


@pytest.mark.parametrize("sizes", SIZES)
def test_init_params_shapes_and_scale(sizes):
    params = mlp.init_params(sizes, np.random.default_rng(0))
    expected = []
    for d, m in zip(sizes[:-1], sizes[1:]):
        expected += [(d, m), (m,)]
    assert [p.shape for p in params] == expected
    assert all(np.all(b == 0) for b in params[1::2])


def test_init_params_he_variance():
    W = mlp.init_params((400, 300), np.random.default_rng(0))[0]
    assert np.var(W) == pytest.approx(2 / 400, rel=0.02)


def test_init_params_deterministic_and_dtype():
    a = mlp.init_params((5, 4, 3), np.random.default_rng(7), dtype=np.float32)
    b = mlp.init_params((5, 4, 3), np.random.default_rng(7), dtype=np.float32)
    for p, q in zip(a, b):
        assert p.dtype == np.float32
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("sizes", [(3,), (), (3, 0, 2), (4, -1)])
def test_init_params_bad_sizes(sizes):
    with pytest.raises(ValueError, match="sizes"):
        mlp.init_params(sizes, np.random.default_rng(0))


@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("n", [1, 5])
def test_forward_shapes_and_composition(rng, sizes, n):
    params = mlp.init_params(sizes, rng)
    for b in params[1::2]:
        b += rng.normal(size=b.shape)  # non-zero biases, so they are exercised
    x, _ = _batch(rng, n, sizes)
    scores, caches = mlp.mlp_forward(params, x)
    assert scores.shape == (n, sizes[-1])
    assert len(caches) == len(sizes) - 1
    # the same network written out by hand: relu between layers, none after the last
    h = x
    for i in range(0, len(params), 2):
        h = h @ params[i] + params[i + 1]
        if i < len(params) - 2:
            h = relu(h)
    np.testing.assert_allclose(scores, h, rtol=1e-12)


@pytest.mark.parametrize("sizes", SIZES)
def test_backward_shapes(rng, sizes):
    params = mlp.init_params(sizes, rng)
    x, _ = _batch(rng, 4, sizes)
    scores, caches = mlp.mlp_forward(params, x)
    grads, dx = mlp.mlp_backward(np.ones_like(scores), caches)
    assert [g.shape for g in grads] == [p.shape for p in params]
    assert dx.shape == x.shape


@pytest.mark.parametrize("sizes", SIZES)
def test_loss_gradients_end_to_end(rng, sizes):
    params = mlp.init_params(sizes, rng)
    for b in params[1::2]:
        b += 0.1 * rng.normal(size=b.shape)
    x, labels = _batch(rng, 5, sizes)
    _, grads = mlp.mlp_loss(params, x, labels)

    def loss(*ps):
        return mlp.mlp_loss(list(ps), x, labels)[0]

    errors = check_gradients(loss, params, grads)
    assert max(errors) < 1e-7


@pytest.mark.parametrize("sizes", SIZES)
def test_input_gradient(rng, sizes):
    params = mlp.init_params(sizes, rng)
    x, _ = _batch(rng, 3, sizes)
    scores, caches = mlp.mlp_forward(params, x)
    dscores = rng.normal(size=scores.shape)
    _, dx = mlp.mlp_backward(dscores, caches)
    errors = check_gradients(
        lambda a: mlp.mlp_forward(params, a)[0], [x], [dx], dscores
    )
    assert max(errors) < 1e-7


def test_loss_matches_forward_then_loss(rng):
    params = mlp.init_params((4, 6, 3), rng)
    x, labels = _batch(rng, 7, (4, 6, 3))
    L, _ = mlp.mlp_loss(params, x, labels)
    assert L == softmax_cross_entropy(mlp.mlp_forward(params, x)[0], labels)[0]


def test_float32_stays_float32(rng):
    params = mlp.init_params((4, 6, 3), rng, dtype=np.float32)
    x = rng.normal(size=(5, 4)).astype(np.float32)
    labels = rng.integers(0, 3, size=5)
    scores, _ = mlp.mlp_forward(params, x)
    L, grads = mlp.mlp_loss(params, x, labels)
    assert scores.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads)
    mlp.train(params, x, labels, epochs=2, batch_size=2, lr=0.1, rng=rng)
    assert all(p.dtype == np.float32 for p in params)


def test_predict_and_accuracy(rng):
    params = mlp.init_params((4, 3), rng)
    x, _ = _batch(rng, 6, (4, 3))
    pred = mlp.predict(params, x)
    np.testing.assert_array_equal(pred, np.argmax(x @ params[0] + params[1], axis=1))
    assert mlp.accuracy(params, x, pred) == 1.0
    assert mlp.accuracy(params, x, (pred + 1) % 3) == 0.0


@pytest.mark.parametrize(
    "params, x, match",
    [
        ([np.zeros((3, 2))], np.zeros((1, 3)), "even"),
        ([], np.zeros((1, 3)), "even"),
        ([np.zeros((3, 2)), np.zeros(2)], np.zeros((1, 4)), r"\(1, 4\).*\(3, 2\)"),
        (
            [np.zeros((3, 2)), np.zeros(3)],
            np.zeros((1, 3)),
            r"params\[1\] \(the bias of layer 1\) must have shape \(2,\), .*got \(3,\)",
        ),
        (
            [np.zeros((3, 2)), np.zeros(2), np.zeros((3, 1)), np.zeros(1)],
            np.zeros((1, 3)),
            r"params\[2\] \(the weights of layer 2\) must have 2 rows.*\(3, 2\).*"
            r"got shape \(3, 1\)",
        ),
    ],
)
def test_forward_bad_input(params, x, match):
    with pytest.raises(ValueError, match=match):
        mlp.mlp_forward(params, x)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(epochs=0, batch_size=2, lr=0.1), "positive"),
        (dict(epochs=1, batch_size=0, lr=0.1), "positive"),
        (dict(epochs=1, batch_size=2, lr=0.0), "positive"),
    ],
)
def test_train_bad_arguments(rng, kwargs, match):
    params = mlp.init_params((2, 2), rng)
    with pytest.raises(ValueError, match=match):
        mlp.train(params, np.zeros((4, 2)), np.zeros(4, dtype=int), rng=rng, **kwargs)


def test_train_bad_shapes(rng):
    params = mlp.init_params((2, 2), rng)
    with pytest.raises(ValueError, match=r"X \(4, 2\) and y \(3,\)"):
        mlp.train(
            params,
            np.zeros((4, 2)),
            np.zeros(3, dtype=int),
            epochs=1,
            batch_size=2,
            lr=0.1,
            rng=rng,
        )


def test_one_step_is_gradient_descent(rng):
    params = mlp.init_params((3, 4, 2), rng)
    x, labels = _batch(rng, 5, (3, 4, 2))
    before = [p.copy() for p in params]
    _, grads = mlp.mlp_loss(params, x, labels)
    mlp.train(
        params, x, labels, epochs=1, batch_size=5, lr=0.5, rng=rng
    )  # one full batch
    for p, p0, g in zip(params, before, grads):
        np.testing.assert_allclose(p, p0 - 0.5 * g, rtol=1e-12, atol=1e-15)


def test_train_fits_separable_blobs_and_is_deterministic():
    rng = np.random.default_rng(3)
    centres = np.array([[3.0, 0.0], [-3.0, 0.0], [0.0, 3.0]])
    labels = rng.integers(0, 3, size=150)
    x = centres[labels] + 0.5 * rng.normal(size=(150, 2))

    def run():
        params = mlp.init_params((2, 8, 3), np.random.default_rng(1))
        hist = mlp.train(
            params,
            x,
            labels,
            epochs=20,
            batch_size=16,
            lr=0.1,
            rng=np.random.default_rng(2),
            X_test=x[:30],
            y_test=labels[:30],
        )
        return params, hist

    params, hist = run()
    params2, hist2 = run()
    assert set(hist) == {"loss", "train_acc", "test_acc"}
    assert all(v.shape == (20,) for v in hist.values())
    assert hist["loss"][-1] < 0.2 * hist["loss"][0]
    assert hist["train_acc"][-1] == 1.0
    for k in hist:
        np.testing.assert_array_equal(hist[k], hist2[k])
    for p, q in zip(params, params2):
        np.testing.assert_array_equal(p, q)


def test_digits_reach_95_percent_test_accuracy():
    """The chapter's claim: the MLP it trains reaches >= 95 % on held-out digits."""
    X, y = data.load_digits()
    X_train, X_test, y_train, y_test = data.train_test_split(
        X, y, test_fraction=0.25, rng=np.random.default_rng(0)
    )
    params = mlp.init_params((64, 128, 64, 10), np.random.default_rng(1))
    hist = mlp.train(
        params,
        X_train,
        y_train,
        epochs=40,
        batch_size=16,
        lr=0.02,
        rng=np.random.default_rng(2),
        X_test=X_test,
        y_test=y_test,
    )
    assert hist["test_acc"][-1] >= 0.95
    assert mlp.accuracy(params, X_test, y_test) == hist["test_acc"][-1]


# ---------------------------------------------------------------- bad input


def _small_problem(rng, n=6):
    params = mlp.init_params((3, 4, 2), rng)
    x, labels = _batch(rng, n, (3, 4, 2))
    return params, x, labels


def test_accuracy_refuses_column_labels(rng):
    # (N,) predictions == (N, 1) labels broadcast to (N, N): 0.833 became 0.361.
    params, x, _ = _small_problem(rng)
    labels = mlp.predict(params, x)
    labels[0] = 1 - labels[0]  # 5 of 6 right
    assert mlp.accuracy(params, x, labels) == pytest.approx(5 / 6)
    with pytest.raises(
        ValueError,
        match=r"labels must have shape \(N,\) = \(6,\) for x of "
        r"shape \(6, 3\), got \(6, 1\)",
    ):
        mlp.accuracy(params, x, labels[:, None])
    with pytest.raises(ValueError, match=r"got \(5,\)"):
        mlp.accuracy(params, x, labels[:5])


@pytest.mark.parametrize(
    "labels, match",
    [
        (np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0]), "integers"),
        (np.array(list("abcdef")), "integers"),
        (np.array([0, 1, 2, 0, 1, 0]), r"0\.\.1"),
        (np.array([0, 1, -1, 0, 1, 0]), r"0\.\.1"),
    ],
)
def test_accuracy_refuses_labels_that_cannot_be_classes(rng, labels, match):
    params, x, _ = _small_problem(rng)
    with pytest.raises(ValueError, match=match):
        mlp.accuracy(params, x, labels)


def test_accuracy_of_no_rows_is_an_error(rng):
    params, _, _ = _small_problem(rng)
    with pytest.raises(ValueError, match="at least one row"):
        mlp.accuracy(params, np.zeros((0, 3)), np.zeros(0, dtype=int))


def test_predict_refuses_nan_scores(rng):
    # argmax of a NaN row is 0: a NaN input used to be "predicted" as class 0.
    params, x, _ = _small_problem(rng)
    x[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"1 of the 6 rows .* NaN, the first in row 2"):
        mlp.predict(params, x)
    scores, _ = mlp.mlp_forward(params, x)  # the forward pass itself propagates NaN
    assert np.all(np.isnan(scores[2])) and np.all(np.isfinite(scores[[0, 1, 3, 4, 5]]))


def test_train_test_data_needs_both_halves(rng):
    # X_test without y_test recorded a test accuracy of 0 every epoch.
    params, x, labels = _small_problem(rng)
    before = [p.copy() for p in params]
    for kwargs, given in [({"X_test": x}, "X_test"), ({"y_test": labels}, "y_test")]:
        with pytest.raises(ValueError, match=f"{given} was given alone"):
            mlp.train(
                params, x, labels, epochs=1, batch_size=2, lr=0.1, rng=rng, **kwargs
            )
    for p, p0 in zip(params, before, strict=True):
        np.testing.assert_array_equal(p, p0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            {"X_test": np.zeros((3, 4)), "y_test": np.zeros(3, dtype=int)},
            r"X_test of shape \(3, 4\)",
        ),
        (
            {"X_test": np.zeros((3, 3)), "y_test": np.zeros(2, dtype=int)},
            r"y_test must have shape",
        ),
        (
            {"X_test": np.zeros((3, 3)), "y_test": np.array([0, 1, 5])},
            r"y_test must lie in 0\.\.1",
        ),
        (
            {"X_test": np.full((3, 3), np.nan), "y_test": np.zeros(3, dtype=int)},
            "X_test must be finite",
        ),
        (
            {"X_test": np.zeros((0, 3)), "y_test": np.zeros(0, dtype=int)},
            "at least one row",
        ),
    ],
)
def test_train_checks_test_data_before_the_first_step(rng, kwargs, match):
    params, x, labels = _small_problem(rng)
    before = [p.copy() for p in params]
    with pytest.raises(ValueError, match=match):
        mlp.train(params, x, labels, epochs=2, batch_size=2, lr=0.1, rng=rng, **kwargs)
    for p, p0 in zip(params, before, strict=True):
        np.testing.assert_array_equal(p, p0)


@pytest.mark.parametrize("lr", [np.inf, -np.inf, np.nan, 0.0, -0.1, "0.1", None, True])
def test_train_validates_lr_before_touching_params(rng, lr):
    # lr=inf wrote non-finite parameters, then raised from the loss.
    params, x, labels = _small_problem(rng)
    before = [p.copy() for p in params]
    with pytest.raises(ValueError, match="lr must be a"):
        mlp.train(params, x, labels, epochs=1, batch_size=2, lr=lr, rng=rng)
    for p, p0 in zip(params, before, strict=True):
        np.testing.assert_array_equal(p, p0)


@pytest.mark.parametrize(
    "epochs, batch_size, lr, what",
    [
        (3, 2, 1e300, "the scores"),  # a later forward pass overflows
        (1, 6, 1e308, "the parameters"),  # the one and only step overflows the weights
    ],
)
def test_train_divergence_leaves_params_untouched(rng, epochs, batch_size, lr, what):
    params, x, labels = _small_problem(rng)
    x *= 1e3
    before = [p.copy() for p in params]
    with pytest.raises(
        ValueError, match=f"training diverged: {what} became non-finite"
    ):
        mlp.train(
            params, x, labels, epochs=epochs, batch_size=batch_size, lr=lr, rng=rng
        )
    for p, p0 in zip(params, before, strict=True):
        np.testing.assert_array_equal(p, p0)


@pytest.mark.parametrize("name", ["epochs", "batch_size"])
@pytest.mark.parametrize("value", [1.5, 2.0, True, np.inf, "2", None, -1])
def test_train_counts_must_be_integers(rng, name, value):
    # epochs=1.5 and batch_size=2.5 used to be truncated silently.
    params, x, labels = _small_problem(rng)
    kwargs = {"epochs": 1, "batch_size": 2, "lr": 0.1}
    kwargs[name] = value
    with pytest.raises(
        ValueError, match=f"{name} must be positive, an integer >= 1, got"
    ):
        mlp.train(params, x, labels, rng=rng, **kwargs)


def test_train_accepts_numpy_integer_counts(rng):
    params, x, labels = _small_problem(rng)
    hist = mlp.train(
        params, x, labels, epochs=np.int64(2), batch_size=np.int32(3), lr=0.1, rng=rng
    )
    assert hist["loss"].shape == (2,)


@pytest.mark.parametrize(
    "X, y, match",
    [
        (np.full((6, 3), np.inf), np.zeros(6, dtype=int), "X must be finite"),
        (np.zeros((0, 3)), np.zeros(0, dtype=int), "at least one row"),
        (np.zeros((6, 3)), np.array([0, 1, 2, 0, 1, 0]), r"y must lie in 0\.\.1"),
        (np.zeros((6, 3)), np.zeros(6), "y must be integers"),
        (
            np.zeros((6, 4)),
            np.zeros(6, dtype=int),
            r"params do not fit X of shape \(6, 4\)",
        ),
        (np.zeros((6, 3)) + 0j, np.zeros(6, dtype=int), "X must hold real numbers"),
    ],
)
def test_train_refuses_bad_data_up_front(rng, X, y, match):
    params, _, _ = _small_problem(rng)
    before = [p.copy() for p in params]
    with pytest.raises(ValueError, match=match):
        mlp.train(params, X, y, epochs=1, batch_size=2, lr=0.1, rng=rng)
    for p, p0 in zip(params, before, strict=True):
        np.testing.assert_array_equal(p, p0)


def test_train_refuses_params_it_cannot_update_in_place(rng):
    params, x, labels = _small_problem(rng)
    args = {"epochs": 1, "batch_size": 2, "lr": 0.1, "rng": rng}
    with pytest.raises(
        ValueError, match=r"params\[0\] must be a writeable floating array"
    ):
        mlp.train([params[0].astype(int)] + params[1:], x, labels, **args)
    frozen = params[0].copy()
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="writeable=False"):
        mlp.train([frozen] + params[1:], x, labels, **args)
    with pytest.raises(TypeError, match=r"params\[1\] must be an ndarray"):
        mlp.train([params[0], list(params[1])] + params[2:], x, labels, **args)


@pytest.mark.parametrize("rng_arg", [0, None, np.random.RandomState(0)])
def test_generators_are_required(rng_arg):
    # AttributeError: 'NoneType' object has no attribute 'standard_normal'.
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        mlp.init_params((4, 3), rng_arg)
    params = mlp.init_params((3, 2), np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        mlp.train(
            params,
            np.zeros((4, 3)),
            np.zeros(4, dtype=int),
            epochs=1,
            batch_size=2,
            lr=0.1,
            rng=rng_arg,
        )


@pytest.mark.parametrize(
    "sizes", [(4, 2.5), (4, True), (4.0, 3), (4, "3"), 5, None, (4, float("inf"))]
)
def test_init_params_sizes_must_be_integers(sizes):
    with pytest.raises(
        ValueError, match="sizes must hold at least two positive integer"
    ):
        mlp.init_params(sizes, np.random.default_rng(0))


@pytest.mark.parametrize("dtype", [np.int64, np.float16, np.complex64, "nope"])
def test_init_params_dtype_must_be_float32_or_float64(dtype):
    # int dtype truncated He-initialised weights to mostly zeros.
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        mlp.init_params((4, 3), np.random.default_rng(0), dtype=dtype)


def test_forward_and_backward_refuse_wrong_containers(rng):
    params, x, _ = _small_problem(rng)
    with pytest.raises(TypeError, match="params must be a list of arrays"):
        mlp.mlp_forward(np.stack([params[0][:, :2].T, params[0][:, 2:].T]), x)
    scores, caches = mlp.mlp_forward(params, x)
    with pytest.raises(TypeError, match="caches must be the non-empty list"):
        mlp.mlp_backward(scores, [])
    with pytest.raises(TypeError, match="caches must be the non-empty list"):
        mlp.mlp_backward(scores, None)
    with pytest.raises(
        ValueError, match=r"dscores must have the shape of the scores .* = \(6, 2\)"
    ):
        mlp.mlp_backward(scores.T, caches)


@pytest.mark.parametrize("fn", ["mlp_forward", "mlp_loss", "predict", "accuracy"])
@pytest.mark.parametrize(
    "entry, value, match",
    [
        (0, None, r"params\[0\] \(the weights of layer 1\) must hold real numbers"),
        (0, "complex", r"params\[0\] \(the weights of layer 1\) must hold real"),
        (2, "1-d", r"params\[2\] \(the weights of layer 2\) must have 2 dim"),
        (3, None, r"params\[3\] \(the bias of layer 2\) must hold real numbers"),
        (1, "wide", r"params\[1\] \(the bias of layer 1\) must have shape \(5,\)"),
    ],
)
def test_a_bad_params_entry_is_named_by_its_index(rng, fn, entry, value, match):
    # The messages said "W ..." or "b ...", names the caller never used.
    params, x, labels = _small_problem(rng)  # sizes (3, 4, 2)
    params = list(params)
    if value == "complex":
        params[entry] = params[entry] + 1j
    elif value == "1-d":
        params[entry] = params[entry][:, 0]
    elif value == "wide":  # W1 gains a column, b1 does not
        params[0] = np.hstack([params[0], params[0][:, :1]])
    else:
        params[entry] = value
    args = (params, x, labels) if fn in ("mlp_loss", "accuracy") else (params, x)
    with pytest.raises(ValueError, match=match):
        getattr(mlp, fn)(*args)


def test_backward_names_dscores_and_caches(rng):
    params, x, _ = _small_problem(rng)
    scores, caches = mlp.mlp_forward(params, x)
    with pytest.raises(ValueError, match="dscores must hold real numbers"):
        mlp.mlp_backward(None, caches)
    with pytest.raises(ValueError, match="dscores must be a rectangular array"):
        mlp.mlp_backward([[1.0, 2.0], [3.0]], caches)
    # Without its last entry the list ends in a hidden layer of width 4, so a (6, 2)
    # dscores used to be refused as "dout must have the input's shape (6, 4)".
    with pytest.raises(ValueError, match=r"caches must hold every layer's cache"):
        mlp.mlp_backward(np.ones_like(scores), caches[:-1])
    with pytest.raises(TypeError, match=r"caches\[0\] must be the \(\(x, W\), relu"):
        mlp.mlp_backward(np.ones_like(scores), ["cache", caches[1]])


def test_loss_of_an_empty_batch_names_x(rng):
    params, x, labels = _small_problem(rng)
    with pytest.raises(ValueError, match=r"x must have at least one row .*\(0, 3\)"):
        mlp.mlp_loss(params, x[:0], labels[:0])


@pytest.mark.parametrize("fn", ["predict", "accuracy"])
@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_inf_in_x_is_refused_without_a_warning(rng, fn, value):
    # inf * 0 in the matrix product warned "invalid value encountered in matmul"
    # before the ValueError, and a (3, 2) network with no hidden layer gave +-inf
    # scores, no NaN, and an argmax.
    params, x, labels = _small_problem(rng)
    x[4, 1] = value
    args = (params, x, labels) if fn == "accuracy" else (params, x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"x must be finite.*first in row 4"):
            getattr(mlp, fn)(*args)
    one_layer = mlp.init_params((3, 2), rng)
    with pytest.raises(ValueError, match=r"x must be finite.*first in row 4"):
        mlp.predict(one_layer, x)
