"""What the browser tests of an explorable share: opening its chapter, reading the
widget state the notebook stored, pressing keys, and the layout checks (nothing
outside the viewport, text large enough).

Used by ``test_explore_ch9.py`` and ``test_explore_ch10.py``.
"""

import json

from redraw import after_redraw

# The elements of a figure that stick out of a viewport `width` px wide, outside any
# horizontally scrolling box (.la-scroll), as "TAG.class" strings.
_OVERFLOW = """([el, width]) => Array.from(el.querySelectorAll('*')).filter(e => {
  if (e.closest('.la-scroll')) return false;
  const r = e.getBoundingClientRect();
  return r.width > 0 && (r.left < -0.5 || r.right > width + 0.5);
}).map(e => e.tagName + '.' + e.getAttribute('class'))"""

# The smallest font size, in CSS px as rendered, of any text in a figure (SVG text
# scaled by its viewBox).
_SMALLEST_TEXT = """(el) => Math.min(...Array.from(el.querySelectorAll('*'))
  .filter(e => e.childNodes.length && Array.from(e.childNodes)
    .some(n => n.nodeType === 3 && n.textContent.trim()))
  .map(e => { const px = parseFloat(getComputedStyle(e).fontSize);
    const svg = e.closest('svg'); if (!svg) return px;
    return px * svg.getBoundingClientRect().width / svg.viewBox.baseVal.width; }))"""


def num(text):
    """A number as an explorable shows it ("−1.50", with a true minus sign)."""
    return float(text.strip().replace("−", "-"))


def open_chapter(browser, served_book, path, options, ready):
    """A new context and page at `path` of the served book, once `ready` (a selector)
    is there: ``(context, page, errors)``, `errors` collecting the page's errors."""
    context = browser.new_context(**options)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{served_book}/{path}", wait_until="networkidle")
    page.wait_for_selector(ready, timeout=15000)
    return context, page, errors


def stored_state(page, marker, name):
    """The stored state of the anywidget on the page whose module contains `marker`
    (a function name only that explorable's bundle has)."""
    text = page.evaluate(
        "() => document.querySelector("
        "'script[type=\"application/vnd.jupyter.widget-state+json\"]').textContent"
    )
    for model in json.loads(text)["state"].values():
        state = model["state"]
        if state.get("_view_name") == "AnyView" and marker in state.get("_esm", ""):
            return state
    raise AssertionError(f"no stored {name} on the page")


def read(page, selector, js):
    """`js` (a function of the figure's root element) evaluated on the first
    `selector`, after the figure has redrawn."""
    root = page.locator(selector).first
    root.scroll_into_view_if_needed()
    after_redraw(page)
    return page.evaluate(js, root.element_handle())


def press(page, locator, *keys):
    """Focus `locator` and press `keys` in turn, as a keyboard user does."""
    locator.focus()
    for key in keys:
        page.keyboard.press(key)


def assert_fits(page, root, width):
    """The figure `root` lies inside a viewport `width` px wide, none of its parts
    outside it (but in a scrolling box), and the page does not scroll sideways; at
    1280 px every text is at least 11 px."""
    box = root.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, box
    overflow = page.evaluate(_OVERFLOW, [root.element_handle(), width])
    assert overflow == [], overflow[:5]
    if width == 1280:
        smallest = page.evaluate(_SMALLEST_TEXT, root.element_handle())
        assert smallest >= 11, smallest
    assert page.evaluate("document.documentElement.scrollWidth") <= width
