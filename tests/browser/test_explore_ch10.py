"""Chapter 10's LayerNorm explorer (`lalib.display.layernorm.LayerNormExplorer`) in the
built book, driven with the keyboard and the mouse.

- The three entries of x are moved with the arrow, Home and End keys on their sliders,
  "Add 1 to every entry" and "Double x" are pressed with the mouse and the keyboard, and
  "Reset" undoes them. After each action every number the widget shows (z, the mean,
  P z, its norm, sigma, LN(z), its sum and norm) must equal what `lalib.transformer`
  gives for the inputs the actions produced, computed here; the drawn points must sit
  at the plane coordinates of P z and LN(z), the latter at radius sqrt(3) times the
  drawing's scale (up to eps).
- "Add 1" and "Double x" leave LN(z) and its drawn point where they were.
- All entries equal: the text says nothing is left after centring, no point is drawn.
- At 390 px nothing overflows and the readouts are on screen; at 1280 px its text is
  at least 11 px.

Needs a built site (BOOK_SITE, or `make build`) and Debian's chromium.
"""

import os
from pathlib import Path

import numpy as np
import pytest
from chromium import DESKTOP, PHONE
from explorer_page import (
    assert_fits,
    num,
    open_chapter,
    press,
    read,
    stored_state,
)
from redraw import after_redraw

from lalib import transformer

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("BOOK_SITE") or ROOT / "_build" / "html")
PAGE = "book/10-transformer-block.html"
LN = ".la-ln"
EPS = 1e-5
U = np.array([1.0, -1.0, 0.0]) / np.sqrt(2)
V = np.array([1.0, 1.0, -2.0]) / np.sqrt(6)
SLIDERS = ("x₁", "x₂", "x₃")


# Everything the explorer shows, as text (and the drawn points as numbers).
JS_READ = """(root) => {
  const texts = (sel) => Array.from(root.querySelectorAll(sel)).map(e => e.textContent);
  const one = (sel) => root.querySelector(sel).textContent;
  const svg = root.querySelector('svg.la-ln-plane');
  const at = (sel) => { const c = svg.querySelector(sel);
    return c ? [Number(c.getAttribute('cx')), Number(c.getAttribute('cy'))] : null; };
  return {
    x: [1, 2, 3].map(i => root.querySelector('input.la-ln-x' + i).value),
    z: texts('td.la-ln-z'), mean: one('td.la-ln-mean'), pz: texts('td.la-ln-pz'),
    norm: one('td.la-ln-norm'), sigma: one('td.la-ln-sigma'),
    out: texts('td.la-ln-out'), sum: one('td.la-ln-sum'),
    outnorm: one('td.la-ln-outnorm'),
    caption: one('table.la-ln-table caption'), plane_caption: one('.la-ln-cap'),
    unit: Number(svg.dataset.unit),
    circle: Number(svg.querySelector('circle.la-ln-circle').getAttribute('r')),
    centre: [svg.viewBox.baseVal.width / 2, svg.viewBox.baseVal.height / 2],
    pzAt: at('circle.la-ln-pz'), outAt: at('circle.la-ln-out'),
    note: one('.la-ln-note'), status: one('.la-status'),
  };
}"""


def _stored(page):
    return stored_state(page, "layerNorm", "LayerNormExplorer")


def _open(browser, served_book, options):
    return open_chapter(browser, served_book, PAGE, options, f"{LN} td.la-ln-outnorm")


@pytest.fixture
def page(browser, served_book):
    context, page, errors = _open(browser, served_book, DESKTOP)
    yield page
    context.close()
    assert not [e for e in errors if "THEBE" not in e], errors


def _read(page):
    return read(page, LN, JS_READ)


