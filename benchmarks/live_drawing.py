"""The answer while drawing, in a real browser: Chromium draws continuously on the canvas
(a mouse move every 16 ms, as a 60 Hz pointer sends them), and the page records, in its own
clock, every drawing the canvas sends (its ``toDataURL``), every request to the server and
every change of the answer. For each change of the answer while the pen is down, the delay
is measured from the pen movement whose drawing it answers (the last drawing made before
the request that brought it). Also: requests per second of drawing, and the server's CPU
(user + system time of its process) while one person draws. Then 8 people draw at once,
each one a digit, and their final answers are checked.

    python -m benchmarks.live_drawing [--seconds 8] [--people 8]

Needs Chromium (/usr/bin/chromium) and playwright, as the browser test does.
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import time

from benchmarks.browser_latency import browser_on_app
from tests.test_browser import predicted_label

# In page time: each drawing the canvas encodes, each request sent, each answer shown.
RECORD = """
window.__live = {frames: [], requests: [], answers: []};
const encode = HTMLCanvasElement.prototype.toDataURL;
HTMLCanvasElement.prototype.toDataURL = function (...a) {
  window.__live.frames.push(performance.now());
  return encode.apply(this, a);
};
const send = window.fetch;
window.fetch = function (input, ...rest) {
  const url = typeof input === 'string' ? input : input.url;
  if (url.includes('/queue/join')) window.__live.requests.push(performance.now());
  return send.call(this, input, ...rest);
};
document.addEventListener('DOMContentLoaded', () => {
  const watch = () => {
    const label = document.querySelector('#mnist-label');
    if (!label) return setTimeout(watch, 200);
    new MutationObserver(() => window.__live.answers.push(performance.now()))
      .observe(label, {subtree: true, childList: true, characterData: true});
  };
  watch();
});
"""
# a digit as one stroke, points relative to the canvas centre, in CSS pixels
DIGITS = {"1": [(0, -90), (0, 90)],
          "7": [(-70, -90), (70, -90), (10, 100)],
          "0": [(0, -90), (60, -50), (60, 50), (0, 90), (-60, 50), (-60, -50), (0, -88)],
          "4": [(-20, -90), (-60, 20), (60, 20), (30, 20), (30, -60), (30, 100)]}


def path(points, moves: int):
    """``moves`` points evenly along a polyline."""
    lengths = [math.dist(a, b) for a, b in zip(points, points[1:])]
    total, out = sum(lengths), []
    for k in range(moves):
        d = total * k / (moves - 1)
        for (a, b), length in zip(zip(points, points[1:]), lengths):
            if d <= length or (a, b) == (points[-2], points[-1]):
                t = min(1.0, d / length) if length else 0.0
                out.append((a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t))
                break
            d -= length
    return out


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_page(browser, url):
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.add_init_script(RECORD)
    page.goto(url)
    page.wait_for_selector("#sketchpad canvas", timeout=60000)
    page.wait_for_timeout(1500)
    box = page.query_selector("#sketchpad canvas").bounding_box()
    return page, (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def one_person(browser, url, pid: int, seconds: float) -> None:
    page, (cx, cy) = open_page(browser, url)
    strokes = list(DIGITS.values())
    moves = int(seconds * 1000 / 16)
    page.evaluate("() => { const l = window.__live; l.frames = []; l.requests = []; "
                  "l.answers = []; }")
    cpu, start = cpu_seconds(pid), time.perf_counter()
    points = [p for k in range(8) for p in path(strokes[k % len(strokes)], moves // 8)]
    page.mouse.move(cx + points[0][0], cy + points[0][1])
    page.mouse.down()
    t_down = page.evaluate("() => performance.now()")
    for x, y in points:
        page.mouse.move(cx + x, cy + y)
        page.wait_for_timeout(16)
    t_up = page.evaluate("() => performance.now()")
    wall, cpu = time.perf_counter() - start, cpu_seconds(pid) - cpu
    page.mouse.up()
    marks = page.evaluate("() => window.__live")
    frames, requests = marks["frames"], marks["requests"]
    delays = []
    for answer in marks["answers"]:
        if not t_down < answer < t_up:
            continue
        asked = [r for r in requests if r < answer]
        drawn = [f for f in frames if asked and f <= asked[-1]]
        if drawn:
            delays.append(answer - drawn[-1])
    drawing_s = (t_up - t_down) / 1000
    sent = [r for r in requests if t_down < r < t_up]
    delays.sort()
    print(f"one person drawing for {drawing_s:.1f} s: pen movement to updated answer median "
          f"{statistics.median(delays):.0f} ms, p95 {delays[int(0.95 * (len(delays) - 1))]:.0f}"
          f" ms ({len(delays)} answers); {len(sent) / drawing_s:.1f} requests per second; "
          f"server CPU {100 * cpu / wall:.0f}% of one core")
    page.close()


def many_people(browser, url, people: int) -> None:
    """``people`` pages draw a digit each at the same time, slowly (about 2 s a stroke):
    their final answers and how long after the pen lifted they came."""
    pages = [open_page(browser, url) for _ in range(people)]
    digits = list(DIGITS)
    routes = [path(DIGITS[digits[k % len(digits)]], 120) for k in range(people)]
    for (page, (cx, cy)), route in zip(pages, routes):
        page.mouse.move(cx + route[0][0], cy + route[0][1])
        page.mouse.down()
    for step in range(120):  # the pages take turns, one move each, as people draw at once
        for (page, (cx, cy)), route in zip(pages, routes):
            page.mouse.move(cx + route[step][0], cy + route[step][1])
    lifted = []
    for page, _ in pages:
        page.mouse.up()
        lifted.append(time.perf_counter())
    right, waits = 0, []
    for k, ((page, _), up) in enumerate(zip(pages, lifted)):
        answer = predicted_label(page, timeout=60)
        waits.append(time.perf_counter() - up)
        right += answer == digits[k % len(digits)]
    print(f"{people} people drawing at once: {right}/{people} final answers right; final "
          f"answer at most {max(waits):.1f} s after the pen lifted (median "
          f"{statistics.median(waits):.1f} s, read in turn)")
    for page, _ in pages:
        page.close()


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.live_drawing", description=__doc__)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--people", type=int, default=8)
    args = p.parse_args()
    with browser_on_app() as (browser, url, proc):
        warm, (cx, cy) = open_page(browser, url)
        warm.mouse.move(cx, cy - 80)
        warm.mouse.down()
        warm.mouse.move(cx, cy + 80)
        warm.mouse.up()
        predicted_label(warm)
        warm.close()
        one_person(browser, url, proc.pid, args.seconds)
        many_people(browser, url, args.people)


if __name__ == "__main__":
    main()
