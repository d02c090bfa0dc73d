// recon.js: digits rebuilt from their first k principal components, in the browser.
//
// For each image x (64 pixels), z = (x - mean) V_k^T are its k coordinates and
// x_hat = mean + z V_k the reconstruction (lalib.decomp.pca_transform and
// pca_reconstruct); V_k is the first k rows of `components`.
import { h, s, fmt, slider, controls, liveRegion, onFrame, root, patch } from "./ui.js";

function rebuild(x, mean, comps, k) {
  const D = x.length;
  const xc = x.map((v, j) => v - mean[j]);
  const out = Array.from(mean);
  for (let i = 0; i < k; i++) {
    const v = comps[i];
    let z = 0;
    for (let j = 0; j < D; j++) z += xc[j] * v[j];
    for (let j = 0; j < D; j++) out[j] += z * v[j];
  }
  return out;
}

/** An 8 x 8 grey image (0 white, 1 black, clipped) as SVG; returns {el, set(pixels)}. */
function digitSvg(name) {
  const cells = [];
  const el = s("svg", { viewBox: "0 0 8 8", width: 40, role: "img", "aria-label": name, "shape-rendering": "crispEdges" });
  for (let r = 0; r < 8; r++) {
    for (let c = 0; c < 8; c++) {
      const cell = s("rect", { x: c, y: r, width: 1, height: 1 });
      cells.push(cell);
      el.append(cell);
    }
  }
  return {
    el,
    set(px) {
      px.forEach((v, i) => {
        const g = Math.round(255 * (1 - Math.min(1, Math.max(0, v))));
        cells[i].setAttribute("fill", `rgb(${g},${g},${g})`);
      });
    },
  };
}

function render({ model, el }) {
  const fig = root(el, { label: "Digits rebuilt from their first k principal components: choose k", className: "la-why" });
  const images = model.get("images");
  const labels = model.get("labels");
  const K = model.get("components").length;
  const D = images[0].length;
  const name = (i) => (labels && labels[i] !== undefined ? `digit ${labels[i]}` : `image ${i + 1}`);
  const kS = slider({
    label: "components k",
    min: 1,
    max: K,
    step: 1,
    value: model.get("k"),
    format: (v) => `${v} of ${D}`,
    onInput: (v) => {
      mine = true;
      model.set("k", v);
      model.save_changes();
      mine = false;
      redraw();
    },
  });
  let mine = false;
  const originals = images.map((_, i) => digitSvg(`original ${name(i)}`));
  const rebuilt = images.map((_, i) => digitSvg(`${name(i)} rebuilt`));
  const errs = images.map(() => h("figcaption", { class: "la-why-err" }));
  originals.forEach((d, i) => d.set(images[i]));
  const status = liveRegion();
  const desc = h("p", { class: "la-why-desc" });
  fig.append(
    controls(kS.el),
    h("p", { class: "la-why-rowlabel" }, "originals"),
    h("div", { class: "la-why-digits" }, originals.map((d, i) => h("figure", {}, d.el, h("figcaption", {}, labels ? String(labels[i]) : String(i + 1))))),
    h("p", { class: "la-why-rowlabel" }, "rebuilt from k components (squared error below each)"),
    h("div", { class: "la-why-digits" }, rebuilt.map((d, i) => h("figure", {}, d.el, errs[i]))),
    status,
    desc,
  );

  function draw() {
    const k = Math.min(K, Math.max(1, model.get("k")));
    const mean = model.get("mean");
    const comps = model.get("components");
    let total = 0;
    const each = images.map((x, i) => {
      const r = rebuild(x, mean, comps, k);
      rebuilt[i].set(r);
      const e = r.reduce((acc, v, j) => acc + (v - x[j]) ** 2, 0);
      errs[i].textContent = fmt(e, 2);
      rebuilt[i].el.setAttribute("aria-label", `${name(i)} rebuilt from ${k} components, squared error ${fmt(e, 2)}`);
      total += e;
      return e;
    });
    const mse = total / images.length;
    patch(status,
      `k = ${k}: ${k} of ${D} numbers per image; mean squared error of these ${images.length} images `,
      h("strong", { class: "la-why-mse" }, fmt(mse, 3)),
      ".",
    );
    const worst = each.indexOf(Math.max(...each));
    desc.textContent = `Top row: the ${images.length} original images; bottom row: each rebuilt from its first ${k} principal coordinates. The worst rebuilt is ${name(worst)} (squared error ${fmt(each[worst], 2)}).`;
  }
  const redraw = onFrame(draw);
  draw();
  model.on("change:k", () => mine || (kS.set(model.get("k")), redraw()));
  model.on("change:mean", () => redraw());
  model.on("change:components", () => redraw());
}

export default { render };
