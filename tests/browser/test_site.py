"""Drive the built book in headless Chromium, as a reader would, with the network cut.

Needs a built site (`make build`) and Debian's chromium (scripts/setup.sh --browser).
Every page of the book is checked for:

- zero requests leaving 127.0.0.1 (each is blocked and recorded), zero failed or 4xx/5xx
  local requests (a missing font or script), zero console errors and page errors;
- math typeset by the self-hosted MathJax, with no raw TeX left in the prose;
- every stored widget view rendered, without any kernel, as an explorable with a name
  and text (test_explore_*.py drive each one and check its numbers against lalib;
  test_a11y.py runs axe-core, the 390 px layout check and the page-weight check);
- one search control, with a name, and an icon that the site serves.

The site as a whole: every HTML page names an icon that exists, /favicon.ico exists, a
search started from that one control (at desktop and at phone width) lists results
whose snippets show math as text, not as raw TeX.

A full-page screenshot of each page is saved under _build/screenshots/ for people to
look at.
"""

import os
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest
from redraw import after_redraw

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
# The built site; BOOK_SITE points the test at a build made with --path-output.
SITE = Path(os.environ.get("BOOK_SITE") or ROOT / "_build" / "html")
SHOTS = ROOT / "_build" / "screenshots"
PAGES = sorted(p.relative_to(SITE).as_posix() for p in (SITE / "book").glob("*.html"))

# Prose only: code, outputs and the typeset math itself may legitimately contain TeX.
JS_PROSE = """() => {
  const article = document.querySelector('article').cloneNode(true);
  article.querySelectorAll('pre, code, .cell_output, mjx-container, script, .math')
         .forEach(e => e.remove());
  return article.innerText;
}"""


@pytest.fixture(scope="module")
def server(served_book):
    return served_book  # tests/conftest.py serves the built book


class PageLog:
    """Everything a page did that a self-contained, error-free page must not do."""

    def __init__(self, page):
        self.external, self.errors, self.failed = [], [], []
        page.route("**/*", self._route)
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        page.on("requestfailed", self._failed)
        page.on(
            "response",
            lambda r: r.status >= 400 and self.failed.append(f"{r.status} {r.url}"),
        )

    def _route(self, route):
        url = route.request.url
        host = urlparse(url).hostname
        if url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            self.external.append(url)
            route.abort()

    def _failed(self, request):
        if request.url not in self.external:
            self.failed.append(f"failed {request.url}: {request.failure}")


# The search controls a reader can see (the search dialog's field only once opened).
JS_SEARCH_CONTROLS = """() => Array.from(document.querySelectorAll(
    'input[type="search"], .search-button__button, button.search-button, #searchbox *'))
  .filter(e => e.getClientRects().length > 0
               && getComputedStyle(e).visibility !== 'hidden')
  .map(e => ({tag: e.tagName,
              name: (e.getAttribute('aria-label') || e.innerText || '').trim()}))"""

# Raw TeX that must not reach a reader's eyes in a search snippet.
RAW_TEX = ("\\(", "\\)", "\\[", "\\]", "$$", "\\begin", "\\mathbb", "\\top", "\\frac")


def _open(browser, server, path, width=1280, height=900):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    log = PageLog(page)
    page.goto(f"{server}/{path}", wait_until="networkidle")
    if page.evaluate("() => Boolean(window.MathJax && window.MathJax.startup)"):
        page.evaluate("() => window.MathJax.startup.promise")
    return context, page, log


JS_TOPS = """() => Array.from(document.querySelectorAll(
    '.bd-article h2, .bd-article h3, .bd-article .la-explorable'))
  .map(e => Math.round(e.getBoundingClientRect().top + window.scrollY))"""
JS_LAZY = """() => Array.from(document.querySelectorAll('.bd-article section > *'))
  .filter(e => e.style.contentVisibility === 'auto').length"""


