// conv_output.js: the output grid both convolution explorers draw, filling in row by
// row as the window slides; a click on a pixel moves the window there.
import { s, divergingColor, textOn, patch } from "./ui.js";

/**
 * Draw `out` (H' x W') into `svg`, pixels 0..p (row-major) filled in with their
 * values, the rest dotted, and output pixel (i, j) outlined. `cell` is the pixel size
 * in user units, `num` formats a value, `pick(q)` is called with the clicked pixel.
 */
export function convOutputGrid(svg, out, p, [i, j], { cell, num, pick }) {
  const Ho = out.length;
  const Wo = out[0].length;
  const M = 4; // margin for the outline's stroke
  let olim = 0;
  for (const r of out) for (const v of r) olim = Math.max(olim, Math.abs(v));
  svg.setAttribute("viewBox", `${-M} ${-M} ${Wo * cell + 2 * M} ${Ho * cell + 2 * M}`);
  svg.setAttribute("width", Wo * cell + 2 * M);
  const cells = [];
  for (let r = 0; r < Ho; r++)
    for (let c = 0; c < Wo; c++) {
      const q = r * Wo + c;
      const done = q <= p;
      const fill = done ? divergingColor(out[r][c], olim) : "#fff";
      const g = s(
        "g",
        { class: "la-out", "data-row": r, "data-col": c },
        s("rect", { x: c * cell, y: r * cell, width: cell, height: cell, fill, stroke: "#999" }),
        s("text", { x: (c + 0.5) * cell, y: (r + 0.5) * cell, "text-anchor": "middle", "dominant-baseline": "central", style: `fill:${done ? textOn(fill) : "#666"}` }, done ? num(out[r][c]) : "·"),
      );
      cells.push(g);
    }
  cells.push(s("rect", { x: j * cell, y: i * cell, width: cell, height: cell, fill: "none", stroke: "#e8a100", "stroke-width": 4 }));
  patch(svg, cells);
  // one listener for all pixels (replaced on each draw, so `pick` and the width are current)
  svg.onclick = (e) => {
    const g = e.target.closest(".la-out");
    if (g) pick(Number(g.dataset.row) * Wo + Number(g.dataset.col));
  };
}
