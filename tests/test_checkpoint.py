import json

import pytest
import torch

from classifier.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from classifier.models import ARCHITECTURES, build_model


def config_for(arch, **kwargs):
    return {"arch": arch, "arch_kwargs": kwargs, "dataset": "mnist",
            "class_names": [str(i) for i in range(10)], "mean": 0.13, "std": 0.31,
            "input_size": [1, 28, 28], "temperature": 1.0}


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_save_then_load_gives_identical_logits(tmp_path, arch):
    torch.manual_seed(0)
    model = build_model(arch).eval()
    x = torch.randn(4, 1, 28, 28)
    folder = save_checkpoint(tmp_path / arch, model, config_for(arch))
    loaded, config = load_checkpoint(folder)
    assert torch.equal(model(x), loaded(x))
    assert config["weights_dtype"] == "float32" and not loaded.training


def test_float16_weights_load_back_as_float32(tmp_path):
    model = build_model("mlp").eval()
    folder = save_checkpoint(tmp_path / "m", model, config_for("mlp"), dtype=torch.float16)
    loaded, config = load_checkpoint(folder)
    assert config["weights_dtype"] == "float16"
    assert next(loaded.parameters()).dtype == torch.float32


def test_incomplete_folder_fails_clearly(tmp_path):
    folder = save_checkpoint(tmp_path / "m", build_model("linear"), config_for("linear"))
    (folder / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"incomplete: missing \['model.safetensors'\]"):
        load_checkpoint(folder)


def test_config_that_does_not_match_the_weights_fails_clearly(tmp_path):
    folder = save_checkpoint(tmp_path / "m", build_model("mlp", hidden=64), config_for("mlp"))
    with pytest.raises(CheckpointError, match="does not match its config"):
        load_checkpoint(folder)  # config says the default hidden=1024


def test_config_without_required_keys_fails_clearly(tmp_path):
    folder = save_checkpoint(tmp_path / "m", build_model("linear"), config_for("linear"))
    config = json.loads((folder / "config.json").read_text())
    del config["mean"]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="lacks the keys \\['mean'\\]"):
        load_checkpoint(folder)


def test_unknown_name_lists_what_exists(tmp_path):
    with pytest.raises(CheckpointError, match="no model called 'mnist-vgg'"):
        load_checkpoint("mnist-vgg")


def test_a_failed_write_leaves_the_old_checkpoint_intact(tmp_path):
    folder = save_checkpoint(tmp_path / "m", build_model("linear"), config_for("linear"))
    before = (folder / "model.safetensors").read_bytes()

    def explode(path):
        raise KeyboardInterrupt  # as if the run were interrupted mid-write

    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(folder, build_model("linear"), config_for("linear"),
                        extra_files={"plot.png": explode})
    assert (folder / "model.safetensors").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m"]
