// conv_volume.js: three input channels into one output channel
// (lalib.display.conv.ConvVolumeExplorer).
//
// The image is (3, H, W) and the filter (3, 3, 3): the window is a 3 x 3 x 3 volume
// through the three channels, drawn as three stacked, offset channel grids with the
// window outlined on each and joined into a box. The output pixel is the sum over the
// channels of each channel's window times that channel's slice of the filter; the
// three partial sums and their total are written out. Recomputed with lamath.js.

import { outputSize, conv2d, im2colColumn } from "./lamath.js";
import { h, s, fmt, slider, playPause, controls, textOn, onFrame, root, patch } from "./ui.js";
import { convOutputGrid } from "./conv_output.js";

const VCELL = 30; // SVG user units per pixel
const VK = 3; // 3 x 3 filter slices
const VC = 3; // channels
const VSTEP_MS = 900;
const VOFF = 1.5 * VCELL; // how far each channel sits behind the one in front
const VLEFT = 44; // room for the channel labels

function vnum(v) {
  return Math.abs(v - Math.round(v)) < 1e-9 ? fmt(Math.round(v), 0) : fmt(v, 2);
}
function vfac(v) {
  const t = vnum(v);
  return t.startsWith("−") ? `(${t})` : t;
}
function vgrey(v, lo, hi) {
  const a = hi > lo ? Math.max(0, Math.min(1, (v - lo) / (hi - lo))) : 0;
  const c = Math.round(255 - a * 190);
  return `rgb(${c},${c},${c})`;
}
const CH_TINT = ["#c62828", "#2e7d32", "#1565c0"]; // channel outlines: 0, 1, 2

