"""Fool it: a small change to a model's 28x28 input that makes it answer something else, or
a class of your choosing. Projected gradient descent under an L-infinity budget (Madry et
al. 2018) on the prepared image, pixels in [0, 1], with a search for the smallest budget.

    result = fool(load_model("mnist-cnn"), "seven.png")       # any answer but its own
    result = fool(clf, "seven.png", target="1")               # make it say 1
    result.linf, result.l2, result.image                       # the change, the new 28x28

The search tries every budget of ``Attack.budgets`` at once (one batch), then the budgets
between the largest that failed and the smallest that worked, and keeps the smallest change
that flipped the answer. The loss is the margin between the class to leave (or to reach) and
the best other class, so a linear model is flipped exactly at its closed-form budget.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from classifier.image import ImageError
from classifier.pixels import to_uint8
from classifier.preprocess import normalize


@dataclass(frozen=True)
class Attack:
    budgets: tuple = (0.02, 0.04, 0.07, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5)  # at once
    refine: int = 6             # budgets tried between the last failure and the first success
    steps: int = 20             # gradient steps per budget
    step_scale: float = 2.5     # each step moves step_scale * budget / steps
    max_seconds: float = 10.0   # a request never runs longer than this
    quantize: bool = True       # judge the change as a PNG holds it: whole 8-bit levels


ATTACK = Attack()


class AttackTimeout(ImageError):
    """The attack ran out of its time budget; the message is meant for users."""


@dataclass
class Fooled:
    """What ``fool`` found. ``label`` is None when no budget changed the answer."""
    original: str               # the model's answer for the unchanged input
    original_prob: float
    target: str | None          # the class asked for, or None for any other
    label: str | None           # the answer for the changed input
    prob: float | None          # its calibrated probability
    linf: float                 # largest pixel change, 0-1 scale
    l2: float                   # the change's Euclidean length, 0-1 scale per pixel
    budget: float | None        # the L-inf budget the search stopped at
    seen: np.ndarray            # uint8 (28, 28): the input before
    image: np.ndarray           # uint8 (28, 28): the input after
    delta: np.ndarray           # float (28, 28): after - before, in [-1, 1]
    seconds: float

    @property
    def flipped(self) -> bool:
        return self.label is not None


def fool(clf, image, target: int | str | None = None, attack: Attack = ATTACK) -> Fooled:
    """The smallest change found (largest pixel change) that makes ``clf`` answer something
    other than its own answer, or ``target``. ``image``: anything ``clf.preprocess`` takes,
    or a prepared uint8 28x28."""
    start = time.perf_counter()
    deadline = start + attack.max_seconds
    seen = clf.seen(image)
    x = torch.from_numpy(seen.astype(np.float32) / 255)
    with clf.lock:
        probs = clf.probabilities(normalize(x, clf.mean, clf.std))[0]
        original = int(probs.argmax())
        goal = None if target in (None, "") else clf.target_index(target, x)
        if goal == original:
            raise ImageError(f"{clf.name} already answers {clf.class_names[goal]}: pick "
                             "another class to reach.")
        budgets = torch.tensor(attack.budgets, dtype=torch.float32)
        adv, ok = _pgd(clf, x, budgets, original, goal, attack, deadline)
        if ok.any():
            k = int(ok.float().argmax())  # the smallest budget that worked
            low = float(budgets[k - 1]) if k else 0.0
            finer = torch.linspace(low, float(budgets[k]), attack.refine + 2)[1:-1]
            fine, fine_ok = _pgd(clf, x, finer, original, goal, attack, deadline)
            if fine_ok.any():
                j = int(fine_ok.float().argmax())
                best, budget = fine[j], float(finer[j])
            else:
                best, budget = adv[k], float(budgets[k])
            after = clf.probabilities(normalize(best, clf.mean, clf.std))[0]
            label, prob = clf.class_names[int(after.argmax())], float(after.max())
        else:
            best, budget, label, prob = adv[-1], float(budgets[-1]), None, None
    changed = to_uint8(best.numpy())  # what the page shows and an API caller gets back
    delta = (best - x).numpy()
    return Fooled(clf.class_names[original], float(probs[original]),
                  None if goal is None else clf.class_names[goal], label, prob,
                  float(np.abs(delta).max()), float(np.linalg.norm(delta)), budget, seen,
                  changed, delta, time.perf_counter() - start)


def _pgd(clf, x: torch.Tensor, budgets: torch.Tensor, original: int, goal: int | None,
         attack: Attack, deadline: float) -> tuple[torch.Tensor, torch.Tensor]:
    """PGD from the unchanged image for each budget at once: (changed images (B, 28, 28),
    whether each one's answer flipped (B,))."""
    n = len(budgets)
    base = x.expand(n, 28, 28)
    eps = budgets.view(n, 1, 1)
    step = attack.step_scale * eps / attack.steps
    delta = torch.zeros_like(base)
    for _ in range(attack.steps):
        if time.perf_counter() > deadline:
            raise AttackTimeout(f"No change found within {attack.max_seconds:g} s.")
        delta.requires_grad_(True)
        loss = _margin(clf.model(normalize(base + delta, clf.mean, clf.std)), original, goal)
        grad, = torch.autograd.grad(loss.sum(), delta)
        with torch.no_grad():
            delta = (delta - step * grad.sign()).clamp(-eps, eps)
            delta = (base + delta).clamp(0, 1) - base
    with torch.no_grad():
        adv = base + delta
        if attack.quantize:
            adv = torch.round(adv * 255) / 255
        answer = clf.model(normalize(adv, clf.mean, clf.std)).argmax(1)
    ok = answer != original if goal is None else answer == goal
    return adv, ok


def _margin(logits: torch.Tensor, original: int, goal: int | None) -> torch.Tensor:
    """What the attack lowers: the class to leave over the best other one, or the best other
    class over the class to reach."""
    keep = original if goal is None else goal
    others = logits.clone()
    others[:, keep] = -torch.inf
    best_other = others.max(1).values
    return logits[:, keep] - best_other if goal is None else best_other - logits[:, keep]
