"""Every page of the built book, checked as readers with different needs meet it.

Needs a built site (`make build`), Debian's chromium (scripts/setup.sh --browser) and
axe-core from npm (package.json; scripts/setup.sh installs it into node_modules/). The
pages are found in the built site (every HTML page but redirects), not listed by hand.
For each page:

- accessibility: axe-core, served from this checkout, injected into the page once its
  widgets have rendered and its math is typeset; zero violations of impact "critical"
  or "serious": at a 1280 px window in the light and the dark colour mode (chosen with
  the theme's own mode switch), and at phone width (390 px) in light mode. The theme's
  controls, the same on every page, are checked open on CONTROL_PAGES in both modes at
  both widths: the search dialog, the download menu and, at phone width, the primary
  sidebar (table of contents) and the page's secondary sidebar;
- phone width (390 x 844, a touch screen at 2x): no element's right edge passes the
  viewport unless it sits in a scrolling box, since that text is cut off for the reader;
- weight: the page's own HTML file is at most 250 kB.

A failure lists each violation's rule, impact and the CSS selectors of its elements
(marked "in an output" when the element is inside a notebook cell's output), or the
selectors of the overflowing elements.
"""

import os
from pathlib import Path
from urllib.parse import urlparse

import pytest
from chromium import DESKTOP, PHONE, RENDER_ALL

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("BOOK_SITE") or ROOT / "_build" / "html")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_VERSION = "4.14.1"
# The launch options of tests/browser/test_site.py, plus: no look-ups of its own.
MAX_HTML_BYTES = 250_000
BLOCKING = ("critical", "serious")


def _pages():
    """Every page of the built site, except redirects (the root index.html)."""
    if not SITE.exists():
        return []
    found = []
    for html in sorted(SITE.rglob("*.html")):
        rel = html.relative_to(SITE)
        if rel.parts[0] in ("_static", "_sources", "_images"):
            continue
        head = html.read_text(encoding="utf-8", errors="replace")[:2000]
        if 'http-equiv="Refresh"' in head or "http-equiv='Refresh'" in head:
            continue
        found.append(rel.as_posix())
    return found


PAGES = _pages()

# Everything the page draws after load: the stored widget views (the embed manager
# renders each, asynchronously after 'load', as a Lumino widget in a .widget-subarea:
# an ipywidgets view or an explorable), and the math.
JS_SETTLED = """() => {
  const views = document.querySelectorAll(
    'script[type="application/vnd.jupyter.widget-view+json"]').length;
  // An explorable's view is an empty <div> until its module has drawn into it.
  const shown = [...document.querySelectorAll('.widget-subarea > .lm-Widget')]
    .filter((w) => w.tagName !== 'DIV' || w.childElementCount > 0).length;
  const mj = window.MathJax;
  const typeset = !mj || !mj.startup || !document.querySelector('.math') ||
    document.querySelectorAll('mjx-container').length > 0;
  return shown >= views && typeset;
}"""

JS_TRANSITIONS_DONE = """async () => {
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const running = document.getAnimations().filter(a => a instanceof CSSTransition);
  await Promise.all(running.map(a => a.finished.catch(() => null)));
}"""

