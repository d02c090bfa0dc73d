// layernorm.js: LayerNorm of a row of width 3 in the plane z1 + z2 + z3 = 0
// (lalib.display.layernorm.LayerNormExplorer).
//
// z = s x + c 1, with x from three sliders, c from "Add 1 to every entry" and s from
// "Double x". LayerNorm (gamma 1, beta 0) centres z with P = I - 1 1^T / 3 and divides
// by sigma = sqrt(|P z|^2 / 3 + eps): the plane shows P z and LN(z) in the basis
// u = (1, -1, 0)/sqrt(2), v = (1, 1, -2)/sqrt(6), the circle of radius sqrt(3) and the
// ray from 0 through both. c moves nothing in the plane (P 1 = 0); s slides P z along
// its ray and sigma undoes it. Recomputed with lamath.js.

import { layerNorm } from "./lamath.js";
import { h, s, fmt, slider, button, controls, onFrame, root, patch, scratch } from "./ui.js";

const LN_LIMIT = 3; // entries of x and the shift c in [-3, 3] (lalib.display.layernorm.LIMIT)
const LN_MAX_SCALE = 4; // the largest s (lalib.display.layernorm.SCALES)
const LN_SIZE = 240; // the plane's viewBox side
const LN_UNIT = 28; // px per unit: the circle of radius sqrt(3) is 48.5 px
const LN_U = [1 / Math.SQRT2, -1 / Math.SQRT2, 0];
const LN_V = [1 / Math.sqrt(6), 1 / Math.sqrt(6), -2 / Math.sqrt(6)];
const lnDot = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const lnVec = (v) => `(${v.map((t) => fmt(t, 3)).join(", ")})`;

