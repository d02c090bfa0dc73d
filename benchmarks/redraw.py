"""Redraw times of the explorables in the built book: does an interaction repaint within
one animation frame (16.7 ms at 60 Hz)?

Run it from the repository root on a built site (``make build`` first)::

    .venv/bin/python -m benchmarks.redraw                  # _build/html, or $BOOK_SITE
    .venv/bin/python -m benchmarks.redraw other/_build/html --repeats 8

It serves the site on 127.0.0.1, opens every chapter page in headless Chromium
(Debian's ``/usr/bin/chromium``, the launch flags of tests/chromium.py) at
1280 x 900, and in each rendered explorable (each ``.la-explorable``) performs, with
real keyboard and mouse input, the interactions a reader makes, whichever it has:

- ``range``: focus the first range input and press ArrowRight (then ArrowLeft);
- ``select``: focus the first select and press ArrowDown (then ArrowUp);
- ``handle``: focus the first ``.la-handle`` (a draggable point) and press ArrowRight;
- ``button``: click the first button.

For each it measures, in the page:

- ``work``: the time the browser is busy for the interaction: the event handlers (each
  event from its timestamp to the end of its handlers, the union over the interaction's
  events: a click's pointerdown and its pointerup come in separate tasks, and the idle
  time between them is not work) plus the frame that follows (from the frame's start,
  through the explorable's redraw in its requestAnimationFrame callback, style, layout
  and paint, to the first task after the paint). An interaction keeps to one frame
  when its median is under 16.7 ms (the max is shown too: on a busy machine a single
  sample can miss the frame).
- ``latency``: from the first input event to that first task after the paint, the
  reader's wait, which includes waiting for the next frame (up to one frame period).
- ``event timing``: the longest entry the Event Timing API reports for the
  interaction (``PerformanceObserver`` with ``type: "event"``,
  ``durationThreshold: 16``): from the event to the next paint, the wait for the frame
  included, rounded to 8 ms; "< 16" when no event of the interaction took 16 ms.

It prints a table (median and max per chapter, explorable and interaction) and writes
``benchmarks/results/local-redraw.json`` and ``.md`` (git ignores ``local-*``), or
``--out``. It is a benchmark, not a test: it asserts nothing.
"""

import argparse
import contextlib
import functools
import http.server
import os
import statistics
import sys
import threading
from pathlib import Path

from benchmarks import harness

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
FRAME_MS = 1000 / 60
CHROMIUM = Path("/usr/bin/chromium")
# As tests/browser/test_site.py launches it (headless, offline, no first-run noise).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Installed in every page before its scripts run. For each event of an interaction, a
# capturing listener on window (it runs before the explorable's own) notes the first
# event's timestamp (t0), adds a listener to the event's target that runs after the
# target's own listeners (the end of its handlers: the event kept the browser busy from
# its timestamp to then), and registers a
# requestAnimationFrame: in the next frame it runs before the redraw that the handlers
# scheduled with ui.onFrame, and a message posted from it arrives after that frame's
# redraw, style, layout and paint.
JS_PROBE = """(() => {
  const la = { t0: null, handled: 0, busy: [], chains: [], slow: [] };
  window.__laRedraw = la;
  const done = (e) => {
    const end = performance.now();
    la.handled = Math.max(la.handled, end);
    la.busy.push([e.timeStamp, end]);
  };
  const probe = (e) => {
    if (la.t0 === null) la.t0 = e.timeStamp;
    e.target.addEventListener(e.type, done, { once: true });
    requestAnimationFrame((frame) => {
      const start = performance.now();
      const ch = new MessageChannel();
      ch.port1.onmessage = () => {
        la.chains.push({ frame, start, painted: performance.now() });
      };
      ch.port2.postMessage(0);
    });
  };
  for (const t of ["keydown", "pointerdown", "input", "change", "click"]) {
    window.addEventListener(t, probe, true);
    window.addEventListener(t, done, false);
  }
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        la.slow.push({ name: e.name, duration: e.duration });
      }
    }).observe({ type: "event", durationThreshold: 16, buffered: false });
  } catch (err) { la.noEventTiming = String(err); }
})();"""

JS_RESET = """() => {
  const la = window.__laRedraw;
  la.t0 = null; la.handled = 0; la.busy = []; la.chains = []; la.slow = [];
}"""