def _check(shown, x, shift, scale):
    """Every number shown equals lalib's for these inputs (to the digits shown)."""
    x = np.round(np.asarray(x, dtype=float), 1)
    np.testing.assert_allclose([float(v) for v in shown["x"]], x, atol=1e-9)
    z = scale * x + shift  # (3,)
    centred = transformer.centering_matrix(3) @ z
    out, (_, rstd, _) = transformer.layer_norm_forward(
        z[None], np.ones(3), np.zeros(3), EPS
    )
    out = out[0]
    tol = 5e-4 + 1e-9
    np.testing.assert_allclose([num(t) for t in shown["z"]], z, atol=tol)
    assert abs(num(shown["mean"]) - z.mean()) <= tol
    np.testing.assert_allclose([num(t) for t in shown["pz"]], centred, atol=tol)
    assert abs(num(shown["norm"]) - np.linalg.norm(centred)) <= tol
    assert abs(num(shown["sigma"]) - 1 / rstd[0, 0]) <= tol
    np.testing.assert_allclose([num(t) for t in shown["out"]], out, atol=tol)
    assert abs(num(shown["sum"]) - out.sum()) <= tol
    assert abs(num(shown["outnorm"]) - np.linalg.norm(out)) <= tol
    assert f"s = {scale:.2f}, c = {shift:.0f}" in shown["caption"]
    # the circle has radius sqrt(3) in the drawing's unit
    k, (cx, cy) = shown["unit"], shown["centre"]
    assert abs(shown["circle"] - np.sqrt(3) * k) < 0.01
    constant = bool(np.all(z == z[0]))
    if constant:
        assert shown["pzAt"] is None and shown["outAt"] is None
        assert "All entries equal: nothing left after centring" in shown["note"]
        assert "LN gives 0 up to ε" in shown["status"]
        return out
    # the points sit at (u, v) coordinates of P z and LN(z); SVG y points down. A P z
    # beyond the picture is drawn at its edge, on its ray, and the caption says so.
    norm = np.linalg.norm(centred)
    reach = (cx - 10) / k
    drawn = centred * min(1.0, reach / norm)
    assert (norm > reach) == ("beyond the picture" in shown["plane_caption"])
    for at, w in [(shown["pzAt"], drawn), (shown["outAt"], out)]:
        np.testing.assert_allclose(
            [(at[0] - cx) / k, (cy - at[1]) / k], [w @ U, w @ V], atol=0.01 / k + 1e-9
        )
    radius = np.hypot(shown["outAt"][0] - cx, shown["outAt"][1] - cy)
    expected = np.sqrt(3) * k * norm / np.sqrt(norm**2 + 3 * EPS)  # sqrt(3) k - eps
    assert abs(radius - expected) < 0.01 and abs(radius - np.sqrt(3) * k) < 0.01 * k
    assert f"its norm is {np.linalg.norm(out):.3f}" in shown["note"]
    assert f"σ = {1 / rstd[0, 0]:.3f}".replace("-", "−") in shown["status"]
    return out


