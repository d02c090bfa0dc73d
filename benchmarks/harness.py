"""Measuring machinery: timings, peak memory, the machine, and the two output formats.

Nothing here knows about lalib; `benchmarks.cases` says what to measure.

Timings are noisy, more so on a small shared machine, so the harness:

- warms every function up before timing it (first calls pay for page faults, thread
  start-up and, in PyTorch, kernel selection);
- runs the functions of one comparison (lalib, the GEMM it reduces to, PyTorch) in
  alternating blocks, so a slow spell on the machine hits all of them alike;
- sleeps a little between blocks, because BLAS and OpenMP worker threads keep
  spinning for a while after a call and would steal a core from the next function;
- reports the median (robust to the odd slow run) and keeps every raw time in the JSON.
"""

import datetime
import gc
import json
import os
import platform
import time
import tracemalloc
from pathlib import Path

import numpy as np

SETTLE_S = 0.1  # pause between blocks: lets spinning BLAS/OpenMP threads go to sleep
MIB = 2**20


# ----------------------------------------------------------------------- threads, torch


def blas_threads():
    """How many threads NumPy's BLAS uses (threadpoolctl when present, else the cores)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return os.cpu_count() or 1
    counts = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    return max(counts) if counts else (os.cpu_count() or 1)


def load_torch(threads, enabled=True):
    """Import PyTorch and give it NumPy's thread count; return ``(torch, note)``.

    ``torch`` is None when it is not installed (or `enabled` is False); `note` says why,
    and goes into the results so a table without a torch column explains itself.
    """
    if not enabled:
        return None, "PyTorch comparison switched off (--no-torch)"
    try:
        import torch
    except ImportError:
        return None, (
            "PyTorch is not installed, so there is no torch column: "
            "`.venv/bin/pip install torch==2.13.0` adds it (CPU build)"
        )
    torch.set_num_threads(threads)
    return torch, f"PyTorch {torch.__version__} on the CPU with torch.set_num_threads({threads})"


# ----------------------------------------------------------------------------- timing


def _call(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def time_functions(
    fns, budget_s=1.0, min_repeats=3, max_repeats=15, warmup=True, blocks=3, settle_s=SETTLE_S
):
    """Time several functions that do the same work, interleaved in blocks.

    Parameters
    ----------
    fns : dict of str -> callable
        Zero-argument functions; every one is timed.
    budget_s : float
        Rough time to spend timing each function; sets the number of repeats from the
        warm-up call's duration, clipped to ``[min_repeats, max_repeats]``.
    min_repeats, max_repeats : int
    warmup : bool
        Call each function once, untimed, first (and once more at the start of each
        later block). Off only for calls so long that one is all the budget allows.
    blocks : int
        Each function's repeats are split into this many blocks, and the blocks of the
        different functions alternate.
    settle_s : float
        Pause after each block.

    Returns
    -------
    times : dict of str -> list of float
        Seconds per call, in the order measured.
    """
    first = {}
    for name, fn in fns.items():
        first[name] = _call(fn)
        time.sleep(settle_s)
    repeats = {
        name: int(np.clip(budget_s / max(t, 1e-9), min_repeats, max_repeats))
        for name, t in first.items()
    }
    times = {name: ([] if warmup else [first[name]]) for name in fns}
    for block in range(blocks):
        for name, fn in fns.items():
            todo = repeats[name] - len(times[name])
            n = todo if block == blocks - 1 else min(todo, -(-repeats[name] // blocks))
            if n <= 0:
                continue
            gc.collect()
            gc.disable()
            try:
                if warmup and block > 0:
                    fn()
                times[name] += [_call(fn) for _ in range(n)]
            finally:
                gc.enable()
            time.sleep(settle_s)
    return times


def median(ts):
    return float(np.median(ts))


# ----------------------------------------------------------------------------- memory


def peak_memory(fn):
    """Peak bytes allocated while `fn()` runs, beyond what was allocated before.

    NumPy reports its array buffers to `tracemalloc`, so this sees every temporary a
    kernel creates, and its output; the inputs, allocated before, are not counted.
    PyTorch's allocator does not report to tracemalloc, so this is for NumPy code only.

    Returns
    -------
    peak : int
        Bytes.
    seconds : float
        How long the call took (tracing costs a little on each allocation).
    out : object
        What `fn` returned.
    """
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        start = time.perf_counter()
        out = fn()
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return peak, seconds, out


# ---------------------------------------------------------------------------- machine


def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas_name():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover
        return "unknown"
    for p in threadpool_info():
        if p["user_api"] == "blas":
            return f"{p['internal_api']} {p.get('version') or ''} ({p.get('architecture') or '?'})".strip()
    return "unknown"


def machine_info(threads, torch=None):
    """What the numbers were measured on: CPU, cores, memory, BLAS, versions, load."""
    info = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "threads": threads,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": _blas_name(),
        "torch": torch.__version__ if torch is not None else None,
        "load_average_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        info["memory_gib"] = round(pages / 2**30, 1)
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        info["memory_gib"] = None
    return info


# ---------------------------------------------------------------------------- outputs


def write_json(results, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n")


def _fmt(value, spec, missing="-"):
    return missing if value is None else format(value, spec)


def _ms(seconds):
    if seconds is None:
        return "-"
    ms = seconds * 1e3
    return f"{ms:.3g}" if ms < 100 else f"{ms:.0f}"


def markdown_table(records):
    """The main table: one row per measured case."""
    head = (
        "| case | dtype | shape | lalib ms | GFLOP/s | % GEMM same shapes | % square peak "
        "| torch ms | x torch | peak MiB |\n"
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    rows = []
    for r in records:
        if "speedup" in r:
            continue
        rows.append(
            f"| {r['name']} | {r['dtype']} | {r['shape']} | {_ms(r.get('time_s'))} "
            f"| {_fmt(r.get('gflops'), '.1f')} | {_fmt(r.get('pct_gemm'), '.0f')} "
            f"| {_fmt(r.get('pct_peak'), '.0f')} | {_ms(r.get('torch_time_s'))} "
            f"| {_fmt(r.get('ratio_torch'), '.2f')} | {_fmt(r.get('peak_mib'), '.0f')} |"
        )
    return head + "\n".join(rows) + "\n"


def markdown_naive(records):
    """The loop references against their vectorised counterparts."""
    rows = [
        f"| {r['name']} | {r['dtype']} | {r['shape']} | {_ms(r['naive_time_s'])} "
        f"| {_ms(r['time_s'])} | {r['speedup']:.0f}x |"
        for r in records if "speedup" in r
    ]
    if not rows:
        return ""
    head = "| case | dtype | shape | loops ms | vectorised ms | speed-up |\n|---|---|---|---:|---:|---:|\n"
    return head + "\n".join(rows) + "\n"


def markdown_targets(records):
    """Every target the issue sets, with the measured value and met / MISSED."""
    head = "| case | dtype | target | measured | |\n|---|---|---|---:|---|\n"
    rows = []
    for r in records:
        for t in r.get("targets", []):
            verdict = {True: "met", False: "**MISSED**", None: "not measured"}[t["met"]]
            rows.append(
                f"| {r['name']} {r['shape']} | {r['dtype']} | {t['label']} "
                f"| {_fmt(t['measured'], '.2f')} | {verdict} |"
            )
    return head + "\n".join(rows) + "\n" if rows else ""


def markdown_report(results):
    m = results["machine"]
    lines = [
        "# lalib benchmark results",
        "",
        f"Measured {m['date']} on {m['cpu']}, {m['cores']} cores, {m.get('memory_gib')} GiB; "
        f"NumPy {m['numpy']} with {m['blas']}, {m['threads']} BLAS threads; Python {m['python']}.",
        f"Load average at start {m.get('load_average_start')}, at end {m.get('load_average_end')}.",
        f"{results['torch_note']}.",
        "",
        "GEMM peak (np.matmul, square matrices, median): "
        + ", ".join(f"{dt} {g:.1f} GFLOP/s" for dt, g in results["gemm_peak_gflops"].items())
        + ".",
        "",
        "Columns: median time after warm-up; GFLOP/s counts the multiply-adds of the matrix "
        "products (2 per multiply-add); '% GEMM same shapes' is the time np.matmul takes for "
        "the very matrix products the kernel reduces to, as a share of the kernel's time "
        "(100 = nothing but those GEMMs); '% square peak' compares with the best square GEMM; "
        "'x torch' is lalib's time over PyTorch's (below 1 = lalib faster); peak MiB is the "
        "extra memory NumPy allocated during one call (tracemalloc), output included.",
        "",
        markdown_table(results["records"]),
    ]
    naive = markdown_naive(results["records"])
    if naive:
        lines += ["## Loops against the vectorised kernels", "", naive]
    targets = markdown_targets(results["records"])
    if targets:
        lines += ["## Targets (issue 7)", "", targets]
    if results.get("skipped"):
        lines += ["## Not measured", ""] + [f"- {s}" for s in results["skipped"]] + [""]
    lines.append(f"Whole run: {results['elapsed_s']:.0f} s.")
    return "\n".join(lines) + "\n"
