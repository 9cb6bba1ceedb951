"""Stroke-to-answer latency in a real browser: Chromium draws a one-stroke digit on the
drawing canvas with the mouse, and the time from releasing the mouse to the last change of
the 28x28 "what the model sees" picture (the answer for the finished stroke) is measured in
the page. Also counts the requests each stroke sends: file uploads and queued events.

    python -m benchmarks.browser_latency [--strokes 20] [--width 1300 --height 900]

Needs Chromium (/usr/bin/chromium) and playwright, as the browser test does.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from contextlib import contextmanager

from benchmarks.app_speed import start_app
from tests.test_browser import ARGS, CHROMIUM, draw

# Record, in page time, the mouse release and every change of the model-input picture.
WATCH = """() => {
  window.__marks = {up: [], seen: []};
  document.addEventListener('pointerup', () => window.__marks.up.push(performance.now()), true);
  const seen = document.querySelector('#mnist-seen');
  new MutationObserver(() => window.__marks.seen.push(performance.now()))
    .observe(seen, {subtree: true, childList: true, attributes: true,
                    attributeFilter: ['src']});
}"""
STROKES = {"1": [(0, -90), (0, 90)],
           "7": [(-70, -90), (70, -90), (10, 100)],
           "0": [(0, -90), (60, -50), (60, 50), (0, 90), (-60, 50), (-60, -50), (0, -88)]}


def settled(page, quiet_ms: int, limit_ms: int = 15000) -> dict:
    """The marks once the picture has not changed for ``quiet_ms`` after the release."""
    waited = 0
    while waited < limit_ms:
        page.wait_for_timeout(100)
        waited += 100
        marks = page.evaluate("() => window.__marks")
        if marks["up"]:
            last = max([marks["up"][-1], *marks["seen"]])
            now = page.evaluate("() => performance.now()")
            if marks["seen"] and marks["seen"][-1] > marks["up"][-1] and now - last > quiet_ms:
                return marks
    return page.evaluate("() => window.__marks")


def measure(page, strokes: int, quiet_ms: int = 1000) -> tuple[list[float], list[int]]:
    latencies, uploads = [], []
    sent = []
    page.on("request", lambda r: sent.append(r.url)
            if "/upload" in r.url or "/queue/join" in r.url else None)
    page.evaluate(WATCH)
    for k in range(strokes):
        page.locator("#sketchpad button[aria-label*='Clear']").first.click()
        page.wait_for_timeout(quiet_ms)
        page.evaluate("() => { window.__marks.up = []; window.__marks.seen = []; }")
        before = len(sent)
        draw(page, list(STROKES.values())[k % len(STROKES)])
        marks = settled(page, quiet_ms)
        up = marks["up"][-1]
        after = [t for t in marks["seen"] if t > up]
        if not after:
            print(f"stroke {k}: no change after the mouse was released", file=sys.stderr)
            continue
        latencies.append(max(after) - up)
        uploads.append(len(sent) - before)
    return latencies, uploads


@contextmanager
def browser_on_app():
    """``python app.py`` on a free port and headless Chromium: (the browser, the app's URL,
    the app's process), both closed afterwards."""
    from playwright.sync_api import sync_playwright

    proc, url = start_app()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            yield browser, url, proc
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.browser_latency",
                                description=__doc__)
    p.add_argument("--strokes", type=int, default=20)
    p.add_argument("--width", type=int, default=1300)
    p.add_argument("--height", type=int, default=900)
    args = p.parse_args()
    with browser_on_app() as (browser, url, _):
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        page.goto(url)
        page.wait_for_selector("#sketchpad canvas", timeout=60000)
        page.wait_for_timeout(2000)
        draw(page, STROKES["1"])  # warm up: first request, model load
        page.wait_for_timeout(3000)
        latencies, uploads = measure(page, args.strokes)
    lat = sorted(latencies)
    print(f"stroke end to answer on the page, {len(lat)} strokes, "
          f"{args.width}x{args.height}: median {statistics.median(lat):.0f} ms, "
          f"p95 {lat[int(0.95 * (len(lat) - 1))]:.0f} ms, max {lat[-1]:.0f} ms")
    print(f"requests per stroke (uploads and events): median {statistics.median(uploads):.0f},"
          f" max {max(uploads)}")


if __name__ == "__main__":
    main()
