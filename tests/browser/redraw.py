"""Waiting for an explorable to redraw: the explorables redraw in the animation frame
after an input (ui.onFrame), so two frames later the page shows the new numbers,
however loaded the machine is (a fixed timeout is not)."""

_TWO_FRAMES = (
    "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
)


def after_redraw(page):
    """Return once the page has drawn two animation frames."""
    page.evaluate(_TWO_FRAMES)
