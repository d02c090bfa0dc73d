"""Drive the built book in headless Chromium, as a reader would, with the network cut.

Needs a built site (`make build`) and Debian's chromium (scripts/setup.sh --browser).
Every page of the book is checked for:

- zero requests leaving 127.0.0.1 (each is blocked and recorded), zero failed or 4xx/5xx
  local requests (a missing font or script), zero console errors and page errors;
- math typeset by the self-hosted MathJax, with no raw TeX left in the prose;
- every stored widget view rendered, and, without any kernel: every slider of a widget
  that shows pictures changes the picture, and every Play button animates it.

A full-page screenshot of each page is saved under _build/screenshots/ for people to
look at.
"""

import functools
import http.server
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAGES = sorted(p.relative_to(SITE).as_posix() for p in (SITE / "book").glob("*.html"))

# Fingerprint of the pictures a widget currently shows: the Stack puts only the selected
# frame in the DOM, and each frame is a blob: URL, so hash the bytes behind the URLs.
JS_FINGERPRINT = """async (root) => {
  const parts = [];
  for (const img of root.querySelectorAll('img')) {
    if (img.offsetParent === null) continue;
    const bytes = await (await fetch(img.src)).arrayBuffer();
    const digest = await crypto.subtle.digest('SHA-256', bytes);
    parts.push(Array.from(new Uint8Array(digest)).map(b => b.toString(16)).join(''));
  }
  return parts.join('|');
}"""

# Prose only: code, outputs and the typeset math itself may legitimately contain TeX.
JS_PROSE = """() => {
  const article = document.querySelector('article').cloneNode(true);
  article.querySelectorAll('pre, code, .cell_output, mjx-container, script, .math')
         .forEach(e => e.remove());
  return article.innerText;
}"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    if not (SITE / "index.html").exists():
        pytest.fail(f"no built book at {SITE}: run `make build` first")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run scripts/setup.sh --browser")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


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


def _open(browser, server, path):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    log = PageLog(page)
    page.goto(f"{server}/{path}", wait_until="networkidle")
    if page.evaluate("() => Boolean(window.MathJax && window.MathJax.startup)"):
        page.evaluate("() => window.MathJax.startup.promise")
    return context, page, log


def _wait_until(page, root, predicate, timeout_ms=6000):
    """Poll the fingerprint of what `root` shows until `predicate` holds; return the
    last."""
    step = 150
    now = page.evaluate(JS_FINGERPRINT, root)
    for _ in range(timeout_ms // step):
        if predicate(now):
            break
        page.wait_for_timeout(step)
        now = page.evaluate(JS_FINGERPRINT, root)
    return now


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

        # Widgets: every stored view rendered.
        n_views = page.locator(
            'script[type="application/vnd.jupyter.widget-view+json"]'
        ).count()
        roots = page.locator(".widget-subarea")
        page.wait_for_function(
            "() => document.querySelectorAll('.widget-subarea .jupyter-widgets')"
            f".length >= {n_views}",
            timeout=15000,
        )
        assert roots.count() >= n_views

        # Every slider and every Play button of a picture-showing widget changes the
        # picture.
        for i in range(roots.count()):
            root = roots.nth(i).element_handle()
            shown = page.evaluate(JS_FINGERPRINT, root)
            if not shown:
                continue  # a widget without pictures (e.g. a plain control)
            handles = roots.nth(i).locator(".noUi-handle")
            for k in range(handles.count()):
                handle = handles.nth(k)
                start = int(float(handle.get_attribute("aria-valuenow")))
                last = int(float(handle.get_attribute("aria-valuemax")))
                handle.focus()
                handle.press(
                    "Home" if start == last else "End"
                )  # as far away as it goes
                moved = _wait_until(page, root, lambda fp: fp and fp != shown)
                assert moved != shown, (
                    f"{path}: slider {k} of widget {i} does not change the picture"
                )
                handle.press(
                    "Home"
                )  # then back to where it started, one step at a time
                for _ in range(start):
                    handle.press("ArrowRight")
                back = _wait_until(page, root, lambda fp: fp == shown)
                assert back == shown, (
                    f"{path}: slider {k} of widget {i} does not come back"
                )
            plays = roots.nth(i).locator(".widget-play button:first-child")
            for k in range(plays.count()):
                plays.nth(k).click()
                played = _wait_until(page, root, lambda fp: fp and fp != shown)
                assert played != shown, (
                    f"{path}: Play {k} of widget {i} does not animate"
                )
                later = _wait_until(page, root, lambda fp: fp and fp != played)
                assert later != played, (
                    f"{path}: Play {k} of widget {i} stops after one frame"
                )

        assert log.external == [], f"requests leaving the machine: {log.external}"
        assert log.failed == [], f"failed local requests: {log.failed}"
        assert log.errors == [], f"console errors: {log.errors}"
    finally:
        context.close()
