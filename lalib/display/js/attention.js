// attention.js: attention in the plane (AttentionPlaneExplorer, chapter 3). d_k = 2:
// queries and keys are arrows the reader drags (pointer, or arrow keys on a focused tip);
// a scale slider, a causal-mask toggle; the weights as a heat map with their numbers, V and
// the outputs weights @ V as tables, all recomputed by lamath.attention (the steps of
// lalib.attention.attention_forward). A change reaches Python through the model.

import { attention } from "./lamath.js";
import { h, s, fmt, fmtVec, slider, toggle, controls, liveRegion, sequentialColor, matrixTable, draggable, svgPoint, onFrame, root, patch } from "./ui.js";

const ATT_R = 3; // the plane shows [-3, 3] x [-3, 3]
const ATT_SIZE = 320; // its viewBox, in px at 100 %
const ATT_Q_COLOR = "#c45a00"; // queries: dark orange
const ATT_K_COLOR = "#1f5fa8"; // keys: blue

const attPx = (x) => ((x + ATT_R) / (2 * ATT_R)) * ATT_SIZE;
const attPy = (y) => ((ATT_R - y) / (2 * ATT_R)) * ATT_SIZE;
const attToData = ([px, py]) => [(px / ATT_SIZE) * 2 * ATT_R - ATT_R, ATT_R - (py / ATT_SIZE) * 2 * ATT_R];
// Positions snap to tenths inside the plane, so the tables show them exactly.
const attSnap = (v) => Math.round(Math.max(-ATT_R, Math.min(ATT_R, v)) * 10) / 10;

/** Index of the largest entry of a row (the first, on ties), or -1 if all are 0. */
function attArgmax(row) {
  let best = -1;
  row.forEach((v, j) => {
    if (v > 0 && (best < 0 || v > row[best])) best = j;
  });
  return best;
}

function attHeat(values, opts) {
  // Half of the ramp (up to a mid blue): dark text on every cell, contrast above 7:1.
  return matrixTable(values, { color: (v) => sequentialColor(v, 2), ...opts });
}

