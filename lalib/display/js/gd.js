// gd.js: gradient descent on f(x) = 1/2 x^T A x - b^T x, recomputed in the browser.
//
// The reader sets the eigenvalues of A and the angle of its eigenvectors (the minimum
// x* = A^-1 b stays where it is: b follows A), the learning rate and the number of
// steps, and places the start by clicking (or drags it, or moves it with the arrow
// keys). The path is lamath.gdQuadratic, the same update as lalib.optim.gradient_descent
// with lalib.optim.quadratic_grad.
import { det2, eigSym2, gdQuadratic, quadraticLoss } from "./lamath.js";
import { h, s, slider, button, controls, liveRegion, draggable, svgPoint, onFrame, root, patch, scratch } from "./ui.js";
import { num, pair, planeView, planeGrid, ellipseAt, arrowTo, viewClip } from "./why2d.js";

const SUB = "₀₁₂₃₄₅₆₇₈₉";
const sub = (n) => String(n).replace(/\d/g, (d) => SUB[d]);
const snap = (v, q = 0.01) => Math.round(v / q) * q;
let gdCount = 0;

/** The rate max_i |1 - lr lam_i| (lalib.optim.gd_rate) and the limit 2 / lam_max. */
function gdVerdict(lam, lr) {
  const lamMax = Math.max(...lam);
  const rate = Math.max(...lam.map((l) => Math.abs(1 - lr * l)));
  const limit = 2 / lamMax;
  const edge = Math.abs(lr - limit) <= 1e-9 * limit;
  return { rate, limit, kind: edge ? "edge" : lr > limit ? "diverges" : "converges" };
}

function solve2(A, b) {
  const d = det2(A);
  return [(A[1][1] * b[0] - A[0][1] * b[1]) / d, (A[0][0] * b[1] - A[1][0] * b[0]) / d];
}

/** A = R diag(l1, l2) R^T with R the rotation by `deg` degrees. */
function fromEigen(l1, l2, deg) {
  const t = (deg * Math.PI) / 180;
  const [c, sn] = [Math.cos(t), Math.sin(t)];
  const off = (l1 - l2) * c * sn;
  return [
    [l1 * c * c + l2 * sn * sn, off],
    [off, l1 * sn * sn + l2 * c * c],
  ];
}

