"""Fool it and can-you-trust-it, on models whose answers are known in closed form."""
import numpy as np
import pytest
import torch

from classifier.attack import Attack, AttackTimeout, fool
from classifier.models import LogisticRegression
from classifier.predict import Classifier
from classifier.trust import Checks, check_explanation, spearman


def linear(num_classes: int = 2, seed: int = 0) -> Classifier:
    torch.manual_seed(seed)
    model = LogisticRegression(num_classes)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.05)
    config = {"name": "toy-linear", "dataset": "mnist", "arch": "linear",
              "class_names": [str(k) for k in range(num_classes)], "mean": 0.0, "std": 1.0}
    return Classifier(model, config)


def digit() -> np.ndarray:
    seen = np.zeros((28, 28), np.uint8)
    seen[5:23, 12:16] = 255
    seen[5:9, 8:16] = 200
    return seen


def closed_form_budget(clf: Classifier, seen: np.ndarray) -> float:
    """The smallest L-infinity change in [0, 1] that makes a two-class linear model change
    its answer: each pixel moves by the budget toward the other class as far as [0, 1]
    allows, and the gain grows piecewise linearly with the budget."""
    w = clf.model.fc.weight.detach().double().numpy()
    b = clf.model.fc.bias.detach().double().numpy()
    x = seen.ravel() / 255.0
    z = w @ x + b
    a = int(z.argmax())
    d = w[1 - a] - w[a]                           # gain per unit change of each pixel
    room = np.where(d > 0, 1 - x, x)              # how far each pixel can move that way
    margin = z[a] - z[1 - a]
    lo, hi = 0.0, 1.0
    for _ in range(60):                           # gain(budget) is monotone: bisect it
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if (np.abs(d) * np.minimum(mid, room)).sum() < margin else (lo, mid)
    return hi


def test_the_attack_flips_a_linear_model_exactly_at_its_closed_form_budget():
    clf, seen = linear(), digit()
    budget = closed_form_budget(clf, seen)
    assert 0.01 < budget < 0.5
    exact = Attack(quantize=False)
    below = fool(clf, seen, attack=Attack(budgets=(0.98 * budget,), quantize=False))
    above = fool(clf, seen, attack=Attack(budgets=(1.02 * budget,), quantize=False))
    assert not below.flipped and above.flipped
    found = fool(clf, seen, attack=exact)
    assert found.flipped and budget * 0.999 <= found.linf <= budget + 0.01
    assert found.label != found.original and abs(found.delta).max() == pytest.approx(found.linf)


def test_the_attack_reaches_a_chosen_class_and_reports_its_change():
    clf, seen = linear(10, seed=1), digit()
    goal = next(c for c in clf.class_names if c != clf.predict(seen))
    result = fool(clf, seen, target=goal)
    assert result.flipped and result.label == result.target == goal
    assert result.image.dtype == np.uint8 and result.image.shape == (28, 28)
    change = result.image.astype(float) / 255 - seen / 255
    assert np.abs(change).max() == pytest.approx(result.linf, abs=1e-6)
    assert np.linalg.norm(change) == pytest.approx(result.l2, abs=1e-4)


def test_the_attack_refuses_its_own_answer_as_target_and_stops_at_its_time_budget():
    clf, seen = linear(), digit()
    with pytest.raises(ValueError, match="already answers"):
        fool(clf, seen, target=clf.predict(seen))
    with pytest.raises(AttackTimeout):
        fool(clf, seen, attack=Attack(max_seconds=0.0))


def test_blanking_no_pixels_drops_nothing():
    trust = check_explanation(linear(), digit(), "saliency", checks=Checks(fraction=0.0))
    assert trust.deletion_drop == 0.0 and trust.random_drop == 0.0


def test_a_model_with_random_weights_explains_no_better_than_chance():
    """On a model that learned nothing, blanking what its map ranks highest drops the class
    about as much as blanking random pixels of the drawing."""
    drops = [check_explanation(linear(10, seed=s), digit(), m)
             for s in range(3) for m in ("saliency", "integrated_gradients")]
    gap = np.mean([abs(t.deletion_drop - t.random_drop) for t in drops])
    assert gap < 0.05, gap


def test_rank_correlation_of_known_maps():
    a = np.arange(784, dtype=float).reshape(28, 28)
    assert spearman(a, a) == pytest.approx(1.0)
    assert spearman(a, -a) == pytest.approx(-1.0)
    assert spearman(a, np.zeros_like(a)) == 0.0


def test_maps_of_a_batch_are_the_maps_of_each_image_whatever_the_chunk():
    from classifier.trust import MAP_CHUNK, maps

    clf = linear(num_classes=3)
    x = torch.rand(2 * MAP_CHUNK + 3, 1, 28, 28)
    targets = np.arange(len(x)) % 3
    together = maps(clf, x, "saliency", targets)
    alone = np.concatenate([maps(clf, x[i:i + 1], "saliency", targets[i:i + 1])
                            for i in range(len(x))])
    # a linear model's saliency is |weight of the target class|, whatever the image
    weight = clf.model.fc.weight.detach().abs().reshape(3, 28, 28).numpy()
    assert together.shape == (len(x), 28, 28)
    assert np.allclose(together, alone, atol=1e-6)
    assert np.allclose(together, weight[targets], atol=1e-6)
