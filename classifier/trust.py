"""Can you trust an explanation? Two checks of one attribution map, in plain numbers.

    check = check_explanation(load_model("mnist-cnn"), "seven.png", "saliency")
    check.deletion_drop      # how much the class's probability falls when the map's top 10%
    check.random_drop        # ... and when as many random ink pixels are blanked instead
    check.randomized_similarity   # rank correlation with the map of a destroyed model

- **Faithfulness** (the deletion test, Samek et al. 2017): blank the pixels the method ranks
  highest and see the class probability fall; blanking as many random pixels of the drawing
  itself is the yardstick. A map that points at what the model uses drops it further.
- **Sanity** (model randomisation, Adebayo et al. 2018, "Sanity checks for saliency maps"):
  the same method's map from a copy of the model whose weights are replaced by random ones,
  layer by layer from the top. A map that stays alike when the model is destroyed shows the
  input's edges, not the model's reasoning.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from classifier.explain import ExplainError, attribute, methods_for
from classifier.preprocess import normalize


@dataclass(frozen=True)
class Checks:
    fraction: float = 0.1       # the share of all 784 pixels blanked
    ink: int = 26               # a pixel of the drawing: at least this bright (of 255)
    random_draws: int = 16      # random blankings averaged
    cascade: int = 4            # the model destroyed in this many steps from the top
    seed: int = 0


CHECKS = Checks()
# images a map pass takes at once: Integrated Gradients runs 32 copies of each, and 50 images
# at EfficientNet-Lite0's 96 px held over 20 GB of activations
MAP_CHUNK = 8


@dataclass
class Trust:
    method: str
    target: str
    prob: float                       # the class's calibrated probability, input unchanged
    deletion_drop: float              # its fall when the map's top pixels are blanked
    random_drop: float                # its mean fall when as many random ink pixels are
    randomized_similarity: float      # Spearman correlation with the destroyed model's map
    cascade: list[tuple[str, float]]  # (layers randomised so far, correlation) top down

    @property
    def words(self) -> str:
        """The two figures in plain words, for the page."""
        better = self.deletion_drop - self.random_drop
        faithful = ("points at pixels the answer depends on" if better > 0.05 else
                    "points at pixels no more important than random ones of the drawing")
        sane = ("changes when the model is destroyed, so it reflects the model"
                if self.randomized_similarity < 0.5 else
                "barely changes when the model is destroyed: it mostly shows the input's "
                "shape, not the model's reasoning")
        return (f"**Faithfulness**: blanking the 10% of pixels it ranks highest drops "
                f"P({self.target}) by {self.deletion_drop:.0%}, blanking as many random ink "
                f"pixels by {self.random_drop:.0%}: the map {faithful}. **Sanity**: its rank "
                f"correlation with the same map from a model with random weights is "
                f"{self.randomized_similarity:.2f}: it {sane}.")


def check_explanation(clf, image, method: str = "saliency", target=None,
                      checks: Checks = CHECKS) -> Trust:
    """Both checks for one input (anything ``clf.preprocess`` takes) and one method, for
    ``target`` (default: the model's answer)."""
    reason = methods_for(clf).get(method, f"unknown method {method!r}")
    if reason:
        raise ExplainError(reason)
    seen = clf.seen(image)
    with clf.lock:
        index = clf.target_index(target, normalize(seen, clf.mean, clf.std))
        found = check_many(clf, seen[None], method, np.array([index]), checks)
    return Trust(method, clf.class_names[index], float(found["prob"][0]),
                 float(found["deletion_drop"][0]), float(found["random_drop"][0]),
                 float(found["randomized_similarity"][0]),
                 [(name, float(v[0])) for name, v in found["cascade"]])


def check_many(clf, seen: np.ndarray, method: str, targets: np.ndarray,
               checks: Checks = CHECKS) -> dict:
    """Both checks for a batch of prepared images (uint8 (N, 28, 28)) and their target
    classes: {"prob", "deletion_drop", "random_drop", "randomized_similarity": (N,),
    "cascade": [(layers randomised, (N,) correlations)], top down}."""
    x = normalize(seen, clf.mean, clf.std)
    heat = maps(clf, x, method, targets)
    prob, deleted, randomly = deletion(clf, seen, heat, targets, checks)
    cascade = [(name, np.array([spearman(a, b) for a, b in zip(heat, maps(twin, x, method,
                                                                            targets))]))
               for name, twin in destroyed(clf, checks)]
    last = cascade[-1][1] if cascade else np.full(len(seen), np.nan)
    return {"prob": prob, "deletion_drop": deleted, "random_drop": randomly,
            "randomized_similarity": last, "cascade": cascade}


def maps(clf, x: torch.Tensor, method: str, targets: np.ndarray) -> np.ndarray:
    """The method's raw maps (N, 28, 28), their positive part (what the overlay draws)."""
    target = torch.as_tensor(np.asarray(targets), dtype=torch.long)
    parts = [attribute(clf, x[i:i + MAP_CHUNK], method, target[i:i + MAP_CHUNK]).detach()
             for i in range(0, len(x), MAP_CHUNK)]
    return torch.cat(parts)[:, 0].clamp(min=0).numpy()


def deletion(clf, seen: np.ndarray, heat: np.ndarray, targets: np.ndarray,
             checks: Checks = CHECKS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(probability, its fall with each map's top pixels blanked, its mean fall with as many
    random ink pixels blanked), each (N,). Blanked means set to the background, 0."""
    n, k = len(seen), int(round(checks.fraction * 784))
    rng = np.random.default_rng(checks.seed)
    batch = []
    for image, h in zip(seen.reshape(n, 784), heat.reshape(n, 784)):
        top = image.copy()
        top[np.argsort(-h, kind="stable")[:k]] = 0
        ink = np.flatnonzero(image >= checks.ink)
        randoms = []
        for _ in range(checks.random_draws):
            r = image.copy()
            r[rng.permutation(ink)[:k]] = 0
            randoms.append(r)
        batch += [image, top, *randoms]
    rows = 2 + checks.random_draws
    p = clf.probabilities(normalize(np.stack(batch).reshape(-1, 28, 28), clf.mean, clf.std))
    p = p.numpy().reshape(n, rows, -1)[np.arange(n), :, np.asarray(targets)]  # (n, rows)
    return p[:, 0], p[:, 0] - p[:, 1], p[:, 0] - p[:, 2:].mean(1)


def destroyed(clf, checks: Checks = CHECKS) -> list[tuple[str, object]]:
    """Copies of ``clf`` whose layers are replaced by random weights (each tensor drawn with
    its own standard deviation), more of them at each of ``checks.cascade`` steps from the
    top, the last step all of them: [(which layers, the copy)]."""
    layers = [m for m in clf.model.modules() if _has_weight(m)][::-1]  # top first
    ends = sorted({max(1, round(len(layers) * (s + 1) / checks.cascade))
                   for s in range(checks.cascade)}) if layers else []
    out = []
    generator = torch.Generator().manual_seed(checks.seed)
    for end in ends:
        twin = copy.copy(clf)
        twin.model = copy.deepcopy(clf.model)
        chosen = {id(m) for m in layers[:end]}
        for original, copied in zip(clf.model.modules(), twin.model.modules()):
            if id(original) in chosen:
                _scramble(copied, generator)
        name = layers[end - 1].__class__.__name__
        out.append((f"top {end} of {len(layers)} layers (down to a {name})", twin))
    return out


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation of two maps, ties given their average rank; 0 when one is flat."""
    ra, rb = _ranks(a.ravel()), _ranks(b.ravel())
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = float(np.sqrt((ra ** 2).sum() * (rb ** 2).sum()))
    return float((ra * rb).sum() / denominator) if denominator > 0 else 0.0


def _ranks(v: np.ndarray) -> np.ndarray:
    order = np.argsort(v, kind="stable")
    ranks = np.empty(len(v), np.float64)
    ranks[order] = np.arange(len(v))
    _, inverse, counts = np.unique(v, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / counts)[inverse]


def _has_weight(m: nn.Module) -> bool:
    return isinstance(getattr(m, "weight", None), torch.Tensor) and m.weight.dim() > 0


@torch.no_grad()
def _scramble(m: nn.Module, generator: torch.Generator) -> None:
    for name in ("weight", "bias"):
        p = getattr(m, name, None)
        if isinstance(p, torch.Tensor) and p.numel():
            scale = float(p.float().std()) if p.numel() > 1 else float(p.abs().mean())
            p.copy_(torch.randn(p.shape, generator=generator) * max(scale, 1e-3))
