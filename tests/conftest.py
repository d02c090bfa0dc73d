"""Shared fixtures: a seeded generator, hypothesis profiles (CI is derandomised), and
the built book served on 127.0.0.1 for the browser and download tests."""

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
