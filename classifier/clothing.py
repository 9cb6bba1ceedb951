"""Clothing photos the way Fashion-MNIST shows garments: the garment found (GrabCut),
cropped, squared, 28 px, grayscale and inverted so the background is black.

    seen = prepare_clothing(load_rgba("shirt.jpg"))        # uint8 (28, 28)
    steps = clothing_steps(load_rgba("shirt.jpg"))         # mask, box, photo, seen
"""
from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from classifier.image import BlankImageError
from classifier.pixels import (bbox, border, dilate, fill_holes, has_transparency, luminance,
                               over_white, resize, to_uint8)

MASK_SIZE, GRABCUT_ITERATIONS = 160, 5  # measured on real photos: python -m benchmarks.photos


def prepare_clothing_v1(rgba: np.ndarray) -> np.ndarray:
    """The first recipe, kept to compare with: the item is whatever differs from the border's
    median colour (it fails on textured or coloured backgrounds). uint8 (28, 28)."""
    rgb = over_white(rgba) if has_transparency(rgba) else rgba[..., :3]
    # Find the item on a copy at most 160 px across (speed); crop the full image.
    step = max(1, int(np.ceil(max(rgb.shape[:2]) / 160)))
    small = rgb[::step, ::step]
    background = np.median(border(small), axis=0)  # (3,)
    mask = _border_difference(small)
    if mask.mean() < 0.002:
        raise BlankImageError("No item found: the image looks empty. Upload a photo of one "
                              "piece of clothing on a plain background.")
    mask = _largest_region(dilate(mask.astype(np.float32), 2) > 0)
    r0, r1, c0, c1 = (v * step for v in bbox(mask))
    crop = rgb[r0:r1, c0:c1]
    gray = luminance(crop)
    bg_gray = float(luminance(background[None, None])[0, 0])
    item = bg_gray - gray if bg_gray > 0.5 else gray - bg_gray  # background -> 0
    small28 = np.clip(resize(_square(np.clip(item, 0, 1)), 28, 28), 0, None)
    top = float(np.percentile(small28, 99.5))
    if top < 0.04:
        raise BlankImageError("No item found: the image has almost no contrast.")
    return to_uint8(np.clip(small28 / top, 0, 1))


def garment_mask(rgb: np.ndarray) -> np.ndarray:
    """Where the garment is in a photo (H, W, 3) in [0, 1]: boolean (H, W).

    GrabCut (colour models of the garment and of its surroundings, refined with a graph
    cut) seeded with a rectangle just inside the border, at most MASK_SIZE px across; then
    the largest region (one shoe of a pair), with its holes filled. A photo where that finds
    almost nothing falls back to the border-colour difference, then to the whole frame.
    """
    h, w = rgb.shape[:2]
    scale = min(1.0, MASK_SIZE / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(to_uint8(rgb)[..., ::-1], size, interpolation=cv2.INTER_AREA)  # BGR
    sh, sw = small.shape[:2]
    inset = max(1, min(sh, sw) // 40)
    if min(sh, sw) > 4 * inset + 4:
        mask = np.zeros((sh, sw), np.uint8)
        models = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        cv2.setRNGSeed(0)  # GrabCut's k-means starts from random centres: same photo, same mask
        cv2.grabCut(small, mask, (inset, inset, sw - 2 * inset, sh - 2 * inset), *models,
                    GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_RECT)
        found = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    else:
        found = np.zeros((sh, sw), bool)
    if found.mean() < 0.01:
        found = _border_difference(small[..., ::-1].astype(np.float32) / 255)
    if found.mean() < 0.01:
        found = np.ones_like(found)
    found = fill_holes(_largest_region(found))
    full = cv2.resize(found.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
    return full.astype(bool)


def _border_difference(rgb: np.ndarray) -> np.ndarray:
    background = np.median(border(rgb), axis=0)  # (3,)
    distance = np.abs(rgb - background).max(axis=2)
    return distance > max(0.08, 3 * float(np.percentile(border(distance), 90)))


def _largest_region(mask: np.ndarray) -> np.ndarray:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), 8)
    if count <= 1:
        return mask
    return labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))


