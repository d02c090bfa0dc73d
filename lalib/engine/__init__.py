"""The fast engine: the same kernels as `lalib.conv` and `lalib.attention`, built for
speed.

The modules the chapters point to hold the versions the book teaches, written the way
the chapters write them. The tricks that make them fast on a CPU (columns built in
cache-sized blocks, reused scratch buffers, a softmax shared over the cores, queries
processed a block at a time) live here instead, with the same signatures, and the tests
check that both give the same numbers. The public entry points `lalib.conv.conv2d` and
`lalib.attention.scaled_dot_product_attention` call into this package; chapter 7,
"Matrix multiplication is the engine", explains and measures it.
"""
