"""Tests for the `algorithm` keyword of lalib.engine.conv and `choose_algorithm`.

Every algorithm through the one entry point gives the loops' numbers; the cache
remembers the algorithm so the backward pass differentiates the same computation;
"auto" picks by shape and keeps the float32 error below 1e-3 of the output's scale.
"""

import numpy as np
import pytest
from conv_cases import CASES, IDS

from lalib import conv
from lalib.engine import conv as engine
from lalib.engine import fft, winograd

EXPLICIT = ("im2col", "winograd", "fft")


def make(rng, N, C, H, W, F, KH, KW, dtype=np.float64):
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((F, C, KH, KW)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    return x, w, b


@pytest.mark.parametrize("algorithm", EXPLICIT)
def test_each_algorithm_gives_the_loops_answer_and_its_own_gradients(rng, algorithm):
    x, w, b = make(rng, 2, 3, 9, 7, 4, 3, 3)
    out, cache = engine.conv2d_forward(x, w, b, 1, 1, algorithm=algorithm)
    np.testing.assert_allclose(out, conv.conv2d_naive(x, w, b, 1, 1), atol=1e-11)
    assert cache.algorithm == algorithm
    dout = rng.standard_normal(out.shape)
    grads = engine.conv2d_backward(dout, cache)
    _, ref = conv.conv2d_forward(x, w, b, 1, 1)
    for g, g_ref in zip(grads, conv.conv2d_backward(dout, ref), strict=True):
        np.testing.assert_allclose(g, g_ref, atol=1e-10)
    np.testing.assert_array_equal(
        engine.conv2d(x, w, b, 1, 1, algorithm), out
    )  # conv2d is the forward pass without the cache
    np.testing.assert_array_equal(conv.conv2d(x, w, b, 1, 1, algorithm=algorithm), out)


def test_backward_follows_the_algorithm_in_the_cache(rng):
    # The same shapes, three caches: each backward pass equals its own module's.
    x, w, b = make(rng, 2, 3, 8, 8, 2, 3, 3, np.float32)
    dout = rng.standard_normal((2, 2, 8, 8)).astype(np.float32)
    own = {
        "winograd": winograd.conv2d_backward(
            dout, winograd.conv2d_forward(x, w, b, 1, 1)[1]
        ),
        "fft": fft.conv2d_backward(dout, fft.conv2d_forward(x, w, b, 1, 1)[1]),
    }
    for algorithm, expected in own.items():
        _, cache = engine.conv2d_forward(x, w, b, 1, 1, algorithm=algorithm)
        for g, g_own in zip(engine.conv2d_backward(dout, cache), expected, strict=True):
            np.testing.assert_array_equal(g, g_own)
    # and a cache of im2col differs from them in rounding only
    _, cache = engine.conv2d_forward(x, w, b, 1, 1, algorithm="im2col")
    for g, g_own in zip(
        engine.conv2d_backward(dout, cache), own["winograd"], strict=True
    ):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, g_own, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_auto_on_the_conv_test_shapes_is_im2col(rng, case):
    # Few channels: "auto" is the blocked im2col of before, bit for bit.
    N, C, H, W, F, KH, KW, s, p = case
    x, w, b = make(rng, N, C, H, W, F, KH, KW)
    assert engine.choose_algorithm(x.shape, w.shape, s, p, x.dtype)[0] == "im2col"
    out, cache = engine.conv2d_forward(x, w, b, s, p)
    assert cache.algorithm == "im2col"
    np.testing.assert_array_equal(
        out, engine.conv2d_forward(x, w, b, s, p, "im2col")[0]
    )


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "stride", "padding", "expected"),
    [
        ((8, 64, 32, 32), (64, 64, 3, 3), 1, 1, "winograd"),
        ((2, 32, 8, 8), (32, 32, 3, 3), 1, 1, "winograd"),
        ((8, 64, 32, 32), (64, 64, 3, 3), 2, 1, "im2col"),  # stride 2
        ((8, 16, 32, 32), (16, 16, 3, 3), 1, 1, "winograd"),
        ((8, 8, 32, 32), (8, 8, 3, 3), 1, 1, "im2col"),  # too few channels
        ((8, 16, 32, 32), (8, 16, 3, 3), 1, 1, "im2col"),  # too few filters
        ((8, 64, 4, 4), (64, 64, 3, 3), 1, 1, "winograd"),  # one tile per image
        ((8, 64, 3, 3), (64, 64, 3, 3), 1, 1, "im2col"),  # too small an output
        ((8, 32, 64, 64), (32, 32, 11, 11), 1, 5, "fft"),
        ((8, 8, 64, 64), (8, 8, 5, 5), 1, 2, "fft"),
        ((8, 4, 64, 64), (8, 4, 7, 7), 1, 3, "im2col"),  # too few channels
        ((8, 32, 64, 64), (32, 32, 11, 11), 2, 5, "im2col"),  # stride 2
        ((8, 32, 64, 64), (32, 32, 1, 1), 1, 0, "im2col"),
    ],
)
def test_choose_algorithm(x_shape, w_shape, stride, padding, expected):
    for dtype in (np.float32, np.float64):
        name, reason = engine.choose_algorithm(x_shape, w_shape, stride, padding, dtype)
        assert name == expected and reason.startswith(f"{expected}: ")
        assert reason.count(".") <= 1 and len(reason) < 160  # one sentence


