"""Turning images into the tensor a model expects.

``normalize`` is the single normalisation path: training, evaluation and the app all call it
with the checkpoint's own mean/std (stored in its config).
"""
from __future__ import annotations

import numpy as np
import torch


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
