"""Chapter 3's explorables in the built book, driven with a real mouse and keyboard.

- Attention in the plane: a query arrow dragged with the mouse, a key moved with the
  arrow keys, the scale slider moved with the keyboard, the causal-mask button pressed
  with the keyboard and with the mouse. After every step the weights and the outputs the
  page shows must equal `lalib.attention.attention_forward` for the queries, keys,
  values, scale and mask the page shows, computed here; the text summary must name the
  key each query attends to most.
- The sentence: the scale and mask dropdowns and the query dropdown changed with the
  keyboard; the weights and the entropy of every row must equal lalib's for the
  sentence's Q and K (read from the widget state stored in the page).
- At 390 px: no horizontal overflow, every readout (the whole weight table included)
  visible, no text under 11 px, and axe-core finds no serious or critical violation in
  the two figures (after the mask is switched on, too); the same at 1280 px.

Needs a built site (BOOK_SITE, or `make build`) and Debian's chromium.
"""

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from chromium import DESKTOP, PHONE

from lalib import attention

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("BOOK_SITE") or ROOT / "_build" / "html")
PAGE = "book/03-attention.html"
PLANE = ".la-attention:has(svg.la-att-plane)"
SENTENCE = ".la-attention:has(select[data-role='query'])"
R = 3.0  # the plane shows [-R, R] x [-R, R]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"  # self-hosted, from npm

# A table's body as numbers (true minus signs, as the page writes them).
JS_TABLE = """(t) => Array.from(t.querySelectorAll('tbody tr')).map(tr =>
  Array.from(tr.querySelectorAll('td')).map(td =>
    Number(td.textContent.trim().replace('\u2212', '-'))))"""
JS_HEAD = """(t) => Array.from(t.querySelectorAll('thead th'))
  .map(th => th.textContent)"""


def _open(browser, url, device=DESKTOP):
    context = browser.new_context(**device)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url, wait_until="networkidle")
    page.wait_for_selector(f"{PLANE} [data-role='weights']", timeout=15000)
    page.wait_for_selector(f"{SENTENCE} [data-role='weights']", timeout=15000)
    return context, page, errors


def _table(root, role):
    return np.array(root.locator(f"[data-role='{role}']").evaluate(JS_TABLE))


def _settle(page):
    """Let the one redraw per animation frame happen."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => setTimeout(r)))")


def _shown_plane(root):
    Q, K, V = (_table(root, name) for name in ("Q", "K", "values"))
    scale = float(root.get_attribute("data-scale"))
    causal = root.locator("[data-role='causal']").get_attribute("aria-pressed")
    return Q, K, V, scale, causal == "true"


def _check_plane(root):
    """The weights and outputs shown are lalib's for the inputs shown."""
    Q, K, V, scale, causal = _shown_plane(root)
    out, cache = attention.attention_forward(Q, K, V, scale=scale, causal=causal)
    P = cache[3]  # (n_q, n_k)
    np.testing.assert_allclose(_table(root, "weights"), P, atol=0.005 + 1e-9)
    np.testing.assert_allclose(_table(root, "outputs"), out, atol=0.005 + 1e-9)
    summary = root.locator("[data-role='summary']").text_content()
    for i, row in enumerate(P):
        j = int(np.argmax(row))
        assert f"q{i + 1} attends most to k{j + 1} ({row[j]:.2f})" in summary
    return Q, K, V, scale, causal


def _to_screen(root, x, y):
    box = root.locator("svg.la-att-plane").bounding_box()
    return (
        box["x"] + (x + R) / (2 * R) * box["width"],
        box["y"] + (R - y) / (2 * R) * box["height"],
    )


