"""Outlier exposure (Hendrycks et al., 2019): while training, the model also sees inputs that
are none of its classes and is taught to answer them with equal probabilities, so its
calibrated confidence drops on what it was not trained for.

The outliers are drawn here, never taken from a test set: random pen strokes and capital
and small letters in Pillow's built-in font, made 28x28 by the digit recipe the app uses
(bright strokes on black, as both datasets look); for digits, optionally also two training
digits that touch, squeezed into one image. Half of the letters that do not look like
digits are used; ``python -m benchmarks.ood`` measures the other half, in other fonts, and
shapes of a kind never trained on.
"""
from __future__ import annotations

import numpy as np
import torch

from classifier.preprocess import prepare
from training import synthetic

# Letters shown in training; the held-out half (PQRTUVWXYpqrtuvwxy) is only measured.
LETTERS = "ABCDEFGHJKLMNabcdefghjkmn"


def outlier_pool(n: int, seed: int = 0, canvas: int = 400) -> torch.Tensor:
    """``n`` uint8 outlier images (n, 28, 28): half scribbles, half letters."""
    rng = np.random.default_rng(seed)
    images = []
    for k in range(n):
        if k % 2:
            drawing = synthetic.letter(LETTERS[(k // 2) % len(LETTERS)], rng, canvas)
        else:
            drawing = synthetic.scribble(rng, canvas)
        images.append(prepare(drawing, "digit-v1"))
    return torch.as_tensor(np.stack(images))


def touching_pairs(images: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` uint8 outliers (n, 28, 28): two training digits whose ink touches
    (``synthetic.number``), made one 28x28 image by the app's recipe. Squeezed together
    they read confidently as one digit unless taught otherwise, and the number reader
    (``classifier/number.py``) then leaves them uncut: "91" read as 9."""
    rng = np.random.default_rng(seed + 100)  # a stream of its own beside the other outliers
    pairs = []
    for _ in range(n):
        i, j = rng.choice(len(images), 2)
        drawing = synthetic.number([images[i].numpy(), images[j].numpy()], rng, touching=True)
        pairs.append(prepare(drawing, "digit-v1"))
    return torch.as_tensor(np.stack(pairs))


def drawn_digits(images: torch.Tensor, labels: torch.Tensor, n: int, seed: int = 0):
    """(images, labels) of ``n`` of the training digits redrawn as the page's canvas sends
    them (``synthetic.sketch``: thick strokes, any size and place) and prepared by the app's
    recipe: what users send, learnt beside what MNIST holds."""
    rng = np.random.default_rng(seed)
    pick = torch.as_tensor(rng.choice(len(images), size=min(n, len(images)), replace=False))
    drawn = [prepare(synthetic.sketch(x, rng), "digit-v1") for x in images[pick].numpy()]
    return torch.as_tensor(np.stack(drawn)), labels[pick]


def uniform_loss(logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the logits against equal probabilities over the classes."""
    return -logits.float().log_softmax(1).mean(1).mean()
