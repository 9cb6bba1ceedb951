"""Realistic user inputs made from real test images (for the tests, the benchmarks and the
app's examples).

- ``sketch``: a digit redrawn as thick black strokes on a large transparent canvas,
  off-centre and at varied sizes: what the app's Sketchpad sends (RGBA, ink in alpha).
- ``sketch_at_edge``: the same, drawn big and touching one edge of the canvas (or filling it).
- ``number``: several digits drawn side by side on one canvas, some touching or broken.
- ``scribble`` and ``letter``: what is not a digit, drawn the same way (random pen strokes;
  a letter in Pillow's built-in font), for the out-of-distribution score.
- ``paper``: a digit as dark ink on light, slightly noisy, unevenly lit paper, JPEG-compressed;
  optionally under a shadow across the sheet, or with the dark table beyond its edge.
- ``product``: a Fashion-MNIST item turned back into a product photo: coloured, dark on a
  light background, off-centre on a larger canvas, JPEG-compressed.
"""
from __future__ import annotations

import io

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont


def _upscale(x28: np.ndarray, size: int) -> np.ndarray:
    t = torch.from_numpy(x28.astype(np.float32) / 255)[None, None]
    return F.interpolate(t, size=(size, size), mode="bicubic", align_corners=False)[0, 0] \
        .clamp(0, 1).numpy()


