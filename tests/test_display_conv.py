"""lalib.display.conv: the convolution explorers' traits, validation and repr.

What the browser draws is tested in tests/browser/test_explore_ch2.py against lalib.
"""

import numpy as np
import pytest
import traitlets

from lalib import conv
from lalib.display.conv import (
    EXAMPLE_IMAGE,
    FILTERS,
    PRESET_FILTERS,
    PRESET_IMAGES,
    ConvExplorer,
    ConvVolumeExplorer,
    StampExplorer,
)
from lalib.display.explorable import bundle


def test_explorer_defaults_are_the_chapters_example():
    ex = ConvExplorer()
    np.testing.assert_array_equal(ex.image, EXAMPLE_IMAGE)
    np.testing.assert_array_equal(ex.filter, FILTERS["edge"])
    assert (ex.stride, ex.padding, ex.position) == (1, 0, 0)
    assert ex.output_shape == (3, 3)
    np.testing.assert_array_equal(
        ex.output(), [[-4, 16, 20], [-8, 16, 24], [-4, 16, 20]]
    )


def test_presets_reuse_the_chapters_filters():
    for name, w in FILTERS.items():
        np.testing.assert_array_equal(PRESET_FILTERS[name], w)
    assert {"identity", "edge", "blur", "sharpen", "shift"} <= set(PRESET_FILTERS)
    np.testing.assert_array_equal(PRESET_IMAGES["example"], EXAMPLE_IMAGE)
    state = ConvExplorer().get_state()
    assert state["presets"][3] == ["sharpen", FILTERS["sharpen"].tolist()]
    assert [name for name, _ in state["presets"]] == list(PRESET_FILTERS)
    assert state["images"][0] == ["example", EXAMPLE_IMAGE.tolist()]


def test_shift_preset_moves_the_image_up_with_padding_1():
    x = np.arange(25.0).reshape(5, 5)
    out = conv.conv2d(x[None, None], PRESET_FILTERS["shift"][None, None], padding=1)
    np.testing.assert_array_equal(out[0, 0, :-1], x[1:])
    np.testing.assert_array_equal(out[0, 0, -1], 0)


def test_output_shape_follows_stride_and_padding():
    ex = ConvExplorer(EXAMPLE_IMAGE, FILTERS["blur"], stride=2, padding=1)
    assert ex.output_shape == conv.output_size((5, 5), (3, 3), 2, 1) == (3, 3)
    expected = conv.conv2d(
        EXAMPLE_IMAGE[None, None], FILTERS["blur"][None, None], None, 2, 1
    )[0, 0]
    np.testing.assert_allclose(ex.output(), expected)


def test_position_is_kept_inside_a_smaller_output():
    ex = ConvExplorer(padding=2, position=48)  # 7 x 7 output, last pixel
    assert ex.pixel == (6, 6)
    ex.padding = 0  # 3 x 3
    assert ex.position == 8 and ex.pixel == (2, 2)
    ex.stride = 3  # 1 x 1
    assert ex.position == 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"image": np.ones(5)}, r"image must have shape \(n, n\), got \(5,\)"),
        (
            {"image": np.ones((2, 5))},
            r"10x10 pixels, got shape \(2, 5\)",
        ),
        ({"image": np.ones((11, 4))}, r"got shape \(11, 4\)"),
        ({"filter": np.ones((5, 5))}, r"filter must have shape \(3, 3\), got \(5, 5\)"),
        ({"stride": 4}, "stride must be 1, 2 or 3, got 4"),
        ({"padding": -1}, "padding must be 0, 1 or 2, got -1"),
        ({"position": 9}, r"position must be an output pixel 0..8 .* got 9"),
    ],
)
def test_bad_values_raise_value_errors_naming_them(changes, message):
    ex = ConvExplorer()
    with pytest.raises(ValueError, match=message):
        for name, value in changes.items():
            setattr(ex, name, value)


def test_describe_is_a_sentence_of_the_state():
    ex = ConvExplorer()
    assert repr(ex) == (
        "ConvExplorer: 5x5 image, edge 3x3 filter, stride 1, padding 0 -> 3x3 output; "
        "window on output pixel (0, 0) = -4"
    )
    ex.filter = np.eye(3)
    ex.position = 4
    assert "custom 3x3 filter" in repr(ex)
    assert repr(ex).endswith("(1, 1) = 12")
    ex.filter = PRESET_FILTERS["blur"]
    assert "blur 3x3 filter" in repr(ex) and repr(ex).endswith("= 3.111")  # 28 / 9


