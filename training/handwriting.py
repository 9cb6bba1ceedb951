"""Digits drawn with a mouse on the page's canvas, made without MNIST: a stroke font of two
or three common styles per digit (a 1 plain, with a flag, with a foot; a 4 open and
closed; a 7 with a bar; a 9 with a straight or curled tail...), each drawing jittered,
slanted, turned, stretched, sized and placed at random, and drawn with round pen ends as
the canvas draws them (RGBA, ink in alpha). Used by tests and benchmarks, never to train.

    rgba, label = handwritten_digit(rng)               # one digit, anywhere on the canvas
    rgba, number = handwritten_number(rng, digits=3)   # "305", side by side
"""
from __future__ import annotations

import numpy as np

from training.synthetic import pen as draw_pen

CANVAS, PEN = 280, 14  # web/page.py's PAD_SIZE, PAD_PEN: the page's canvas and pen, in pixels


def arc(cx, cy, rx, ry, start, end, n=28):
    """Points of an elliptical arc from ``start`` to ``end`` degrees (y down)."""
    t = np.radians(np.linspace(start, end, n))
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t)))


# Each style is a list of strokes, each a list of (x, y) in a box of height 1 (y down).
FONT = {
    "0": [[arc(0.3, 0.5, 0.28, 0.5, -90, 270)], [arc(0.25, 0.5, 0.2, 0.5, -100, 265)]],
    "1": [[[(0.3, 0), (0.3, 1)]], [[(0.1, 0.22), (0.3, 0), (0.3, 1)]],
          [[(0.1, 0.22), (0.3, 0), (0.3, 1)], [(0.08, 1), (0.52, 1)]]],
    "2": [[arc(0.3, 0.26, 0.26, 0.26, 190, 400) + [(0.02, 1), (0.62, 1)]],
          [arc(0.3, 0.26, 0.26, 0.26, 200, 380) + [(0.3, 0.7), (0.05, 1), (0.62, 0.98)]]],
    "3": [[arc(0.28, 0.25, 0.25, 0.25, 200, 450) + arc(0.28, 0.74, 0.28, 0.26, -90, 160)],
          [[(0.05, 0), (0.56, 0), (0.22, 0.42)] + arc(0.28, 0.7, 0.28, 0.3, -90, 160)]],
    "4": [[[(0.36, 0), (0.02, 0.66), (0.62, 0.66)], [(0.46, 0.3), (0.46, 1)]],
          [[(0.46, 1), (0.46, 0), (0.02, 0.66), (0.62, 0.66)]],
          [[(0.05, 0), (0.05, 0.6), (0.62, 0.6)], [(0.48, 0), (0.48, 1)]]],
    "5": [[[(0.56, 0), (0.1, 0), (0.07, 0.47)] + arc(0.3, 0.69, 0.27, 0.3, -140, 150)],
          [[(0.18, 0.0), (0.6, -0.02)],
           [(0.1, 0.06), (0.07, 0.47)] + arc(0.3, 0.69, 0.27, 0.3, -140, 150)]],
    "6": [[[(0.5, 0.0), (0.25, 0.2), (0.08, 0.5)] + arc(0.3, 0.73, 0.24, 0.27, 190, 530)],
          [arc(0.55, 0.55, 0.5, 0.55, 245, 180) + arc(0.3, 0.75, 0.25, 0.25, 180, 520)]],
    "7": [[[(0.02, 0), (0.6, 0), (0.2, 1)]],
          [[(0.02, 0), (0.6, 0), (0.2, 1)], [(0.14, 0.5), (0.52, 0.5)]],
          [[(0.02, 0.1), (0.02, 0), (0.6, 0), (0.35, 1)]]],
    "8": [[arc(0.3, 0.24, 0.2, 0.24, 90, 450), arc(0.3, 0.74, 0.26, 0.26, -90, 270)],
          [arc(0.3, 0.25, 0.24, 0.25, 20, 340) + arc(0.3, 0.74, 0.27, 0.26, -60, 300)]],
    "9": [[arc(0.3, 0.27, 0.27, 0.27, 0, 360), [(0.57, 0.25), (0.57, 1)]],
          [arc(0.3, 0.27, 0.27, 0.27, 0, 360),
           [(0.57, 0.25), (0.55, 0.8), (0.42, 1), (0.15, 0.95)]],
          [arc(0.3, 0.27, 0.27, 0.27, 10, 370) + [(0.5, 0.55), (0.3, 1)]]],
}


