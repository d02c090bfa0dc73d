"""Frame players: figures of states the browser cannot compute, stored up front.

Most figures of the book are explorables that recompute in the reader's browser. A few
show what only Python can produce (a trained model's snapshots, measured timings);
`FramePlayer` shows those. Each *frame* is either a PNG rendered at twice its CSS size
(crisp on high-density screens) or, better, a small bar chart the browser draws in SVG
from its numbers. Controls: a labelled range for an ordered axis, a ``<select>`` for a
categorical one, and a Play/Pause button for the axis that animates; every frame has a
real alt text, and the current selection is written out as text. The frames travel
in the widget's stored state, so the static book needs no kernel.
"""

import base64
import itertools
import numbers

import traitlets

from lalib.display.explorable import JS_DIR, Explorable
from lalib.display.figures import figure_png

__all__ = ["FramePlayer", "precomputed_player"]


class FramePlayer(Explorable):
    """Controls over one or more axes and the frame of the selected combination.

    Parameters
    ----------
    axes : list of dict
        One per control, in display order: ``{"name": str, "labels": [str, ...],
        "ordered": bool}``. An ordered axis gets a range input, a categorical one a
        drop-down.
    alts : list of str
        The alt text of every frame, in the order of ``itertools.product`` over the
        axes' labels (the last axis varies fastest).
    images : list of str, optional
        Base64 PNG bytes of every frame, in the same order (``kind="png"``).
    charts : list of dict, optional
        Horizontal bar charts, one per frame (``kind="bars"``): ``{"title": str,
        "unit": str, "log_range": [lo, hi], "bars": [[label, value or None, colour],
        ...]}``; a None value is drawn as "not run". With ``kind="digits"``:
        ``{"title": str, "probs": [[p_0, ..., p_9], ...]}``, one row of class
        probabilities per digit of ``shared``.
    kind : {"png", "bars", "digits"}, optional
        What a frame is; by default "png" if `images` are given, else "bars".
    shared : dict, optional
        Data every frame uses (``kind="digits"``: ``{"digits": rows of 64 grey levels
        in [0, 1], "labels": their classes, "legend": str}``).
    index : list of int, optional
        The selected label of each axis (default: the first of each).
    play : str, optional
        The axis that gets a Play/Pause button.
    interval : int
        Milliseconds between Play steps.
    width : str, optional
        CSS width of a PNG frame (e.g. ``"480px"``; it never exceeds the page width).
    label : str
        The figure's accessible name.

    Examples
    --------
    ``player.index = [2]`` selects the third frame (the browser follows);
    ``player.selection`` is ``{axis name: label}`` of what is shown.
    """

    _module = "frames.js"

    axes = traitlets.List(traitlets.Dict()).tag(sync=True)
    index = traitlets.List(traitlets.Int()).tag(sync=True)
    kind = traitlets.Enum(("png", "bars", "digits"), "png").tag(sync=True)
    shared = traitlets.Dict().tag(sync=True)
    images = traitlets.List(traitlets.Unicode()).tag(sync=True)
    charts = traitlets.List(traitlets.Dict()).tag(sync=True)
    alts = traitlets.List(traitlets.Unicode()).tag(sync=True)
    play = traitlets.Unicode("").tag(sync=True)
    interval = traitlets.Int(400).tag(sync=True)
    width = traitlets.Unicode("").tag(sync=True)
    label = traitlets.Unicode("Frame player").tag(sync=True)

    def __init__(
        self, axes, alts, images=(), charts=(), index=None, kind=None, **kwargs
    ):
        axes = [
            {
                "name": str(a["name"]),
                "labels": [str(t) for t in a["labels"]],
                "ordered": bool(a.get("ordered", True)),
            }
            for a in axes
        ]
        if not axes:
            raise ValueError("a FramePlayer needs at least one axis")
        if any(len(a["labels"]) == 0 for a in axes):
            raise ValueError("every axis needs at least one value")
        n = 1
        for a in axes:
            n *= len(a["labels"])
        images, charts, alts = list(images), list(charts), [str(t) for t in alts]
        if bool(images) == bool(charts):
            raise ValueError("give either images (PNG frames) or charts, not both")
        frames = images or charts
        if len(frames) != n or len(alts) != n:
            raise ValueError(
                f"{n} combinations of the axes need {n} frames and {n} alt texts, "
                f"got {len(frames)} frames and {len(alts)} alt texts"
            )
        if kind is None:
            kind = "png" if images else "bars"
        if (kind == "png") != bool(images):
            raise ValueError(
                f"kind={kind!r} frames need {'images' if kind == 'png' else 'charts'}"
            )
        super().__init__(
            axes=axes,
            alts=alts,
            images=images,
            charts=charts,
            kind=kind,
            index=[0] * len(axes) if index is None else list(index),
            **kwargs,
        )
        if self.play and self.play not in [a["name"] for a in axes]:
            raise ValueError(
                f"play={self.play!r} is not one of the axes {[a['name'] for a in axes]}"
            )

    @traitlets.validate("index")
    def _check_index(self, proposal):
        index = list(proposal["value"])
        sizes = [len(a["labels"]) for a in self.axes]
        if len(index) != len(sizes) or any(
            not 0 <= i < n for i, n in zip(index, sizes, strict=False)
        ):
            raise ValueError(
                f"index must hold one position per axis within sizes {sizes}, "
                f"got {index}"
            )
        return index

    @property
    def flat_index(self):
        """Position of the shown frame in `images` / `charts` / `alts`."""
        k = 0
        for a, i in zip(self.axes, self.index, strict=True):
            k = k * len(a["labels"]) + i
        return k

    @property
    def selection(self):
        """``{axis name: label}`` of the frame shown."""
        return {
            a["name"]: a["labels"][i]
            for a, i in zip(self.axes, self.index, strict=True)
        }

    def describe(self):
        chosen = ", ".join(f"{k} = {v}" for k, v in self.selection.items())
        n = len(self.alts)
        return (
            f"{type(self).__name__} of {n} frames, showing {chosen}: "
            + (self.alts[self.flat_index])
        )


