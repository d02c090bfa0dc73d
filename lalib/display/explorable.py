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

import inspect
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


_DECL = re.compile(
    r"^(?:export\s+)?(?:async\s+)?(?:function\*?|const|let|class)\s+([\w$]+)"
)
_WORD = re.compile(r"[A-Za-z_$][\w$]*")


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')


def _strip_comments(text):
    """The lines of `text` without whole-line comments and blank lines."""
    kept, in_block = [], False
    for line in text.splitlines():
        bare = line.strip()
        if in_block:
            in_block = "*/" not in bare
        elif bare.startswith("/*"):
            in_block = "*/" not in bare
        elif bare and not bare.startswith("//"):
            kept.append(line)
    return kept


def _dedent(lines):
    """`lines` without indentation, unless a template literal spans lines (its text
    would change)."""
    if all(_STRINGS.sub("", line).count("`") % 2 == 0 for line in lines):
        return [line.lstrip() for line in lines]
    return lines


def _top_level(lines):
    """Split a module into top-level declarations: ``[(name, lines)]``, or None when a
    line at column 0 is not a declaration or the close of one (then it stays whole)."""
    chunks = []
    for line in lines:
        decl = _DECL.match(line)
        if decl:
            chunks.append((decl.group(1), [line]))
        elif chunks and (line[:1].isspace() or line[:1] in "})]"):
            chunks[-1][1].append(line)
        else:
            return None
    return chunks


@cache
def bundle(name):
    """The ES module `name` (a file in `JS_DIR`) with its relative imports inlined.

    Only single-line named imports of sibling files (``import { a, b } from
    "./x.js";``) are allowed. Each dependency appears once, before the modules that
    import it, with only the top-level declarations the bundle uses (a dependency
    made of anything else is kept whole); whole-line comments and indentation are
    dropped, since the bundle is stored in every notebook and page that shows the
    widget (the commented source is in `JS_DIR`). The modules share one scope in the
    bundle, so their top-level names must differ: a name declared twice raises a
    ValueError (and ``tests/js`` checks that every bundle parses and exports a
    renderer).
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
        order.append((file, _strip_comments(_IMPORT.sub("", text))))

    visit(name)
    *deps, (entry, entry_lines) = order
    chunks = {file: _top_level(lines) for file, lines in deps}
    defined = {n: body for cs in chunks.values() if cs for n, body in cs}
    used, todo = set(), set(_WORD.findall("\n".join(entry_lines)))
    for file, cs in chunks.items():
        if cs is None:  # kept whole: everything it names is used
            todo |= set(_WORD.findall("\n".join(dict(deps)[file])))
    while todo:
        word = todo.pop()
        if word in defined and word not in used:
            used.add(word)
            todo |= set(_WORD.findall("\n".join(defined[word])))
    parts, owner = [], {}
    for file, lines in [*deps, (entry, entry_lines)]:
        cs = chunks.get(file)
        kept = lines if cs is None else [x for n, body in cs if n in used for x in body]
        for decl in filter(None, map(_DECL.match, kept)):  # column 0: top level
            first = owner.setdefault(decl.group(1), file)
            if first != file:
                raise ValueError(
                    f"{file} and {first} both declare {decl.group(1)!r} at the top "
                    f"level, and the bundle of {name} puts them in one scope: "
                    "rename one"
                )
        parts.append(f"// {file}\n" + "\n".join(_dedent(kept)))
    return "\n".join(parts) + "\n"


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


def _document_init(cls):
    """Document `cls` with its own ``__init__`` signature, not traitlets'
    ``__new__(*args: t.Any, **kwargs: t.Any)``."""
    signature = inspect.signature(cls.__init__)
    cls.__signature__ = signature.replace(
        parameters=list(signature.parameters.values())[1:]
    )


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
        _document_init(cls)
        super().__init_subclass__(**kwargs)

    def describe(self):
        """One line saying what the figure shows (its text/plain output)."""
        return type(self).__name__

    def __repr__(self):
        return self.describe()


_document_init(Explorable)
