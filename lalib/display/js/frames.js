// frames.js: a player over stored frames (lalib.display.players.FramePlayer).
//
// The frames are states the browser cannot compute (a trained model's snapshots,
// measured times). A frame is a PNG drawn at twice its CSS size, or a bar chart drawn
// here from its numbers. An ordered axis gets a labelled range input, a categorical one
// a drop-down; the Play axis a Play/Pause button. The frame's alt text is the image's
// alt (or the chart's accessible name) and the selection is written out as text.

import { h, s, slider, dropdown, button, controls, onFrame, root } from "./ui.js";

/** A number of milliseconds with three significant digits, no exponent: 2243.5 -> "2240". */
function sig3(v) {
  return String(Number(v.toPrecision(3)));
}

/** Horizontal bars on a log axis, drawn in HTML so the text stays legible on a phone. */
function barChart(chart, alt) {
  const [lo, hi] = chart.log_range;
  const unit = chart.unit || "";
  const span = Math.log10(hi) - Math.log10(lo);
  const pos = (v) => Math.max(0, Math.min(1, (Math.log10(v) - Math.log10(lo)) / span));
  const rows = chart.bars.map(([label, value, colour]) => {
    const ran = value !== null && value !== undefined && Number.isFinite(value);
    const text = ran ? `${sig3(value)} ${unit}` : "not run";
    return h(
      "div",
      { class: "la-bar-row" },
      h("div", { class: "la-bar-label" }, h("span", {}, label), ": ", h("span", { class: "la-bar-value" }, text)),
      h(
        "div",
        { class: "la-bar-track" },
        ran ? h("div", { class: "la-bar", style: `width:${(100 * pos(value)).toFixed(2)}%;background:${colour}` }) : null,
      ),
    );
  });
  const ticks = [];
  for (let e = Math.ceil(Math.log10(lo)); e <= Math.floor(Math.log10(hi)); e += 2) {
    const v = 10 ** e;
    ticks.push(h("span", { class: "la-tick", style: `left:${(100 * pos(v)).toFixed(2)}%` }, sig3(v)));
  }
  return h(
    "div",
    { class: "la-bars", role: "img", "aria-label": alt },
    chart.title ? h("div", { class: "la-bars-title", "aria-hidden": "true" }, chart.title) : null,
    h("div", { "aria-hidden": "true" }, rows),
    h("div", { class: "la-axis", "aria-hidden": "true" }, ticks),
    h("div", { class: "la-axis-label", "aria-hidden": "true" }, `${unit}, logarithmic scale`),
  );
}

/** Digit images (rows of 64 grey levels) with bar charts of their class probabilities. */
function digitsChart(shared, chart, alt) {
  const cards = shared.digits.map((pixels, j) => {
    const side = Math.round(Math.sqrt(pixels.length));
    const img = s(
      "svg",
      { width: 72, height: 72, viewBox: `0 0 ${side} ${side}`, class: "la-digit", "shape-rendering": "crispEdges" },
      pixels.map((v, k) => {
        const g = Math.round(255 * (1 - Math.max(0, Math.min(1, v))));
        return s("rect", { x: k % side, y: Math.floor(k / side), width: 1.02, height: 1.02, fill: `rgb(${g},${g},${g})` });
      }),
    );
    const p = chart.probs[j];
    const guess = p.indexOf(Math.max(...p));
    const truth = shared.labels[j];
    const W = 120;
    const H = 84;
    const base = 64;
    const bw = W / p.length;
    const bars = s(
      "svg",
      { width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: "la-probs" },
      s("rect", { x: 0, y: base - 60, width: W, height: 60, fill: "#f1f1f1" }),
      s("line", { x1: 0, x2: W, y1: base, y2: base, stroke: "#555" }),
      p.map((v, k) =>
        s("rect", {
          x: k * bw + 1.5,
          y: base - 60 * v,
          width: bw - 3,
          height: Math.max(0.5, 60 * v),
          fill: k === truth ? "#dd8452" : "#4c72b0",
        }),
      ),
      p.map((v, k) => s("text", { x: (k + 0.5) * bw, y: H - 4, "text-anchor": "middle" }, String(k))),
    );
    return h(
      "div",
      { class: "la-digit-card" },
      h("div", {}, `true ${truth}`),
      img,
      bars,
      h("div", { class: "la-guess" }, `guess ${guess}, p = ${p[guess].toFixed(2)}`),
    );
  });
  return h(
    "div",
    { class: "la-digits", role: "img", "aria-label": alt },
    h("div", { class: "la-bars-title", "aria-hidden": "true" }, chart.title),
    h("div", { class: "la-digit-row", "aria-hidden": "true" }, cards),
    h("div", { class: "la-axis-label", "aria-hidden": "true" }, shared.legend || ""),
  );
}

