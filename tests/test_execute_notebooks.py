"""The normalisation scripts/execute_notebooks.py applies after running a chapter."""

import importlib.util
from pathlib import Path

import nbformat

spec = importlib.util.spec_from_file_location(
    "execute_notebooks",
    Path(__file__).resolve().parents[1] / "scripts" / "execute_notebooks.py",
)
execute_notebooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(execute_notebooks)


def _stream(name, text):
    return nbformat.v4.new_output("stream", name=name, text=text)


def test_merge_streams_joins_only_neighbours_of_one_name():
    outs = [
        _stream("stdout", "a"),
        _stream("stdout", "b\n"),
        _stream("stderr", "w"),
        nbformat.v4.new_output("display_data", data={"text/plain": "x"}),
        _stream("stdout", "c"),
    ]
    merged = execute_notebooks.merge_streams(outs)
    assert [(o["output_type"], o.get("text")) for o in merged] == [
        ("stream", "ab\n"),
        ("stream", "w"),
        ("display_data", None),
        ("stream", "c"),
    ]


def test_widget_ids_become_stable_and_consistent():
    a, b = "a" * 32, "b" * 32
    nb = nbformat.v4.new_notebook()
    view = {
        "application/vnd.jupyter.widget-view+json": {"model_id": b, "version_major": 2},
        "text/plain": "VBox()",
    }
    nb.cells = [
        nbformat.v4.new_code_cell(
            "w", outputs=[nbformat.v4.new_output("display_data", data=view)]
        )
    ]
    nb.metadata["widgets"] = {
        execute_notebooks.WIDGET_STATE: {
            "state": {a: {"state": {"children": [f"IPY_MODEL_{b}"]}}, b: {"state": {}}}
        }
    }
    out1 = execute_notebooks.stable_widget_ids(nb, "01-x.ipynb")
    out2 = execute_notebooks.stable_widget_ids(nb, "01-x.ipynb")
    assert out1 == out2
    text = nbformat.writes(out1)
    assert a not in text and b not in text
    state = out1.metadata["widgets"][execute_notebooks.WIDGET_STATE]["state"]
    new_a, new_b = list(state)
    assert state[new_a]["state"]["children"] == [f"IPY_MODEL_{new_b}"]
    assert (
        out1.cells[0].outputs[0]["data"]["application/vnd.jupyter.widget-view+json"][
            "model_id"
        ]
        == new_b
    )
