"""The base of the explorables: figures that recompute in the reader's browser.

An explorable is an `anywidget` widget. Its Python class holds the figure's inputs as
synced traits (NumPy arrays in and out); its ES module, in ``lalib/display/js/``, draws
them (HTML, SVG) and recomputes with ``lamath.js`` when the reader acts. The same
module runs in Jupyter, where a change on either side reaches the other, and in the
static book, where the stored widget state is all there is and the JavaScript alone
does the work.

A widget's ES module is one string, so `bundle` inlines the module's relative imports
(``import {...} from "./lamath.js";``) ahead of it: one self-contained module per class,
built once when the class is defined.
"""

import re
from functools import cache
from pathlib import Path

import anywidget
import numpy as np
import traitlets

__all__ = ["JS_DIR", "Array", "Explorable", "bundle"]

#: Where the explorables' JavaScript and CSS live (package data of lalib).
JS_DIR = Path(__file__).with_name("js")

_IMPORT = re.compile(r'^import\s*\{[^}]*\}\s*from\s*"\./([\w.-]+\.js)";\s*$', re.M)


@cache
def bundle(name):
    """The ES module `name` (a file in `JS_DIR`) with its relative imports inlined.

    Only single-line named imports of sibling files (``import { a, b } from
    "./x.js";``) are allowed; each dependency appears once, before the modules that
    import it. The modules share one scope in the bundle, so their top-level names
    must differ (``tests/js`` checks that every bundle parses).
    """
    order, seen = [], set()

    def visit(file):
        if file in seen:
            return
        seen.add(file)
        path = JS_DIR / file
        if not path.is_file():
            raise ValueError(f"no explorable module {file!r} in {JS_DIR}")
        text = path.read_text(encoding="utf-8")
        for dep in _IMPORT.findall(text):
            visit(dep)
        if re.search(r"^\s*import\s", _IMPORT.sub("", text), re.M):
            raise ValueError(
                f"{file}: only single-line named imports of sibling files can be "
                'bundled (import { a } from "./x.js";)'
            )
        order.append((file, _IMPORT.sub("", text)))

    visit(name)
    return "\n".join(f"// ---- {file}\n{text}" for file, text in order)


def _to_json(value, widget):
    return None if value is None else value.tolist()


def _from_json(value, widget):
    return None if value is None else np.asarray(value, dtype=np.float64)


class Array(traitlets.TraitType):
    """A float64 NumPy array trait, synced with the browser as nested lists.

    ``shape`` is a tuple whose entries are sizes or None (any size); a value of another
    shape, or with NaN or infinity (which JSON cannot carry), raises ValueError naming
    the shape it got and the one expected. Values are read-only copies, so an in-place
    edit cannot silently miss the browser: assign a new array instead.
    """

    info_text = "a float array"

    def __init__(self, shape, default_value=None, **kwargs):
        self.shape = tuple(shape)
        super().__init__(default_value=default_value, **kwargs)
        self.tag(sync=True, to_json=_to_json, from_json=_from_json)

    def _expected(self):
        sizes = ", ".join("n" if s is None else str(s) for s in self.shape)
        return f"({sizes}{',' if len(self.shape) == 1 else ''})"

    def validate(self, obj, value):
        try:
            arr = np.array(value, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"{self.name} must be a real array of shape {self._expected()}: {err}"
            ) from None
        if arr.ndim != len(self.shape) or any(
            s is not None and s != n for s, n in zip(self.shape, arr.shape)
        ):
            raise ValueError(
                f"{self.name} must have shape {self._expected()}, got {arr.shape}"
            )
        if not np.isfinite(arr).all():
            raise ValueError(f"{self.name} must be finite numbers (no NaN or inf)")
        arr.setflags(write=False)
        return arr


class Explorable(anywidget.AnyWidget):
    """Base class: a subclass names its ES module in ``_module`` (a file in `JS_DIR`).

    The class gets ``_esm`` (the bundled module) and ``_css`` (the shared
    ``explorable.css``) when it is defined. ``__repr__`` is the subclass's `describe`,
    so a notebook's stored text output is a sentence, not a memory address.
    """

    _module = None

    def __init_subclass__(cls, **kwargs):
        if cls.__dict__.get("_module"):
            cls._esm = bundle(cls._module)
            cls._css = (JS_DIR / "explorable.css").read_text(encoding="utf-8")
        super().__init_subclass__(**kwargs)

    def describe(self):
        """One line saying what the figure shows (its text/plain output)."""
        return type(self).__name__

    def __repr__(self):
        return self.describe()
