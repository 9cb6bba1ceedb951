import json

import pytest
import torch
from safetensors.torch import save_file

from classifier.checkpoint import load_checkpoint
from classifier.models import build_model
from training.__main__ import main, parse_args
from training.run import resolve_config, run


def test_one_epoch_on_a_few_hundred_images_writes_a_checkpoint_that_beats_chance(
        tmp_path, data_dir):
    cfg = resolve_config("mnist", "mlp", data_dir=str(data_dir), out_dir=str(tmp_path),
                         epochs=1, limit=600, val_size=500, progress=False)
    folder = run(cfg, log=lambda *_: None)
    model, config = load_checkpoint(folder)
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.5  # chance is 0.1
    assert config["init"] == "scratch" and config["temperature"] > 0
    assert abs(config["mean"] - 0.1307) < 0.01  # computed from the training images
    assert len(metrics["confusion_matrix"]) == 10


def test_help_lists_every_option_with_its_default(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    text = capsys.readouterr().out
    for option in ("--dataset", "--model", "--all", "--epochs", "--lr", "--seed", "--device",
                   "--pretrained", "--weights-file", "--data-dir"):
        assert option in text
    assert "(default: mnist)" in text and "cnn 15" in text


def test_resnet18_fine_tunes_from_a_local_imagenet_weights_file(tmp_path):
    import timm

    torch.manual_seed(0)
    imagenet = timm.create_model("resnet18", num_classes=1000)  # stands in for real weights
    path = tmp_path / "resnet18.safetensors"
    save_file(imagenet.state_dict(), path)
    model = build_model("resnet18", weights_file=str(path))
    rgb = imagenet.conv1.weight  # (64, 3, 7, 7): timm sums it into one input channel
    assert torch.allclose(model.net.conv1.weight, rgb.sum(1, keepdim=True), atol=1e-5)
    assert torch.equal(model.net.layer4[1].conv2.weight, imagenet.layer4[1].conv2.weight)
    assert model.net.fc.out_features == 10


def test_pretrained_run_records_imagenet_init(tmp_path, data_dir):
    import timm

    path = tmp_path / "w.safetensors"
    save_file(timm.create_model("resnet18", num_classes=1000).state_dict(), path)
    main(["--dataset", "mnist", "--model", "resnet18", "--data-dir", str(data_dir),
          "--out-dir", str(tmp_path), "--epochs", "1", "--limit", "64", "--val-size", "64",
          "--weights-file", str(path), "--no-progress"])
    _, config = load_checkpoint(tmp_path / "mnist-resnet18")
    assert config["init"] == "imagenet"


def test_missing_weights_file_stops_with_a_clear_message(tmp_path, data_dir):
    with pytest.raises(SystemExit, match="could not load ImageNet weights"):
        main(["--model", "resnet18", "--data-dir", str(data_dir), "--out-dir", str(tmp_path),
              "--weights-file", str(tmp_path / "absent.safetensors"), "--limit", "64"])
