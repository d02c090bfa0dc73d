// rope.js: rotary position embedding in the plane (lalib.display.rope.RopeExplorer).
//
// A query q at position m and a key k at position n, d = 8: RoPE turns pair i of each
// by its position times theta_i. The plane shows one pair (the unrotated arrows faint,
// the orbits they turn on dashed), the angle between the rotated arrows and the pair's
// term of the score; a table lists every pair's term, and a strip plots the score
// against the offset n - m, the only thing it depends on: "Shift both" (or Play) turns
// both arrows, the angle and the score stay. Recomputed with lamath.js.

import { ropeFrequencies, ropeRotate, ropePairScores } from "./lamath.js";
import { h, s, fmt, slider, dropdown, button, playPause, controls, onFrame, root, patch, scratch } from "./ui.js";

const RP_MAX = 31; // positions 0..31 (lalib.display.rope.MAX_POSITION)
const RP_SIZE = 240; // the plane's viewBox side
const RP_R = 100; // the longest arrow, in px
const RP_STRIP = [360, 150]; // the strip's viewBox
const RP_MS = 700;

/** The angle from vector a to vector b, in (-pi, pi]. */
function rpAngle(a, b) {
  let t = Math.atan2(b[1], b[0]) - Math.atan2(a[1], a[0]);
  while (t <= -Math.PI) t += 2 * Math.PI;
  while (t > Math.PI) t -= 2 * Math.PI;
  return t;
}

/** An arrow from the centre to (x, y) in px, with a head: [line, head]. */
function rpArrow(x, y, cls) {
  const c = RP_SIZE / 2;
  const L = Math.hypot(x - c, y - c) || 1;
  const [ux, uy] = [(x - c) / L, (y - c) / L];
  const a = Math.min(10, L * 0.45);
  const pts = [[x, y], [x - a * ux - 0.45 * a * uy, y - a * uy + 0.45 * a * ux], [x - a * ux + 0.45 * a * uy, y - a * uy - 0.45 * a * ux]];
  return [s("line", { x1: c, y1: c, x2: x, y2: y, class: `la-rope-arrow ${cls}` }), s("polygon", { points: pts.map((p) => p.map((v) => v.toFixed(1)).join(",")).join(" "), class: `la-rope-head ${cls}` })];
}

