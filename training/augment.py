"""Batch augmentation that runs on the training device, on float images in [0, 1].

Digits get small affine moves and bolder or thinner strokes (no flips: a mirrored 2 is not
a 2). Clothing gets horizontal flips (a mirrored shoe is still a shoe), small affine moves
and random erasing.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from classifier.datasets import DATASETS


def random_affine(x: torch.Tensor, degrees: float, translate: float, scale: float) -> torch.Tensor:
    """Rotate by up to ``degrees``, shift by up to ``translate`` of the size, zoom by
    1 +- ``scale``."""
    n = x.shape[0]
    dev = x.device
    angle = (torch.rand(n, device=dev) * 2 - 1) * math.radians(degrees)
    zoom = 1 + (torch.rand(n, device=dev) * 2 - 1) * scale
    shift = (torch.rand(n, 2, device=dev) * 2 - 1) * translate * 2  # grid units span 2
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)  # (N, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="zeros", align_corners=False)


def random_erase(x: torch.Tensor, p: float, max_area: float = 0.2) -> torch.Tensor:
    """With probability ``p`` per image, blank a random rectangle of up to ``max_area``."""
    n, _, h, w = x.shape
    dev = x.device
    area = torch.rand(n, device=dev) * max_area * h * w
    aspect = torch.exp((torch.rand(n, device=dev) * 2 - 1) * math.log(3))
    eh = (area * aspect).sqrt().clamp(1, h)
    ew = (area / aspect).sqrt().clamp(1, w)
    top = torch.rand(n, device=dev) * (h - eh)
    left = torch.rand(n, device=dev) * (w - ew)
    rows = torch.arange(h, device=dev)[None, :, None]
    cols = torch.arange(w, device=dev)[None, None, :]
    box = ((rows >= top[:, None, None]) & (rows < (top + eh)[:, None, None])
           & (cols >= left[:, None, None]) & (cols < (left + ew)[:, None, None]))  # (N, H, W)
    box &= (torch.rand(n, device=dev) < p)[:, None, None]
    return x.masked_fill(box[:, None], 0.0)


def random_stroke_width(x: torch.Tensor, p_thick: float = 0.3, p_thin: float = 0.15):
    """Make strokes about a pixel bolder (2x2 max) or thinner (2x2 min) at random: people
    draw with thicker and thinner pens than MNIST's writers used."""
    r = torch.rand(x.shape[0], device=x.device)[:, None, None, None]
    padded = F.pad(x, (0, 1, 0, 1))
    thick = F.max_pool2d(padded, 2, stride=1)
    thin = -F.max_pool2d(-padded, 2, stride=1)
    return torch.where(r < p_thick, thick, torch.where(r < p_thick + p_thin, thin, x))


def augment(x: torch.Tensor, dataset: str, strength: str = "full",
            parts=None) -> torch.Tensor:
    """The augmentation for ``dataset``. ``light`` (for models without convolutions, which
    cannot learn invariance to large moves or occlusion) keeps flips and small shifts for
    clothing and small affine moves for digits; ``full`` adds rotation and zoom with random
    erasing for clothing, and random stroke width for digits; ``photo`` (clothing) is
    ``full`` after ``photo_style`` with ``parts`` (default all of PHOTO_PARTS)."""
    parts = PHOTO_PARTS if parts is None else parts
    if DATASETS[dataset].kind == "digits":  # no flips: a mirrored 2 is no digit
        x = random_affine(x, degrees=10, translate=0.08, scale=0.1)
        return random_stroke_width(x) if strength in ("full", "photo") else x
    flip = torch.rand(x.shape[0], device=x.device) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    if strength == "photo":
        x = photo_style(x, parts)
    if strength == "light":
        return random_affine(x, degrees=0, translate=0.04, scale=0.0)
    x = random_affine(x, degrees=5, translate=0.06, scale=0.08)
    return random_erase(x, p=0.5)


# What the photo recipe (clothing-photo-v2) makes of real photos that Fashion-MNIST lacks;
# ``photo_style`` applies each part at random. Measured one by one on the development
# photos with ``python -m benchmarks.photo_augment``.
PHOTO_PARTS = ("tone", "print", "blur", "warp", "mask")


