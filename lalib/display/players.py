"""Players: widgets that keep working in the static book, where no kernel runs.

The pattern: render every state a control can reach to a PNG up front, put the frames
in (nested) ``ipywidgets.Stack`` containers, and tie each control to the Stacks'
``selected_index`` with ``jslink``. The links run in the browser, so the rendered book
animates from the widget state stored in the notebook, and Jupyter behaves the same.
"""

import itertools

import ipywidgets as widgets

from lalib.display.figures import figure_png


def _control(name, labels, play_interval=None, start=0):
    """A SelectionSlider over `labels` (plus a Play button when `play_interval` is set).

    Returns ``(box, slider, links)``: the widget to show, the one whose ``index`` to
    link, and the client-side links made here.
    """
    links = []
    slider = widgets.SelectionSlider(
        options=list(labels),
        value=labels[start],
        description=name,
        continuous_update=True,
        layout=widgets.Layout(width="420px"),
        style={"description_width": "initial"},
    )
    if play_interval is None:
        return slider, slider, links
    play = widgets.Play(
        value=start,
        min=0,
        max=len(labels) - 1,
        step=1,
        interval=play_interval,
        description=f"Play {name}",
    )
    links.append(widgets.jslink((play, "value"), (slider, "index")))
    return widgets.HBox([play, slider]), slider, links


def precomputed_player(
    render, axes, play=None, interval=400, dpi=72, width=None, initial=None
):
    """A widget showing ``render(**values)`` for every combination of control values.

    Parameters
    ----------
    render : callable
        ``render(**values) -> matplotlib.figure.Figure``; called once per combination,
        here and now, so the result responds to its controls without a kernel.
    axes : dict of str -> dict of str -> object
        One entry per control, in display order: its name and a mapping from the label
        a reader sees to the value passed to `render` under that name.
    play : str, optional
        The name of the axis that gets a Play button (an animation over its values).
    interval : int
        Milliseconds between Play steps.
    dpi : int
        Resolution of the frames; frames are stored in the notebook, so keep them small.
    width : str, optional
        CSS width of the image, e.g. ``"480px"``.
    initial : dict of str -> str, optional
        The label each named axis starts at (default: its first label), so a page can
        open on the most telling frame rather than the first one.

    Returns
    -------
    ipywidgets.VBox
        Controls above the frames. ``.frames`` holds the PNG bytes by label tuple and
        ``.links`` the ``jslink`` objects that make it work without a kernel.
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

    frames = {}
    for combo in itertools.product(*labels):
        values = {n: axes[n][lab] for n, lab in zip(names, combo, strict=True)}
        frames[combo] = figure_png(render(**values), dpi=dpi)

    layout = widgets.Layout(width=width) if width else widgets.Layout()
    stacks_at_depth = [[] for _ in names]

    def build(depth, prefix):
        if depth == len(names):
            return widgets.Image(value=frames[prefix], format="png", layout=layout)
        stack = widgets.Stack(
            [build(depth + 1, prefix + (lab,)) for lab in labels[depth]],
            selected_index=start[depth],
        )
        stacks_at_depth[depth].append(stack)
        return stack

    root = build(0, ())
    controls, links = [], []
    for depth, name in enumerate(names):
        box, slider, play_links = _control(
            name, labels[depth], interval if name == play else None, start[depth]
        )
        links += play_links
        for stack in stacks_at_depth[depth]:
            links.append(widgets.jslink((slider, "index"), (stack, "selected_index")))
        controls.append(box)
    player = widgets.VBox(controls + [root])
    player.frames = frames
    player.links = links
    return player
