"""Shared fixtures: a seeded generator, hypothesis profiles (CI is derandomised), the
built book served on 127.0.0.1 for the browser and download tests, and headless
Chromium for the browser and JupyterLab tests."""

import functools
import http.server
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=60, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def rng():
    """A fresh generator with a fixed seed, so every test is reproducible."""
    return np.random.default_rng(0)


#: The built book the browser and download tests read (BOOK_SITE points elsewhere).
SITE = Path(
    os.environ.get("BOOK_SITE")
    or Path(__file__).resolve().parents[1] / "_build" / "html"
)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (tests/chromium.py), shared by a module's tests."""
    from chromium import ARGS, CHROMIUM
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run scripts/setup.sh --browser")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def served_book():
    """The base URL of the built book, served over HTTP from a thread."""
    if not (SITE / "index.html").exists():
        pytest.fail(f"no built book at {SITE}: run `make build` first")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
