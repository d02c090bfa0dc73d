"""The convolution shapes every conv test runs on (readable and engine alike)."""

# (N, C, H, W, F, KH, KW, stride, padding): batch 1, C > 1, rectangular kernels and
# images, stride > 1, padding, per-axis pairs, a kernel as large as the padded input,
# 1x1 kernels.
CASES = [
    (1, 1, 5, 5, 1, 3, 3, 1, 0),  # the chapter's 3x3 filter over a 5x5 image
    (2, 3, 7, 6, 4, 3, 2, 2, 1),
    (1, 2, 6, 8, 3, 2, 3, 1, (1, 2)),  # the most padding a 2x3 kernel allows
    (3, 1, 9, 9, 2, 3, 3, 3, 0),
    (2, 2, 5, 7, 2, 1, 1, 2, 0),
    (1, 3, 4, 4, 2, 4, 4, 1, 0),  # kernel = whole image: a 1x1 output
    (2, 2, 3, 3, 3, 5, 5, 1, 1),  # kernel = whole padded image
    (2, 1, 6, 7, 2, 2, 3, (2, 1), (0, 2)),
    (1, 4, 8, 5, 3, 3, 3, 2, 2),  # stride that does not divide the padded size
]
IDS = [
    f"N{c[0]}C{c[1]}H{c[2]}W{c[3]}F{c[4]}K{c[5]}x{c[6]}s{c[7]}p{c[8]}" for c in CASES
]