def test_state_round_trip_as_the_browser_sends_it():
    ex = ConvExplorer()
    state = ex.get_state()
    assert state["image"] == EXAMPLE_IMAGE.tolist()
    assert state["filter"] == FILTERS["edge"].tolist()
    assert (state["stride"], state["padding"], state["position"]) == (1, 0, 0)
    drawn = [[0, 1, 0], [1, -4, 1], [0, 1, 0]]
    ex.set_state({"filter": drawn, "stride": 2, "padding": 1, "position": 8})
    assert isinstance(ex.filter, np.ndarray)
    np.testing.assert_array_equal(ex.filter, drawn)
    assert (ex.stride, ex.padding, ex.position, ex.pixel) == (2, 1, 8, (2, 2))
    ex.image = np.zeros((4, 6))  # from Python: the browser gets nested lists
    assert ex.get_state()["image"] == np.zeros((4, 6)).tolist()


def test_the_bundles_hold_the_modules_and_the_css():
    assert ConvExplorer._esm == bundle("conv.js")
    assert ConvVolumeExplorer._esm == bundle("conv_volume.js")
    for cls in (ConvExplorer, ConvVolumeExplorer):
        assert "export function conv2d" in cls._esm  # lamath.js inlined
        assert ".la-explorable" in cls._css and ".la-conv" in cls._css
    assert "toeplitzRow(" in ConvExplorer._esm and "im2colColumn(" in ConvExplorer._esm


def test_volume_explorer_sums_over_three_channels():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, (3, 5, 5))
    w = rng.integers(-1, 2, (3, 3, 3))
    vol = ConvVolumeExplorer(x, w, stride=1, padding=1, position=7)
    assert vol.output_shape == (5, 5) and vol.pixel == (1, 2)
    expected = conv.conv2d(x[None].astype(float), w[None].astype(float), padding=1)
    np.testing.assert_allclose(vol.output(), expected[0, 0])
    per_channel = sum(
        conv.conv2d(x[None, c : c + 1] * 1.0, w[None, c : c + 1] * 1.0, padding=1)
        for c in range(3)
    )
    np.testing.assert_allclose(vol.output(), per_channel[0, 0])
    assert repr(vol).startswith("ConvVolumeExplorer: 3x5x5 image, 3x3x3 filter, ")
    with pytest.raises(ValueError, match=r"image must have shape \(3, n, n\)"):
        vol.image = np.ones((2, 5, 5))
    with pytest.raises(ValueError, match=r"filter must have shape \(3, 3, 3\)"):
        vol.filter = np.ones((3, 3))
    vol.set_state({"filter": np.zeros((3, 3, 3)).tolist()})
    assert not vol.output().any()


def test_stamp_explorer_fills_in_as_lalib_stamps(rng):
    x, w = rng.standard_normal((3, 4)), rng.standard_normal((3, 3))
    explorer = StampExplorer(x, w, stride=2, stamped=5)
    assert explorer._esm == bundle("transpose.js") and "la-conv" in explorer._css
    assert explorer.output_shape == (7, 9)
    # after 5 stamps: pixels (0, 0..3) and (1, 0), each the kernel times its value
    expected = np.zeros((7, 9))
    for i, j in [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0)]:
        expected[2 * i : 2 * i + 3, 2 * j : 2 * j + 3] += x[i, j] * w
    np.testing.assert_allclose(explorer.output(), expected, atol=1e-12)
    explorer.stamped = 12
    full = conv.conv_transpose2d(x[None, None], w[None, None], stride=2)[0, 0]
    np.testing.assert_allclose(explorer.output(), full, atol=1e-12)
    assert repr(explorer) == (
        "StampExplorer: 3x4 image, 3x3 kernel, stride 2: 12 of 12 pixels stamped "
        "into a 7x9 output"
    )
    explorer.image = np.ones((2, 2))  # 4 pixels: `stamped` follows
    assert explorer.stamped == 4


def test_stamp_explorer_counts_the_checkerboard_by_default():
    counts = StampExplorer().output()
    interior = counts[2:7, 2:7]  # away from the border: 4, 2, 2, 1 by parity
    assert set(np.unique(counts)) == {1.0, 2.0, 4.0}
    assert (interior[::2, ::2] == 4).all() and (interior[1::2, 1::2] == 1).all()
    even = StampExplorer(kernel=np.ones((4, 4))).output()
    assert (even[2:-2, 2:-2] == 4).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"image": np.ones((6, 2))},
            r"image must be between 2x2 and 5x5 pixels, got shape \(6, 2\)",
        ),
        (
            {"kernel": np.ones((2, 3))},
            r"kernel must be square, 2x2 to 4x4, got shape \(2, 3\)",
        ),
        (
            {"kernel": np.ones((5, 5))},
            r"kernel must be square, 2x2 to 4x4, got shape \(5, 5\)",
        ),
        ({"stride": 4}, "stride must be 1, 2 or 3, got 4"),
        (
            {"stamped": 17},
            r"stamped must be 0..16 \(the \(4, 4\) image's pixels\), got 17",
        ),
        ({"stamped": -1}, r"stamped must be 0..16"),
    ],
)
def test_stamp_explorer_refuses_what_it_cannot_draw(kwargs, message):
    with pytest.raises((ValueError, traitlets.TraitError), match=message):
        StampExplorer(**kwargs)
