// ui.js: the accessible building blocks every explorable is drawn with.
//
// Controls are real form elements with visible labels (so every control has an
// accessible name and works from the keyboard), readouts are text, matrices are HTML
// tables with their numbers in the cells (colour only repeats what the number says),
// and pictures are SVG (crisp at any zoom). Layouts wrap, so nothing overflows a phone.

const SVG_NS = "http://www.w3.org/2000/svg";

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") {
      el.addEventListener(k.slice(2), v);
      el.laLive = true; // has listeners: patch() replaces it rather than reuse it
    }
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** An HTML element: h("div", {class: "x", onclick: f}, child, "text", ...). */
export function h(tag, attrs = {}, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element, the same way. */
export function s(tag, attrs = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

/**
 * Make `target`'s children equal to `children` (nodes or strings), reusing the nodes
 * already there: a node of the same kind is kept and only its changed attributes and
 * text are written, so a redraw costs the browser only what changed (no new layout
 * objects, no restyle of the unchanged ones). Nodes with event listeners (built with
 * on... attributes, or marked `laLive`) are never reused or updated in place: a new
 * one replaces the old. Use it for the drawn, non-interactive part of a figure.
 */
export function patch(target, ...children) {
  let old = target.firstChild;
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    const n = c instanceof Node ? c : document.createTextNode(String(c));
    if (old && old !== n && sameKind(old, n)) {
      update(old, n);
      old = old.nextSibling;
    } else if (old === n) {
      old = old.nextSibling;
    } else {
      target.insertBefore(n, old);
    }
  }
  while (old) {
    const next = old.nextSibling;
    old.remove();
    old = next;
  }
}

function sameKind(a, b) {
  return a.nodeType === b.nodeType && a.nodeName === b.nodeName && !a.laLive && !b.laLive;
}

function update(a, b) {
  if (a.nodeType !== 1) {
    if (a.nodeValue !== b.nodeValue) a.nodeValue = b.nodeValue;
    return;
  }
  for (const { name } of [...a.attributes]) if (!b.hasAttribute(name)) a.removeAttribute(name);
  for (const { name, value } of b.attributes) if (a.getAttribute(name) !== value) a.setAttribute(name, value);
  patch(a, [...b.childNodes]);
}

/** An empty element of `target`'s kind to build a redraw in, then patch(target, ...it.childNodes). */
export function scratch(target) {
  return document.createElementNS(target.namespaceURI, target.localName);
}

/**
 * A number as a reader reads it: `digits` decimals, a true minus sign, no "-0",
 * NaN and infinities spelled out.
 */
export function fmt(v, digits = 2) {
  if (v !== v) return "NaN";
  if (v === Infinity) return "∞";
  if (v === -Infinity) return "−∞";
  let t = v.toFixed(digits);
  if (/^-0(\.0*)?$/.test(t)) t = t.slice(1);
  return t.replace("-", "−");
}

/** The inverse of fmt, for tests and readouts: "−1.50" -> -1.5. */
export function parseNum(text) {
  const t = text.trim().replace("−", "-");
  if (t === "∞") return Infinity;
  if (t === "-∞") return -Infinity;
  return Number(t);
}

/** A vector as "[1.00, −2.00]". */
export function fmtVec(v, digits = 2) {
  return `[${v.map((x) => fmt(x, digits)).join(", ")}]`;
}

let uid = 0;
/** A fresh id for label/for and aria-describedby pairs. */
export function newId(prefix = "la") {
  uid += 1;
  return `${prefix}-${uid}-${Math.random().toString(36).slice(2, 7)}`;
}

/**
 * A labelled range input with a visible readout.
 * Returns {el, input, set(value)}; onInput(value) runs on every change.
 */
export function slider({ label, min, max, step = 1, value, format = (v) => String(v), onInput }) {
  const id = newId("range");
  const out = h("output", { for: id, class: "la-readout" }, format(value));
  const input = h("input", { type: "range", id, min, max, step, value });
  input.laLive = true;
  input.addEventListener("input", () => {
    const v = Number(input.value);
    out.textContent = format(v);
    input.setAttribute("aria-valuetext", format(v));
    onInput && onInput(v);
  });
  input.setAttribute("aria-valuetext", format(value));
  const el = h("div", { class: "la-control" }, h("label", { for: id }, label), input, out);
  return {
    el,
    input,
    set(v) {
      input.value = v;
      out.textContent = format(v);
      input.setAttribute("aria-valuetext", format(v));
    },
  };
}

/**
 * A labelled <select> for a categorical choice. options: [[value, text], ...].
 * Returns {el, select, set(value)}.
 */
export function dropdown({ label, options, value, onChange }) {
  const id = newId("select");
  const select = h(
    "select",
    { id },
    options.map(([v, t]) => h("option", { value: v }, t)),
  );
  select.value = value;
  select.laLive = true;
  select.addEventListener("change", () => onChange && onChange(select.value));
  const el = h("div", { class: "la-control" }, h("label", { for: id }, label), select);
  return {
    el,
    select,
    set(v) {
      select.value = v;
    },
  };
}

/** A toggle button (aria-pressed). Returns {el, set(pressed)}; onChange(pressed). */
export function toggle({ label, pressed = false, onChange }) {
  const el = h("button", { type: "button", class: "la-button", "aria-pressed": String(pressed) }, label);
  el.laLive = true;
  el.addEventListener("click", () => {
    const now = el.getAttribute("aria-pressed") !== "true";
    el.setAttribute("aria-pressed", String(now));
    onChange && onChange(now);
  });
  return {
    el,
    set(p) {
      el.setAttribute("aria-pressed", String(p));
    },
  };
}

/** A plain button with a text label. */
export function button({ label, onClick, title = null }) {
  return h("button", { type: "button", class: "la-button", title, onclick: onClick }, label);
}

/**
 * A Play / Pause button: while playing, step() runs every `ms` milliseconds until it
 * returns false or the button leaves the page; onStart() runs when play starts.
 * Returns {el, stop}.
 */
export function playPause({ step, ms, onStart = null }) {
  let timer = null;
  const el = button({ label: "Play", onClick: () => (timer ? stop() : start()) });
  el.classList.add("la-play");
  function stop() {
    clearInterval(timer);
    timer = null;
    el.textContent = "Play";
  }
  function start() {
    el.textContent = "Pause";
    if (onStart) onStart();
    timer = setInterval(() => {
      if (!el.isConnected || step() === false) stop();
    }, ms);
  }
  return { el, stop };
}

/** A row of controls that wraps on a narrow screen. */
export function controls(...els) {
  return h("div", { class: "la-controls" }, ...els);
}

/** A polite live region: set .textContent to announce a result to screen readers. */
export function liveRegion(cls = "la-status") {
  return h("p", { class: cls, "aria-live": "polite" });
}

/**
 * Diverging colour for v in [-vmax, vmax]: blue below 0, white at 0, red above
 * (a colour-blind-safe pair). NaN is grey.
 */
export function divergingColor(v, vmax) {
  if (v !== v) return "rgb(200,200,200)";
  const t = vmax > 0 ? Math.max(-1, Math.min(1, v / vmax)) : 0;
  const [r0, g0, b0] = t >= 0 ? [202, 0, 32] : [5, 113, 176];
  const a = Math.abs(t);
  const mix = (c) => Math.round(255 + (c - 255) * a);
  return `rgb(${mix(r0)},${mix(g0)},${mix(b0)})`;
}

/** Sequential colour for v in [0, vmax]: white to dark blue. */
export function sequentialColor(v, vmax = 1) {
  if (v !== v) return "rgb(200,200,200)";
  const a = vmax > 0 ? Math.max(0, Math.min(1, v / vmax)) : 0;
  const mix = (lo, hi) => Math.round(lo + (hi - lo) * a);
  return `rgb(${mix(255, 8)},${mix(255, 48)},${mix(255, 107)})`;
}

/**
 * Near-black or white text, whichever contrasts more with the rgb(...) background
 * (WCAG relative luminance), so a number on any cell colour stays readable.
 */
export function textOn(rgb) {
  const lin = (c) => {
    const v = c / 255;
    return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const [r, g, b] = rgb.match(/\d+/g).map(Number);
  const L = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  const DARK = 0.0056; // luminance of #111
  return (L + 0.05) / (DARK + 0.05) >= 1.05 / (L + 0.05) ? "#111" : "#fff";
}

/**
 * A matrix as an HTML table: numbers in the cells, the cell colour repeating the value.
 * opts: caption (text, required for a name), format, color (v -> css colour),
 * rowLabels, colLabels, highlight ((i, j) -> bool), cellClass ((i, j) -> string).
 */
export function matrixTable(values, { caption, format = (v) => fmt(v, 2), color = null, rowLabels = null, colLabels = null, highlight = null, cellClass = null } = {}) {
  const table = h("table", { class: "la-matrix" });
  if (caption) table.append(h("caption", {}, caption));
  if (colLabels) {
    table.append(
      h("thead", {}, h("tr", {}, rowLabels ? h("td", {}) : null, colLabels.map((c) => h("th", { scope: "col" }, c)))),
    );
  }
  const body = h("tbody");
  values.forEach((row, i) => {
    const tr = h("tr", {}, rowLabels ? h("th", { scope: "row" }, rowLabels[i]) : null);
    row.forEach((v, j) => {
      const bg = color ? color(v) : null;
      const cls = ["la-cell", highlight && highlight(i, j) ? "la-hi" : "", cellClass ? cellClass(i, j) : ""].join(" ").trim();
      tr.append(h("td", { class: cls, style: bg ? `background:${bg};color:${textOn(bg)}` : null }, format(v)));
    });
    body.append(tr);
  });
  table.append(body);
  return table;
}

/**
 * Make an SVG element draggable with the pointer and movable with the arrow keys.
 * opts: label () -> accessible name (re-read after each move), get () -> [x, y] in
 * data units, set ([x, y]) (the owner redraws), toData (event) -> [x, y], step
 * (arrow-key step in data units; Shift multiplies by 5).
 */
export function draggable(el, { label, get, set, toData, step = 0.1 }) {
  el.setAttribute("tabindex", "0");
  el.setAttribute("role", "button");
  el.setAttribute("aria-roledescription", "draggable point");
  el.setAttribute("aria-label", label());
  el.classList.add("la-handle");
  el.laLive = true;
  let dragging = false;
  el.addEventListener("pointerdown", (e) => {
    dragging = true;
    el.setPointerCapture(e.pointerId);
    e.preventDefault();
  });
  el.addEventListener("pointermove", (e) => {
    if (!dragging) return;
    set(toData(e));
    el.setAttribute("aria-label", label());
  });
  const stop = () => (dragging = false);
  el.addEventListener("pointerup", stop);
  el.addEventListener("pointercancel", stop);
  el.addEventListener("keydown", (e) => {
    const d = step * (e.shiftKey ? 5 : 1);
    const moves = { ArrowLeft: [-d, 0], ArrowRight: [d, 0], ArrowUp: [0, d], ArrowDown: [0, -d] };
    const m = moves[e.key];
    if (!m) return;
    e.preventDefault();
    e.stopPropagation();
    const [x, y] = get();
    const snap = (v) => Math.round(v / step) * step;
    set([snap(x + m[0]), snap(y + m[1])]);
    el.setAttribute("aria-label", label());
  });
}

/** Pointer position in an SVG's user units (its viewBox). */
export function svgPoint(svg, event) {
  const pt = svg.createSVGPoint();
  pt.x = event.clientX;
  pt.y = event.clientY;
  const p = pt.matrixTransform(svg.getScreenCTM().inverse());
  return [p.x, p.y];
}

/** Coalesce redraw requests into one per animation frame: const redraw = onFrame(draw). */
export function onFrame(draw) {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      draw();
    });
  };
}

/**
 * The root element of an explorable: a figure with an accessible name, keyboard
 * shortcuts of JupyterLab suppressed inside (so arrow keys reach the controls).
 */
export function root(el, { label, className = "" }) {
  const fig = h("div", {
    class: `la-explorable ${className}`.trim(),
    role: "group",
    "aria-label": label,
    "data-lm-suppress-shortcuts": "true",
  });
  // A key pressed without a modifier inside a figure belongs to the control that has
  // the focus. JupyterLab's own keyboard handling on the document would otherwise
  // take it (an arrow key on a range input, a digit typed into a weight), so it stops
  // here; Escape and shortcuts with Ctrl, Alt or Cmd still reach the page.
  fig.addEventListener("keydown", (e) => {
    if (!(e.ctrlKey || e.metaKey || e.altKey) && e.key !== "Escape") e.stopPropagation();
  });
  el.replaceChildren(fig);
  return fig;
}