def _jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def sketch(x28: np.ndarray, rng: np.random.Generator, canvas: int = 400) -> np.ndarray:
    size = int(rng.integers(canvas // 4, canvas * 3 // 4))
    stroke = _upscale(x28, size) > 0.4
    radius = int(rng.integers(0, max(1, size // 30)))  # a thicker pen for bigger digits
    if radius:
        t = torch.from_numpy(stroke.astype(np.float32))[None, None]
        stroke = F.max_pool2d(t, 2 * radius + 1, 1, radius)[0, 0].numpy() > 0
    out = np.zeros((canvas, canvas, 4), np.uint8)  # transparent, ink [0, 0, 0, 255]
    top, left = rng.integers(0, canvas - size, size=2)
    out[top:top + size, left:left + size, 3] = stroke * 255
    return out


def sketch_at_edge(x28: np.ndarray, rng: np.random.Generator, edge: str,
                   canvas: int = 400) -> np.ndarray:
    """A big drawing whose ink touches ``edge`` (top, bottom, left, right) of the canvas,
    or, for ``fill``, runs from its top to its bottom edge."""
    size = canvas * 3 // 2 if edge == "fill" else int(rng.integers(canvas * 2 // 3, canvas))
    stroke = _upscale(x28, size) > 0.4
    radius = int(rng.integers(2, max(3, size // 30)))
    t = torch.from_numpy(stroke.astype(np.float32))[None, None]
    stroke = F.max_pool2d(t, 2 * radius + 1, 1, radius)[0, 0].numpy() > 0
    rows, cols = np.flatnonzero(stroke.any(1)), np.flatnonzero(stroke.any(0))
    ink = stroke[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    if edge == "fill":  # the ink scaled to the canvas height
        h, w = ink.shape
        ink = np.asarray(Image.fromarray(ink).resize((max(1, round(w * canvas / h)), canvas)))
    ink = ink[:canvas, :canvas]
    h, w = ink.shape
    top = {"top": 0, "bottom": canvas - h}.get(edge, int(rng.integers(0, canvas - h + 1)))
    left = {"left": 0, "right": canvas - w}.get(edge, int(rng.integers(0, canvas - w + 1)))
    out = np.zeros((canvas, canvas, 4), np.uint8)
    out[top:top + h, left:left + w, 3] = ink * 255
    return out


def number(digits: list[np.ndarray], rng: np.random.Generator, touching: bool = False,
           broken: bool = False, size: int = 120) -> np.ndarray:
    """A drawing of several digits left to right (RGBA, ink in alpha). ``touching``: each
    digit's ink runs into the next one's; ``broken``: each digit has a gap cut across it."""
    inks = []
    for x28 in digits:
        stroke = _upscale(x28, size) > 0.4
        rows, cols = np.flatnonzero(stroke.any(1)), np.flatnonzero(stroke.any(0))
        ink = stroke[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].copy()
        if broken:  # a gap of 3% of the size across the digit, between 30% and 70% down
            at = int(ink.shape[0] * rng.uniform(0.3, 0.7))
            ink[at:at + max(2, size // 33)] = False
        inks.append(ink)
    gaps = (rng.integers(-size // 40, 1, len(inks)) if touching
            else rng.integers(size // 12, size // 3, len(inks)))
    height = max(i.shape[0] for i in inks) + size // 2
    width = sum(i.shape[1] for i in inks) + int(gaps.sum()) + size
    out = np.zeros((height, width, 4), np.uint8)
    left = size // 2
    for ink, gap in zip(inks, gaps):
        top = (height - ink.shape[0]) // 2 + int(rng.integers(-size // 12, size // 12 + 1))
        top = int(np.clip(top, 0, height - ink.shape[0]))
        region = out[top:top + ink.shape[0], left:left + ink.shape[1], 3]
        region[ink] = 255
        left += ink.shape[1] + int(gap)
    return out


def paper(x28: np.ndarray, rng: np.random.Generator, cropped: bool = False,
          shadow: float = 0.0, table: bool = False) -> np.ndarray:
    """``cropped``: the photo framed so tightly that the digit runs off its top and bottom.
    ``shadow``: a soft shadow (a phone or a hand) falls across the sheet from a random side,
    taking this share of the light from paper and ink alike. ``table``: the photo also shows
    the dark table beyond one edge of the sheet, a tenth to two fifths of its size."""
    size = int(rng.integers(60, 140))
    h, w = int(rng.integers(size + 20, 320)), int(rng.integers(size + 20, 320))
    if cropped:
        h = size * 4 // 5
    yy, xx = np.mgrid[0:h, 0:w]
    light = 235 + 12 * (xx / w) - 8 * (yy / h)  # uneven lighting
    sheet = light[..., None] * np.array([1.0, 0.99, 0.95]) + rng.normal(0, 5, (h, w, 3))
    ink = np.array([25, 30, 70], np.float32) + rng.normal(0, 8, 3)
    a = _upscale(x28, size)[..., None]
    if cropped:  # the digit's 20 px core spans the whole height and more
        a = a[size // 10:size // 10 + h]
        top, left = 0, int(rng.integers(0, w - size))
    else:
        top, left = int(rng.integers(0, h - size)), int(rng.integers(0, w - size))
    patch = sheet[top:top + a.shape[0], left:left + size]
    sheet[top:top + a.shape[0], left:left + size] = patch * (1 - a) + ink * a
    if shadow:
        sheet = _shade(sheet, rng, shadow)
    if table:
        side = int(rng.integers(0, 4))
        band = int(rng.uniform(0.1, 0.4) * (h if side < 2 else w))
        strip = rng.normal(0, 5, (band, w, 3) if side < 2 else (h, band, 3))
        strip += np.array([70, 50, 40]) + rng.normal(0, 6, 3)
        parts = [strip, sheet] if side in (0, 2) else [sheet, strip]
        sheet = np.concatenate(parts, 0 if side < 2 else 1)
    return _jpeg(np.clip(sheet, 0, 255).astype(np.uint8), int(rng.integers(55, 90)))


def photo_of(drawing: np.ndarray, rng: np.random.Generator, shadow: float = 0.0) -> np.ndarray:
    """A drawing (RGBA, ink in alpha, e.g. ``number``) written in dark ink on paper and
    photographed, under a shadow taking ``shadow`` of the light: RGB, JPEG-compressed."""
    a = drawing[..., 3:].astype(np.float32) / 255
    h, w = a.shape[:2]
    sheet = 232 * np.array([1.0, 0.99, 0.95]) * np.ones((h, w, 3)) + rng.normal(0, 5, (h, w, 3))
    sheet = sheet * (1 - a) + (np.array([25, 30, 70]) + rng.normal(0, 8, 3)) * a
    if shadow:
        sheet = _shade(sheet, rng, shadow)
    return _jpeg(np.clip(sheet, 0, 255).astype(np.uint8), int(rng.integers(55, 90)))


def _shade(sheet: np.ndarray, rng: np.random.Generator, depth: float) -> np.ndarray:
    """A soft shadow (a phone, a hand) across the photo from a random side, its edge a fifth
    of the photo wide, taking ``depth`` of the light from paper and ink alike."""
    h, w = sheet.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    angle = rng.uniform(0, 2 * np.pi)
    across = np.cos(angle) * (xx / w - 0.5) + np.sin(angle) * (yy / h - 0.5)
    return sheet * (1 - depth / (1 + np.exp(-12 * (across - rng.uniform(-0.3, 0.3)))))[..., None]


def product(x28: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    size = int(rng.integers(100, 220))
    canvas = int(rng.integers(size + 30, 360))
    background = 255 - rng.integers(0, 14, 3)  # white or nearly, slightly tinted
    photo = np.ones((canvas, canvas, 3), np.float32) * background
    colour = rng.integers(0, 150, 3).astype(np.float32)  # dark enough to show on white
    v = _upscale(x28, size)[..., None]  # 1 = item, as Fashion-MNIST stores it
    top, left = rng.integers(0, canvas - size, size=2)
    patch = photo[top:top + size, left:left + size]
    photo[top:top + size, left:left + size] = patch * (1 - v) + colour * v
    photo += rng.normal(0, 2, photo.shape)
    return _jpeg(np.clip(photo, 0, 255).astype(np.uint8), int(rng.integers(70, 92)))


def pen(canvas: int, strokes, width: int, round_ends: bool = False) -> np.ndarray:
    """Pen strokes (each a sequence of (x, y) points) on a square canvas as the sketchpad
    sends them: RGBA, ink in alpha. ``round_ends``: a round pen tip at every point, as the
    page's canvas draws (round caps and joins); what leaves the canvas is lost."""
    image = Image.new("L", (canvas, canvas), 0)
    draw = ImageDraw.Draw(image)
    r = width / 2
    for points in strokes:
        points = [tuple(p) for p in np.asarray(points).tolist()]
        draw.line(points, fill=255, width=width, joint="curve")
        for x, y in points if round_ends else ():
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    out = np.zeros((canvas, canvas, 4), np.uint8)
    out[..., 3] = np.asarray(image)
    return out


def scribble(rng: np.random.Generator, canvas: int = 400) -> np.ndarray:
    """1-3 random pen strokes (a wandering line with momentum), RGBA ink in alpha."""
    strokes = []
    for _ in range(int(rng.integers(1, 4))):
        n = int(rng.integers(15, 60))
        heading = rng.uniform(0, 2 * np.pi)
        turns = np.cumsum(rng.normal(0, rng.uniform(0.2, 0.8), n)) + heading
        steps = rng.uniform(5, 20) * np.stack([np.cos(turns), np.sin(turns)], 1)
        points = rng.uniform(canvas * 0.2, canvas * 0.8, 2) + np.cumsum(steps, 0)
        strokes.append(np.clip(points, 0, canvas - 1))
    return pen(canvas, strokes, int(rng.integers(6, 20)))


def letter(char: str, rng: np.random.Generator, canvas: int = 400,
           font: str | None = None) -> np.ndarray:
    """``char`` in Pillow's built-in font (or the TrueType file ``font``) at a random size,
    slightly rotated, off-centre."""
    size = int(rng.integers(canvas // 3, canvas * 2 // 3))
    font = ImageFont.truetype(font, size) if font else ImageFont.load_default(size=size)
    image = Image.new("L", (canvas, canvas), 0)
    ImageDraw.Draw(image).text((canvas // 2, canvas // 2), char, fill=255, font=font,
                               anchor="mm", stroke_width=int(rng.integers(0, size // 25 + 1)),
                               stroke_fill=255)
    image = image.rotate(float(rng.uniform(-12, 12)), resample=Image.Resampling.BILINEAR)
    out = np.zeros((canvas, canvas, 4), np.uint8)
    out[..., 3] = np.asarray(image)
    return out


def shapes(rng: np.random.Generator, canvas: int = 400) -> np.ndarray:
    """1-3 outlines drawn with a pen: ellipses, rectangles, zigzag polylines."""
    image = Image.new("L", (canvas, canvas), 0)
    draw = ImageDraw.Draw(image)
    width = int(rng.integers(canvas // 66, canvas // 20))
    for _ in range(int(rng.integers(1, 4))):
        kind = int(rng.integers(0, 3))
        a = rng.uniform(0.1 * canvas, 0.9 * canvas, 4)
        box = (min(a[0], a[1]), min(a[2], a[3]),
               max(a[0], a[1]) + canvas / 20, max(a[2], a[3]) + canvas / 20)
        if kind == 0:
            draw.ellipse(box, outline=255, width=width)
        elif kind == 1:
            draw.rectangle(box, outline=255, width=width)
        else:
            points = rng.uniform(0.1 * canvas, 0.9 * canvas, (int(rng.integers(3, 7)), 2))
            draw.line([tuple(p) for p in points], fill=255, width=width, joint="curve")
    out = np.zeros((canvas, canvas, 4), np.uint8)
    out[..., 3] = np.asarray(image)
    return out
