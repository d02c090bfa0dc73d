"""Smoke tests of the benchmark harness on tiny sizes.

No timing is asserted here: a timed test on a shared machine is a flaky test. The speed
targets are checked by the benchmark itself (``make bench``) and reported in its table.
"""

import json
import time

import numpy as np
import pytest

from benchmarks import __main__ as cli
from benchmarks import cases, harness
from lalib import conv
from lalib.engine import conv as conv_engine


@pytest.fixture(scope="module")
def quick_results():
    """One quick run without PyTorch, shared by the tests below (a few seconds)."""
    return cli.run(cases.QUICK, use_torch=False, log=lambda msg: None)


def test_time_functions_gives_each_function_its_repeats():
    calls = {"a": 0, "b": 0}

    def bump(name):
        calls[name] += 1

    times = harness.time_functions(
        {"a": lambda: bump("a"), "b": lambda: bump("b")},
        budget_s=0.0,
        min_repeats=4,
        max_repeats=4,
        blocks=2,
        settle_s=0.0,
    )
    assert [len(times["a"]), len(times["b"])] == [4, 4]
    # two warm-up calls, then one more at the start of the second block
    assert calls == {"a": 7, "b": 7}
    assert all(t >= 0 for ts in times.values() for t in ts)


def test_time_functions_without_warmup_keeps_the_first_call():
    calls = []
    times = harness.time_functions(
        {"a": lambda: calls.append(1)},
        budget_s=0.0,
        min_repeats=1,
        max_repeats=1,
        warmup=False,
        settle_s=0.0,
    )
    assert len(times["a"]) == 1 and len(calls) == 1


def test_peak_memory_sees_a_temporary_array():
    peak, seconds, out = harness.peak_memory(
        lambda: float(np.ones(2**20).sum())
    )  # 8 MiB temporary
    assert 8 * harness.MIB <= peak < 9 * harness.MIB
    assert out == 2**20 and seconds >= 0


def test_blas_threads_is_positive():
    assert harness.blas_threads() >= 1


def test_quick_run_measures_every_group(quick_results):
    r = quick_results
    assert r["config"] == "quick"
    assert set(r["gemm_peak_gflops"]) == {"float32", "float64"}
    names = {rec["name"] for rec in r["records"]}
    assert {
        "linear fwd+bwd",
        "conv2d forward",
        "conv2d fwd+bwd",
        "attention dense",
        "attention blockwise",
        "conv2d_naive vs conv2d",
        "attention_naive vs sdpa",
    } <= names
    assert r["skipped"] == [
        f"attention blockwise at n={cases.QUICK.blockwise_n} in float64 "
        "(float32 only, to keep the run short)"
    ]
    assert {"gemm_square", "bandwidth_gbs", "conv", "attention_memory"} <= set(
        r["sweeps"]
    )


def test_quick_run_records_are_consistent(quick_results):
    for rec in quick_results["records"]:
        assert rec["dtype"] in ("float32", "float64")
        assert rec["time_s"] > 0 and rec["flops"] > 0
        assert rec["gflops"] == pytest.approx(rec["flops"] / rec["time_s"] / 1e9)
        assert "torch_time_s" not in rec  # torch was switched off
        if "dtype_ok" in rec:
            assert rec["dtype_ok"], rec["name"]
        if "gemm_time_s" in rec:
            assert rec["pct_gemm"] == pytest.approx(
                100 * rec["gemm_time_s"] / rec["time_s"]
            )
        for t in rec["targets"]:
            # a torch ratio cannot be judged without torch; the rest are judged
            assert (t["met"] is None) == (t["measured"] is None)
            assert t["met"] is None or "torch" not in t["label"]


def test_targets_are_the_issues(quick_results):
    labels = {
        (rec["name"], t["label"])
        for rec in quick_results["records"]
        for t in rec["targets"]
    }
    assert ("linear fwd+bwd", ">= 85 % of GEMM peak") in labels
    assert ("attention blockwise", "peak extra memory <= 300 MiB") in labels
    assert ("conv2d fwd+bwd", "<= 1.3x torch") in labels


