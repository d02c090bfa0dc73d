// shapes.js: a linear layer's forward and backward products drawn to scale
// (lalib.display.layers.ShapesExplorer).
//
// Choose the batch size N, the input size D and the output size M; every array is an
// SVG rectangle of rows x columns cells (one cell per number) labelled with its shape,
// and a table counts the multiply-adds of each product, computed here.

import { h, s, slider, controls, onFrame, root, patch } from "./ui.js";

const SHAPE_COLOURS = { x: "#4c72b0", W: "#dd8452", b: "#55a868", g: "#8172b3" };
const SHAPE_MAX = 8;

/** "(4, 3)" for a matrix, "(3,)" for a vector (rows === 0). */
function shapeText(rows, cols) {
  return rows === 0 ? `(${cols},)` : `(${rows}, ${cols})`;
}

/** One array: its name, a rows x cols grid at `cell` px a cell, its shape as text. */
function term(name, rows, cols, role, cell) {
  const r = Math.max(rows, 1);
  const w = cols * cell;
  const hgt = r * cell;
  const lines = [];
  for (let i = 1; i < r; i++) lines.push(s("line", { x1: 0, x2: w, y1: i * cell, y2: i * cell }));
  for (let j = 1; j < cols; j++) lines.push(s("line", { x1: j * cell, x2: j * cell, y1: 0, y2: hgt }));
  const shape = shapeText(rows, cols);
  const svg = s(
    "svg",
    { width: w + 2, height: hgt + 2, viewBox: `-1 -1 ${w + 2} ${hgt + 2}`, "aria-hidden": "true" },
    s("rect", { x: 0, y: 0, width: w, height: hgt, fill: SHAPE_COLOURS[role], "fill-opacity": 0.6, stroke: "#222", "stroke-width": 1.2 }),
    s("g", { stroke: "#fff", "stroke-width": 1 }, lines),
  );
  return h(
    "div",
    { class: "la-term", "data-name": name, "data-shape": shape },
    h("span", { class: "la-term-name" }, name),
    svg,
    h("span", { class: "la-term-shape" }, shape),
  );
}

const op = (t) => h("span", { class: "la-op", "aria-hidden": "true" }, t);

export default {
  render({ model, el }) {
    const fig = root(el, { label: "The shapes of a linear layer's forward and backward products, drawn to scale", className: "la-shapes" });
    const sizes = () => ({ N: model.get("N"), D: model.get("D"), M: model.get("M") });
    const names = { N: "batch size N", D: "input size D", M: "output size M" };
    const inputs = {};
    for (const key of ["N", "D", "M"]) {
      inputs[key] = slider({
        label: names[key],
        min: 1,
        max: SHAPE_MAX,
        step: 1,
        value: model.get(key),
        onInput: (v) => {
          model.set(key, v);
          model.save_changes();
          redraw();
        },
      });
    }
    const summary = h("p", { class: "la-status la-shapes-summary", "aria-live": "polite" });
    const drawing = h("div", { class: "la-shapes-drawing" });
    const counts = h("div", { class: "la-scroll" });
    fig.append(controls(inputs.N.el, inputs.D.el, inputs.M.el), summary, drawing, counts);

    function draw() {
      const { N, D, M } = sizes();
      for (const key of ["N", "D", "M"]) inputs[key].set(model.get(key));
      // One cell size for every array, so all of them share one scale.
      const cell = Math.max(10, Math.min(22, Math.floor(132 / Math.max(N, D, M))));
      const eq = (title, ...parts) =>
        h("div", { class: "la-eq-block" }, h("p", { class: "la-eq-title" }, title), h("div", { class: "la-eq" }, parts));
      patch(drawing,
        eq(
          "forward: out = x @ W + b",
          term("x", N, D, "x", cell), op("@"), term("W", D, M, "W", cell), op("+"),
          term("b", 0, M, "b", cell), op("="), term("out", N, M, "g", cell),
        ),
        eq(
          "grad_input = g @ W.T (the shape of x)",
          term("g", N, M, "g", cell), op("@"), term("W.T", M, D, "W", cell), op("="),
          term("grad_input", N, D, "x", cell),
        ),
        eq(
          "grad_weights = x.T @ g (the shape of W)",
          term("x.T", D, N, "x", cell), op("@"), term("g", N, M, "g", cell), op("="),
          term("grad_weights", D, M, "W", cell),
        ),
        eq(
          "grad_bias = g.sum(axis=0) (the shape of b)",
          term("g", N, M, "g", cell), op("sum over rows →"), term("grad_bias", 0, M, "b", cell),
        ),
      );
      // Multiply-adds of a product (a, k) @ (k, c): one per term of each of a*c sums.
      const fwd = N * D * M;
      const rows = [
        ["out = x @ W + b", shapeText(N, M), `${N}·${D}·${M} = ${fwd}`, `${N * M}`],
        ["grad_input = g @ W.T", shapeText(N, D), `${N}·${M}·${D} = ${N * M * D}`, "0"],
        ["grad_weights = x.T @ g", shapeText(D, M), `${D}·${N}·${M} = ${D * N * M}`, "0"],
        ["grad_bias = g.sum(axis=0)", shapeText(0, M), "0", `${(N - 1) * M}`],
      ];
      patch(counts,
        h(
          "table",
          { class: "la-counts" },
          h("caption", {}, "Shapes and work of each product"),
          h("thead", {}, h("tr", {}, ["product", "result", "multiply-adds", "other additions"].map((t) => h("th", { scope: "col" }, t)))),
          h(
            "tbody",
            {},
            rows.map((r) =>
              h("tr", { "data-product": r[0].split(" =")[0] }, h("th", { scope: "row" }, r[0]), r.slice(1).map((t, i) => h("td", { class: ["la-result", "la-madds", "la-adds"][i] }, t))),
            ),
          ),
        ),
      );
      summary.textContent =
        `N = ${N}, D = ${D}, M = ${M}: the forward product takes ${fwd} multiply-adds ` +
        `and the two backward products ${N * M * D} + ${D * N * M} = ${2 * fwd}, twice as many. ` +
        `W ${shapeText(D, M)}, b ${shapeText(0, M)} and their gradients do not depend on N.`;
    }

    const redraw = onFrame(draw);
    draw();
    for (const key of ["N", "D", "M"]) model.on(`change:${key}`, redraw);
    return () => {
      for (const key of ["N", "D", "M"]) model.off(`change:${key}`, redraw);
    };
  },
};
