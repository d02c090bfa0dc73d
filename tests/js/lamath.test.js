// lamath.js (the explorables' browser math) against lalib, on the fixtures that
// tests/js/write_fixtures.py writes from seeded random inputs: `make node`.
//
// Tolerances. A value that is copied, not computed (transpose, relu, masks, sizes, the
// im2col column, the Toeplitz row) must be equal. A computed value may differ from
// NumPy's by rounding only: the two sum in different orders (BLAS blocks and fuses),
// so |js - lalib| <= 1e-12 |lalib| + 1e-12 * scale, where `scale` (written with each
// case) is the size of the terms the value sums: a sum that cancels to nearly 0 keeps
// an absolute rounding error of a few eps times its terms, which no relative test can
// ask of it. Sums here have at most a few dozen terms, so honest rounding stays below
// 1e-14 of the scale; 1e-12 leaves room for that and for exp/sqrt differing by an ulp,
// and still catches any wrong index, sign or term (errors of order 1). Where a looser
// tolerance is used, the comment there says why.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import * as lm from "../../lalib/display/js/lamath.js";
import { assertClose, load } from "./fixtures.js";

const EPS = 1e-12;
const EXACT = { rtol: 0, atol: 0 };
const near = (scale) => ({ rtol: EPS, atol: EPS * scale });

describe("products", () => {
  test("matmul equals A @ B", () => {
    for (const [k, c] of load("matmul").entries()) assertClose(lm.matmul(c.A, c.B), c.expected, near(c.scale), `matmul case ${k}`);
  });
  test("transpose is exact", () => {
    for (const [k, c] of load("transpose").entries()) assertClose(lm.transpose(c.A), c.expected, EXACT, `transpose case ${k}`);
  });
  test("matvec equals W @ x", () => {
    for (const [k, c] of load("matvec").entries()) assertClose(lm.matvec(c.W, c.x), c.expected, near(c.scale), `matvec case ${k}`);
  });
  test("affine equals lalib.linear.linear_forward, and the worked example gives [18, 40]", () => {
    const cases = load("affine");
    assert.deepEqual(lm.affine([[1, 2], [3, 4]], [5, 6], [1, 1]), [18, 40]);
    assert.deepEqual(cases[0].expected, [18, 40]);
    for (const [k, c] of cases.entries()) assertClose(lm.affine(c.W, c.x, c.b), c.expected, near(c.scale), `affine case ${k}`);
  });
  test("relu equals lalib.activations.relu (NaN stays NaN, infinities kept)", () => {
    for (const [k, c] of load("relu").entries()) assertClose(lm.relu(c.x), c.expected, EXACT, `relu case ${k}`);
  });
  test("det2 equals numpy.linalg.det", () => {
    for (const [k, c] of load("det2").entries()) assertClose(lm.det2(c.W), c.expected, near(c.scale), `det2 case ${k}`);
  });
});

describe("softmax and attention", () => {
  test("softmaxRows equals lalib's masked softmax (+-1e4, -inf, fully masked, NaN rows)", () => {
    for (const [k, c] of load("softmaxRows").entries()) {
      const got = lm.softmaxRows(c.S, c.mask);
      // weights lie in [0, 1]: exp may differ by an ulp between V8 and NumPy
      assertClose(got, c.expected, near(1), `softmaxRows case ${k}`);
    }
  });
  test("the fixtures cover the edge cases they claim", () => {
    const cases = load("softmaxRows");
    const rows = cases.flatMap((c) => c.expected);
    assert.ok(rows.some((r) => r.length && r.every((v) => v === 0)), "a row of zeros (nothing to attend to)");
    assert.ok(rows.some((r) => r.length && r.every((v) => Number.isNaN(v))), "a NaN row");
    assert.ok(cases.some((c) => c.S.flat().some((v) => Math.abs(v) >= 1e4)), "logits of +-1e4");
    assert.ok(cases.some((c) => c.mask !== null), "masks");
  });
  test("causalMask equals lalib.attention.causal_mask (n_q != n_k included)", () => {
    for (const [k, c] of load("causalMask").entries()) {
      const got = lm.causalMask(c.nQ, c.nK);
      assert.equal(got.length, c.expected.length, `causalMask case ${k}`);
      assertClose(got, c.expected, EXACT, `causalMask(${c.nQ}, ${c.nK})`);
    }
    assert.deepEqual(lm.causalMask(3), lm.causalMask(3, 3));
  });
  test("attention equals lalib.attention.attention_forward: scores, weights (the cache's P), out", () => {
    for (const [k, c] of load("attention").entries()) {
      const opts = { scale: c.options.scale, mask: c.options.mask, causal: c.options.causal };
      const got = lm.attention(c.Q, c.K, c.V, opts);
      const where = `attention case ${k} ${JSON.stringify({ scale: opts.scale, causal: opts.causal, mask: opts.mask !== null })}`;
      assertClose(got.scores, c.expected.scores, near(c.scale.scores), `${where} scores`);
      // the weights come from scores that differ by rounding (lalib scales Q before the
      // product, lamath after): exp turns an absolute score error e into a relative
      // weight error e, so the weights' tolerance is the scores'
      assertClose(got.weights, c.expected.weights, near(Math.max(1, c.scale.scores)), `${where} weights`);
      assertClose(got.out, c.expected.out, near(Math.max(1, c.scale.scores) * c.scale.out), `${where} out`);
    }
  });
});

