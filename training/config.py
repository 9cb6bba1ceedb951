"""A training run's settings: one frozen, typed ``Config``, resolved once from the layers below
(later wins) and saved in the checkpoint it makes.

    COMMON_DEFAULTS < ARCH_DEFAULTS[arch] < DATASET_OVERRIDES[(dataset, arch)]
                    < RECIPES[recipe][dataset] < what the command line gives

    cfg = resolve_config("mnist", "cnn", epochs=3)        # Config(dataset='mnist', ...)
    cfg = resolve_config("mnist", recipe="fast")          # the recipe picks the architecture

A config is never changed. What ``run`` measures from the training data (the mean and
standard deviation of its pixels; the SVM's kernel width) or takes from ``--init-from``'s
checkpoint becomes a new config through ``dataclasses.replace``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from classifier.datasets import DATASETS
from classifier.models import ARCHITECTURES


class TrainingError(ValueError):
    """A run that cannot start as asked; the message says why and what to do."""


# Per-architecture defaults, tuned for a 2-core CPU budget (a GPU finishes them in minutes).
# lr is the peak of the one-cycle schedule; epochs is the most that run (early stopping).
# linear, svm and mlp let the schedule run out (patience = epochs): their validation loss
# wobbles while the one-cycle learning rate is high, and the last, low-rate epochs matter.
ARCH_DEFAULTS = {
    "linear":   dict(epochs=20, batch_size=256, optimizer="adamw", lr=3e-3, weight_decay=1e-4,
                     label_smoothing=0.0, augment="off", loss="ce", patience=20),
    "svm":      dict(epochs=30, batch_size=256, optimizer="adamw", lr=3e-3, weight_decay=1e-4,
                     label_smoothing=0.0, augment="light", loss="hinge", patience=30),
    "mlp":      dict(epochs=30, batch_size=128, optimizer="adamw", lr=1e-3, weight_decay=1e-4,
                     label_smoothing=0.1, augment="light", loss="ce", patience=30),
    "lenet5":   dict(epochs=25, batch_size=128, optimizer="adamw", lr=3e-3, weight_decay=1e-4,
                     label_smoothing=0.1, augment="full", loss="ce"),
    "cnn":      dict(epochs=15, batch_size=128, optimizer="adamw", lr=3e-3, weight_decay=5e-4,
                     label_smoothing=0.1, augment="full", loss="ce", arch_kwargs={"width": 48}),
    "resnet18": dict(epochs=10, batch_size=128, optimizer="sgd", lr=0.1, weight_decay=5e-4,
                     label_smoothing=0.1, augment="full", loss="ce"),
    # fine-tuned from ImageNet (--pretrained): a small peak rate keeps what ImageNet taught
    "efficientnet_lite0": dict(epochs=6, batch_size=128, optimizer="adamw", lr=2e-3,
                               precision="fp32",  # bf16 ran 2.6x slower: depthwise convs
                               weight_decay=1e-2, label_smoothing=0.1, augment="full",
                               loss="ce", arch_kwargs={"resolution": 64}),
}
# Where one dataset needs other settings (how each was chosen: docs/log.md).
# Clothing's kernel SVM underfits: it needs 100 components, a narrower kernel, no shifted
# copies and large steps, as its random features are scaled by sqrt(2/D) ~ 0.01.
DATASET_OVERRIDES = {
    ("fashion-mnist", "svm"): dict(arch_kwargs={"num_components": 100}, sigma_ratio=0.7,
                                   augment="off", lr=0.2),
    # the MLP on digits stops early: its validation loss bottoms out well before 30 epochs
    ("mnist", "mlp"): dict(patience=5),
    # LeNet-5 is too small to fit clothing under random erasing
    ("fashion-mnist", "lenet5"): dict(augment="light", epochs=30),
    # 15 epochs leave the CNN underfitting clothing
    ("fashion-mnist", "cnn"): dict(epochs=20),
    # ResNet-18 keeps gaining on clothing over a long schedule, then from averaged weights;
    # its validation loss stalls for epochs near the peak rate, so no early stop
    ("fashion-mnist", "resnet18"): dict(epochs=60, patience=60, swa_epochs=20),
    # ImageNet features need few epochs on digits, and each is slow on a CPU
    ("mnist", "efficientnet_lite0"): dict(epochs=4),
}
# Named recipes: an architecture and its settings for one goal, per dataset (docs/log.md).
# quick_finish: after training, only what the checkpoint needs; python -m training.study
# writes the plots and model card, python -m training.ood refits the OOD score in full.
# "ten-seconds", the quickest good model: LeNet-5 takes a third of the fast CNN's time per
# epoch and, at 8x its family's peak rate, two epochs; fp32, as in bf16 one seed fell short
TEN_SECONDS = dict(arch="lenet5", arch_kwargs={}, epochs=2, augment="off", lr=2.4e-2,
                   precision="fp32", quick_finish=True)
# "fast": a narrow CNN, one conv in its first block, in bf16 without augmentation: the
# soonest good model on a laptop CPU
FAST_CNN = {"width": 16, "convs": [1, 2, 2]}
# "five-minutes", the best model in five minutes of a 2-core laptop: twice as wide, light
# augmentation, and batches of 256 (cheaper per image) at a higher peak rate
FIVE_MINUTE_CNN = {"width": 32, "convs": [1, 2, 2]}
FIVE_MINUTES = dict(arch="cnn", arch_kwargs=FIVE_MINUTE_CNN, epochs=17, augment="light",
                    batch_size=256, lr=6e-3, quick_finish=True)
RECIPES = {
    "fast": {
        "mnist": dict(arch="cnn", arch_kwargs=FAST_CNN, epochs=4, augment="off", lr=4e-3,
                      quick_finish=True),
        "fashion-mnist": dict(arch="cnn", arch_kwargs=FAST_CNN, epochs=10, augment="off",
                              lr=4e-3, quick_finish=True),
    },
    # digits' small turns and zooms cost more per epoch, so fewer epochs fit five minutes
    "five-minutes": {"mnist": {**FIVE_MINUTES, "epochs": 15}, "fashion-mnist": FIVE_MINUTES},
    "ten-seconds": {"mnist": TEN_SECONDS, "fashion-mnist": TEN_SECONDS},
}
COMMON_DEFAULTS = dict(schedule="onecycle", patience=8, val_size=5000, seed=0, device="auto",
                       precision="bf16", limit=None, progress=True, pretrained=False,
                       weights_file=None, init_from=None, swa_epochs=0, swa_lr=None,
                       outlier_exposure=0.0, outliers=5000, touching_pairs=0, drawn=0,
                       extra_data=None, extra_repeat=10, data_dir="data", out_dir="checkpoints")


@dataclass(frozen=True)
class Config:
    dataset: str
    arch: str
    epochs: int
    batch_size: int
    optimizer: str                 # "adamw" or "sgd"
    lr: float                      # the peak of the one-cycle schedule
    weight_decay: float
    label_smoothing: float
    augment: str                   # "off", "light", "full", "photo"
    loss: str                      # "ce" or "hinge"
    schedule: str = "onecycle"     # "onecycle", "cosine", "plateau"
    patience: int = 8              # early stopping, in epochs of no better validation loss
    val_size: int = 5000
    seed: int = 0
    device: str = "auto"
    precision: str = "bf16"        # autocast of the training steps: "bf16" or "fp32"
    limit: int | None = None       # train on the first N training images only
    progress: bool = True
    arch_kwargs: dict = field(default_factory=dict)
    pretrained: bool = False
    weights_file: str | None = None
    init_from: str | None = None
    resolution: int | None = None  # efficientnet_lite0: px the 28x28 input is upsampled to
    swa_epochs: int = 0
    swa_lr: float | None = None    # None: lr / 10
    outlier_exposure: float = 0.0
    outliers: int = 5000
    touching_pairs: int = 0        # digits: outliers of two touching training digits, added
    drawn: int = 0                 # digits: training digits redrawn as on the canvas, added
    extra_data: str | None = None  # a folder of the app's corrections, added to training
    extra_repeat: int = 10         # each correction this many times: few among 55,000
    sigma_ratio: float = 0.6       # svm: kernel width / median distance of training images
    photo_parts: tuple[str, ...] | None = None  # --augment photo: which parts (None: all)
    recipe: str | None = None
    quick_finish: bool = False     # after training, only what the checkpoint needs (RECIPES)
    world_size: int = 1            # processes training data-parallel (torchrun)
    data_dir: str = "data"
    out_dir: str = "checkpoints"
    mean: float | None = None      # of the training pixels, measured by run
    std: float | None = None
    init_from_training: dict | None = None  # --init-from: how that checkpoint was trained

    @property
    def channels_last(self) -> bool:
        return self.arch in ("cnn", "resnet18", "lenet5", "efficientnet_lite0")

    @property
    def name(self) -> str:
        return f"{self.dataset}-{self.arch.replace('_', '-')}"

    def replace(self, **changes) -> Config:
        return dataclasses.replace(self, **changes)


FIELDS = {f.name for f in dataclasses.fields(Config)}


def resolve_config(dataset: str, arch: str | None = None, recipe: str | None = None,
                   **overrides) -> Config:
    """The layers for ``dataset`` and ``arch`` (or ``recipe``'s architecture), overlaid with
    every override that is not None."""
    if dataset not in DATASETS:
        raise TrainingError(f"unknown dataset {dataset!r}; choose one of {sorted(DATASETS)}")
    layer = {}
    if recipe is not None:
        if recipe not in RECIPES:
            raise TrainingError(f"unknown recipe {recipe!r}; choose one of {sorted(RECIPES)}")
        layer = dict(RECIPES[recipe][dataset])
        if arch is not None and arch != layer["arch"]:
            raise TrainingError(f"--recipe {recipe} trains {layer['arch']} on {dataset}; "
                                f"leave out --model, or drop --recipe to train {arch}")
        arch = layer.pop("arch")
    if arch not in ARCHITECTURES:
        raise TrainingError(f"unknown architecture {arch!r}; choose one of {list(ARCHITECTURES)}")
    given = {k: v for k, v in overrides.items() if v is not None}
    unknown = set(given) - FIELDS
    if unknown:
        raise TrainingError(f"unknown settings: {', '.join(sorted(unknown))}")
    override = DATASET_OVERRIDES.get((dataset, arch), {})
    values = {**COMMON_DEFAULTS, **ARCH_DEFAULTS[arch], **override, **layer, **given,
              "dataset": dataset, "arch": arch, "recipe": recipe}
    values["arch_kwargs"] = dict(values.get("arch_kwargs", {}))
    if values.get("resolution") is not None:
        if arch != "efficientnet_lite0" or not 32 <= values["resolution"] <= 224:
            raise TrainingError("--resolution is efficientnet_lite0's, from 32 to 224 px")
        values["arch_kwargs"]["resolution"] = values["resolution"]
    if values["swa_lr"] is None:
        values["swa_lr"] = values["lr"] / 10
    if values.get("photo_parts") is not None:
        values["photo_parts"] = tuple(values["photo_parts"])
    return Config(**values)
