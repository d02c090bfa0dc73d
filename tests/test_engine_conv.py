"""Tests for lalib.engine.conv's machinery: cache-sized blocks and scratch buffers.

That the engine computes the same convolution and gradients as the readable
`lalib.conv` (and the loops, and the Toeplitz matrix) is tested in tests/test_conv.py,
which runs every forward/backward test against both. Here: every way of cutting a
batch into blocks gives the same answers, the scratch memory is reused safely, and the
public `column_blocks` yields exactly im2col's columns.
"""

import inspect
import threading
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from conv_cases import CASES, IDS  # the shapes of tests/test_conv.py

from lalib import conv
from lalib.engine import conv as engine

# Block sizes that force every way of cutting a batch: one output row per block, a few
# uneven bands per image, groups of images with a smaller last group, the whole batch.
BLOCK_BYTES = [1, 3 * 8 * 9 * 12, 2 * 8 * 9 * 12 * 10, 2**30]


def make(rng, N, C, H, W, F, KH, KW, dtype=np.float64):
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((F, C, KH, KW)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    return x, w, b


def test_public_names():
    assert sorted(engine.__all__) == sorted(
        [
            "ALGORITHMS",
            "COLUMN_BLOCK_BYTES",
            "SCRATCH_KEEP_BYTES",
            "choose_algorithm",
            "column_blocks",
            "conv2d",
            "conv2d_backward",
            "conv2d_forward",
            "error_table",
        ]
    )
    assert all(hasattr(engine, name) for name in engine.__all__)
    # Same signatures as the readable versions in lalib.conv, but for the engine's
    # `algorithm` keyword (which lalib.conv.conv2d, the engine's entry point, has too).
    for name in ("conv2d_forward", "conv2d_backward", "conv2d"):
        theirs = inspect.signature(getattr(conv, name))
        ours = inspect.signature(getattr(engine, name))
        assert ours.replace(
            parameters=[p for p in ours.parameters.values() if p.name != "algorithm"]
        ) == theirs.replace(
            parameters=[p for p in theirs.parameters.values() if p.name != "algorithm"]
        ), name


# ------------------------------------------------------------------ cache-sized blocks


@pytest.mark.parametrize("block_bytes", BLOCK_BYTES)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_blocks_give_the_same_forward_and_backward(rng, monkeypatch, case, block_bytes):
    N, C, H, W, F, KH, KW, s, p = case
    x, w, b = make(rng, N + 2, C, H, W, F, KH, KW)  # N + 2: groups that do not divide N
    monkeypatch.setattr(engine, "COLUMN_BLOCK_BYTES", block_bytes)
    out, cache = engine.conv2d_forward(x, w, b, s, p)
    np.testing.assert_allclose(
        out, conv.conv2d_naive(x, w, b, s, p), rtol=1e-12, atol=1e-12
    )
    dout = rng.standard_normal(out.shape)
    dx, dw, db = engine.conv2d_backward(dout, cache)
    T = conv.toeplitz_matrix(w, (C, H, W), s, p)  # dx[n] = T.T dout[n]; dw from im2col
    np.testing.assert_allclose(
        dx.reshape(len(x), -1), dout.reshape(len(x), -1) @ T, atol=1e-12
    )
    cols = conv.im2col(x, (KH, KW), s, p)  # (N, CKK, H'W')
    dw_ref = np.einsum("nfp,nkp->fk", dout.reshape(len(x), F, -1), cols)
    np.testing.assert_allclose(dw, dw_ref.reshape(w.shape), atol=1e-11)
    np.testing.assert_allclose(db, dout.sum(axis=(0, 2, 3)), atol=1e-12)
    # And the readable version's gradients, which build all the columns at once.
    _, cache_ref = conv.conv2d_forward(x, w, b, s, p)
    for g, g_ref in zip(
        (dx, dw, db), conv.conv2d_backward(dout, cache_ref), strict=True
    ):
        np.testing.assert_allclose(g, g_ref, rtol=1e-11, atol=1e-11)


def test_blocks_cover_every_row_and_image_once(monkeypatch):
    row_bytes = 3 * 3 * 3 * 12 * 8  # C * KH * KW * Wq * itemsize below
    # + bands of 4, groups of 2
    for block_bytes in BLOCK_BYTES + [5 * row_bytes, 30 * row_bytes]:
        monkeypatch.setattr(engine, "COLUMN_BLOCK_BYTES", block_bytes)
        # Geometry only: no arrays.
        blk = engine._Blocks((7, 3, 12, 10), (3, 3), (1, 1), (1, 1), 8)
        rows = [i for i0, i1 in blk.bands for i in range(i0, i1)]
        images = [n for n0, n1 in blk.groups(7) for n in range(n0, n1)]
        assert rows == list(range(12)) and images == list(range(7))
        assert blk.g == 1 or blk.bands == [(0, 12)]  # bands only of single images
        sizes = [i1 - i0 for i0, i1 in blk.bands]
        assert max(sizes) - min(sizes) <= 1  # even bands: no sliver at the end


def test_scratch_reuse_across_shapes_keeps_padding_zero(rng):
    # The padded-image scratch is shared between calls: a large call leaves non-zero
    # data where a smaller, differently shaped call expects its zero border.
    big = make(rng, 2, 3, 12, 12, 2, 3, 3)
    small = make(rng, 3, 2, 5, 4, 2, 3, 3)
    engine.conv2d(*big, padding=2)
    for x, w, b in (small, big, small):
        np.testing.assert_allclose(
            engine.conv2d(x, w, b, padding=1),
            conv.conv2d_naive(x, w, b, padding=1),
            atol=1e-12,
        )


def test_cache_holds_the_input_not_the_columns(rng):
    x, w, b = make(rng, 4, 8, 16, 16, 4, 3, 3)
    _, cache = engine.conv2d_forward(x, w, b, padding=1)
    held = sum(a.nbytes for a in cache if isinstance(a, np.ndarray))
    assert held <= x.nbytes + w.nbytes  # not the 9x larger im2col matrix
    # The readable version keeps the columns: the cost the engine avoids.
    _, cache_ref = conv.conv2d_forward(x, w, b, padding=1)
    held_ref = sum(a.nbytes for a in cache_ref if isinstance(a, np.ndarray))
    assert held_ref >= 9 * x.nbytes


def test_scratch_kept_between_calls_is_bounded(rng, monkeypatch):
    monkeypatch.setattr(engine, "SCRATCH_KEEP_BYTES", 4096)
    # padded copy: 2 * 4 * 22 * 22 * 8 > 4096 bytes
    x, w, b = make(rng, 2, 4, 20, 20, 3, 3, 3)
    monkeypatch.setattr(engine, "_scratch", threading.local())  # start from nothing
    out, cache = engine.conv2d_forward(x, w, b, padding=1)
    np.testing.assert_allclose(out, conv.conv2d_naive(x, w, b, padding=1), atol=1e-12)
    engine.conv2d_backward(np.ones_like(out), cache)
    kept = engine._scratch.__dict__.get("bufs", {})
    assert all(buf.nbytes <= 4096 for buf in kept.values())


def test_scratch_is_per_thread():
    # Threads convolving at once must not share column buffers.
    problems = [make(np.random.default_rng(s), 3, 5, 12, 12, 4, 3, 3) for s in range(8)]
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda p: engine.conv2d(*p, padding=1), problems))
    for (x, w, b), out in zip(problems, outs, strict=True):
        np.testing.assert_allclose(
            out, conv.conv2d_naive(x, w, b, padding=1), atol=1e-12
        )


