"""A computational graph drawn as a circuit, for the chapter "Backpropagation as linear
algebra".

`draw_graph` draws the gates of a `lalib.backprop` graph as circles (``+``, ``×``,
``max``) joined by wires, with the forward value of each wire above it and the gradient
of the loss with respect to that value below it, in another colour and style: the
picture CS231n draws for the gate rules. The numbers come from
`lalib.backprop.graph_forward` and `lalib.backprop.graph_backward`; nothing is computed
here.
"""

import numpy as np
from matplotlib.patches import Circle

__all__ = ["VALUE_COLOR", "GRAD_COLOR", "draw_graph", "graph_layout"]

#: Forward values (above the wires) and gradients (below), colour-blind safe.
VALUE_COLOR = "#1b7837"
GRAD_COLOR = "#b2182b"
_SYMBOL = {"add": "+", "mul": "×", "max": "max"}


def _number(v):
    return f"{float(v):.3g}"


def graph_layout(nodes, spacing=1.8):
    """Positions ``name -> (x, y)`` for the inputs and gates of `nodes`.

    Inputs are at x = 0, 1.2 apart vertically, in the order the gates first use
    them; a gate sits `spacing` to the right of its rightmost input, at the mean
    height of its named inputs.
    Constants are not placed (`draw_graph` puts them just below their gate).
    """
    pos = {}
    defined = {name for name, _, _ in nodes}
    inputs = []
    for _, _, args in nodes:
        for a in args:
            if isinstance(a, str) and a not in defined and a not in inputs:
                inputs.append(a)
    for i, name in enumerate(inputs):
        pos[name] = (0.0, 1.2 * (len(inputs) - 1 - i))  # the first on top
    for name, _, args in nodes:
        named = [pos[a] for a in args if isinstance(a, str)]
        col = spacing + max(c for c, _ in named)
        row = float(np.mean([r for _, r in named]))
        pos[name] = (col, row)
    return pos


def _wire(ax, start, end, value, grad, fontsize):
    """A wire from `start` to `end` with the value above and the gradient below."""
    ax.annotate(
        "",
        xy=end,
        xytext=start,
        arrowprops=dict(arrowstyle="-|>", color="0.3", lw=1.2, shrinkA=0, shrinkB=0),
    )
    mid_x = start[0] + 0.35 * (end[0] - start[0])
    mid_y = start[1] + 0.35 * (end[1] - start[1])
    top = ax.text(
        mid_x,
        mid_y + 0.06,
        value,
        color=VALUE_COLOR,
        ha="center",
        va="bottom",
        fontsize=fontsize,
        fontweight="bold",
    )
    bottom = None
    if grad is not None:
        bottom = ax.text(
            mid_x,
            mid_y - 0.06,
            grad,
            color=GRAD_COLOR,
            ha="center",
            va="top",
            fontsize=fontsize,
            fontstyle="italic",
        )
    return top, bottom


def draw_graph(ax, cache, grads, radius=0.25, fontsize=10):
    """Draw a graph with its forward values and gradients on the wires.

    Parameters
    ----------
    ax : matplotlib Axes
    cache : tuple
        ``(nodes, forward)`` from `lalib.backprop.graph_forward`, with scalar (0-d)
        values.
    grads : dict
        Name -> gradient, from `lalib.backprop.graph_backward`.
    radius : float
        Of the gate circles, in data units (inputs are 1.2 apart vertically).
    fontsize : float

    Returns
    -------
    labels : dict
        ``name -> (value_text, grad_text)``: the matplotlib Text objects written on the
        wire leaving each input or gate (the output's wire included); ``("2",
        None)``-like entries, keyed ``"const <gate>"``, for constants, whose gradient is
        not drawn. A name used by several gates shows its total gradient.

    Raises
    ------
    ValueError
        If a value or gradient is not a single number.
    """
    nodes, forward = cache
    for name in forward:
        if np.size(forward[name]) != 1 or np.size(grads.get(name, np.nan)) != 1:
            raise ValueError(
                f"draw_graph draws scalar graphs: {name!r} has value of shape "
                f"{np.shape(forward[name])} and gradient of shape "
                f"{np.shape(grads.get(name))}"
            )
    pos = graph_layout(nodes)
    gates = {name: op for name, op, _ in nodes}
    labels = {}
    for name, op, args in nodes:
        cx, cy = pos[name]
        ax.add_patch(Circle((cx, cy), radius, fc="white", ec="0.2", lw=1.5, zorder=3))
        ax.text(
            cx,
            cy,
            _SYMBOL[op],
            ha="center",
            va="center",
            fontsize=fontsize + 2 if op != "max" else fontsize - 2,
            zorder=4,
        )
        ax.text(cx, cy + radius + 0.05, name, ha="center", va="bottom", fontsize=9)
        for a in args:
            if isinstance(a, str):
                sx, sy = pos[a]
                start = (sx + (radius if a in gates else 0.15), sy)
                labels.setdefault(
                    a,
                    _wire(
                        ax,
                        start,
                        (cx - radius, cy),
                        _number(forward[a]),
                        _number(grads[a]),
                        fontsize,
                    ),
                )
            else:  # a constant enters from below
                start = (cx - 0.6, cy - 1.0)
                end = (cx - radius * 0.7, cy - radius * 0.7)
                labels[f"const {name}"] = _wire(
                    ax, start, end, _number(a), None, fontsize
                )
    for a in pos:
        if a not in gates:
            ax.text(
                pos[a][0], pos[a][1], a, ha="right", va="center", fontsize=fontsize + 1
            )
    out = nodes[-1][0]
    ox, oy = pos[out]
    labels[out] = _wire(
        ax,
        (ox + radius, oy),
        (ox + 1.4, oy),
        _number(forward[out]),
        _number(grads[out]),
        fontsize,
    )
    cols = [c for c, _ in pos.values()]
    rows = [r for _, r in pos.values()]
    ax.set_xlim(min(cols) - 0.5, max(cols) + 1.5)
    ax.set_ylim(min(rows) - 1.3, max(rows) + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    for k, (text, color, style) in enumerate(
        [
            ("value (above each wire)", VALUE_COLOR, "normal"),
            ("gradient of the output (below)", GRAD_COLOR, "italic"),
        ]
    ):
        ax.text(
            min(cols) - 0.45,
            min(rows) - 0.8 - 0.4 * k,
            text,
            color=color,
            fontsize=9,
            fontstyle=style,
            fontweight="bold" if style == "normal" else "normal",
            va="center",
        )
    return labels
