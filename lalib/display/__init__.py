"""Display code for the book: figures, explorables and the frame player.

Everything here draws or shows; nothing computes what a chapter teaches. The numbers
come from the kernel modules (`lalib.conv`, `lalib.attention`, ...) or, for chapter 7,
from `benchmarks.report`, and are passed in.

- `lalib.display.figures`: bare matplotlib figures, their PNG frames, and annotated
  matrices (a heatmap with its numbers in the cells).
- `lalib.display.explorable`: the base of the explorables, anywidget widgets whose
  Python side holds NumPy inputs as synced traits and whose ES module (in ``js/``)
  draws and recomputes in the browser, with ``js/lamath.js`` (the browser's copy of
  the kernels it needs). They work in Jupyter and in the static book alike.
- `lalib.display.players`: `FramePlayer` and `precomputed_player`, for pictures a
  browser cannot compute (a trained model's snapshots): every state prepared up front,
  shown one at a time with named controls and an alt text per frame.
- One module of pictures per chapter: `plane` (chapter 1), `conv` (2), `attention`
  (3), `layers` (4 and 5), `why` (6), `engine` (7), `backprop` (8), `positions` and
  `rope` (9), `transformer` and `layernorm` (10).

This package needs the ``book`` extra (matplotlib, ipywidgets, anywidget). Nothing in
the kernel modules imports it, so ``import lalib.conv`` still needs NumPy alone
(``tests/test_layering.py`` checks that).
"""
