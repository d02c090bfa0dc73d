"""Pictures of the benchmark results: chapter 7, "Matrix multiplication is the engine".

Display code only. Nothing here measures anything: every function reads a results dict
written by the benchmark suite (``python -m benchmarks``, see ``benchmarks/``), so the
chapter shows stored numbers and a reader can re-run the suite and re-plot.
"""

import json
from pathlib import Path

import numpy as np

from lalib.widgets import new_figure, precomputed_player

#: The four ways to convolve, in the order the chapter teaches them, with their colours.
METHODS = {
    "loops": ("loops (conv2d_naive)", "tab:red"),
    "toeplitz": ("Toeplitz matrix product", "tab:orange"),
    "im2col": ("im2col + GEMM (conv2d)", "tab:blue"),
    "gemm": ("GEMM alone (np.matmul)", "tab:green"),
}


def load_results(path):
    """Read a results file of the benchmark suite.

    Parameters
    ----------
    path : str or Path
        A ``.json`` written by ``python -m benchmarks``.

    Returns
    -------
    results : dict
        With keys ``machine``, ``gemm_peak_gflops``, ``records``, ``sweeps``, ...
    """
    return json.loads(Path(path).read_text())


def machine_summary(results):
    """Three short lines saying what the numbers were measured on."""
    m = results["machine"]
    torch = f"PyTorch {m['torch']}" if m.get("torch") else "no PyTorch"
    load = m.get("load_average_start")
    load = f"{load[0]:.2f}" if load else "unknown"
    return (
        f"measured {m['date'][:10]} on {m['cpu']} ({m['cores']} cores, {m.get('memory_gib')} GiB)\n"
        f"NumPy {m['numpy']} with {m['blas']} on {m['threads']} threads\n"
        f"{torch}; load average at start {load}"
    )


def short_name(record):
    """A label of at most about 26 characters for a record of the suite, for tables."""
    p, name = record.get("params", {}), record["name"]
    if name.startswith("linear"):
        return f"linear {p['N']}x{p['D']}->{p['M']}"
    if name.startswith("conv2d"):
        kind = "fwd" if name.endswith("forward") else "f+b"
        return f"conv {kind} {p['N']}x{p['C']}x{p['H']}x{p['W']} F{p['F']}"
    if name == "attention dense":
        return f"attn dense n={p['n']}"
    if name == "attention dense + weights":
        return f"attn dense+w n={p['n']}"
    if name == "attention blockwise":
        return f"attn blockwise n={p['n']}"
    return name


def records(results, name, dtype=None):
    """The records of one case name (and dtype), in the order measured."""
    return [r for r in results["records"] if r["name"] == name and (dtype is None or r["dtype"] == dtype)]


def format_table(rows, columns):
    """A plain-text table: `columns` is a list of ``(header, key or callable, format)``."""
    cells = [[h for h, _, _ in columns]]
    for row in rows:
        line = []
        for _, key, fmt in columns:
            value = key(row) if callable(key) else row.get(key)
            line.append("-" if value is None else format(value, fmt))
        cells.append(line)
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    out = []
    for k, r in enumerate(cells):
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


# ------------------------------------------------------------------------ GEMM and roofline


def plot_gemm_square(ax, results):
    """GFLOP/s of np.matmul on n x n matrices against n, one line per dtype."""
    rows = results["sweeps"]["gemm_square"]
    for dtype, style in (("float32", "o-"), ("float64", "s--")):
        pts = [(r["n"], r["gflops"]) for r in rows if r["dtype"] == dtype]
        ax.plot(*zip(*pts), style, label=dtype)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("n (multiply two n x n matrices)")
    ax.set_ylabel("GFLOP/s")
    ax.set_ylim(bottom=0)
    ax.set_title("The engine: np.matmul")
    ax.legend()


def roofline(intensity, peak_gflops, bandwidth_gbs):
    """Attainable GFLOP/s at an arithmetic intensity (FLOP per byte moved)."""
    return np.minimum(peak_gflops, np.asarray(intensity) * bandwidth_gbs)


def conv_intensity(row, itemsize=4):
    """FLOP per byte of the im2col GEMM ``(F, C KH KW) @ (C KH KW, N H W)`` of a sweep row.

    Bytes: each of the three matrices read or written once, the least any GEMM must move.
    """
    K, P, F = row["C"] * 9, row["N"] * row["H"] * row["W"], row["F"]
    return row["flops"] / (itemsize * (F * K + K * P + F * P))


#: Marker per case name on the roofline.
_MARKERS = {"linear fwd+bwd": "D", "conv2d forward": "v", "conv2d fwd+bwd": "^", "attention dense": "s"}


