"""Chapters 5 and 6 in the built book: the explorables driven with a real mouse and
keyboard, their numbers checked against lalib's for the same inputs.

- Gradient descent (chapter 6's valley, chapter 5's two-weight fit): a learning-rate
  preset clicked, the start placed by a click on the plane and moved with the arrow
  keys, the learning rate and the eigenvalues moved with the keyboard. The iterate shown
  after the last step must be `optim.gradient_descent` with `optim.quadratic_grad`, the
  status line's factor `optim.gd_rate`, and "diverges" exactly when lr > 2 / lam_max.
- PCA (chapter 6): a point dragged with the mouse and another moved with the arrow
  keys; the explained variance ratio, the covariance and the components shown must be
  those of `decomp.pca` and `decomp.covariance` of the points the figure holds.
- Reconstruction (chapter 6): k moved by a click on its track and by the keyboard; the
  squared errors, their mean and the pixels drawn must be `decomp.pca_transform` and
  `decomp.pca_reconstruct` with the chapter's digits and components.
- At 390 px (phone) none of them overflows and their readouts stay in view; at 1280 px
  their text is at least 11 px.

Needs a built site (BOOK_SITE, or `make build`) and Debian's chromium.
"""

import re

import numpy as np
import pytest
from chromium import DESKTOP, PHONE
from redraw import after_redraw

from lalib import data, decomp, optim

pytestmark = pytest.mark.browser

CH5 = "book/05-gradients.html"
CH6 = "book/06-why-linear-algebra.html"
GD = re.compile("^Gradient descent on a quadratic")
PCA = re.compile("^PCA of points in the plane")
RECON = re.compile("^Digits rebuilt from their first k principal components")
NUM = r"[−\-]?\d+(?:\.\d+)?(?:e[+\-−]?\d+)?|NaN|[−\-]?∞"


def _open(browser, url, device=DESKTOP):
    context = browser.new_context(**device)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url, wait_until="networkidle")
    page.wait_for_selector(".la-why .la-status", timeout=15000)
    return context, page, errors


def _settle(page):
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")
    after_redraw(page)


def _nums(text):
    return [
        float(t.replace("−", "-").replace("∞", "inf")) for t in re.findall(NUM, text)
    ]


def _label_value(fig, name):
    """The number a slider's visible readout shows."""
    key = fig.get_by_label(name, exact=True).get_attribute("id")
    return _nums(fig.locator(f'output[for="{key}"]').inner_text())[0]


# ---------------------------------------------------------------- gradient descent


def _rotation_A(l1, l2, deg):
    """A = R diag(l1, l2) R^T, q1 at `deg` degrees: how the figure builds A."""
    t = np.deg2rad(deg)
    R = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    return R @ np.diag([l1, l2]) @ R.T


def _gd_state(fig):
    """What the figure shows: start, lr, steps and its last iterate, status line."""
    start = fig.locator(".la-handle").get_attribute("aria-label")
    x0 = np.array(_nums(start.split(" at ")[1])[:2])
    lr = _label_value(fig, "learning rate")
    steps = int(_label_value(fig, "steps"))
    iterate = fig.locator(".la-why-iterate").inner_text()
    shown = np.array(_nums(iterate.split("=")[1]))
    status = fig.locator(".la-status").inner_text()
    return x0, lr, steps, shown, status


def _check_gd(fig, A, b):
    """The iterate, the status line and the verdict equal lalib's for A, b."""
    x0, lr, steps, shown, status = _gd_state(fig)
    path = optim.gradient_descent(
        lambda x: optim.quadratic_grad(x, A, b), x0, lr, steps
    )  # (steps + 1, 2)
    last = path[-1]
    if np.all(np.abs(last) < 1e4):
        assert np.allclose(shown, last, rtol=0, atol=6e-5), (shown, last, lr, x0)
    else:  # exponent form, three significant digits
        assert np.allclose(shown, last, rtol=6e-3, atol=0), (shown, last)
    rate = optim.gd_rate(A, lr)
    limit = 2 / np.linalg.eigvalsh(A)[-1]
    numbers = _nums(status)
    if lr > limit * (1 + 1e-9):
        assert status.startswith(f"diverges: lr > 2/λ_max = {limit:.3f}"), status
    elif lr < limit * (1 - 1e-9):
        assert status.startswith("converges:"), status
        assert f"< 2/λ_max = {limit:.3f}" in status, status
    assert abs(numbers[-1] - rate) <= 6e-4, (status, rate)
    assert f"max|1 − lr λ| = {rate:.3f}" in status
    return x0, lr, steps, path


