// lamath.js: the linear algebra the explorables recompute in the reader's browser.
//
// A second implementation of a few lalib kernels, small enough to read in one sitting.
// Matrices are arrays of rows (arrays of numbers); vectors are arrays of numbers. Every
// function follows the lalib function named in its comment (same conventions, same
// edge cases), and tests/js/ checks the two against each other on fixtures that lalib
// writes from the same random inputs. Bad shapes throw an Error naming the shapes.

const shapeOf = (A) => `(${A.length}, ${A.length ? A[0].length : 0})`;

function checkMatrix(A, name) {
  if (!Array.isArray(A) || !A.every((r) => Array.isArray(r) && r.length === A[0].length)) {
    throw new Error(`${name} must be a rectangular matrix (an array of equal-length rows)`);
  }
}

/** A @ B for A (n, k) and B (k, m). */
export function matmul(A, B) {
  checkMatrix(A, "A");
  checkMatrix(B, "B");
  const k = A.length ? A[0].length : 0;
  if (B.length !== k) {
    throw new Error(`matmul: A is ${shapeOf(A)} and B is ${shapeOf(B)}; B must have ${k} rows`);
  }
  const m = B.length ? B[0].length : 0;
  return A.map((row) => {
    const out = new Array(m).fill(0);
    for (let p = 0; p < k; p++) {
      const a = row[p];
      const brow = B[p];
      for (let j = 0; j < m; j++) out[j] += a * brow[j];
    }
    return out;
  });
}

/** The transpose of A (n, m): (m, n). */
export function transpose(A) {
  checkMatrix(A, "A");
  if (!A.length) return [];
  return A[0].map((_, j) => A.map((row) => row[j]));
}

/** W @ x for W (m, n) and x (n,). */
export function matvec(W, x) {
  checkMatrix(W, "W");
  const n = W.length ? W[0].length : 0;
  if (x.length !== n) {
    throw new Error(`matvec: W is ${shapeOf(W)} and x is (${x.length},); x must have ${n} entries`);
  }
  return W.map((row) => row.reduce((s, w, j) => s + w * x[j], 0));
}

/** y = W x + b, one example (lalib.linear.linear_forward on one row, W as (out, in)). */
export function affine(W, x, b) {
  const y = matvec(W, x);
  if (b.length !== y.length) {
    throw new Error(`affine: W is ${shapeOf(W)}, so b must have ${y.length} entries, got (${b.length},)`);
  }
  return y.map((v, i) => v + b[i]);
}

/** max(x, 0) elementwise, on a vector or a matrix (lalib.activations.relu). NaN stays NaN. */
export function relu(x) {
  return x.map((v) => (Array.isArray(v) ? relu(v) : v > 0 ? v : v === v ? 0 : v));
}

/** The determinant of a 2 x 2 matrix. */
export function det2(W) {
  return W[0][0] * W[1][1] - W[0][1] * W[1][0];
}

/**
 * Softmax of each row of S (lalib.activations.softmax, axis=-1), stable: the row maximum
 * is subtracted first, so logits of +-1e4 give finite weights. mask (optional, the shape
 * of S) is true where a query may attend; masked entries get weight 0. A row with
 * nothing to attend to (fully masked, or -inf everywhere) is all zeros; a NaN or +inf
 * logit makes its row NaN.
 */
export function softmaxRows(S, mask = null) {
  checkMatrix(S, "S");
  if (mask !== null && (mask.length !== S.length || mask.some((r, i) => r.length !== S[i].length))) {
    throw new Error(`softmaxRows: mask must have the shape of S ${shapeOf(S)}, got ${shapeOf(mask)}`);
  }
  return S.map((row, i) => {
    const z = row.map((v, j) => (mask === null || mask[i][j] ? v : -Infinity));
    let zmax = -Infinity;
    for (const v of z) if (v > zmax || v !== v) zmax = v !== v ? NaN : Math.max(zmax, v);
    if (zmax !== zmax) return z.map(() => NaN);
    if (zmax === -Infinity) return z.map(() => 0);
    const e = z.map((v) => Math.exp(v - zmax));
    const s = e.reduce((a, v) => a + v, 0);
    return e.map((v) => v / s);
  });
}

/** The causal mask for n_q queries and n_k keys: query i may attend to keys j <= i + n_k - n_q. */
export function causalMask(nQ, nK = nQ) {
  return Array.from({ length: nQ }, (_, i) => Array.from({ length: nK }, (_, j) => j <= i + nK - nQ));
}

