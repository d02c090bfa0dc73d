"""Chapters 4 and 7 in the built book, driven with a real mouse and keyboard.

- Chapter 4's shapes explorable: sliders for N, D and M moved by clicking on their track
  and by arrow keys; every shape drawn and every multiply-add count in its table must
  equal what `lalib.linear.linear_forward` / `linear_backward` produce for arrays of
  those sizes, computed here. At 390 px nothing overflows and the text stays legible.
- Chapter 7's breakdown player: the image-size range moved by keyboard and Play/Pause
  pressed with the mouse; the chart's alt text and the times it writes must be those of
  the stored benchmark results (`benchmarks.report`), and the selection text follows.

Needs a built site (BOOK_SITE, or `make build`) and Debian's chromium.
"""

import os
import re
from pathlib import Path

import numpy as np
import pytest
from chromium import DESKTOP, PHONE
from redraw import after_redraw

from benchmarks import report
from lalib import linear
from lalib.display import engine

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("BOOK_SITE") or ROOT / "_build" / "html")


def _open(browser, url, root, device=DESKTOP):
    context = browser.new_context(**device)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url, wait_until="networkidle")
    page.wait_for_selector(root, timeout=15000)
    return context, page, errors


# ------------------------------------------------------------------ chapter 4: shapes

SHAPES_PAGE = "book/04-linear-layer.html"

# Every term the figure draws, as lalib computes it from arrays of the chosen sizes.
JS_TERMS = """(root) => Array.from(root.querySelectorAll('.la-term')).map(t => [
  t.querySelector('.la-term-name').textContent,
  t.querySelector('.la-term-shape').textContent])"""
JS_COUNTS = """(root) => Array.from(root.querySelectorAll('tr[data-product]'))
  .map(r => [r.dataset.product, r.querySelector('.la-madds').textContent,
  r.querySelector('.la-adds').textContent])"""


def _parse_shape(text):
    return tuple(int(v) for v in re.findall(r"\d+", text))


def _lalib_arrays(n, d, m):
    rng = np.random.default_rng(0)
    x, W, b = rng.standard_normal((n, d)), rng.standard_normal((d, m)), np.ones(m)
    out, cache = linear.linear_forward(x, W, b)
    g = rng.standard_normal(out.shape)
    dx, dW, db = linear.linear_backward(g, cache)
    return dict(x=x, W=W, b=b, out=out, g=g, grad_input=dx, grad_weights=dW) | {
        "grad_bias": db,
        "W.T": W.T,
        "x.T": x.T,
    }


def _sizes(page):
    return tuple(
        int(page.get_by_label(name, exact=True).input_value())
        for name in ("batch size N", "input size D", "output size M")
    )


def _check_shapes(page, root):
    """The shapes and counts shown equal lalib's for the sizes the sliders show."""
    n, d, m = _sizes(page)
    arrays = _lalib_arrays(n, d, m)
    terms = page.evaluate(JS_TERMS, root)
    assert {name for name, _ in terms} == set(arrays)
    for name, shape in terms:
        assert _parse_shape(shape) == arrays[name].shape, (name, shape, (n, d, m))
    a = arrays
    # (a, k) @ (k, c) takes k multiply-adds for each of its a * c outputs
    want = {
        "out": (a["x"].shape[1] * a["out"].size, a["out"].size),  # + b: one add each
        "grad_input": (a["g"].shape[1] * a["grad_input"].size, 0),
        "grad_weights": (a["x"].shape[0] * a["grad_weights"].size, 0),
        "grad_bias": (0, (a["g"].shape[0] - 1) * a["grad_bias"].size),
    }
    got = {
        product: (int(madds.split("=")[-1]), int(adds))
        for product, madds, adds in page.evaluate(JS_COUNTS, root)
    }
    assert got == want, (n, d, m)
    summary = page.locator(".la-shapes-summary").inner_text()
    assert f"N = {n}, D = {d}, M = {m}:" in summary
    assert f"takes {want['out'][0]} multiply-adds" in summary
    assert f"= {2 * want['out'][0]}, twice as many" in summary
    return n, d, m


def _click_track(page, name, fraction):
    """Click a range input's track at `fraction` of its width, with the mouse."""
    track = page.get_by_label(name, exact=True)
    track.scroll_into_view_if_needed()
    box = track.bounding_box()
    page.mouse.click(box["x"] + fraction * box["width"], box["y"] + box["height"] / 2)


def _settle(page):
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")
    after_redraw(page)


def test_shapes_explorer_follows_mouse_and_keyboard(browser, served_book):
    context, page, errors = _open(
        browser, f"{served_book}/{SHAPES_PAGE}", ".la-shapes .la-term"
    )
    try:
        root = page.locator(".la-shapes").element_handle()
        assert root.get_attribute("role") == "group" and root.get_attribute(
            "aria-label"
        )
        assert _check_shapes(page, root) == (4, 3, 2)  # the chapter's example

        # Mouse: click near the right end of N's track, the left end of M's.
        _click_track(page, "batch size N", 0.97)
        _settle(page)
        _click_track(page, "output size M", 0.02)
        _settle(page)
        n, d, m = _check_shapes(page, root)
        assert n == 8 and m == 1 and d == 3

        # Keyboard: arrows on the focused D slider, End and Home on M.
        page.get_by_label("input size D", exact=True).focus()
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowUp")
        _settle(page)
        assert _check_shapes(page, root) == (8, 6, 1)
        page.get_by_label("output size M", exact=True).focus()
        page.keyboard.press("End")
        _settle(page)
        assert _check_shapes(page, root) == (8, 6, 8)
        page.keyboard.press("ArrowLeft")
        page.get_by_label("batch size N", exact=True).focus()
        page.keyboard.press("Home")
        _settle(page)
        assert _check_shapes(page, root) == (1, 6, 7)

        # Drawn to scale: width and height of a term's rectangle are cols and rows
        # times one cell size, the same cell for every term.
        rects = page.evaluate(
            """(root) => Array.from(root.querySelectorAll('.la-term')).map(t => {
                 const r = t.querySelector('rect');
                 return [t.querySelector('.la-term-shape').textContent,
                         +r.getAttribute('width'), +r.getAttribute('height')]; })""",
            root,
        )
        cells = set()
        for shape, w, h in rects:
            dims = _parse_shape(shape)
            rows, cols = (1, dims[0]) if len(dims) == 1 else dims
            cells |= {w / cols, h / rows}
        assert len(cells) == 1, cells
        assert errors == []
    finally:
        context.close()


