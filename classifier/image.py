"""Reading any user image: files, bytes, PIL images, numpy arrays and Sketchpad dicts, as
RGBA floats no larger than the working size. Untrusted bytes are decoded here and nowhere
else; the pixel maths every recipe shares is in ``classifier.pixels``.

    rgba = load_rgba("photo.jpg")   # float32 (H, W, 4) in [0, 1], H and W <= WORK_SIZE
    png = data_url_bytes("data:image/png;base64,...")   # a browser canvas, as bytes
"""
from __future__ import annotations

import base64
import binascii
import io
import os

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 40_000_000  # refuse decompression bombs long before they exhaust memory
# Every image is reduced to at most this many pixels across before any float copy is made:
# ample for a 20 px digit box or a 28 px garment, and it bounds the memory of one request.
WORK_SIZE = 1024
NOT_AN_IMAGE = ("This file is not an image that can be read (it may be corrupt, or of an "
                "unsupported type).")
TOO_LARGE = f"This image is too large to process (over {MAX_PIXELS // 1_000_000} megapixels)."
HEIC = ("This is an HEIC photo, the iPhone's own format, which this app cannot read: export "
        "or share it as JPEG (or take a screenshot of it) and upload that.")
HEIC_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")


class ImageError(ValueError):
    """An input that cannot be turned into a model input; the message is meant for users."""


class BlankImageError(ImageError):
    """Nothing to classify: an empty canvas or an image without a discernible object."""


# A 280x280 drawing is a few kilobytes as a PNG; anything near this is not a drawing.
MAX_DATA_URL_CHARS = 2_000_000
DATA_URL_PREFIXES = ("data:image/png;base64,", "data:image/jpeg;base64,",
                     "data:image/webp;base64,")


def data_url_bytes(value: str, max_chars: int = MAX_DATA_URL_CHARS) -> bytes:
    """The image bytes of a ``data:image/...;base64,`` URL, as a browser canvas gives it
    (``canvas.toDataURL()``) or an API caller sends it. Only such URLs are accepted: never a
    path, so a caller that sends a string can make the server read nothing but the bytes it
    sent. Longer than ``max_chars``: refused before any decoding."""
    if not isinstance(value, str) or not value.startswith(DATA_URL_PREFIXES):
        raise ImageError("An image must come as a data:image/png;base64 URL "
                         "(or image/jpeg, image/webp).")
    if len(value) > max_chars:
        size = f"{max_chars / 1e6:g} MB" if max_chars >= 1e6 else f"{max_chars // 1000} kB"
        raise ImageError(f"This image is too large (a data URL of over {size}).")
    try:
        return base64.b64decode(value.partition(",")[2], validate=True)
    except (binascii.Error, ValueError) as err:
        raise ImageError(NOT_AN_IMAGE) from err


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
        raise ImageError(HEIC if _is_heic(source) else NOT_AN_IMAGE) from err


def _is_heic(source) -> bool:
    """Whether a file Pillow cannot open is an HEIC/HEIF photo (an ISO box whose ``ftyp``
    names an HEIF brand), which phones save and Pillow does not decode."""
    try:
        if isinstance(source, bytes):
            head = source[:12]
        else:
            with open(source, "rb") as f:
                head = f.read(12)
    except OSError:
        return False
    return head[4:8] == b"ftyp" and head[8:12] in HEIC_BRANDS


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
