"""Chapter 2's explorables in the built book, driven with a real mouse and keyboard.

- The convolution explorer (`lalib.display.conv.ConvExplorer`): pixels painted with
  mouse clicks and typed with the keyboard cursor, a filter preset clicked, a weight
  typed, stride and padding set with the arrow keys, output pixels picked with the
  mouse and the keyboard, Play pressed. After each action the output, the row of the
  Toeplitz matrix and the im2col column the widget shows must equal what
  `lalib.conv` (conv2d, toeplitz_matrix, im2col) gives for the inputs the actions
  produced, computed here.
- The volume view (`ConvVolumeExplorer`): padding and position from the keyboard,
  an output pixel clicked, a weight typed; its output and per-channel sums must equal
  `conv.conv2d` on the stored (3, H, W) image.
- The stamp explorer (`StampExplorer`): the number of stamped pixels from the
  keyboard, a kernel chosen in its dropdown, the stride; its output must equal
  `conv.conv_transpose2d` of the image with only the stamped pixels.
- At 390 px neither overflows and their readouts are on screen; at 1280 px their text
  is at least 11 px.

Needs a built site (BOOK_SITE, or `make build`) and Debian's chromium.
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from chromium import DESKTOP, PHONE
from redraw import after_redraw

from lalib import conv
from lalib.display.conv import EXAMPLE_IMAGE, FILTERS

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("BOOK_SITE") or ROOT / "_build" / "html")
PAGE = "book/02-convolutions.html"
CONV, VOLUME = ".la-conv:not(.la-conv-volume)", ".la-conv-volume"
SHOWN = 0.005 + 1e-9  # the widget shows integers bare and others with two decimals

# What the plane explorer shows, as text.
JS_READ = """(root) => {
  const texts = (sel) => Array.from(root.querySelectorAll(sel)).map(e => e.textContent);
  const grid = (sel) => Array.from(root.querySelectorAll(sel)).map(g =>
    [Number(g.dataset.row), Number(g.dataset.col),
     g.querySelector('text').textContent]);
  return {
    image: grid('.la-input .la-px'),
    output: grid('.la-output .la-out'),
    filter: Array.from(root.querySelectorAll('table.la-filter input'))
      .map(i => i.value),
    trow: texts('.la-trow .la-v'),
    col: texts('.la-im2col td.la-col'),
    value: texts('.la-eq .la-value')[0],
    position: root.querySelector('input.la-position').value,
    partials: texts('.la-partial'),
  };
}"""


def _num(text):
    return float(text.strip().replace("−", "-"))


def _grid(cells, shape):
    """[(row, col, text)] -> array; "·" (not computed yet) -> NaN."""
    out = np.full(shape, np.nan)
    for r, c, t in cells:
        out[r, c] = np.nan if t.strip() == "·" else _num(t)
    return out


def _open(browser, served_book, options):
    context = browser.new_context(**options)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{served_book}/{PAGE}", wait_until="networkidle")
    page.wait_for_selector(f"{CONV} .la-output .la-out", timeout=15000)
    page.wait_for_selector(f"{VOLUME} .la-output .la-out", timeout=15000)
    return context, page, errors


@pytest.fixture
def page(browser, served_book):
    context, page, errors = _open(browser, served_book, DESKTOP)
    yield page
    context.close()
    assert not [e for e in errors if "THEBE" not in e], errors


def _stored_state(page, model_name, key):
    """A trait of the first stored widget of this kind, from the page's widget state."""
    text = page.evaluate(
        "() => document.querySelector("
        "'script[type=\"application/vnd.jupyter.widget-state+json\"]').textContent"
    )
    for model in json.loads(text)["state"].values():
        if model["state"].get("_view_name") == "AnyView" and key in model["state"]:
            esm = model["state"].get("_esm", "")
            if model_name in esm:
                return model["state"]
    raise AssertionError(f"no stored {model_name} with {key}")


def _read(page, sel):
    root = page.locator(sel).first
    root.scroll_into_view_if_needed()
    after_redraw(page)
    return page.evaluate(JS_READ, root.element_handle())


def _click_center(page, locator):
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def _press(page, locator, *keys):
    locator.focus()
    for key in keys:
        page.keyboard.press(key)


