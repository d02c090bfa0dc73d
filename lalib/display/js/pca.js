// pca.js: PCA of 2-D points the reader drags, recomputed in the browser.
//
// The covariance C of the points (lamath.covariance, N - 1 in the denominator as in
// lalib.decomp.covariance), its eigenvectors and eigenvalues (lamath.eigSym2) in
// lalib.decomp.pca's order (decreasing variance, largest entry of each vector positive),
// the explained variance ratio, the ellipse at two standard deviations along each axis.
import { covariance, eigSym2 } from "./lamath.js";
import { h, s, toggle, controls, liveRegion, draggable, svgPoint, onFrame, root, matrixTable, patch, scratch } from "./ui.js";
import { num, pair, planeView, planeGrid, ellipseAt, arrowTo, viewClip } from "./why2d.js";

let pcaCount = 0;

/** lalib.decomp.pca on 2-D points: components (rows), variances (decreasing), mean. */
function pca2(X) {
  const { C, mean } = covariance(X);
  const { values, vectors } = eigSym2(C);
  return { C, mean, components: [vectors[1], vectors[0]], variances: [values[1], values[0]].map((v) => Math.max(v, 0)) };
}

function render({ model, el }) {
  pcaCount += 1;
  const fig = root(el, { label: "PCA of points in the plane: drag a point and watch the principal axes", className: "la-why" });
  let mine = false;
  const view = planeView(model.get("center"), model.get("lim"), 360);
  const svg = s("svg", { viewBox: `0 0 ${view.size} ${view.size}`, width: view.size, class: "la-why-plot", "aria-label": "the points and their principal axes" });
  const [defs, clip] = viewClip(view, `la-pca-clip-${pcaCount}-${Math.random().toString(36).slice(2, 7)}`);
  const layerEl = s("g", { "clip-path": clip, "pointer-events": "none" });
  const handles = s("g");
  svg.append(defs, s("rect", { x: 0, y: 0, width: view.size, height: view.size, class: "la-why-bg" }), planeGrid(view), layerEl, handles);

  const proj = toggle({
    label: "show projections on PC1",
    pressed: model.get("show_projections"),
    onChange: (p) => {
      mine = true;
      model.set("show_projections", p);
      model.save_changes();
      mine = false;
      redraw();
    },
  });
  const status = liveRegion();
  const table = h("div", { class: "la-scroll" });
  const desc = h("p", { class: "la-why-desc" });
  fig.append(controls(proj.el), h("div", { class: "la-why-figure" }, svg), status, table, desc);

  const points = () => model.get("points").map((p) => Array.from(p));
  const label = (i) => () => `point ${i + 1} at ${pair(points()[i])}: drag, or move with the arrow keys`;
  let made = -1;
  function makeHandles() {
    const n = points().length;
    if (n === made) return;
    made = n;
    handles.replaceChildren();
    for (let i = 0; i < n; i++) {
      const g = s("g", {}, s("circle", { r: 7, class: "la-why-point" }));
      handles.append(g);
      draggable(g, {
        label: label(i),
        get: () => points()[i],
        set: (p) => {
          const c = view.center;
          const q = [0, 1].map((j) => Number((Math.round(Math.min(c[j] + view.lim, Math.max(c[j] - view.lim, p[j])) * 100) / 100).toFixed(2)));
          const X = points();
          X[i] = q;
          mine = true;
          model.set("points", X);
          model.save_changes();
          mine = false;
          redraw();
        },
        toData: (e) => view.toData(svgPoint(svg, e)),
        step: 0.1,
      });
    }
  }

  function draw() {
    makeHandles();
    const X = points();
    const { C, mean, components, variances } = pca2(X);
    const total = variances[0] + variances[1];
    const ratio = variances.map((v) => (total > 0 ? v / total : NaN));
    const layer = scratch(layerEl);
    const sd = variances.map(Math.sqrt);
    layer.append(ellipseAt(view, mean, components[0], 2 * sd[0], 2 * sd[1], { class: "la-why-ellipse" }));
    if (model.get("show_projections") && total > 0) {
      const u = components[0];
      const far = 3 * view.lim;
      layer.append(s("line", { x1: view.px(mean[0] - far * u[0]), y1: view.py(mean[1] - far * u[1]), x2: view.px(mean[0] + far * u[0]), y2: view.py(mean[1] + far * u[1]), class: "la-why-pcline" }));
      for (const p of X) {
        const z = (p[0] - mean[0]) * u[0] + (p[1] - mean[1]) * u[1];
        const f = [mean[0] + z * u[0], mean[1] + z * u[1]];
        layer.append(s("line", { x1: view.px(p[0]), y1: view.py(p[1]), x2: view.px(f[0]), y2: view.py(f[1]), class: "la-why-proj" }));
      }
    }
    components.forEach((v, i) => {
      if (!(sd[i] > 0)) return;
      const tip = [mean[0] + 2 * sd[i] * v[0], mean[1] + 2 * sd[i] * v[1]];
      layer.append(arrowTo(view, mean, tip, { cls: `la-why-pc${i + 1}`, label: `PC${i + 1}` }));
    });
    layer.append(s("circle", { cx: view.px(mean[0]), cy: view.py(mean[1]), r: 4, class: "la-why-mean" }));
    patch(layerEl, [...layer.childNodes]);
    Array.from(handles.children).forEach((g, i) => {
      g.setAttribute("transform", `translate(${view.px(X[i][0])} ${view.py(X[i][1])})`);
      g.setAttribute("aria-label", label(i)());
    });

    const pct = (r) => (r === r ? `${num(100 * r, 1)} %` : "undefined (no variance)");
    patch(status,
      "PC1 explains ",
      h("strong", { class: "la-why-ratio1" }, pct(ratio[0])),
      " of the variance, PC2 ",
      h("strong", { class: "la-why-ratio2" }, pct(ratio[1])),
      ".",
    );
    patch(table,
      matrixTable(C, { caption: `covariance C (N − 1 = ${X.length - 1})`, format: (v) => num(v, 3) }),
      matrixTable(
        components.map((v, i) => [v[0], v[1], variances[i]]),
        { caption: "principal components", rowLabels: ["PC1", "PC2"], colLabels: ["x", "y", "variance λ"], format: (v) => num(v, 3) },
      ),
    );
    desc.textContent =
      `In the picture: ${X.length} points, their mean ${pair(mean)} (red dot), the dashed ellipse at two standard deviations ` +
      `along each principal axis, and the arrows PC1 = ${pair(components[0], 3)} and PC2 = ${pair(components[1], 3)}, ` +
      `each two standard deviations long (variances ${num(variances[0], 3)} and ${num(variances[1], 3)}).`;
  }
  const redraw = onFrame(draw);
  draw();
  model.on("change:points", () => mine || redraw());
  model.on("change:show_projections", () => mine || (proj.set(model.get("show_projections")), redraw()));
}

export default { render };
