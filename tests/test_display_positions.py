"""lalib.display.positions: the encoding heat map and the circle of one column pair
draw the numbers `lalib.positions` computed, where the docstrings say."""

import numpy as np

from lalib import positions
from lalib.display.figures import new_figure
from lalib.display.positions import plot_encoding, plot_pair_on_circle


def test_plot_encoding_shows_the_table_on_a_fixed_colour_scale():
    PE = positions.sinusoidal_encoding(16, 8)
    fig, ax = new_figure(figsize=(3, 3))
    image = plot_encoding(ax, PE)
    assert np.array_equal(image.get_array(), PE)
    assert image.get_clim() == (-1, 1)
    assert ax.get_ylabel() == "position p"


def test_plot_pair_on_circle_puts_position_p_at_angle_p_theta():
    PE = positions.sinusoidal_encoding(12, 8)
    theta = positions.rope_frequencies(8)
    fig, ax = new_figure(figsize=(3, 3))
    plot_pair_on_circle(ax, PE, pair=1, positions=range(0, 12, 2), step=2)
    points = ax.collections[0].get_offsets()
    angles = np.arctan2(points[:, 1], points[:, 0])  # (6,)
    expected = np.angle(np.exp(1j * np.arange(0, 12, 2) * theta[1]))
    np.testing.assert_allclose(angles, expected, atol=1e-12)
    labels = [t.get_text() for t in ax.texts if t.get_text()]
    assert labels == ["0", "2", "4", "6", "8", "10"]
    arrows = [t for t in ax.texts if not t.get_text()]
    assert len(arrows) == 5  # from each labelled point to the one 2 positions later
