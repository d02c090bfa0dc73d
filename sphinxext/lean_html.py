"""Sphinx extension: leaner code-cell HTML, pixel for pixel the same page.

Pygments wraps every token of a code cell in a ``<span class="...">``; most of a
chapter page's bytes are those spans (a cell of 1 kB of Python becomes about 6 kB of
HTML). Names (``n``), punctuation (``p``) and whitespace (``w``) are drawn in the
code block's own text colour by this book's highlighting styles, light and dark
alike, so their spans change nothing a reader sees: this extension drops them from
code blocks, keeping the text (a chapter page is about a fifth smaller).
``tests/test_lean_html.py`` fails if the theme's highlighting styles ever colour
those tokens.

It also embeds the page's widget state (every explorable's module, style and data)
as compact JSON: the same value, without the spaces and ``\\uXXXX`` escapes.
"""

import json
import re

#: Token classes drawn in the code block's own colour (checked against pygments.css).
PLAIN = ("n", "p", "w")

_BLOCK = re.compile(r'(<div class="highlight"><pre>)(.*?)(</pre></div>)', re.S)
_PLAIN_SPAN = re.compile(r'<span class="(?:' + "|".join(PLAIN) + r')">([^<]*)</span>')


def strip_plain_spans(html):
    """`html` with the PLAIN token spans of its code blocks replaced by their text."""
    return _BLOCK.sub(
        lambda m: m.group(1) + _PLAIN_SPAN.sub(r"\1", m.group(2)) + m.group(3), html
    )


#: The script type of the widget state a page embeds (ipywidgets' html-manager).
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def compact_json(body):
    """The JSON text `body` re-written without the spaces after ``,`` and ``:`` and
    with non-ASCII characters as themselves (UTF-8) rather than ``\\uXXXX``: the same
    value, fewer bytes. ``</`` stays escaped (``<\\/``) so the text cannot close its
    ``<script>`` element."""
    value = json.loads(body)
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("</", "<\\/")


def _lean_body(app, pagename, templatename, context, doctree):
    if "body" in context:
        context["body"] = strip_plain_spans(context["body"])


def _lean_widget_state(app, pagename, templatename, context, doctree):
    """The widget state (every explorable's module, style and data) is most of a
    chapter page's bytes after the text: embed it compactly."""
    for asset in context.get("script_files", []):
        attributes = getattr(asset, "attributes", {})
        if attributes.get("type") == WIDGET_STATE and attributes.get("body"):
            attributes["body"] = compact_json(attributes["body"])


def setup(app):
    app.connect("html-page-context", _lean_body)
    # after myst-nb has added the page's widget state
    app.connect("html-page-context", _lean_widget_state, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