def _is_ordered(values):
    return all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values)


def precomputed_player(
    render, axes, play=None, interval=400, dpi=72, width=None, initial=None, alt=None
):
    """A `FramePlayer` showing ``render(**values)`` for every combination of values.

    Parameters
    ----------
    render : callable
        ``render(**values) -> matplotlib.figure.Figure``; called once per combination,
        here and now, so the result responds to its controls without a kernel.
    axes : dict of str -> dict of str -> object
        One entry per control, in display order: its name and a mapping from the label
        a reader sees to the value passed to `render` under that name. An axis whose
        values are all numbers, or the `play` axis, gets a range input; any other a
        drop-down.
    play : str, optional
        The name of the axis that gets a Play/Pause button.
    interval : int
        Milliseconds between Play steps.
    dpi : int
        CSS pixels per inch of the figure; the PNG is rendered at twice that, so it is
        crisp on high-density screens. Frames are stored in the page: keep them few.
    width : str, optional
        CSS width of the image (default: the figure's width at `dpi`).
    initial : dict of str -> str, optional
        The label each named axis starts at (default: its first label).
    alt : callable, optional
        ``alt(**values) -> str``, the alt text of each frame: what it shows, with its
        numbers. Give it; without it the alt text only names the selection.

    Returns
    -------
    FramePlayer
        ``.frames`` holds the PNG bytes by label tuple.
    """
    names = list(axes)
    if not names:
        raise ValueError("precomputed_player needs at least one axis")
    if play is not None and play not in axes:
        raise ValueError(f"play={play!r} is not one of the axes {names}")
    labels = [list(axes[n]) for n in names]
    if any(len(ls) == 0 for ls in labels):
        raise ValueError("every axis needs at least one value")
    initial = dict(initial or {})
    for name, label in initial.items():
        if name not in axes or label not in axes[name]:
            raise ValueError(
                f"initial[{name!r}] = {label!r} is not a label of an axis {names}"
            )
    start = [
        labels[d].index(initial[n]) if n in initial else 0 for d, n in enumerate(names)
    ]

    frames, alts, css_width = {}, [], width
    for combo in itertools.product(*labels):
        values = {n: axes[n][lab] for n, lab in zip(names, combo, strict=True)}
        fig = render(**values)
        if css_width is None:
            css_width = f"{round(fig.get_size_inches()[0] * dpi)}px"
        frames[combo] = figure_png(fig, dpi=2 * dpi)
        if alt is not None:
            alts.append(str(alt(**values)))
        else:
            alts.append(
                "Frame for "
                + ", ".join(f"{n} {lab}" for n, lab in zip(names, combo, strict=True))
            )
    player = FramePlayer(
        axes=[
            {
                "name": n,
                "labels": labels[d],
                "ordered": n == play or _is_ordered(axes[n].values()),
            }
            for d, n in enumerate(names)
        ],
        alts=alts,
        images=[base64.b64encode(png).decode("ascii") for png in frames.values()],
        index=start,
        play=play or "",
        interval=interval,
        width=css_width,
        label="Figure with controls over " + ", ".join(names),
    )
    player.frames = frames
    return player


FramePlayer._css = FramePlayer._css + (JS_DIR / "frames.css").read_text(
    encoding="utf-8"
)