def _click_plane(page, fig, fx, fy):
    """Click the plane at fractions (fx, fy) of its width and height."""
    box = fig.locator("svg.la-why-plot").bounding_box()
    page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])


def test_gd_explorer_chapter_6(browser, served_book):
    context, page, errors = _open(browser, f"{served_book}/{CH6}")
    try:
        fig = page.get_by_role("group", name=GD)
        fig.scroll_into_view_if_needed()
        x_star = np.array([1.0, 0.5])

        def A_b():
            deg = _label_value(fig, "angle of q₁")
            l1, l2 = _label_value(fig, "λ along q₁"), _label_value(fig, "λ along q₂")
            A = _rotation_A(l1, l2, deg)
            return A, A @ x_star

        A, b = A_b()
        assert np.allclose(np.linalg.eigvalsh(A), [1.0, 10.0])  # the chapter's valley
        x0, lr, steps, _ = _check_gd(fig, A, b)
        assert np.allclose(x0, [-2.5, 2.0]) and lr == 0.1 and steps == 20

        # Mouse: the presets of the text, 0.18 converges fast, 0.21 diverges.
        fig.get_by_role("button", name="lr 0.18").click()
        _settle(page)
        _, lr, _, path = _check_gd(fig, A, b)
        assert lr == 0.18 and np.linalg.norm(path[-1] - x_star) < 0.1
        fig.get_by_role("button", name="lr 0.21").click()
        _settle(page)
        _, lr, _, path = _check_gd(fig, A, b)
        assert lr == 0.21 and np.linalg.norm(path[-1] - x_star) > 3
        assert "leaves the view at step" in fig.locator(".la-why-desc").inner_text()

        # Mouse: click the plane near its upper right corner to start there.
        _click_plane(page, fig, 0.9, 0.1)
        _settle(page)
        x0, *_ = _check_gd(fig, A, b)
        assert np.allclose(x0, [2.4, 2.4], atol=0.05), x0  # view [-3, 3]^2

        # Keyboard: the start handle moves 0.1 per arrow key.
        fig.locator(".la-handle").focus()
        for key in ("ArrowLeft", "ArrowLeft", "ArrowDown"):
            page.keyboard.press(key)
        _settle(page)
        x1, *_ = _check_gd(fig, A, b)
        assert np.allclose(x1, x0 + [-0.2, -0.1], atol=0.051), (x0, x1)

        # Keyboard: the learning rate back down, step by step, to converge again.
        fig.get_by_label("learning rate", exact=True).focus()
        for _ in range(6):
            page.keyboard.press("ArrowLeft")
        _settle(page)
        _, lr, _, _ = _check_gd(fig, A, b)
        assert lr == pytest.approx(0.18)

        # Keyboard: a steeper valley (lambda_2 at its maximum) and a turned one.
        fig.get_by_label("λ along q₂", exact=True).focus()
        page.keyboard.press("End")
        fig.get_by_label("angle of q₁", exact=True).focus()
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        _settle(page)
        A, b = A_b()
        assert np.allclose(np.linalg.eigvalsh(A), [1.0, 12.0])
        _check_gd(fig, A, b)
        assert _label_value(fig, "angle of q₁") == 40
        assert fig.locator(".la-status").inner_text().startswith("diverges")
        assert errors == []
    finally:
        context.close()


def _ch5_problem():
    """Chapter 5's two-weight least-squares fit, built as the chapter builds it."""
    rng_fit = np.random.default_rng(3)
    X = rng_fit.standard_normal((50, 2)) @ np.array([[1.0, 0.8], [0.0, 0.5]])
    t = X @ np.array([1.5, -1.0]) + 0.1 * rng_fit.standard_normal(50)
    return X.T @ X / 50, X.T @ t / 50