describe("convolution", () => {
  test("outputSize equals lalib.conv.output_size", () => {
    for (const c of load("outputSize")) {
      assert.equal(lm.outputSize(c.n, c.k, c.stride, c.padding), c.expected, `outputSize(${c.n}, ${c.k}, ${c.stride}, ${c.padding})`);
    }
  });
  test("conv2d equals lalib.conv.conv2d (strides 1-3, paddings 0-2, C = 1 and 3)", () => {
    const cases = load("conv2d");
    const seen = new Set(cases.map((c) => `${c.x.length}/${c.stride}/${c.padding}`));
    for (const C of [1, 3]) for (const s of [1, 2, 3]) for (const p of [0, 1, 2]) assert.ok(seen.has(`${C}/${s}/${p}`), `a case with C=${C}, stride ${s}, padding ${p}`);
    for (const [k, c] of cases.entries()) {
      const got = lm.conv2d(c.x, c.w, { stride: c.stride, padding: c.padding });
      assertClose(got, c.expected, near(c.scale), `conv2d case ${k} (C=${c.x.length}, stride ${c.stride}, padding ${c.padding})`);
    }
  });
  test("convTranspose2d equals lalib.conv.conv_transpose2d, whole and filling in", () => {
    const cases = load("convTranspose2d");
    assert.ok(cases.length >= 12);
    for (const [k, c] of cases.entries()) {
      const got = lm.convTranspose2d(c.x, c.w, { stride: c.stride, upto: c.upto });
      assertClose(got, c.expected, near(c.scale), `convTranspose2d case ${k} (stride ${c.stride}, ${c.upto} pixels)`);
    }
    assert.throws(() => lm.convTranspose2d([[1]], [[1]], { stride: 0 }), /stride must be an integer >= 1, got 0/);
  });
  test("im2colColumn(i, j) is column i * W' + j of lalib.conv.im2col", () => {
    for (const [k, c] of load("im2colColumn").entries()) {
      const [Ho, Wo] = c.outShape;
      for (let i = 0; i < Ho; i++)
        for (let j = 0; j < Wo; j++) {
          const got = lm.im2colColumn(c.x, c.kernel, i, j, { stride: c.stride, padding: c.padding });
          assertClose(got, c.expected.map((row) => row[i * Wo + j]), EXACT, `im2col case ${k} pixel (${i}, ${j})`);
        }
    }
  });
  test("toeplitzRow(i, j) is row i * W' + j of lalib.conv.toeplitz_matrix", () => {
    for (const [k, c] of load("toeplitzRow").entries()) {
      const [Ho, Wo] = c.outShape;
      assert.equal(c.expected.length, Ho * Wo);
      for (let i = 0; i < Ho; i++)
        for (let j = 0; j < Wo; j++) {
          const got = lm.toeplitzRow(c.w, c.inputShape, i, j, { stride: c.stride, padding: c.padding });
          assertClose(got, c.expected[i * Wo + j], EXACT, `toeplitz case ${k} pixel (${i}, ${j})`);
        }
    }
  });
  test("conv2d is T x and w . im2col column on the same windows", () => {
    for (const c of load("conv2d")) {
      const [C, H, W] = [c.x.length, c.x[0].length, c.x[0][0].length];
      const out = lm.conv2d(c.x, c.w, { stride: c.stride, padding: c.padding });
      const flatW = c.w.flat(2);
      const flatX = c.x.flat(2);
      out.forEach((row, i) =>
        row.forEach((v, j) => {
          const col = lm.im2colColumn(c.x, [c.w[0].length, c.w[0][0].length], i, j, c);
          const T = lm.toeplitzRow(c.w, [C, H, W], i, j, c);
          const dot = (a, b) => a.reduce((s, t, q) => s + t * b[q], 0);
          assertClose(dot(flatW, col), v, near(c.scale), `w . column (${i}, ${j})`);
          assertClose(dot(T, flatX), v, near(c.scale), `T row . x (${i}, ${j})`);
        }),
      );
    }
  });
});

