// plane.js: chapter 1's explorables, the plane under a layer.
//
// PlaneExplorer ("plane"): y = W x + b on the plane. The reader drags the images of e1
// and e2 (b + W e1, b + W e2: the columns of W, drawn from b), b itself and an input x;
// the image of the grid, the unit square's parallelogram, det W, the orientation and
// y = W x + b follow. FoldExplorer ("fold"): y = W2 relu(W1 x + b1) + b2, the grid of
// [-2, 2]^2 before and after, the hinges, a ReLU toggle and the hidden biases.
//
// All numbers are recomputed here with lamath.js (affine, relu, det2), so the static
// book needs no kernel. Top-level names start with "pl" (one scope with ui.js, lamath.js).

import { affine, det2, relu } from "./lamath.js";
import { h, s, fmt, fmtVec, dropdown, button, toggle, slider, controls, matrixTable, draggable, svgPoint, onFrame, root, patch, scratch } from "./ui.js";

const PL_SIZE = 360; // the SVG's viewBox is PL_SIZE x PL_SIZE user units
const PL_PAD = 8; // margin inside the viewBox
const PL_NICE = [2.5, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 120, 150, 200, 250, 300, 400, 500];
const PL_SIN30 = Math.sin(Math.PI / 6);
const PL_COS30 = Math.cos(Math.PI / 6);

/** Presets of the plane explorer: [value, visible text, W, b or null, x or null]. */
const PL_PRESETS = [
  ["example", "worked example", [[1, 2], [3, 4]], [1, 1], [5, 6]],
  ["identity", "identity", [[1, 0], [0, 1]], null, null],
  ["rotation", "rotation 30°", [[PL_COS30, -PL_SIN30], [PL_SIN30, PL_COS30]], null, null],
  ["shear", "shear", [[1, 1], [0, 1]], null, null],
  ["scale", "scale (2, 0.5)", [[2, 0], [0, 0.5]], null, null],
  ["flip", "reflection", [[0, 1], [1, 0]], null, null],
  ["singular", "singular", [[1, 2], [0.5, 1]], null, null],
];

/** Drop the float noise of keyboard steps (1.1000000000000001 -> 1.1). */
const plClean = (v) => Math.round(v * 1e12) / 1e12;
const plSnap = (v, step) => plClean(Math.round(v / step) * step);
const plAdd = (u, v) => [u[0] + v[0], u[1] + v[1]];
const plSub = (u, v) => [u[0] - v[0], u[1] - v[1]];
const plCol = (W, j) => [W[0][j], W[1][j]];
const plSame = (A, B) => JSON.stringify(A) === JSON.stringify(B);

/** The smallest "nice" half-width that holds |v| with a margin. */
function plNice(v) {
  for (const n of PL_NICE) if (n >= v) return n;
  return Math.ceil(v / 100) * 100;
}

/** A tick step that gives about four ticks per half-width. */
function plTick(half) {
  for (const t of [0.5, 1, 2, 5, 10, 20, 50, 100, 200]) if (half / t <= 5) return t;
  return 500;
}

/** Data <-> SVG coordinates for a square view [-half, half]^2 centred at c. */
function plView(half, c = [0, 0]) {
  const k = (PL_SIZE / 2 - PL_PAD) / half;
  return {
    half,
    c,
    X: (u) => PL_SIZE / 2 + (u - c[0]) * k,
    Y: (v) => PL_SIZE / 2 - (v - c[1]) * k,
    toData: ([sx, sy]) => [c[0] + (sx - PL_SIZE / 2) / k, c[1] - (sy - PL_SIZE / 2) / k],
  };
}

/** An SVG with a clip path for its plot area, and a group that is clipped. */
function plSvg(label, uid) {
  const clipId = `pl-clip-${uid}`;
  const svg = s("svg", {
    viewBox: `0 0 ${PL_SIZE} ${PL_SIZE}`,
    class: "pl-svg",
    role: "group",
    "aria-label": label,
  });
  const clip = s("clipPath", { id: clipId }, s("rect", { x: 0, y: 0, width: PL_SIZE, height: PL_SIZE }));
  svg.append(s("defs", {}, clip));
  const plot = s("g", { "clip-path": `url(#${clipId})` });
  const top = s("g"); // handles and labels, not clipped
  svg.append(s("rect", { x: 0, y: 0, width: PL_SIZE, height: PL_SIZE, class: "pl-frame" }), plot, top);
  return { svg, plot, top };
}