/**
 * Scaled dot-product attention, step by step (lalib.attention.attention_forward):
 * scores = scale * Q K^T, weights = softmax(scores, masked), out = weights V.
 * scale defaults to 1 / sqrt(d_k); causal adds causalMask (AND with mask).
 */
export function attention(Q, K, V, { scale = null, mask = null, causal = false } = {}) {
  checkMatrix(Q, "Q");
  checkMatrix(K, "K");
  checkMatrix(V, "V");
  const dk = Q.length ? Q[0].length : 0;
  if ((K.length ? K[0].length : 0) !== dk || K.length !== V.length) {
    throw new Error(`attention: Q ${shapeOf(Q)}, K ${shapeOf(K)}, V ${shapeOf(V)}; K needs d_k = ${dk} columns and as many rows as V`);
  }
  const s = scale === null ? 1 / Math.sqrt(dk) : scale;
  const scores = matmul(Q, transpose(K)).map((r) => r.map((v) => s * v));
  let m = mask;
  if (causal) {
    const c = causalMask(Q.length, K.length);
    m = m === null ? c : c.map((r, i) => r.map((v, j) => v && m[i][j]));
  }
  const weights = softmaxRows(scores, m);
  if (m === null) return { scores, weights, out: matmul(weights, V) };
  // As lalib: a masked key gets weight exactly 0 (also in a NaN row) and its value is
  // not read, so a NaN or inf value that a query may not see cannot reach its output
  // (0 * NaN would be NaN).
  const P = weights.map((r, i) => r.map((v, j) => (m[i][j] ? v : 0)));
  const dv = V.length ? V[0].length : 0;
  const out = P.map((r, i) => {
    const o = new Array(dv).fill(0);
    r.forEach((p, j) => {
      if (m[i][j]) for (let t = 0; t < dv; t++) o[t] += p * V[j][t];
    });
    return o;
  });
  return { scores, weights: P, out };
}

/**
 * Output size along one axis: floor((n + 2 padding - k) / stride) + 1 (lalib.conv.output_size,
 * which also refuses a padding beyond k - 1 or a kernel larger than the padded input).
 */
export function outputSize(n, k, stride = 1, padding = 0) {
  if (padding > k - 1) {
    throw new Error(`outputSize: padding ${padding} must be at most ${k - 1} for a kernel of ${k} (more only adds windows of zeros)`);
  }
  const span = n + 2 * padding - k;
  if (span < 0) {
    throw new Error(`outputSize: a kernel of ${k} does not fit an input of ${n} with padding ${padding}`);
  }
  return Math.floor(span / stride) + 1;
}

/** x (C, H, W) with a ring of `padding` zeros around each channel. */
export function pad(x, padding) {
  return x.map((ch) => {
    const W = ch[0].length + 2 * padding;
    const zeros = () => new Array(W).fill(0);
    const rows = ch.map((r) => [...new Array(padding).fill(0), ...r, ...new Array(padding).fill(0)]);
    return [...Array.from({ length: padding }, zeros), ...rows, ...Array.from({ length: padding }, zeros)];
  });
}

function checkConv(x, w) {
  if (x.length !== w.length) {
    throw new Error(`conv2d: the image has ${x.length} channels and the filter ${w.length}; they must match`);
  }
}

/**
 * Cross-correlation of one image x (C, H, W) with one filter w (C, KH, KW), as in
 * lalib.conv.conv2d (no flip): out[i][j] = sum over c, u, v of
 * xpad[c][i*stride + u][j*stride + v] * w[c][u][v]. Returns (H', W').
 */
export function conv2d(x, w, { stride = 1, padding = 0 } = {}) {
  checkConv(x, w);
  const [KH, KW] = [w[0].length, w[0][0].length];
  const Ho = outputSize(x[0].length, KH, stride, padding);
  const Wo = outputSize(x[0][0].length, KW, stride, padding);
  const xp = pad(x, padding);
  return Array.from({ length: Ho }, (_, i) =>
    Array.from({ length: Wo }, (_, j) => {
      let s = 0;
      for (let c = 0; c < w.length; c++)
        for (let u = 0; u < KH; u++)
          for (let v = 0; v < KW; v++) s += xp[c][i * stride + u][j * stride + v] * w[c][u][v];
      return s;
    }),
  );
}