def test_target_verdicts():
    assert cases._target("x", 0.9, "<=", 1.0)["met"] is True
    assert cases._target("x", 1.1, "<=", 1.0)["met"] is False
    assert cases._target("x", 90.0, ">=", 85.0)["met"] is True
    assert cases._target("x", None, ">=", 85.0)["met"] is None


def test_conv_sweep_rows(quick_results):
    rows = quick_results["sweeps"]["conv"]["rows"]
    assert [row["H"] for row in rows] == list(cases.QUICK.sweep_hw)
    for row in rows:
        assert row["im2col_s"] > 0 and row["gemm_s"] > 0 and row["loops_s"] > 0
    mem = quick_results["sweeps"]["attention_memory"]["rows"]
    assert [row["n"] for row in mem] == list(cases.QUICK.sweep_attention_n)


def test_markdown_report_says_why_torch_is_missing(quick_results):
    md = harness.markdown_report(quick_results)
    assert "| case | dtype | shape | lalib ms |" in md
    assert "switched off" in md
    assert (
        "## Targets (issue 7)" in md and "## Loops against the vectorised kernels" in md
    )
    # one table row per non-naive record
    n_rows = sum("speedup" not in rec for rec in quick_results["records"])
    table = md.split("| case | dtype | shape | lalib ms |")[1].split("\n\n")[0]
    assert table.count("\n| ") == n_rows


def test_json_round_trip(quick_results, tmp_path):
    path = tmp_path / "r.json"
    harness.write_json(quick_results, path)
    assert json.loads(path.read_text())["records"] == json.loads(
        json.dumps(quick_results["records"])
    )


def test_cli_writes_json_and_markdown(tmp_path, capsys):
    out = tmp_path / "run.json"
    cli.main(["--quick", "--no-torch", "--only", "linear", "--out", str(out)])
    data = json.loads(out.read_text())
    assert {rec["group"] for rec in data["records"]} == {"linear"}
    assert out.with_suffix(".md").read_text().startswith("# lalib benchmark results")
    assert "linear fwd+bwd" in capsys.readouterr().out


def test_cli_rejects_an_unknown_group():
    with pytest.raises(SystemExit):
        cli.main(["--quick", "--only", "nonsense"])


def test_torch_comparison_when_installed(tmp_path):
    torch = pytest.importorskip("torch")
    threads = harness.blas_threads()
    mod, note = harness.load_torch(threads)
    assert (
        mod is torch
        and torch.get_num_threads() == threads
        and "set_num_threads" in note
    )
    suite = cases.Suite(cases.QUICK, torch=torch, groups={"linear"}, log=lambda m: None)
    suite.gemm_peak = {"float32": 1.0, "float64": 1.0}
    suite.linear()
    for rec in suite.records:
        assert rec["ratio_torch"] == pytest.approx(rec["time_s"] / rec["torch_time_s"])
        assert rec["targets"][0]["met"] is not None


def test_quiet_guard_measures_other_programs_share():
    quiet = harness.Quiet(max_share=0.5, wait_budget_s=1.0)
    if not quiet.enabled:
        pytest.skip("no /proc/stat on this system")
    snap = quiet.start()
    assert quiet.share_since(snap) is None  # too short to judge in 10 ms ticks
    time.sleep(0.1)
    share = quiet.share_since(snap)
    assert 0.0 <= share <= 1.5
    assert quiet.should_retry(0.9, attempt=0, retries=2)
    assert not quiet.should_retry(0.9, attempt=2, retries=2)
    assert not quiet.should_retry(0.1, attempt=0, retries=2)
    quiet.accept(0.9)
    quiet.accept(None)
    assert quiet.summary()["blocks"] == 2 and quiet.summary()["disturbed_blocks"] == 1


def test_disabled_guard_never_waits():
    quiet = harness.Quiet(enabled=False)
    start = time.perf_counter()
    quiet.wait()
    assert quiet.start() is None and quiet.share_since(None) is None
    assert not quiet.should_retry(1.0, attempt=0, retries=2)
    assert time.perf_counter() - start < 0.05


def test_gemm_targets_are_judged_against_the_square_peak(quick_results):
    # "% of GEMM peak" in the issue is the machine's peak (np.matmul on square
    # matrices), not the same-shape GEMM, which can be far below it for skinny products.
    for rec in quick_results["records"]:
        for t in rec["targets"]:
            if "GEMM peak" in t["label"]:
                assert t["measured"] == rec["pct_peak"]