function renderPlane(model, el) {
  const fig = root(el, {
    label: "Attention in the plane: drag the query and key arrows; the weights and outputs are recomputed",
    className: "la-attention",
  });
  const dk = 2;
  const cOf = () => model.get("scale") * Math.sqrt(dk);

  const scaleCtl = slider({
    label: "scale × √d_k",
    min: 0,
    max: 4,
    step: 0.1,
    value: Math.round(cOf() * 10) / 10,
    format: (c) => `${fmt(c, 1)}/√2`,
    onInput: (c) => {
      model.set("scale", c / Math.sqrt(dk));
      model.save_changes();
    },
  });
  scaleCtl.input.setAttribute("data-role", "scale");
  const maskCtl = toggle({
    label: "causal mask",
    pressed: model.get("causal"),
    onChange: (p) => {
      model.set("causal", p);
      model.save_changes();
    },
  });
  maskCtl.el.setAttribute("data-role", "causal");
  const scaleText = h("span", { class: "la-readout", "data-role": "scale-text" });
  fig.append(controls(scaleCtl.el, scaleText, maskCtl.el));

  const svg = s("svg", {
    viewBox: `0 0 ${ATT_SIZE} ${ATT_SIZE}`,
    width: ATT_SIZE,
    height: ATT_SIZE,
    class: "la-att-plane",
    role: "group",
    "aria-label": "The plane: query arrows (orange) and key arrows (blue), each tip draggable",
  });
  const grid = s("g", { "aria-hidden": "true" });
  for (let t = -ATT_R; t <= ATT_R; t += 1) {
    const axis = t === 0;
    const stroke = axis ? "#777" : "#ddd";
    grid.append(
      s("line", { x1: attPx(t), y1: attPy(-ATT_R), x2: attPx(t), y2: attPy(ATT_R), stroke, "stroke-width": axis ? 1.2 : 1 }),
      s("line", { x1: attPx(-ATT_R), y1: attPy(t), x2: attPx(ATT_R), y2: attPy(t), stroke, "stroke-width": axis ? 1.2 : 1 }),
    );
  }
  grid.append(
    s("text", { x: attPx(ATT_R) - 4, y: attPy(0) - 6, "text-anchor": "end" }, "x₁"),
    s("text", { x: attPx(0) + 6, y: attPy(ATT_R) + 14 }, "x₂"),
  );
  const arrows = s("g");
  svg.append(grid, arrows);

  const tables = h("div", { class: "la-att-tables" });
  const status = liveRegion();
  status.setAttribute("data-role", "summary");
  fig.append(h("div", { class: "la-row" }, svg, tables), status);

  let built = ""; // the shapes the handles were built for
  let handles = []; // {kind, i, line, handle, text}

  function setPoint(kind, i, [x, y]) {
    const M = model.get(kind).map((r) => r.slice());
    M[i] = [attSnap(x), attSnap(y)];
    model.set(kind, M);
    model.save_changes();
  }

  function buildHandles(Q, K) {
    arrows.replaceChildren();
    handles = [];
    const make = (kind, i) => {
      const color = kind === "K" ? ATT_K_COLOR : ATT_Q_COLOR;
      const name = `${kind === "K" ? "k" : "q"}${i + 1}`;
      const line = s("line", { stroke: color, "stroke-width": 3, "stroke-linecap": "round" });
      const head = s("polygon", { fill: color });
      const text = s("text", { class: "la-att-label", style: `fill:${color}`, "font-weight": 600 }, name);
      const handle = s("g", { "data-role": `handle-${name}` }, s("circle", { r: 12, fill: "#fff", "fill-opacity": 0.01, stroke: color, "stroke-width": 1.5, "pointer-events": "all" }));
      const item = { kind, i, name, line, head, handle, text };
      draggable(handle, {
        label: () => {
          const p = model.get(kind)[i];
          return `${kind === "K" ? "key" : "query"} ${name} at (${fmt(p[0], 1)}, ${fmt(p[1], 1)})`;
        },
        get: () => model.get(kind)[i],
        set: (p) => setPoint(kind, i, p),
        toData: (e) => attToData(svgPoint(svg, e)),
        step: 0.1,
      });
      arrows.append(s("g", {}, line, head, text, handle));
      handles.push(item);
    };
    K.forEach((_, j) => make("K", j));
    Q.forEach((_, i) => make("Q", i));
  }

  function placeArrow(item, [x, y]) {
    const [X, Y] = [attPx(x), attPy(y)];
    const [X0, Y0] = [attPx(0), attPy(0)];
    const len = Math.hypot(X - X0, Y - Y0);
    const [ux, uy] = len > 0 ? [(X - X0) / len, (Y - Y0) / len] : [1, 0];
    const headLen = Math.min(12, len);
    const [bx, by] = [X - ux * headLen, Y - uy * headLen];
    item.line.setAttribute("x1", X0);
    item.line.setAttribute("y1", Y0);
    item.line.setAttribute("x2", bx);
    item.line.setAttribute("y2", by);
    item.head.setAttribute("points", `${X},${Y} ${bx - uy * 6},${by + ux * 6} ${bx + uy * 6},${by - ux * 6}`);
    item.handle.setAttribute("transform", `translate(${X},${Y})`);
    item.text.setAttribute("x", X + (ux >= 0 ? 10 : -10) + uy * 8);
    item.text.setAttribute("y", Y + (uy > 0 ? 20 : -12));
    item.text.setAttribute("text-anchor", ux >= 0 ? "start" : "end");
  }

  function draw() {
    const Q = model.get("Q");
    const K = model.get("K");
    const V = model.get("V");
    const scale = model.get("scale");
    const causal = model.get("causal");
    const shapes = `${Q.length} ${K.length}`;
    if (shapes !== built) {
      buildHandles(Q, K);
      built = shapes;
    }
    for (const item of handles) {
      const p = model.get(item.kind)[item.i];
      placeArrow(item, p);
      const lab = `${item.kind === "K" ? "key" : "query"} ${item.name} at (${fmt(p[0], 1)}, ${fmt(p[1], 1)})`;
      item.handle.setAttribute("aria-label", lab);
    }
    scaleCtl.set(Math.round(cOf() * 10) / 10);
    scaleCtl.input.setAttribute("aria-valuetext", `${fmt(cOf(), 2)}/√2`);
    maskCtl.set(causal);
    fig.setAttribute("data-scale", String(scale));
    scaleText.textContent = `scale = ${fmt(scale, 3)}, temperature 1/scale = ${scale > 0 ? fmt(1 / scale, 2) : "∞"}`;

    const { weights, out } = attention(Q, K, V, { scale, causal });
    const qLab = Q.map((_, i) => `q${i + 1}`);
    const kLab = K.map((_, j) => `k${j + 1}`);
    const vCols = V[0].map((_, c) => `${c + 1}`);
    const best = weights.map(attArgmax);
    const wTable = attHeat(weights, {
      caption: causal ? "weights P (causal mask)" : "weights P",
      rowLabels: qLab,
      colLabels: kLab,
      highlight: (i, j) => best[i] === j,
    });
    wTable.setAttribute("data-role", "weights");
    const oTable = matrixTable(out, { caption: "outputs P V", rowLabels: qLab.map((_, i) => `o${i + 1}`), colLabels: vCols });
    oTable.setAttribute("data-role", "outputs");
    const vTable = matrixTable(V, { caption: "values V", rowLabels: K.map((_, j) => `v${j + 1}`), colLabels: vCols });
    vTable.setAttribute("data-role", "values");
    const qTable = matrixTable(Q, { caption: "queries Q", rowLabels: qLab, colLabels: ["x₁", "x₂"], format: (v) => fmt(v, 1) });
    qTable.setAttribute("data-role", "Q");
    const kTable = matrixTable(K, { caption: "keys K", rowLabels: kLab, colLabels: ["x₁", "x₂"], format: (v) => fmt(v, 1) });
    kTable.setAttribute("data-role", "K");
    patch(tables,
      h("div", { class: "la-att-tables-row" }, wTable, oTable),
      h("div", { class: "la-att-tables-row" }, qTable, kTable, vTable),
    );

    const said = weights.map((row, i) =>
      best[i] < 0 ? `${qLab[i]} attends to nothing` : `${qLab[i]} attends most to ${kLab[best[i]]} (${fmt(row[best[i]], 2)})`,
    );
    status.textContent =
      `Scale ${fmt(scale, 3)}, ${causal ? "causal mask" : "no mask"}: ${said.join("; ")}. ` +
      `Outputs: ${out.map((o, i) => `o${i + 1} = ${fmtVec(o, 2)}`).join(", ")}.`;
  }

  const redraw = onFrame(draw);
  for (const name of ["Q", "K", "V", "scale", "causal"]) model.on(`change:${name}`, redraw);
  draw();
}

export default {
  render({ model, el }) {
    renderPlane(model, el);
  },
};
