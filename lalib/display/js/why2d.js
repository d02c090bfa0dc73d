// why2d.js: a square view of the plane in SVG, shared by chapter 6's explorables
// (gradient descent on a quadratic, PCA of points). Data y points up; SVG y down.
import { s } from "./ui.js";

/** Numbers as a reader reads them: true minus, exponent form when huge. */
export function num(v, digits = 2) {
  if (v !== v) return "NaN";
  if (!isFinite(v)) return v > 0 ? "∞" : "−∞";
  let t = Math.abs(v) >= 1e4 ? v.toExponential(2) : v.toFixed(digits);
  if (/^-0(\.0*)?$/.test(t)) t = t.slice(1);
  return t.replace(/-/g, "−");
}

/** "(1.00, −2.00)" */
export function pair(v, digits = 2) {
  return `(${num(v[0], digits)}, ${num(v[1], digits)})`;
}

/** A square view of [cx - lim, cx + lim] x [cy - lim, cy + lim] drawn `size` units wide. */
export function planeView(center, lim, size = 360) {
  const k = size / (2 * lim);
  const px = (x) => (x - (center[0] - lim)) * k;
  const py = (y) => (center[1] + lim - y) * k;
  return {
    size,
    k,
    lim,
    center,
    px,
    py,
    toData: ([X, Y]) => [center[0] - lim + X / k, center[1] + lim - Y / k],
    inside: (p) => Math.abs(p[0] - center[0]) <= lim && Math.abs(p[1] - center[1]) <= lim,
  };
}

/** Light grid lines at the integers and the two axes, with a few tick labels. */
export function planeGrid(view) {
  const g = s("g", { class: "la-why-grid", "aria-hidden": "true" });
  const [cx, cy] = view.center;
  const lo = [Math.ceil(cx - view.lim), Math.ceil(cy - view.lim)];
  const hi = [Math.floor(cx + view.lim), Math.floor(cy + view.lim)];
  for (let x = lo[0]; x <= hi[0]; x++) {
    g.append(s("line", { x1: view.px(x), x2: view.px(x), y1: 0, y2: view.size, class: x === 0 ? "la-why-axis" : "" }));
  }
  for (let y = lo[1]; y <= hi[1]; y++) {
    g.append(s("line", { y1: view.py(y), y2: view.py(y), x1: 0, x2: view.size, class: y === 0 ? "la-why-axis" : "" }));
  }
  return g;
}

/** An ellipse with semi-axes r1 along the unit vector v1 and r2 across, centred at c. */
export function ellipseAt(view, c, v1, r1, r2, attrs = {}) {
  const deg = (-Math.atan2(v1[1], v1[0]) * 180) / Math.PI; // SVG y points down
  return s("ellipse", {
    cx: 0,
    cy: 0,
    rx: Math.max(r1 * view.k, 0),
    ry: Math.max(r2 * view.k, 0),
    transform: `translate(${view.px(c[0])} ${view.py(c[1])}) rotate(${deg})`,
    ...attrs,
  });
}

/** An arrow from p to q (data units) with a small head, and an optional label at its tip. */
export function arrowTo(view, p, q, { cls = "", label = null } = {}) {
  const [x1, y1, x2, y2] = [view.px(p[0]), view.py(p[1]), view.px(q[0]), view.py(q[1])];
  const len = Math.hypot(x2 - x1, y2 - y1) || 1;
  const [ux, uy] = [(x2 - x1) / len, (y2 - y1) / len];
  const hd = Math.min(9, len / 2);
  const head = [
    [x2, y2],
    [x2 - hd * ux - 0.5 * hd * uy, y2 - hd * uy + 0.5 * hd * ux],
    [x2 - hd * ux + 0.5 * hd * uy, y2 - hd * uy - 0.5 * hd * ux],
  ];
  const g = s(
    "g",
    { class: `la-why-arrow ${cls}`.trim() },
    s("line", { x1, y1, x2: x2 - hd * ux * 0.8, y2: y2 - hd * uy * 0.8 }),
    s("polygon", { points: head.map((v) => v.join(",")).join(" ") }),
  );
  if (label) {
    // Beside the tip, turned inwards near the right edge, kept inside the view.
    const right = x2 > 0.6 * view.size;
    const x = right ? x2 - 6 : x2 + 6;
    const y = Math.min(view.size - 6, Math.max(16, y2 + (uy > 0 ? 18 : -8)));
    g.append(s("text", { x, y, "text-anchor": right ? "end" : "start", class: "la-why-label" }, label));
  }
  return g;
}

/** A clip path for the view's square; returns [defs, url]. */
export function viewClip(view, id) {
  const defs = s("defs", {}, s("clipPath", { id }, s("rect", { x: 0, y: 0, width: view.size, height: view.size })));
  return [defs, `url(#${id})`];
}
