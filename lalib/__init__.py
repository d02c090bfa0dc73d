"""lalib: the small NumPy library the book's lessons are built on.

One module per idea; every kernel is a free function, and forward functions return
``(out, cache)`` while backward functions take ``(dout, cache)``.

Dimension names used in every docstring:

======  ==========================================
N       batch size
D, M    input and output features of a linear map
C, F    input channels, filters (output channels)
H, W    image height and width
KH, KW  kernel height and width
K       number of classes (columns of a score matrix)
n_q     number of queries, n_k number of keys
d_k     query/key width, d_v value width
======  ==========================================

Display helpers (matplotlib, ipywidgets) live in :mod:`lalib.widgets` and are never
imported by the math modules, so ``import lalib`` needs NumPy alone.
"""

from lalib.linear import LinearLayer

__all__ = ["LinearLayer"]
__version__ = "0.1.0"
