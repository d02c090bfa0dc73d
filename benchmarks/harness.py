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
SLOW_CALL_S = 0.25  # calls longer than this are not warmed up again at each block


# ----------------------------------------------------------------------- threads, torch


def blas_threads():
    """How many threads NumPy's BLAS uses (threadpoolctl when present, else the
    cores)."""
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
    return (
        torch,
        f"PyTorch {torch.__version__} on the CPU with torch.set_num_threads({threads})",
    )


# ----------------------------------------------------------------------------- timing


def wait_for_quiet(max_load=0.5, timeout_s=600, log=print):
    """Wait until the 1-minute load average drops below `max_load` (or `timeout_s`
    passes).

    Returns the load average seen last.
    """
    if not hasattr(os, "getloadavg"):  # pragma: no cover
        return None
    deadline = time.monotonic() + timeout_s
    load = os.getloadavg()[0]
    while load > max_load and time.monotonic() < deadline:
        log(f"waiting for a quiet machine: load average {load:.2f} > {max_load}")
        time.sleep(15)
        load = os.getloadavg()[0]
    return load


class Quiet:
    """Keeps other programs' CPU use out of the timings, as far as it can.

    On a small shared machine another program's burst can make a multi-threaded BLAS
    call ten times slower (one of its threads waits for a core). Linux's /proc/stat says
    how busy all cores were; subtracting this process's own CPU time (`os.times`)
    leaves the other programs' share. Before each block of timed calls `wait` pauses
    until that share is below `max_share`; after the block, `measure` tells whether it
    stayed there, and `time_functions` re-runs a block that was disturbed. Waiting is
    capped by `wait_budget_s` over the whole run, so a busy machine still finishes: its
    disturbed blocks are counted and reported instead.

    Parameters
    ----------
    max_share : float
        Largest tolerated share of all cores used by other programs (0.1 = 10 %).
    wait_budget_s : float
        Total seconds this run may spend waiting.
    enabled : bool
        False (or no /proc/stat, as on macOS): never wait, never re-run.
    """

    SAMPLE_S = 0.3
    MIN_BLOCK_S = (
        0.05  # /proc/stat counts in 10 ms ticks: shorter blocks cannot be judged
    )

    def __init__(self, max_share=0.10, wait_budget_s=90.0, enabled=True):
        self.max_share = max_share
        self.wait_budget_s = wait_budget_s
        self.wait_left = wait_budget_s
        self.enabled = enabled and Path("/proc/stat").exists()
        self.hz = os.sysconf("SC_CLK_TCK") if self.enabled else 100
        self.ncpu = os.cpu_count() or 1
        self.blocks = 0
        self.disturbed = (
            0  # blocks kept although disturbed (retries or waiting ran out)
        )
        self.case_max = 0.0  # largest share seen in an accepted block since `new_case`

    def _snapshot(self):
        fields = [
            int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        ]
        busy = (
            sum(fields[:8]) - fields[3] - fields[4]
        ) / self.hz  # all but idle and iowait
        own = sum(os.times()[:2])  # this process, every thread
        return time.perf_counter(), busy, own

    def _share(self, a, b):
        wall = b[0] - a[0]
        others = (b[1] - a[1]) - (b[2] - a[2])
        return max(others, 0.0) / (wall * self.ncpu) if wall > 0 else 0.0

    def start(self):
        return self._snapshot() if self.enabled else None

    def share_since(self, snap):
        """Other programs' share of all cores since `start` (None if unknown or too
        short)."""
        if snap is None:
            return None
        now = self._snapshot()
        if now[0] - snap[0] < self.MIN_BLOCK_S:
            return None
        return self._share(snap, now)

    def wait(self):
        """Sleep until other programs use less than `max_share` (or the budget is
        spent)."""
        while self.enabled and self.wait_left > 0:
            a = self._snapshot()
            time.sleep(self.SAMPLE_S)
            if self._share(a, self._snapshot()) <= self.max_share:
                return
            self.wait_left -= self.SAMPLE_S

    def summary(self):
        return {
            "enabled": self.enabled,
            "max_share": self.max_share,
            "blocks": self.blocks,
            "disturbed_blocks": self.disturbed,
            "waited_s": round(self.wait_budget_s - self.wait_left, 1)
            if self.enabled
            else 0.0,
        }

    def new_case(self):
        self.case_max = 0.0

    def accept(self, share):
        """Count a block that is kept, disturbed or not."""
        self.blocks += 1
        if share is not None:
            self.case_max = max(self.case_max, share)
            if share > self.max_share:
                self.disturbed += 1

    def should_retry(self, share, attempt, retries):
        return (
            self.enabled
            and share is not None
            and share > self.max_share
            and attempt < retries
            and self.wait_left > 0
        )