def test_gd_explorer_chapter_5(browser, served_book):
    context, page, errors = _open(browser, f"{served_book}/{CH5}")
    try:
        fig = page.get_by_role("group", name=GD)
        fig.scroll_into_view_if_needed()
        A, b = _ch5_problem()
        x0, lr, steps, _ = _check_gd(fig, A, b)
        assert np.allclose(x0, [-1.0, 0.0]) and lr == 0.5 and steps == 30
        assert "w₃₀ = (" in fig.locator(".la-why-iterate").inner_text()
        fig.get_by_role("button", name="lr 1.1").click()
        _settle(page)
        _check_gd(fig, A, b)
        assert (
            "diverges: lr > 2/λ_max = 1.042" in fig.locator(".la-status").inner_text()
        )
        fig.get_by_role("button", name="lr 1", exact=True).click()
        _click_plane(page, fig, 0.25, 0.75)  # view [-2.5, 3.5] x [-3, 3]
        _settle(page)
        x0, lr, *_ = _check_gd(fig, A, b)
        assert lr == 1.0 and np.allclose(x0, [-1.0, -1.5], atol=0.05), x0
        fig.get_by_label("steps", exact=True).focus()
        page.keyboard.press("Home")
        page.keyboard.press("ArrowRight")
        _settle(page)
        _, _, steps, _ = _check_gd(fig, A, b)
        assert steps == 1
        assert errors == []
    finally:
        context.close()


# ------------------------------------------------------------------------------ PCA


def _points(fig):
    labels = fig.locator(".la-handle").evaluate_all(
        "els => els.map(e => e.getAttribute('aria-label'))"
    )
    return np.array([_nums(t.split(" at ")[1])[:2] for t in labels])


def _check_pca(fig):
    X = _points(fig)
    comps, var, _ = decomp.pca(X, 2)
    C, _ = decomp.covariance(X)
    ratio = var / var.sum()
    status = fig.locator(".la-status").inner_text()
    assert status == (
        f"PC1 explains {100 * ratio[0]:.1f} % of the variance, "
        f"PC2 {100 * ratio[1]:.1f} %."
    ), status
    tables = fig.locator("table.la-matrix")
    shown_C = np.array(_nums(" ".join(tables.nth(0).locator("td").all_inner_texts())))
    assert np.allclose(shown_C, C.ravel(), rtol=0, atol=6e-4), (shown_C, C)
    rows = np.array(_nums(" ".join(tables.nth(1).locator("td").all_inner_texts())))
    shown = rows.reshape(2, 3)
    assert np.allclose(shown[:, :2], comps, atol=6e-4), (shown, comps)
    assert np.allclose(shown[:, 2], var, atol=6e-4), (shown, var)
    return X, ratio


def test_pca_explorer(browser, served_book):
    context, page, errors = _open(browser, f"{served_book}/{CH6}")
    try:
        fig = page.get_by_role("group", name=PCA)
        fig.scroll_into_view_if_needed()
        X0, r0 = _check_pca(fig)
        assert X0.shape == (12, 2)

        # Mouse: drag point 1 to the top left corner of the view: the cloud loses
        # its line, PC1's share falls.
        handle = fig.locator(".la-handle").nth(0)
        box = handle.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        plane = fig.locator("svg.la-why-plot").bounding_box()
        target = (plane["x"] + 0.1 * plane["width"], plane["y"] + 0.1 * plane["height"])
        page.mouse.move(*target, steps=8)
        page.mouse.up()
        _settle(page)
        X1, r1 = _check_pca(fig)
        assert np.allclose(X1[0], [-2.4, 2.4], atol=0.05), X1[0]
        assert np.array_equal(X1[1:], X0[1:]) and r1[0] < r0[0]

        # Keyboard: move point 2 up by 0.3.
        fig.locator(".la-handle").nth(1).focus()
        for _ in range(3):
            page.keyboard.press("ArrowUp")
        _settle(page)
        X2, _ = _check_pca(fig)
        assert np.allclose(X2[1], X1[1] + [0.0, 0.3])

        # The projections toggle: one dashed line per point, pressed state exposed.
        toggle = fig.get_by_role("button", name="show projections on PC1")
        toggle.click()
        _settle(page)
        assert toggle.get_attribute("aria-pressed") == "true"
        assert fig.locator(".la-why-proj").count() == 12
        assert errors == []
    finally:
        context.close()


# -------------------------------------------------------------------- reconstruction


def _digit_inputs():
    """The chapter's ten digits, mean and components, as stored in the page (4
    decimals, as ReconstructionExplorer stores them)."""
    X, y = data.load_digits()
    components, _, mean = decomp.pca(X, 64)
    first = [int(np.flatnonzero(y == d)[0]) for d in range(10)]
    return X[first], np.round(components, 4), np.round(mean, 4)