def test_scratch_is_per_thread_backward():
    # The backward pass too: its own scratch (padded gradients, column gradients).
    def grads(p):
        x, w, b = p
        out, cache = engine.conv2d_forward(x, w, b, padding=1)
        return engine.conv2d_backward(np.ones_like(out), cache)

    problems = [make(np.random.default_rng(s), 3, 5, 12, 12, 4, 3, 3) for s in range(8)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(grads, problems))
    for (x, w, b), got in zip(problems, results, strict=True):
        out, cache = conv.conv2d_forward(x, w, b, padding=1)
        expected = conv.conv2d_backward(np.ones_like(out), cache)
        for g, g_ref in zip(got, expected, strict=True):
            np.testing.assert_allclose(g, g_ref, atol=1e-11)


# ------------------------------------------------------------ the public column blocks


@pytest.mark.parametrize("block_bytes", BLOCK_BYTES)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_column_blocks_are_im2col(rng, monkeypatch, case, block_bytes):
    # Put side by side, the blocks are im2col's matrix (plus the Wq - W' spare columns).
    N, C, H, W, F, KH, KW, s, p = case
    x, _, _ = make(rng, N + 2, C, H, W, F, KH, KW)
    monkeypatch.setattr(engine, "COLUMN_BLOCK_BYTES", block_bytes)
    Ho, Wo = conv.output_size((H, W), (KH, KW), s, p)
    ref = conv.im2col(x, (KH, KW), s, p).reshape(N + 2, C * KH * KW, Ho, Wo)
    seen = np.zeros((N + 2, Ho), dtype=int)
    for n0, n1, i0, i1, cols in engine.column_blocks(x, (KH, KW), s, p):
        assert cols.shape[:3] == (n1 - n0, C * KH * KW, i1 - i0)
        assert cols.shape[3] >= Wo
        np.testing.assert_array_equal(cols[..., :Wo], ref[n0:n1, :, i0:i1])
        seen[n0:n1, i0:i1] += 1
    assert np.all(seen == 1)  # every output row of every image, once


