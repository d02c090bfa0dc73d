// transpose.js: the transposed convolution as stamps (lalib.display.conv.StampExplorer).
//
// One single-channel image, one square kernel, a stride. Input pixel (i, j) stamps the
// kernel, scaled by its value, at (i * stride, j * stride) of the output; where stamps
// overlap they add up. The reader picks the kernel and the stride and steps through the
// input pixels (slider, arrow keys, or Play): the output fills in, recomputed here with
// lamath.js, the current stamp outlined on it and the current pixel on the input.

import { convTranspose2d } from "./lamath.js";
import { h, s, fmt, slider, dropdown, playPause, controls, onFrame, root, sequentialColor, textOn } from "./ui.js";

const TS_CELL = 28;
const TS_STEP_MS = 700;

/** A value as the grids show it: integers bare, others with two decimals. */
const tsNum = (v) => (Number.isInteger(v) ? fmt(v, 0) : fmt(v, 2));

/**
 * Draw `values` into `svg` as cells (a number on a colour for its size), and outline
 * the `box` [row, col, rows, cols] in the kernel's orange (none: hidden). The cells
 * stay on the page from one draw to the next, keyed by position: a draw creates only
 * the cells a larger grid adds the first time, hides those a smaller one leaves out,
 * and writes only the colours and numbers that changed.
 */
function tsGrid(svg, values, { vmax, box = null, label }) {
  const [R, C] = [values.length, values[0].length];
  const M = 4;
  svg.setAttribute("viewBox", `${-M} ${-M} ${C * TS_CELL + 2 * M} ${R * TS_CELL + 2 * M}`);
  svg.setAttribute("width", C * TS_CELL + 2 * M);
  svg.setAttribute("aria-label", label);
  if (!svg.laCells) {
    svg.laCells = new Map();
    svg.laBox = s("rect", { class: "la-ts-box", fill: "none", stroke: "#e8a100", "stroke-width": 4 });
    svg.append(svg.laBox);
  }
  const cells = svg.laCells;
  const seen = new Set();
  values.forEach((row, r) =>
    row.forEach((v, c) => {
      const key = `${r},${c}`;
      seen.add(key);
      let cell = cells.get(key);
      if (!cell) {
        const rect = s("rect", { x: c * TS_CELL, y: r * TS_CELL, width: TS_CELL, height: TS_CELL, stroke: "#999" });
        const text = s("text", { x: (c + 0.5) * TS_CELL, y: (r + 0.5) * TS_CELL, "text-anchor": "middle", "dominant-baseline": "central" });
        const g = s("g", { class: "la-ts-cell", "data-row": r, "data-col": c }, rect, text);
        svg.insertBefore(g, svg.laBox);
        cell = { g, rect, text, fill: null, num: null, shown: true };
        cells.set(key, cell);
      }
      const fill = sequentialColor(Math.abs(v), vmax);
      if (fill !== cell.fill) {
        cell.fill = fill;
        cell.rect.setAttribute("fill", fill);
        cell.text.setAttribute("style", `fill:${textOn(fill)}`);
      }
      const num = tsNum(v);
      if (num !== cell.num) {
        cell.num = num;
        cell.text.textContent = num;
      }
    }),
  );
  for (const [key, cell] of cells) {
    const shown = seen.has(key);
    if (shown !== cell.shown) {
      cell.shown = shown;
      if (shown) cell.g.removeAttribute("display");
      else cell.g.setAttribute("display", "none");
    }
  }
  if (box) {
    const [r, c, nr, nc] = box;
    for (const [k, v] of Object.entries({ x: c * TS_CELL, y: r * TS_CELL, width: nc * TS_CELL, height: nr * TS_CELL })) svg.laBox.setAttribute(k, v);
    svg.laBox.removeAttribute("display");
  } else {
    svg.laBox.setAttribute("display", "none");
  }
}

