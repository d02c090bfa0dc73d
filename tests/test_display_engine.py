"""Chapter 7: lalib.display.engine draws plain numbers, benchmarks.report finds them."""

from pathlib import Path

import numpy as np

from benchmarks import report
from lalib.display import engine
from lalib.display.figures import new_figure


def test_engine_plots_draw_plain_numbers():
    """The benchmark pictures take arrays and dicts of numbers, never a results file."""
    fig, axes = new_figure(figsize=(6, 6), nrows=2, ncols=2)
    engine.plot_gemm_square(axes[0, 0], {"float32": ([64, 128], [10.0, 20.0])})
    engine.plot_roofline(
        axes[0, 1],
        100.0,
        10.0,
        ([1.0, 10.0], [9.0, 90.0]),
        {"kernel": ([5.0], [30.0], [45.0])},
        dtype="float64",
    )
    series = {
        "slow": (np.array([1e6, 1e7]), np.array([1e-3, 1e-2])),
        "fast": (np.array([1e6, 1e7]), np.array([1e-5, 1e-4])),
    }
    engine.plot_conv_time(axes[1, 0], series)
    engine.plot_conv_gflops(axes[1, 1], series, peak=150.0)
    assert [ln.get_label() for ln in axes[0, 0].lines] == ["float32"]
    assert "float64" in axes[0, 1].get_title()
    labels = [ln.get_label() for ln in axes[0, 1].lines]
    assert labels[:3] == ["roofline", "square GEMM", "kernel (lalib)"]
    assert [ln.get_color() for ln in axes[1, 0].lines] == list(
        engine.METHOD_COLOURS[:2]
    )
    assert np.allclose(axes[1, 1].lines[1].get_ydata(), [1e2, 1e2])  # 1e7 / 1e-4 / 1e9
    fig, ax = new_figure()
    engine.plot_attention_memory(
        ax,
        np.array([512, 1024]),
        [1.0, 4.0],
        [0.5, 0.6],
        [1.0, 4.0],
        block_size=128,
        title="one head",
    )
    assert ax.get_title() == "one head"
    assert ax.lines[1].get_label() == "blockwise (block 128)"


def test_conv_breakdown_player_has_a_frame_per_problem():
    breakdowns = {
        "8x8": ({"loops": 5.0, "Toeplitz": 0.5, "im2col": 0.1}, "small"),
        "64x64": ({"loops": 500.0, "Toeplitz": np.nan, "im2col": 1.0}, "large"),
    }
    player = engine.conv_breakdown_player(breakdowns)
    assert player.axes == [
        {"name": "image size", "labels": ["8x8", "64x64"], "ordered": True}
    ]
    assert player.kind == "bars" and player.play == "image size"
    bars = player.charts[1]["bars"]
    assert [(name, t) for name, t, _ in bars] == [
        ("loops", 500.0),
        ("Toeplitz", None),  # not run: no bar
        ("im2col", 1.0),
    ]
    assert player.alts[1] == (
        "Bar chart of the time of each method, large: "
        "loops 500 ms; Toeplitz not run; im2col 1 ms."
    )
    player.index = [1]
    assert repr(player).endswith("showing image size = 64x64: " + player.alts[1])
    fig, ax = new_figure()
    engine.plot_conv_breakdown(ax, *breakdowns["64x64"])
    assert [t.get_text() for t in ax.texts] == [" 500 ms", " not run", " 1 ms"]
    assert ax.get_title() == "large"


def test_the_chapter_finds_its_results_beside_benchmarks_report():
    """Chapter 7 reads `report.REFERENCE`: beside the module, checkout or wheel."""
    here = Path(report.__file__).resolve().parent / "results"
    assert report.REFERENCE == here / "reference.json"
    assert report.LOCAL_LATEST == here / "local-latest.json"
    results = report.load_results()  # the default is REFERENCE
    assert {"machine", "gemm_peak_gflops", "records", "sweeps"} <= set(results)
