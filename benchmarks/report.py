"""Reading the suite's result files: the numbers chapter 7 prints and plots.

``python -m benchmarks`` writes a JSON file of records and sweeps. This module loads
one, picks records out of it by case name, formats plain-text tables, and turns the
sweeps into the arrays and numbers that `lalib.display.engine` draws. It is the only
reader of the file format and the only one that knows the case names of
`benchmarks.cases`; the drawing code takes plain data.

Examples
--------
>>> rows = [{"case": "a", "ms": 1.5}, {"case": "bb", "ms": None}]
>>> print(format_table(rows, [("case", "case", "s"), ("ms", "ms", ".2f")]))
case    ms
----  ----
a     1.50
bb       -
"""

import json
from pathlib import Path

import numpy as np

#: Where the suite writes its result files: ``results/`` beside this module, in a
#: checkout and in an installed copy of the package alike.
RESULTS_DIR = Path(__file__).resolve().parent / "results"

#: The committed results that chapter 7 shows (measured once, on the machine they name).
REFERENCE = RESULTS_DIR / "reference.json"

#: What ``python -m benchmarks`` (``make bench``) writes when run on your machine.
LOCAL_LATEST = RESULTS_DIR / "local-latest.json"

#: The methods of the convolution sweep, in the order chapter 7 teaches them: the key
#: of a method's time in a sweep row (``<key>_s``) and the label it is shown with.
CONV_METHODS = {
    "loops": "loops (conv2d_naive)",
    "toeplitz": "Toeplitz matrix product",
    "im2col": "im2col + GEMM (conv2d, im2col)",
    "gemm": "GEMM alone (np.matmul)",
}

#: The cases placed under the roofline, in the order of its legend.
ROOFLINE_CASES = (
    "linear fwd+bwd",
    "conv2d forward",
    "conv2d fwd+bwd",
    "attention dense",
)


# ------------------------------------------------------------------ files and tables


