"""Display code for the book: figures and kernel-free players.

Everything here draws or shows; nothing computes what a chapter teaches. The numbers
come from the kernel modules (`lalib.conv`, `lalib.attention`, ...) or, for chapter 7,
from `benchmarks.report`, and are passed in.

- `lalib.display.figures`: bare matplotlib figures, their PNG frames, and annotated
  matrices (a heatmap with its numbers in the cells).
- `lalib.display.players`: `precomputed_player`, the widget that renders every state
  of its controls up front and links them in the browser, so it works in the static
  book without a kernel.
- One module of pictures per chapter: `plane` (chapter 1), `conv` (2), `attention`
  (3), `layers` (4 and 5), `why` (6), `engine` (7).
- Browser widgets (figures that recompute in the page, without Python) will live here
  too.

This package needs the ``book`` extra (matplotlib, ipywidgets). Nothing in the kernel
modules imports it, so ``import lalib.conv`` still needs NumPy alone
(``tests/test_layering.py`` checks that).
"""