def test_layer_norm_explorer_follows_keyboard_and_mouse_and_matches_lalib(page):
    root = page.locator(LN).first
    state = _stored(page)
    x = np.array(state["x"])
    shift, scale = state["shift"], state["scale"]
    np.testing.assert_array_equal(x, [1.1, 0.3, -0.4])  # as chapter 10 builds it
    assert (shift, scale, state["eps"]) == (0.0, 1.0, EPS)
    out0 = _check(_read(page), x, shift, scale)

    sliders = [root.get_by_role("slider", name=name) for name in SLIDERS]
    press(page, sliders[0], "ArrowLeft", "ArrowLeft", "ArrowLeft")
    press(page, sliders[1], "ArrowUp")
    press(page, sliders[2], "ArrowDown", "ArrowDown")
    x = x + [-0.3, 0.1, -0.2]
    out = _check(_read(page), x, shift, scale)
    assert np.abs(out - out0).max() > 0.01  # a new row, a new LN

    # Add 1 (mouse, then keyboard): P z and LN(z) stay, their points do not move.
    before = _read(page)
    add = root.get_by_role("button", name="Add 1 to every entry")
    add.click()
    shift += 1
    after = _read(page)
    _check(after, x, shift, scale)
    for key in ("pz", "norm", "sigma", "out", "sum", "outnorm", "pzAt", "outAt"):
        assert after[key] == before[key], key
    assert after["z"] != before["z"] and after["mean"] != before["mean"]
    press(page, add, "Enter")
    shift += 1
    _check(_read(page), x, shift, scale)

    # Double x: P z doubles, sigma too (up to eps), LN(z) stays.
    double = root.get_by_role("button", name="Double x")
    double.click()
    scale *= 2
    doubled = _read(page)
    _check(doubled, x, shift, scale)
    assert doubled["unit"] == after["unit"]  # the same drawing scale: LN(z) stays put
    np.testing.assert_allclose(
        [num(t) for t in doubled["pz"]],
        [2 * num(t) for t in after["pz"]],
        atol=2e-3,
    )
    # LN(z) the same up to eps: well within the shown digits
    np.testing.assert_allclose(
        [num(t) for t in doubled["out"]], [num(t) for t in after["out"]], atol=1e-3
    )
    np.testing.assert_allclose(doubled["outAt"], after["outAt"], atol=0.05)
    press(page, double, "Enter")
    scale *= 2
    far = _read(page)
    _check(far, x, shift, scale)
    assert "beyond the picture" in far["plane_caption"]  # |P z| = 4.08 here
    assert double.is_disabled() and not add.is_disabled()  # s = 4 is the largest
    press(page, add, "Enter")
    shift += 1
    _check(_read(page), x, shift, scale)  # (reading waits for the redraw)
    assert add.is_disabled()  # c = 3 is the largest

    # All entries equal: nothing to draw, and the text says why.
    root.get_by_role("button", name="Reset c = 0, s = 1").click()
    shift, scale = 0.0, 1.0
    for slider in sliders:
        press(page, slider, "End")
    x = np.array([3.0, 3.0, 3.0])
    _check(_read(page), x, shift, scale)
    press(page, sliders[2], "Home")
    x[2] = -3.0
    _check(_read(page), x, shift, scale)


def test_redraw_updates_the_drawing_in_place(page):
    """Moving an entry changes the nodes already on the page (ui.patch): the points
    and the table's cells are the same elements, showing new numbers."""
    root = page.locator(LN).first
    root.scroll_into_view_if_needed()
    marked = """(root) => [...root.querySelectorAll(
        'circle.la-ln-pz, circle.la-ln-out, td.la-ln-out, td.la-ln-sigma')]"""
    before = page.evaluate(
        f"(root) => {{ const els = ({marked})(root); "
        "els.forEach((e, k) => { e.laMark = k; }); return els.length; }",
        root.element_handle(),
    )
    sigma = _read(page)["sigma"]
    press(page, root.get_by_role("slider", name="x₁"), "ArrowRight")
    after_redraw(page)
    kept = page.evaluate(
        f"(root) => ({marked})(root).filter((e) => e.laMark !== undefined).length",
        root.element_handle(),
    )
    assert before == 1 + 1 + 3 + 1 and kept == before
    assert _read(page)["sigma"] != sigma


@pytest.mark.parametrize("options", [DESKTOP, PHONE], ids=["1280px", "390px"])
def test_layout(browser, served_book, options):
    context, page, _ = _open(browser, served_book, options)
    try:
        width = options["viewport"]["width"]
        shots = SITE.parent / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        root = page.locator(LN).first
        root.scroll_into_view_if_needed()
        root.screenshot(path=str(shots / f"ch10-layernorm-{width}.png"))
        assert_fits(page, root, width)
        for part in (".la-ln-plane", ".la-ln-table", ".la-ln-note", ".la-status"):
            assert root.locator(part).first.is_visible(), part
        for name in SLIDERS:
            assert root.get_by_role("slider", name=name).is_visible(), name
        for name in ("Add 1 to every entry", "Double x"):
            assert root.get_by_role("button", name=name).is_visible(), name
    finally:
        context.close()