export default {
  render({ model, el }) {
    const fig = root(el, { label: "RoPE in the plane: move the query and key positions, pick a pair, shift both", className: "la-rope" });
    const commit = (changes) => {
      for (const [k, v] of Object.entries(changes)) model.set(k, v);
      model.save_changes();
    };
    const mCtl = slider({ label: "Query position m", min: 0, max: RP_MAX, value: model.get("m"), onInput: (v) => commit({ m: v }) });
    const nCtl = slider({ label: "Key position n", min: 0, max: RP_MAX, value: model.get("n"), onInput: (v) => commit({ n: v }) });
    mCtl.input.classList.add("la-rope-m");
    nCtl.input.classList.add("la-rope-n");
    const pairCtl = dropdown({
      label: "Pair in the plane",
      options: [0, 1, 2, 3].map((i) => [String(i), `pair ${i}${i === 0 ? " (fastest)" : i === 3 ? " (slowest)" : ""}`]),
      value: String(model.get("pair")),
      onChange: (v) => commit({ pair: Number(v) }),
    });
    const baseCtl = dropdown({
      label: "Base",
      options: (model.get("bases") || [10000]).map((b) => [String(b), String(b)]),
      value: String(model.get("base")),
      onChange: (v) => commit({ base: Number(v) }),
    });
    // Both one further along; at the end of the range both go back by the smaller, so
    // the offset n - m is kept either way.
    pairCtl.select.classList.add("la-rope-pair");
    baseCtl.select.classList.add("la-rope-base");
    const shift = () => {
      const [m, n] = [model.get("m"), model.get("n")];
      const back = Math.max(m, n) >= RP_MAX ? Math.min(m, n) : -1;
      commit({ m: m - back, n: n - back });
    };
    const shiftBtn = button({ label: "Shift both (m+1, n+1)", onClick: shift, title: "Both positions one further; the offset n − m stays" });
    shiftBtn.classList.add("la-rope-shift");
    const { el: play, stop } = playPause({ ms: RP_MS, step: () => shift() });

    const planeCap = h("p", { class: "la-cap la-rope-cap" });
    const plane = s("svg", { class: "la-rope-plane", role: "img", viewBox: `0 0 ${RP_SIZE} ${RP_SIZE}`, width: RP_SIZE });
    const table = h("table", { class: "la-matrix la-rope-terms" });
    const eq = h("p", { class: "la-rope-eq" });
    const stripCap = h("p", { class: "la-cap" });
    const strip = s("svg", { class: "la-rope-strip", role: "img", viewBox: `0 0 ${RP_STRIP[0]} ${RP_STRIP[1]}`, width: RP_STRIP[0] });
    const status = h("p", { class: "la-status la-desc", "aria-live": "polite" });
    fig.append(
      controls(mCtl.el, nCtl.el),
      controls(pairCtl.el, baseCtl.el, shiftBtn, play),
      h("div", { class: "la-row" }, h("div", { class: "la-rope-fig" }, plane, planeCap), h("div", { class: "la-scroll" }, table)),
      eq,
      h("div", { class: "la-rope-fig" }, stripCap, strip),
      status,
    );

    function drawPlane(q, k, m, n, i, base, theta, term) {
      const [q0, k0] = [[q[2 * i], q[2 * i + 1]], [k[2 * i], k[2 * i + 1]]];
      // the pair of R(m) q and of R(n) k: pair i turned by m theta_i and n theta_i
      const [qr, kr] = [ropeRotate(q, m, base), ropeRotate(k, n, base)].map((v) => [v[2 * i], v[2 * i + 1]]);
      const scale = RP_R / Math.max(Math.hypot(...q0), Math.hypot(...k0), 1e-9);
      const c = RP_SIZE / 2;
      const P = (v) => [c + v[0] * scale, c - v[1] * scale];
      const angle = rpAngle(qr, kr);
      const [aq, ak] = [Math.atan2(qr[1], qr[0]), Math.atan2(qr[1], qr[0]) + angle];
      const r = 28;
      const sweep = angle > 0 ? 0 : 1; // y points down: counter-clockwise is sweep 0
      const arc = `M ${c + r * Math.cos(aq)} ${c - r * Math.sin(aq)} A ${r} ${r} 0 0 ${sweep} ${c + r * Math.cos(ak)} ${c - r * Math.sin(ak)}`;
      const label = (v, text, cls) => {
        const [x, y] = P(v.map((t) => t * (1 + 16 / Math.max(Math.hypot(...v) * scale, 1e-9))));
        return s("text", { x: x.toFixed(1), y: y.toFixed(1), "text-anchor": "middle", "dominant-baseline": "central", class: `la-rope-label ${cls}` }, text);
      };
      const g = scratch(plane);
      g.append(
        s("line", { x1: 0, y1: c, x2: RP_SIZE, y2: c, class: "la-rope-axis" }),
        s("line", { x1: c, y1: 0, x2: c, y2: RP_SIZE, class: "la-rope-axis" }),
        s("circle", { cx: c, cy: c, r: (Math.hypot(...q0) * scale).toFixed(1), class: "la-rope-orbit la-rope-q" }),
        s("circle", { cx: c, cy: c, r: (Math.hypot(...k0) * scale).toFixed(1), class: "la-rope-orbit la-rope-k" }),
        ...rpArrow(...P(q0), "la-rope-q la-rope-faint"),
        ...rpArrow(...P(k0), "la-rope-k la-rope-faint"),
        s("path", { d: arc, class: "la-rope-arc" }),
        ...rpArrow(...P(qr), "la-rope-q"),
        ...rpArrow(...P(kr), "la-rope-k"),
        label(qr, "q", "la-rope-q"),
        label(kr, "k", "la-rope-k"),
      );
      patch(plane, ...g.childNodes);
      plane.setAttribute(
        "aria-label",
        `Pair ${i} in the plane: q's pair (${fmt(q0[0])}, ${fmt(q0[1])}) turned by m·θ = ${fmt(m * theta)} rad to (${fmt(qr[0])}, ${fmt(qr[1])}); k's pair (${fmt(k0[0])}, ${fmt(k0[1])}) turned by n·θ = ${fmt(n * theta)} rad to (${fmt(kr[0])}, ${fmt(kr[1])}); angle between them ${fmt(angle)} rad`,
      );
      patch(
        planeCap,
        h("span", {}, `Pair ${i}, θ = ${fmt(theta, 4)}: q turned by m·θ = `),
        h("span", { class: "la-rope-qturn" }, fmt(m * theta)),
        " rad, k by n·θ = ",
        h("span", { class: "la-rope-kturn" }, fmt(n * theta)),
        " rad; angle from q to k ",
        h("span", { class: "la-rope-angle" }, fmt(angle)),
        " rad; term ",
        h("span", { class: "la-rope-term-i" }, fmt(term, 3)),
        ". Faint arrows: before turning.",
      );
      return angle;
    }

    function draw() {
      const [q, k, m, n, i, base] = ["q", "k", "m", "n", "pair", "base"].map((t) => model.get(t));
      const theta = ropeFrequencies(q.length, base);
      const { terms, score } = ropePairScores(q, k, m, n, base);
      mCtl.set(m);
      nCtl.set(n);
      pairCtl.set(String(i));
      baseCtl.set(String(base));
      drawPlane(q, k, m, n, i, base, theta[i], terms[i]);
      const [qm, kn] = [ropeRotate(q, m, base), ropeRotate(k, n, base)];
      const angles = theta.map((_, j) => rpAngle([qm[2 * j], qm[2 * j + 1]], [kn[2 * j], kn[2 * j + 1]]));
      const t = scratch(table);
      t.append(
        h("caption", {}, `Score by pair, offset n − m = ${fmt(n - m, 0)}`),
        h("thead", {}, h("tr", {}, ["pair", "θ", "angle (rad)", "term"].map((c) => h("th", { scope: "col" }, c)))),
        h(
          "tbody",
          {},
          terms.map((v, j) =>
            h("tr", { class: j === i ? "la-rope-on" : null }, h("th", { scope: "row" }, String(j)), h("td", {}, fmt(theta[j], 4)), h("td", { class: "la-rope-ang" }, fmt(angles[j])), h("td", { class: "la-rope-term" }, fmt(v, 3))),
          ),
          h("tr", {}, h("th", { scope: "row" }, "sum"), h("td", {}), h("td", {}), h("td", { class: "la-rope-score" }, fmt(score, 3))),
        ),
      );
      patch(table, ...t.childNodes);
      patch(eq, `qₘ · kₙ = ${terms.map((v) => fmt(v, 3)).join(" + ")} = `, h("strong", {}, fmt(score, 3)));

      const offsets = Array.from({ length: 2 * RP_MAX + 1 }, (_, j) => j - RP_MAX);
      const scores = offsets.map((o) => ropePairScores(q, k, Math.max(0, -o), Math.max(0, -o) + o, base).score);
      const top = Math.max(...scores.map(Math.abs), 1e-9);
      const [W, H] = RP_STRIP;
      const X = (o) => 50 + ((o + RP_MAX) / (2 * RP_MAX)) * (W - 62);
      const Y = (v) => 12 + ((top - v) / (2 * top)) * (H - 40);
      const g = scratch(strip);
      g.append(
        s("line", { x1: 50, y1: Y(0), x2: W - 12, y2: Y(0), class: "la-rope-axis" }),
        s("polyline", { points: offsets.map((o, j) => `${X(o).toFixed(1)},${Y(scores[j]).toFixed(1)}`).join(" "), class: "la-rope-curve" }),
        s("line", { x1: X(n - m), y1: 8, x2: X(n - m), y2: H - 26, class: "la-rope-now" }),
        s("circle", { cx: X(n - m), cy: Y(score), r: 5, class: "la-rope-dot" }),
        ...[[-RP_MAX, "−31"], [0, "0"], [RP_MAX, "31"]].map(([o, text]) => s("text", { x: X(o), y: H - 10, "text-anchor": "middle" }, text)),
        ...[[top, fmt(top)], [-top, fmt(-top)]].map(([v, text]) => s("text", { x: 46, y: Y(v), "text-anchor": "end", "dominant-baseline": "central" }, text)),
      );
      patch(strip, ...g.childNodes);
      strip.setAttribute("aria-label", `Score against the offset n − m from −31 to 31, between ${fmt(Math.min(...scores))} and ${fmt(Math.max(...scores))}; at offset ${fmt(n - m, 0)} it is ${fmt(score, 3)}`);
      stripCap.textContent = `Score qₘ · kₙ against the offset n − m (marked: ${fmt(n - m, 0)})`;
      status.textContent = `Query at m = ${m}, key at n = ${n}, offset n − m = ${fmt(n - m, 0)}, base ${base}. Score ${terms.map((v) => fmt(v, 3)).join(" + ")} = ${fmt(score, 3)}. Shifting both keeps the offset, the angles and the score: R(m)ᵀR(n) = R(n − m).`;
    }

    const redraw = onFrame(draw);
    const names = ["q", "k", "m", "n", "pair", "base"];
    for (const name of names) model.on(`change:${name}`, redraw);
    draw();
    return () => {
      stop();
      for (const name of names) model.off(`change:${name}`, redraw);
    };
  },
};