# The frame after the last event: work = handlers + that frame (from its first callback
# to after its paint); latency = input -> after that paint.
JS_READ = """() => {
  const la = window.__laRedraw;
  if (la.t0 === null || !la.chains.length) return null;
  const last = Math.max(...la.chains.map((c) => c.frame));
  const chains = la.chains.filter((c) => c.frame === last);
  const start = Math.min(...chains.map((c) => c.start));
  const painted = Math.max(...chains.map((c) => c.painted));
  // the handlers' busy time: the union of [event timestamp, end of its handlers]
  // (a click's pointerdown and pointerup arrive as separate tasks: the idle time
  // between them is the reader's finger, not the browser's work)
  let handlers = 0, reach = -Infinity;
  for (const [a, b] of la.busy.sort((u, v) => u[0] - v[0])) {
    if (b > reach) { handlers += b - Math.max(a, reach); reach = b; }
  }
  return {
    handlers,
    work: handlers + (painted - Math.max(start, la.handled)),
    latency: painted - la.t0,
    slow: la.slow.map((e) => e.duration),
  };
}"""

# The first control of each kind inside explorable number `index` (None if absent).
JS_CONTROLS = """([index]) => {
  const fig = document.querySelectorAll(".la-explorable")[index];
  const mark = (el, kind) => {
    if (el) el.setAttribute("data-la-bench", kind);
    return Boolean(el);
  };
  for (const e of document.querySelectorAll("[data-la-bench]")) {
    e.removeAttribute("data-la-bench");
  }
  return {
    label: fig.getAttribute("aria-label") || "",
    range: mark(fig.querySelector('input[type="range"]'), "range"),
    select: mark(fig.querySelector("select"), "select"),
    handle: mark(fig.querySelector(".la-handle"), "handle"),
    button: mark(fig.querySelector("button"), "button"),
  };
}"""