/** The coordinate grid of the view (faint), the axes and their tick labels. */
function plAxes(g, V) {
  const t = plTick(V.half);
  const n = Math.floor(V.half / t);
  for (let i = -n; i <= n; i++) {
    const u = i * t;
    g.append(
      s("line", { x1: V.X(u), y1: 0, x2: V.X(u), y2: PL_SIZE, class: i ? "pl-bg" : "pl-axis" }),
      s("line", { x1: 0, y1: V.Y(u), x2: PL_SIZE, y2: V.Y(u), class: i ? "pl-bg" : "pl-axis" }),
    );
    if (i && (n <= 3 || i % 2 === 0) && Math.abs(u) <= 0.86 * V.half) {
      g.append(
        s("text", { x: V.X(u), y: PL_SIZE - 6, class: "pl-tick", "text-anchor": "middle" }, fmt(u, t < 1 ? 1 : 0)),
        s("text", { x: 6, y: V.Y(u) + 4, class: "pl-tick" }, fmt(u, t < 1 ? 1 : 0)),
      );
    }
  }
}

/** An arrow from p to q (data units) with a drawn head, in the given colour class. */
function plArrow(g, V, p, q, cls) {
  const [x1, y1, x2, y2] = [V.X(p[0]), V.Y(p[1]), V.X(q[0]), V.Y(q[1])];
  const L = Math.hypot(x2 - x1, y2 - y1);
  g.append(s("line", { x1, y1, x2, y2, class: `pl-arrow ${cls}` }));
  if (L < 1) return;
  const [ux, uy] = [(x2 - x1) / L, (y2 - y1) / L];
  const a = Math.min(11, L * 0.45);
  const pts = [
    [x2, y2],
    [x2 - a * ux - 0.45 * a * uy, y2 - a * uy + 0.45 * a * ux],
    [x2 - a * ux + 0.45 * a * uy, y2 - a * uy - 0.45 * a * ux],
  ];
  g.append(s("polygon", { points: pts.map((p2) => p2.join(",")).join(" "), class: `pl-head ${cls}` }));
}

/**
 * A handle: a group with a visible dot and a larger invisible hit area, and its text
 * label (kept apart, so the owner can draw every label above every dot).
 */
function plHandle(cls, text) {
  const dot = s("circle", { r: 7, class: `pl-dot ${cls}` });
  const hit = s("circle", { r: 12, class: "pl-hit" });
  const label = s("text", { class: `pl-label ${cls}`, "aria-hidden": "true" }, text);
  const g = s("g", { class: `pl-handle ${cls}` }, hit, dot);
  return { g, label, place(sx, sy, dx = 12, dy = -10) {
    g.setAttribute("transform", `translate(${sx},${sy})`);
    label.setAttribute("x", sx + dx);
    label.setAttribute("y", sy + dy);
  } };
}

/**
 * Keyboard moves by exactly `step` (Shift: 5 steps) from wherever the point is,
 * registered before ui.draggable's own key handler, which would snap to the step grid.
 */
function plKeys(el, { get, set, step = 0.1 }) {
  el.addEventListener("keydown", (e) => {
    const d = step * (e.shiftKey ? 5 : 1);
    const moves = { ArrowLeft: [-d, 0], ArrowRight: [d, 0], ArrowUp: [0, d], ArrowDown: [0, -d] };
    const m = moves[e.key];
    if (!m) return;
    e.preventDefault();
    e.stopImmediatePropagation();
    const p = get();
    set([plClean(p[0] + m[0]), plClean(p[1] + m[1])], true);
  });
}

/** Where a label goes: beyond the tip of v, turned away from `other`. */
function plLabelOffset(v, other, r = 16) {
  let L = Math.hypot(v[0], v[1]);
  let u = L > 1e-9 ? [v[0] / L, v[1] / L] : [1, 0];
  let n = [-u[1], u[0]];
  if (n[0] * other[0] + n[1] * other[1] > 0) n = [-n[0], -n[1]];
  const d = [u[0] + n[0], u[1] + n[1]];
  L = Math.hypot(d[0], d[1]) || 1;
  // SVG y points down
  return [(r * d[0]) / L - 4, (-r * d[1]) / L + 5];
}

