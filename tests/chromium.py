"""Headless Chromium as the browser, download-free and offline, for the tests that
drive a page (tests/browser, tests/lab): Debian's build (scripts/setup.sh --browser),
no network of its own (only 127.0.0.1 resolves), and the two screens the book is
checked on."""

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # No DNS lookups of Chromium's own: only the test server's address resolves.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}

#: An init script (``context.add_init_script``) that turns off assets/lazy-render.js,
#: for checks that need every part of a page rendered (axe-core, the 390 px overflow
#: check): a part that skips rendering is not laid out inside.
RENDER_ALL = "window.__laRenderAll = true;"
