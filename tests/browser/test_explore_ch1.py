"""Chapter 1's explorables in the built book, driven with a real mouse and keyboard.

- The plane under y = W x + b (`lalib.display.plane.PlaneExplorer`): its handles dragged
  with the mouse and moved with the arrow keys, the Preset menu chosen with the
  keyboard. After each action the matrix W, det W and y = W x + b that the widget shows
  must equal what `lalib.linear.linear` and numpy's det give for the inputs the action
  produced (read from the widget's own tables, or known from the action).
- The fold (`FoldExplorer`): the ReLU toggled from the keyboard, a hidden bias moved
  with the arrow keys, x dragged with the mouse; y and the counts of active grid points
  must be lalib's (`linear.linear`, `activations.relu`).
- At 390 px the explorables do not overflow and their readouts are on screen; at
  1280 px their text is at least 11 px.

Needs a built site (BOOK_SITE, or `make build`) and Debian's chromium.
"""

import math

import numpy as np
import pytest
from chromium import DESKTOP, PHONE
from redraw import after_redraw

from lalib import activations, linear

pytestmark = pytest.mark.browser

PAGE = "book/01-layers.html"
PLANE, FOLD = ".pl-plane", ".pl-fold"
SHOWN = 0.005 + 1e-9  # the widget shows two decimals

# The numbers the widget shows: each table by its caption, and the readouts.
JS_TABLES = """(root) => Object.fromEntries(
  Array.from(root.querySelectorAll('table.la-matrix')).map(t => [
    t.querySelector('caption').textContent,
    Array.from(t.querySelectorAll('tbody tr')).map(r =>
      Array.from(r.querySelectorAll('td')).map(td => td.textContent))]))"""


def _num(text):
    return float(text.strip().replace("−", "-"))


def _vec(text):
    """ "[18.00, −40.00]" -> array([18., -40.])"""
    return np.array([_num(t) for t in text.strip().strip("[]").split(",")])


@pytest.fixture
def page(browser, served_book):
    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{served_book}/{PAGE}", wait_until="networkidle")
    page.wait_for_selector(f"{PLANE} .pl-det", timeout=15000)
    page.wait_for_selector(f"{FOLD} .pl-yout", timeout=15000)
    yield page
    context.close()
    assert not [e for e in errors if "plane" in e or "pl-" in e], errors


def _plane_state(page):
    """What the plane explorer shows: W, x, b, y (tables), det and y (readouts)."""
    root = page.locator(PLANE)
    tables = root.evaluate(JS_TABLES)
    as_array = {
        k: np.array([[_num(v) for v in row] for row in t]) for k, t in tables.items()
    }
    return {
        "W": as_array["W"],
        "x": as_array["x"][:, 0],
        "b": as_array["b"][:, 0],
        "y": as_array["y"][:, 0],
        "det": _num(root.locator(".pl-det").text_content()),
        "y_readout": _vec(root.locator(".pl-yout").text_content()),
    }


def _assert_plane_is_lalib(shown, W, b, x):
    """The shown W, b, x are these, and the shown det and y are lalib's for them."""
    W, b, x = (np.asarray(a, dtype=float) for a in (W, b, x))
    assert np.allclose(shown["W"], W, atol=SHOWN)
    assert np.allclose(shown["b"], b, atol=SHOWN) and np.allclose(
        shown["x"], x, atol=SHOWN
    )
    y = linear.linear(x[None, :], W.T, b)[0]  # (1, 2) @ (2, 2) + (2,) -> (1, 2)
    assert np.allclose(shown["y"], y, atol=SHOWN)
    assert np.allclose(shown["y_readout"], y, atol=SHOWN)
    assert shown["det"] == pytest.approx(np.linalg.det(W), abs=SHOWN)


def _handle(page, start):
    return page.locator(f'{PLANE} [role="button"][aria-label^="{start}"]')


def _drag(page, handle, dx, dy):
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    x0, y0 = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x0, y0)
    page.mouse.down()
    for k in range(1, 6):
        page.mouse.move(x0 + dx * k / 5, y0 + dy * k / 5)
    page.mouse.up()
    after_redraw(page)