let plUid = 0;

// ---------------------------------------------------------------- PlaneExplorer

function renderPlane({ model, el }) {
  plUid += 1;
  const uid = plUid;
  const st = { W: model.get("W"), b: model.get("b"), x: model.get("x") };
  let zoom = 1; // the view's half-width is the fitted one times zoom
  let V = null; // the current view, frozen while a handle is dragged
  let dragging = false;

  const fig = root(el, { label: "Explorable: the plane under y = W x + b", className: "pl-plane" });
  const summary = h("p", { class: "pl-summary", id: `pl-sum-${uid}` });
  fig.setAttribute("aria-describedby", summary.id);
  const { svg, plot: plotEl, top } = plSvg("The grid of the plane mapped by y = W x + b", uid);

  const hE1 = plHandle("pl-e1", "We₁");
  const hE2 = plHandle("pl-e2", "We₂");
  const hB = plHandle("pl-b", "b");
  const hX = plHandle("pl-x", "x");
  // b on top: when the arrows are short, their tips sit around it
  top.append(hX.g, hE1.g, hE2.g, hB.g, hB.label, hE1.label, hE2.label, hX.label);

  const sync = (...names) => {
    for (const n of names) model.set(n, st[n]);
    model.save_changes();
  };
  const toData = (e) => V.toData(svgPoint(svg, e)).map((v) => plSnap(v, 0.1));
  const specs = [
    [hE1, () => `e₁ image (first column of W): We₁ = ${fmtVec(plCol(st.W, 0))}, its tip at b + We₁`,
      () => plAdd(st.b, plCol(st.W, 0)),
      (p) => { const c = plSub(p, st.b); st.W = [[plClean(c[0]), st.W[0][1]], [plClean(c[1]), st.W[1][1]]]; sync("W"); }],
    [hE2, () => `e₂ image (second column of W): We₂ = ${fmtVec(plCol(st.W, 1))}, its tip at b + We₂`,
      () => plAdd(st.b, plCol(st.W, 1)),
      (p) => { const c = plSub(p, st.b); st.W = [[st.W[0][0], plClean(c[0])], [st.W[1][0], plClean(c[1])]]; sync("W"); }],
    [hB, () => `b, the image of the origin: b = ${fmtVec(st.b)}`,
      () => st.b.slice(),
      (p) => { st.b = p.slice(); sync("b"); }],
    [hX, () => `x, the input: x = ${fmtVec(st.x)}; y = W x + b = ${fmtVec(affine(st.W, st.x, st.b))}`,
      () => st.x.slice(),
      (p) => { st.x = p.slice(); sync("x"); }],
  ];
  for (const [hd, label, get, set] of specs) {
    const move = (p) => { set(p); preset.set("custom"); redraw(); };
    plKeys(hd.g, { get, set: move });
    draggable(hd.g, { label, get, set: move, toData, step: 0.1 });
    hd.g.addEventListener("pointerdown", () => (dragging = true));
    const end = () => { if (dragging) { dragging = false; redraw(); } };
    hd.g.addEventListener("pointerup", end);
    hd.g.addEventListener("pointercancel", end);
    hd.label = label;
  }

  const preset = dropdown({
    label: "Preset",
    options: [...PL_PRESETS.map(([v, t]) => [v, t]), ["custom", "(your own)"]],
    value: "custom",
    onChange: (v) => {
      const p = PL_PRESETS.find((q) => q[0] === v);
      if (!p) return;
      st.W = p[2].map((r) => r.slice());
      const names = ["W"];
      if (p[3]) { st.b = p[3].slice(); names.push("b"); }
      if (p[4]) { st.x = p[4].slice(); names.push("x"); }
      sync(...names);
      redraw();
    },
  });
  const zoomOut = button({ label: "Zoom out", onClick: () => { zoom = Math.min(zoom * 2, 8); redraw(); } });
  const zoomIn = button({ label: "Zoom in", onClick: () => { zoom = Math.max(zoom / 2, 1 / 32); redraw(); } });
  const fitBtn = button({ label: "Fit all", onClick: () => { zoom = 1; redraw(); } });
  const tables = h("div", { class: "pl-tables" });
  const readout = h("div", { class: "pl-readout" });
  fig.append(
    controls(preset.el, zoomIn, zoomOut, fitBtn),
    h("div", { class: "la-row" }, h("div", { class: "pl-figure" }, svg), h("div", { class: "pl-side" }, tables, readout)),
    summary,
  );

  function matchPreset() {
    const p = PL_PRESETS.find((q) => plSame(q[2], st.W) && (!q[3] || plSame(q[3], st.b)) && (!q[4] || plSame(q[4], st.x)));
    return p ? p[0] : "custom";
  }

  function fitHalf(y) {
    const We1 = plCol(st.W, 0);
    const We2 = plCol(st.W, 1);
    const pts = [st.b, plAdd(st.b, We1), plAdd(st.b, We2), plAdd(plAdd(st.b, We1), We2), st.x, y];
    const m = Math.max(2, ...pts.flat().map(Math.abs));
    return plNice(m * 1.12);
  }

  function draw() {
    const { W, b, x } = st;
    const y = affine(W, x, b);
    const d = det2(W);
    if (!dragging || !V) {
      const full = fitHalf(y);
      const half = full * zoom;
      // zoomed in: centre on the unit square's image, else on the origin
      const c = zoom < 1 ? plAdd(b, [(W[0][0] + W[0][1]) / 2, (W[1][0] + W[1][1]) / 2]) : [0, 0];
      V = plView(half, c);
    }
    const plot = scratch(plotEl);
    plAxes(plot, V);
    // the image of the integer grid of [-G, G]^2, a square that holds x (lines map to
    // lines: two points each), every sG-th line when the image would be too dense
    const G = Math.min(30, Math.max(2, Math.ceil(Math.max(Math.abs(x[0]), Math.abs(x[1]))) + 1));
    const k = (PL_SIZE / 2 - PL_PAD) / V.half;
    const cols = [Math.hypot(W[0][0], W[1][0]), Math.hypot(W[0][1], W[1][1])].filter((v) => v > 1e-9);
    const shortest = cols.length ? Math.min(...cols) : 1;
    const sG = [1, 2, 5, 10].find((q) => shortest * q * k >= 7) || 10;
    const f = (p) => affine(W, p, b);
    const img = s("g", { class: "pl-grid" });
    for (let i = -Math.floor(G / sG); i <= Math.floor(G / sG); i++) {
      const c = i * sG;
      for (const [p, q] of [[[c, -G], [c, G]], [[-G, c], [G, c]]]) {
        const [P, Q] = [f(p), f(q)];
        img.append(s("line", { x1: V.X(P[0]), y1: V.Y(P[1]), x2: V.X(Q[0]), y2: V.Y(Q[1]), class: c ? "" : "pl-grid0" }));
      }
    }
    plot.append(img);
    // the unit square before (dashed) and after (filled)
    const sq = [[0, 0], [1, 0], [1, 1], [0, 1]];
    plot.append(
      s("polygon", { points: sq.map((p) => `${V.X(p[0])},${V.Y(p[1])}`).join(" "), class: "pl-square0" }),
      s("polygon", { points: sq.map((p) => f(p)).map((p) => `${V.X(p[0])},${V.Y(p[1])}`).join(" "), class: "pl-square" }),
    );
    const We1 = plCol(W, 0);
    const We2 = plCol(W, 1);
    plArrow(plot, V, b, plAdd(b, We1), "pl-e1");
    plArrow(plot, V, b, plAdd(b, We2), "pl-e2");
    plot.append(s("line", { x1: V.X(x[0]), y1: V.Y(x[1]), x2: V.X(y[0]), y2: V.Y(y[1]), class: "pl-xy" }));
    const yDot = s("g", { transform: `translate(${V.X(y[0])},${V.Y(y[1])})` },
      s("circle", { r: 6, class: "pl-y" }), s("text", { x: 10, y: 16, class: "pl-label pl-yl" }, "y"));
    plot.append(yDot);
    patch(plotEl, [...plot.childNodes]);
    hB.place(V.X(b[0]), V.Y(b[1]), -20, 20);
    hE1.place(V.X(b[0] + We1[0]), V.Y(b[1] + We1[1]), ...plLabelOffset(We1, We2));
    hE2.place(V.X(b[0] + We2[0]), V.Y(b[1] + We2[1]), ...plLabelOffset(We2, We1));
    hX.place(V.X(x[0]), V.Y(x[1]), 10, -10);
    for (const hd of [hE1, hE2, hB, hX]) hd.g.setAttribute("aria-label", hd.label());

    const orient = Math.abs(d) < 1e-9
      ? "collapsed: det W = 0, the plane is squashed onto a line (or a point)"
      : d > 0 ? "preserved: det W > 0, e₁ → e₂ still turns counter-clockwise"
        : "flipped: det W < 0, the plane is turned over";
    patch(tables,
      matrixTable(W, { caption: "W", format: (v) => fmt(v, 2) }),
      matrixTable(x.map((v) => [v]), { caption: "x", format: (v) => fmt(v, 2) }),
      matrixTable(b.map((v) => [v]), { caption: "b", format: (v) => fmt(v, 2) }),
      matrixTable(y.map((v) => [v]), { caption: "y", format: (v) => fmt(v, 2) }),
    );
    patch(readout,
      h("p", {}, "det W = ", h("output", { class: "pl-det" }, fmt(d, 2)), `, area factor |det W| = ${fmt(Math.abs(d), 2)}`),
      h("p", {}, "Orientation: ", h("output", { class: "pl-orient" }, orient)),
      h("p", {}, "y = W x + b = ", h("output", { class: "pl-yout" }, fmtVec(y))),
      h("p", { class: "pl-view" }, `View: −${fmt(V.half, 1)} to ${fmt(V.half, 1)} around ${fmtVec(V.c, 1)}`),
    );
    summary.textContent =
      `The grid of the plane mapped by W = [${fmtVec(W[0])}, ${fmtVec(W[1])}] and b = ${fmtVec(b)}: ` +
      `e₁ goes to b + We₁ = ${fmtVec(plAdd(b, We1))}, e₂ to b + We₂ = ${fmtVec(plAdd(b, We2))}, ` +
      `and the unit square to a parallelogram of area |det W| = ${fmt(Math.abs(d), 2)}; orientation ${orient.split(":")[0]}. ` +
      `The input x = ${fmtVec(x)} goes to y = ${fmtVec(y)}.`;
    preset.set(matchPreset());
  }

  const redraw = onFrame(draw);
  for (const n of ["W", "b", "x"]) {
    model.on(`change:${n}`, () => { st[n] = model.get(n); redraw(); });
  }
  draw();
}

