"""Digits the way MNIST was made: the ink cropped, thickened where it would vanish, fitted
into 20x20 keeping its aspect ratio, and centred by its centre of mass in 28x28.

    digit = prepare_digit(load_rgba("seven.png"))   # uint8 (28, 28), ink bright
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from classifier.image import BlankImageError
from classifier.pixels import (bbox, dilate, fill_holes, has_transparency, luminance, resize,
                               to_uint8)

FLOOR = 0.5  # the paper is never put nearer the ink than half way (see paper_level)


def ink_map(rgba: np.ndarray) -> np.ndarray:
    """Ink strength in [0, 1] (H, W): the alpha of a drawing on a transparent canvas, or the
    luminance's distance from the paper for opaque images, whatever their polarity."""
    if has_transparency(rgba):
        alpha = rgba[..., 3]
        # ink drawn on transparency: alpha is the ink (a light stroke on a transparent
        # canvas counts as ink just the same); flattened drawings fall to the luminance path
        return np.clip(alpha, 0, 1).astype(np.float32)
    gray = luminance(rgba[..., :3])
    dark = dark_marks(gray)
    page = gray if dark else 1 - gray  # the marks darker than the paper, either way
    paper = paper_level(page)
    # the share of the paper's light the ink takes away: the same in the shade as in the light
    ink = (paper - page) / np.maximum(paper, 0.2)
    return np.clip(ink, 0, 1).astype(np.float32)


def dark_marks(gray: np.ndarray) -> bool:
    """Whether the marks are darker than the paper (pen on paper) rather than lighter (chalk,
    a screen, MNIST itself). Ink covers less than half of an image, so the median pixel is
    paper, unless a shadow darkens most of the sheet. So the pixels that stand out most from
    their surroundings (a median over half the image) decide when they lie clearly further
    one way (by a quarter); the median decides when they do not (a drawing in pure black
    and white stands out as far both ways). On digits on paper under a shadow taking 60% of
    the light, the median alone misjudged 36% of photos; this rule, 2 of 1,600 (plain,
    cropped, shadowed, cropped and shadowed, each also inverted). With no mark at all (a
    blank page, even under a shadow, whose edge stands out both ways), pen on paper."""
    small, size, _ = _small(gray)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
    marks = max(float(np.percentile(cv2.morphologyEx(small, op, kernel), 99.9))
                for op in (cv2.MORPH_BLACKHAT, cv2.MORPH_TOPHAT))
    if marks < 0.1:
        return True
    paper = cv2.medianBlur(to_uint8(small), 2 * size + 1).astype(np.float32) / 255
    away = small - paper
    below, above = -float(np.percentile(away, 0.1)), float(np.percentile(away, 99.9))
    if max(below, above) > 1.25 * min(below, above):
        return below > above
    return float(np.median(gray)) > 0.5


