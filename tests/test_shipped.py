"""The shipped checkpoints are real: each reproduces its recorded test accuracy."""
import json

import pytest

from classifier.checkpoint import CHECKPOINTS_DIR, available_models, load_checkpoint
from classifier.models import ARCHITECTURES
from training.data import DATASETS, read_split
from training.train import predict_logits

EXPECTED = [f"{d}-{a}" for d in DATASETS for a in ARCHITECTURES]


def test_all_twelve_checkpoints_ship():
    assert sorted(available_models()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", available_models())
def test_checkpoint_reproduces_its_recorded_test_accuracy(name, data_dir):
    import torch

    model, config = load_checkpoint(name)
    metrics = json.loads((CHECKPOINTS_DIR / name / "metrics.json").read_text())
    images, labels = read_split(data_dir, config["dataset"], "test", download=False)
    logits = predict_logits(model, images, config["mean"], config["std"], torch.device("cpu"))
    accuracy = 100 * (logits.argmax(1) == labels).float().mean().item()
    assert abs(accuracy - 100 * metrics["test_accuracy"]) <= 0.05
    assert config["init"] in ("scratch", "imagenet")
    for file in ("README.md", "curves.png", "confusion.png", "misclassified.png", "samples.png"):
        assert (CHECKPOINTS_DIR / name / file).is_file(), file
