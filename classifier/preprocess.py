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

from dataclasses import dataclass

import numpy as np
import torch

from classifier.datasets import DATASETS
from classifier.image import MAX_PIXELS, WORK_SIZE, BlankImageError, ImageError, load_rgba
from classifier.pixels import passthrough
from classifier.recipes import RECIPES, Recipe

__all__ = ["MAX_PIXELS", "WORK_SIZE", "BlankImageError", "ImageError", "Prepared", "Recipe",
           "RECIPES", "load_rgba", "normalize", "prepare", "prepare_steps", "prepared",
           "recipe_for", "recipe_named"]


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


def recipe_named(name: str | Recipe) -> Recipe:
    """A recipe by its name, or by a dataset's name for that dataset's default."""
    if isinstance(name, Recipe):
        return name
    name = DATASETS[name].recipe if name in DATASETS else name
    if name not in RECIPES:
        raise ValueError(f"unknown preprocessing recipe {name!r}; known: {sorted(RECIPES)}")
    return RECIPES[name]


def recipe_for(config: dict) -> Recipe:
    """The preprocessing recipe a checkpoint config asks for; checkpoints from before the
    config named one get their dataset's default."""
    return recipe_named(config.get("preprocess") or config.get("dataset"))


@dataclass
class Prepared:
    """One image through a recipe, once: what the model sees and what else was made on the way."""
    seen: np.ndarray          # uint8 (28, 28), background 0
    steps: list               # [(picture, caption)] of how a photo was read, else []
    ink: np.ndarray | None    # a drawing's cleaned ink (H, W), for recipes that read ink


def prepared(rgba: np.ndarray, recipe: Recipe, steps: bool = False) -> Prepared:
    """``rgba`` (decoded) through ``recipe``. An image that already looks like a dataset
    image passes unchanged; ``steps``: also the pictures of a photo's steps."""
    passed = passthrough(rgba)
    if passed is not None:
        if passed.max() < 30:
            raise BlankImageError(recipe.blank)
        return Prepared(passed, [], None)
    if recipe.ink is not None:
        ink = recipe.ink(rgba)
        return Prepared(recipe.from_ink(ink), [], ink)
    if steps and recipe.steps is not None:
        return Prepared(*recipe.steps(rgba), None)
    return Prepared(recipe.prepare(rgba), [], None)


def prepare(image, recipe: str | Recipe) -> np.ndarray:
    """Any supported input -> uint8 (28, 28), background 0, made by ``recipe`` (a Recipe, a
    name in RECIPES, or a dataset name for its default recipe)."""
    return prepared(load_rgba(image), recipe_named(recipe)).seen


def prepare_steps(image, recipe: str | Recipe) -> tuple[np.ndarray, list[tuple[np.ndarray, str]]]:
    """``prepare``, plus the pictures of its steps for a clothing photo (else no pictures),
    from one pass over the image."""
    p = prepared(load_rgba(image), recipe_named(recipe), steps=True)
    return p.seen, p.steps
