"""Batch augmentation that runs on the training device, on float images in [0, 1].

Digits get small affine moves and bolder or thinner strokes (no flips: a mirrored 2 is not
a 2). Clothing gets horizontal flips (a mirrored shoe is still a shoe), small affine moves
and random erasing.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def random_affine(x: torch.Tensor, degrees: float, translate: float, scale: float) -> torch.Tensor:
    """Rotate by up to ``degrees``, shift by up to ``translate`` of the size, zoom by 1 +- ``scale``."""
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


def augment(x: torch.Tensor, dataset: str, strength: str = "full") -> torch.Tensor:
    """The augmentation for ``dataset``. ``light`` (for models without convolutions, which
    cannot learn invariance to large moves or occlusion) keeps flips and small shifts for
    clothing and small affine moves for digits; ``full`` adds rotation and zoom with random
    erasing for clothing, and random stroke width for digits."""
    if dataset == "mnist":
        x = random_affine(x, degrees=10, translate=0.08, scale=0.1)
        return random_stroke_width(x) if strength == "full" else x
    flip = torch.rand(x.shape[0], device=x.device) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    if strength == "light":
        return random_affine(x, degrees=0, translate=0.04, scale=0.0)
    x = random_affine(x, degrees=5, translate=0.06, scale=0.08)
    return random_erase(x, p=0.5)
