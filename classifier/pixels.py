"""Pixel helpers every preprocessing recipe shares: float images in [0, 1], numpy in and out.

    box = bbox(ink > 0.1)                 # (top, bottom, left, right) or None
    small = resize(ink, 20, 14)           # anti-aliased
    seen = passthrough(rgba)              # a 28x28 dataset-like image as uint8, else None
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Grey level (H, W) of an RGB image, by the ITU-R 601 weights."""
    return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def border(a: np.ndarray) -> np.ndarray:
    """The pixels of a frame a twentieth of the shorter side wide, as one row per pixel."""
    w = max(1, min(a.shape[:2]) // 20)
    return np.concatenate([a[:w].reshape(-1, *a.shape[2:]), a[-w:].reshape(-1, *a.shape[2:]),
                           a[:, :w].reshape(-1, *a.shape[2:]), a[:, -w:].reshape(-1, *a.shape[2:])])


def has_transparency(rgba: np.ndarray) -> bool:
    """Whether any pixel is noticeably transparent (a canvas drawing, a cut-out PNG)."""
    return bool(rgba[..., 3].min() < 0.98)


def over_white(rgba: np.ndarray) -> np.ndarray:
    """RGB (H, W, 3) of an RGBA image laid on white paper."""
    a = rgba[..., 3:]
    return rgba[..., :3] * a + (1 - a)


def bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the True pixels, ends exclusive; None when there are none."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if len(rows) == 0:
        return None
    return rows[0], rows[-1] + 1, cols[0], cols[-1] + 1


def to_uint8(x: np.ndarray) -> np.ndarray:
    """Floats in [0, 1] to uint8, rounded and clipped."""
    return np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)


def light_on_dark(gray: np.ndarray) -> bool:
    """The one rule for "already a model input": a 28x28 grey image (values in [0, 1])
    whose border is dark, as in both datasets (the brightest border measured 0.63)."""
    return gray.shape == (28, 28) and float(np.median(border(gray))) <= 0.65


def passthrough(rgba: np.ndarray) -> np.ndarray | None:
    """A 28x28 opaque image that is already light-on-dark, as uint8, else None."""
    if rgba.shape[:2] != (28, 28) or has_transparency(rgba):
        return None
    gray = luminance(rgba[..., :3])
    return to_uint8(gray) if light_on_dark(gray) else None


def dilate(x: np.ndarray, radius: int) -> np.ndarray:
    """Grey dilation by a (2 radius + 1) square: strokes thickened by ``radius`` px."""
    t = torch.from_numpy(np.ascontiguousarray(x))[None, None]
    return F.max_pool2d(t, 2 * radius + 1, stride=1, padding=radius)[0, 0].numpy()


def resize(a: np.ndarray, width: int, height: int) -> np.ndarray:
    """Anti-aliased (Lanczos) resize of a float image."""
    image = Image.fromarray(a.astype(np.float32))
    return np.asarray(image.resize((max(1, width), max(1, height)), Image.Resampling.LANCZOS))


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """``mask`` (bool) with every region that the outside cannot reach filled in: the holes
    of its loops (the outside 4-connected, as a mark is 8-connected)."""
    outside = np.pad(mask.astype(np.uint8), 1)
    cv2.floodFill(outside, None, (0, 0), 2)
    return outside[1:-1, 1:-1] != 2