describe("eigen-decomposition, descent, covariance", () => {
  test("eigSym2 equals numpy.linalg.eigh (ascending; vectors oriented as lamath documents)", () => {
    for (const [k, c] of load("eigSym2").entries()) {
      const got = lm.eigSym2(c.A);
      const where = `eigSym2 case ${k} ${JSON.stringify(c.A)}`;
      // eigenvalues of a symmetric matrix are well conditioned in absolute terms: both
      // solvers are accurate to a few eps * |A|, not relative to a tiny eigenvalue
      assertClose(got.values, c.expected.values, near(c.scale), `${where} values`);
      // an eigenvector moves by eps * |A| / gap: a near-multiple of I (gap ~ 0) leaves
      // it ill-determined, so compare only where the gap makes it well defined
      const unit = Math.max(1, c.scale / Math.max(c.gap, 1e-300));
      if (unit < 1e6) assertClose(got.vectors, c.expected.vectors, near(unit), `${where} vectors`);
      // and always: unit, orthogonal, A v = lambda v
      for (const [i, v] of got.vectors.entries()) {
        assertClose(Math.hypot(...v), 1, near(1), `${where} |v${i}|`);
        const Av = lm.matvec(c.A, v);
        assertClose(Av, v.map((t) => got.values[i] * t), near(c.scale), `${where} A v${i}`);
      }
      const [v0, v1] = got.vectors;
      assertClose(v0[0] * v1[0] + v0[1] * v1[1], 0, near(1), `${where} v0 . v1`);
    }
  });
  test("quadraticLoss and quadraticGrad equal lalib.optim", () => {
    for (const [k, c] of load("quadratic").entries()) {
      assertClose(lm.quadraticLoss(c.x, c.A, c.b), c.loss, near(c.scale), `quadraticLoss case ${k}`);
      assertClose(lm.quadraticGrad(c.x, c.A, c.b), c.grad, near(c.gradScale), `quadraticGrad case ${k}`);
    }
  });
  test("gdQuadratic equals lalib.optim.gradient_descent, converging or diverging", () => {
    const cases = load("gdQuadratic");
    const last = (c) => c.expected[c.expected.length - 1];
    assert.ok(cases.some((c) => Math.hypot(...last(c)) > 1e6), "a diverging run");
    assert.ok(cases.some((c) => last(c).some(Number.isNaN)), "a run that overflows");
    for (const [k, c] of cases.entries()) {
      const got = lm.gdQuadratic(c.A, c.b, c.x0, c.lr, c.steps);
      assert.equal(got.length, c.steps + 1, `gdQuadratic case ${k}: steps + 1 iterates`);
      // each step rounds, and an unstable run (|1 - lr lambda| > 1) amplifies the
      // rounding of earlier steps as much as the iterates themselves: the error stays a
      // few eps relative to each iterate's size per step, so 1e-12 per iterate's norm
      got.forEach((x, t) => {
        const size = Math.max(1, ...c.expected[t].map(Math.abs).filter(Number.isFinite));
        assertClose(x, c.expected[t], near(size), `gdQuadratic case ${k} (lr ${c.lr}) iterate ${t}`);
      });
    }
  });
  test("covariance equals lalib.decomp.covariance (mean and N - 1 covariance)", () => {
    for (const [k, c] of load("covariance").entries()) {
      const got = lm.covariance(c.X);
      assertClose(got.mean, c.expected.mean, near(c.scale.mean), `covariance case ${k} mean`);
      assertClose(got.C, c.expected.C, near(c.scale.C), `covariance case ${k} C`);
      got.C.forEach((row, i) => row.forEach((v, j) => assert.equal(v, got.C[j][i], "exactly symmetric")));
    }
  });
});

