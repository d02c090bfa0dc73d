"""lalib.display.backprop: the circuit is drawn with the computed numbers on it."""

import matplotlib.colors
import numpy as np
import pytest

from lalib import backprop
from lalib.display import backprop as draw
from lalib.display.figures import new_figure

INPUTS = {"x": 3.0, "y": -4.0, "z": 2.0, "w": -1.0}


def _circuit(inputs=INPUTS, dout=1.0):
    _, cache = backprop.graph_forward(backprop.CIRCUIT, inputs)
    return cache, backprop.graph_backward(dout, cache)


def test_every_wire_carries_its_value_and_gradient():
    cache, grads = _circuit(dout=0.5)
    fig, ax = new_figure(figsize=(6.4, 3.4))
    labels = draw.draw_graph(ax, cache, grads)
    forward = cache[1]
    assert set(labels) == set(forward) - {"f"} | {"f", "const f"}
    for name, value in forward.items():
        top, bottom = labels[name]
        assert top.get_text() == f"{float(value):.3g}"
        assert bottom.get_text() == f"{float(grads[name]):.3g}"
        assert matplotlib.colors.to_hex(top.get_color()) == draw.VALUE_COLOR
        assert matplotlib.colors.to_hex(bottom.get_color()) == draw.GRAD_COLOR
        assert top.get_position()[1] > bottom.get_position()[1]  # value above
    # the gate rules, as the figure shows them for f = 2 (x y + max(z, w))
    texts = {n: (t.get_text(), b.get_text()) for n, (t, b) in labels.items() if b}
    assert texts["x"] == ("3", "-4") and texts["y"] == ("-4", "3")  # 0.5 * 2 * y
    assert texts["z"] == ("2", "1") and texts["w"] == ("-1", "0")  # max routes
    assert texts["f"] == ("-20", "0.5")
    assert labels["const f"][0].get_text() == "2" and labels["const f"][1] is None
    gate_symbols = {t.get_text() for t in ax.texts} & {"+", "×", "max"}
    assert gate_symbols == {"+", "×", "max"}
    assert len(ax.patches) == len(backprop.CIRCUIT)  # one circle per gate


def test_layout_puts_inputs_left_and_gates_right_of_their_inputs():
    pos = draw.graph_layout(backprop.CIRCUIT)
    assert [pos[k][0] for k in "xyzw"] == [0.0] * 4
    assert pos["x"][1] > pos["y"][1] > pos["z"][1] > pos["w"][1]
    for name, _, args in backprop.CIRCUIT:
        assert all(pos[a][0] < pos[name][0] for a in args if isinstance(a, str))
    assert pos["q"][1] == np.mean([pos["p"][1], pos["m"][1]])


def test_array_graphs_are_refused():
    pairs = {k: np.array([v, v]) for k, v in INPUTS.items()}
    cache, grads = _circuit(pairs, dout=np.ones(2))
    fig, ax = new_figure()
    with pytest.raises(ValueError, match="scalar graphs"):
        draw.draw_graph(ax, cache, grads)