def test_auto_runs_what_choose_algorithm_says(rng):
    x, w, b = make(rng, 2, 32, 10, 10, 32, 3, 3, np.float32)
    out, cache = engine.conv2d_forward(x, w, b, 1, 1)
    assert cache.algorithm == "winograd"
    np.testing.assert_array_equal(out, winograd.conv2d_forward(x, w, b, 1, 1)[0])
    np.testing.assert_array_equal(conv.conv2d(x, w, b, 1, 1), out)
    x, w, b = make(rng, 1, 8, 12, 12, 8, 5, 5, np.float32)
    out, cache = engine.conv2d_forward(x, w, b, 1, 2)
    assert cache.algorithm == "fft"
    np.testing.assert_array_equal(out, fft.conv2d_forward(x, w, b, 1, 2)[0])


def test_auto_stays_within_1e_3_of_the_output_scale(rng):
    # Shapes where auto leaves im2col, float32 against float64 im2col.
    for shape, padding in [
        ((1, 64, 10, 10, 64, 3, 3), 1),
        ((1, 16, 16, 16, 8, 7, 7), 3),
    ]:
        x, w, b = make(rng, *shape, np.float32)
        w /= np.float32(np.sqrt(w[0].size))
        out, cache = engine.conv2d_forward(x, w, b, 1, padding)
        assert cache.algorithm != "im2col" and out.dtype == np.float32
        exact = engine.conv2d_forward(
            *(a.astype(np.float64) for a in (x, w, b)), 1, padding, "im2col"
        )[0]
        assert np.abs(out - exact).max() <= 1e-5 * np.abs(exact).max()  # << 1e-3


def test_error_table_is_within_the_auto_bound():
    rows = engine.error_table(channels=(3, 64))
    assert [row["C"] for row in rows] == [3, 64]
    for row in rows:
        errors = {k: v for k, v in row.items() if k != "C"}
        assert set(errors) == {
            "im2col", "winograd F(2x2,3x3)", "winograd F(4x4,3x3)", "fft"
        }  # fmt: skip
        assert all(0 < e < 1e-3 for e in errors.values())
        assert errors["winograd F(4x4,3x3)"] < 5e-5  # measured 2.3e-6 .. 1.0e-5
        assert max(errors["im2col"], errors["fft"]) < 5e-6


def test_error_table_of_a_large_kernel_has_no_winograd():
    (row,) = engine.error_table(channels=(8,), kernel_size=11)
    assert row["winograd F(2x2,3x3)"] is None and row["winograd F(4x4,3x3)"] is None
    assert 0 < row["im2col"] < 5e-6 and 0 < row["fft"] < 5e-6


def test_error_table_measures_what_it_says():
    # The same draw as error_table's, recomputed here: the im2col entry is the
    # float32 run's error relative to the float64 run's largest output.
    (row,) = engine.error_table(
        channels=(4,), rng=np.random.default_rng(7), kernel_size=5
    )
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 4, 16, 16)).astype(np.float32)
    w = (rng.standard_normal((16, 4, 5, 5)) / np.sqrt(100)).astype(np.float32)
    exact = conv.conv2d_naive(x.astype(np.float64), w.astype(np.float64), padding=2)
    y = engine.conv2d(x, w, None, 1, 2, "im2col")
    expected = np.abs(y - exact).max() / np.abs(exact).max()
    assert row["im2col"] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("bad", ["no-such", "WINOGRAD", None, 3, ""])
def test_unknown_algorithm_is_refused(bad):
    with pytest.raises(ValueError, match="algorithm must be one of"):
        engine.conv2d_forward(
            np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), algorithm=bad
        )
    with pytest.raises(ValueError, match="algorithm must be one of"):
        conv.conv2d(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), algorithm=bad)


def test_winograd_refuses_what_it_cannot_compute():
    x = np.ones((1, 2, 6, 6))
    with pytest.raises(ValueError, match=r"3x3 filters.*\(1, 2, 5, 5\)"):
        engine.conv2d(x, np.ones((1, 2, 5, 5)), algorithm="winograd")
    with pytest.raises(ValueError, match=r"stride 1, got stride \(2, 2\)"):
        engine.conv2d(x, np.ones((1, 2, 3, 3)), None, 2, algorithm="winograd")


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (((8, 3, 9, 9), (4, 2, 3, 3)), "C=3 channels"),
        (((8, 3, 9), (4, 3, 3, 3)), "x_shape"),
        (((8, 3, 9, 9), (4, 3, 3, 2.5)), "w_shape"),
        (((8, 3, 2, 2), (4, 3, 3, 3)), "larger than the padded input"),
        (((8, 3, 9, 9), (4, 3, 0, 3)), "at least 1x1"),
        (((8, 3, 9, 9), (4, 3, 3, 3), 0), "stride"),
        (((8, 3, 9, 9), (4, 3, 3, 3), 1, 0, np.int64), "dtype"),
    ],
)
def test_choose_algorithm_checks_its_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        engine.choose_algorithm(*args)
