"""Sphinx extension: leaner code-cell HTML, pixel for pixel the same page.

Pygments wraps every token of a code cell in a ``<span class="...">``; most of a
chapter page's bytes are those spans (a cell of 1 kB of Python becomes about 6 kB of
HTML). Names (``n``), punctuation (``p``) and whitespace (``w``) are drawn in the
code block's own text colour by this book's highlighting styles, light and dark
alike, so their spans change nothing a reader sees: this extension drops them from
code blocks, keeping the text (a chapter page is about a fifth smaller).
``tests/test_lean_html.py`` fails if the theme's highlighting styles ever colour
those tokens.
"""

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


def _lean_body(app, pagename, templatename, context, doctree):
    if "body" in context:
        context["body"] = strip_plain_spans(context["body"])


def setup(app):
    app.connect("html-page-context", _lean_body)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