# Interaction name -> (kind of control, the keys pressed in turn; None = a click).
INTERACTIONS = {
    "range": ("range", ["ArrowRight", "ArrowLeft"]),
    "select": ("select", ["ArrowDown", "ArrowUp"]),
    "handle": ("handle", ["ArrowRight", "ArrowLeft"]),
    "button": ("button", None),
}


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(site):
    """Serve `site` on 127.0.0.1 from a thread; yield the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


def _offline(route):
    """Let only the local server and data:/blob: URLs through (the book is offline)."""
    url = route.request.url
    local = url.startswith(("data:", "blob:", "http://127.0.0.1", "http://localhost"))
    route.continue_() if local else route.abort()


def _open(browser, url, settle_ms=1500):
    """A fresh page at `url`, with the probe installed and the explorables rendered."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(JS_PROBE)
    page = context.new_page()
    page.route("**/*", _offline)
    page.goto(url, wait_until="networkidle")
    # the widget manager renders after load: wait until the count stops changing
    count, still = -1, 0
    for poll in range(40):
        now = page.locator(".la-explorable").count()
        still = still + 1 if now == count else 0
        count = now
        if still >= 3 and (count or poll >= 10):  # none yet: give it settle_ms
            break
        page.wait_for_timeout(settle_ms // 10)
    return context, page


def _interact(page, kind, keys, repeat):
    """Perform one interaction `repeat` times; return the measurements (ms)."""
    control = page.locator(f'[data-la-bench="{kind}"]')
    control.scroll_into_view_if_needed()
    page.wait_for_timeout(100)
    samples = []
    for r in range(repeat):
        if keys is None:
            page.evaluate(JS_RESET)
            control.click()
        else:
            control.focus()
            page.wait_for_timeout(50)  # let the focus's own frame pass
            page.evaluate(JS_RESET)
            page.keyboard.press(keys[r % len(keys)])
        page.wait_for_timeout(120)  # a few frames: the redraw and its paint
        sample = page.evaluate(JS_READ)
        if sample is not None:
            samples.append(sample)
    return samples


def _stats(samples):
    """Median and max of work and latency (ms), and the Event Timing entries of 16 ms
    or more (their durations include the wait for the frame, rounded to 8 ms)."""
    if not samples:
        return None
    work = [s["work"] for s in samples]
    latency = [s["latency"] for s in samples]
    slow = [d for s in samples for d in s["slow"]]
    return {
        "n": len(samples),
        "work_min_ms": min(work),
        "work_median_ms": statistics.median(work),
        "work_max_ms": max(work),
        "latency_median_ms": statistics.median(latency),
        "latency_max_ms": max(latency),
        "handlers_median_ms": statistics.median(s["handlers"] for s in samples),
        "event_timing_over_16ms": slow,
        "event_timing_max_ms": max(slow, default=None),
        "within_one_frame": statistics.median(work) <= FRAME_MS,
    }


def measure(site, repeats=6, log=print):
    """Measure every interaction of every explorable on every chapter page of `site`."""
    from playwright.sync_api import sync_playwright  # needs scripts/setup.sh --browser

    pages = sorted((Path(site) / "book").glob("*.html"))
    rows = []
    with serve(site) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for path in pages:
            rel = path.relative_to(site).as_posix()
            context, page = _open(browser, f"{base}/{rel}")
            n = page.locator(".la-explorable").count()
            log(f"{rel}: {n} explorable(s)")
            for index in range(n):
                controls = page.evaluate(JS_CONTROLS, [index])
                for name, (kind, keys) in INTERACTIONS.items():
                    if not controls[kind]:
                        continue
                    stats = _stats(_interact(page, kind, keys, repeats))
                    rows.append(
                        {
                            "page": rel,
                            "explorable": index,
                            "label": controls["label"],
                            "interaction": name,
                            **(stats or {"n": 0}),
                        }
                    )
                    # an interaction may have re-rendered the figure: mark again
                    controls = page.evaluate(JS_CONTROLS, [index])
            context.close()
        version = browser.version
        browser.close()
    return {
        "format": 1,
        "site": str(site),
        "chromium": version,
        "viewport": [1280, 900],
        "frame_ms": FRAME_MS,
        "repeats": repeats,
        "machine": harness.machine_info(harness.blas_threads()),
        "rows": rows,
    }


def _ms(value):
    return "-" if value is None else f"{value:.1f}"


def markdown(results):
    """The results as a markdown table.

    >>> row = {"page": "book/01-layers.html", "explorable": 0, "label": "The plane",
    ...        "interaction": "range", "n": 3, "work_min_ms": 1.0,
    ...        "work_median_ms": 2.0, "work_max_ms": 3.5,
    ...        "latency_median_ms": 9.0, "latency_max_ms": 15.0,
    ...        "event_timing_max_ms": None, "within_one_frame": True}
    >>> print(markdown({"rows": [row], "chromium": "1"}).splitlines()[-1])
    | 01-layers | 0: The plane | range | 3 | 1.0 / 2.0 / 3.5 | 9.0 / 15.0 | < 16 | yes |
    """
    lines = [
        f"Redraw per interaction, ms; Chromium {results['chromium']}, "
        "1280 x 900. work (min / median / max) = handlers + the next frame (redraw, "
        "style, layout, paint); latency (median / max) = input to after that "
        "paint (includes waiting for the frame); event timing = the longest "
        "Event Timing entry (< 16 when none reached 16 ms).",
        "",
    ]
    load = results.get("machine", {}).get("load_average_start")
    if load:
        lines += [
            f"Load average at the start: {load[0]:.1f} on "
            f"{results['machine']['cores']} cores (other programs slow the redraws).",
            "",
        ]
    lines += [
        "| chapter | explorable | interaction | n | work | latency | event timing | "
        "within one frame |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results["rows"]:
        chapter = Path(r["page"]).stem
        label = r["label"] if len(r["label"]) <= 40 else r["label"][:39] + "…"
        if not r["n"]:
            lines.append(
                f"| {chapter} | {r['explorable']}: {label} | {r['interaction']} "
                "| 0 | - | - | - | no redraw seen |"
            )
            continue
        timing = _ms(r["event_timing_max_ms"]) if r["event_timing_max_ms"] else "< 16"
        lines.append(
            f"| {chapter} | {r['explorable']}: {label} | {r['interaction']} | {r['n']} "
            f"| {_ms(r['work_min_ms'])} / {_ms(r['work_median_ms'])} / "
            f"{_ms(r['work_max_ms'])} "
            f"| {_ms(r['latency_median_ms'])} / {_ms(r['latency_max_ms'])} "
            f"| {timing} "
            f"| {'yes' if r['within_one_frame'] else 'no'} |"
        )
    if not results["rows"]:
        lines.append("| (no explorable found) | | | | | | | |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.redraw", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "site",
        nargs="?",
        default=os.environ.get("BOOK_SITE") or str(ROOT / "_build" / "html"),
        help="the built site (default $BOOK_SITE or _build/html)",
    )
    parser.add_argument(
        "--repeats", type=int, default=6, help="times each interaction is performed"
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=None,
        metavar="LOAD",
        help="first wait (up to 10 minutes) until the load average is below LOAD",
    )
    parser.add_argument(
        "--out",
        default=str(RESULTS / "local-redraw.json"),
        help="JSON path to write (the .md goes beside it)",
    )
    args = parser.parse_args(argv)
    site = Path(args.site)
    if not (site / "book").is_dir():
        parser.error(f"no built book at {site}: run `make build` first")
    if not CHROMIUM.exists():
        parser.error("Debian's chromium is missing: run scripts/setup.sh --browser")

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    if args.wait_quiet is not None:
        harness.wait_for_quiet(args.wait_quiet, log=log)
    results = measure(site, repeats=args.repeats, log=log)
    out = Path(args.out)
    harness.write_json(results, out)
    report = markdown(results)
    out.with_suffix(".md").write_text(report + "\n")
    print(report)
    log(f"wrote {out} and {out.with_suffix('.md')}")
    return results


if __name__ == "__main__":
    main()