def prepare_clothing(rgba: np.ndarray) -> np.ndarray:
    """A photo of a garment as Fashion-MNIST shows one (``clothing-photo-v2``): find the
    garment (``garment_mask``; the alpha channel where the image has one), crop to it, pad
    to a square, 28 px, grayscale and inverted so the background is black and dark cloth
    bright, contrast stretched. uint8 (28, 28)."""
    return clothing_steps(rgba)["seen"]


def clothing_steps(rgba: np.ndarray) -> dict[str, np.ndarray]:
    """What ``prepare_clothing`` does, step by step, to show users: ``mask`` (H, W) bool,
    ``box`` (top, bottom, left, right), ``crop`` (the item on black, float) and ``seen``."""
    if has_transparency(rgba):
        rgb, mask = over_white(rgba), rgba[..., 3] > 0.5
    else:
        rgb = rgba[..., :3]
        if _is_featureless(rgb):
            raise BlankImageError("No item found: the image is one even colour. Upload a "
                                  "photo of one piece of clothing.")
        mask = garment_mask(rgb)
    box = bbox(mask)
    if box is None:
        raise BlankImageError("No item found: the image is transparent everywhere.")
    r0, r1, c0, c1 = box
    inside = mask[r0:r1, c0:c1]
    square = _square(np.where(inside, 1.0 - luminance(rgb[r0:r1, c0:c1]), 0.0))
    small28 = _area_resize(square, 28)
    top = float(np.percentile(small28, 99.5))
    if top < 0.04:  # a white garment: nearly black once inverted; show its shape instead
        small28, top = _area_resize(_square(inside), 28), 1.0
    seen = to_uint8(np.clip(small28 / top, 0, 1))
    return {"photo": rgb, "mask": mask, "box": np.array(box), "seen": seen}


def step_pictures(steps: dict) -> list[tuple[np.ndarray, str]]:
    """What users see of ``clothing_steps``: the photo with the garment outlined, the
    garment cut out, and the 28x28 image the model saw; RGB uint8 with captions."""
    photo = to_uint8(steps["photo"])
    mask = steps["mask"].astype(np.uint8)
    outlined = np.ascontiguousarray(photo.copy())
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    thickness = max(2, max(mask.shape) // 150)
    cv2.drawContours(outlined, contours, -1, (255, 0, 200), thickness)
    r0, r1, c0, c1 = steps["box"]
    cut = np.where(mask[r0:r1, c0:c1, None] > 0, photo[r0:r1, c0:c1], 0).astype(np.uint8)
    seen = np.asarray(Image.fromarray(steps["seen"]).resize((224, 224), Image.Resampling.NEAREST))
    return [(outlined, "1. garment found"),
            (cut, "2. cut out"),
            (np.repeat(seen[..., None], 3, axis=2), "3. model input")]


def _is_featureless(rgb: np.ndarray) -> bool:
    """No object at all: averaged over 8x8-pixel blocks (which removes sensor noise), the
    whole image stays within a few percent of one brightness."""
    h, w = rgb.shape[:2]
    coarse = cv2.resize(luminance(rgb), (max(1, w // 8), max(1, h // 8)),
                        interpolation=cv2.INTER_AREA)
    return float(np.percentile(coarse, 99.5) - np.percentile(coarse, 0.5)) < 0.06


def _area_resize(a: np.ndarray, side: int) -> np.ndarray:
    """A float square to ``side`` px by averaging (no ringing into the black margin)."""
    return np.clip(cv2.resize(a.astype(np.float32), (side, side),
                              interpolation=cv2.INTER_AREA), 0, None)


def _square(a: np.ndarray) -> np.ndarray:
    """``a`` (float) centred on a black square."""
    h, w = a.shape
    side = max(h, w)
    out = np.zeros((side, side), np.float32)
    out[(side - h) // 2:(side - h) // 2 + h, (side - w) // 2:(side - w) // 2 + w] = a
    return out