def strokes_of(digit: str, rng: np.random.Generator, style: int | None = None) -> list:
    """One drawing of ``digit`` in the unit box: a style, a smooth wobble along each stroke
    (not a tremor), a slant, a small turn and a stretch of the width."""
    styles = FONT[digit]
    style = int(rng.integers(0, len(styles))) if style is None else style
    slant, turn = rng.uniform(-0.25, 0.15), np.radians(rng.uniform(-8, 8))
    wide = rng.uniform(0.8, 1.25)
    out = []
    for stroke in styles[style]:
        s = np.asarray(stroke, float)
        knots = rng.normal(0, 0.02, (5, 2))
        t = np.linspace(0, 4, len(s))
        s = s + np.stack([np.interp(t, np.arange(5), knots[:, i]) for i in (0, 1)], 1) \
            + rng.normal(0, 0.01, 2)
        x = (s[:, 0] - 0.3) * wide - slant * (s[:, 1] - 0.5)
        y = s[:, 1] - 0.5
        out.append(np.stack([np.cos(turn) * x - np.sin(turn) * y + 0.3,
                             np.sin(turn) * x + np.cos(turn) * y + 0.5], 1))
    return out


def _extent(strokes) -> tuple[np.ndarray, np.ndarray]:
    points = np.concatenate(strokes)
    return points.min(0), points.max(0)


def handwritten_digit(rng: np.random.Generator, canvas: int = CANVAS, pen: int = PEN,
                      digit: str | None = None, style: int | None = None) -> tuple[np.ndarray, str]:
    """(RGBA drawing, its digit): 70-250 px tall, anywhere, sometimes over an edge; a
    random digit and style unless given."""
    digit = str(rng.integers(0, 10)) if digit is None else digit
    strokes = strokes_of(digit, rng, style)
    height = rng.uniform(70, 250)
    low, high = (e * height for e in _extent(strokes))
    margin = pen / 2 - 10  # up to 10 px of the pen past the edge
    at = [rng.uniform(margin - low[i], max(margin - low[i], canvas - margin - high[i]))
          for i in (0, 1)]
    return draw_pen(canvas, [s * height + at for s in strokes], pen, round_ends=True), digit


def handwritten_number(rng: np.random.Generator, digits: int, canvas: int = CANVAS,
                       pen: int = PEN, gap: tuple[float, float] = (0.12, 0.45),
                       slope: float = 0.0) -> tuple[np.ndarray, str]:
    """(RGBA drawing, its number): ``digits`` digits side by side, ``gap`` (0.12-0.45) of
    their height apart (under the pen's width, their strokes touch), the line at most 55-95%
    of the canvas's width and its digits at most 60-200 px tall (the ink of four-digit
    numbers: 65-103 px tall, 10th-90th percentile). ``slope``: the line climbs (negative)
    or falls by this many pixels per pixel across, its digits upright, as when writing
    uphill or downhill."""
    number = "".join(str(d) for d in rng.integers(0, 10, digits))
    shapes = [strokes_of(d, rng) for d in number]
    gap = rng.uniform(*gap)
    extents = [_extent(s) for s in shapes]
    widths = [high[0] - low[0] for low, high in extents]
    line = sum(widths) + gap * (digits - 1)
    height = min(rng.uniform(0.55, 0.95) * (canvas - pen) / line, rng.uniform(60, 200))
    x = (canvas - line * height) / 2 + rng.uniform(-0.1, 0.1) * (canvas - line * height)
    rise = abs(slope) * line * height / 2  # the line's middle moves this far up and down
    y = rng.uniform(pen + rise, canvas - pen - height - rise)
    centre = x + line * height / 2
    strokes = []
    for shape, (low, _), width in zip(shapes, extents, widths):
        at = y + slope * (x + width * height / 2 - centre)
        strokes += [s * height + (x - low[0] * height, at) for s in shape]
        x += (width + gap) * height
    return draw_pen(canvas, strokes, pen, round_ends=True), number