# Elements whose right edge passes the viewport and that no scrolling box (overflow-x
# auto or scroll) holds: the reader cannot see them and the page scrolls sideways, or
# they are clipped. Only the outermost offender of each branch is reported.
JS_OVERFLOW = """(width) => {
  const visible = (e) => {
    const s = getComputedStyle(e);
    return s.visibility !== 'hidden' && s.display !== 'none' &&
           e.getClientRects().length > 0;
  };
  const inScroller = (e) => {
    for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
      const o = getComputedStyle(a).overflowX;
      if (o === 'auto' || o === 'scroll') return true;
    }
    return false;
  };
  const hiddenAncestor = (e) => {
    for (let a = e; a; a = a.parentElement) {
      const s = getComputedStyle(a);
      if (s.visibility === 'hidden' || s.display === 'none' ||
          s.opacity === '0') return true;
      // Visually hidden on purpose (MathJax's assistive MathML, sr-only text).
      if ((s.position === 'absolute' && s.clip !== 'auto') ||
          s.clipPath !== 'none') return true;
    }
    return false;
  };
  const css = (e) => {
    const parts = [];
    for (let a = e; a && a !== document.body && parts.length < 4; a = a.parentElement) {
      let p = a.tagName.toLowerCase();
      if (a.id) { parts.unshift(p + '#' + a.id); break; }
      const cls = [...a.classList].slice(0, 2).join('.');
      if (cls) p += '.' + cls;
      parts.unshift(p);
    }
    return parts.join(' > ');
  };
  const bad = [], hidden = [];
  for (const e of document.body.querySelectorAll('*')) {
    if (!visible(e)) continue;
    const r = e.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || r.right <= width + 1) continue;
    // An SVG clips what it draws to its own box: the <svg> itself is checked.
    if (e instanceof SVGElement && !(e instanceof SVGSVGElement)) continue;
    // Fixed boxes (the skip link, the closed drawers) follow the viewport.
    if (getComputedStyle(e).position === 'fixed' || inScroller(e)) continue;
    if (bad.some((b) => b.contains(e)) || hidden.some((b) => b.contains(e))) continue;
    // Hidden boxes are listed only when the page scrolls sideways: they can be what
    // widens it.
    if (hiddenAncestor(e)) {
      hidden.push(e);
      continue;
    }
    bad.push(e);
  }
  const page = document.documentElement.scrollWidth;
  if (page > width) bad.push(...hidden);
  return {scrollWidth: page, width,
          elements: bad.map((e) => `${css(e)} (right edge ${
              Math.round(e.getBoundingClientRect().right)} px)`)};
}"""

# axe's result, reduced to what a failure message needs. Each node is marked when it
# sits inside a notebook cell's output (a figure), where the chapter owns the fix.
JS_AXE = """async (include) => {
  const context = include ? {include: [include]} : document;
  const result = await axe.run(context, {resultTypes: ['violations']});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => {
      let inOutput = false;
      try {
        const el = document.querySelector(n.target[n.target.length - 1]);
        inOutput = Boolean(el && el.closest('.cell_output, .output'));
      } catch (err) { /* a selector into a shadow root */ }
      return {target: n.target.join(' >>> '), impact: n.impact, inOutput};
    }),
  }));
}"""


@pytest.fixture(scope="module")
def server(served_book):
    return served_book  # tests/conftest.py serves the built book


def _block_outside(route):
    """Nothing leaves 127.0.0.1 (tests/browser/test_site.py reports any attempt)."""
    url = route.request.url
    if url.startswith(("data:", "blob:")) or urlparse(url).hostname in (
        "127.0.0.1",
        "localhost",
    ):
        route.continue_()
    else:
        route.abort()


def _open(browser, server, path, device, mode):
    """The page as a reader meets it: loaded, widgets rendered, math typeset, and the
    colour mode chosen with the theme's switch (pressed as a reader would)."""
    context = browser.new_context(**device)
    context.add_init_script(RENDER_ALL)  # every part rendered, for axe and overflow
    page = context.new_page()
    page.route("**/*", _block_outside)
    page.goto(f"{server}/{path}", wait_until="networkidle")
    page.wait_for_function(JS_SETTLED, timeout=20000)
    if page.evaluate("() => Boolean(window.MathJax && window.MathJax.startup)"):
        page.evaluate("() => window.MathJax.startup.promise")
    _set_mode(page, path, mode)
    return context, page


def _set_mode(page, path, mode):
    """Press the theme's colour-mode switch until the page is in `mode`."""
    switch = page.locator(".theme-switch-button").filter(visible=True).first
    for _ in range(3):  # light -> dark -> auto -> light
        if page.evaluate("() => document.documentElement.dataset.theme") == mode:
            break
        switch.click()
    assert page.evaluate("() => document.documentElement.dataset.theme") == mode, (
        f"{path}: the theme switch does not reach {mode} mode"
    )
    # The switch keeps the focus and its tooltip fades in: take both away, so that
    # axe sees no half-transparent tooltip.
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.mouse.move(0, 0)
    page.wait_for_function("() => !document.querySelector('.tooltip')")
    # Two animation frames (whatever the switch redraws is drawn), then the end of
    # every colour transition it started: axe measures contrast as it is on screen.
    page.evaluate(JS_TRANSITIONS_DONE)


def _axe(page, include=None):
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run scripts/setup.sh (npm ci)")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
        assert page.evaluate("() => axe.version") == AXE_VERSION
    return page.evaluate(JS_AXE, include)


