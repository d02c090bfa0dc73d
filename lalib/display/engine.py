"""Pictures of the benchmark results: chapter 7, "Matrix multiplication is the engine".

Display code only. Nothing here measures anything or reads a file: every function
draws numbers it is given (arrays, lists, dicts of numbers), which `benchmarks.report`
reads from the results the benchmark suite wrote (``python -m benchmarks``), so the
chapter shows stored numbers and a reader can re-run the suite and re-plot.
"""

import numpy as np

from lalib.display.players import FramePlayer

#: Colours of the ways to convolve, in the order the chapter teaches them (loops,
#: Toeplitz, im2col, GEMM alone); series are coloured in the order they are passed.
METHOD_COLOURS = ("tab:red", "tab:orange", "tab:blue", "tab:green")

#: Markers of the kernels on the roofline, in the order they are passed.
KERNEL_MARKERS = "Dv^s<>ph"


# ---------------------------------------------------------------- GEMM and roofline


def plot_gemm_square(ax, curves):
    """GFLOP/s of np.matmul on n x n matrices against n, one line per dtype.

    Parameters
    ----------
    ax : matplotlib Axes
    curves : dict of str -> (array_like, array_like)
        dtype name -> ``(n, gflops)``.
    """
    for (dtype, (n, gflops)), style in zip(
        curves.items(), ("o-", "s--", "^:", "v-."), strict=False
    ):
        ax.plot(n, gflops, style, label=dtype)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("n (multiply two n x n matrices)")
    ax.set_ylabel("GFLOP/s")
    ax.set_ylim(bottom=0)
    ax.set_title("The engine: np.matmul")
    ax.legend()


def roofline(intensity, peak_gflops, bandwidth_gbs):
    """Attainable GFLOP/s at an arithmetic intensity (FLOP per byte moved)."""
    return np.minimum(peak_gflops, np.asarray(intensity) * bandwidth_gbs)


def plot_roofline(ax, peak_gflops, bandwidth_gbs, square, kernels, dtype="float32"):
    """The roofline of a machine with kernels placed under it.

    The slanted part is memory bandwidth (a copy's GB/s times FLOP per byte), the flat
    part the best square GEMM. Each kernel sits at the arithmetic intensity of its
    matrix products (filled marker: the lalib kernel; hollow: `np.matmul` doing only
    those products). A point far below the roof is held back by something other than
    arithmetic or memory traffic: copies, temporaries, the softmax, Python.

    Parameters
    ----------
    ax : matplotlib Axes
    peak_gflops : float
        The flat roof.
    bandwidth_gbs : float
        The slope of the slanted roof.
    square : (array_like, array_like)
        ``(intensity, gflops)`` of square GEMMs, drawn as green dots.
    kernels : dict of str -> (array_like, array_like, array_like)
        Label -> ``(intensity, gflops, gemm_gflops)``: where each kernel sits, and the
        speed of its products alone. Markers follow `KERNEL_MARKERS` in order.
    dtype : str
        Named in the title.
    """
    ai = np.logspace(-1, 3, 200)
    ax.plot(ai, roofline(ai, peak_gflops, bandwidth_gbs), "k-", lw=2, label="roofline")
    ax.plot(*square, "o", color="tab:green", label="square GEMM")
    for (name, (x, gflops, gemm_gflops)), marker in zip(
        kernels.items(), KERNEL_MARKERS, strict=False
    ):
        ax.plot(x, gflops, marker, color="tab:blue", label=f"{name} (lalib)")
        ax.plot(x, gemm_gflops, marker, color="tab:green", mfc="none")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP per byte)")
    ax.set_ylabel("GFLOP/s")
    ax.set_title(f"Roofline, {dtype} (hollow: the same products in np.matmul)")
    ax.legend(fontsize="small", loc="lower right")


# ------------------------------------------------------------- loops vs ... vs GEMM