def test_column_blocks_keeps_float32(rng):
    x = rng.standard_normal((3, 2, 5, 4)).astype(np.float32)
    blocks = list(engine.column_blocks(x, 3, 1, 1))
    assert blocks and all(cols.dtype == np.float32 for *_, cols in blocks)


def test_column_blocks_bad_input_raises():
    with pytest.raises(ValueError, match=r"x must have 4 dimensions"):
        next(engine.column_blocks(np.zeros((3, 5, 5)), 3))
    with pytest.raises(ValueError, match=r"kernel_size"):
        next(engine.column_blocks(np.zeros((1, 3, 5, 5)), 0))
    with pytest.raises(ValueError, match=r"larger"):
        next(engine.column_blocks(np.zeros((1, 3, 5, 5)), 7))
    with pytest.raises(ValueError, match=r"real numbers"):
        next(engine.column_blocks(np.zeros((1, 3, 5, 5), dtype=complex), 3))


# ----------------------------------------------------------------- NaN in the blocks


@pytest.mark.parametrize("block_bytes", BLOCK_BYTES)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_nan_stays_where_it_belongs_in_every_cut(rng, monkeypatch, case, block_bytes):
    # The spare stride-1 columns past the right edge are zeroed in every block of
    # columns and column gradients (bands of rows, groups of images), not only the
    # first: a NaN pixel or weight anywhere reaches what the readable version says.
    N, C, H, W, F, KH, KW, s, p = case
    x, w, _ = make(rng, N + 2, C, H, W, F, KH, KW)
    monkeypatch.setattr(engine, "COLUMN_BLOCK_BYTES", block_bytes)
    xb, wb = x.copy(), w.copy()
    xb[N + 1, C - 1, H // 2, 0] = np.nan  # a left-edge pixel of the last image
    xb[0, 0, H - 1, W - 1] = np.nan  # a bottom-right pixel of the first
    wb[F - 1, 0, 0, KW - 1] = np.nan
    for xi, wi in ((xb, w), (x, wb), (xb, wb)):
        out, cache = engine.conv2d_forward(xi, wi, None, s, p)
        dout = rng.standard_normal(out.shape)
        _, ref_cache = conv.conv2d_forward(xi, wi, None, s, p)
        for g, r in zip(
            engine.conv2d_backward(dout, cache),
            conv.conv2d_backward(dout, ref_cache),
            strict=True,
        ):
            np.testing.assert_allclose(g, r, rtol=1e-11, atol=1e-11)  # NaN == NaN


def test_finite_input_is_not_searched_twice(rng, monkeypatch):
    # The spare columns are zeroed only when x or w holds a NaN or an inf. Finding
    # out for x would take a pass over it: finite input takes the unchanged fast path,
    # with a glance at w and at the result dw, and x is searched only when dw is not
    # finite (then the blocks run again, zeroing).
    x, w, _ = make(rng, 2, 3, 6, 6, 2, 3, 3)
    out, cache = engine.conv2d_forward(x, w, None, 1, 1)
    calls = []
    real = np.isfinite
    monkeypatch.setattr(np, "isfinite", lambda a: calls.append(a.shape) or real(a))
    engine.conv2d_backward(np.ones(out.shape), cache)
    assert calls == [w.shape, w.shape]  # w, then dw; never x
    calls.clear()
    dout = np.ones(out.shape)
    dout[0, 0, 0, 0] = np.nan  # dw is NaN: x is searched, and is finite
    engine.conv2d_backward(dout, cache)
    assert calls == [w.shape, w.shape, x.shape]


def test_column_blocks_checks_its_input_when_called():
    # A generator would only raise at the first next(); bad input fails at the call.
    with pytest.raises(ValueError, match=r"kernel_size"):
        engine.column_blocks(np.zeros((1, 3, 5, 5)), (0, 3))
    with pytest.raises(ValueError, match=r"padding .* at most"):
        engine.column_blocks(np.zeros((1, 3, 5, 5)), 3, 1, 3)
    with pytest.raises(ValueError, match=r"rectangular"):
        engine.column_blocks([[[[1.0, 2.0], [3.0]]]], 1)


def test_blocks_of_a_huge_stride_use_small_byte_strides():
    # One output along an axis: its stride is never applied, and 2**63 bytes would
    # not fit in a stride; the block geometry caps it (at 2, so still "not 1").
    blk = engine._Blocks((1, 1, 3, 3), (3, 3), (2**63, 2**63), (0, 0), 8)
    assert (blk.Ho, blk.Wo) == (1, 1) and blk.stride == (2, 2) and blk.Wq == 1
    blk = engine._Blocks((1, 1, 3, 3), (3, 3), (1, 10**30), (1, 0), 8)
    assert (blk.Ho, blk.Wo) == (3, 1) and blk.stride == (1, 2) and blk.Wq == 1


# ---------------------------------------------------- rows cut into column ranges


def test_a_row_too_big_for_a_block_is_cut_into_column_ranges(rng):
    # A "full" 128 x 128 kernel over a 2 x 2 image, vertical stride 127: a (2, 129)
    # output, but one output row of columns is 16384 x 129 x 8 B = 17 MB. The blocks
    # are ranges of output columns instead, about COLUMN_BLOCK_BYTES each.
    x = rng.standard_normal((1, 1, 2, 2))
    w = rng.standard_normal((2, 1, 128, 128))
    geometry = ((127, 1), 127)
    blk = engine._Blocks(x.shape, (128, 128), (127, 1), (127, 127), 8)
    widths = [j1 - j0 for j0, j1 in blk.spans]
    assert len(widths) > 1 and sum(widths) == 129 and max(widths) - min(widths) <= 1
    assert 128 * 128 * max(widths) * 8 <= engine.COLUMN_BLOCK_BYTES
    tracemalloc.start()
    try:
        out, cache = engine.conv2d_forward(x, w, None, *geometry)
        dout = rng.standard_normal(out.shape)
        grads = engine.conv2d_backward(dout, cache)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * engine.COLUMN_BLOCK_BYTES  # not the 17 MB of a whole row
    np.testing.assert_allclose(
        out, conv.conv2d_naive(x, w, None, *geometry), atol=1e-10
    )
    _, ref_cache = conv.conv2d_forward(x, w, None, *geometry)
    for g, r in zip(grads, conv.conv2d_backward(dout, ref_cache), strict=True):
        np.testing.assert_allclose(g, r, atol=1e-10)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_column_ranges_cover_every_output_column_once(monkeypatch, case):
    N, C, H, W, F, KH, KW, s, p = case
    (sh, sw), (ph, pw) = ((v, v) if np.ndim(v) == 0 else v for v in (s, p))
    for block_bytes in (1, C * KH * KW * 8 * 2, C * KH * KW * 8 * 3):
        monkeypatch.setattr(engine, "COLUMN_BLOCK_BYTES", block_bytes)
        blk = engine._Blocks((N, C, H, W), (KH, KW), (sh, sw), (ph, pw), 8)
        if len(blk.spans) == 1:  # a whole row fits
            continue
        columns = [j for j0, j1 in blk.spans for j in range(j0, j1)]
        assert columns == list(range(blk.Wo))  # no spare columns in a range
        assert blk.bands == [(i, i + 1) for i in range(blk.Ho)]  # one row per band