def test_plane_follows_mouse_and_keyboard_and_equals_lalib(browser, served_book):
    context, page, errors = _open(browser, f"{served_book}/{PAGE}")
    try:
        root = page.locator(PLANE)
        Q0, K0, V0, scale0, causal0 = _check_plane(root)
        assert Q0.shape == (3, 2) and K0.shape == (3, 2) and not causal0
        assert scale0 == pytest.approx(1 / math.sqrt(2))

        # Mouse: drag the tip of q1 to (-1, 2.5).
        handle = root.locator("[data-role='handle-q1']")
        handle.scroll_into_view_if_needed()
        box = handle.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(*_to_screen(root, -1.0, 2.5), steps=12)
        page.mouse.up()
        _settle(page)
        Q1, K1, *_ = _check_plane(root)
        np.testing.assert_allclose(Q1[0], [-1.0, 2.5], atol=0.11)  # snapped to 0.1
        assert np.array_equal(Q1[1:], Q0[1:]) and np.array_equal(K1, K0)
        assert "(" in handle.get_attribute("aria-label")

        # Keyboard: focus k2's tip, three steps right and one down (0.1 each).
        k2 = root.locator("[data-role='handle-k2']")
        k2.focus()
        for key in ["ArrowRight"] * 3 + ["ArrowDown"]:
            page.keyboard.press(key)
        _settle(page)
        _, K2, *_ = _check_plane(root)
        np.testing.assert_allclose(K2[1], K0[1] + [0.3, -0.1], atol=1e-9)
        assert k2.get_attribute("aria-label") == (
            f"key k2 at ({K2[1, 0]:.1f}, {K2[1, 1]:.1f})".replace("-", "\u2212")
        )

        # The scale slider, by keyboard: 5 steps of 0.1/sqrt(2) up, then to 0.
        slider = root.locator("input[data-role='scale']")
        slider.focus()
        for _ in range(5):
            page.keyboard.press("ArrowRight")
        _settle(page)
        *_, scale, _ = _check_plane(root)
        assert scale == pytest.approx(1.5 / math.sqrt(2))
        page.keyboard.press("Home")
        _settle(page)
        _, _, _, scale, causal = _check_plane(root)
        assert scale == 0 and not causal
        np.testing.assert_allclose(_table(root, "weights"), 1 / 3, atol=0.005)

        # The causal mask: Space on the focused button, then a mouse click undoes it.
        page.keyboard.press("End")  # scale 4/sqrt(2): sharp weights
        mask = root.locator("[data-role='causal']")
        mask.focus()
        page.keyboard.press("Space")
        _settle(page)
        *_, scale, causal = _check_plane(root)
        assert causal and scale == pytest.approx(4 / math.sqrt(2))
        P = _table(root, "weights")
        assert P[0, 1] == 0 and P[0, 2] == 0 and P[1, 2] == 0  # q_i sees k_1..k_i
        assert "causal mask" in root.locator("[data-role='summary']").text_content()
        mask.click()
        _settle(page)
        assert not _check_plane(root)[4]
        assert errors == [], errors
    finally:
        context.close()


def _sentence_state(page):
    """Q and K of the sentence explorer, from the widget state stored in the page."""
    raw = page.locator(
        "script[type='application/vnd.jupyter.widget-state+json']"
    ).text_content()
    models = json.loads(raw)["state"].values()
    (state,) = [m["state"] for m in models if "tokens" in m["state"]]
    return np.array(state["Q"]), np.array(state["K"]), state


def _check_sentence(root, Q, K, tokens):
    scale = float(root.get_attribute("data-scale"))
    causal = root.locator("select[data-role='mask']").input_value() == "causal"
    query = int(root.locator("select[data-role='query']").input_value())
    _, cache = attention.attention_forward(
        Q, K, np.zeros((len(K), 1)), scale=scale, causal=causal
    )
    P = cache[3]  # (n, n)
    table = root.locator("[data-role='weights']")
    assert table.evaluate(JS_HEAD) == [*tokens, "entropy"]
    shown = np.array(table.evaluate(JS_TABLE))
    np.testing.assert_allclose(shown[:, :-1], P, atol=0.005 + 1e-9)
    H = -np.sum(P * np.log(np.where(P > 0, P, 1.0)), axis=1)  # nats, 0 log 0 = 0
    np.testing.assert_allclose(shown[:, -1], H, atol=0.005 + 1e-9)
    summary = root.locator("[data-role='summary']").text_content()
    j = int(np.argmax(P[query]))
    said = f'"{tokens[query]}" (position {query}) attends most to "{tokens[j]}"'
    assert f"{said} ({P[query, j]:.2f})" in summary
    assert f"Mean row entropy {H.mean():.2f} nats" in summary
    return scale, causal, query, P


