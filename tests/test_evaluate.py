import torch

from training.augment import random_affine
from training.evaluate import (classification_metrics, confusion_matrix,
                               expected_calibration_error, fit_temperature)


def test_temperature_recovers_a_known_overconfidence():
    torch.manual_seed(0)
    true_logits = torch.randn(20000, 10) * 2
    labels = torch.multinomial(true_logits.softmax(1), 1).flatten()
    assert abs(fit_temperature(true_logits * 3, labels) - 3.0) < 0.15


def test_ece_is_zero_for_confident_correct_and_known_for_a_coin():
    labels = torch.tensor([0, 1, 2, 3])
    assert expected_calibration_error(torch.eye(4), labels) < 1e-6
    coin = torch.tensor([[0.9, 0.1]] * 10)
    assert abs(expected_calibration_error(coin, torch.tensor([0] * 5 + [1] * 5)) - 0.4) < 1e-6


def test_confusion_matrix_and_per_class_metrics_by_hand():
    labels = torch.tensor([0, 0, 1, 1])
    logits = torch.tensor([[1.0, 0], [0, 1], [0, 1], [0, 1]])
    assert confusion_matrix(logits.argmax(1), labels, 2).tolist() == [[1, 1], [0, 2]]
    m = classification_metrics(logits, labels, ["a", "b"])
    assert m["test_accuracy"] == 0.75
    assert m["per_class"]["a"]["precision"] == 1.0 and m["per_class"]["a"]["recall"] == 0.5
    assert abs(m["per_class"]["b"]["precision"] - 2 / 3) < 1e-6
    assert m["misclassified"] == [{"index": 1, "true": 0, "pred": 1}]


def test_affine_augmentation_without_movement_is_the_identity():
    x = torch.rand(4, 1, 28, 28)
    assert torch.allclose(random_affine(x, degrees=0, translate=0, scale=0), x, atol=1e-5)
