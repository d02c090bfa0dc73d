"""Pictures of convolutions, and the explorers that compute one in the reader's browser.

Display code only (matplotlib, anywidget). The Python side takes arrays and returns
arrays; the numbers it states come from `lalib.conv`, and the explorers' ES modules
(``js/conv.js``, ``js/conv_volume.js``, ``js/transpose.js``) recompute the same
numbers with ``js/lamath.js`` whenever the reader acts, in Jupyter and in the static
book alike.
"""

import numpy as np
import traitlets

from lalib import conv
from lalib.display.explorable import JS_DIR, Array, Explorable

#: Classic 3x3 filters, as (KH, KW) arrays. Cross-correlation: not flipped.
FILTERS = {
    "edge": np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]),  # Sobel x
    "blur": np.full((3, 3), 1.0 / 9.0),  # box filter: the mean of the window
    "sharpen": np.array([[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]]),
}

#: The filters the explorer offers as presets: the chapter's `FILTERS`, the identity
#: (the window's centre) and a shift (the pixel below the centre: with padding 1 the
#: output is the image moved up one row).
PRESET_FILTERS = {
    "identity": np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]),
    **FILTERS,
    "shift": np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
}

#: The chapter's 5 x 5 example: a bright block on the left, one brighter pixel.
EXAMPLE_IMAGE = np.array(
    [
        [4, 4, 4, 0, 0],
        [4, 4, 4, 0, 0],
        [4, 4, 8, 0, 0],
        [4, 4, 4, 0, 0],
        [4, 4, 4, 0, 0],
    ],
    dtype=float,
)

#: The images the explorer offers as presets, all 5 x 5.
PRESET_IMAGES = {
    "example": EXAMPLE_IMAGE,
    "one pixel": np.pad(np.ones((1, 1)), 2),  # a single 1 in the centre
    "horizontal edge": np.repeat([[4.0], [4.0], [0.0], [0.0], [0.0]], 5, axis=1),
    "zeros": np.zeros((5, 5)),
}

_MIN_SIDE, _MAX_SIDE = 3, 10  # image sides the explorers draw legibly
STRIDES, PADDINGS = (1, 2, 3), (0, 1, 2)


def _number(v):
    """A number for a sentence: integers bare, others with 4 significant digits."""
    v = float(v)
    return f"{v:.0f}" if v == round(v) else f"{v:.4g}"


class _ConvBase(Explorable):
    """What both explorers share: stride, padding, output pixel, validation."""

    stride = traitlets.Int(1).tag(sync=True)
    padding = traitlets.Int(0).tag(sync=True)
    position = traitlets.Int(0).tag(sync=True)

    def __init__(self, image=None, filter=None, stride=1, padding=0, position=0):
        kwargs = {"stride": stride, "padding": padding, "position": position}
        if image is not None:
            kwargs["image"] = image
        if filter is not None:
            kwargs["filter"] = filter
        super().__init__(**kwargs)

    @traitlets.validate("image")
    def _valid_image(self, proposal):
        image = proposal["value"]
        H, W = image.shape[-2:]
        if not (_MIN_SIDE <= H <= _MAX_SIDE and _MIN_SIDE <= W <= _MAX_SIDE):
            raise ValueError(
                f"image must be between {_MIN_SIDE}x{_MIN_SIDE} and "
                f"{_MAX_SIDE}x{_MAX_SIDE} pixels, got shape {image.shape}"
            )
        return image

    @traitlets.validate("stride")
    def _valid_stride(self, proposal):
        if proposal["value"] not in STRIDES:
            raise ValueError(f"stride must be 1, 2 or 3, got {proposal['value']}")
        return proposal["value"]

    @traitlets.validate("padding")
    def _valid_padding(self, proposal):
        if proposal["value"] not in PADDINGS:
            raise ValueError(f"padding must be 0, 1 or 2, got {proposal['value']}")
        return proposal["value"]

    @traitlets.validate("position")
    def _valid_position(self, proposal):
        p, n = proposal["value"], int(np.prod(self.output_shape))
        if not 0 <= p < n:
            raise ValueError(
                f"position must be an output pixel 0..{n - 1} (row-major in the "
                f"{self.output_shape} output), got {p}"
            )
        return p

    @traitlets.observe("image", "stride", "padding")
    def _keep_position_inside(self, change):
        last = int(np.prod(self.output_shape)) - 1
        if self.position > last:
            self.position = last

    @property
    def output_shape(self):
        """(H', W') for this image, stride and padding (`conv.output_size`)."""
        return conv.output_size(
            self.image.shape[-2:], (3, 3), self.stride, self.padding
        )

    @property
    def pixel(self):
        """The output pixel (i, j) that the window is on: ``divmod(position, W')``."""
        return divmod(self.position, self.output_shape[1])

    def output(self):
        """The whole output, computed by `lalib.conv.conv2d`: shape (H', W')."""
        x = self.image.reshape(-1, *self.image.shape[-2:])[None]  # (1, C, H, W)
        w = self.filter.reshape(1, -1, 3, 3)  # (1, C, 3, 3)
        return conv.conv2d(x, w, None, self.stride, self.padding)[0, 0]

    def _summary(self):
        Ho, Wo = self.output_shape
        i, j = self.pixel
        return (
            f"stride {self.stride}, padding {self.padding} -> {Ho}x{Wo} output; "
            f"window on output pixel ({i}, {j}) = {_number(self.output()[i, j])}"
        )