def photo_style(x: torch.Tensor, parts=PHOTO_PARTS) -> torch.Tensor:
    """Clothing images made to look like the photo recipe's output: ``tone`` (gamma, flat
    or washed-out cloth), ``print`` (stripes, checks and blotches inside the garment),
    ``blur``, ``warp`` (rotation and perspective), ``mask`` (leftover background, holes,
    a hanger). Ends as the recipe does: contrast stretched so the brightest pixels are 1."""
    garment = F.max_pool2d((x > 0.02).float(), 3, stride=1, padding=1)  # (N, 1, H, W)
    if "warp" in parts:
        x = random_perspective(x, p=0.5, degrees=12, distortion=0.15)
        garment = (x > 0.02).float()
    if "print" in parts:
        x = random_print(x, garment, p=0.4)
    if "tone" in parts:
        x = random_tone(x, garment, p=0.7)
    if "mask" in parts:
        x = random_mask_faults(x, garment, p=0.4)
    if "blur" in parts:
        x = random_blur(x, p=0.3)
    return stretch(x)


def _chance(n: int, p: float, device) -> torch.Tensor:
    return (torch.rand(n, device=device) < p)[:, None, None, None]


def _uniform(n: int, lo: float, hi: float, device) -> torch.Tensor:
    return (lo + (hi - lo) * torch.rand(n, device=device))[:, None, None, None]


def stretch(x: torch.Tensor, q: float = 0.995) -> torch.Tensor:
    """Divide each image by its ``q`` quantile, as the photo recipe does, and clip to 1."""
    top = torch.quantile(x.flatten(1), q, dim=1).clamp_min(0.04)[:, None, None, None]
    return (x / top).clamp_(0, 1)


def random_perspective(x: torch.Tensor, p: float, degrees: float, distortion: float):
    """With probability ``p``: a rotation up to ``degrees`` and a perspective tilt (the
    projective terms up to ``distortion``), as a photo taken at an angle shows."""
    n, dev = x.shape[0], x.device
    angle = (torch.rand(n, device=dev) * 2 - 1) * math.radians(degrees)
    h = torch.zeros(n, 3, 3, device=dev)
    h[:, 0, 0], h[:, 0, 1] = torch.cos(angle), -torch.sin(angle)
    h[:, 1, 0], h[:, 1, 1] = torch.sin(angle), torch.cos(angle)
    h[:, 2, :2] = (torch.rand(n, 2, device=dev) * 2 - 1) * distortion
    h[:, 2, 2] = 1
    size = x.shape[-1]
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, size, device=dev),
                            torch.linspace(-1, 1, size, device=dev), indexing="ij")
    points = torch.stack([xs, ys, torch.ones_like(xs)], -1).reshape(-1, 3)  # (HW, 3)
    mapped = points @ h.transpose(1, 2)  # (N, HW, 3)
    grid = (mapped[..., :2] / mapped[..., 2:].clamp_min(0.2)).reshape(n, size, size, 2)
    warped = F.grid_sample(x, grid, padding_mode="zeros", align_corners=True)
    return torch.where(_chance(n, p, dev), warped, x)


def random_print(x: torch.Tensor, garment: torch.Tensor, p: float) -> torch.Tensor:
    """With probability ``p``: multiply the garment by a pattern: stripes at any angle,
    checks, or smooth blotches, at 30-80% depth."""
    n, _, hgt, wid = x.shape
    dev = x.device
    ys, xs = torch.meshgrid(torch.arange(hgt, device=dev, dtype=x.dtype),
                            torch.arange(wid, device=dev, dtype=x.dtype), indexing="ij")
    angle = torch.rand(n, device=dev)[:, None, None] * math.pi
    freq = (0.12 + 0.3 * torch.rand(n, device=dev))[:, None, None] * 2 * math.pi
    phase = torch.rand(n, device=dev)[:, None, None] * 2 * math.pi
    along = xs * torch.cos(angle) + ys * torch.sin(angle)
    across = -xs * torch.sin(angle) + ys * torch.cos(angle)
    stripes = 0.5 + 0.5 * torch.sin(freq * along + phase)
    checks = 0.5 + 0.5 * torch.sin(freq * along + phase) * torch.sin(freq * across)
    blotches = F.interpolate(torch.rand(n, 1, 6, 6, device=dev), size=(hgt, wid),
                             mode="bicubic", align_corners=False)[:, 0].clamp(0, 1)
    kind = torch.randint(0, 3, (n, 1, 1), device=dev)
    pattern = torch.where(kind == 0, stripes, torch.where(kind == 1, checks, blotches))
    pattern = (pattern > 0.5).to(x.dtype) * 0.7 + pattern * 0.3  # crisper, like printed cloth
    depth = _uniform(n, 0.3, 0.8, dev)
    printed = x * (1 - depth * garment * (1 - pattern[:, None]))
    return torch.where(_chance(n, p, dev), printed, x)