def test_the_worked_example_shows_lalibs_y_18_40(page):
    shown = _plane_state(page)
    _assert_plane_is_lalib(shown, [[1, 2], [3, 4]], [1, 1], [5, 6])
    assert np.array_equal(shown["y"], [18, 40])  # the chapter's result, as lalib says
    assert "flipped" in page.locator(f"{PLANE} .pl-orient").text_content()
    summary = page.locator(f"{PLANE} .pl-summary").text_content()
    assert "y = [18.00, 40.00]" in summary


def test_arrow_keys_move_e1_by_a_tenth_and_shift_by_a_half(page):
    before = _plane_state(page)
    e1 = _handle(page, "e₁")
    e1.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowUp")
    W = before["W"] + np.array([[0.2, 0.0], [0.5, 0.0]])  # only W[:, 0] moves
    shown = _plane_state(page)
    _assert_plane_is_lalib(shown, W, before["b"], before["x"])
    assert "[1.20, 3.50]" in e1.get_attribute("aria-label")
    # the input x, by keyboard too: y follows
    _handle(page, "x,").focus()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowDown")
    _assert_plane_is_lalib(_plane_state(page), W, before["b"], before["x"] - 0.1)


def test_preset_rotation_chosen_with_the_keyboard(page):
    before = _plane_state(page)
    select = page.get_by_label("Preset", exact=True)
    assert select.evaluate("s => s.closest('.pl-plane') !== null")
    select.focus()
    for _ in range(10):  # step through the menu until the rotation is chosen
        if select.evaluate("s => s.selectedOptions[0].text") == "rotation 30°":
            break
        page.keyboard.press("ArrowDown")
    assert select.evaluate("s => s.selectedOptions[0].text") == "rotation 30°"
    after_redraw(page)
    c, s = math.cos(math.pi / 6), math.sin(math.pi / 6)
    shown = _plane_state(page)
    _assert_plane_is_lalib(shown, [[c, -s], [s, c]], before["b"], before["x"])
    assert shown["det"] == pytest.approx(1.0)
    assert "preserved" in page.locator(f"{PLANE} .pl-orient").text_content()
    # the singular preset: det 0, and the orientation says the plane collapsed
    select.select_option(label="singular")
    after_redraw(page)
    shown = _plane_state(page)
    _assert_plane_is_lalib(shown, [[1, 2], [0.5, 1]], before["b"], before["x"])
    assert "collapsed" in page.locator(f"{PLANE} .pl-orient").text_content()


def test_mouse_drags_of_b_e2_and_x(page):
    # a smaller view first (the identity keeps b and x), so a drag moves a lot
    page.get_by_label("Preset", exact=True).select_option(label="identity")
    after_redraw(page)
    before = _plane_state(page)
    # b moves the whole picture: W stays, y moves with it
    _drag(page, _handle(page, "b,"), -30, -30)  # left and up
    moved = _plane_state(page)
    assert np.array_equal(moved["W"], before["W"])
    assert moved["b"][0] < before["b"][0] and moved["b"][1] > before["b"][1]
    menu = page.locator(f"{PLANE} select")
    assert menu.evaluate("s => s.selectedOptions[0].text") == "identity"  # W still is
    _assert_plane_is_lalib(moved, before["W"], moved["b"], before["x"])
    # the tip of We2: only the second column of W changes
    _drag(page, _handle(page, "e₂"), 60, 40)  # right and down
    shown = _plane_state(page)
    assert np.array_equal(shown["W"][:, 0], before["W"][:, 0])
    assert shown["W"][0, 1] > before["W"][0, 1] and shown["W"][1, 1] < before["W"][1, 1]
    assert menu.evaluate("s => s.selectedOptions[0].text") == "(your own)"
    _assert_plane_is_lalib(shown, shown["W"], moved["b"], before["x"])
    # and the input x
    _drag(page, _handle(page, "x,"), -50, 20)
    last = _plane_state(page)
    assert last["x"][0] < before["x"][0] and last["x"][1] < before["x"][1]
    _assert_plane_is_lalib(last, shown["W"], moved["b"], last["x"])


def _fold_state(page):
    root = page.locator(FOLD)
    tables = {
        k: np.array([[_num(v) for v in row] for row in t])
        for k, t in root.evaluate(JS_TABLES).items()
    }
    readout = root.locator(".pl-readout p").first.text_content()
    x = _vec(readout.split("→")[0].split("=")[1])
    counts = [
        int(li.split(":")[1].split("of")[0])
        for li in root.locator(".pl-legend li").all_text_contents()
    ]
    return {
        "W1": tables["W₁"],
        "b1": tables["b₁"][:, 0],
        "W2": tables["W₂"],
        "b2": tables["b₂"][:, 0],
        "x": x,
        "y": _vec(root.locator(".pl-yout").text_content()),
        "counts": counts,
        "relu": root.get_by_role(
            "button", name="ReLU between the layers"
        ).get_attribute("aria-pressed")
        == "true",
    }