export default {
  render({ model, el }) {
    const fig = root(el, { label: "LayerNorm in the plane of centred rows: move x, add 1 to every entry, double x", className: "la-ln" });
    const commit = (changes) => {
      for (const [k, v] of Object.entries(changes)) model.set(k, v);
      model.save_changes();
    };
    const sliders = [0, 1, 2].map((i) => {
      const ctl = slider({
        label: `x${"₁₂₃"[i]}`,
        min: -LN_LIMIT,
        max: LN_LIMIT,
        step: 0.1,
        value: model.get("x")[i],
        format: (v) => fmt(v, 1),
        onInput: (v) => commit({ x: model.get("x").map((t, j) => (j === i ? v : t)) }),
      });
      ctl.input.classList.add(`la-ln-x${i + 1}`);
      return ctl;
    });
    const addBtn = button({ label: "Add 1 to every entry", onClick: () => commit({ shift: model.get("shift") + 1 }), title: "c + 1: z moves along (1, 1, 1), which P sends to 0" });
    const dblBtn = button({ label: "Double x", onClick: () => commit({ scale: model.get("scale") * 2 }), title: "s × 2: P z doubles, and so does σ" });
    const resetBtn = button({ label: "Reset c = 0, s = 1", onClick: () => commit({ shift: 0, scale: 1 }) });

    const plane = s("svg", { class: "la-ln-plane", role: "img", viewBox: `0 0 ${LN_SIZE} ${LN_SIZE}`, width: LN_SIZE });
    const cap = h("p", { class: "la-cap la-ln-cap" });
    const table = h("table", { class: "la-matrix la-ln-table" });
    const note = h("p", { class: "la-ln-note" });
    const status = h("p", { class: "la-status la-desc", "aria-live": "polite" });
    fig.append(
      controls(...sliders.map((c) => c.el)),
      controls(addBtn, dblBtn, resetBtn),
      h("div", { class: "la-row" }, h("div", { class: "la-ln-fig" }, plane, cap), h("div", { class: "la-scroll" }, table)),
      note,
      status,
    );

    function draw() {
      const [x, c, sc, eps] = ["x", "shift", "scale", "eps"].map((t) => model.get(t));
      const z = x.map((v) => sc * v + c);
      const { mean, centred, sigma, out } = layerNorm(z, eps);
      const flat = z.every((v) => v === z[0]); // all entries equal: P z = 0
      const norm = Math.hypot(...centred);
      const outNorm = Math.hypot(...out);
      const sum = out.reduce((a, b) => a + b, 0);
      sliders.forEach((ctl, i) => ctl.set(x[i]));
      addBtn.disabled = c + 1 > LN_LIMIT;
      dblBtn.disabled = sc * 2 > LN_MAX_SCALE;

      // the plane, in px: 1 unit = LN_UNIT px, fixed, so the circle and LN(z) never
      // move when only the scale changes; a P z beyond the picture sits at its edge
      const k = LN_UNIT;
      const o = LN_SIZE / 2;
      const reach = (o - 10) / k; // the farthest point drawn, in units
      const P = (w) => [o + lnDot(w, LN_U) * k, o - lnDot(w, LN_V) * k];
      const far = norm > reach;
      const g = scratch(plane);
      g.append(
        s("line", { x1: 0, y1: o, x2: LN_SIZE, y2: o, class: "la-ln-axis" }),
        s("line", { x1: o, y1: 0, x2: o, y2: LN_SIZE, class: "la-ln-axis" }),
        s("text", { x: LN_SIZE - 4, y: o - 6, "text-anchor": "end" }, "u"),
        s("text", { x: o + 6, y: 14 }, "v"),
        s("circle", { cx: o, cy: o, r: (Math.sqrt(3) * k).toFixed(2), class: "la-ln-circle" }),
        s("circle", { cx: o, cy: o, r: 2.5, class: "la-ln-origin" }),
      );
      if (!flat) {
        const [pu, pv] = [lnDot(centred, LN_U), lnDot(centred, LN_V)];
        const shown = far ? centred.map((v) => (v * reach) / norm) : centred;
        const [a, b, end] = [P(shown), P(out), P(centred.map((v) => (v * (o - 2)) / k / norm))];
        // labels beside the ray, P z's on one side and LN's on the other
        const [nx, ny] = [-(b[1] - o) / (Math.hypot(b[0] - o, b[1] - o) || 1), (b[0] - o) / (Math.hypot(b[0] - o, b[1] - o) || 1)];
        const label = ([px, py], t, cls, side) => s("text", { x: (px + side * 16 * nx).toFixed(1), y: (py + side * 16 * ny).toFixed(1), "text-anchor": "middle", "dominant-baseline": "central", class: `la-ln-label ${cls}` }, t);
        g.append(
          s("line", { x1: o, y1: o, x2: end[0].toFixed(1), y2: end[1].toFixed(1), class: "la-ln-ray" }),
          s("circle", { cx: b[0].toFixed(2), cy: b[1].toFixed(2), r: 4, class: "la-ln-out" }),
          s("circle", { cx: a[0].toFixed(2), cy: a[1].toFixed(2), r: 6.5, class: `la-ln-pz${far ? " la-ln-far" : ""}` }),
          label(a, far ? "Pz →" : "Pz", "la-ln-pz", 1),
          label(b, "LN", "la-ln-out", -1),
        );
        plane.setAttribute(
          "aria-label",
          `The plane z₁ + z₂ + z₃ = 0: P z at (u, v) = (${fmt(pu, 3)}, ${fmt(pv, 3)}), length ${fmt(norm, 3)}${far ? " (beyond the picture, drawn at its edge)" : ""}; LN(z) on the circle of radius √3 at (${fmt(pu / sigma, 3)}, ${fmt(pv / sigma, 3)}), on the same ray`,
        );
      } else {
        plane.setAttribute("aria-label", "The plane z₁ + z₂ + z₃ = 0: P z = 0 and LN(z) = 0, at the centre of the circle of radius √3");
      }
      patch(plane, ...g.childNodes);
      plane.dataset.unit = String(k);
      cap.textContent = `The plane z₁ + z₂ + z₃ = 0 in the basis u = (1, −1, 0)/√2, v = (1, 1, −2)/√6. Circle: radius √3. Hollow dot: P z${far ? ` (its length ${fmt(norm, 2)} is beyond the picture: drawn at the edge, on its ray)` : ""}; filled dot: LN(z) = P z / σ, on the ray from 0 through P z.`;

      const row = (name, cls, vals) => h("tr", {}, h("th", { scope: "row" }, name), ...vals.map((v) => h("td", { class: cls }, fmt(v, 3))));
      const one = (name, cls, v) => h("tr", {}, h("th", { scope: "row" }, name), h("td", { class: cls, colspan: 3 }, fmt(v, 3)));
      const t = scratch(table);
      t.append(
        h("caption", {}, `z = s·x + c·1 with s = ${fmt(sc, 2)}, c = ${fmt(c, 0)}; ε = ${eps.toExponential(0).replace("-", "−")}`),
        h("tbody", {},
          row("z", "la-ln-z", z),
          one("mean μ", "la-ln-mean", mean),
          row("P z = z − μ1", "la-ln-pz", centred),
          one("‖P z‖", "la-ln-norm", norm),
          one("σ = √(‖P z‖²/3 + ε)", "la-ln-sigma", sigma),
          row("LN(z) = P z / σ", "la-ln-out", out),
          one("sum of LN(z)", "la-ln-sum", sum),
          one("‖LN(z)‖", "la-ln-outnorm", outNorm),
        ),
      );
      patch(table, ...t.childNodes);
      note.textContent = flat
        ? "All entries equal: nothing left after centring (P z = 0); LN gives 0 up to ε."
        : `LN(z) lies on the circle: its entries sum to ${fmt(sum, 3)} and its norm is ${fmt(outNorm, 3)} (√3 = 1.732).`;
      status.textContent = `x = ${lnVec(x)}, s = ${fmt(sc, 2)}, c = ${fmt(c, 0)}: z = ${lnVec(z)}, mean ${fmt(mean, 3)}, P z = ${lnVec(centred)}, ‖P z‖ = ${fmt(norm, 3)}, σ = ${fmt(sigma, 3)}, LN(z) = ${lnVec(out)}. ${note.textContent}`;
    }

    const redraw = onFrame(draw);
    const names = ["x", "shift", "scale"];
    for (const name of names) model.on(`change:${name}`, redraw);
    draw();
    return () => {
      for (const name of names) model.off(`change:${name}`, redraw);
    };
  },
};