JS_OVERFLOW = """(root) => {
  const vw = document.documentElement.clientWidth;
  const out = [];
  for (const e of root.querySelectorAll('*')) {
    if (e.closest('.la-scroll')) continue;
    const r = e.getBoundingClientRect();
    if (r.width > 0 && r.right > vw + 0.5) out.push(e.tagName + '.' + e.className);
  }
  return out;
}"""
JS_SMALLEST_TEXT = """(root) => {
  let small = 1e9;
  const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const t = walk.currentNode;
    if (!t.textContent.trim() || !t.parentElement.getClientRects().length) continue;
    small = Math.min(small, parseFloat(getComputedStyle(t.parentElement).fontSize));
  }
  return small;
}"""


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_shapes_and_breakdown_fit_and_are_legible(browser, served_book, device):
    shots = SITE.parent / "screenshots"  # _build/screenshots beside the site
    for page_path, selector in (
        (SHAPES_PAGE, ".la-shapes .la-term"),
        (BREAKDOWN_PAGE, ".la-frames .la-bars"),
    ):
        context, page, errors = _open(
            browser,
            f"{served_book}/{page_path}",
            selector,
            DESKTOP if device == "desktop" else PHONE,
        )
        try:
            root = page.locator(selector.split()[0]).element_handle()
            root.scroll_into_view_if_needed()
            if device == "phone":
                # the largest drawing the sliders allow must fit too
                for name in ("batch size N", "input size D", "output size M"):
                    if page_path == SHAPES_PAGE:
                        page.get_by_label(name, exact=True).focus()
                        page.keyboard.press("End")
                _settle(page)
            shots.mkdir(parents=True, exist_ok=True)
            root.screenshot(path=str(shots / f"{Path(page_path).stem}-{device}.png"))
            assert page.evaluate(JS_OVERFLOW, root) == []
            assert page.evaluate(JS_SMALLEST_TEXT, root) >= 11
            assert errors == []
        finally:
            context.close()


# ---------------------------------------------------------- chapter 7: the breakdown

BREAKDOWN_PAGE = "book/07-matmul-engine.html"


def _breakdown_state(page):
    root = page.locator(".la-frames").filter(has=page.locator(".la-bars"))
    return {
        "alt": root.locator(".la-bars").get_attribute("aria-label"),
        "selection": root.locator(".la-frame-selection").inner_text(),
        "values": root.locator(".la-bar-value").all_inner_texts(),
    }


def _expect(label, labels, breakdowns):
    times, title = breakdowns[label]
    return {
        "alt": engine.conv_breakdown_alt(times, title),
        "selection": f"image size {label} ({labels.index(label) + 1} of {len(labels)})",
        "values": [engine._ms_text(float(t)) for t in times.values()],
    }


def test_breakdown_player_follows_keyboard_and_play(browser, served_book):
    # The chapter shows the reference results shipped with the package.
    breakdowns = report.conv_breakdowns(report.load_results(report.REFERENCE))
    labels = list(breakdowns)
    context, page, errors = _open(
        browser, f"{served_book}/{BREAKDOWN_PAGE}", ".la-frames .la-bars"
    )
    try:
        assert _breakdown_state(page) == _expect(labels[0], labels, breakdowns)
        size = page.get_by_label("image size", exact=True)
        size.focus()
        page.keyboard.press("ArrowRight")
        _settle(page)
        assert _breakdown_state(page) == _expect(labels[1], labels, breakdowns)
        page.keyboard.press("End")
        _settle(page)
        assert _breakdown_state(page) == _expect(labels[-1], labels, breakdowns)
        assert "Toeplitz matrix product not run" in _breakdown_state(page)["alt"]

        # Play with the mouse: from the last size it starts again at the first.
        play = page.get_by_role("button", name="Play image size")
        box = play.bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        pause = page.get_by_role("button", name="Pause image size")
        assert pause.get_attribute("aria-pressed") == "true"
        page.wait_for_function(
            "() => /image size \\S+ \\(3 of/.test("
            "document.querySelector('.la-frame-selection').textContent)",
            timeout=8000,
        )
        pause.click()
        assert play.get_attribute("aria-pressed") == "false"
        stopped = _breakdown_state(page)
        label = re.match(r"image size (\S+) ", stopped["selection"]).group(1)
        assert stopped == _expect(label, labels, breakdowns)
        page.wait_for_timeout(1200)  # longer than one step: nothing moves
        assert _breakdown_state(page) == stopped

        size.focus()
        page.keyboard.press("Home")
        _settle(page)
        assert _breakdown_state(page) == _expect(labels[0], labels, breakdowns)
        assert errors == []
    finally:
        context.close()
