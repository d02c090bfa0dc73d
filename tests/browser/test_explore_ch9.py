"""Chapter 9's RoPE explorer (`lalib.display.rope.RopeExplorer`) in the built book,
driven with the keyboard and the mouse.

- The query's and the key's positions are moved with the arrow, Home and End keys on
  their sliders, a pair and a base are chosen in the dropdowns, "Shift both" is pressed
  with the mouse and the keyboard (also at the end of the range, where both go back
  and the offset stays), and Play is pressed. After each action every number the
  widget shows (the pairs' angles and terms, the score, the turns of the drawn pair,
  the arrows in the plane, the strip of scores against the offset) must equal what
  `lalib.positions` gives for the positions the actions produced, computed here.
- "Shift both" turns the drawn arrows by theta_i and leaves every shown number but the
  positions unchanged.
- A redraw updates the drawing in place (the same nodes, new numbers).
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

from lalib import positions

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("BOOK_SITE") or ROOT / "_build" / "html")
PAGE = "book/09-positions.html"
ROPE = ".la-rope"
D, LAST = 8, 31  # width of q and k; the last position


# Everything the explorer shows, as text (and the drawn arrows and strip as numbers).
JS_READ = """(root) => {
  const texts = (sel) => Array.from(root.querySelectorAll(sel)).map(e => e.textContent);
  const one = (sel) => root.querySelector(sel).textContent;
  const tip = (sel) => { const l = root.querySelector(sel);
    return ['x1', 'y1', 'x2', 'y2'].map(a => Number(l.getAttribute(a))); };
  const strip = root.querySelector('svg.la-rope-strip');
  return {
    m: root.querySelector('input.la-rope-m').value,
    n: root.querySelector('input.la-rope-n').value,
    pair: root.querySelector('select.la-rope-pair').value,
    base: root.querySelector('select.la-rope-base').value,
    terms: texts('td.la-rope-term'),
    angles: texts('td.la-rope-ang'),
    score: one('td.la-rope-score'),
    eq: one('.la-rope-eq'),
    qturn: one('.la-rope-qturn'), kturn: one('.la-rope-kturn'),
    angle: one('.la-rope-angle'), term: one('.la-rope-term-i'),
    highlighted: Array.from(root.querySelectorAll('tbody tr')).findIndex(
      r => r.classList.contains('la-rope-on')),
    q: tip('line.la-rope-arrow.la-rope-q:not(.la-rope-faint)'),
    k: tip('line.la-rope-arrow.la-rope-k:not(.la-rope-faint)'),
    q0: tip('line.la-rope-arrow.la-rope-q.la-rope-faint'),
    k0: tip('line.la-rope-arrow.la-rope-k.la-rope-faint'),
    curve: strip.querySelector('polyline').getAttribute('points'),
    top: Array.from(strip.querySelectorAll('text')).map(t => t.textContent),
    status: one('.la-status'),
  };
}"""


def _stored(page):
    return stored_state(page, "ropePairScores", "RopeExplorer")


def _open(browser, served_book, options):
    ready = f"{ROPE} .la-rope-eq strong"  # the score is written
    return open_chapter(browser, served_book, PAGE, options, ready)


@pytest.fixture
def page(browser, served_book):
    context, page, errors = _open(browser, served_book, DESKTOP)
    yield page
    context.close()
    assert not [e for e in errors if "THEBE" not in e], errors


def _read(page):
    return read(page, ROPE, JS_READ)


def _wrap(a):
    """Angles into (-pi, pi]."""
    a = np.angle(np.exp(1j * np.asarray(a)))
    return np.where(a <= -np.pi, a + 2 * np.pi, a)


def _arrow_angle(line):
    x1, y1, x2, y2 = line
    return np.arctan2(y1 - y2, x2 - x1)  # SVG y points down


def _lalib(q, k, m, n, base):
    """What the widget must show, from lalib.positions."""
    qm = positions.rope_matrix(m, D, base) @ q  # (8,)
    kn = positions.rope_matrix(n, D, base) @ k
    terms = (qm * kn).reshape(D // 2, 2).sum(axis=1)  # (4,)
    angles = _wrap(np.arctan2(kn[1::2], kn[0::2]) - np.arctan2(qm[1::2], qm[0::2]))
    offsets = np.arange(-LAST, LAST + 1)  # every offset, from positions >= 0
    start = np.maximum(0, -offsets)
    qs = positions.rope(np.tile(q, (len(offsets), 1)), start, base)  # (63, 8)
    ks = positions.rope(np.tile(k, (len(offsets), 1)), start + offsets, base)
    strip = np.einsum("od,od->o", qs, ks)  # (63,)
    theta = positions.rope_frequencies(D, base)
    return qm, kn, terms, angles, strip, theta


def _check(shown, q, k, m, n, pair, base):
    """Every number shown equals lalib's for these inputs (to the digits shown)."""
    qm, kn, terms, angles, strip, theta = _lalib(q, k, m, n, base)
    assert (int(shown["m"]), int(shown["n"])) == (m, n)
    assert int(shown["pair"]) == pair and float(shown["base"]) == base
    assert shown["highlighted"] == pair
    np.testing.assert_allclose([num(t) for t in shown["terms"]], terms, atol=5e-4)
    shown_angles = np.array([num(t) for t in shown["angles"]])
    assert np.abs(_wrap(shown_angles - angles)).max() <= 5e-3 + 1e-9
    assert abs(num(shown["score"]) - terms.sum()) <= 5e-4 + 1e-9
    eq_terms, eq_score = shown["eq"].split("=")[1:]
    np.testing.assert_allclose(
        [num(t) for t in eq_terms.split(" + ")], terms, atol=5e-4
    )
    assert abs(num(eq_score) - qm @ kn) <= 5e-4 + 1e-9
    # the caption of the drawn pair: its turns, its angle, its term
    assert abs(num(shown["qturn"]) - m * theta[pair]) <= 5e-3 + 1e-9
    assert abs(num(shown["kturn"]) - n * theta[pair]) <= 5e-3 + 1e-9
    assert abs(_wrap(num(shown["angle"]) - angles[pair])) <= 5e-3 + 1e-9
    assert abs(num(shown["term"]) - terms[pair]) <= 5e-4 + 1e-9
    # the arrows point along the rotated pairs, the faint ones along the unrotated
    i = slice(2 * pair, 2 * pair + 2)
    for line, v in [
        (shown["q"], qm[i]),
        (shown["k"], kn[i]),
        (shown["q0"], q[i]),
        (shown["k0"], k[i]),
    ]:
        assert abs(_wrap(_arrow_angle(line) - np.arctan2(v[1], v[0]))) < 0.01
    # the strip: the score at every offset, read back from the drawn curve
    top = np.abs(strip).max()
    assert abs(num(shown["top"][3]) - top) <= 5e-3 + 1e-9  # its scale's label
    ys = np.array([float(p.split(",")[1]) for p in shown["curve"].split()])
    assert len(ys) == 2 * LAST + 1
    np.testing.assert_allclose(top - (ys - 12) / 110 * 2 * top, strip, atol=2e-3 * top)
    assert f"offset n − m = {n - m}".replace("-", "−") in shown["status"]
    return theta