@pytest.mark.parametrize("width", [1280, 390])
def test_offscreen_parts_skip_rendering_and_nothing_moves(browser, server, width):
    """assets/lazy-render.js: once a chapter has loaded, the parts of its article
    without a widget skip rendering while off screen, each at its measured height, so
    scrolling through the whole page (every part rendered in turn) moves no heading
    and no explorable."""
    context, page, log = _open(browser, server, "book/02-convolutions.html", width)
    try:
        page.wait_for_function(
            "() => Number(document.documentElement.dataset.laLazy) > 0", timeout=20000
        )
        lazy = page.evaluate(JS_LAZY)
        counted = page.evaluate("() => document.documentElement.dataset.laLazy")
        assert lazy == int(counted)
        assert lazy > 100, f"only {lazy} parts render lazily"
        before = page.evaluate(JS_TOPS)
        height = page.evaluate("() => document.documentElement.scrollHeight")
        for y in range(0, height, 500):
            page.evaluate("(y) => window.scrollTo(0, y)", y)
            after_redraw(page)
        after = page.evaluate(JS_TOPS)
        assert len(after) == len(before) > 20
        moved = [(b, a) for b, a in zip(before, after) if abs(a - b) > 1]
        assert not moved, f"{len(moved)} headings or figures moved: {moved[:5]}"
        assert height == page.evaluate("() => document.documentElement.scrollHeight")
        assert not log.errors, log.errors
    finally:
        context.close()


def test_pages_found():
    assert SITE.exists(), "run `make build` first"
    assert "book/intro.html" in PAGES and len(PAGES) >= 3, PAGES


@pytest.mark.parametrize("path", PAGES)
def test_page(browser, server, path):
    context, page, log = _open(browser, server, path)
    try:
        # The page as a reader first sees it, before the test moves any control.
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=str(SHOTS / (path.replace("/", "_") + ".png")), full_page=True
        )

        # Math: every math element typeset by MathJax, and no raw TeX left in the prose.
        n_math = page.locator("article .math").count()
        n_typeset = page.locator("article .math mjx-container").count()
        assert n_typeset == n_math, f"{n_typeset} of {n_math} math elements typeset"
        prose = page.evaluate(JS_PROSE)
        for raw in ("$$", "\\(", "\\[", "\\begin{"):
            assert raw not in prose, f"raw TeX {raw!r} left in the prose of {path}"

        # Widgets: every stored view rendered, and every one is an explorable (a
        # figure drawn by its own ES module) with an accessible name and content.
        # What each explorable computes is checked in tests/browser/test_explore_*.
        n_views = page.locator(
            'script[type="application/vnd.jupyter.widget-view+json"]'
        ).count()
        if n_views:
            page.wait_for_function(
                "() => document.querySelectorAll('.widget-subarea .la-explorable')"
                f".length >= {n_views}",
                timeout=15000,
            )
        figures = page.locator(".widget-subarea .la-explorable")
        assert figures.count() == n_views, (
            f"{path}: {n_views} widget views, {figures.count()} explorables rendered"
        )
        for i in range(figures.count()):
            figure = figures.nth(i)
            assert figure.get_attribute("aria-label"), f"{path}: figure {i} unnamed"
            assert figure.inner_text().strip(), f"{path}: figure {i} shows no text"

        # One search control, with an accessible name; an icon the site serves.
        controls = page.evaluate(JS_SEARCH_CONTROLS)
        assert len(controls) == 1, f"{path}: search controls {controls}"
        assert controls[0]["name"], f"{path}: the search control has no name"
        icon = page.evaluate(
            "() => document.querySelector('link[rel~=\"icon\"]')?.href || null"
        )
        assert icon, f"{path}: no <link rel=icon>"
        response = context.request.get(icon)
        assert response.status == 200, f"{path}: icon {icon} gives {response.status}"
        assert response.headers["content-type"].startswith("image/")

        assert log.external == [], f"requests leaving the machine: {log.external}"
        assert log.failed == [], f"failed local requests: {log.failed}"
        assert log.errors == [], f"console errors: {log.errors}"
    finally:
        context.close()


class _IconLinks(HTMLParser):
    def __init__(self):
        super().__init__()
        self.icons = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" and "icon" in (attrs.get("rel") or "").split():
            self.icons.append(attrs.get("href"))