def plot_roofline(ax, results, dtype="float32"):
    """The roofline of this machine with the suite's kernels placed under it.

    The slanted part is memory bandwidth (a copy's GB/s times FLOP per byte), the flat
    part the best square GEMM. Each kernel sits at the arithmetic intensity of its matrix
    products (filled marker: the lalib kernel; hollow: `np.matmul` doing only those
    products). A point far below the roof is held back by something other than
    arithmetic or memory traffic: copies, temporaries, the softmax, Python.
    """
    peak = results["gemm_peak_gflops"][dtype]
    bw = results["sweeps"]["bandwidth_gbs"]
    itemsize = np.dtype(dtype).itemsize
    ai = np.logspace(-1, 3, 200)
    ax.plot(ai, roofline(ai, peak, bw), "k-", lw=2, label="roofline")
    sq = [r for r in results["sweeps"]["gemm_square"] if r["dtype"] == dtype]
    ax.plot([2 * r["n"] / (3 * itemsize) for r in sq], [r["gflops"] for r in sq], "o",
            color="tab:green", label="square GEMM")
    for name, marker in _MARKERS.items():
        recs = [r for r in records(results, name, dtype) if "intensity" in r]
        if not recs:
            continue
        x = [r["intensity"] for r in recs]
        ax.plot(x, [r["gflops"] for r in recs], marker, color="tab:blue", label=f"{name} (lalib)")
        ax.plot(x, [r["gemm_gflops"] for r in recs], marker, color="tab:green", mfc="none")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP per byte)")
    ax.set_ylabel("GFLOP/s")
    ax.set_title(f"Roofline, {dtype} (hollow: the same products in np.matmul)")
    ax.legend(fontsize="small", loc="lower right")


# ------------------------------------------------------------------- loops vs ... vs GEMM


def sweep_series(results, method):
    """``(flops, seconds)`` arrays of one method of the convolution sweep (where measured)."""
    rows = [r for r in results["sweeps"]["conv"]["rows"] if f"{method}_s" in r]
    return np.array([r["flops"] for r in rows]), np.array([r[f"{method}_s"] for r in rows])


def plot_conv_time(ax, results):
    """Time of one convolution against its work, four methods, log-log."""
    for method, (label, colour) in METHODS.items():
        flops, secs = sweep_series(results, method)
        ax.plot(flops, secs * 1e3, "o-", color=colour, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("useful FLOPs of the convolution")
    ax.set_ylabel("time (ms)")
    ax.set_title("Time")
    ax.legend(fontsize="small")


def plot_conv_gflops(ax, results):
    """Useful GFLOP/s against work, four methods, with the GEMM peak as the ceiling."""
    dtype = results["sweeps"]["conv"]["dtype"]
    peak = results["gemm_peak_gflops"][dtype]
    for method, (label, colour) in METHODS.items():
        flops, secs = sweep_series(results, method)
        ax.plot(flops, flops / secs / 1e9, "o-", color=colour, label=label)
    ax.axhline(peak, color="k", lw=2, label=f"GEMM peak ({peak:.0f})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("useful FLOPs of the convolution")
    ax.set_ylabel("useful GFLOP/s")
    ax.set_title("Speed (the roof: square GEMM)")
    ax.legend(fontsize="small", loc="lower right")


def plot_conv_breakdown(ax, results, H):
    """Bar chart of the four methods' times at one image size of the sweep."""
    row = next(r for r in results["sweeps"]["conv"]["rows"] if r["H"] == H)
    names, times, colours = [], [], []
    for method, (label, colour) in METHODS.items():
        names.append(label.split(" (")[0])
        times.append(row.get(f"{method}_s", np.nan) * 1e3)
        colours.append(colour)
    y = np.arange(len(names))
    ax.barh(y, times, color=colours)
    for yi, t in zip(y, times):
        ax.text(t if np.isfinite(t) else 1e-3, yi, " not run" if not np.isfinite(t) else f" {t:.3g} ms",
                va="center", fontsize=9)
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlim(1e-3, 1e5)
    ax.set_xlabel("time (ms, log scale)")
    ax.set_title(f"N={row['N']}, C={row['C']}, F={row['F']}, {H}x{H} image, 3x3")


def conv_breakdown_player(results):
    """A slider (with Play) over the sweep's image sizes showing `plot_conv_breakdown`."""
    sizes = [r["H"] for r in results["sweeps"]["conv"]["rows"]]

    def render(image):
        fig, ax = new_figure(figsize=(6, 2.6))
        plot_conv_breakdown(ax, results, image)
        fig.tight_layout()
        return fig

    return precomputed_player(render, {"image": {f"{H}x{H}": H for H in sizes}},
                              play="image", interval=900)


# -------------------------------------------------------------------------------- attention


def plot_attention_memory(ax, results):
    """Peak extra memory of dense and blockwise attention against sequence length n."""
    sweep = results["sweeps"]["attention_memory"]
    rows = sweep["rows"]
    n = np.array([r["n"] for r in rows])
    ax.plot(n, [r["dense_peak_mib"] for r in rows], "o-", color="tab:red", label="dense")
    ax.plot(n, [r["blockwise_peak_mib"] for r in rows], "s-", color="tab:blue",
            label=f"blockwise (block {rows[0]['block_size']})")
    ax.plot(n, [r["scores_mib"] for r in rows], "k:", label="one n x n score matrix")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length n")
    ax.set_ylabel("peak extra memory (MiB)")
    r0 = rows[0]
    ax.set_title(f"B={r0['B']}, h={r0['h']}, d_k={r0['d_k']}, {sweep['dtype']}")
    ax.legend(fontsize="small")