def test_rope_explorer_follows_keyboard_and_mouse_and_matches_lalib(page):
    root = page.locator(ROPE).first
    state = _stored(page)
    q, k = np.array(state["q"]), np.array(state["k"])
    m, n, pair, base = state["m"], state["n"], state["pair"], state["base"]
    assert q.shape == k.shape == (D,) and 0 <= m <= LAST - 4 and 1 <= n <= LAST - 1
    _check(_read(page), q, k, m, n, pair, base)

    m_slider = root.get_by_role("slider", name="Query position m")
    n_slider = root.get_by_role("slider", name="Key position n")
    press(page, m_slider, "ArrowRight", "ArrowRight")
    press(page, n_slider, "ArrowLeft")
    m, n = m + 2, n - 1
    _check(_read(page), q, k, m, n, pair, base)

    root.get_by_label("Pair in the plane").select_option("2")
    root.get_by_label("Base", exact=True).select_option("100")
    pair, base = 2, 100.0
    _check(_read(page), q, k, m, n, pair, base)

    # Shift both: the arrows turn by theta_pair, every other number stays.
    before = _read(page)
    shift = root.get_by_role("button", name="Shift both (m+1, n+1)")
    shift.click()
    m, n = m + 1, n + 1
    after = _read(page)
    theta = _check(after, q, k, m, n, pair, base)
    for key in ("terms", "angles", "score", "eq", "angle", "term", "curve"):
        assert after[key] == before[key], key
    for arrow in ("q", "k"):
        turned = _arrow_angle(after[arrow]) - _arrow_angle(before[arrow])
        assert abs(_wrap(turned - theta[pair])) < 0.01, arrow
    press(page, shift, "Enter")  # the keyboard presses it too
    m, n = m + 1, n + 1
    _check(_read(page), q, k, m, n, pair, base)

    # At the end of the range both go back by the smaller position: same offset.
    press(page, m_slider, "Home", "ArrowRight", "ArrowRight", "ArrowRight")
    press(page, n_slider, "End")
    m, n = 3, LAST
    pair = 0
    root.get_by_label("Pair in the plane").select_option("0")
    _check(_read(page), q, k, m, n, pair, base)
    press(page, shift, "Enter")
    m, n = 0, LAST - 3
    _check(_read(page), q, k, m, n, pair, base)

    # Play shifts both again and again; the offset stays.
    root.get_by_role("button", name="Play").click()
    page.wait_for_function(
        "(s) => Number(s.value) >= 2", arg=m_slider.element_handle(), timeout=10000
    )
    root.get_by_role("button", name="Pause").click()
    after_redraw(page)
    m = int(m_slider.input_value())
    n = m + LAST - 3
    _check(_read(page), q, k, m, n, pair, base)