def _assert_views(shown, x, w, stride, padding, position):
    """The output, T row, im2col column and dot product equal lalib's."""
    x4, w4 = x[None, None], w[None, None]  # (1, 1, H, W), (1, 1, 3, 3)
    out = conv.conv2d(x4, w4, None, stride, padding)[0, 0]  # (H', W')
    T = conv.toeplitz_matrix(w4, (1, *x.shape), stride, padding)  # (H'W', HW)
    cols = conv.im2col(x4, (3, 3), stride, padding)[0]  # (9, H'W')
    p = position
    Ho, Wo = out.shape
    assert int(shown["position"]) == p
    got = _grid(shown["output"], out.shape)
    done = np.arange(Ho * Wo).reshape(Ho, Wo) <= p  # filled in up to the window
    assert np.isnan(got[~done]).all()
    np.testing.assert_allclose(got[done], out[done], atol=SHOWN)
    np.testing.assert_allclose([_num(t) for t in shown["trow"]], T[p], atol=SHOWN)
    np.testing.assert_allclose([_num(t) for t in shown["col"]], cols[:, p], atol=SHOWN)
    assert abs(_num(shown["value"]) - out.flat[p]) <= SHOWN
    assert abs(T[p] @ x.ravel() - w.ravel() @ cols[:, p]) < 1e-9


def test_conv_explorer_follows_mouse_and_keyboard(page):
    root = page.locator(CONV).first
    shown = _read(page, CONV)
    # The stored inputs are the chapter's example, and the page computes from them.
    x = EXAMPLE_IMAGE.copy()
    w = FILTERS["edge"]
    np.testing.assert_array_equal(_grid(shown["image"], x.shape), x)
    np.testing.assert_array_equal([_num(t) for t in shown["filter"]], w.ravel())
    _assert_views(shown, x, w, 1, 0, 0)

    # Mouse: paint a pixel (the box holds 8), clear the 8 at (2, 2), pick "sharpen".
    _click_center(page, root.locator('.la-px[data-row="0"][data-col="4"]'))
    x[0, 4] = 8
    _click_center(page, root.locator('.la-px[data-row="2"][data-col="2"]'))
    x[2, 2] = 0
    _click_center(page, root.get_by_role("button", name="sharpen"))
    w = FILTERS["sharpen"]
    shown = _read(page, CONV)
    np.testing.assert_array_equal(_grid(shown["image"], x.shape), x)
    assert root.get_by_role("button", name="sharpen").get_attribute("aria-pressed") == (
        "true"
    )
    _assert_views(shown, x, w, 1, 0, 0)

    # Keyboard: the cursor is where the last click was, (2, 2); move it and type.
    image = root.locator("svg.la-input")
    _press(page, image, "ArrowRight", "ArrowDown", "7")  # (3, 3) := 7
    x[3, 3] = 7
    _press(page, image, "ArrowLeft", "ArrowLeft", "ArrowLeft", "ArrowLeft", "+")
    x[3, 0] += 1  # the cursor stops at the left edge: (3, 0), 4 + 1
    _press(page, image, "ArrowUp", "ArrowUp", "ArrowUp", "ArrowUp", "-")
    x[0, 0] -= 1  # and at the top edge
    shown = _read(page, CONV)
    np.testing.assert_array_equal(_grid(shown["image"], x.shape), x)
    _assert_views(shown, x, w, 1, 0, 0)

    # Keyboard: stride 2, padding 1 (arrow keys on the sliders), last output pixel.
    stride_slider = root.get_by_role("slider", name="Stride")
    padding_slider = root.get_by_role("slider", name="Padding")
    position = root.get_by_role("slider", name="Output pixel")
    _press(page, stride_slider, "ArrowRight")
    _press(page, padding_slider, "ArrowRight")
    _press(page, position, "End")
    shown = _read(page, CONV)
    assert conv.output_size(x.shape, (3, 3), 2, 1) == (3, 3)
    _assert_views(shown, x, w, 2, 1, 8)
    assert root.locator(".la-input .la-pad").count() == 7 * 7 - 5 * 5  # the ring

    # An output pixel picked with the mouse, another with the keyboard.
    _click_center(page, root.locator('.la-output .la-out[data-row="1"][data-col="0"]'))
    _assert_views(_read(page, CONV), x, w, 2, 1, 3)
    _press(page, position, "Home", "ArrowRight")
    _assert_views(_read(page, CONV), x, w, 2, 1, 1)

    # A typed weight (the centre of sharpen, 5 -> 3); padding 2, stride 1.
    centre = root.get_by_role("spinbutton", name="weight w[1, 1]")
    centre.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("3")
    w = w.copy()
    w[1, 1] = 3.0
    _press(page, stride_slider, "ArrowLeft")
    _press(page, padding_slider, "ArrowRight")
    _press(page, position, "End", "ArrowLeft")  # 7 x 7 output: pixel 47
    shown = _read(page, CONV)
    np.testing.assert_array_equal([_num(t) for t in shown["filter"]], w.ravel())
    _assert_views(shown, x, w, 1, 2, 47)

    # Play slides the window; the button says what it will do next.
    play = root.get_by_role("button", name="Play")
    _click_center(page, play)
    pause = root.get_by_role("button", name="Pause")
    assert pause.count() == 1
    page.wait_for_function(
        "(el) => el.querySelector('input.la-position').value !== '47'",
        arg=root.element_handle(),
        timeout=4000,
    )
    _click_center(page, pause)
    shown = _read(page, CONV)
    moved = int(shown["position"])
    assert moved in (48, 0, 1)  # 47 -> 48 -> wraps to 0 -> 1
    _assert_views(shown, x, w, 1, 2, moved)


