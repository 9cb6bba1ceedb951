"""The preprocessing recipes: how a user's image becomes a model's 28x28 input, and what
follows from the kind of input it makes. A checkpoint names its recipe (config
``"preprocess"``); code asks the recipe, never its name.

    recipe = RECIPES["digit-v1"]
    recipe.prepare(load_rgba("seven.png"))      # uint8 (28, 28), ink bright
    recipe.reads_numbers                        # True: a drawing may hold several digits
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from classifier.clothing import clothing_steps, prepare_clothing, prepare_clothing_v1, step_pictures
from classifier.digits import clean_ink, mnist_digit, prepare_digit


@dataclass(frozen=True)
class Recipe:
    name: str                                   # what a checkpoint's config records
    prepare: Callable[[np.ndarray], np.ndarray]  # decoded RGBA -> uint8 (28, 28), background 0
    blank: str                                  # what users read when a 28x28 image is empty
    ink: Callable | None = None                 # RGBA -> cleaned ink (H, W), for drawn input
    from_ink: Callable | None = None            # that ink -> uint8 (28, 28): prepare, split in two
    reads_numbers: bool = False                 # a drawing of several digits is read as a number
    loop_rule: bool = False                     # flag a mark inside a loop: no digit has one
    steps: Callable | None = None               # RGBA -> (uint8 28x28, [(picture, caption)])

    def __str__(self) -> str:
        return self.name


def _photo_steps(rgba: np.ndarray) -> tuple[np.ndarray, list]:
    steps = clothing_steps(rgba)
    return steps["seen"], step_pictures(steps)


DIGIT = Recipe("digit-v1", prepare_digit, "Draw a digit first: the image is blank.",
               ink=clean_ink, from_ink=mnist_digit, reads_numbers=True, loop_rule=True)
CLOTHING_PHOTO = Recipe("clothing-photo-v2", prepare_clothing,
                        "No item found: the image is blank.", steps=_photo_steps)
# The first clothing recipe (a border-colour threshold), kept so older checkpoints load.
CLOTHING_V1 = Recipe("clothing-v1", prepare_clothing_v1, "No item found: the image is blank.")

RECIPES = {r.name: r for r in (DIGIT, CLOTHING_PHOTO, CLOTHING_V1)}