function gdBuild({ model, el }) {
  gdCount += 1;
  const sym = model.get("symbol") || "x";
  const fig = root(el, {
    label: "Gradient descent on a quadratic: set the eigenvalues, the learning rate and the start",
    className: "la-why",
  });
  const st = {}; // the derived state: eigenvalues, angle, minimum
  let mine = false; // true while this view writes the model (no echo back)
  const put = (pairs) => {
    mine = true;
    for (const [k, v] of Object.entries(pairs)) model.set(k, v);
    model.save_changes();
    mine = false;
  };

  function fromModel() {
    const A = model.get("A");
    const { values, vectors } = eigSym2(A);
    st.l1 = values[0];
    st.l2 = values[1];
    let deg = (Math.atan2(vectors[0][1], vectors[0][0]) * 180) / Math.PI;
    deg = ((deg % 180) + 180) % 180;
    st.deg = deg;
    st.xstar = solve2(A, model.get("b"));
  }
  fromModel();

  const lamFmt = (v) => num(v, 2);
  const lamMaxSlider = Math.max(12, Math.ceil(1.2 * Math.max(st.l1, st.l2)));
  const setA = () => {
    const A = fromEigen(st.l1, st.l2, st.deg);
    const b = [A[0][0] * st.xstar[0] + A[0][1] * st.xstar[1], A[1][0] * st.xstar[0] + A[1][1] * st.xstar[1]];
    put({ A, b });
    redraw();
  };
  const c1 = slider({ label: "λ along q₁", min: 0.1, max: lamMaxSlider, step: 0.1, value: st.l1, format: lamFmt, onInput: (v) => ((st.l1 = v), setA()) });
  const c2 = slider({ label: "λ along q₂", min: 0.1, max: lamMaxSlider, step: 0.1, value: st.l2, format: lamFmt, onInput: (v) => ((st.l2 = v), setA()) });
  const c3 = slider({ label: "angle of q₁", min: 0, max: 175, step: 5, value: st.deg, format: (v) => `${num(v, 0)}°`, onInput: (v) => ((st.deg = v), setA()) });
  const lrS = slider({
    label: "learning rate",
    min: 0.005,
    max: Math.max(0.5, Math.ceil((2.5 / Math.max(st.l1, st.l2)) * 200) / 200),
    step: 0.005,
    value: model.get("lr"),
    format: (v) => num(v, 3),
    onInput: (v) => (put({ lr: v }), redraw()),
  });
  const stepS = slider({
    label: "steps",
    min: 0,
    max: Math.max(60, model.get("steps")),
    step: 1,
    value: model.get("steps"),
    format: (v) => String(v),
    onInput: (v) => (put({ steps: v }), redraw()),
  });
  const presetRow = h("div", { class: "la-control", role: "group", "aria-label": "learning-rate presets" }, h("span", {}, "try lr:"));
  for (const lr of model.get("presets") || []) {
    presetRow.append(
      button({
        label: `lr ${lr}`,
        onClick: () => {
          put({ lr });
          lrS.set(lr);
          redraw();
        },
      }),
    );
  }

  const view = planeView(model.get("center"), model.get("lim"), 360);
  const svg = s("svg", {
    viewBox: `0 0 ${view.size} ${view.size}`,
    width: view.size,
    class: "la-why-plot",
    "aria-label": "the plane: click to place the start",
  });
  const [defs, clip] = viewClip(view, `la-gd-clip-${gdCount}-${Math.random().toString(36).slice(2, 7)}`);
  const bg = s("rect", { x: 0, y: 0, width: view.size, height: view.size, class: "la-why-bg" });
  const layerEl = s("g", { "clip-path": clip, "pointer-events": "none" });
  const handle = s("g", {}, s("circle", { r: 9, class: "la-why-start" }));
  svg.append(defs, bg, planeGrid(view), layerEl, handle);

  const getX0 = () => Array.from(model.get("x0"));
  const setX0 = (p) => {
    const lim = view.lim;
    const c = view.center;
    const q = [0, 1].map((i) => snap(Math.min(c[i] + lim, Math.max(c[i] - lim, p[i]))));
    put({ x0: q.map((v) => Number(v.toFixed(2))) });
    redraw();
  };
  draggable(handle, {
    label: () => `start ${sym}${sub(0)} at ${pair(getX0())}: drag, or move with the arrow keys`,
    get: getX0,
    set: setX0,
    toData: (e) => view.toData(svgPoint(svg, e)),
    step: 0.1,
  });
  svg.addEventListener("click", (e) => handle.contains(e.target) || setX0(view.toData(svgPoint(svg, e))));

  const problem = h("p", { class: "la-why-problem" });
  const status = liveRegion();
  const where = h("p", { class: "la-why-where" });
  const desc = h("p", { class: "la-why-desc" });
  fig.append(
    controls(c1.el, c2.el, c3.el),
    controls(lrS.el, stepS.el, presetRow),
    h("div", { class: "la-why-figure" }, svg),
    status,
    where,
    problem,
    desc,
  );

  function draw() {
    const A = model.get("A");
    const b = model.get("b");
    const x0 = getX0();
    const lr = model.get("lr");
    const steps = model.get("steps");
    // The eigenpairs as the controls name them: q1 at the angle, q2 across it.
    const t = (st.deg * Math.PI) / 180;
    const vectors = [
      [Math.cos(t), Math.sin(t)],
      [-Math.sin(t), Math.cos(t)],
    ];
    const values = [st.l1, st.l2];
    const xs = solve2(A, b);
    const path = gdQuadratic(A, b, x0, lr, steps);
    const v = gdVerdict(values, lr);
    const layer = scratch(layerEl);
    // Level sets: f(x) - f(x*) = 1/2 e^T A e = c is an ellipse with semi-axes
    // sqrt(2c / lam_i) along q_i; radii spaced evenly along the flattest direction.
    const lmin = Math.min(...values);
    for (let j = 1; j <= 8; j++) {
      const r = (view.lim * j) / 5;
      layer.append(ellipseAt(view, xs, vectors[0], r * Math.sqrt(lmin / values[0]), r * Math.sqrt(lmin / values[1]), { class: "la-why-level" }));
    }
    layer.append(
      s("path", { d: `M ${view.px(xs[0]) - 6} ${view.py(xs[1])} h 12 M ${view.px(xs[0])} ${view.py(xs[1]) - 6} v 12`, class: "la-why-min" }),
      s("text", { x: view.px(xs[0]) + 6, y: view.py(xs[1]) + 16, class: "la-why-label" }, `${sym}*`),
    );
    // The path, cut where it is far outside the view (it keeps growing off-screen).
    const far = (p) => !(Math.abs(p[0] - view.center[0]) < 50 * view.lim && Math.abs(p[1] - view.center[1]) < 50 * view.lim);
    let cut = path.findIndex(far);
    const shown = cut === -1 ? path : path.slice(0, cut + 1).map((p) => (far(p) ? p.map((t) => Math.sign(t) * 50 * view.lim) : p));
    const pts = shown.map((p) => `${view.px(p[0])},${view.py(p[1])}`).join(" ");
    layer.append(s("polyline", { points: pts, class: "la-why-path" }));
    shown.forEach((p, t) => {
      if (t === 0) return;
      layer.append(s("circle", { cx: view.px(p[0]), cy: view.py(p[1]), r: t === path.length - 1 ? 5 : 2.5, class: t === path.length - 1 ? "la-why-last" : "la-why-iter" }));
    });
    const L = view.lim * 0.42;
    vectors.forEach((q, i) => {
      const tip = [xs[0] + L * q[0], xs[1] + L * q[1]];
      layer.append(arrowTo(view, xs, tip, { cls: `la-why-q${i + 1}`, label: `q${sub(i + 1)}` }));
    });
    patch(layerEl, [...layer.childNodes]);
    handle.setAttribute("transform", `translate(${view.px(x0[0])} ${view.py(x0[1])})`);
    handle.setAttribute("aria-label", `start ${sym}${sub(0)} at ${pair(x0)}: drag, or move with the arrow keys`);

    // The numbers, as text.
    const last = path[path.length - 1];
    const err = Math.hypot(last[0] - xs[0], last[1] - xs[1]);
    const fLast = quadraticLoss(last, A, b);
    const head = `lr = ${num(lr, 3)}`;
    if (v.kind === "diverges") {
      status.textContent = `diverges: lr > 2/λ_max = ${num(v.limit, 3)} (${head}); the error grows by max|1 − lr λ| = ${num(v.rate, 3)} per step`;
    } else if (v.kind === "edge") {
      status.textContent = `on the edge: lr = 2/λ_max = ${num(v.limit, 3)}; max|1 − lr λ| = ${num(v.rate, 3)}, the steep component bounces for ever`;
    } else {
      status.textContent = `converges: ${head} < 2/λ_max = ${num(v.limit, 3)}; contraction factor max|1 − lr λ| = ${num(v.rate, 3)} per step`;
    }
    status.dataset.kind = v.kind;
    const leaves = path.findIndex((p) => !view.inside(p));
    patch(where,
      `start ${sym}${sub(0)} = ${pair(x0)}; after ${steps} step${steps === 1 ? "" : "s"}: `,
      h("span", { class: "la-why-iterate" }, `${sym}${sub(steps)} = ${pair(last, 4)}`),
      `, f = ${num(fLast, 4)}, distance to ${sym}* ${num(err, 4)}`,
    );
    problem.textContent =
      `f(${sym}) = ½ ${sym}ᵀA${sym} − bᵀ${sym} with A = [[${num(A[0][0], 3)}, ${num(A[0][1], 3)}], [${num(A[1][0], 3)}, ${num(A[1][1], 3)}]], ` +
      `b = [${num(b[0], 3)}, ${num(b[1], 3)}]; eigenvalues λ = ${num(values[0], 2)} along q₁ and ${num(values[1], 2)} along q₂ ` +
      `(condition number ${num(Math.max(...values) / Math.min(...values), 1)}); minimum ${sym}* = ${pair(xs)}.`;
    desc.textContent =
      `In the picture: ellipses are level sets of f around ${sym}* (cross), with the eigenvectors q₁ and q₂ as arrows; ` +
      `the path of ${steps} steps starts at the ringed point ${pair(x0)}` +
      (leaves === -1 ? " and stays in view." : ` and leaves the view at step ${leaves}.`);
  }
  const redraw = onFrame(draw);
  draw();
  const sync = () => {
    if (mine) return;
    fromModel();
    c1.set(st.l1);
    c2.set(st.l2);
    c3.set(st.deg);
    lrS.set(model.get("lr"));
    stepS.set(model.get("steps"));
    redraw();
  };
  for (const name of GD_DATA) model.on(`change:${name}`, sync);
  return () => {
    for (const name of GD_DATA) model.off(`change:${name}`, sync);
  };
}

// Traits a redraw follows, and traits that shape the figure itself (the view, the
// preset buttons, the symbol in the text): a change of those builds the figure anew.
const GD_DATA = ["A", "b", "x0", "lr", "steps"];
const GD_LAYOUT = ["lim", "center", "presets", "symbol"];

export default {
  render({ model, el }) {
    let cleanup = gdBuild({ model, el });
    const rebuild = () => {
      cleanup();
      cleanup = gdBuild({ model, el });
    };
    for (const name of GD_LAYOUT) model.on(`change:${name}`, rebuild);
    return () => {
      cleanup();
      for (const name of GD_LAYOUT) model.off(`change:${name}`, rebuild);
    };
  },
};