def random_tone(x: torch.Tensor, garment: torch.Tensor, p: float) -> torch.Tensor:
    """With probability ``p``: a gamma change (0.35-2) and a contrast change inside the
    garment (from nearly flat, as a plain dark garment becomes, to 1.3x)."""
    n, dev = x.shape[0], x.device
    gamma = torch.exp(_uniform(n, math.log(0.35), math.log(2.0), dev))
    y = x.clamp_min(1e-4) ** gamma * garment
    area = garment.sum((2, 3), keepdim=True).clamp_min(1)
    mean = (y * garment).sum((2, 3), keepdim=True) / area
    contrast = _uniform(n, 0.1, 1.3, dev)
    y = ((mean + contrast * (y - mean)).clamp(0.05, 1) * garment)
    return torch.where(_chance(n, p, dev), y, x)


def random_blur(x: torch.Tensor, p: float) -> torch.Tensor:
    """With probability ``p``: a Gaussian blur of sigma 0.4-1 px (a soft or shaken photo)."""
    n, dev = x.shape[0], x.device
    sigma = 0.4 + 0.6 * torch.rand(n, device=dev)
    taps = torch.arange(-2, 3, device=dev, dtype=x.dtype)
    k1 = torch.exp(-taps[None] ** 2 / (2 * sigma[:, None] ** 2))
    k1 = k1 / k1.sum(1, keepdim=True)  # (N, 5)
    kernels = (k1[:, :, None] * k1[:, None, :])[:, None]  # (N, 1, 5, 5)
    blurred = F.conv2d(x.transpose(0, 1), kernels, padding=2, groups=n).transpose(0, 1)
    return torch.where(_chance(n, p, dev), blurred, x)


def random_mask_faults(x: torch.Tensor, garment: torch.Tensor, p: float) -> torch.Tensor:
    """With probability ``p`` each: background left beside the garment (a dim band on one
    side), holes in it, and a hanger above it (the garment shrunk to make room, as the crop
    to a mask that includes the hanger does)."""
    n, _, hgt, wid = x.shape
    dev = x.device
    # leftover background: a ring 1-3 px wide around the garment, on one side only
    width = int(torch.randint(1, 4, ()).item())
    ring = F.max_pool2d(garment, 2 * width + 1, stride=1, padding=width) - garment
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, hgt, device=dev),
                            torch.linspace(-1, 1, wid, device=dev), indexing="ij")
    angle = torch.rand(n, device=dev)[:, None, None, None] * 2 * math.pi
    side = (xs * torch.cos(angle) + ys * torch.sin(angle) > 0).to(x.dtype)
    leftover = ring * side * _uniform(n, 0.1, 0.5, dev)
    x = torch.where(_chance(n, p, dev), torch.maximum(x, leftover), x)
    # holes: a few small blanked boxes
    holes = x
    for _ in range(3):
        holes = random_erase(holes, p=0.7, max_area=0.02)
    x = torch.where(_chance(n, p / 2, dev), holes, x)
    # hanger: shrink toward the bottom, then a hook and two shoulders in the freed top
    scale = _uniform(n, 0.72, 0.88, dev)[:, 0, 0, 0]
    theta = torch.zeros(n, 2, 3, device=dev)
    theta[:, 0, 0], theta[:, 1, 1] = 1 / scale, 1 / scale
    theta[:, 1, 2] = -(1 / scale - 1)  # keep the bottom edge where it was
    shrunk = F.grid_sample(x, F.affine_grid(theta, list(x.shape), align_corners=False),
                           padding_mode="zeros", align_corners=False)
    top = ((1 - scale) * hgt).round().long()[:, None, None, None]  # garment's new top row
    rows = torch.arange(hgt, device=dev)[None, None, :, None]
    cols = torch.arange(wid, device=dev)[None, None, None, :]
    centre = wid // 2 + torch.randint(-2, 3, (n, 1, 1, 1), device=dev)
    hook = (cols == centre) & (rows < top - 2)
    spread = (top - rows).clamp_min(0) * 3
    shoulders = ((cols - centre).abs() - (wid // 3 - spread)).abs() < 2
    shoulders &= (rows >= top - 3) & (rows < top)
    hanger = (hook | shoulders).to(x.dtype) * _uniform(n, 0.4, 1.0, dev)
    x = torch.where(_chance(n, p / 2, dev), torch.maximum(shrunk, hanger), x)
    return x