def _opened(page, button, shown):
    """Press a theme control with the keyboard, run axe on what it opens, close it.

    On the search page the search button opens no dialog: it moves the focus to the
    page's own search field, which the page's axe run has checked.
    """
    control = page.locator(button).filter(visible=True)
    if control.count() == 0:
        return None
    control.first.focus()
    page.keyboard.press("Enter")
    opened = page.wait_for_function(
        """(sel) => {
          const e = document.querySelector(sel);
          if (e && e.getClientRects().length > 0 &&
              getComputedStyle(e).visibility !== 'hidden') return 'opened';
          const f = document.activeElement;
          if (f && f.matches('input[type=search]') && !f.closest(sel)) return 'field';
          return false;
        }""",
        arg=shown,
        timeout=5000,
    ).json_value()
    if opened == "field":
        return None
    page.wait_for_timeout(400)  # the opening transition
    page.evaluate(JS_TRANSITIONS_DONE)
    found = _axe(page, shown)
    page.keyboard.press("Escape")
    page.wait_for_timeout(400)
    return found


def _blocking(violations):
    lines = []
    for v in violations:
        nodes = [n for n in v["nodes"] if (n["impact"] or v["impact"]) in BLOCKING]
        if not nodes:
            continue
        targets = "; ".join(
            n["target"] + (" [in an output]" if n["inOutput"] else "") for n in nodes
        )
        lines.append(
            f"{v['id']} ({v['impact']}, {len(nodes)}x: {v['help']}): {targets}"
        )
    return lines


def test_pages_found():
    assert SITE.exists(), "run `make build` first"
    assert "book/intro.html" in PAGES, PAGES
    assert {"search.html", "genindex.html", "book/api.html"} <= set(PAGES), PAGES


#: The theme's controls (search dialog, download menu, the phone's drawers) come from
#: the same templates on every page: they are opened and checked on these pages, in
#: both modes at both widths; every page itself is checked as listed in test_axe.
CONTROL_PAGES = ("book/intro.html", "book/02-convolutions.html")


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("path", PAGES)
def test_axe(browser, server, path, width):
    """Light and dark at 1280 px (contrast depends on the mode, not the width), light
    at 390 px (the phone layout); both modes at both widths, theme controls opened,
    on CONTROL_PAGES."""
    device = DESKTOP if width > 500 else PHONE
    controls = path in CONTROL_PAGES
    modes = ("light", "dark") if width > 500 or controls else ("light",)
    context, page = _open(browser, server, path, device, "light")
    try:
        report = []
        for mode in modes:
            _set_mode(page, path, mode)
            found = {"page": _axe(page)}
            if controls:
                found["search dialog"] = _opened(
                    page, ".search-button__button", "#pst-search-dialog"
                )
                found["download menu"] = _opened(
                    page,
                    ".dropdown-download-buttons .dropdown-toggle",
                    ".dropdown-download-buttons .dropdown-menu",
                )
                if width < 500:
                    found["table of contents drawer"] = _opened(
                        page, ".primary-toggle", "#pst-primary-sidebar-modal"
                    )
                    found["page contents drawer"] = _opened(
                        page, ".secondary-toggle", "#pst-secondary-sidebar-modal"
                    )
            for where, violations in found.items():
                report += [
                    f"[{mode}, {where}] {line}" for line in _blocking(violations or [])
                ]
        assert not report, (
            f"{path} at {width} px: serious or critical axe violations\n"
            + "\n".join(report)
        )
    finally:
        context.close()


@pytest.mark.parametrize("path", PAGES)
def test_no_overflow_at_phone_width(browser, server, path):
    context, page = _open(browser, server, path, PHONE, "light")
    try:
        found = page.evaluate(JS_OVERFLOW, PHONE["viewport"]["width"])
        assert found["scrollWidth"] <= found["width"] and not found["elements"], (
            f"{path} at 390 px: the page is {found['scrollWidth']} px wide; elements "
            "past the right edge, outside any scrolling box:\n"
            + "\n".join(found["elements"])
        )
    finally:
        context.close()


@pytest.mark.parametrize("path", PAGES)
def test_page_html_weight(path):
    size = (SITE / path).stat().st_size
    assert size <= MAX_HTML_BYTES, (
        f"{path}: its HTML is {size / 1000:.0f} kB, over {MAX_HTML_BYTES // 1000} kB"
    )
