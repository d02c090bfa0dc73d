// attention_sentence.js: the chapter's sentence (SentenceAttentionExplorer, chapter 3).
// Dropdowns for the scale, the mask and the query described; the weights with token labels
// and the entropy of every row, recomputed by lamath.attention.

import { attention } from "./lamath.js";
import { h, fmt, dropdown, controls, liveRegion, sequentialColor, matrixTable, onFrame, root, patch } from "./ui.js";

/** Entropy in nats of each row of P (0 log 0 = 0). */
function attEntropy(P) {
  return P.map((row) => -row.reduce((acc, p) => acc + (p > 0 ? p * Math.log(p) : 0), 0));
}

function attSentHeat(values, opts) {
  // Half of the ramp (up to a mid blue): dark text on every cell, contrast above 7:1.
  return matrixTable(values, { color: (v) => sequentialColor(v, 2), ...opts });
}

function renderSentence(model, el) {
  const fig = root(el, {
    label: "Attention weights of the sentence: choose the scale, the mask and the query",
    className: "la-attention",
  });
  const tokens = () => model.get("tokens");
  const scales = () => model.get("scales");

  const scaleOptions = () => {
    const opts = scales().map(([label], k) => [String(k), label]);
    const k = scales().findIndex(([, v]) => Math.abs(v - model.get("scale")) <= 1e-12);
    if (k < 0) opts.push(["custom", `${fmt(model.get("scale"), 3)}`]);
    return { opts, value: k < 0 ? "custom" : String(k) };
  };
  const first = scaleOptions();
  const scaleCtl = dropdown({
    label: "scale",
    options: first.opts,
    value: first.value,
    onChange: (v) => {
      if (v === "custom") return;
      model.set("scale", scales()[Number(v)][1]);
      model.save_changes();
    },
  });
  scaleCtl.select.setAttribute("data-role", "scale");
  const maskCtl = dropdown({
    label: "mask",
    options: [
      ["none", "none"],
      ["causal", "causal"],
    ],
    value: model.get("causal") ? "causal" : "none",
    onChange: (v) => {
      model.set("causal", v === "causal");
      model.save_changes();
    },
  });
  maskCtl.select.setAttribute("data-role", "mask");
  const queryCtl = dropdown({
    label: "query",
    options: tokens().map((t, i) => [String(i), `${i}: ${t}`]),
    value: String(model.get("query")),
    onChange: (v) => {
      model.set("query", Number(v));
      model.save_changes();
    },
  });
  queryCtl.select.setAttribute("data-role", "query");
  fig.append(controls(scaleCtl.el, maskCtl.el, queryCtl.el));

  const holder = h("div", { class: "la-scroll" });
  const status = liveRegion();
  status.setAttribute("data-role", "summary");
  fig.append(holder, status);

  let builtFor = "";

  function draw() {
    const Q = model.get("Q");
    const K = model.get("K");
    const toks = tokens();
    const scale = model.get("scale");
    const causal = model.get("causal");
    const query = model.get("query");
    const sig = JSON.stringify([scales(), toks, scale]);
    if (sig !== builtFor) {
      const { opts, value } = scaleOptions();
      scaleCtl.select.replaceChildren(...opts.map(([v, t]) => h("option", { value: v }, t)));
      scaleCtl.select.value = value;
      queryCtl.select.replaceChildren(...toks.map((t, i) => h("option", { value: String(i) }, `${i}: ${t}`)));
      builtFor = sig;
    }
    scaleCtl.set(scaleOptions().value);
    maskCtl.set(causal ? "causal" : "none");
    queryCtl.set(String(query));
    fig.setAttribute("data-scale", String(scale));

    const V = K.map(() => [0]); // the weights do not depend on V
    const { weights } = attention(Q, K, V, { scale, causal });
    const H = attEntropy(weights);
    const table = attSentHeat(weights, {
      caption: `attention weights (scale ${fmt(scale, 3)}, ${causal ? "causal mask" : "no mask"}); entropy of each row in nats`,
      rowLabels: toks,
      colLabels: toks,
      highlight: (i) => i === query,
    });
    table.setAttribute("data-role", "weights");
    table.querySelector("thead tr").append(h("th", { scope: "col", class: "la-att-entropy" }, "entropy"));
    table.querySelectorAll("tbody tr").forEach((tr, i) => {
      tr.append(h("td", { class: "la-att-entropy", "data-role": "entropy" }, fmt(H[i], 2)));
    });
    patch(holder, table);

    const row = weights[query];
    const order = row.map((v, j) => [v, j]).filter(([v]) => v > 0).sort((a, b) => b[0] - a[0]);
    const name = `"${toks[query]}" (position ${query})`;
    let said;
    if (!order.length) said = `${name} attends to nothing`;
    else {
      said = `${name} attends most to "${toks[order[0][1]]}" (${fmt(order[0][0], 2)})`;
      if (order.length > 1) said += `, then "${toks[order[1][1]]}" (${fmt(order[1][0], 2)})`;
    }
    const mean = H.reduce((a, v) => a + v, 0) / H.length;
    status.textContent =
      `Scale ${fmt(scale, 3)}, ${causal ? "causal mask" : "no mask"}: ${said}. ` +
      `Mean row entropy ${fmt(mean, 2)} nats (uniform weights over all ${K.length} keys: ${fmt(Math.log(K.length), 2)}).`;
  }

  const redraw = onFrame(draw);
  for (const name of ["Q", "K", "tokens", "scales", "scale", "causal", "query"]) model.on(`change:${name}`, redraw);
  draw();
}

export default {
  render({ model, el }) {
    renderSentence(model, el);
  },
};