def _small(gray: np.ndarray) -> tuple[np.ndarray, int, int]:
    """``gray`` reduced ``step`` times to at most 256 px across, the odd width of a quarter
    of its shorter side, and ``step``."""
    h, w = gray.shape
    step = max(1, -(-max(h, w) // 256))
    small = cv2.resize(gray, (max(1, w // step), max(1, h // step)), interpolation=cv2.INTER_AREA)
    return small, max(3, min(small.shape) // 4) | 1, step


def paper_level(page: np.ndarray) -> np.ndarray:
    """The paper's own brightness at each pixel of a page whose marks are darker than it
    (H, W): the page with every mark narrower than a quarter of its shorter side closed
    over. A shadow or uneven light across a phone photo of paper is wider than any stroke
    and stays part of the paper, so it is not taken for ink. A bold stroke wider than that
    (a big digit's filled loop, a tight crop) would be taken for paper too, so the paper is
    never put nearer the ink's level than FLOOR of the way from it to the brightest paper:
    a shadow taking up to about half the light is followed, a stroke of any colour is not
    (bold red or grey ink in a tight crop was erased with a floor set from the paper alone).
    A dark table beside the sheet is as dark as ink and still counts as ink, and so does the
    shadow on an empty page (its darkest pixels are the shadow). Worked out at most 256 px
    across."""
    h, w = page.shape
    small, size, step = _small(page)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
    # Padded by odd reflection, which carries the light's slope on past the edges: closed
    # against a flat border, the paper darkening toward an edge would read as ink there.
    pad = min(size, min(small.shape) - 1)
    padded = np.pad(small, pad, mode="reflect", reflect_type="odd")
    level = cv2.morphologyEx(padded, cv2.MORPH_CLOSE, kernel, borderType=cv2.BORDER_REPLICATE)
    level = level[pad:pad + small.shape[0], pad:pad + small.shape[1]]
    ink, paper = float(np.percentile(small, 1)), float(np.percentile(level, 95))
    level = np.maximum(level, ink + FLOOR * (paper - ink))
    if step == 1:
        return level
    # Enlarged, a sharp shadow's edge blurs over a few pixels; the paper's level there is
    # taken from the shadowed side, so the edge is not drawn as a line of ink.
    level = cv2.resize(level, (w, h), interpolation=cv2.INTER_LINEAR)
    edge = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * step + 1, 2 * step + 1))
    return cv2.erode(level, edge, borderType=cv2.BORDER_REPLICATE)


def _clean(ink: np.ndarray) -> np.ndarray:
    """Subtract the paper's noise level and stretch the strongest ink to 1. The noise is
    measured on the faint pixels (under half the strongest ink) wherever they are, so a
    stroke is never taken for noise, however much of the border it covers."""
    top = float(np.percentile(ink, 99.9))
    faint = ink[ink < 0.5 * top]
    noise = float(np.percentile(faint, 95)) if faint.size else 0.0
    if top - noise < 0.12 or ink.max() < 0.15:
        raise BlankImageError("Draw a digit first: no ink found in this image.")
    cleaned = np.clip((ink - noise - 0.08 * (top - noise)) / (0.85 * (top - noise)), 0, 1)
    return cleaned.astype(np.float32)


def marks_inside_a_loop(seen: np.ndarray, level: int = 96, least: int = 4) -> bool:
    """Whether a prepared 28x28 digit image holds a mark (of at least ``least`` pixels over
    ``level``) inside a closed loop of other ink, not touching it: the eyes and mouth of a
    smiley, a window in a house. No digit has one: none of the 10,000 MNIST test images,
    2,000 canvas drawings of them, 2,000 digits drawn with the page's pen or 1,000 photos of
    them on paper; all of 40 smileys do."""
    ink = (seen > level).astype(np.uint8)
    count, labels = cv2.connectedComponents(ink, connectivity=8)
    if count <= 2:  # the background and at most one mark
        return False
    sizes = np.bincount(labels.ravel())
    for a in range(1, count):
        inside = fill_holes(labels == a)
        if any(b != a and sizes[b] >= least and inside[labels == b].all()
               for b in range(1, count)):
            return True
    return False


def _stroke_width(mask: np.ndarray) -> float:
    """Approximate stroke width in pixels: twice the erosions a stroke survives."""
    t = torch.from_numpy(mask.astype(np.float32))[None, None]
    total, steps = float(t.sum()), 0
    while float(t.sum()) > 0.1 * total and steps < 200:
        t = -F.max_pool2d(-t, 3, stride=1, padding=1)
        steps += 1
    return 2.0 * steps


def prepare_digit(rgba: np.ndarray) -> np.ndarray:
    """MNIST's own procedure: crop to the ink, fit in 20x20 (aspect kept, anti-aliased),
    then centre the centre of mass in 28x28. Returns uint8 (28, 28), ink bright."""
    return mnist_digit(_clean(ink_map(rgba)))


def clean_ink(rgba: np.ndarray) -> np.ndarray:
    """The ink of a drawing or photo of digits, noise removed, strongest ink 1 (H, W)."""
    return _clean(ink_map(rgba))


def mnist_digit(ink: np.ndarray) -> np.ndarray:
    """Cleaned ink (float, H x W) of one digit to MNIST's 28x28 uint8."""
    box = bbox(ink > 0.1)
    if box is None:
        raise BlankImageError("Draw a digit first: no ink found in this image.")
    r0, r1, c0, c1 = box
    ink = ink[r0:r1, c0:c1]
    # Work at twice the final size (a 40 px box): strokes thinner than ~3.6 px there
    # (1.8 px in the final 20 px box) would fade to grey, so they are thickened first.
    scale = 40 / max(ink.shape)
    ink = _stretch(resize(ink, round(ink.shape[1] * scale), round(ink.shape[0] * scale)))
    width = _stroke_width(ink > 0.5)
    if width < 3.6:
        radius = int(np.ceil((3.6 - width) / 2))
        ink = dilate(np.pad(ink, radius), radius)
        box = bbox(ink > 0.1)
        ink = ink[box[0]:box[1], box[2]:box[3]]
    scale = 20 / max(ink.shape)
    small = _stretch(resize(ink, round(ink.shape[1] * scale), round(ink.shape[0] * scale)))
    return _centre_of_mass_28(small)


def _stretch(ink: np.ndarray) -> np.ndarray:
    """Scale so the stroke cores reach 1: by a high percentile of the inked pixels rather
    than the maximum, which a crossing of two faint strokes would inflate."""
    ink = np.clip(ink, 0, None)
    inked = ink[ink > 0.05 * float(ink.max())]
    top = float(np.percentile(inked, 90)) if inked.size else 1.0
    return np.clip(ink / max(top, 1e-6), 0, 1)


def _centre_of_mass_28(small: np.ndarray) -> np.ndarray:
    h, w = small.shape
    canvas = np.zeros((28, 28), np.float32)
    top, left = (28 - h) // 2, (28 - w) // 2
    canvas[top:top + h, left:left + w] = small
    total = canvas.sum()
    rows, cols = np.arange(28), np.arange(28)
    cy = (canvas.sum(1) * rows).sum() / total
    cx = (canvas.sum(0) * cols).sum() / total
    dy, dx = int(round(14 - cy)), int(round(14 - cx))  # where MNIST digits sit (measured)
    dy = int(np.clip(dy, -top, 28 - h - top))  # shift without cutting ink off
    dx = int(np.clip(dx, -left, 28 - w - left))
    canvas = np.roll(canvas, (dy, dx), axis=(0, 1))
    return to_uint8(canvas)
