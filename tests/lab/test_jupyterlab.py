"""A chapter's explorable in JupyterLab, driven by a reader's mouse and keyboard.

JupyterLab runs on 127.0.0.1 (tests/lab/conftest.py) with a temporary copy of chapter
1; headless Chromium opens it, clears the stored outputs, runs every cell from the Run
menu and waits for the kernel to finish. Then, on the chapter's ``PlaneExplorer``:

- the "Preset" dropdown is set to "rotation 30°" (a real choice on the labelled
  <select>), and a new cell at the end prints ``plane.W``: Python holds the rotation
  matrix, computed here with NumPy;
- the e₁ handle (aria-label "e₁ …") is focused and moved with two presses of the
  right arrow key, and the next new cell prints ``plane.W[:, 0]``: the first column
  moved right by 2 × 0.1 (PlaneExplorer's keyboard contract: an arrow key moves a
  handle by exactly 0.1, no snapping), the second column did not move.

Then Python sets traits and the figures follow: ``plane.W`` set in a new cell shows in
the plane's W table, and a ``GDExplorer`` built in another cell gets new preset buttons
and a wider view when its ``presets`` and ``lim`` are set from Python. Last, chapter
9's ``RopeExplorer`` built in a new cell: one right-arrow press on its "Key position n"
slider reaches Python's ``rope.n``, and ``rope.m`` set from Python moves the "Query
position m" slider and shows Python's ``rope.score()``.
The kernel is checked to be the tests' own Python (``.venv`` under ``make lab``) with
this checkout's lalib. No request may leave 127.0.0.1. A failure says what the page
showed: cell prompts, error outputs, a screenshot path and the server log's tail.

A screenshot of the explorable as the test left it: _build/lab-screenshots/.
Run: ``make lab`` (or ``.venv/bin/python -m pytest tests/lab -m lab -q``);
LAB_CHAPTER=path/to/notebook.ipynb points it at another copy of the chapter.
"""

import contextlib
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

from lalib import __file__ as LALIB_FILE

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
CHAPTER = Path(os.environ.get("LAB_CHAPTER") or ROOT / "book" / "01-layers.ipynb")
SHOTS = ROOT / "_build" / "lab-screenshots"

PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
CELLS = f"{PANEL} .jp-Notebook .jp-Cell"
KERNEL_STATUS = ".jp-StatusBar-TextItem[title^='Change kernel']"
NUMBERED = re.compile(r"\[\d+\]:")  # the prompt of a cell that has run

OPEN_TIMEOUT = 120  # seconds, to show the notebook and start its kernel
RUN_ALL_TIMEOUT = 240  # seconds, for the whole chapter (about 15 s of computing)
CELL_TIMEOUT = 60  # seconds, for one short cell

# PlaneExplorer's keyboard contract (lalib/display/js/plane.js): an arrow key moves a
# focused handle by exactly STEP (Shift: 5 STEPs), from wherever it is.
STEP = 0.1

# The prompts of all code cells, '' when a cell has none.
JS_PROMPTS = """(sel) => Array.from(document.querySelectorAll(sel))
  .filter(c => c.classList.contains('jp-CodeCell'))
  .map(c => (c.querySelector('.jp-InputPrompt') || {textContent: ''})
             .textContent.trim())"""

# The text of every error output (a traceback) in the notebook.
JS_ERRORS = """(sel) => Array.from(document.querySelectorAll(
    sel + ' .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
  .map(o => o.innerText).filter(t => /Error|Traceback/.test(t))"""


class PageLog:
    """Requests leaving 127.0.0.1 (blocked, recorded) and the page's uncaught errors."""

    def __init__(self, page):
        self.external, self.errors = [], []
        page.route("**/*", self._route)
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))

    def _route(self, route):
        url = route.request.url
        host = urlparse(url).hostname
        if url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            self.external.append(url)
            route.abort()