def test_volume_explorer_sums_the_channels(page):
    root = page.locator(VOLUME).first
    state = _stored_state(page, "conv_volume.js", "image")
    x = np.array(state["image"])  # (3, H, W), as the notebook stored it
    w = np.array(state["filter"])  # (3, 3, 3)

    def check(stride, padding, p):
        shown = _read(page, VOLUME)
        out = conv.conv2d(x[None], w[None], None, stride, padding)[0, 0]
        Ho, Wo = out.shape
        i, j = divmod(p, Wo)
        assert int(shown["position"]) == p
        got = _grid(shown["output"], out.shape)
        done = np.arange(Ho * Wo).reshape(Ho, Wo) <= p
        np.testing.assert_allclose(got[done], out[done], atol=SHOWN)
        parts = [
            conv.conv2d(x[None, [c]], w[None, [c]], None, stride, padding)[0, 0, i, j]
            for c in range(3)
        ]
        np.testing.assert_allclose(
            [_num(t) for t in shown["partials"]], parts, atol=SHOWN
        )
        assert abs(_num(shown["value"]) - out[i, j]) <= SHOWN

    check(1, 0, 0)
    padding_slider = root.get_by_role("slider", name="Padding")
    position = root.get_by_role("slider", name="Output pixel")
    _press(page, padding_slider, "ArrowRight")  # padding 1: 5 x 5 output
    _press(page, position, "End")
    check(1, 1, 24)
    _click_center(page, root.locator('.la-output .la-out[data-row="2"][data-col="3"]'))
    check(1, 1, 13)
    weight = root.get_by_role("spinbutton", name="w[2, 0, 0]")
    weight.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("-2")
    w = w.copy()
    w[2, 0, 0] = -2.0
    check(1, 1, 13)
    _press(page, root.get_by_role("slider", name="Stride"), "ArrowRight", "ArrowRight")
    check(3, 1, 3)  # stride 3: 2 x 2 output, the window kept on its last pixel


@pytest.mark.parametrize("options", [DESKTOP, PHONE], ids=["1280px", "390px"])
def test_layout(browser, served_book, options):
    context, page, _ = _open(browser, served_book, options)
    try:
        width = options["viewport"]["width"]
        shots = SITE.parent / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        for sel, name in [(CONV, "conv"), (VOLUME, "volume")]:
            root = page.locator(sel).first
            root.scroll_into_view_if_needed()
            root.screenshot(path=str(shots / f"ch2-{name}-{width}.png"))
            box = root.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, (name, box)
            overflow = page.evaluate(
                "(el) => Array.from(el.querySelectorAll('*')).filter(e => {"
                "  if (e.closest('.la-scroll')) return false;"
                "  const r = e.getBoundingClientRect();"
                f"  return r.width > 0 && (r.left < -0.5 || r.right > {width} + 0.5);"
                "}).map(e => e.tagName + '.' + e.getAttribute('class'))",
                root.element_handle(),
            )
            assert overflow == [], (name, overflow[:5])
            # Readouts: every output number, the equation, the description are shown.
            for part in (".la-eq", ".la-desc", ".la-output", "input.la-position"):
                assert root.locator(part).first.is_visible(), (name, part)
            if width == 1280:  # text at least 11 CSS px as rendered (SVG scaled)
                smallest = page.evaluate(
                    "(el) => Math.min(...Array.from(el.querySelectorAll('*'))"
                    ".filter(e => e.childNodes.length && Array.from(e.childNodes)"
                    ".some(n => n.nodeType === 3 && n.textContent.trim()))"
                    ".map(e => { const px = parseFloat(getComputedStyle(e).fontSize);"
                    " const svg = e.closest('svg'); if (!svg) return px;"
                    " return px * svg.getBoundingClientRect().width"
                    " / svg.viewBox.baseVal.width; }))",
                    root.element_handle(),
                )
                assert smallest >= 11, (name, smallest)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    finally:
        context.close()


