"""lalib.display.attention: the memory plot of chapter 3 labels what was measured."""

import numpy as np

from lalib.display.attention import plot_memory
from lalib.display.figures import new_figure


def test_plot_memory_labels_each_n_once_without_collisions():
    ns = [512, 1024, 2048, 4096]
    fig, ax = new_figure(figsize=(5, 3.2))
    plot_memory(ax, ns, [1.3, 4.5, 17.0, 66.0], [0.8, 0.9, 1.2, 1.7])
    fig.canvas.draw()
    labels = [t for t in ax.get_xticklabels() if t.get_text()]
    assert [t.get_text() for t in labels] == ["512", "1024", "2048", "4096"]
    assert not ax.xaxis.get_minorticklocs().size
    boxes = [t.get_window_extent() for t in labels]
    assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:], strict=False))
    y = [float(t.get_text()) for t in ax.get_yticklabels() if t.get_text()]
    assert y == [2.0**k for k in range(-1, 8)]  # powers of 2 MiB around 0.8 .. 66
    dense, blockwise = (line.get_ydata() for line in ax.get_lines()[:2])
    assert np.array_equal(dense, [1.3, 4.5, 17.0, 66.0])
    assert np.array_equal(blockwise, [0.8, 0.9, 1.2, 1.7])