NO_GUARD = Quiet(enabled=False)


def _call(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def time_functions(
    fns,
    budget_s=1.0,
    min_repeats=3,
    max_repeats=15,
    warmup=True,
    blocks=3,
    settle_s=SETTLE_S,
    quiet=NO_GUARD,
    retries=2,
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
        Call each function untimed first (twice unless a call takes longer than
        `SLOW_CALL_S`, and once more at the start of each later block). Off only for
        calls so long that one is all the budget allows.
    blocks : int
        Each function's repeats are split into this many blocks, and the blocks of the
        different functions alternate.
    settle_s : float
        Pause after each block.
    quiet : Quiet
        Waits for other programs to go quiet before each block and re-runs a block
        they disturbed (up to `retries` times).

    Returns
    -------
    times : dict of str -> list of float
        Seconds per call, in the order measured.
    """
    first = {}
    for name, fn in fns.items():
        quiet.wait()
        first[name] = _call(fn)
        if warmup and first[name] < SLOW_CALL_S:
            first[name] = _call(
                fn
            )  # the first call pays one-off costs: size the repeats on the second
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
            for attempt in range(retries + 1):
                quiet.wait()
                gc.collect()
                gc.disable()
                try:
                    if warmup and block > 0 and first[name] < SLOW_CALL_S:
                        fn()  # re-warm caches after the other functions ran
                    snap = quiet.start()
                    got = [_call(fn) for _ in range(n)]
                    share = quiet.share_since(snap)
                finally:
                    gc.enable()
                time.sleep(settle_s)
                if not quiet.should_retry(share, attempt, retries):
                    break
            quiet.accept(share)
            times[name] += got
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
            version = p.get("version") or ""
            architecture = p.get("architecture") or "?"
            return f"{p['internal_api']} {version} ({architecture})".strip()
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
        "load_average_start": list(os.getloadavg())
        if hasattr(os, "getloadavg")
        else None,
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
        "| case | dtype | shape | lalib ms | GFLOP/s | % GEMM same shapes "
        "| % square peak | torch ms | x torch | peak MiB |\n"
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
            f"| {_fmt(r.get('ratio_torch'), '.2f')} "
            f"| {_fmt(r.get('peak_mib'), '.0f')} |"
        )
    return head + "\n".join(rows) + "\n"


def markdown_naive(records):
    """The loop references against their vectorised counterparts."""
    rows = [
        f"| {r['name']} | {r['dtype']} | {r['shape']} | {_ms(r['naive_time_s'])} "
        f"| {_ms(r['time_s'])} | {r['speedup']:.0f}x |"
        for r in records
        if "speedup" in r
    ]
    if not rows:
        return ""
    head = (
        "| case | dtype | shape | loops ms | vectorised ms | speed-up |\n"
        "|---|---|---|---:|---:|---:|\n"
    )
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


def _quiet_line(q):
    if not q or not q["enabled"]:
        return "Other programs' CPU use was not watched."
    return (
        f"Timing blocks: {q['blocks']}, of which {q['disturbed_blocks']} ran while "
        f"other programs used more than {100 * q['max_share']:.0f} % of the CPU "
        f"(after re-runs); {q['waited_s']:.0f} s spent waiting for a quiet machine."
    )


def markdown_report(results):
    m = results["machine"]
    lines = [
        "# lalib benchmark results",
        "",
        f"Measured {m['date']} on {m['cpu']}, {m['cores']} cores, "
        f"{m.get('memory_gib')} GiB; NumPy {m['numpy']} with {m['blas']}, "
        f"{m['threads']} BLAS threads; Python {m['python']}.",
        f"Load average at start {m.get('load_average_start')}, "
        f"at end {m.get('load_average_end')}.",
        f"{results['torch_note']}.",
        _quiet_line(results.get("quiet")),
        "",
        "GEMM peak (np.matmul, square matrices, median): "
        + ", ".join(
            f"{dt} {g:.1f} GFLOP/s" for dt, g in results["gemm_peak_gflops"].items()
        )
        + ".",
        "",
        "Columns: median time after warm-up; GFLOP/s counts the multiply-adds of the "
        "matrix products (2 per multiply-add); '% GEMM same shapes' is the time "
        "np.matmul takes for the very matrix products the kernel reduces to, as a "
        "share of the kernel's time (its fastest run, a ceiling; 100 = nothing but "
        "those GEMMs); '% square peak' compares with the best square GEMM; 'x torch' "
        "is lalib's time over PyTorch's (below 1 = lalib faster); peak MiB is the "
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
