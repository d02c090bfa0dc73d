"""The layering of lalib: kernel modules need NumPy alone, display code stays apart.

Every kernel module (every ``lalib/**/*.py`` outside ``lalib/display/`` and
``lalib/exercises/``, found on disk so that a new module is covered without editing
this file) is imported in a fresh interpreter, which must then hold no matplotlib, no
ipywidgets, no anywidget and nothing of ``lalib.display`` or ``lalib.exercises``.
"""

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
LALIB = ROOT / "lalib"
BOOK_ONLY = ("display", "exercises")  # subpackages that need the `book` extra
FORBIDDEN = (
    "matplotlib",
    "ipywidgets",
    "anywidget",
    "lalib.display",
    "lalib.exercises",
)

#: The flat module names that moved into lalib.display and lalib.exercises.
OLD_NAMES = {
    "lalib.widgets": "lalib.display.players",
    "lalib.plots_plane": "lalib.display.plane",
    "lalib.plots_layers": "lalib.display.layers",
    "lalib.plots_conv": "lalib.display.conv",
    "lalib.plots_attention": "lalib.display.attention",
    "lalib.plots_why": "lalib.display.why",
    "lalib.plots_engine": "lalib.display.engine",
    "lalib.exercises_conv": "lalib.exercises.conv",
    "lalib.exercises_attention": "lalib.exercises.attention",
}


def _module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts  # ("lalib", "engine", "conv")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def kernel_modules():
    """``lalib``, and every module and subpackage under it but the book-only ones."""
    paths = sorted(LALIB.rglob("*.py"))
    return [
        _module_name(p)
        for p in paths
        if p.relative_to(LALIB).parts[0] not in BOOK_ONLY
        and "__pycache__" not in p.parts
    ]


# The child prints the forbidden modules it holds after the import, as JSON.
_CHILD = """
import importlib, json, sys
importlib.import_module({name!r})
held = sorted(m for m in sys.modules
              if any(m == f or m.startswith(f + ".") for f in {forbidden!r}))
print(json.dumps(held))
"""


def test_the_kernel_modules_are_found():
    found = kernel_modules()
    assert {"lalib", "lalib.linear", "lalib.conv", "lalib.attention"} <= set(found)
    assert "lalib.engine" in found  # subpackages are walked too
    assert not [m for m in found if m.startswith(("lalib.display", "lalib.exercises"))]


@pytest.mark.parametrize("name", kernel_modules())
def test_kernel_module_imports_no_display_code(name):
    code = _CHILD.format(name=name, forbidden=FORBIDDEN)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, f"import {name} failed:\n{proc.stderr}"
    held = json.loads(proc.stdout.strip().splitlines()[-1])
    assert held == [], f"import {name} pulls in {held}: kernels need NumPy alone"


@pytest.mark.parametrize("old, new", sorted(OLD_NAMES.items()))
def test_old_flat_modules_are_gone(old, new):
    assert importlib.util.find_spec(old) is None, f"{old} still exists; use {new}"
    assert importlib.util.find_spec(new) is not None, f"{new} is missing"


def test_no_chapter_imports_an_old_name():
    old = "|".join(name.split(".")[1] for name in OLD_NAMES)  # widgets|plots_plane|...
    pattern = re.compile(rf"lalib\.({old})\b|from lalib import [^\n]*\b({old})\b")
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            match = pattern.search(cell.source)
            assert match is None, f"{path.name} still uses {match.group()}"