def test_every_page_has_a_served_icon(server):
    """No page sends the browser for an icon that is missing (the 404 a browser logs
    on every page), and /favicon.ico exists for clients that ask without reading a
    page."""
    pages = sorted(p for p in SITE.rglob("*.html") if "_static" not in p.parts)
    assert len(pages) > len(PAGES)  # the chapters, and search, genindex, ...
    for html in pages:
        url = f"{server}/{html.relative_to(SITE).as_posix()}"
        text = html.read_text(encoding="utf-8")
        if 'http-equiv="Refresh"' in text:
            continue  # index.html, a redirect: the browser asks for /favicon.ico
        parser = _IconLinks()
        parser.feed(text)
        assert len(parser.icons) == 1, f"{url}: icon links {parser.icons}"
        with urllib.request.urlopen(urljoin(url, parser.icons[0])) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("image/"), url
    with urllib.request.urlopen(f"{server}/favicon.ico") as response:
        assert response.headers["Content-Type"].startswith("image/")
        assert response.read(4) == b"\x00\x00\x01\x00"  # an ICO file


def _search(page, query):
    """Search as a reader does: the page's one search control, keyboard only."""
    controls = page.locator(
        ".search-button__button, button.search-button, input[type='search']"
    )
    visible = [controls.nth(i) for i in range(controls.count())]
    visible = [c for c in visible if c.is_visible()]
    assert len(visible) == 1, f"{len(visible)} visible search controls"
    visible[0].focus()
    page.keyboard.press("Enter")
    field = page.locator("#pst-search-dialog input[type='search']")
    field.wait_for(state="visible")
    assert field.evaluate("e => e === document.activeElement"), "field not focused"
    field.fill(query)
    field.press("Enter")
    page.wait_for_url(f"**/search.html?q={query}*")
    # Wait for the result list, then for the snippet of every page result (object
    # results, e.g. a function, show their description instead).
    page.wait_for_function(
        """() => {
          const items = [...document.querySelectorAll('#search-results li')];
          const pages = items.filter(li => !li.querySelector(':scope > span'));
          return /finished/i.test(document.querySelector('#search-results')
                                     .innerText) &&
                 pages.length > 0 && pages.every(li => li.querySelector('p.context'));
        }""",
        timeout=30000,
    )
    return page.locator("#search-results p.context").all_inner_texts()


@pytest.mark.parametrize("width", [1280, 390])
def test_search_snippets_show_math_as_text(browser, server, width):
    context, page, log = _open(browser, server, "book/intro.html", width, 900)
    try:
        snippets = _search(page, "batch")
        assert len(snippets) >= 3, snippets
        for text in snippets:
            for raw in RAW_TEX:
                assert raw not in text, f"raw TeX {raw!r} in a snippet: {text!r}"
        # Not vacuous: the snippets do quote formulas (the notation, chapter 1, ...).
        assert any(sym in text for text in snippets for sym in "ℝᵀ×∈"), snippets
        assert log.external == [], f"requests leaving the machine: {log.external}"
        assert log.failed == [], f"failed local requests: {log.failed}"
        assert log.errors == [], f"console errors: {log.errors}"
    finally:
        context.close()


@pytest.mark.parametrize(
    ("tex", "text"),
    [
        ("\\(T x\\)", "T x"),
        ("\\(W \\in \\mathbb{R}^{M \\times D}\\)", "W ∈ ℝ^(M × D)"),
        ("\\(Y = X W^\\top + \\mathbf{1} b^\\top\\)", "Y = X Wᵀ + 1 bᵀ"),
        (
            "\\(W = \\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}\\)",
            "W = (1 2; 3 4)",
        ),
        (
            r"\[ \operatorname{softmax}\left(\frac{Q K^\top}{\sqrt{d_k}}\right) V \]",
            "softmax((Q Kᵀ)/√dₖ) V",
        ),
        ("\\(x_{ij}^2\\)", "xᵢⱼ²"),
    ],
)
def test_search_snippet_math_conversion(browser, server, tex, text):
    context, page, _ = _open(browser, server, "search.html")
    try:
        assert page.evaluate("t => window.searchMathToText(t)", tex) == text
    finally:
        context.close()