describe("rotary positions", () => {
  test("ropeFrequencies equals lalib.positions.rope_frequencies", () => {
    for (const [k, c] of load("ropeFrequencies").entries()) {
      // base ** (-2i / d) in [0, 1]: pow may differ by an ulp between V8 and NumPy
      assertClose(lm.ropeFrequencies(c.d, c.base), c.expected, near(1), `ropeFrequencies case ${k} (d ${c.d}, base ${c.base})`);
    }
    assert.throws(() => lm.ropeFrequencies(8, 0), /base must be positive, got 0/);
  });
  test("ropeRotate equals lalib.positions.rope on one row, and rope_matrix(position) @ x", () => {
    const cases = load("ropeRotate");
    assert.ok(cases.some((c) => c.position === 0) && cases.some((c) => c.position >= 31));
    for (const [k, c] of cases.entries()) {
      const got = lm.ropeRotate(c.x, c.position, c.base);
      const where = `ropeRotate case ${k} (d ${c.x.length}, position ${c.position}, base ${c.base})`;
      // the angle position * theta carries theta's ulp times the position (<= 100 here)
      assertClose(got, c.expected, near(100 * c.scale), where);
      assertClose(got, c.byMatrix, near(100 * c.scale), `${where} by matrix`);
      if (c.position === 0) assertClose(got, c.x, EXACT, `${where}: position 0 is the identity`);
      // a rotation keeps every pair's length
      for (let i = 0; i < got.length; i += 2) {
        assertClose(Math.hypot(got[i], got[i + 1]), Math.hypot(c.x[i], c.x[i + 1]), near(c.scale), `${where} |pair ${i / 2}|`);
      }
    }
  });
  test("ropePairScores equals (rope_matrix(m) q) . (rope_matrix(n) k), pair by pair", () => {
    for (const [k, c] of load("ropePairScores").entries()) {
      const got = lm.ropePairScores(c.q, c.k, c.m, c.n, c.base);
      const where = `ropePairScores case ${k} (m ${c.m}, n ${c.n}, base ${c.base})`;
      assertClose(got.terms, c.expected.terms, near(100 * c.scale), `${where} terms`);
      assertClose(got.score, c.expected.score, near(100 * c.scale), `${where} score`);
      // the score depends on n - m alone: shifting both positions keeps it
      const shifted = lm.ropePairScores(c.q, c.k, c.m + 5, c.n + 5, c.base);
      assertClose(shifted.terms, got.terms, near(100 * c.scale), `${where} shifted by 5`);
    }
    assert.throws(() => lm.ropePairScores([1, 0], [1, 0, 0, 0], 0, 0), /\(2,\).*\(4,\)/);
  });
});

describe("layer norm", () => {
  test("layerNorm equals lalib.transformer.layer_norm on one row (gamma 1, beta 0)", () => {
    const cases = load("layerNorm");
    assert.ok(cases.some((c) => c.x.every((v) => v === c.x[0])), "a constant row is among the cases");
    for (const [k, c] of cases.entries()) {
      const got = lm.layerNorm(c.x, c.eps);
      const where = `layerNorm case ${k} (d ${c.x.length}, eps ${c.eps})`;
      assertClose(got.mean, c.expected.mean, near(c.scale), `${where} mean`);
      assertClose(got.centred, c.expected.centred, near(c.scale), `${where} centred (centering_matrix(d) @ x)`);
      assertClose(got.sigma, c.expected.sigma, near(c.scale), `${where} sigma`);
      assertClose(got.out, c.expected.out, near(c.outScale), `${where} out`);
      // P 1 = 0: the output's entries sum to 0 (up to rounding of its terms)
      assertClose(got.out.reduce((a, b) => a + b, 0), 0, near(10 * c.outScale), `${where} sum`);
    }
    const [a, b] = [lm.layerNorm([2, 0.5, -0.4]), lm.layerNorm([5, 2, 0.2])]; // 2 x + 1
    assertClose(b.out, a.out, { rtol: 1e-5, atol: 1e-5 }, "shift and scale leave LN(x) (up to eps)");
    assert.ok(Number.isNaN(lm.layerNorm([1, NaN, 0]).out[0]), "NaN propagates");
    assert.throws(() => lm.layerNorm([]), /\(0,\)/);
  });
});

describe("bad input", () => {
  test("what lalib refuses, lamath refuses with an Error naming the shapes", () => {
    for (const c of load("errors")) {
      assert.ok(c.lalib.length > 0);
      assert.throws(
        () => lm[c.fn](...c.args),
        (err) => {
          assert.ok(err instanceof Error, `${c.fn}: throws an Error`);
          for (const name of c.names) assert.ok(err.message.includes(name), `${c.fn}: "${err.message}" names ${name} (lalib: ${c.lalib})`);
          return true;
        },
        `${c.fn}(${c.args.map((a) => JSON.stringify(a)).join(", ")}) must throw (lalib: ${c.lalib})`,
      );
    }
  });
  test("ragged matrices are refused", () => {
    assert.throws(() => lm.matmul([[1, 2], [3]], [[1], [2]]), /rectangular/);
    assert.throws(() => lm.softmaxRows([[1, 2], [3]]), /rectangular/);
  });
});