/**
 * Transposed convolution of one single-channel image x (H, W) with a kernel w (KH, KW)
 * at `stride` (lalib.conv.conv_transpose2d, no padding): each input pixel stamps the
 * kernel, scaled by its value, at (i * stride, j * stride) of an output of
 * ((H - 1) stride + KH) x ((W - 1) stride + KW); overlapping stamps add up. Only the
 * first `upto` pixels (row-major) stamp (all by default): the output as it fills in.
 */
export function convTranspose2d(x, w, { stride = 1, upto = Infinity } = {}) {
  if (!(Number.isInteger(stride) && stride >= 1)) {
    throw new Error(`convTranspose2d: stride must be an integer >= 1, got ${stride}`);
  }
  const [H, W] = [x.length, x[0].length];
  const [KH, KW] = [w.length, w[0].length];
  const out = Array.from({ length: (H - 1) * stride + KH }, () => new Array((W - 1) * stride + KW).fill(0));
  for (let i = 0; i < H; i++)
    for (let j = 0; j < W; j++) {
      if (i * W + j >= upto) return out;
      for (let u = 0; u < KH; u++) for (let v = 0; v < KW; v++) out[i * stride + u][j * stride + v] += x[i][j] * w[u][v];
    }
  return out;
}

/**
 * The column of im2col for output pixel (i, j) (lalib.conv.im2col, one image): the
 * window of the padded input, flattened in (c, u, v) order, length C * KH * KW.
 */
export function im2colColumn(x, [KH, KW], i, j, { stride = 1, padding = 0 } = {}) {
  const xp = pad(x, padding);
  const col = [];
  for (const ch of xp) for (let u = 0; u < KH; u++) for (let v = 0; v < KW; v++) col.push(ch[i * stride + u][j * stride + v]);
  return col;
}

/**
 * The row of the Toeplitz matrix for output pixel (i, j) (lalib.conv.toeplitz_matrix,
 * one filter): length C * H * W over the unpadded input, holding w where the window
 * covers the input and 0 elsewhere; taps that fall in the padding are dropped.
 */
export function toeplitzRow(w, [C, H, W], i, j, { stride = 1, padding = 0 } = {}) {
  const row = new Array(C * H * W).fill(0);
  for (let c = 0; c < C; c++)
    for (let u = 0; u < w[c].length; u++)
      for (let v = 0; v < w[c][u].length; v++) {
        const r = i * stride + u - padding;
        const q = j * stride + v - padding;
        if (r >= 0 && r < H && q >= 0 && q < W) row[(c * H + r) * W + q] = w[c][u][v];
      }
  return row;
}

/**
 * Eigen-decomposition of a symmetric 2 x 2 matrix, as numpy.linalg.eigh: values
 * ascending, vectors[k] the unit eigenvector of values[k] (signs are arbitrary; here
 * the entry of largest magnitude is positive, as lalib.decomp.pca orients components).
 */
export function eigSym2(A) {
  const [a, b, d] = [A[0][0], (A[0][1] + A[1][0]) / 2, A[1][1]];
  if (b === 0) {
    // diagonal (c I included): the standard basis, the smaller diagonal entry first
    return a <= d ? { values: [a, d], vectors: [[1, 0], [0, 1]] } : { values: [d, a], vectors: [[0, 1], [1, 0]] };
  }
  const mid = (a + d) / 2;
  const r = Math.hypot((a - d) / 2, b);
  const values = [mid - r, mid + r];
  // The rotation by t that diagonalises A (tan 2t = 2b / (a - d)): its columns are the
  // eigenvectors, exactly orthogonal and accurate even when the eigenvalues nearly meet.
  const t = Math.atan2(2 * b, a - d) / 2;
  // Orient: the larger entry positive, the first on a tie (within rounding: cos and sin
  // of pi/4 differ in the last bit).
  const orient = (v) => ((Math.abs(v[0]) >= Math.abs(v[1]) - 1e-15 ? v[0] : v[1]) < 0 ? v.map((x) => -x) : v);
  return { values, vectors: [orient([-Math.sin(t), Math.cos(t)]), orient([Math.cos(t), Math.sin(t)])] };
}

/** f(x) = 1/2 x^T A x - b^T x (lalib.optim.quadratic_loss). */
export function quadraticLoss(x, A, b) {
  const Ax = matvec(A, x);
  return x.reduce((s, xi, i) => s + 0.5 * xi * Ax[i] - b[i] * xi, 0);
}

/** The gradient A x - b (lalib.optim.quadratic_grad). */
export function quadraticGrad(x, A, b) {
  return matvec(A, x).map((v, i) => v - b[i]);
}