def test_sentence_dropdowns_by_keyboard_equal_lalib(browser, served_book):
    context, page, errors = _open(browser, f"{served_book}/{PAGE}")
    try:
        root = page.locator(SENTENCE)
        Q, K, state = _sentence_state(page)
        tokens = state["tokens"]
        assert tokens == ["the", "cat", "sat", "on", "the", "mat"]
        d_k = Q.shape[1]
        labels = [label for label, _ in state["scales"]]
        scale, causal, query, P = _check_sentence(root, Q, K, tokens)
        assert scale == pytest.approx(1 / math.sqrt(d_k)) and not causal
        assert query == 2 and tokens[int(np.argmax(P[2]))] == "cat"

        select = root.locator("select[data-role='scale']")
        select.focus()
        page.keyboard.press("ArrowDown")  # the next scale: 4/sqrt(d_k)
        _settle(page)
        scale, *_ = _check_sentence(root, Q, K, tokens)
        assert scale == pytest.approx(4 / math.sqrt(d_k))
        assert labels[int(select.input_value())].startswith("4/")

        root.locator("select[data-role='mask']").focus()
        page.keyboard.press("ArrowDown")  # none -> causal
        _settle(page)
        _, causal, _, P = _check_sentence(root, Q, K, tokens)
        assert causal and P[0, 0] == pytest.approx(1.0)

        root.locator("select[data-role='query']").focus()
        page.keyboard.press("ArrowUp")  # "cat"
        _settle(page)
        _, _, query, _ = _check_sentence(root, Q, K, tokens)
        assert query == 1
        outlined = root.locator("td.la-hi").evaluate_all(
            "(tds) => tds.map(td => td.parentElement.rowIndex)"
        )
        assert set(outlined) == {2}  # the header row is row 0

        select.focus()
        page.keyboard.press("Home")  # scale 0: uniform over what each query sees
        _settle(page)
        scale, _, _, P = _check_sentence(root, Q, K, tokens)
        assert scale == 0
        np.testing.assert_allclose(P[5], 1 / 6)
        assert errors == [], errors
    finally:
        context.close()


JS_LAYOUT = """(sel) => {
  const W = document.documentElement.clientWidth;
  const out = {overflow: [], small: [], clipped: []};
  for (const root of document.querySelectorAll(sel)) {
    for (const e of root.querySelectorAll('*')) {
      const r = e.getBoundingClientRect();
      if (r.width === 0) continue;
      if (r.right > W + 0.5 && !e.closest('.la-scroll')) out.overflow.push(e.tagName);
      const text = [...e.childNodes]
        .some(n => n.nodeType === 3 && n.textContent.trim());
      if (!text) continue;
      let size = parseFloat(getComputedStyle(e).fontSize);
      const svg = e.closest('svg');
      if (svg) size *= svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
      if (size < 11) out.small.push(`${e.tagName} ${size.toFixed(1)}px`);
      if (r.right > W + 0.5 || r.left < -0.5) {
        out.clipped.push(e.textContent.slice(0, 30));
      }
    }
  }
  return out;
}"""


JS_AXE = """async () => (await axe.run('.la-attention')).violations
  .filter(v => v.impact === 'serious' || v.impact === 'critical')
  .map(v => `${v.id}: ${v.nodes.map(n => n.target.join(' ')).join(', ')}`)"""


@pytest.mark.parametrize("device", [DESKTOP, PHONE], ids=["1280px", "390px"])
def test_layout_legible_and_within_the_page(browser, served_book, device):
    context, page, errors = _open(browser, f"{served_book}/{PAGE}", device)
    try:
        layout = page.evaluate(JS_LAYOUT, ".la-attention")
        assert layout == {"overflow": [], "small": [], "clipped": []}
        assert AXE.exists(), "axe-core is missing: run scripts/setup.sh --browser"
        page.add_script_tag(path=str(AXE))
        for _ in range(2):
            found = page.evaluate(JS_AXE)
            assert found == [], found
            page.locator(f"{PLANE} [data-role='causal']").click()
            page.locator(f"{SENTENCE} select[data-role='mask']").select_option("causal")
            _settle(page)
        assert errors == [], errors
    finally:
        context.close()