def plot_conv_time(ax, series):
    """Time of one convolution against its work, one line per method, log-log.

    Parameters
    ----------
    ax : matplotlib Axes
    series : dict of str -> (ndarray, ndarray)
        Method label -> ``(flops, seconds)``, coloured by `METHOD_COLOURS` in order.
    """
    for (label, (flops, secs)), colour in zip(
        series.items(), METHOD_COLOURS, strict=False
    ):
        ax.plot(flops, secs * 1e3, "o-", color=colour, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("useful FLOPs of the convolution")
    ax.set_ylabel("time (ms)")
    ax.set_title("Time")
    ax.legend(fontsize="small")


def plot_conv_gflops(ax, series, peak):
    """Useful GFLOP/s against work, one line per method, the GEMM peak as the ceiling.

    Parameters
    ----------
    ax : matplotlib Axes
    series : dict of str -> (ndarray, ndarray)
        As for `plot_conv_time`.
    peak : float
        The GEMM peak in GFLOP/s, drawn as a horizontal line.
    """
    for (label, (flops, secs)), colour in zip(
        series.items(), METHOD_COLOURS, strict=False
    ):
        ax.plot(flops, flops / secs / 1e9, "o-", color=colour, label=label)
    ax.axhline(peak, color="k", lw=2, label=f"GEMM peak ({peak:.0f})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("useful FLOPs of the convolution")
    ax.set_ylabel("useful GFLOP/s")
    ax.set_title("Speed (the roof: square GEMM)")
    # Right of the Toeplitz line and between the loops and the rest: empty space.
    ax.legend(fontsize="small", loc="center right")


def plot_conv_breakdown(ax, times, title):
    """Bar chart of the methods' times at one problem size.

    Parameters
    ----------
    ax : matplotlib Axes
    times : dict of str -> float
        Method label -> milliseconds (NaN: not run), coloured by `METHOD_COLOURS`.
    title : str
    """
    names, ms = list(times), list(times.values())
    y = np.arange(len(names))
    ax.barh(y, ms, color=list(METHOD_COLOURS[: len(names)]))
    for yi, t in zip(y, ms, strict=True):
        ran = np.isfinite(t)
        ax.text(
            t if ran else 1e-3,
            yi,
            f" {t:.3g} ms" if ran else " not run",
            va="center",
            fontsize=9,
        )
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlim(1e-3, 1e5)
    ax.set_xlabel("time (ms, log scale)")
    ax.set_title(title)


#: `METHOD_COLOURS` as CSS colours, for the bars the browser draws.
_CSS_COLOURS = {
    "tab:red": "#d62728",
    "tab:orange": "#ff7f0e",
    "tab:blue": "#1f77b4",
    "tab:green": "#2ca02c",
}


def _ms_text(t):
    """Milliseconds as the chart writes them: three significant digits, no exponent.

    Examples
    --------
    >>> _ms_text(2243.52), _ms_text(0.007020), _ms_text(float("nan"))
    ('2240 ms', '0.00702 ms', 'not run')
    """
    return f"{float(f'{t:.3g}'):g} ms" if np.isfinite(t) else "not run"


def conv_breakdown_alt(times, title):
    """The alt text of one breakdown: the problem and every method's time, in words."""
    parts = [f"{name} {_ms_text(float(t))}" for name, t in times.items()]
    return f"Bar chart of the time of each method, {title}: " + "; ".join(parts) + "."


def conv_breakdown_player(breakdowns):
    """A range (with Play) over image sizes, showing each size's times as bars.

    The browser draws the bars from the numbers (a log axis from 0.001 to 100,000
    ms, as `plot_conv_breakdown`), so every frame is a few hundred bytes of text and
    crisp at any size; the alt text of each frame lists the times.

    Parameters
    ----------
    breakdowns : dict of str -> (dict of str -> float, str)
        Label (e.g. ``"32x32"``) -> the arguments ``(times, title)`` of
        `plot_conv_breakdown`: milliseconds by method (NaN: not run) and a title.

    Returns
    -------
    lalib.display.players.FramePlayer
        ``.breakdowns`` holds the argument.
    """
    labels = list(breakdowns)
    charts, alts = [], []
    for label in labels:
        times, title = breakdowns[label]
        charts.append(
            {
                "title": title,
                "unit": "ms",
                "log_range": [1e-3, 1e5],
                "bars": [
                    [
                        name,
                        float(t) if np.isfinite(t) else None,
                        _CSS_COLOURS.get(colour, colour),
                    ]
                    for (name, t), colour in zip(
                        times.items(), METHOD_COLOURS, strict=False
                    )
                ],
            }
        )
        alts.append(conv_breakdown_alt(times, title))
    player = FramePlayer(
        axes=[{"name": "image size", "labels": labels, "ordered": True}],
        alts=alts,
        charts=charts,
        play="image size",
        interval=900,
        label="Time of the four ways to convolve, one image size at a time",
    )
    player.breakdowns = breakdowns
    return player


# ------------------------------------------------------------------------ attention


def plot_attention_memory(
    ax, n, dense_mib, blockwise_mib, scores_mib, block_size, title
):
    """Peak extra memory of dense and blockwise attention against sequence length n.

    Parameters
    ----------
    ax : matplotlib Axes
    n : array_like
        Sequence lengths.
    dense_mib, blockwise_mib : array_like
        Peak extra memory (MiB) of each kernel at each n.
    scores_mib : array_like
        The size of one n x n score matrix (MiB), drawn dotted for comparison.
    block_size : int
        Of the blockwise kernel, named in the legend.
    title : str
    """
    ax.plot(n, dense_mib, "o-", color="tab:red", label="dense")
    ax.plot(
        n,
        blockwise_mib,
        "s-",
        color="tab:blue",
        label=f"blockwise (block {block_size})",
    )
    ax.plot(n, scores_mib, "k:", label="one n x n score matrix")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length n")
    ax.set_ylabel("peak extra memory (MiB)")
    ax.set_title(title)
    ax.legend(fontsize="small")