/**
 * Gradient descent on the quadratic: x <- x - lr (A x - b), `steps` times
 * (lalib.optim.gradient_descent with quadratic_grad). Returns the steps + 1 iterates,
 * x0 first. Iterates that overflow become +-Infinity or NaN, as in NumPy.
 */
export function gdQuadratic(A, b, x0, lr, steps) {
  const path = [x0.slice()];
  let x = x0.slice();
  for (let t = 0; t < steps; t++) {
    const g = quadraticGrad(x, A, b);
    x = x.map((v, i) => v - lr * g[i]);
    path.push(x);
  }
  return path;
}

/** Column means and sample covariance (N - 1) of points (N, D) (lalib.decomp.covariance). */
export function covariance(X) {
  checkMatrix(X, "X");
  if (X.length < 2) throw new Error(`covariance: needs at least 2 points, got ${X.length}`);
  const N = X.length;
  const D = X[0].length;
  const mean = Array.from({ length: D }, (_, j) => X.reduce((s, r) => s + r[j], 0) / N);
  const Xc = X.map((r) => r.map((v, j) => v - mean[j]));
  const C = matmul(transpose(Xc), Xc).map((r) => r.map((v) => v / (N - 1)));
  return { C: C.map((r, i) => r.map((v, j) => (v + C[j][i]) / 2)), mean };
}

/** RoPE's angular frequencies theta_i = base^(-2i/d), i < d/2 (lalib.positions.rope_frequencies). */
export function ropeFrequencies(d, base = 10000) {
  if (!Number.isInteger(d) || d < 2 || d % 2 !== 0) {
    throw new Error(`ropeFrequencies: d must be a positive even integer (pairs of coordinates), got ${d}`);
  }
  if (!(base > 0)) throw new Error(`ropeFrequencies: base must be positive, got ${base}`);
  return Array.from({ length: d / 2 }, (_, i) => base ** ((-2 * i) / d));
}

/**
 * R(position) x for one vector x (d,): each pair (x[2i], x[2i+1]) turned by
 * position * theta_i, [[cos, -sin], [sin, cos]] on the column (x[2i], x[2i+1])
 * (lalib.positions.rope on one row; rope_matrix(position, d) @ x).
 */
export function ropeRotate(x, position, base = 10000) {
  const theta = ropeFrequencies(x.length, base);
  const out = new Array(x.length);
  theta.forEach((t, i) => {
    const [c, sn] = [Math.cos(position * t), Math.sin(position * t)];
    const [a, b] = [x[2 * i], x[2 * i + 1]];
    out[2 * i] = c * a - sn * b;
    out[2 * i + 1] = sn * a + c * b;
  });
  return out;
}

/**
 * The score (R(m) q) . (R(n) k) pair by pair: terms[i] is the dot product of the two
 * rotated pairs i, and score their sum. Only n - m matters: R(m)^T R(n) = R(n - m).
 */
export function ropePairScores(q, k, m, n, base = 10000) {
  if (q.length !== k.length) {
    throw new Error(`ropePairScores: q is (${q.length},) and k is (${k.length},); they must have the same length`);
  }
  const [qm, kn] = [ropeRotate(q, m, base), ropeRotate(k, n, base)];
  const terms = Array.from({ length: q.length / 2 }, (_, i) => qm[2 * i] * kn[2 * i] + qm[2 * i + 1] * kn[2 * i + 1]);
  return { terms, score: terms.reduce((a, b) => a + b, 0) };
}

/**
 * LayerNorm of one row x (d,) with gamma = 1, beta = 0 (lalib.transformer.layer_norm on
 * one row): mean mu, the centred row P x = x - mu 1, sigma = sqrt(mean((P x)^2) + eps)
 * (two passes, never E[x^2] - E[x]^2), and out = P x / sigma. A constant row gives 0.
 */
export function layerNorm(x, eps = 1e-5) {
  if (!Array.isArray(x) || x.length === 0) {
    throw new Error(`layerNorm: x must have a last axis of d >= 1 features (d,), got shape (${Array.isArray(x) ? x.length : typeof x},)`);
  }
  if (!(eps > 0 && eps < Infinity)) throw new Error(`layerNorm: eps must be a positive finite number, got ${eps}`);
  const mean = x.reduce((a, b) => a + b, 0) / x.length;
  const centred = x.map((v) => v - mean);
  const sigma = Math.sqrt(centred.reduce((a, v) => a + v * v, 0) / x.length + eps);
  return { mean, centred, sigma, out: centred.map((v) => v / sigma) };
}