def test_redraw_updates_the_drawing_in_place(page):
    """Moving a position changes the nodes already on the page (ui.patch): the arrows,
    the table's cells and the strip are the same elements, showing new numbers."""
    root = page.locator(ROPE).first
    root.scroll_into_view_if_needed()
    marked = """(root) => [...root.querySelectorAll(
        'line.la-rope-arrow, td.la-rope-term, td.la-rope-score, polyline')]"""
    before = page.evaluate(
        f"(root) => {{ const els = ({marked})(root); "
        "els.forEach((e, k) => { e.laMark = k; }); return els.length; }",
        root.element_handle(),
    )
    score = _read(page)["score"]
    press(page, root.get_by_role("slider", name="Key position n"), "ArrowRight")
    after_redraw(page)
    kept = page.evaluate(
        f"(root) => ({marked})(root).filter((e) => e.laMark !== undefined).length",
        root.element_handle(),
    )
    assert before == 4 + 4 + 1 + 1 and kept == before
    assert _read(page)["score"] != score


@pytest.mark.parametrize("options", [DESKTOP, PHONE], ids=["1280px", "390px"])
def test_layout(browser, served_book, options):
    context, page, _ = _open(browser, served_book, options)
    try:
        width = options["viewport"]["width"]
        shots = SITE.parent / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        root = page.locator(ROPE).first
        root.scroll_into_view_if_needed()
        root.screenshot(path=str(shots / f"ch9-rope-{width}.png"))
        assert_fits(page, root, width)
        for part in (".la-rope-plane", ".la-rope-terms", ".la-rope-eq", ".la-status"):
            assert root.locator(part).first.is_visible(), part
        for name in ("Query position m", "Key position n"):
            assert root.get_by_role("slider", name=name).is_visible(), name
        assert root.get_by_role("button", name="Shift both (m+1, n+1)").is_visible()
    finally:
        context.close()