def _assert_fold_is_lalib(s):
    hidden = linear.linear(s["x"][None, :], s["W1"].T, s["b1"])  # (1, 2)
    if s["relu"]:
        hidden = activations.relu(hidden)
    y = linear.linear(hidden, s["W2"].T, s["b2"])[0]
    assert np.allclose(s["y"], y, atol=SHOWN)
    ticks = np.linspace(-2, 2, 9)
    grid = np.stack(np.meshgrid(ticks, ticks), axis=-1).reshape(-1, 2)  # (81, 2)
    on = linear.linear(grid, s["W1"].T, s["b1"]) > 0  # (81, 2)
    a, b = on[:, 0], on[:, 1]
    assert s["counts"] == [
        int(np.sum(a & b)),
        int(np.sum(a & ~b)),
        int(np.sum(~a & b)),
        int(np.sum(~a & ~b)),
    ]


def test_fold_toggle_bias_and_drag(page):
    first = _fold_state(page)
    assert first["relu"] and first["counts"] == [17, 30, 12, 22]  # the chapter's
    _assert_fold_is_lalib(first)
    # the ReLU off and on again, from the keyboard
    toggle = page.locator(FOLD).get_by_role("button", name="ReLU between the layers")
    toggle.focus()
    page.keyboard.press("Space")
    after_redraw(page)
    off = _fold_state(page)
    assert not off["relu"]
    _assert_fold_is_lalib(off)
    page.keyboard.press("Enter")
    after_redraw(page)
    assert _fold_state(page)["relu"]
    # the hidden bias of neuron 0, three steps up by keyboard: its hinge moves
    page.locator(FOLD).get_by_label("b₁ of neuron 0").focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    after_redraw(page)
    moved = _fold_state(page)
    assert moved["b1"] == pytest.approx([first["b1"][0] + 0.3, first["b1"][1]])
    assert moved["counts"] != first["counts"]
    _assert_fold_is_lalib(moved)
    # x dragged with the mouse, across a hinge
    x_handle = page.locator(f'{FOLD} [role="button"][aria-label^="x,"]')
    _drag(page, x_handle, -120, 60)
    dragged = _fold_state(page)
    assert dragged["x"][0] < first["x"][0] and dragged["x"][1] < first["x"][1]
    _assert_fold_is_lalib(dragged)


def test_phone_width_no_overflow_and_readouts_visible(browser, served_book):
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(f"{served_book}/{PAGE}", wait_until="networkidle")
    page.wait_for_selector(f"{PLANE} .pl-det", timeout=15000)
    for root in (PLANE, FOLD):
        overflow = page.locator(root).evaluate(
            """(root) => Array.from(root.querySelectorAll('*')).filter(e => {
                 const r = e.getBoundingClientRect();
                 return r.width > 0
                   && (r.right > window.innerWidth + 0.5 || r.left < -0.5);
               }).map(e => e.tagName + '.' + e.getAttribute('class'))"""
        )
        assert overflow == [], (root, overflow)
        for sel in (".pl-yout", "table.la-matrix", "select", "button"):
            for el in page.locator(f"{root} {sel}").all():
                el.scroll_into_view_if_needed()
                assert el.is_visible()
    context.close()


JS_SMALLEST_TEXT = """(root) => {
  let smallest = 99, what = '';
  for (const e of root.querySelectorAll('*')) {
    const own = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    if (!e.getBoundingClientRect().width) continue;
    let px = parseFloat(getComputedStyle(e).fontSize);
    const svg = e.closest('svg');
    if (svg && svg.viewBox.baseVal && svg.viewBox.baseVal.width)
      px *= svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    if (px < smallest) {
      smallest = px;
      what = e.tagName + ' ' + e.textContent.slice(0, 20);
    }
  }
  return [smallest, what];
}"""


def test_text_is_at_least_11px_at_1280(page):
    for root in (PLANE, FOLD):
        smallest, what = page.locator(root).evaluate(JS_SMALLEST_TEXT)
        assert smallest >= 11, (root, smallest, what)
