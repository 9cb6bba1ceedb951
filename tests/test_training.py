import json

import pytest
import torch
from safetensors.torch import save_file

from classifier.checkpoint import load_checkpoint, save_checkpoint
from classifier.models import build_model
from classifier.ood import load_stats
from training.__main__ import main, parse_args
from training.config import TrainingError, resolve_config
from training.ood import main as ood_main
from training.run import checkpoint_config, init_details, run, start_from


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
    # its out-of-distribution score: 3 centres per class for digits; a refit keeps the count
    # the checkpoint records unless told another
    assert config["ood"]["centres_per_class"] == 3
    assert load_stats(folder)["means"].shape[0] == 30
    ood_main([str(folder), "--data-dir", str(data_dir), "--centres", "1"])
    ood_main([str(folder), "--data-dir", str(data_dir)])
    assert load_checkpoint(folder)[1]["ood"]["centres_per_class"] == 1
    assert load_stats(folder)["means"].shape[0] == 10


def test_help_lists_every_option_with_its_default(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    text = capsys.readouterr().out
    for option in ("--dataset", "--model", "--all", "--epochs", "--lr", "--seed", "--device",
                   "--pretrained", "--weights-file", "--data-dir", "--init-from", "--swa-epochs",
                   "--swa-lr"):
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


def _val_split(data_dir, dataset, val_size):
    from training.data import read_split, train_val_split

    images, labels = read_split(str(data_dir), dataset, "train")
    _, val_idx = train_val_split(len(images), val_size, seed=0)
    return images[val_idx], labels[val_idx]


def test_weight_averaging_ships_the_average_it_measured(tmp_path, data_dir):
    main(["--dataset", "mnist", "--model", "cnn", "--data-dir", str(data_dir), "--out-dir",
          str(tmp_path), "--epochs", "0", "--swa-epochs", "2", "--limit", "600",
          "--val-size", "500", "--no-progress"])
    model, config = load_checkpoint(tmp_path / "mnist-cnn")
    metrics = json.loads((tmp_path / "mnist-cnn" / "metrics.json").read_text())
    swa = metrics["swa"]
    # from an untrained model, two epochs of averaging must lower the validation loss
    assert swa["kept"] and swa["val_loss"] < swa["before_val_loss"]
    assert swa["lr"] == config["training"]["lr"] / 10
    assert [h["phase"] for h in metrics["history"]] == ["swa", "swa"]
    card = (tmp_path / "mnist-cnn" / "README.md").read_text()
    assert "then 2 epochs of stochastic weight averaging" in card and "the average ships" in card
    images, labels = _val_split(data_dir, "mnist", 500)
    x = (images.float()[:, None] / 255 - config["mean"]) / config["std"]
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(model(x), labels).item()
    assert loss == pytest.approx(swa["val_loss"], abs=2e-3)  # float16 storage may round


def test_a_worse_average_is_discarded_and_the_weights_restored(data_dir):
    from training.data import read_split
    from training.run import average_weights

    images, labels = read_split(str(data_dir), "mnist", "train")
    cfg = resolve_config("mnist", "cnn", swa_epochs=1, swa_lr=1e4, progress=False,
                         mean=0.1307, std=0.3081)
    torch.manual_seed(0)
    model = build_model("cnn")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    train, val = (images[:256], labels[:256]), (images[256:512], labels[256:512])
    model, summary, history, _ = average_weights(model, train, val, cfg, torch.device("cpu"),
                                                 log=lambda *_: None)
    assert not summary["kept"] and len(history) == 1
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_init_from_continues_a_checkpoint_and_checks_it_matches(tmp_path, data_dir):
    first, second = tmp_path / "first", tmp_path / "second"
    common = ["--dataset", "mnist", "--model", "mlp", "--data-dir", str(data_dir), "--limit",
              "300", "--val-size", "300", "--no-progress"]
    main(common + ["--out-dir", str(first), "--epochs", "1"])
    main(common + ["--out-dir", str(second), "--epochs", "0", "--swa-epochs", "1",
                   "--init-from", str(first / "mnist-mlp")])
    before = json.loads((first / "mnist-mlp" / "metrics.json").read_text())
    after = json.loads((second / "mnist-mlp" / "metrics.json").read_text())
    _, config = load_checkpoint(second / "mnist-mlp")
    assert [h["epoch"] for h in after["history"]] == [1, 2]
    assert after["history"][0] == before["history"][0]
    # the time of the run it continued plus its own (rounded to 0.1 s)
    own = after["history"][1]["seconds"]
    assert after["train_seconds"] >= before["train_seconds"] + own - 0.1
    assert config["training"]["init_from"] == str(first / "mnist-mlp")
    assert config["training"]["init_from_training"]["epochs"] == 1
    with pytest.raises(SystemExit, match="was trained as"):
        main(["--dataset", "fashion-mnist", "--model", "mlp", "--data-dir", str(data_dir),
              "--out-dir", str(tmp_path), "--init-from", str(first / "mnist-mlp"),
              "--limit", "300", "--val-size", "300"])
    with pytest.raises(SystemExit, match="incomplete"):
        main(common + ["--out-dir", str(tmp_path), "--init-from", str(tmp_path)])


def test_init_from_may_change_efficientnets_resolution_and_keeps_its_weights(tmp_path):
    folder = tmp_path / "mnist-efficientnet-lite0"
    small = build_model("efficientnet_lite0", resolution=32)
    cfg = resolve_config("mnist", "efficientnet_lite0", resolution=48, mean=0.13, std=0.31,
                         init_from=str(folder))
    source = {**checkpoint_config(cfg.replace(arch_kwargs={"resolution": 32}), list("0123456789"),
                                  1.0), "init": "imagenet"}
    save_checkpoint(folder, small, source, extra_files={
        "metrics.json": json.dumps({"history": [], "train_seconds": 1.0})})
    large, _, _, cfg = start_from(cfg)
    assert small.resolution == 32 and large.resolution == 48
    assert cfg.arch_kwargs == {"resolution": 48} and cfg.pretrained
    assert all(torch.equal(v, small.state_dict()[k]) for k, v in large.state_dict().items())
    assert init_details(cfg)["input"]["resolution"] == 48
    assert large(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(TrainingError, match="efficientnet_lite0's"):
        resolve_config("mnist", "cnn", resolution=96)


def test_a_model_card_names_every_run_of_a_checkpoint_continued_more_than_once():
    from training.report import runs_line

    first = {"epochs": 4, "lr": 2e-3, "swa_epochs": 0, "swa_lr": 2e-4}
    second = {"epochs": 3, "lr": 1e-3, "swa_epochs": 0, "resolution": 96,
              "init_from_training": first}
    last = {"epochs": 0, "lr": 2e-3, "swa_epochs": 4, "swa_lr": 3e-4,
            "init_from_training": second}
    assert runs_line(last) == (
        "- Runs, each from the weights of the one before: 1) 4 epochs at peak lr 0.002; "
        "2) 3 epochs at peak lr 0.001, input 96 px from here on; "
        "3) 4 epochs of weight averaging at lr 0.0003.\n")
    assert runs_line(second) == ""  # one continued run: the card's own sentence says it


def test_outlier_exposure_trains_on_drawn_outliers_and_records_it(
        tmp_path, data_dir):
    from training.outliers import outlier_pool, uniform_loss

    assert uniform_loss(torch.zeros(4, 10)).item() == pytest.approx(torch.log(torch.tensor(10.)))
    pool = outlier_pool(6, seed=1)
    assert pool.shape == (6, 28, 28) and pool.dtype == torch.uint8 and pool.float().mean() > 5
    cfg = resolve_config("mnist", "mlp", data_dir=str(data_dir), out_dir=str(tmp_path),
                         epochs=1, limit=600, val_size=500, progress=False,
                         outlier_exposure=0.5, outliers=40)
    folder = run(cfg, log=lambda *_: None)
    config = json.loads((folder / "config.json").read_text())
    assert config["training"]["outlier_exposure"] == 0.5
    assert config["ood"]["method"] == "contrast" and (folder / "ood.safetensors").exists()


def test_two_processes_train_one_model_data_parallel_and_rank_0_writes_it(tmp_path, data_dir):
    import subprocess
    import sys

    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node=2", "-m", "training", "--dataset", "mnist", "--model",
               "lenet5", "--epochs", "2", "--limit", "1000", "--val-size", "500",
               "--data-dir", str(data_dir), "--out-dir", str(tmp_path), "--no-progress"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("wrote ") == 1  # one checkpoint, from rank 0
    assert "2 processes" in done.stdout
    model, config = load_checkpoint(tmp_path / "mnist-lenet5")
    metrics = json.loads((tmp_path / "mnist-lenet5" / "metrics.json").read_text())
    assert config["training"]["world_size"] == 2 and metrics["world_size"] == 2
    assert len(metrics["history"]) == 2 and metrics["test_accuracy"] > 0.3  # chance 0.1


def test_drawn_digits_keep_their_labels_and_look_like_canvas_drawings():
    from classifier.preprocess import prepare
    from training.outliers import drawn_digits

    images = torch.zeros(5, 28, 28, dtype=torch.uint8)
    images[:, 4:24, 12:16] = 255  # five 1s: one upright bar each
    drawn, labels = drawn_digits(images, torch.arange(5), 3, seed=2)
    assert drawn.shape == (3, 28, 28) and drawn.dtype == torch.uint8
    assert sorted(labels.tolist()) == sorted(set(labels.tolist()))  # three distinct images
    for x in drawn:  # a bar again, centred and upright, as the app's recipe makes it
        rows, cols = x.nonzero().T
        assert rows.max() - rows.min() > 2 * (cols.max() - cols.min())
        assert torch.equal(torch.as_tensor(prepare(x.numpy(), "digit-v1")), x)


def test_touching_pairs_are_two_digits_squeezed_into_one_image():
    from training.outliers import touching_pairs

    images = torch.zeros(4, 28, 28, dtype=torch.uint8)
    images[:, 4:24, 12:16] = 255  # upright bars: a 1 is a quarter as wide as it is tall
    pairs = touching_pairs(images, 3, seed=1)
    assert pairs.shape == (3, 28, 28) and pairs.dtype == torch.uint8
    for x in pairs:  # two bars side by side, overlapping a little, 20 px tall as one bar is
        rows, cols = (x > 64).nonzero().T
        height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert height == 20 and 4 < width <= 8  # one bar alone: 4 px wide


@pytest.mark.parametrize("dataset, settings", [
    ("mnist", dict(touching_pairs=10)),                   # outliers need outlier exposure
    ("fashion-mnist", dict(touching_pairs=10, outlier_exposure=0.5)),  # and digits
])
def test_touching_pairs_are_refused_where_they_make_no_sense(tmp_path, data_dir, dataset,
                                                            settings):
    from training.config import TrainingError

    cfg = resolve_config(dataset, "linear", data_dir=str(data_dir), out_dir=str(tmp_path),
                         epochs=1, limit=200, val_size=100, progress=False, **settings)
    with pytest.raises(TrainingError, match="outlier|digit"):
        run(cfg, log=lambda *_: None)


def test_drawn_is_refused_for_clothing(tmp_path, data_dir):
    from training.config import TrainingError

    cfg = resolve_config("fashion-mnist", "linear", data_dir=str(data_dir),
                         out_dir=str(tmp_path), epochs=1, limit=200, val_size=100,
                         progress=False, drawn=10)
    with pytest.raises(TrainingError, match="digit"):
        run(cfg, log=lambda *_: None)