class Notebook:
    """The open notebook in a JupyterLab page, driven as a reader would."""

    def __init__(self, page, lab, log):
        self.page, self.lab, self.log = page, lab, log
        self.cells = page.locator(CELLS)

    # -- what went wrong, in words ------------------------------------------------
    def explain(self, message):
        """`message`, plus the page's state, a screenshot and the server log."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        shot = SHOTS / f"jupyterlab-{int(time.time())}.png"
        try:
            self.page.screenshot(path=str(shot), full_page=True)
            where = f"screenshot: {shot}"
        except Exception as err:  # the page itself may be gone
            where = f"(no screenshot: {err})"
        try:
            prompts = self.page.evaluate(JS_PROMPTS, CELLS)
            errors = self.page.evaluate(JS_ERRORS, CELLS)
            status = self.page.locator(KERNEL_STATUS).inner_text(timeout=2000)
        except Exception as err:
            prompts, errors, status = f"(unavailable: {err})", [], "?"
        parts = [
            message,
            f"kernel status: {status!r}",
            f"code cell prompts: {prompts}",
            *(f"error output:\n{e[-1500:]}" for e in errors),
            *self.log.errors[-5:],
            where,
            self.lab.log_tail(),
        ]
        return "\n".join(parts)

    def fail(self, message):
        pytest.fail(self.explain(message), pytrace=False)

    @contextlib.contextmanager
    def explaining(self):
        """Turn a Playwright error (a timeout, a missing element) into `fail`."""
        try:
            yield
        except playwright_api.Error as err:
            self.fail(f"{type(err).__name__}: {err}")

    # -- kernel and cells -----------------------------------------------------------
    def kernel_status(self):
        return self.page.locator(KERNEL_STATUS).inner_text(timeout=5000).strip()

    def wait_idle(self, timeout=CELL_TIMEOUT):
        """Wait for the status bar's kernel item to say Idle (the toolbar says idle
        before the kernel has even connected, so it is not used)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.kernel_status().endswith("| Idle"):
                    return
            except playwright_api.Error:
                pass
            time.sleep(0.2)
        self.fail(f"the kernel was not idle within {timeout} s")

    def prompts(self):
        return self.page.evaluate(JS_PROMPTS, CELLS)

    def menu(self, menu, item):
        """Click `menu` in the menu bar, then its item labelled `item`."""
        exactly = lambda text: re.compile(f"^{re.escape(text)}$")  # noqa: E731
        self.page.locator(".lm-MenuBar-itemLabel", has_text=exactly(menu)).click()
        self.page.locator(".lm-Menu .lm-Menu-itemLabel", has_text=exactly(item)).click()

    def run_all(self, n_code):
        """Clear the stored outputs, run all cells, wait for all `n_code` to finish."""
        self.menu("Edit", "Clear Outputs of All Cells")
        deadline = time.monotonic() + CELL_TIMEOUT
        while any(NUMBERED.fullmatch(p) for p in self.prompts()):
            if time.monotonic() > deadline:
                self.fail("Clear Outputs of All Cells left execution counts")
            time.sleep(0.2)
        self.menu("Run", "Run All Cells")
        started = time.monotonic()
        stalled_since = None
        while True:
            prompts = self.prompts()
            done = [p for p in prompts if NUMBERED.fullmatch(p)]
            if len(prompts) == n_code and len(done) == n_code:
                break
            running = any("*" in p for p in prompts)
            if not running and self.kernel_status().endswith("| Idle"):
                # Run All stops at a failing cell: nothing runs, cells are left over.
                stalled_since = stalled_since or time.monotonic()
                if time.monotonic() - stalled_since > 5:
                    self.fail(f"Run All Cells stopped: {len(done)} of {n_code} ran")
            else:
                stalled_since = None
            if time.monotonic() - started > RUN_ALL_TIMEOUT:
                self.fail(f"Run All Cells took over {RUN_ALL_TIMEOUT} s")
            time.sleep(0.25)
        self.wait_idle()
        errors = self.page.evaluate(JS_ERRORS, CELLS)
        if errors:
            self.fail("a cell of the chapter raised an error")

    def run_new_cell(self, code):
        """Type `code` into a new code cell at the end, run it with Shift+Enter, and
        return its output text. The new cell is the empty one Shift+Enter left at the
        end, or one inserted below the last cell (click its prompt, Esc, B)."""
        n = self.cells.count()
        last = self.cells.nth(n - 1)
        empty_code_cell = (
            "c => c.classList.contains('jp-CodeCell')"
            " && c.querySelector('.cm-content').innerText.trim() === ''"
            " && c.querySelectorAll('.jp-OutputArea-output').length === 0"
        )
        if last.evaluate(empty_code_cell):
            cell = last
        else:
            last.locator(".jp-InputPrompt").click()
            self.page.keyboard.press("Escape")
            self.page.keyboard.press("b")
            try:
                self.page.wait_for_function(
                    "([sel, n]) => document.querySelectorAll(sel).length > n",
                    arg=[CELLS, n],
                    timeout=10_000,
                )
            except playwright_api.TimeoutError:
                self.fail("pressing B in command mode inserted no cell")
            cell = self.cells.nth(n)
        cell.locator(".cm-content").click()
        self.page.keyboard.insert_text(code)
        typed = cell.locator(".cm-content").inner_text()
        if typed.strip() != code.strip():
            self.fail(f"the new cell holds {typed!r}, not {code!r}")
        self.page.keyboard.press("Shift+Enter")
        prompt = cell.locator(".jp-InputPrompt")
        deadline = time.monotonic() + CELL_TIMEOUT
        while not NUMBERED.fullmatch(prompt.inner_text().strip()):
            if time.monotonic() > deadline:
                self.fail(f"the new cell {code!r} did not finish in {CELL_TIMEOUT} s")
            time.sleep(0.1)
        self.wait_idle()
        outputs = cell.locator(".jp-OutputArea-output")
        if outputs.count() == 0:
            self.fail(f"the new cell {code!r} printed nothing")
        return "\n".join(outputs.all_inner_texts()).strip()

    def check_close(self, what, actual, expected, atol):
        actual, expected = np.asarray(actual), np.asarray(expected)
        if actual.shape != expected.shape or not np.allclose(
            actual, expected, rtol=0, atol=atol
        ):
            self.fail(f"{what}: got {actual.tolist()}, expected {expected.tolist()}")

    def run_json(self, code):
        """Run `code` (which prints one JSON value) in a new cell; the parsed value."""
        text = self.run_new_cell(code)
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            self.fail(f"the cell {code!r} printed {text!r}, not JSON")