def load_results(path=REFERENCE):
    """Read a results file of the benchmark suite.

    Parameters
    ----------
    path : str or Path
        A ``.json`` written by ``python -m benchmarks``; by default the committed
        `REFERENCE` (use `LOCAL_LATEST` after running the suite yourself).

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
        f"measured {m['date'][:10]} on {m['cpu']} "
        f"({m['cores']} cores, {m.get('memory_gib')} GiB)\n"
        f"NumPy {m['numpy']} with {m['blas']} on {m['threads']} threads\n"
        f"{torch}; load average at start {load}"
    )


def short_name(record):
    """A label of at most about 26 characters for a record of the suite, for tables."""
    p, name = record.get("params", {}), record["name"]
    if name.startswith("linear"):
        return f"linear {p['N']}x{p['D']}->{p['M']}"
    if name.startswith("conv2d"):
        kind = "fwd" if "forward" in name else "f+b"
        label = f"conv {kind} {p['N']}x{p['C']}x{p['H']}x{p['W']} F{p['F']}"
        if p.get("KH", 3) != 3:
            label += f" {p['KH']}x{p['KW']}"
        algorithm = p.get("algorithm")
        return label if algorithm is None else f"{label} {algorithm[:4]}"
    if name == "attention dense":
        return f"attn dense n={p['n']}"
    if name == "attention dense + weights":
        return f"attn dense+w n={p['n']}"
    if name == "attention blockwise":
        return f"attn blockwise n={p['n']}"
    return name


def records(results, name, dtype=None):
    """The records of one case name (and dtype), in the order measured."""
    return [
        r
        for r in results["records"]
        if r["name"] == name and (dtype is None or r["dtype"] == dtype)
    ]


def format_table(rows, columns):
    """A plain-text table of `rows` (dicts), one line per row under a header.

    Parameters
    ----------
    rows : sequence of dict
    columns : sequence of (str, str or callable, str)
        ``(header, key, format)``: the cell is ``format(row[key], format)``, or
        ``format(key(row), format)`` for a callable key; a missing value (None) shows
        as ``-``. The first column is left-aligned, the others right-aligned.

    Returns
    -------
    str
    """
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
        out.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


# ------------------------------------------------------------ what the figures draw


def gemm_square(results):
    """Speed of ``np.matmul`` on n x n matrices, per dtype (narrowest dtype first).

    Returns
    -------
    dict of str -> (ndarray, ndarray)
        dtype name -> ``(n, gflops)``, each of shape (number of sizes,).
    """
    rows = results["sweeps"]["gemm_square"]
    dtypes = sorted({r["dtype"] for r in rows}, key=lambda d: np.dtype(d).itemsize)
    return {
        dtype: (
            np.array([r["n"] for r in rows if r["dtype"] == dtype]),
            np.array([r["gflops"] for r in rows if r["dtype"] == dtype]),
        )
        for dtype in dtypes
    }


def conv_intensity(row, itemsize=4):
    """FLOP per byte of the im2col GEMM ``(F, C KH KW) @ (C KH KW, N H W)`` of a row.

    `row` is a row of the convolution sweep (3 x 3 filters). Bytes: each of the three
    matrices read or written once, the least any GEMM must move.
    """
    K, P, F = row["C"] * 9, row["N"] * row["H"] * row["W"], row["F"]
    return row["flops"] / (itemsize * (F * K + K * P + F * P))


def roofline_data(results, dtype="float32"):
    """What `lalib.display.engine.plot_roofline` draws, for one dtype.

    Returns
    -------
    dict
        ``peak_gflops`` (the best square GEMM), ``bandwidth_gbs`` (a copy's speed),
        ``square`` (``(intensity, gflops)`` of the square GEMMs), ``kernels`` (case
        name -> ``(intensity, gflops, gemm_gflops)`` for the cases of
        `ROOFLINE_CASES` that were measured) and ``dtype``. A convolution for
        which ``conv2d`` took Winograd or the FFT (its ``chosen`` algorithm) is left
        out: its intensity is that of the im2col product, which it does not compute.
    """
    itemsize = np.dtype(dtype).itemsize
    sq = [r for r in results["sweeps"]["gemm_square"] if r["dtype"] == dtype]
    kernels = {}
    for name in ROOFLINE_CASES:
        recs = [
            r
            for r in records(results, name, dtype)
            if "intensity" in r and r["params"].get("chosen", "im2col") == "im2col"
        ]
        if recs:
            kernels[name] = (
                [r["intensity"] for r in recs],
                [r["gflops"] for r in recs],
                [r["gemm_gflops"] for r in recs],
            )
    return {
        "peak_gflops": results["gemm_peak_gflops"][dtype],
        "bandwidth_gbs": results["sweeps"]["bandwidth_gbs"],
        # 2 n^3 FLOPs on 3 n^2 numbers
        "square": (
            [2 * r["n"] / (3 * itemsize) for r in sq],
            [r["gflops"] for r in sq],
        ),
        "kernels": kernels,
        "dtype": dtype,
    }


def sweep_series(results, method):
    """``(flops, seconds)`` of one method of the convolution sweep (where measured).

    Parameters
    ----------
    results : dict
    method : str
        A key of `CONV_METHODS`.

    Returns
    -------
    flops, seconds : ndarray, shape (number of sizes measured,)
    """
    rows = [r for r in results["sweeps"]["conv"]["rows"] if f"{method}_s" in r]
    return (
        np.array([r["flops"] for r in rows]),
        np.array([r[f"{method}_s"] for r in rows]),
    )


def conv_series(results):
    """Every method of the convolution sweep: label -> ``(flops, seconds)``."""
    return {
        label: sweep_series(results, method) for method, label in CONV_METHODS.items()
    }


def conv_breakdowns(results):
    """The four methods' times at each image size of the convolution sweep.

    Returns
    -------
    dict of str -> (dict of str -> float, str)
        ``"HxW"`` -> ``(times, title)``: the milliseconds of each method by its short
        label (NaN where it was not run), and a title naming the problem; the
        arguments of `lalib.display.engine.plot_conv_breakdown`.
    """
    out = {}
    for row in results["sweeps"]["conv"]["rows"]:
        H = row["H"]
        times = {
            label.split(" (")[0]: row.get(f"{method}_s", np.nan) * 1e3
            for method, label in CONV_METHODS.items()
        }
        title = f"N={row['N']}, C={row['C']}, F={row['F']}, {H}x{H} image, 3x3"
        out[f"{H}x{H}"] = (times, title)
    return out


def algorithm_sweep(results):
    """The sweep of where Winograd and the FFT beat im2col, one dict per shape.

    Returns
    -------
    list of dict
        ``layer`` (a label), ``other`` (``"winograd"`` or ``"fft"``), the speed-ups
        ``forward`` and ``fwd+bwd`` (im2col's time over the other algorithm's: above 1
        the other is faster), ``faster`` (the faster of the two forward) and ``auto``
        (what ``choose_algorithm`` took for that shape when it was measured).
    """
    rows = []
    for r in results["sweeps"].get("algorithms", {}).get("rows", []):
        t, other = r["times_s"], r["other"]
        forward = t["im2col forward"] / t[f"{other} forward"]
        rows.append(
            {
                "layer": f"N={r['N']} C=F={r['C']} {r['H']}x{r['W']} {r['K']}x{r['K']}",
                "other": other,
                "forward": forward,
                "fwd+bwd": t["im2col fwd+bwd"] / t[f"{other} fwd+bwd"],
                "faster": other if forward > 1 else "im2col",
                "auto": r["auto"],
            }
        )
    return rows


def attention_memory(results):
    """What `lalib.display.engine.plot_attention_memory` draws.

    Returns
    -------
    dict
        ``n`` (the sequence lengths), ``dense_mib``, ``blockwise_mib`` and
        ``scores_mib`` (peak extra memory of each kernel and the size of one n x n
        score matrix, per n), ``block_size`` and a ``title`` naming the problem.
    """
    sweep = results["sweeps"]["attention_memory"]
    rows = sweep["rows"]
    r0 = rows[0]
    return {
        "n": np.array([r["n"] for r in rows]),
        "dense_mib": [r["dense_peak_mib"] for r in rows],
        "blockwise_mib": [r["blockwise_peak_mib"] for r in rows],
        "scores_mib": [r["scores_mib"] for r in rows],
        "block_size": r0["block_size"],
        "title": f"B={r0['B']}, h={r0['h']}, d_k={r0['d_k']}, {sweep['dtype']}",
    }