export default {
  render({ model, el }) {
    const axes = model.get("axes");
    const fig = root(el, { label: model.get("label"), className: "la-frames" });
    let index = model.get("index").slice();
    const controlsByAxis = [];
    let timer = null;
    let playButton = null;
    const playAxis = axes.findIndex((a) => a.name === model.get("play"));

    function choose(d, i) {
      index = index.slice();
      index[d] = i;
      model.set("index", index);
      model.save_changes();
      redraw();
    }

    axes.forEach((axis, d) => {
      const n = axis.labels.length;
      if (axis.ordered) {
        const c = slider({
          label: axis.name,
          min: 0,
          max: n - 1,
          step: 1,
          value: index[d],
          format: (i) => axis.labels[i],
          onInput: (i) => {
            stop();
            choose(d, i);
          },
        });
        controlsByAxis.push({ set: (i) => c.set(i), el: c.el });
      } else {
        const c = dropdown({
          label: axis.name,
          options: axis.labels.map((t, i) => [String(i), t]),
          value: String(index[d]),
          onChange: (v) => {
            stop();
            choose(d, Number(v));
          },
        });
        controlsByAxis.push({ set: (i) => c.set(String(i)), el: c.el });
      }
    });

    function stop() {
      if (timer !== null) clearInterval(timer);
      timer = null;
      if (playButton) {
        playButton.textContent = `Play ${axes[playAxis].name}`;
        playButton.setAttribute("aria-pressed", "false");
      }
    }

    function step() {
      const last = axes[playAxis].labels.length - 1;
      const next = Math.min(index[playAxis] + 1, last);
      choose(playAxis, next);
      if (next >= last) stop();
    }

    if (playAxis >= 0) {
      playButton = button({
        label: `Play ${axes[playAxis].name}`,
        onClick: () => {
          if (timer !== null) {
            stop();
            return;
          }
          if (index[playAxis] >= axes[playAxis].labels.length - 1) choose(playAxis, 0);
          timer = setInterval(step, Math.max(50, model.get("interval")));
          playButton.textContent = `Pause ${axes[playAxis].name}`;
          playButton.setAttribute("aria-pressed", "true");
        },
      });
      playButton.setAttribute("aria-pressed", "false");
    }

    const status = h("p", { class: "la-status la-frame-selection", "aria-live": "polite" });
    const stage = h("div", { class: "la-frame" });
    fig.append(
      controls(...controlsByAxis.map((c, d) => (d === playAxis ? h("div", { class: "la-control" }, playButton, c.el) : c.el))),
      status,
      stage,
    );

    const img = h("img", { class: "la-frame-img" });

    function draw() {
      index = model.get("index").slice();
      let k = 0;
      axes.forEach((a, d) => {
        k = k * a.labels.length + index[d];
        controlsByAxis[d].set(index[d]);
      });
      const alt = model.get("alts")[k];
      status.textContent = axes
        .map((a, d) => `${a.name} ${a.labels[index[d]]} (${index[d] + 1} of ${a.labels.length})`)
        .join(", ");
      if (model.get("kind") === "png") {
        img.setAttribute("src", `data:image/png;base64,${model.get("images")[k]}`);
        img.setAttribute("alt", alt);
        const width = model.get("width");
        img.style.width = width || "";
        if (!img.isConnected) stage.replaceChildren(img);
      } else if (model.get("kind") === "digits") {
        stage.replaceChildren(digitsChart(model.get("shared"), model.get("charts")[k], alt));
      } else {
        stage.replaceChildren(barChart(model.get("charts")[k], alt));
      }
    }

    const redraw = onFrame(draw);
    draw();
    model.on("change:index", redraw);
    return () => {
      stop();
      model.off("change:index", redraw);
    };
  },
};