function render({ model, el }) {
  const fig = root(el, { label: "Convolution of three input channels into one output channel: the window as a volume", className: "la-conv la-conv-volume" });
  const get = () => ({
    x: model.get("image"),
    w: model.get("filter"),
    stride: model.get("stride"),
    padding: model.get("padding"),
  });
  const commit = (changes) => {
    for (const [k, v] of Object.entries(changes)) model.set(k, v);
    model.save_changes();
  };
  const vsizes = (x, stride, padding) => [outputSize(x[0].length, VK, stride, padding), outputSize(x[0][0].length, VK, stride, padding)];
  const vclamp = (x, stride, padding, p) => {
    const [Ho, Wo] = vsizes(x, stride, padding);
    return Math.max(0, Math.min(Ho * Wo - 1, p));
  };

  const strideSlider = slider({
    label: "Stride", min: 1, max: 3, step: 1, value: model.get("stride"),
    onInput: (v) => {
      const { x, padding } = get();
      commit({ stride: v, position: vclamp(x, v, padding, model.get("position")) });
    },
  });
  const paddingSlider = slider({
    label: "Padding", min: 0, max: 2, step: 1, value: model.get("padding"),
    onInput: (v) => {
      const { x, stride } = get();
      commit({ padding: v, position: vclamp(x, stride, v, model.get("position")) });
    },
  });
  let posFormat = (p) => String(p);
  const posSlider = slider({
    label: "Output pixel", min: 0, max: 8, step: 1, value: model.get("position"),
    format: (p) => posFormat(p),
    onInput: (v) => commit({ position: v }),
  });
  posSlider.input.classList.add("la-position");
  for (const sl of [strideSlider, paddingSlider, posSlider]) sl.input.addEventListener("keydown", (e) => e.stopPropagation());
  const { el: play, stop } = playPause({
    ms: VSTEP_MS,
    step: () => {
      const { x, stride, padding } = get();
      const [Ho, Wo] = vsizes(x, stride, padding);
      commit({ position: (model.get("position") + 1) % (Ho * Wo) });
    },
  });

  // one 3 x 3 table of number inputs per channel slice of the filter
  const filterInputs = [];
  const channelBlocks = [];
  const windowTables = [];
  const partials = [];
  for (let c = 0; c < VC; c++) {
    const body = h("tbody");
    const inputs = [];
    for (let u = 0; u < VK; u++) {
      const tr = h("tr");
      inputs.push([]);
      for (let v = 0; v < VK; v++) {
        const input = h("input", { type: "number", step: "any", inputmode: "decimal", "aria-label": `filter weight w[${c}, ${u}, ${v}] (channel ${c})` });
        input.addEventListener("input", () => {
          const t = input.value.trim();
          const val = Number(t);
          if (t === "" || !Number.isFinite(val)) return;
          const w = model.get("filter").map((sl) => sl.map((r) => r.slice()));
          w[c][u][v] = val;
          commit({ filter: w });
        });
        input.addEventListener("keydown", (e) => e.stopPropagation());
        inputs[u].push(input);
        tr.append(h("td", {}, input));
      }
      body.append(tr);
    }
    filterInputs.push(inputs);
    windowTables.push(h("div"));
    partials.push(h("span", { class: "la-partial", "data-channel": c }));
    channelBlocks.push(
      h(
        "div",
        { class: "la-channel" },
        windowTables[c],
        h("span", { "aria-hidden": "true" }, "·"),
        h("table", { class: "la-matrix la-filter" }, h("caption", {}, `w[${c}] (type to edit)`), body),
        h("span", { class: "la-nowrap" }, "= ", partials[c]),
      ),
    );
  }

  const volSvg = s("svg", { class: "la-grid la-volume", role: "img" });
  const volCap = h("div", { class: "la-cap" });
  const outSvg = s("svg", { class: "la-grid la-output", role: "img" });
  const outCap = h("div", { class: "la-cap" });
  const eq = h("p", { class: "la-eq" });
  const note = h("p", { class: "la-note" });
  const desc = h("p", { class: "la-desc la-status" });
  fig.append(
    controls(strideSlider.el, paddingSlider.el),
    controls(play, posSlider.el),
    h("div", { class: "la-views" }, h("div", { class: "la-fig" }, volCap, volSvg), h("div", { class: "la-fig" }, outCap, outSvg)),
    h("div", { class: "la-channels" }, channelBlocks),
    eq,
    note,
    desc,
  );

  function draw() {
    const { x, w, stride, padding } = get();
    const [H, W] = [x[0].length, x[0][0].length];
    const [Ho, Wo] = vsizes(x, stride, padding);
    const p = vclamp(x, stride, padding, model.get("position"));
    const [i, j] = [Math.floor(p / Wo), p % Wo];
    const out = conv2d(x, w, { stride, padding });
    const col = im2colColumn(x, [VK, VK], i, j, { stride, padding }); // (C * 9,)
    const part = [0, 1, 2].map((c) => conv2d([x[c]], [w[c]], { stride, padding })[i][j]);
    const value = out[i][j];

    strideSlider.set(stride);
    paddingSlider.set(padding);
    posSlider.input.max = String(Ho * Wo - 1);
    posFormat = (q) => `${q}: (${Math.floor(q / Wo)}, ${q % Wo}) of ${Ho}×${Wo}`;
    posSlider.set(p);

    // the volume: channel 2 at the back (up and right), channel 0 in front
    const Hp = H + 2 * padding;
    const Wp = W + 2 * padding;
    let lo = 0;
    let hi = 0;
    for (const ch of x) for (const r of ch) for (const v of r) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
    const width = VLEFT + Wp * VCELL + (VC - 1) * VOFF + 6;
    const height = Hp * VCELL + (VC - 1) * VOFF + 28;
    volSvg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    volSvg.setAttribute("width", width);
    const origin = (c) => [VLEFT + c * VOFF, (VC - 1 - c) * VOFF + 4];
    const parts = [];
    const corners = [];
    for (let c = VC - 1; c >= 0; c--) {
      const [ox, oy] = origin(c);
      const g = s("g", { class: "la-chan", "data-channel": c });
      for (let r = 0; r < Hp; r++)
        for (let q = 0; q < Wp; q++) {
          const inside = r >= padding && r < padding + H && q >= padding && q < padding + W;
          const v = inside ? x[c][r - padding][q - padding] : 0;
          const fill = inside ? vgrey(v, lo, hi) : "#dbe9f7";
          g.append(
            s("rect", { x: ox + q * VCELL, y: oy + r * VCELL, width: VCELL, height: VCELL, fill, stroke: inside ? "#999" : "#9db8d6" }),
            s("text", { x: ox + (q + 0.5) * VCELL, y: oy + (r + 0.5) * VCELL, "text-anchor": "middle", "dominant-baseline": "central", style: `fill:${inside ? textOn(fill) : "#4a6a8c"}` }, vnum(v)),
          );
        }
      g.append(s("rect", { x: ox, y: oy, width: Wp * VCELL, height: Hp * VCELL, fill: "none", stroke: CH_TINT[c], "stroke-width": 2 }));
      const wx = ox + j * stride * VCELL;
      const wy = oy + i * stride * VCELL;
      g.append(s("rect", { class: "la-window", x: wx, y: wy, width: VK * VCELL, height: VK * VCELL, fill: "none", stroke: "#e8a100", "stroke-width": 3.5 }));
      g.append(s("text", { x: ox - 6, y: oy + VCELL / 2, "text-anchor": "end", "dominant-baseline": "central" }, `c = ${c}`));
      corners.push([wx, wy]);
      parts.push(g);
    }
    // join the window's corners through the channels: the window is a volume
    const [back, front] = [corners[0], corners[corners.length - 1]];
    const edges = [[0, 0], [VK, 0], [0, VK], [VK, VK]].map(([du, dv]) =>
      s("line", { x1: back[0] + du * VCELL, y1: back[1] + dv * VCELL, x2: front[0] + du * VCELL, y2: front[1] + dv * VCELL, stroke: "#e8a100", "stroke-width": 2, "stroke-dasharray": "5 3" }),
    );
    patch(volSvg, parts, edges);
    volSvg.setAttribute(
      "aria-label",
      `Three channels of ${H} by ${W} pixels stacked front to back` + (padding ? `, each padded with ${padding} ring${padding > 1 ? "s" : ""} of zeros` : "") +
        `; the 3 by 3 by 3 window of output pixel (${i}, ${j}) goes through all three.`,
    );
    volCap.textContent = `Input x (3×${H}×${W}): channel 0 in front, 2 at the back; window of out[${i}, ${j}] through all three`;

    // per-channel windows and filter slices
    for (let c = 0; c < VC; c++) {
      const win = [0, 1, 2].map((u) => col.slice(c * 9 + u * 3, c * 9 + u * 3 + 3));
      const body = h("tbody", {}, win.map((r) => h("tr", {}, r.map((v) => h("td", { class: "la-cell" }, vnum(v))))));
      patch(windowTables[c], h("table", { class: "la-matrix la-window-table", "data-channel": c }, h("caption", {}, h("span", { class: "la-swatch", style: `background:${CH_TINT[c]}`, "aria-hidden": "true" }), `window, channel ${c}`), body));
      for (let u = 0; u < VK; u++)
        for (let v = 0; v < VK; v++) {
          const input = filterInputs[c][u][v];
          if (document.activeElement === input && input.value.trim() !== "" && Math.abs(Number(input.value) - w[c][u][v]) < 1e-9) continue;
          input.value = String(Number(w[c][u][v].toFixed(3)));
        }
      partials[c].textContent = vnum(part[c]);
    }

    // the output
    convOutputGrid(outSvg, out, p, [i, j], { cell: VCELL, num: vnum, pick: (q) => commit({ position: q }) });
    outSvg.setAttribute("aria-label", `Output ${Ho} by ${Wo}, one channel, filled in row by row up to pixel (${i}, ${j}): ${out.flat().slice(0, p + 1).map(vnum).join(", ")}`);
    outCap.textContent = `Output (${Ho}×${Wo}, one channel): out[${i}, ${j}] = ${vnum(value)}`;

    patch(eq,
      `out[${i}, ${j}] = `,
      ...part.flatMap((v, c) => [c ? " + " : "", h("span", { class: "la-term la-chterm", style: `border-bottom-color:${CH_TINT[c]}` }, `${vfac(v)} (channel ${c})`)]),
      " = ",
      h("strong", { class: "la-value" }, vnum(value)),
    );
    note.textContent = `The im2col column of this window has 3·3·3 = 27 entries (the three channel windows one after another), the flattened filter has 27 too, and their dot product is ${vnum(value)}; a row of the Toeplitz matrix has 3·${H}·${W} = ${3 * H * W} entries.`;
    desc.textContent =
      `Three ${H}×${W} channels and a 3×3×3 filter at stride ${stride}, padding ${padding} give one ${Ho}×${Wo} output channel. ` +
      `Output pixel (${i}, ${j}) is the sum over channels ${part.map(vnum).join(" + ")} = ${vnum(value)}. ` +
      `Whole output, row by row: ${out.map((r) => r.map(vnum).join(", ")).join("; ")}.`;
  }

  const redraw = onFrame(draw);
  for (const name of ["image", "filter", "stride", "padding", "position"]) model.on(`change:${name}`, redraw);
  draw();
  return () => stop();
}

export default { render };