class ConvExplorer(_ConvBase):
    """A 3x3 convolution of one image, window by window, computed in the browser.

    The reader edits the image (click a pixel, or move a cursor with the arrow keys
    and type its value), the 3x3 filter (numbers or presets), the stride (1 to 3) and
    the padding (0 to 2, drawn as a ring of zeros), and picks an output pixel or
    presses Play. Linked views show the window on the padded input, the row of the
    Toeplitz matrix and the column of im2col for that output pixel, the dot product
    written out, and the output filling in.

    Parameters
    ----------
    image : array_like, shape (H, W), optional
        3 to 10 pixels a side; the chapter's 5 x 5 example by default.
    filter : array_like, shape (3, 3), optional
        The chapter's edge filter (Sobel x) by default.
    stride : {1, 2, 3}
    padding : {0, 1, 2}
    position : int
        The output pixel the window is on, row-major: ``i * W' + j``.

    Attributes
    ----------
    image, filter : ndarray
        What the reader drew, synced both ways: setting them from Python redraws.
    stride, padding, position : int
        Synced likewise.

    Examples
    --------
    >>> explorer = ConvExplorer(EXAMPLE_IMAGE, FILTERS["edge"])
    >>> explorer.output_shape
    (3, 3)
    >>> explorer.padding = 1
    >>> explorer.output_shape
    (5, 5)
    """

    _module = "conv.js"
    image = Array((None, None), default_value=EXAMPLE_IMAGE)
    filter = Array((3, 3), default_value=FILTERS["edge"])
    # Presets as [name, matrix] pairs: a list keeps their order in the stored state.
    presets = traitlets.List([[k, v.tolist()] for k, v in PRESET_FILTERS.items()])
    presets.tag(sync=True)
    images = traitlets.List([[k, v.tolist()] for k, v in PRESET_IMAGES.items()])
    images.tag(sync=True)

    def describe(self):
        H, W = self.image.shape
        name = next(
            (k for k, v in PRESET_FILTERS.items() if np.array_equal(v, self.filter)),
            "custom",
        )
        return f"ConvExplorer: {H}x{W} image, {name} 3x3 filter, {self._summary()}"


class ConvVolumeExplorer(_ConvBase):
    """C = 3 input channels into one output channel: the window as a volume.

    The window spans all three channels; the output pixel is the sum over channels of
    each channel's window times that channel's slice of the filter. The reader edits
    the filter's 27 numbers, the stride and the padding, and picks an output pixel or
    presses Play; the three per-channel dot products and their sum are written out.

    Parameters
    ----------
    image : array_like, shape (3, H, W), optional
        3 to 10 pixels a side.
    filter : array_like, shape (3, 3, 3), optional
        One (3, 3) slice per input channel.
    stride : {1, 2, 3}
    padding : {0, 1, 2}
    position : int
        The output pixel, row-major: ``i * W' + j``.

    Attributes
    ----------
    image, filter : ndarray
        Synced both ways: setting them from Python redraws.
    stride, padding, position : int
        Synced likewise.
    """

    _module = "conv_volume.js"
    image = Array(
        (3, None, None),
        default_value=np.stack([EXAMPLE_IMAGE, EXAMPLE_IMAGE.T, 8 - EXAMPLE_IMAGE]),
    )
    filter = Array(
        (3, 3, 3),
        default_value=np.stack(
            [FILTERS["edge"], FILTERS["edge"].T, PRESET_FILTERS["identity"]]
        ),
    )

    def describe(self):
        C, H, W = self.image.shape
        return f"ConvVolumeExplorer: {C}x{H}x{W} image, 3x3x3 filter, {self._summary()}"