export default {
  render({ model, el }) {
    const fig = root(el, { label: "Transposed convolution as stamps: pick a kernel and a stride, step through the input pixels", className: "la-conv la-stamps" });
    const get = () => ({ x: model.get("image"), w: model.get("kernel"), stride: model.get("stride"), stamped: model.get("stamped") });
    const commit = (changes) => {
      for (const [k, v] of Object.entries(changes)) model.set(k, v);
      model.save_changes();
    };
    const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
    const presetOf = (w) => ((model.get("kernels") || []).find(([, m]) => same(m, w)) || ["custom"])[0];

    const kernelCtl = dropdown({
      label: "Kernel",
      options: [...(model.get("kernels") || []).map(([k]) => [k, k]), ["custom", "(your own)"]],
      value: presetOf(model.get("kernel")),
      onChange: (name) => {
        const found = (model.get("kernels") || []).find(([k]) => k === name);
        if (found) commit({ kernel: found[1] });
      },
    });
    const strideCtl = slider({ label: "Stride", min: 1, max: 3, step: 1, value: model.get("stride"), onInput: (v) => commit({ stride: v }) });
    let stampFormat = (k) => String(k);
    const stampCtl = slider({
      label: "Input pixels stamped",
      min: 0,
      max: model.get("image").flat().length,
      step: 1,
      value: model.get("stamped"),
      format: (k) => stampFormat(k),
      onInput: (v) => commit({ stamped: v }),
    });
    stampCtl.input.classList.add("la-stamped");
    const pixels = () => model.get("image").flat().length;
    const { el: play, stop } = playPause({
      ms: TS_STEP_MS,
      onStart: () => model.get("stamped") >= pixels() && commit({ stamped: 0 }),
      step: () => {
        const k = model.get("stamped");
        if (k >= pixels()) return false;
        commit({ stamped: k + 1 });
        return k + 1 < pixels();
      },
    });

    const inputSvg = s("svg", { class: "la-grid la-ts-input", role: "img" });
    const outputSvg = s("svg", { class: "la-grid la-ts-output", role: "img" });
    const inputCap = h("div", { class: "la-cap" });
    const outputCap = h("div", { class: "la-cap" });
    const status = h("p", { class: "la-desc la-status", "aria-live": "polite" });
    fig.append(
      controls(kernelCtl.el, strideCtl.el),
      controls(play, stampCtl.el),
      h("div", { class: "la-views" }, h("div", { class: "la-fig" }, inputCap, inputSvg), h("div", { class: "la-fig" }, outputCap, outputSvg)),
      status,
    );

    function draw() {
      const { x, w, stride, stamped } = get();
      const [H, W] = [x.length, x[0].length];
      const K = w.length;
      const n = H * W;
      const out = convTranspose2d(x, w, { stride, upto: stamped });
      const full = convTranspose2d(x, w, { stride });
      let vmax = 0;
      for (const row of full) for (const v of row) vmax = Math.max(vmax, Math.abs(v));
      const last = stamped - 1; // the pixel that stamped last, -1 before the first
      const [i, j] = last >= 0 ? [Math.floor(last / W), last % W] : [null, null];

      kernelCtl.set(presetOf(w));
      strideCtl.set(stride);
      stampCtl.input.max = String(n);
      stampFormat = (k) => (k ? `${k} of ${n}: pixel (${Math.floor((k - 1) / W)}, ${(k - 1) % W})` : `0 of ${n}`);
      stampCtl.set(stamped);

      tsGrid(inputSvg, x, { vmax: Math.max(...x.flat().map(Math.abs)), box: i === null ? null : [i, j, 1, 1], label: `Input ${H} by ${W}: ${x.map((r) => r.map(tsNum).join(", ")).join("; ")}` });
      tsGrid(outputSvg, out, {
        vmax,
        box: i === null ? null : [i * stride, j * stride, K, K],
        label: `Output ${out.length} by ${out[0].length} after ${stamped} of ${n} stamps, row by row: ${out.map((r) => r.map(tsNum).join(", ")).join("; ")}`,
      });
      inputCap.textContent = i === null ? `Input x (${H}×${W}); no pixel has stamped yet` : `Input x (${H}×${W}); pixel (${i}, ${j}) stamped last`;
      outputCap.textContent = `Output ((${H} − 1)·${stride} + ${K} = ${out.length}) × ((${W} − 1)·${stride} + ${K} = ${out[0].length})`;
      const counts = new Map();
      for (const row of out) for (const v of row) counts.set(tsNum(v), (counts.get(tsNum(v)) || 0) + 1);
      const tally = [...counts.entries()].sort((a, b) => Number(a[0].replace("−", "-")) - Number(b[0].replace("−", "-"))).map(([v, c]) => `${c} pixel${c > 1 ? "s" : ""} hold ${v}`);
      status.textContent =
        (i === null ? "No stamp yet. " : `Pixel (${i}, ${j}) = ${tsNum(x[i][j])} stamped the ${K}×${K} kernel at rows ${i * stride}–${i * stride + K - 1}, columns ${j * stride}–${j * stride + K - 1}. `) +
        `After ${stamped} of ${n} stamps: ${tally.join(", ")}.` +
        (stamped === n && K % stride !== 0 ? ` The stride ${stride} does not divide the kernel size ${K}: the counts alternate, a checkerboard.` : "") +
        (stamped === n && K % stride === 0 && stride > 1 ? ` The stride ${stride} divides the kernel size ${K}: away from the border every pixel gets the same number of stamps.` : "");
    }

    const redraw = onFrame(draw);
    for (const name of ["image", "kernel", "stride", "stamped"]) model.on(`change:${name}`, redraw);
    draw();
    return () => {
      stop();
      for (const name of ["image", "kernel", "stride", "stamped"]) model.off(`change:${name}`, redraw);
    };
  },
};