def _check_recon(fig, images, components, mean):
    k = int(_label_value(fig, "components k"))
    V = components[:k]  # (k, 64)
    rebuilt = decomp.pca_reconstruct(decomp.pca_transform(images, V, mean), V, mean)
    err = np.sum((images - rebuilt) ** 2, axis=1)  # (10,)
    shown = np.array(_nums(" ".join(fig.locator(".la-why-err").all_inner_texts())))
    assert np.allclose(shown, err, atol=6e-3), (k, shown, err)
    mse = _nums(fig.locator(".la-why-mse").inner_text())[0]
    assert abs(mse - err.mean()) < 6e-4, (k, mse, err.mean())
    # The pixels of the rebuilt 3: grey levels round(255 (1 - clip(pixel, 0, 1))).
    fills = fig.locator(".la-why-digits").nth(1).locator("svg").nth(3).locator("rect")
    grey = np.array(
        [
            int(_nums(f)[0])
            for f in fills.evaluate_all("els => els.map(e => e.getAttribute('fill'))")
        ]
    )
    want = np.round(255 * (1 - np.clip(rebuilt[3], 0, 1)))
    assert np.abs(grey - want).max() <= 1, k
    return k


def test_reconstruction_explorer(browser, served_book):
    context, page, errors = _open(browser, f"{served_book}/{CH6}")
    try:
        fig = page.get_by_role("group", name=RECON)
        fig.scroll_into_view_if_needed()
        inputs = _digit_inputs()
        assert _check_recon(fig, *inputs) == 10
        track = fig.get_by_label("components k", exact=True)
        box = track.bounding_box()
        page.mouse.click(box["x"] + 0.3 * box["width"], box["y"] + box["height"] / 2)
        _settle(page)
        k = _check_recon(fig, *inputs)
        assert 15 <= k <= 25, k
        track.focus()
        page.keyboard.press("Home")
        page.keyboard.press("ArrowRight")
        _settle(page)
        assert _check_recon(fig, *inputs) == 2
        page.keyboard.press("End")
        _settle(page)
        assert _check_recon(fig, *inputs) == 64
        assert _nums(fig.locator(".la-why-mse").inner_text())[0] < 1e-3
        assert errors == []
    finally:
        context.close()


# ------------------------------------------------------------------- phone and text

JS_FIT = """(root) => {
  const r = root.getBoundingClientRect();
  const out = [];
  const shown = root.querySelectorAll('.la-status, .la-readout, .la-why-iterate');
  for (const el of shown) {
    const b = el.getBoundingClientRect();
    const off = b.width === 0 || b.left < -1 || b.right > window.innerWidth + 1;
    if (off) out.push(el.textContent);
  }
  return {right: r.right, scroll: root.scrollWidth - root.clientWidth,
          page: document.documentElement.scrollWidth, hidden: out};
}"""

JS_SMALLEST_TEXT = """(root) => {
  let least = Infinity;
  const tags = 'text, p, label, output, td, th, caption, button, figcaption';
  for (const el of root.querySelectorAll(tags)) {
    if (!el.textContent.trim() || el.getClientRects().length === 0) continue;
    const px = parseFloat(getComputedStyle(el).fontSize);
    const svg = el.closest('svg');
    const box = svg ? svg.getBoundingClientRect().width : 1;
    const scale = svg ? box / svg.viewBox.baseVal.width : 1;
    least = Math.min(least, px * scale);
  }
  return least;
}"""


@pytest.mark.parametrize("path, name", [(CH5, GD), (CH6, GD), (CH6, PCA), (CH6, RECON)])
def test_explorables_fit_a_phone_and_read_at_desktop(browser, served_book, path, name):
    context, page, errors = _open(browser, f"{served_book}/{path}", PHONE)
    try:
        fig = page.get_by_role("group", name=name)
        fig.scroll_into_view_if_needed()
        fit = fig.evaluate(JS_FIT)
        assert fit["right"] <= 390 + 1 and fit["scroll"] <= 0, fit
        assert fit["hidden"] == [], fit
        assert errors == []
    finally:
        context.close()
    context, page, errors = _open(browser, f"{served_book}/{path}", DESKTOP)
    try:
        fig = page.get_by_role("group", name=name)
        assert fig.evaluate(JS_SMALLEST_TEXT) >= 11
    finally:
        context.close()
