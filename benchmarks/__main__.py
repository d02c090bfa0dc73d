"""Command line of the benchmark suite: ``python -m benchmarks --help``."""

import argparse
import os
import sys
import time
from pathlib import Path

from benchmarks import cases, harness

RESULTS = Path(__file__).resolve().parent / "results"
GROUPS = ("linear", "naive", "conv", "attention", "sweep")


def run(config=cases.FULL, use_torch=True, groups=None, log=print):
    """Run the suite and return the results as a JSON-ready dict."""
    start = time.perf_counter()
    threads = harness.blas_threads()
    torch, torch_note = harness.load_torch(threads, enabled=use_torch)
    log(torch_note)
    suite = cases.Suite(config, torch=torch, groups=groups, log=log)
    machine = harness.machine_info(threads, torch)
    suite.run()
    machine["load_average_end"] = (
        list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    )
    return {
        "format": 1,
        "machine": machine,
        "torch_note": torch_note,
        "config": "quick" if config == cases.QUICK else "full",
        "gemm_peak_gflops": suite.gemm_peak,
        "records": suite.records,
        "sweeps": suite.sweeps,
        "skipped": suite.skipped,
        "quiet": suite.quiet.summary(),
        "elapsed_s": time.perf_counter() - start,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes, one repeat: checks the harness, the numbers mean nothing",
    )
    parser.add_argument(
        "--only",
        default=None,
        help=f"comma-separated groups out of {', '.join(GROUPS)} (gemm always runs)",
    )
    parser.add_argument(
        "--no-torch", action="store_true", help="skip the PyTorch comparison"
    )
    parser.add_argument(
        "--reference",
        action="store_true",
        help="write benchmarks/results/reference.{json,md} (the committed results)",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=None,
        metavar="LOAD",
        help="first wait (up to 10 minutes) until the load average is below LOAD",
    )
    parser.add_argument(
        "--out",
        default=None,
        help="JSON path to write (the .md goes beside it); "
        "default benchmarks/results/local-latest.json",
    )
    args = parser.parse_args(argv)
    groups = None
    if args.only:
        groups = {g.strip() for g in args.only.split(",")}
        unknown = groups - set(GROUPS)
        if unknown:
            parser.error(f"unknown group(s) {sorted(unknown)}; choose from {GROUPS}")
    if args.out:
        out = Path(args.out)
    else:
        out = RESULTS / ("reference.json" if args.reference else "local-latest.json")

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    if args.wait_quiet is not None:
        harness.wait_for_quiet(args.wait_quiet, log=log)
    results = run(
        cases.QUICK if args.quick else cases.FULL,
        use_torch=not args.no_torch,
        groups=groups,
        log=log,
    )
    report = harness.markdown_report(results)
    harness.write_json(results, out)
    out.with_suffix(".md").write_text(report)
    print(report)
    log(f"wrote {out} and {out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
