"""Turning any user image into the 28x28 image a model expects, and that image into a tensor.

    digit = prepare(Image.open("photo.jpg"), "mnist")        # uint8 (28, 28), ink bright
    x = normalize(digit, mean, std)                          # float (1, 1, 28, 28)

``prepare`` takes a path, bytes, a PIL image (any mode; EXIF orientation honoured), a numpy
array (uint8, uint16 or float; gray, gray+alpha, RGB, RGBA) or the dict Gradio's Sketchpad
sends, and follows the way each dataset was made:

- digits (MNIST): extract the ink (the alpha channel of a drawing, or luminance with its
  polarity detected), crop to it, thicken strokes that would vanish, fit it into 20x20
  keeping the aspect ratio with anti-aliasing, and centre its centre of mass in 28x28;
- clothing (Fashion-MNIST): estimate the background from the border, find the item, crop,
  pad to a square, resize the longer side to 28, grayscale, invert so the background is
  black, stretch the contrast.

Images that already look like dataset images (28x28, light on dark) pass through unchanged.
``normalize`` is the single normalisation path: training, evaluation and serving all call
it with the checkpoint's own mean/std.
"""
from __future__ import annotations

import io
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 40_000_000  # refuse decompression bombs long before they exhaust memory
# Every image is reduced to at most this many pixels across before any float copy is made:
# ample for a 20 px digit box or a 28 px garment, and it bounds the memory of one request.
WORK_SIZE = 1024
MASK_SIZE, GRABCUT_ITERATIONS = 160, 5  # measured on real photos: see benchmarks/photos.py
NOT_AN_IMAGE = ("This file is not an image that can be read (it may be corrupt, or of an "
                "unsupported type).")
TOO_LARGE = f"This image is too large to process (over {MAX_PIXELS // 1_000_000} megapixels)."


class ImageError(ValueError):
    """An input that cannot be turned into a model input; the message is meant for users."""


class BlankImageError(ImageError):
    """Nothing to classify: an empty canvas or an image without a discernible object."""


def normalize(images: torch.Tensor | np.ndarray, mean: float, std: float) -> torch.Tensor:
    """uint8 (N, 28, 28) or (28, 28) images, 0 = background, 255 = ink, to float (N, 1, 28, 28).

    Float input is taken to be in [0, 1] already.
    """
    x = torch.as_tensor(images)
    if x.dtype == torch.uint8:
        x = x.float() / 255.0
    x = x.float()
    if x.dim() == 2:
        x = x[None]
    if x.dim() == 3:
        x = x[:, None]  # (N, 1, 28, 28)
    return (x - mean) / std


# ---------------------------------------------------------------- any input -> RGBA floats

def load_rgba(image) -> np.ndarray:
    """Any supported input as float32 (H, W, 4) RGBA in [0, 1]."""
    if isinstance(image, dict):  # Gradio Sketchpad / ImageEditor value
        composite = image.get("composite")
        if composite is None:
            raise BlankImageError("Draw a digit first: the canvas is empty.")
        return load_rgba(composite)
    if isinstance(image, (str, os.PathLike, bytes)):
        image = _open(image)
    if isinstance(image, Image.Image):
        return _pil_to_rgba(image)
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    if isinstance(image, np.ndarray):
        return _array_to_rgba(image)
    raise ImageError(f"Unsupported input type {type(image).__name__}: "
                     "give an image file, a PIL image or a numpy array.")


def _open(source) -> Image.Image:
    """Decode a file at no more than the working size: the header is checked first, JPEGs
    decode at a reduced scale (``draft``), and anything larger is shrunk before a float copy
    exists, so a 36-megapixel upload costs about one 8-bit decode, not a float image."""
    try:
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS
        image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        if image.width * image.height > MAX_PIXELS:
            raise ImageError(TOO_LARGE)
        if image.format == "JPEG":  # decode at 1/2, 1/4 or 1/8 scale, at least 384 px
            image.draft(image.mode, (384, 384))
        image.load()
        image = _shrink(image)
        return ImageOps.exif_transpose(image)
    except FileNotFoundError as err:
        raise ImageError("No such file.") from err
    except Image.DecompressionBombError as err:
        raise ImageError(TOO_LARGE) from err
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        if isinstance(err, ImageError):
            raise
        raise ImageError(NOT_AN_IMAGE) from err


