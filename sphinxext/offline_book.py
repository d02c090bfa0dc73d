"""Sphinx extension: keep every page self-contained, with no script that reaches out.

Jupyter Book 1.x always loads sphinx-thebe, which adds a "launch a Binder kernel" script
(thebe itself from unpkg.com on click) and declares its configuration once per build
pass, so the same ``const THEBE_JS_URL = ...`` body can be emitted twice and the browser
throws "Identifier 'THEBE_JS_URL' has already been declared" on every page. This book
has no live-kernel button (it stays interactive through precomputed widget state), so
the thebe scripts and stylesheet are dropped; any other script added twice is kept once.

It also mends what the theme puts on every page and a reader trips over with a screen
reader or a phone (tests/browser/test_a11y.py: axe-core, and a 390 px screen):

- ``templates/`` overrides two pydata-sphinx-theme components whose accessible name
  did not contain their visible text: the colour-mode switch and the search field
  button (see the comment at the top of each);
- the summary of a hidden code cell (myst-nb's "Show code cell source") is named by
  what it shows, not by ``aria-label="Toggle hidden content"``;
- the chevron that expands a page's sub-pages in the sidebar's table of contents (a
  ``<summary>`` holding only an icon) is named after that page;
- ``assets/theme-fixes.css``: the general index, long inline code, API signatures,
  the previous/next links and headings fit a phone's width, and a widget
  keeps its light colours in dark mode (see the comment on each rule).
"""

from pathlib import Path

from bs4 import BeautifulSoup
from markupsafe import Markup

_THEBE_MARKERS = ("THEBE_JS_URL", "sphinx-thebe", "thebe_selector")


def _is_thebe(asset):
    text = " ".join(
        str(part) for part in (asset.filename, asset.attributes.get("body", ""))
    )
    return any(marker in text for marker in _THEBE_MARKERS)


def _clean_assets(app, pagename, templatename, context, doctree):
    for key in ("script_files", "css_files"):
        if key not in context:
            continue
        seen, kept = set(), []
        for asset in context[key]:
            ident = (str(asset.filename), str(asset.attributes.get("body", "")))
            if _is_thebe(asset) or ident in seen:
                continue
            seen.add(ident)
            kept.append(asset)
        context[key][:] = kept


TEMPLATES = Path(__file__).parent / "templates"

# myst-nb's collapsed cell: the label hid the summary's visible text from its name.
_SUMMARY_LABEL = '<summary aria-label="Toggle hidden content">'


def _add_templates(app, config):
    # Before the theme's own directories: a component here replaces the theme's.
    config.templates_path.insert(0, str(TEMPLATES))


def _name_toc_toggles(html):
    soup = BeautifulSoup(str(html), "html.parser")
    for summary in soup.select("li.has-children > details > summary"):
        if summary.get_text(strip=True) or summary.get("aria-label"):
            continue
        link = summary.find_parent("li").find("a", recursive=False)
        title = link.get_text(" ", strip=True) if link else ""
        summary["aria-label"] = f"Pages in {title}" if title else "Pages"
    return Markup(str(soup))


def _mend_page(app, pagename, templatename, context, doctree):
    body = context.get("body")
    if body and _SUMMARY_LABEL in body:
        context["body"] = body.replace(_SUMMARY_LABEL, "<summary>")
    toctree = context.get("generate_toctree_html")
    if toctree is not None:

        def generate_toctree_html(*args, **kwargs):
            return _name_toc_toggles(toctree(*args, **kwargs))

        context["generate_toctree_html"] = generate_toctree_html


def setup(app):
    app.connect("config-inited", _add_templates)
    app.add_css_file("theme-fixes.css")  # assets/ is in html_static_path
    # After pydata-sphinx-theme has put its toctree function in the page context.
    app.connect("html-page-context", _mend_page, priority=900)
    # Run late, after every extension has added its assets to the page context.
    app.connect("html-page-context", _clean_assets, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
