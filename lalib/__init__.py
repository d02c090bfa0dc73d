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

The package is layered:

- The kernel modules (:mod:`lalib.linear`, :mod:`lalib.conv`, :mod:`lalib.attention`,
  ...) need NumPy alone (:mod:`lalib.timing`, the standard library alone); they are
  written the way the chapters teach them.
- :mod:`lalib.engine` holds fast versions of the convolution and attention kernels,
  with the same signatures and the same numbers; ``conv.conv2d`` and
  ``attention.scaled_dot_product_attention`` call into it.
- :mod:`lalib.display` (figures and widgets) and :mod:`lalib.exercises` (the chapters'
  exercise checkers) need the ``book`` extra (matplotlib, ipywidgets; it also brings
  scikit-learn, whose digits :func:`lalib.data.load_digits` loads on demand, and
  threadpoolctl for chapter 6). Nothing in the kernels imports them, so
  ``import lalib`` needs NumPy alone.
"""

from lalib.linear import LinearLayer

__all__ = ["LinearLayer"]
__version__ = "0.1.0"