// ---------------------------------------------------------------- FoldExplorer

const PL_NEURON = ["pl-n0", "pl-n1"];
const PL_PATTERNS = [
  ["both", "both neurons active", "pl-r11"],
  ["n0", "only neuron 0 active", "pl-r10"],
  ["n1", "only neuron 1 active", "pl-r01"],
  ["none", "neither active", "pl-r00"],
];

function renderFold({ model, el }) {
  plUid += 1;
  const uid = plUid;
  const st = {
    W1: model.get("W1"), b1: model.get("b1"), W2: model.get("W2"), b2: model.get("b2"),
    x: model.get("x"), relu: model.get("relu"),
  };
  const fig = root(el, { label: "Explorable: two layers with a ReLU between, y = W₂ relu(W₁ x + b₁) + b₂", className: "pl-fold" });
  const summary = h("p", { class: "pl-summary", id: `pl-sum-${uid}` });
  fig.setAttribute("aria-describedby", summary.id);
  const left = plSvg("The input plane: the grid of the square from −2 to 2, its points coloured by which hidden neurons are active, and the two hinges", `${uid}a`);
  const right = plSvg("The output plane: the same grid after the two layers", `${uid}b`);
  const hX = plHandle("pl-x", "x");
  left.top.append(hX.g, hX.label);
  // y = the image of x, clipped like the plot but drawn apart from it: moving x moves
  // only this mark (the grids are redrawn only when what they show changes)
  const yMark = s("g", {}, s("circle", { r: 6, class: "pl-y" }), s("text", { x: 10, y: 16, class: "pl-label pl-yl" }, "y"));
  right.plot.after(s("g", { "clip-path": right.plot.getAttribute("clip-path") }, yMark));
  const drawn = [null, null]; // what each plane was last drawn for
  const Vin = plView(2.5);
  let Vout = plView(4.5);

  const sync = (...names) => {
    for (const n of names) model.set(n, st[n]);
    model.save_changes();
  };
  const labelX = () => `x, the input: x = ${fmtVec(st.x)}; y = ${fmtVec(mapOne(st.x))}`;
  const moveX = (p) => { st.x = p.slice(); sync("x"); redraw(); };
  plKeys(hX.g, { get: () => st.x.slice(), set: moveX });
  draggable(hX.g, {
    label: labelX,
    get: () => st.x.slice(),
    set: moveX,
    toData: (e) => Vin.toData(svgPoint(left.svg, e)).map((v) => plSnap(v, 0.1)),
    step: 0.1,
  });

  const reluToggle = toggle({ label: "ReLU between the layers", pressed: st.relu, onChange: (p) => { st.relu = p; sync("relu"); redraw(); } });
  const biasSliders = [0, 1].map((i) =>
    slider({
      label: `b₁ of neuron ${i}`,
      min: -2, max: 2, step: 0.1, value: st.b1[i],
      format: (v) => fmt(v, 1),
      onInput: (v) => { const b1 = st.b1.slice(); b1[i] = v; st.b1 = b1; sync("b1"); redraw(); },
    }),
  );
  const tables = h("div", { class: "pl-tables" });
  const readout = h("div", { class: "pl-readout" });
  fig.append(
    controls(reluToggle.el, ...biasSliders.map((sl) => sl.el)),
    h("div", { class: "la-row" },
      h("figure", { class: "pl-figure" }, left.svg, h("figcaption", {}, "before: x in the square [−2, 2]²")),
      h("figure", { class: "pl-figure" }, right.svg, h("figcaption", { class: "pl-outcap" }, ""))),
    tables, readout, summary,
  );

  function hidden(p) {
    const z = affine(st.W1, p, st.b1);
    return st.relu ? relu(z) : z;
  }
  function mapOne(p) {
    return affine(st.W2, hidden(p), st.b2);
  }
  function pattern(p) {
    const z = affine(st.W1, p, st.b1);
    const [a, c] = [z[0] > 0, z[1] > 0];
    return a && c ? 0 : a ? 1 : c ? 2 : 3;
  }
  /** The hinge of neuron i clipped to [-2, 2]^2, as two points, or null. */
  function hinge(i) {
    const [w0, w1] = st.W1[i];
    const c = st.b1[i];
    const n2 = w0 * w0 + w1 * w1;
    if (n2 === 0) return null;
    const foot = [(-c * w0) / n2, (-c * w1) / n2];
    const L = Math.sqrt(n2);
    const d = [-w1 / L, w0 / L];
    let lo = -Infinity;
    let hi = Infinity;
    for (let k = 0; k < 2; k++) {
      if (d[k] === 0) { if (Math.abs(foot[k]) > 2) return null; continue; }
      const [s1, s2] = [(-2 - foot[k]) / d[k], (2 - foot[k]) / d[k]].sort((u, v) => u - v);
      lo = Math.max(lo, s1);
      hi = Math.min(hi, s2);
    }
    if (!(lo < hi)) return null;
    return [plAdd(foot, [lo * d[0], lo * d[1]]), plAdd(foot, [hi * d[0], hi * d[1]])];
  }

  const ticks = Array.from({ length: 9 }, (_, i) => -2 + 0.5 * i);
  const S = 41; // samples per grid line: the image of a line bends under the ReLU
  const line = (P, Q) => Array.from({ length: S }, (_, t) => [P[0] + ((Q[0] - P[0]) * t) / (S - 1), P[1] + ((Q[1] - P[1]) * t) / (S - 1)]);
  const gridLines = ticks.flatMap((c) => [line([-2, c], [2, c]), line([c, -2], [c, 2])]);
  const gridPts = ticks.flatMap((v) => ticks.map((u) => [u, v]));
  const poly = (V, pts, cls) => s("polyline", { points: pts.map((p) => `${V.X(p[0])},${V.Y(p[1])}`).join(" "), class: cls });

  function draw() {
    // one scale for both maps (with and without the ReLU), so the fold is comparable
    const was = st.relu;
    let m = 2;
    for (const r of [false, true]) {
      st.relu = r;
      for (const p of [...gridPts, st.x]) for (const v of mapOne(p)) m = Math.max(m, Math.abs(v));
    }
    st.relu = was;
    Vout = plView(plNice(m * 1.1));
    const y = mapOne(st.x);
    const z = affine(st.W1, st.x, st.b1);
    const counts = [0, 0, 0, 0];
    const pats = gridPts.map(pattern);
    for (const k of pats) counts[k] += 1;
    const hinges = [hinge(0), hinge(1)];

    const planes = [
      [Vin, left, (p) => p, [st.W1, st.b1]],
      [Vout, right, mapOne, [st.W1, st.b1, st.W2, st.b2, st.relu, Vout.half]],
    ];
    planes.forEach(([V, side, mapP, inputs], k) => {
      const key = JSON.stringify(inputs);
      if (key === drawn[k]) return;
      drawn[k] = key;
      const plot = scratch(side.plot);
      plAxes(plot, V);
      const g = s("g", { class: "pl-grid" });
      for (const L of gridLines) g.append(poly(V, L.map(mapP), ""));
      plot.append(g);
      hinges.forEach((hg, i) => {
        if (hg) plot.append(poly(V, line(hg[0], hg[1]).map(mapP), `pl-hinge ${PL_NEURON[i]}`));
      });
      gridPts.forEach((p, k) => {
        const q = mapP(p);
        plot.append(s("circle", { cx: V.X(q[0]), cy: V.Y(q[1]), r: 3.2, class: `pl-pt ${PL_PATTERNS[pats[k]][2]}` }));
      });
      patch(side.plot, [...plot.childNodes]);
    });
    yMark.setAttribute("transform", `translate(${Vout.X(y[0])},${Vout.Y(y[1])})`);
    hX.place(Vin.X(st.x[0]), Vin.Y(st.x[1]), 10, -10);
    hX.g.setAttribute("aria-label", labelX());
    right.svg.parentNode.querySelector("figcaption").textContent = st.relu
      ? "after: y = W₂ relu(W₁x + b₁) + b₂ (folded)"
      : "after: y = W₂ (W₁x + b₁) + b₂ (no ReLU: one affine map)";
    biasSliders.forEach((sl, i) => sl.set(st.b1[i]));
    reluToggle.set(st.relu);

    patch(tables,
      matrixTable(st.W1, { caption: "W₁" }),
      matrixTable(st.b1.map((v) => [v]), { caption: "b₁" }),
      matrixTable(st.W2, { caption: "W₂" }),
      matrixTable(st.b2.map((v) => [v]), { caption: "b₂" }),
    );
    const h1 = st.relu ? relu(z) : z;
    patch(readout,
      h("p", {}, `x = ${fmtVec(st.x)} → W₁x + b₁ = ${fmtVec(z)} → `,
        st.relu ? `relu: ${fmtVec(h1)} → ` : "", "y = ", h("output", { class: "pl-yout" }, fmtVec(y))),
      h("ul", { class: "pl-legend" }, PL_PATTERNS.map(([, text, cls], k) =>
        h("li", {}, s("svg", { width: 12, height: 12, viewBox: "0 0 12 12", "aria-hidden": "true" }, s("circle", { cx: 6, cy: 6, r: 5, class: `pl-pt ${cls}` })),
          ` ${text}: ${counts[k]} of 81 grid points`))),
      h("p", {}, h("span", { class: "pl-key pl-n0" }, "dashed green"), ": hinge of neuron 0; ",
        h("span", { class: "pl-key pl-n1" }, "dashed purple"), ": hinge of neuron 1"),
    );
    summary.textContent =
      `The 9 by 9 grid of the square from −2 to 2 ${st.relu ? "after two layers with a ReLU between" : "after two layers without a ReLU (one affine map)"}. ` +
      `Both hidden neurons are active on ${counts[0]} of the 81 grid points, only neuron 0 on ${counts[1]}, only neuron 1 on ${counts[2]}, neither on ${counts[3]}. ` +
      `The input x = ${fmtVec(st.x)} goes to y = ${fmtVec(y)}.`;
  }

  const redraw = onFrame(draw);
  for (const n of ["W1", "b1", "W2", "b2", "x", "relu"]) {
    model.on(`change:${n}`, () => { st[n] = model.get(n); redraw(); });
  }
  draw();
}

export default {
  render({ model, el }) {
    return model.get("_figure") === "fold" ? renderFold({ model, el }) : renderPlane({ model, el });
  },
};
