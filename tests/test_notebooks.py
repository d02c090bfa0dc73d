"""Static checks of the chapter notebooks: the promises nbval alone cannot see.

nbval compares only cells that have stored outputs, so an unexecuted notebook would
pass while checking nothing; widget views without stored widget state render as
nothing in the static book. These tests read the .ipynb files and fail on both, and on
the conventions of CONTRIBUTING.md that keep chapters honest.
"""

import importlib
import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
MAX_BYTES = 4 * 1024 * 1024


def _load(path):
    return json.loads(path.read_text())


def _code_cells(nb):
    return [
        c
        for c in nb["cells"]
        if c["cell_type"] == "code" and "".join(c["source"]).strip()
    ]


def _source(cell):
    return "".join(cell["source"])


def test_there_are_chapters():
    assert NOTEBOOKS, "no notebooks in book/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
class TestChapter:
    def test_name_and_single_title(self, path):
        assert re.fullmatch(r"\d\d-[a-z0-9-]+\.ipynb", path.name), path.name
        nb = _load(path)
        titles = [
            line
            for c in nb["cells"]
            if c["cell_type"] == "markdown"
            for line in _source(c).splitlines()
            if re.match(r"# \S", line)
        ]
        assert len(titles) == 1, (
            f"{path.name}: want exactly one '# ' title, got {titles}"
        )

    def test_listed_in_the_table_of_contents(self, path):
        toc = (ROOT / "_toc.yml").read_text()
        assert f"file: book/{path.stem}" in toc, f"{path.name} is not in _toc.yml"

    def test_every_code_cell_was_executed_in_order(self, path):
        cells = _code_cells(_load(path))
        counts = [c["execution_count"] for c in cells]
        assert None not in counts, (
            f"{path.name}: unexecuted cells (nbval would skip them)"
        )
        assert counts == list(range(1, len(cells) + 1)), (
            f"{path.name}: run it top to bottom with scripts/execute_notebooks.py"
        )

    def test_no_errors_stored(self, path):
        for cell in _code_cells(_load(path)):
            assert all(o["output_type"] != "error" for o in cell.get("outputs", [])), (
                _source(cell)[:200]
            )

    def test_widget_views_have_stored_state(self, path):
        nb = _load(path)
        views = [
            o["data"][WIDGET_VIEW]["model_id"]
            for c in _code_cells(nb)
            for o in c.get("outputs", [])
            if WIDGET_VIEW in o.get("data", {})
        ]
        state = nb["metadata"].get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
        missing = [v for v in views if v not in state]
        assert not missing, f"{path.name}: widget views without stored state: {missing}"

    def test_stored_explorables_run_the_current_javascript(self, path):
        # The static book runs the ES module stored in the widget state, not the one
        # in lalib/display/js: a chapter not re-executed after a JS change would ship
        # the old code (nbval compares text only, so it would not notice).
        state = (
            _load(path)["metadata"]
            .get("widgets", {})
            .get(WIDGET_STATE, {})
            .get("state", {})
        )
        stale = []
        for model_id, model in state.items():
            widget_id = model["state"].get("_anywidget_id", "")
            if not widget_id.startswith("lalib."):
                continue
            module_name, _, class_name = widget_id.rpartition(".")
            cls = getattr(importlib.import_module(module_name), class_name)
            for key in ("_esm", "_css"):
                if model["state"].get(key) != getattr(cls, key):
                    stale.append(f"{class_name}.{key} ({model_id})")
        assert not stale, (
            f"{path.name}: stored widget code differs from lalib's, re-execute it "
            f"(make notebooks NB=book/{path.name}): {stale}"
        )

    def test_ignored_outputs_say_why(self, path):
        for cell in _code_cells(_load(path)):
            if "nbval-ignore-output" in cell["metadata"].get("tags", []):
                assert re.search(r"^\s*# \S", _source(cell), re.M), (
                    f"{path.name}: a cell tagged nbval-ignore-output has no comment "
                    "saying why:\n" + _source(cell)[:200]
                )

    def test_imports_lalib_and_follows_the_import_rules(self, path):
        code = "\n".join(_source(c) for c in _code_cells(_load(path)))
        assert re.search(r"^(from lalib|import lalib)", code, re.M), (
            f"{path.name} does not use lalib"
        )
        assert not re.search(r"^\s*from \S+ import \*", code, re.M), "star import"
        assert "sys.path" not in code, "sys.path edit: lalib is installed, import it"
        assert not re.search(
            r"np\.random\.(seed|rand|randn|randint|normal|uniform)\(", code
        ), "global NumPy RNG: use a seeded np.random.default_rng and pass it"

    def test_imports_come_from_public_lalib_modules(self, path):
        # Every lalib module a chapter imports exists and is public: a module moved to
        # a new home (lalib.display, lalib.exercises, lalib.engine) leaves no stale
        # import.
        code = "\n".join(_source(c) for c in _code_cells(_load(path)))
        modules = re.findall(r"^\s*from (lalib[\w.]*) import", code, re.M)
        modules += re.findall(r"^\s*import (lalib[\w.]*)", code, re.M)
        assert modules, f"{path.name} imports nothing from lalib"
        for name in modules:
            assert not any(part.startswith("_") for part in name.split(".")), name
            assert importlib.util.find_spec(name) is not None, (
                f"{path.name}: no module {name}"
            )

    def test_names_its_kernel(self, path):
        # A downloaded chapter opens in the reader's Jupyter without a kernel prompt.
        kernelspec = _load(path)["metadata"].get("kernelspec", {})
        assert kernelspec.get("name") == "python3", f"{path.name}: {kernelspec}"

    def test_size(self, path):
        assert path.stat().st_size < MAX_BYTES, (
            f"{path.name} is {path.stat().st_size} bytes"
        )