#: The kernels the stamp explorer offers, as [name, (K, K) list] pairs: with a kernel
#: of ones on an image of ones, each output number counts the stamps it received.
STAMP_KERNELS = {
    "3x3 ones": np.ones((3, 3)),
    "4x4 ones": np.ones((4, 4)),
    "2x2 ones": np.ones((2, 2)),
}


class StampExplorer(Explorable):
    """The transposed convolution as stamps, pixel by pixel, computed in the browser.

    Each input pixel stamps the kernel, scaled by its value, onto the output, `stride`
    pixels further along than its neighbour; where stamps overlap they add up
    (`lalib.conv.conv_transpose2d`, one channel, no padding). The reader picks a
    kernel and a stride, and steps through the input pixels (or presses Play): the
    output fills in, the current stamp outlined. On an image of ones a kernel of ones
    makes each output number a count of stamps, and the checkerboard of a 3 x 3
    kernel at stride 2 appears.

    Parameters
    ----------
    image : array_like, shape (H, W), optional
        2 to 5 pixels a side; 4 x 4 ones by default.
    kernel : array_like, shape (K, K), optional
        2 to 4 a side; 3 x 3 ones by default.
    stride : {1, 2, 3}
    stamped : int, optional
        How many input pixels (row-major) have stamped, 0 to H W; all by default.

    Attributes
    ----------
    image, kernel : ndarray
    stride, stamped : int
        Synced both ways: setting them from Python redraws.

    Examples
    --------
    >>> explorer = StampExplorer()
    >>> explorer.output().astype(int)[:3, :3]
    array([[1, 1, 2],
           [1, 1, 2],
           [2, 2, 4]])
    >>> explorer.output_shape
    (9, 9)
    """

    _module = "transpose.js"
    image = Array((None, None), default_value=np.ones((4, 4)))
    kernel = Array((None, None), default_value=STAMP_KERNELS["3x3 ones"])
    stride = traitlets.Int(2).tag(sync=True)
    stamped = traitlets.Int(16).tag(sync=True)
    kernels = traitlets.List([[k, v.tolist()] for k, v in STAMP_KERNELS.items()])
    kernels.tag(sync=True)

    def __init__(self, image=None, kernel=None, stride=2, stamped=None):
        kwargs = {"stride": stride}
        if image is not None:
            kwargs["image"] = image
        if kernel is not None:
            kwargs["kernel"] = kernel
        super().__init__(**kwargs)
        self.stamped = self.image.size if stamped is None else stamped

    @traitlets.validate("image")
    def _valid_image(self, proposal):
        image = proposal["value"]
        if not (2 <= image.shape[0] <= 5 and 2 <= image.shape[1] <= 5):
            raise ValueError(
                f"image must be between 2x2 and 5x5 pixels, got shape {image.shape}"
            )
        return image

    @traitlets.validate("kernel")
    def _valid_kernel(self, proposal):
        kernel = proposal["value"]
        if kernel.shape[0] != kernel.shape[1] or not 2 <= kernel.shape[0] <= 4:
            raise ValueError(
                f"kernel must be square, 2x2 to 4x4, got shape {kernel.shape}"
            )
        return kernel

    @traitlets.validate("stride")
    def _valid_stride(self, proposal):
        if proposal["value"] not in STRIDES:
            raise ValueError(f"stride must be 1, 2 or 3, got {proposal['value']}")
        return proposal["value"]

    @traitlets.validate("stamped")
    def _valid_stamped(self, proposal):
        n = self.image.size
        if not 0 <= proposal["value"] <= n:
            raise ValueError(
                f"stamped must be 0..{n} (the {self.image.shape} image's pixels), "
                f"got {proposal['value']}"
            )
        return proposal["value"]

    @traitlets.observe("image")
    def _keep_stamped_inside(self, change):
        self.stamped = min(self.stamped, self.image.size)

    @property
    def output_shape(self):
        """((H - 1) stride + K, (W - 1) stride + K)."""
        (H, W), K = self.image.shape, self.kernel.shape[0]
        return ((H - 1) * self.stride + K, (W - 1) * self.stride + K)

    def output(self):
        """The output after `stamped` pixels, by `lalib.conv.conv_transpose2d` on the
        image with the later pixels set to 0: shape `output_shape`."""
        H, W = self.image.shape
        shown = np.where(np.arange(H * W).reshape(H, W) < self.stamped, self.image, 0.0)
        w = self.kernel[None, None]
        return conv.conv_transpose2d(shown[None, None], w, stride=self.stride)[0, 0]

    def describe(self):
        (H, W), K = self.image.shape, self.kernel.shape[0]
        Ho, Wo = self.output_shape
        return (
            f"StampExplorer: {H}x{W} image, {K}x{K} kernel, stride {self.stride}: "
            f"{self.stamped} of {H * W} pixels stamped into a {Ho}x{Wo} output"
        )


