"""Turning any user image into the 28x28 image a model expects, and that image into a tensor.

    digit = prepare(Image.open("photo.jpg"), "digit-v1")     # uint8 (28, 28), ink bright
    x = normalize(digit, mean, std)                          # float (1, 1, 28, 28)

``prepare`` takes a path, bytes, a PIL image (any mode; EXIF orientation honoured), a numpy
array (uint8, uint16 or float; gray, gray+alpha, RGB, RGBA) or the dict Gradio's Sketchpad
sends (``classifier.image``), and follows the recipe the checkpoint names:

- ``digit-v1`` (``classifier.digits``): extract the ink, crop to it, thicken strokes that
  would vanish, fit it into 20x20 keeping the aspect ratio, centre its centre of mass;
- ``clothing-photo-v2`` (``classifier.clothing``): find the garment with GrabCut, crop, pad
  to a square, 28 px, grayscale, inverted so the background is black, contrast stretched;
- ``clothing-v1``: the earlier border-colour threshold, kept to compare with.

Images that already look like dataset images (28x28, light on dark) pass through unchanged.
``normalize`` is the single normalisation path: training, evaluation and serving all call
it with the checkpoint's own mean/std.
"""
from __future__ import annotations

import numpy as np
import torch

from classifier.clothing import clothing_steps, prepare_clothing, prepare_clothing_v1, step_pictures
from classifier.datasets import DATASETS
from classifier.digits import prepare_digit
from classifier.image import (MAX_PIXELS, WORK_SIZE, BlankImageError, ImageError,  # noqa: F401
                              _passthrough, load_rgba)


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


# Each checkpoint names the recipe its inputs were made with (config "preprocess");
# checkpoints from before that field get their dataset's default.
RECIPES = {"digit-v1": prepare_digit, "clothing-photo-v2": prepare_clothing,
           "clothing-v1": prepare_clothing_v1}
DEFAULT_RECIPE = {name: d.recipe for name, d in DATASETS.items()}


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
