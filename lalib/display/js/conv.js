// conv.js: the convolution explorer of chapter 2 (lalib.display.conv.ConvExplorer).
//
// One image (H, W), one 3 x 3 filter, a stride and a padding. The reader edits the
// pixels (click, or arrow keys and digits on the focused image), the filter (numbers
// or presets), the stride and the padding, and picks an output pixel (click it, the
// slider, or Play). Everything shown is recomputed here with lamath.js: the window on
// the padded input, the row of the Toeplitz matrix T and the column of im2col for
// that output pixel, the dot product written out, and the output filling in.

import { outputSize, conv2d, im2colColumn, toeplitzRow } from "./lamath.js";
import { h, s, fmt, slider, button, playPause, controls, textOn, onFrame, root, newId, patch } from "./ui.js";
import { convOutputGrid } from "./conv_output.js";

const CELL = 34; // SVG user units per pixel (= CSS px at full size)
const KS = 3; // the filter is 3 x 3
const STEP_MS = 900; // Play: one output pixel per step

/** A number as the explorer prints it: integers bare, others with 2 decimals. */
function cnum(v) {
  return Math.abs(v - Math.round(v)) < 1e-9 ? fmt(Math.round(v), 0) : fmt(v, 2);
}

/** A factor in a written-out product: negative numbers in parentheses. */
function cfac(v) {
  const t = cnum(v);
  return t.startsWith("−") ? `(${t})` : t;
}

/** Grey for a pixel: white at lo, dark grey at hi. */
function cgrey(v, lo, hi) {
  const a = hi > lo ? Math.max(0, Math.min(1, (v - lo) / (hi - lo))) : 0;
  const c = Math.round(255 - a * 190);
  return `rgb(${c},${c},${c})`;
}

/** Copy of a matrix (array of rows). */
const ccopy = (A) => A.map((r) => r.slice());

/** The name of a preset ([[name, matrix], ...]) equal to `value`, or null. */
function cpresetOf(presets, value) {
  for (const [k, v] of presets || []) {
    if (v.length === value.length && v.every((r, i) => r.length === value[i].length && r.every((t, j) => Math.abs(t - value[i][j]) < 1e-12))) return k;
  }
  return null;
}

/** A 3 x 3 table of number inputs; onEdit(u, v, value). Returns {el, set(w)}. */
function cfilterInputs(label, onEdit) {
  const inputs = [];
  const body = h("tbody");
  for (let u = 0; u < KS; u++) {
    const tr = h("tr");
    inputs.push([]);
    for (let v = 0; v < KS; v++) {
      const input = h("input", { type: "number", step: "any", inputmode: "decimal", "aria-label": `${label} weight w[${u}, ${v}]` });
      input.addEventListener("input", () => {
        const t = input.value.trim();
        const val = Number(t);
        if (t === "" || !Number.isFinite(val)) return;
        onEdit(u, v, val);
      });
      input.addEventListener("keydown", (e) => e.stopPropagation());
      inputs[u].push(input);
      tr.append(h("td", {}, input));
    }
    body.append(tr);
  }
  const el = h("table", { class: "la-matrix la-filter" }, h("caption", {}, label), body);
  return {
    el,
    set(w) {
      for (let u = 0; u < KS; u++)
        for (let v = 0; v < KS; v++) {
          const input = inputs[u][v];
          // Leave a field the reader is typing in alone if it already holds the value.
          if (document.activeElement === input && input.value.trim() !== "" && Math.abs(Number(input.value) - w[u][v]) < 1e-9) continue;
          input.value = String(Number(w[u][v].toFixed(3)));
        }
    },
  };
}

/** A row of preset buttons; the one equal to the current value is pressed. */
function cpresetButtons(label, names, onPick) {
  const buttons = names.map((name) => {
    const b = button({ label: name, onClick: () => onPick(name) });
    b.setAttribute("aria-pressed", "false");
    b.dataset.preset = name;
    return b;
  });
  const el = h("div", { class: "la-presets", role: "group", "aria-label": label }, h("span", {}, `${label}:`), buttons);
  return {
    el,
    set(current) {
      for (const b of buttons) b.setAttribute("aria-pressed", String(b.dataset.preset === current));
    },
  };
}

