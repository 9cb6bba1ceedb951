import dataclasses

import pytest

from training.__main__ import parse_args
from training.config import RECIPES, Config, TrainingError, resolve_config


def test_layers_resolve_in_order_and_the_command_line_wins():
    cfg = resolve_config("fashion-mnist", "cnn")
    assert cfg.epochs == 20 and cfg.lr == 3e-3  # dataset override over arch default
    assert cfg.arch_kwargs == {"width": 48} and cfg.swa_lr == pytest.approx(3e-4)
    assert resolve_config("fashion-mnist", "cnn", epochs=3, lr=None).epochs == 3


def test_a_config_is_frozen_and_changes_only_into_a_new_one():
    cfg = resolve_config("mnist", "mlp")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.epochs = 1
    changed = cfg.replace(mean=0.13)
    assert (cfg.mean, changed.mean) == (None, 0.13) and isinstance(changed, Config)


@pytest.mark.parametrize("name", ["fast", "five-minutes", "ten-seconds"])
def test_a_recipe_picks_the_architecture_and_its_settings_per_dataset(name):
    for dataset, recipe in RECIPES[name].items():
        cfg = resolve_config(dataset, recipe=name)
        assert (cfg.arch, cfg.epochs, cfg.recipe) == (recipe["arch"], recipe["epochs"], name)
        assert (cfg.arch_kwargs, cfg.batch_size) == (recipe["arch_kwargs"],
                                                     recipe.get("batch_size", 128))
    assert resolve_config("fashion-mnist", recipe="five-minutes").arch_kwargs["width"] == 32


def test_recipe_settings_give_way_to_the_command_line():
    assert resolve_config("mnist", recipe="fast", epochs=5).epochs == 5
    with pytest.raises(TrainingError, match="leave out --model"):
        resolve_config("mnist", "resnet18", recipe="fast")
    with pytest.raises(TrainingError, match="unknown recipe"):
        resolve_config("mnist", recipe="slow")


def test_unknown_settings_and_datasets_are_refused():
    with pytest.raises(TrainingError, match="unknown settings: epoch"):
        resolve_config("mnist", "cnn", epoch=3)
    with pytest.raises(TrainingError, match="unknown dataset"):
        resolve_config("kmnist", "cnn")


def test_every_command_line_option_is_a_config_field():
    args = vars(parse_args([]))
    fields = {f.name for f in dataclasses.fields(Config)}
    assert set(args) - {"all", "model", "recipe", "dataset"} <= fields