@pytest.fixture
def notebook(lab, browser):
    """The chapter, copied into the server's root dir and open in a 1280 px page."""
    if not CHAPTER.exists():
        pytest.fail(f"no chapter at {CHAPTER}")
    shutil.copyfile(CHAPTER, lab.root_dir / CHAPTER.name)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    nb = Notebook(page, lab, PageLog(page))
    with nb.explaining():
        page.goto(f"{lab.url}/lab/tree/{CHAPTER.name}", wait_until="domcontentloaded")
        page.locator(CELLS).first.wait_for(timeout=OPEN_TIMEOUT * 1000)
        nb.wait_idle(timeout=OPEN_TIMEOUT)
    yield nb
    context.close()


def test_explorable_syncs_with_the_kernel(notebook):
    nb, page = notebook, notebook.page
    chapter = json.loads(CHAPTER.read_text(encoding="utf-8"))
    n_code = sum(c["cell_type"] == "code" for c in chapter["cells"])
    with nb.explaining():
        nb.run_all(n_code)

        # The kernel is the tests' own Python, with this checkout's lalib.
        prefix, lalib_file = nb.run_json(
            "import json, sys, lalib; print(json.dumps([sys.prefix, lalib.__file__]))"
        )
        if Path(prefix).resolve() != Path(sys.prefix).resolve():
            nb.fail(f"the kernel runs in {prefix}, not in {sys.prefix}")
        if Path(lalib_file).resolve() != Path(LALIB_FILE).resolve():
            nb.fail(f"the kernel imports lalib from {lalib_file}, not {LALIB_FILE}")

        # The explorable is on the page: its dropdown, found by its accessible name.
        preset = page.get_by_label("Preset", exact=True)
        try:
            preset.wait_for(state="visible", timeout=30_000)
        except playwright_api.TimeoutError:
            nb.fail("no control labelled 'Preset' appeared (no explorable rendered)")
        if preset.count() != 1:
            nb.fail(f"{preset.count()} controls are labelled 'Preset', expected one")
        widget = page.locator(".la-explorable", has=preset)

        # A reader picks "rotation 30°": Python's W is the rotation matrix.
        preset.select_option(label="rotation 30°")
        t = np.deg2rad(30)
        rotation = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
        W = nb.run_json("print(plane.W.tolist())")
        nb.check_close("plane.W after choosing 'rotation 30°'", W, rotation, 1e-12)

        # Two right-arrow presses on the focused e₁ handle move W's first column.
        handle = widget.locator('[aria-label^="e₁"]')
        if handle.count() != 1:
            nb.fail(f"{handle.count()} elements have an aria-label starting 'e₁'")
        handle.focus()
        if not handle.evaluate("el => el === document.activeElement"):
            nb.fail("the e₁ handle did not take the keyboard focus")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        W = np.array(nb.run_json("print(plane.W.tolist())"))
        nb.check_close(
            "plane.W[:, 0] after two right-arrow presses on e₁",
            W[:, 0],
            rotation[:, 0] + [2 * STEP, 0.0],
            1e-9,
        )
        nb.check_close("plane.W[:, 1] (e₂ not touched)", W[:, 1], rotation[:, 1], 1e-12)

        # Python sets a trait: the figure follows. W from Python redraws the plane's
        # table; a gradient-descent explorer built in a new cell gets new preset
        # buttons and a wider view when its presets and lim are set from Python.
        nb.run_new_cell("plane.W = [[2.0, 0.0], [0.0, 3.0]]\nprint('set')")
        caption = page.locator("caption", has_text=re.compile("^W$"))
        w_table = widget.locator("table.la-matrix", has=caption)
        try:
            w_table.locator("td", has_text="3.00").wait_for(timeout=10_000)
        except playwright_api.TimeoutError:
            shown = w_table.inner_text()
            nb.fail(f"plane.W set from Python; the W table shows {shown!r}")
        nb.run_new_cell(
            "from lalib.display.why import GDExplorer\n"
            "gd = GDExplorer(np.diag([1.0, 4.0]), np.zeros(2), (2.0, 2.0), 0.1,\n"
            "                 presets=(0.1,))\n"
            "gd"
        )
        gd = page.locator(".la-explorable.la-why").last
        gd.get_by_role("button", name="lr 0.1", exact=True).wait_for(timeout=10_000)
        nb.run_new_cell("gd.presets = [0.05, 0.45]\ngd.lim = 6.0\nprint('set')")
        try:
            lr = gd.get_by_role("button", name="lr 0.45", exact=True)
            lr.wait_for(timeout=10_000)
        except playwright_api.TimeoutError:
            shown = gd.inner_text()[:300]
            nb.fail(f"gd.presets set from Python; the figure shows {shown!r}")
        presets = gd.locator("[aria-label='learning-rate presets'] button")
        buttons = presets.all_inner_texts()
        if buttons != ["lr 0.05", "lr 0.45"]:
            nb.fail(f"preset buttons after gd.presets = [0.05, 0.45]: {buttons}")
        start = gd.locator(".la-handle").get_attribute("transform")
        # x0 = (2, 2) in a view of half-width 6 around 0: 360 * (0.5 + 2 / 12) = 240
        if start is None or not re.fullmatch(r"translate\(240 120\)", start):
            nb.fail(f"gd.lim = 6: start drawn at {start!r}, not translate(240 120)")
        # Chapter 9's RoPE explorer, both ways: the reader's arrow key reaches
        # Python's n, and m set from Python moves the slider and the score.
        nb.run_new_cell(
            "from lalib.display.rope import RopeExplorer\n"
            "rope = RopeExplorer(m=3, n=7)\n"
            "rope"
        )
        rope = page.locator(".la-explorable.la-rope").last
        n_slider = rope.get_by_label("Key position n", exact=True)
        n_slider.wait_for(timeout=10_000)
        n_slider.focus()
        if not n_slider.evaluate("el => el === document.activeElement"):
            nb.fail("the 'Key position n' slider did not take the keyboard focus")
        page.keyboard.press("ArrowRight")
        n_py = nb.run_json("print(json.dumps(int(rope.n)))")
        if n_py != 8:
            shown = n_slider.input_value()
            nb.fail(
                f"one right-arrow press on n (7): the slider shows {shown}, "
                f"Python's rope.n is {n_py}"
            )
        score = nb.run_json("rope.m = 10\nprint(json.dumps(rope.score()))")
        m_slider = rope.get_by_label("Query position m", exact=True)
        try:
            page.wait_for_function(
                "el => el.value === '10'", arg=m_slider.element_handle(), timeout=10_000
            )
        except playwright_api.TimeoutError:
            shown = m_slider.input_value()
            nb.fail(f"rope.m = 10 from Python; the slider shows {shown}")
        shown = rope.locator(".la-rope-score").inner_text()
        if abs(float(shown.replace("\u2212", "-")) - score) > 1.5e-3:  # 3 decimals
            nb.fail(f"rope.m = 10: the figure's score is {shown}, Python's {score}")
        if nb.log.external:
            nb.fail(f"requests left 127.0.0.1: {nb.log.external[:5]}")
        # For people to look at: the explorable as the test left it.
        SHOTS.mkdir(parents=True, exist_ok=True)
        widget.screenshot(path=str(SHOTS / "plane-explorer.png"))