_CSS = (JS_DIR / "conv.css").read_text(encoding="utf-8")
ConvExplorer._css = ConvExplorer._css + _CSS
ConvVolumeExplorer._css = ConvVolumeExplorer._css + _CSS
StampExplorer._css = StampExplorer._css + _CSS


def plot_images(axes, images, titles, cmap="gray", symmetric=None):
    """Show images side by side, each on its own colour scale.

    Parameters
    ----------
    axes : sequence of Axes
    images : sequence of ndarray, shape (H, W)
    titles : sequence of str
    cmap : str
        Colour map for images that are not in `symmetric`.
    symmetric : set of int, optional
        Indices of signed images (edge responses): drawn with a diverging map centred
        on zero.
    """
    symmetric = set() if symmetric is None else set(symmetric)
    for k, (ax, img, title) in enumerate(zip(axes, images, titles, strict=False)):
        if k in symmetric:  # clip the rare extremes so that typical responses show
            lim = float(np.percentile(np.abs(img), 99.5)) or 1.0
            ax.imshow(img, cmap="RdBu_r", vmin=-lim, vmax=lim)
        else:
            ax.imshow(img, cmap=cmap)
        ax.set_title(title, fontsize=9)
        ax.axis("off")


def plot_sparsity(ax, T, title):
    """Picture of a Toeplitz matrix: nonzeros coloured by value, zeros white."""
    lim = float(np.abs(T).max()) or 1.0
    ax.imshow(
        np.where(T == 0, np.nan, T),
        cmap="RdBu_r",
        vmin=-lim,
        vmax=lim,
        interpolation="nearest",
    )
    nnz = int(np.count_nonzero(T))
    ax.set_title(
        f"{title}\n{T.shape[0]} x {T.shape[1]}, {nnz} nonzeros "
        f"({100 * nnz / T.size:.1f} %)",
        fontsize=10,
    )
    ax.set_xlabel("input pixel (flattened)", fontsize=9)
    ax.set_ylabel("output pixel (flattened)", fontsize=9)


def plot_timings(ax, sizes, seconds, title=None):
    """Log-log plot of run time against image side for several methods.

    Parameters
    ----------
    ax : Axes
    sizes : sequence of int
        Image side H = W.
    seconds : dict of str -> sequence of float
        Time per method; NaN where a method was not run.
    """
    for (name, ts), marker in zip(seconds.items(), "osd^v", strict=False):
        ax.loglog(sizes, ts, marker=marker, label=name)
    ax.set_xticks(list(sizes))
    ax.set_xticklabels([str(s) for s in sizes])
    ax.minorticks_off()
    ax.set_xlabel("image side H = W (pixels)")
    ax.set_ylabel("seconds (fastest of repeated runs)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=9)
    if title:
        ax.set_title(title, fontsize=10)