def test_redraw_updates_the_drawing_in_place(page):
    """A redraw changes the nodes that are already on the page (ui.patch) instead of
    building new ones, so the browser restyles and repaints only what changed: the
    output pixels, the window and the row of T are the same elements after the
    window moves, showing the new numbers."""
    root = page.locator(CONV).first
    root.scroll_into_view_if_needed()
    before = page.evaluate(
        """(root) => {
          const marked = [...root.querySelectorAll(
            '.la-output .la-out, .la-input .la-window, .la-trow .la-box')];
          marked.forEach((e, k) => { e.laMark = k; });
          return marked.length;
        }""",
        root.element_handle(),
    )
    _press(page, root.get_by_role("slider", name="Output pixel"), "End")
    after_redraw(page)
    kept = page.evaluate(
        """(root) => [...root.querySelectorAll(
          '.la-output .la-out, .la-input .la-window, .la-trow .la-box')]
          .filter((e) => e.laMark !== undefined).length""",
        root.element_handle(),
    )
    assert before == 9 + 1 + 25 and kept == before
    shown = _read(page, CONV)
    _assert_views(shown, EXAMPLE_IMAGE.copy(), FILTERS["edge"], 1, 0, 8)


STAMPS = ".la-stamps"
JS_STAMPS = """(root) => Array.from(root.querySelectorAll(
    '.la-ts-output .la-ts-cell:not([display="none"])'))
  .map(g => [Number(g.dataset.row), Number(g.dataset.col),
             g.querySelector('text').textContent])"""


def _stamped(page, shape):
    page.wait_for_selector(f"{STAMPS} .la-ts-output .la-ts-cell", timeout=15000)
    root = page.locator(STAMPS).first
    root.scroll_into_view_if_needed()
    after_redraw(page)
    cells = page.evaluate(JS_STAMPS, root.element_handle())
    assert len(cells) == shape[0] * shape[1]
    return _grid(cells, shape)


def _stamps_lalib(x, w, stride, stamped):
    """lalib's transposed convolution of `x` with only its first `stamped` pixels."""
    H, W = x.shape
    shown = np.where(np.arange(H * W).reshape(H, W) < stamped, x, 0.0)
    return conv.conv_transpose2d(shown[None, None], w[None, None], stride=stride)[0, 0]


def test_stamp_explorer_follows_keyboard_and_matches_lalib(page):
    root = page.locator(STAMPS).first
    x = np.ones((4, 4))
    ones3, ones4 = np.ones((3, 3)), np.ones((4, 4))
    full = _stamps_lalib(x, ones3, 2, 16)
    np.testing.assert_array_equal(_stamped(page, (9, 9)), full)
    assert sorted(np.unique(full)) == [1, 2, 4]  # the checkerboard's counts

    stamped = root.get_by_role("slider", name="Input pixels stamped")
    _press(page, stamped, "Home")
    np.testing.assert_array_equal(_stamped(page, (9, 9)), np.zeros((9, 9)))
    _press(page, stamped, *["ArrowRight"] * 5)  # pixels (0, 0..3) and (1, 0)
    np.testing.assert_array_equal(_stamped(page, (9, 9)), _stamps_lalib(x, ones3, 2, 5))
    box = root.locator(".la-ts-output .la-ts-box")
    assert (box.get_attribute("x"), box.get_attribute("y")) == ("0", str(2 * 28))

    root.get_by_label("Kernel", exact=True).select_option(label="4x4 ones")
    _press(page, stamped, "End")
    np.testing.assert_array_equal(
        _stamped(page, (10, 10)), _stamps_lalib(x, ones4, 2, 16)
    )
    _press(page, root.get_by_role("slider", name="Stride"), "ArrowRight")
    np.testing.assert_array_equal(
        _stamped(page, (13, 13)), _stamps_lalib(x, ones4, 3, 16)
    )
    status = root.locator(".la-status").text_content()
    assert "divides the kernel size" not in status and "checkerboard" in status

    # Play from the end starts again from no stamp and steps forward by itself.
    root.get_by_role("button", name="Play").click()
    page.wait_for_function(
        "(s) => { const v = Number(s.value); return v >= 1 && v < 16; }",
        arg=stamped.element_handle(),
        timeout=10000,
    )
    root.get_by_role("button", name="Pause").click()
    k = int(stamped.input_value())
    np.testing.assert_array_equal(
        _stamped(page, (13, 13)), _stamps_lalib(x, ones4, 3, k)
    )