def _shrink(image: Image.Image) -> Image.Image:
    """At most WORK_SIZE on the longer side (the square box keeps EXIF rotation exact)."""
    if max(image.size) <= WORK_SIZE:
        return image
    if image.mode == "P":
        image = image.convert("RGBA")
    elif image.mode in ("1", "I;16", "I;16B", "I;16L"):
        image = image.convert("L" if image.mode == "1" else "I")
    factor = max(image.size) // WORK_SIZE
    if factor >= 2:
        image = _reduce_in_strips(image, factor)
    image.thumbnail((WORK_SIZE, WORK_SIZE), Image.Resampling.LANCZOS)
    return image


def _reduce_in_strips(image: Image.Image, factor: int) -> Image.Image:
    """``image.reduce(factor)`` (a box filter), a band of rows at a time: reducing RGBA at
    once makes a premultiplied full-size copy, as large as the decoded image itself."""
    width, height = image.size
    out = Image.new(image.mode, (-(-width // factor), -(-height // factor)))
    rows = 64 * factor
    for top in range(0, height, rows):
        band = image.crop((0, top, width, min(top + rows, height)))
        out.paste(band.reduce(factor), (0, top // factor))
    return out


def _pil_to_rgba(image: Image.Image) -> np.ndarray:
    if image.width * image.height > MAX_PIXELS:
        raise ImageError(TOO_LARGE)
    image = _shrink(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return _array_to_rgba(np.asarray(image))
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode not in ("L", "LA", "RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.mode else "RGB")  # CMYK, 1, YCbCr, ...
    return _array_to_rgba(np.asarray(image))


def _array_to_rgba(a: np.ndarray) -> np.ndarray:
    if a.size == 0 or a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 2, 3, 4)):
        raise ImageError(f"Unsupported image array of shape {a.shape}: expected (H, W) or "
                         "(H, W, C) with 1 to 4 channels.")
    if a.shape[0] * a.shape[1] > MAX_PIXELS:
        raise ImageError(TOO_LARGE)
    if max(a.shape[:2]) > WORK_SIZE:
        a = _shrink_array(a)
    if a.dtype == np.uint8:
        x = a.astype(np.float32) / 255
    elif a.dtype == np.uint16 or (a.dtype.kind in "iu" and a.max(initial=0) > 255):
        x = a.astype(np.float32) / max(65535.0 if a.max(initial=0) > 255 else 255.0, 1.0)
    elif a.dtype == bool:
        x = a.astype(np.float32)
    else:
        x = np.nan_to_num(a.astype(np.float32))
        if x.max(initial=0) > 1.0:  # floats in 0..255
            x = x / 255
    x = np.clip(x, 0, 1)
    if x.ndim == 2:
        x = x[..., None]
    channels = x.shape[2]
    gray_alpha = channels in (1, 2)
    rgb = np.repeat(x[..., :1], 3, axis=2) if gray_alpha else x[..., :3]
    alpha = x[..., -1:] if channels in (2, 4) else np.ones_like(x[..., :1])
    return np.concatenate([rgb, alpha], axis=2)


def _shrink_array(a: np.ndarray) -> np.ndarray:
    """A large array at the working size, before it is converted to float: 8-bit images
    through PIL (anti-aliased), anything else by taking every k-th pixel."""
    if a.dtype == np.uint8:
        image = Image.fromarray(np.ascontiguousarray(a[..., 0] if a.ndim == 3 and a.shape[2] == 1
                                                     else a))
        image.thumbnail((WORK_SIZE, WORK_SIZE), Image.Resampling.LANCZOS, reducing_gap=3.0)
        return np.asarray(image)
    k = int(np.ceil(max(a.shape[:2]) / WORK_SIZE))
    return a[::k, ::k]


# ---------------------------------------------------------------- shared helpers

def _luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _border(a: np.ndarray) -> np.ndarray:
    w = max(1, min(a.shape[:2]) // 20)
    return np.concatenate([a[:w].reshape(-1, *a.shape[2:]), a[-w:].reshape(-1, *a.shape[2:]),
                           a[:, :w].reshape(-1, *a.shape[2:]), a[:, -w:].reshape(-1, *a.shape[2:])])


def _has_transparency(rgba: np.ndarray) -> bool:
    return bool(rgba[..., 3].min() < 0.98)


def _over_white(rgba: np.ndarray) -> np.ndarray:
    a = rgba[..., 3:]
    return rgba[..., :3] * a + (1 - a)


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if len(rows) == 0:
        return None
    return rows[0], rows[-1] + 1, cols[0], cols[-1] + 1


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)


def _passthrough(rgba: np.ndarray) -> np.ndarray | None:
    """A 28x28 opaque image that is already light-on-dark, as uint8, else None."""
    if rgba.shape[:2] != (28, 28) or _has_transparency(rgba):
        return None
    gray = _luminance(rgba[..., :3])
    if np.median(_border(gray)) > 0.65:  # the brightest dataset border measured 0.63
        return None
    return _to_uint8(gray)


def _dilate(x: np.ndarray, radius: int) -> np.ndarray:
    t = torch.from_numpy(np.ascontiguousarray(x))[None, None]
    return F.max_pool2d(t, 2 * radius + 1, stride=1, padding=radius)[0, 0].numpy()


# ---------------------------------------------------------------- digits

def ink_map(rgba: np.ndarray) -> np.ndarray:
    """Ink strength in [0, 1] (H, W): the alpha of a drawing on a transparent canvas, or the
    luminance's distance from the paper for opaque images, whatever their polarity."""
    if _has_transparency(rgba):
        alpha = rgba[..., 3]
        # ink drawn on transparency: alpha is the ink (a light stroke on a transparent
        # canvas counts as ink just the same); flattened drawings fall to the luminance path
        return np.clip(alpha, 0, 1).astype(np.float32)
    gray = _luminance(rgba[..., :3])
    paper = float(np.median(_border(gray)))
    ink = paper - gray if paper > 0.5 else gray - paper  # dark on light, or light on dark
    return np.clip(ink, 0, 1).astype(np.float32)


def _clean(ink: np.ndarray) -> np.ndarray:
    """Subtract the paper's noise level and stretch the strongest ink to 1."""
    noise = float(np.percentile(_border(ink), 95))
    top = float(np.percentile(ink, 99.9))
    if top - noise < 0.12 or ink.max() < 0.15:
        raise BlankImageError("Draw a digit first: no ink found in this image.")
    cleaned = np.clip((ink - noise - 0.08 * (top - noise)) / (0.85 * (top - noise)), 0, 1)
    return cleaned.astype(np.float32)


def _stroke_width(mask: np.ndarray) -> float:
    """Approximate stroke width in pixels: twice the erosions a stroke survives."""
    t = torch.from_numpy(mask.astype(np.float32))[None, None]
    total, steps = float(t.sum()), 0
    while float(t.sum()) > 0.1 * total and steps < 200:
        t = -F.max_pool2d(-t, 3, stride=1, padding=1)
        steps += 1
    return 2.0 * steps


def _resize(a: np.ndarray, width: int, height: int) -> np.ndarray:
    """Anti-aliased (Lanczos) resize of a float image."""
    image = Image.fromarray(a.astype(np.float32))
    return np.asarray(image.resize((max(1, width), max(1, height)), Image.Resampling.LANCZOS))


def prepare_digit(rgba: np.ndarray) -> np.ndarray:
    """MNIST's own procedure: crop to the ink, fit in 20x20 (aspect kept, anti-aliased),
    then centre the centre of mass in 28x28. Returns uint8 (28, 28), ink bright."""
    ink = _clean(ink_map(rgba))
    box = _bbox(ink > 0.1)
    if box is None:
        raise BlankImageError("Draw a digit first: no ink found in this image.")
    r0, r1, c0, c1 = box
    ink = ink[r0:r1, c0:c1]
    # Work at twice the final size (a 40 px box): strokes thinner than ~3.6 px there
    # (1.8 px in the final 20 px box) would fade to grey, so they are thickened first.
    scale = 40 / max(ink.shape)
    ink = _stretch(_resize(ink, round(ink.shape[1] * scale), round(ink.shape[0] * scale)))
    width = _stroke_width(ink > 0.5)
    if width < 3.6:
        radius = int(np.ceil((3.6 - width) / 2))
        ink = _dilate(np.pad(ink, radius), radius)
        box = _bbox(ink > 0.1)
        ink = ink[box[0]:box[1], box[2]:box[3]]
    scale = 20 / max(ink.shape)
    small = _stretch(_resize(ink, round(ink.shape[1] * scale), round(ink.shape[0] * scale)))
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
    return _to_uint8(canvas)


# ---------------------------------------------------------------- clothing

def _largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 8-connected region of a boolean mask (label propagation by max-pooling)."""
    h, w = mask.shape
    labels = torch.arange(1, h * w + 1, dtype=torch.float32).reshape(1, 1, h, w)
    m = torch.from_numpy(mask)[None, None]
    labels = torch.where(m, labels, torch.zeros_like(labels))
    for _ in range(h + w):
        grown = torch.where(m, F.max_pool2d(labels, 3, stride=1, padding=1), labels)
        if torch.equal(grown, labels):
            break
        labels = grown
    ids, counts = labels[m].unique(return_counts=True)
    return (labels == ids[counts.argmax()])[0, 0].numpy() if len(ids) else mask


def prepare_clothing_v1(rgba: np.ndarray) -> np.ndarray:
    """The first recipe, kept to compare with: the item is whatever differs from the border's
    median colour (it fails on textured or coloured backgrounds). uint8 (28, 28)."""
    rgb = _over_white(rgba) if _has_transparency(rgba) else rgba[..., :3]
    # Find the item on a copy at most 160 px across (speed); crop the full image.
    step = max(1, int(np.ceil(max(rgb.shape[:2]) / 160)))
    small = rgb[::step, ::step]
    background = np.median(_border(small), axis=0)  # (3,)
    distance = np.abs(small - background).max(axis=2)
    mask = distance > max(0.08, 3 * float(np.percentile(_border(distance), 90)))
    if mask.mean() < 0.002:
        raise BlankImageError("No item found: the image looks empty. Upload a photo of one "
                              "piece of clothing on a plain background.")
    mask = _largest_component(_dilate(mask.astype(np.float32), 2) > 0)
    r0, r1, c0, c1 = (v * step for v in _bbox(mask))
    crop = rgb[r0:r1, c0:c1]
    gray = _luminance(crop)
    bg_gray = float(_luminance(background[None, None])[0, 0])
    item = bg_gray - gray if bg_gray > 0.5 else gray - bg_gray  # background -> 0
    item = np.clip(item, 0, 1)
    h, w = item.shape
    side = max(h, w)
    square = np.zeros((side, side), np.float32)
    square[(side - h) // 2:(side - h) // 2 + h, (side - w) // 2:(side - w) // 2 + w] = item
    small28 = np.clip(_resize(square, 28, 28), 0, None)
    top = float(np.percentile(small28, 99.5))
    if top < 0.04:
        raise BlankImageError("No item found: the image has almost no contrast.")
    return _to_uint8(np.clip(small28 / top, 0, 1))


def garment_mask(rgb: np.ndarray) -> np.ndarray:
    """Where the garment is in a photo (H, W, 3) in [0, 1]: boolean (H, W).

    GrabCut (colour models of the garment and of its surroundings, refined with a graph
    cut) seeded with a rectangle just inside the border, at most MASK_SIZE px across; then
    the largest region (one shoe of a pair), with its holes filled. A photo where that finds
    almost nothing falls back to the border-colour difference, then to the whole frame.
    """
    import cv2

    h, w = rgb.shape[:2]
    scale = min(1.0, MASK_SIZE / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(_to_uint8(rgb)[..., ::-1], size, interpolation=cv2.INTER_AREA)  # BGR
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
    found = _fill_holes(_largest_region(found))
    full = cv2.resize(found.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
    return full.astype(bool)


def _border_difference(rgb: np.ndarray) -> np.ndarray:
    background = np.median(_border(rgb), axis=0)  # (3,)
    distance = np.abs(rgb - background).max(axis=2)
    return distance > max(0.08, 3 * float(np.percentile(_border(distance), 90)))


def _largest_region(mask: np.ndarray) -> np.ndarray:
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), 8)
    if count <= 1:
        return mask
    return labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """``mask`` with every region that the outside cannot reach filled in."""
    import cv2

    outside = np.pad(mask.astype(np.uint8), 1)
    cv2.floodFill(outside, None, (0, 0), 2)
    return outside[1:-1, 1:-1] != 2


def prepare_clothing(rgba: np.ndarray) -> np.ndarray:
    """A photo of a garment as Fashion-MNIST shows one (``clothing-photo-v2``): find the
    garment (``garment_mask``; the alpha channel where the image has one), crop to it, pad
    to a square, 28 px, grayscale and inverted so the background is black and dark cloth
    bright, contrast stretched. uint8 (28, 28)."""
    return clothing_steps(rgba)["seen"]


def clothing_steps(rgba: np.ndarray) -> dict[str, np.ndarray]:
    """What ``prepare_clothing`` does, step by step, to show users: ``mask`` (H, W) bool,
    ``box`` (top, bottom, left, right), ``crop`` (the item on black, float) and ``seen``."""
    if _has_transparency(rgba):
        rgb, mask = _over_white(rgba), rgba[..., 3] > 0.5
    else:
        rgb = rgba[..., :3]
        if _is_featureless(rgb):
            raise BlankImageError("No item found: the image is one even colour. Upload a "
                                  "photo of one piece of clothing.")
        mask = garment_mask(rgb)
    box = _bbox(mask)
    if box is None:
        raise BlankImageError("No item found: the image is transparent everywhere.")
    r0, r1, c0, c1 = box
    inside = mask[r0:r1, c0:c1]
    square = _square(np.where(inside, 1.0 - _luminance(rgb[r0:r1, c0:c1]), 0.0))
    small28 = _area_resize(square, 28)
    top = float(np.percentile(small28, 99.5))
    if top < 0.04:  # a white garment: nearly black once inverted; show its shape instead
        small28, top = _area_resize(_square(inside), 28), 1.0
    seen = _to_uint8(np.clip(small28 / top, 0, 1))
    return {"photo": rgb, "mask": mask, "box": np.array(box), "seen": seen}


def step_pictures(steps: dict) -> list[tuple[np.ndarray, str]]:
    """What users see of ``clothing_steps``: the photo with the garment outlined, the
    garment cut out, and the 28x28 image the model saw; RGB uint8 with captions."""
    import cv2

    photo = _to_uint8(steps["photo"])
    mask = steps["mask"].astype(np.uint8)
    outlined = np.ascontiguousarray(photo.copy())
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    thickness = max(2, max(mask.shape) // 150)
    cv2.drawContours(outlined, contours, -1, (255, 0, 200), thickness)
    r0, r1, c0, c1 = steps["box"]
    cut = np.where(mask[r0:r1, c0:c1, None] > 0, photo[r0:r1, c0:c1], 0).astype(np.uint8)
    seen = np.asarray(Image.fromarray(steps["seen"]).resize((224, 224), Image.Resampling.NEAREST))
    return [(outlined, "1. the garment found in the photo"),
            (cut, "2. cut out and cropped"),
            (np.repeat(seen[..., None], 3, axis=2), "3. what the model sees (28x28)")]


def _is_featureless(rgb: np.ndarray) -> bool:
    """No object at all: averaged over 8x8-pixel blocks (which removes sensor noise), the
    whole image stays within a few percent of one brightness."""
    import cv2

    h, w = rgb.shape[:2]
    coarse = cv2.resize(_luminance(rgb), (max(1, w // 8), max(1, h // 8)),
                        interpolation=cv2.INTER_AREA)
    return float(np.percentile(coarse, 99.5) - np.percentile(coarse, 0.5)) < 0.06


def _area_resize(a: np.ndarray, side: int) -> np.ndarray:
    """A float square to ``side`` px by averaging (no ringing into the black margin)."""
    import cv2

    return np.clip(cv2.resize(a.astype(np.float32), (side, side),
                              interpolation=cv2.INTER_AREA), 0, None)


def _square(a: np.ndarray) -> np.ndarray:
    """``a`` (float) centred on a black square."""
    h, w = a.shape
    side = max(h, w)
    out = np.zeros((side, side), np.float32)
    out[(side - h) // 2:(side - h) // 2 + h, (side - w) // 2:(side - w) // 2 + w] = a
    return out


# ---------------------------------------------------------------- entry point

# Each checkpoint names the recipe its inputs were made with (config "preprocess");
# checkpoints from before that field get their dataset's default.
RECIPES = {"digit-v1": prepare_digit, "clothing-photo-v2": prepare_clothing,
           "clothing-v1": prepare_clothing_v1}
DEFAULT_RECIPE = {"mnist": "digit-v1", "fashion-mnist": "clothing-photo-v2"}


def recipe_for(config: dict) -> str:
    """The preprocessing recipe a checkpoint config asks for."""
    recipe = config.get("preprocess") or DEFAULT_RECIPE.get(config.get("dataset"))
    if recipe not in RECIPES:
        raise ValueError(f"unknown preprocessing recipe {recipe!r}; known: {sorted(RECIPES)}")
    return recipe


def prepare(image, recipe: str) -> np.ndarray:
    """Any supported input -> uint8 (28, 28), background 0, made by ``recipe`` (a name in
    RECIPES, or a dataset name for its default recipe)."""
    return _prepare(load_rgba(image), _recipe(recipe))


def prepare_steps(image, recipe: str) -> tuple[np.ndarray, list[tuple[np.ndarray, str]]]:
    """``prepare``, plus the pictures of its steps for a clothing photo (else no pictures),
    from one pass over the image."""
    recipe, rgba = _recipe(recipe), load_rgba(image)
    if recipe != "clothing-photo-v2" or _passthrough(rgba) is not None:
        return _prepare(rgba, recipe), []
    steps = clothing_steps(rgba)
    return steps["seen"], step_pictures(steps)


def _recipe(recipe: str) -> str:
    recipe = DEFAULT_RECIPE.get(recipe, recipe)
    if recipe not in RECIPES:
        raise ValueError(f"unknown preprocessing recipe {recipe!r}; known: {sorted(RECIPES)}")
    return recipe


def _prepare(rgba: np.ndarray, recipe: str) -> np.ndarray:
    passed = _passthrough(rgba)
    if passed is not None:
        if passed.max() < 30:
            raise BlankImageError("Draw a digit first: the image is blank."
                                  if recipe.startswith("digit") else
                                  "No item found: the image is blank.")
        return passed
    return RECIPES[recipe](rgba)