def test_columns_only_is_the_kernels_copy(rng):
    # The "copying" part the benchmark times builds exactly the columns conv2d
    # multiplies: the blocks, put side by side, are im2col's matrix (plus the Wq - W'
    # extra columns).
    x = rng.standard_normal((3, 2, 5, 4)).astype(np.float32)
    ref = conv.im2col(x, 3, 1, 1).reshape(3, 18, 5, 4)  # (N, CKK, H', W')
    seen = 0
    for n0, n1, i0, i1, cols in conv_engine.column_blocks(x, (3, 3), 1, 1):
        assert cols.shape[:3] == (n1 - n0, 18, i1 - i0)  # (m, CKK, rows, Wq)
        np.testing.assert_array_equal(cols[..., :4], ref[n0:n1, :, i0:i1])
        seen += (n1 - n0) * (i1 - i0)
    assert seen == 3 * 5
    cases.conv_columns_only(x)  # runs through the same blocks


def test_conv_algorithm_rows(quick_results):
    # One float32 row per algorithm at the 3x3 sizes; auto and im2col for the large
    # kernel, with the algorithm auto chose recorded.
    recs = [r for r in quick_results["records"] if "algorithm" in r.get("params", {})]
    algorithms = {r["params"]["algorithm"] for r in recs if r["params"]["KH"] == 3}
    assert algorithms == {"im2col", "winograd", "fft"}
    large = [r for r in recs if r["params"]["KH"] > 3]
    assert {r["params"]["algorithm"] for r in large} == {"auto", "im2col"}
    assert all(
        r["params"]["chosen"] for r in large if r["params"]["algorithm"] == "auto"
    )
    assert all(r["dtype"] == "float32" and r["dtype_ok"] for r in recs)
    # each row's float32 error against float64 im2col on the same data
    assert all(0 < r["error"] < 1e-3 for r in recs)


def test_relative_error():
    exact = np.array([2.0, -4.0])
    assert cases.relative_error(np.float32([2.0, -3.0]), exact) == 0.25
    assert cases.relative_error(exact, exact) == 0.0


def test_plain_conv_rows_record_the_algorithm_auto_takes(quick_results):
    names = ("conv2d forward", "conv2d fwd+bwd")  # conv2d itself, algorithm "auto"
    plain = [r for r in quick_results["records"] if r["name"] in names]
    assert plain
    for r in plain:
        p = r["params"]
        x_shape, w_shape = (p["N"], p["C"], p["H"], p["W"]), (p["F"], p["C"], 3, 3)
        expected = conv_engine.choose_algorithm(x_shape, w_shape, 1, 1, r["dtype"])[0]
        assert p["chosen"] == expected


def test_roofline_leaves_out_convolutions_done_without_im2col(quick_results):
    from benchmarks import report

    results = json.loads(json.dumps(quick_results))  # a deep copy
    before = report.roofline_data(results)["kernels"]["conv2d forward"]
    recs = report.records(results, "conv2d forward", "float32")
    recs[0]["params"]["chosen"] = "winograd"
    after = report.roofline_data(results)["kernels"].get("conv2d forward")
    kept = 0 if after is None else len(after[0])
    assert kept == len(before[0]) - 1


def test_algorithm_sweep_rows(quick_results):
    from benchmarks import report

    rows = report.algorithm_sweep(quick_results)
    cfg = cases.QUICK
    assert len(rows) == (
        len(cfg.sweep_winograd_channels)
        + len(cfg.sweep_winograd_small[2])
        + len(cfg.sweep_fft_channels) * len(cfg.sweep_fft_kernels)
    )
    assert {r["other"] for r in rows} == {"winograd", "fft"}
    for r in rows:
        assert r["forward"] > 0 and r["fwd+bwd"] > 0
        assert r["faster"] in ("im2col", r["other"])
        assert r["auto"] in ("im2col", "winograd", "fft")
    # the speed-up is im2col's time over the other's, from the recorded medians
    raw = quick_results["sweeps"]["algorithms"]["rows"][0]
    t = raw["times_s"]
    assert rows[0]["forward"] == t["im2col forward"] / t[f"{raw['other']} forward"]