function render({ model, el }) {
  const fig = root(el, { label: "Convolution explorer: an editable image and 3 by 3 filter, stride, padding, and one output pixel computed three ways", className: "la-conv" });
  const cursor = [0, 0]; // the pixel the keyboard edits, in image coordinates

  const get = () => ({
    x: model.get("image"),
    w: model.get("filter"),
    stride: model.get("stride"),
    padding: model.get("padding"),
    position: model.get("position"),
  });
  const commit = (changes) => {
    for (const [k, v] of Object.entries(changes)) model.set(k, v);
    model.save_changes();
  };
  const sizes = (x, stride, padding) => [outputSize(x.length, KS, stride, padding), outputSize(x[0].length, KS, stride, padding)];
  const clampPos = (x, stride, padding, p) => {
    const [Ho, Wo] = sizes(x, stride, padding);
    return Math.max(0, Math.min(Ho * Wo - 1, p));
  };

  // ---- controls
  const presetNamed = (key, name) => (model.get(key) || []).find(([k]) => k === name)[1];
  const imagePresets = cpresetButtons("Image", (model.get("images") || []).map(([k]) => k), (name) => {
    const img = presetNamed("images", name);
    const { stride, padding, position } = get();
    cursor[0] = Math.min(cursor[0], img.length - 1);
    cursor[1] = Math.min(cursor[1], img[0].length - 1);
    commit({ image: ccopy(img), position: clampPos(img, stride, padding, position) });
  });
  const penId = newId("pen");
  const pen = h("input", { id: penId, type: "number", step: "any", value: "8", inputmode: "decimal" });
  pen.addEventListener("keydown", (e) => e.stopPropagation());
  const penControl = h("div", { class: "la-control la-pen" }, h("label", { for: penId }, "Value a click paints"), pen);
  const penValue = () => (Number.isFinite(Number(pen.value)) && pen.value.trim() !== "" ? Number(pen.value) : 0);

  const filterPresets = cpresetButtons("Filter", (model.get("presets") || []).map(([k]) => k), (name) => {
    commit({ filter: ccopy(presetNamed("presets", name)) });
  });
  const filterIn = cfilterInputs("Filter w (type to edit)", (u, v, val) => {
    const w = ccopy(model.get("filter"));
    w[u][v] = val;
    commit({ filter: w });
  });

  const strideSlider = slider({
    label: "Stride", min: 1, max: 3, step: 1, value: model.get("stride"),
    onInput: (v) => {
      const { x, padding, position } = get();
      commit({ stride: v, position: clampPos(x, v, padding, position) });
    },
  });
  const paddingSlider = slider({
    label: "Padding", min: 0, max: 2, step: 1, value: model.get("padding"),
    onInput: (v) => {
      const { x, stride, position } = get();
      commit({ padding: v, position: clampPos(x, stride, v, position) });
    },
  });
  let posFormat = (p) => String(p);
  const posSlider = slider({
    label: "Output pixel", min: 0, max: 8, step: 1, value: model.get("position"),
    format: (p) => posFormat(p),
    onInput: (v) => commit({ position: v }),
  });
  posSlider.input.classList.add("la-position");
  const { el: play, stop } = playPause({
    ms: STEP_MS,
    step: () => {
      const { x, stride, padding, position } = get();
      const [Ho, Wo] = sizes(x, stride, padding);
      commit({ position: (position + 1) % (Ho * Wo) });
    },
  });
  for (const sl of [strideSlider, paddingSlider, posSlider]) sl.input.addEventListener("keydown", (e) => e.stopPropagation());

  // ---- views
  const inputSvg = s("svg", { class: "la-grid la-input", tabindex: "0", role: "application", "aria-roledescription": "editable image" });
  const outputSvg = s("svg", { class: "la-grid la-output", role: "img" });
  const inputCap = h("div", { class: "la-cap" });
  const outputCap = h("div", { class: "la-cap" });
  const keys = h(
    "p",
    { class: "la-keys" },
    "Click a pixel to paint it (click again to clear it), or focus the image and use the arrow keys to move the dashed cursor, digits 0 to 9 to set its value, + and − to change it by 1.",
  );
  const eq = h("p", { class: "la-eq" });
  const identity = h("p", { class: "la-note" });
  const trowCap = h("p", { class: "la-note" });
  const trow = h("div", { class: "la-strip la-trow", role: "list" });
  const colTable = h("div", { class: "la-scroll" });
  const desc = h("p", { class: "la-desc la-status" });

  fig.append(
    controls(imagePresets.el, penControl),
    controls(filterPresets.el),
    controls(strideSlider.el, paddingSlider.el),
    controls(play, posSlider.el),
    h(
      "div",
      { class: "la-views" },
      h("div", { class: "la-fig" }, inputCap, inputSvg),
      filterIn.el,
      h("div", { class: "la-fig" }, outputCap, outputSvg),
    ),
    keys,
    eq,
    identity,
    h("div", { class: "la-views" }, h("div", { class: "la-trow-wrap" }, trowCap, trow), colTable),
    desc,
  );

  // ---- editing the image
  function setPixel(r, c, value) {
    const x = ccopy(model.get("image"));
    x[r][c] = value;
    commit({ image: x });
  }
  inputSvg.addEventListener("keydown", (e) => {
    const x = model.get("image");
    const [H, W] = [x.length, x[0].length];
    const moves = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
    const [r, c] = cursor;
    let handled = true;
    if (moves[e.key]) {
      cursor[0] = Math.max(0, Math.min(H - 1, r + moves[e.key][0]));
      cursor[1] = Math.max(0, Math.min(W - 1, c + moves[e.key][1]));
      redraw();
    } else if (/^[0-9]$/.test(e.key)) setPixel(r, c, Number(e.key));
    else if (e.key === "+" || e.key === "=") setPixel(r, c, x[r][c] + 1);
    else if (e.key === "-" || e.key === "_") setPixel(r, c, x[r][c] - 1);
    else if (e.key === "Delete" || e.key === "Backspace") setPixel(r, c, 0);
    else if (e.key === "Enter" || e.key === " ") setPixel(r, c, x[r][c] === penValue() ? 0 : penValue());
    else handled = false;
    if (handled) {
      e.preventDefault();
      e.stopPropagation();
    }
  });
  // a click on an image pixel paints it (one listener for all pixels: the drawing
  // reuses its nodes from one redraw to the next)
  inputSvg.addEventListener("click", (e) => {
    const g = e.target.closest(".la-px");
    if (!g) return;
    const [rr, cc] = [Number(g.dataset.row), Number(g.dataset.col)];
    cursor[0] = rr;
    cursor[1] = cc;
    const cur = model.get("image")[rr][cc];
    setPixel(rr, cc, cur === penValue() ? 0 : penValue());
  });
  inputSvg.addEventListener("focus", () => redraw());
  inputSvg.addEventListener("blur", () => redraw());

  // ---- drawing
  let drawnPixels = { key: null, cells: [] };
  function pixels(x, padding, lo, hi, Hp, Wp, H, W) {
    const cells = [];
    for (let r = 0; r < Hp; r++)
      for (let c = 0; c < Wp; c++) {
        const inside = r >= padding && r < padding + H && c >= padding && c < padding + W;
        const v = inside ? x[r - padding][c - padding] : 0;
        const fill = inside ? cgrey(v, lo, hi) : "#dbe9f7";
        const g = s(
          "g",
          inside ? { class: "la-px", "data-row": r - padding, "data-col": c - padding } : { class: "la-pad" },
          s("rect", { x: c * CELL, y: r * CELL, width: CELL, height: CELL, fill, stroke: inside ? "#999" : "#9db8d6", "stroke-dasharray": inside ? null : "3 2" }),
          s("text", { x: (c + 0.5) * CELL, y: (r + 0.5) * CELL, "text-anchor": "middle", "dominant-baseline": "central", style: `fill:${inside ? textOn(fill) : "#4a6a8c"}`, "font-style": inside ? null : "italic" }, cnum(v)),
        );
        cells.push(g);
      }
    return cells;
  }

  function draw() {
    const { x, w, stride, padding } = get();
    const [H, W] = [x.length, x[0].length];
    const [Ho, Wo] = sizes(x, stride, padding);
    const p = clampPos(x, stride, padding, model.get("position"));
    const [i, j] = [Math.floor(p / Wo), p % Wo];
    cursor[0] = Math.min(cursor[0], H - 1);
    cursor[1] = Math.min(cursor[1], W - 1);
    const out = conv2d([x], [w], { stride, padding });
    const col = im2colColumn([x], [KS, KS], i, j, { stride, padding });
    const row = toeplitzRow([w], [1, H, W], i, j, { stride, padding });
    const value = out[i][j];

    // controls follow the model
    strideSlider.set(stride);
    paddingSlider.set(padding);
    posSlider.input.max = String(Ho * Wo - 1);
    posFormat = (q) => `${q}: (${Math.floor(q / Wo)}, ${q % Wo}) of ${Ho}×${Wo}`;
    posSlider.set(p);
    imagePresets.set(cpresetOf(model.get("images"), x));
    filterPresets.set(cpresetOf(model.get("presets"), w));
    filterIn.set(w);

    // the padded input, the window, the cursor
    const Hp = H + 2 * padding;
    const Wp = W + 2 * padding;
    let lo = 0;
    let hi = 0;
    for (const r of x) for (const v of r) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
    const M = 4; // margin for the window's stroke
    inputSvg.setAttribute("viewBox", `${-M} ${-M} ${Wp * CELL + 2 * M} ${Hp * CELL + 2 * M}`);
    inputSvg.setAttribute("width", Wp * CELL + 2 * M);
    // the pixels are rebuilt only when the image or the padding changed (moving the
    // window leaves them as they are)
    const pixelsKey = JSON.stringify([x, padding]);
    if (pixelsKey !== drawnPixels.key) {
      drawnPixels = { key: pixelsKey, cells: pixels(x, padding, lo, hi, Hp, Wp, H, W) };
    }
    const win = s("rect", { class: "la-window", x: j * stride * CELL, y: i * stride * CELL, width: KS * CELL, height: KS * CELL, fill: "none", stroke: "#e8a100", "stroke-width": 4 });
    const focused = document.activeElement === inputSvg;
    const cur = s("rect", {
      x: (cursor[1] + padding) * CELL + 3, y: (cursor[0] + padding) * CELL + 3, width: CELL - 6, height: CELL - 6,
      fill: "none", stroke: focused ? "#c2185b" : "#555", "stroke-width": focused ? 3 : 1.5, "stroke-dasharray": "4 3",
    });
    patch(inputSvg, drawnPixels.cells, win, cur);
    // from now on, the nodes on the page (patch kept them, or took the new ones)
    drawnPixels.cells = Array.from(inputSvg.childNodes).slice(0, drawnPixels.cells.length);
    inputSvg.setAttribute(
      "aria-label",
      `Input image, ${H} by ${W}` + (padding ? `, with a ring of ${padding} zero${padding > 1 ? "s" : ""} of padding` : "") +
        `. Cursor at row ${cursor[0]}, column ${cursor[1]}, value ${cnum(x[cursor[0]][cursor[1]])}. Arrow keys move the cursor; digits set its value.`,
    );
    inputCap.textContent = padding
      ? `Input x (${H}×${W}), padded with ${padding} ring${padding > 1 ? "s" : ""} of zeros (blue); window of out[${i}, ${j}]`
      : `Input x (${H}×${W}); window of out[${i}, ${j}]`;

    // the output, filled in up to the current pixel (row-major, as the window slides)
    convOutputGrid(outputSvg, out, p, [i, j], { cell: CELL, num: cnum, pick: (q) => commit({ position: q }) });
    const filled = out.flat().slice(0, p + 1).map(cnum).join(", ");
    outputSvg.setAttribute("aria-label", `Output ${Ho} by ${Wo}, filled in row by row up to pixel (${i}, ${j}): ${filled}`);
    outputCap.textContent = `Output (${Ho}×${Wo}): out[${i}, ${j}] = ${cnum(value)} (click a pixel to move the window there)`;

    // the dot product, written out
    const terms = [];
    for (let u = 0; u < KS; u++) for (let v = 0; v < KS; v++) terms.push(`${cfac(w[u][v])}·${cfac(col[u * KS + v])}`);
    patch(eq,
      `out[${i}, ${j}] = `,
      ...terms.flatMap((t, k) => [k ? " + " : "", h("span", { class: "la-term" }, t)]),
      " = ",
      h("strong", { class: "la-value" }, cnum(value)),
    );
    identity.textContent = `T[${p}] · x = w · cols[:, ${p}] = out[${i}, ${j}] = ${cnum(value)}: the row of T and the column of im2col below are the same window, written two ways.`;

    // the row of T
    const nz = row.filter((v) => v !== 0).length;
    trowCap.textContent = `Row ${p} of the Toeplitz matrix T (${Ho * Wo}×${H * W}): one entry per input pixel, ${W} per image row; ${nz} nonzero (the filter's weights where the window covers the image${padding ? "; taps on padding are dropped" : ""}).`;
    patch(trow,
      row.map((v, k) =>
        h(
          "div",
          { class: `la-box${v !== 0 ? " la-nz" : ""}${k % W === 0 && k ? " la-rowstart" : ""}`, role: "listitem", "aria-label": `T[${p}, ${k}] = ${cnum(v)}` },
          h("small", {}, String(k)),
          h("span", { class: "la-v" }, cnum(v)),
        ),
      ),
    );

    // the column of im2col, beside the flattened filter
    const tbody = h("tbody");
    col.forEach((v, k) => {
      const [u, vv] = [Math.floor(k / KS), k % KS];
      tbody.append(
        h(
          "tr",
          {},
          h("th", { scope: "row" }, `${k}: (${u}, ${vv})`),
          h("td", { class: "la-w" }, cnum(w[u][vv])),
          h("td", { class: "la-col" }, cnum(v)),
          h("td", {}, cnum(w[u][vv] * v)),
        ),
      );
    });
    tbody.append(h("tr", {}, h("th", { scope: "row" }, "sum"), h("td", {}), h("td", {}), h("td", { class: "la-sum" }, cnum(value))));
    patch(colTable,
      h(
        "table",
        { class: "la-matrix la-im2col" },
        h("caption", {}, `Column ${p} of im2col (${KS * KS}×${Ho * Wo}) beside the flattened filter`),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "entry (u, v)"), h("th", { scope: "col" }, "w"), h("th", { scope: "col" }, `cols[:, ${p}]`), h("th", { scope: "col" }, "product"))),
        tbody,
      ),
    );

    desc.textContent =
      `A ${H}×${W} image and a 3×3 filter at stride ${stride}, padding ${padding} give a ${Ho}×${Wo} output ` +
      `(⌊(${H} + 2·${padding} − 3) / ${stride}⌋ + 1 = ${Ho} rows, ${Wo} columns). ` +
      `The window of output pixel (${i}, ${j}) starts at row ${i * stride}, column ${j * stride} of the padded input; ` +
      `its dot product with the filter is ${cnum(value)}. Whole output, row by row: ${out.map((r) => r.map(cnum).join(", ")).join("; ")}.`;
  }

  const redraw = onFrame(draw);
  for (const name of ["image", "filter", "stride", "padding", "position", "presets", "images"]) model.on(`change:${name}`, redraw);
  draw();
  return () => stop();
}

export default { render };
