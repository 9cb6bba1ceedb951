"""The comparison study: ``checkpoints/REPORT.md`` and ``checkpoints/comparison.png``.

    python -m training.study --data-dir ../shared/data

Refreshes every checkpoint's plots and model card, measures CPU latency, and writes one
table (model x dataset -> accuracy, size, training time and device, latency) and a chart.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib
import torch

from classifier.checkpoint import CHECKPOINTS_DIR
from classifier.datasets import DATASETS
from training.report import ARCH_TITLES, refresh

matplotlib.use("Agg")  # files only, no display: set before pyplot is imported (plot_comparison)

ORDER = list(ARCH_TITLES)
# Test-accuracy floors (%) each shipped checkpoint is meant to reach.
FLOORS = {("mnist", "linear"): 92.0, ("mnist", "svm"): 97.5, ("mnist", "mlp"): 98.5,
          ("mnist", "lenet5"): 99.0, ("mnist", "cnn"): 99.5, ("mnist", "resnet18"): 99.5,
          ("fashion-mnist", "linear"): 84.0, ("fashion-mnist", "svm"): 88.5,
          ("fashion-mnist", "mlp"): 89.5, ("fashion-mnist", "lenet5"): 90.5,
          ("fashion-mnist", "cnn"): 93.5, ("fashion-mnist", "resnet18"): 94.5,
          ("mnist", "efficientnet_lite0"): 99.6, ("fashion-mnist", "efficientnet_lite0"): 94.5}
SHORT = {"efficientnet_lite0": "effnet-lite0"}  # names that fit under a bar


def plot_comparison(path: Path, rows: list[dict]) -> None:
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for k, ds in enumerate(DATASETS):
        sub = sorted((r for r in rows if r["dataset"] == ds), key=lambda r: ORDER.index(r["arch"]))
        xs = [ORDER.index(r["arch"]) + (k - 0.5) * 0.38 for r in sub]
        bars = ax1.bar(xs, [r["accuracy"] for r in sub], width=0.38, label=ds)
        ax1.bar_label(bars, fmt="%.1f", fontsize=7)
        ax2.scatter([r["latency"] for r in sub], [r["accuracy"] for r in sub], label=ds)
        for r in sub:
            ax2.annotate(SHORT.get(r["arch"], r["arch"]), (r["latency"], r["accuracy"]), fontsize=7,
                         xytext=(3, 3), textcoords="offset points")
    ax1.set_xticks(range(len(ORDER)), [SHORT.get(a, a) for a in ORDER], fontsize=8)
    ax1.set(ylim=(80, 100.5), ylabel="test accuracy (%)", title="accuracy by model")
    ax2.set(xscale="log", xlabel="CPU latency per image (ms, log scale)",
            ylabel="test accuracy (%)", title="accuracy vs speed")
    ax1.legend(loc="lower right"), ax2.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def findings(rows: list[dict]) -> list[str]:
    """Sentences computed from the measured rows (nothing here is typed in by hand)."""
    out = []
    for ds in DATASETS:
        by = {r["arch"]: r for r in rows if r["dataset"] == ds}
        if not by:
            continue
        best = max(by.values(), key=lambda r: r["accuracy"])
        line = f"- **{ds}**: best is {best['arch']} at {best['accuracy']:.2f}%"
        if "linear" in by:
            err_lin, err_best = 100 - by["linear"]["accuracy"], 100 - best["accuracy"]
            line += (f"; logistic regression makes {err_lin / max(err_best, 1e-9):.1f}x its "
                     f"errors ({err_lin:.2f}% vs {err_best:.2f}%)")
        if "cnn" in by and "resnet18" in by:
            c, r = by["cnn"], by["resnet18"]
            line += (f"; the small CNN has {r['params'] / c['params']:.0f}x fewer parameters "
                     f"than ResNet-18, runs {r['latency'] / c['latency']:.1f}x faster, and "
                     f"scores {c['accuracy'] - r['accuracy']:+.2f} points against it")
        out.append(line + ".")
        if "efficientnet_lite0" in by:
            out.append(pretraining(by))
    return out


def pretraining(by: dict[str, dict]) -> str:
    """What ImageNet pretraining bought and cost on one dataset, against the best model
    trained from scratch."""
    e = by["efficientnet_lite0"]
    scratch = max((r for r in by.values() if r["init"] == "scratch"), key=lambda r: r["accuracy"])
    line = (f"  - pretrained: EfficientNet-Lite0 fine-tuned from ImageNet scores "
            f"{e['accuracy']:.2f}% on the test set ({e['accuracy'] - scratch['accuracy']:+.2f} "
            f"points against {scratch['arch']} from scratch) after {e['minutes']:.0f} min of "
            f"training against {scratch['minutes']:.0f}, and runs "
            f"{e['latency'] / scratch['latency']:.1f}x {scratch['arch']}'s latency")
    photos = {a: r["photos"] for a, r in by.items() if r.get("photos") is not None}
    if e.get("photos") is not None and len(photos) > 1:
        best = max((a for a in photos if a != "efficientnet_lite0"), key=photos.get)
        line += (f"; on real clothing photos, read with the ImageNet network it keeps, it "
                 f"accepts {e['photos']:.1f}% against {photos[best]:.1f}% for the best model "
                 f"without ImageNet ({best})")
    return line + "."


def write_study(root: Path, rows: list[dict]) -> None:
    rows = sorted(rows, key=lambda r: (list(DATASETS).index(r["dataset"]), ORDER.index(r["arch"])))
    plot_comparison(root / "comparison.png", rows)
    table = ["| model | dataset | test accuracy (%) | floor (%) | development photos accepted "
             "(%) | parameters | size (MB) | training time | trained on | init | CPU latency "
             "per image (ms) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        floor = FLOORS.get((r["dataset"], r["arch"]))
        mark = "" if floor is None or r["accuracy"] >= floor else " (below floor)"
        photos = "-" if r.get("photos") is None else f"{r['photos']:.1f}"
        table.append(f"| [{r['arch']}]({r['name']}/README.md) | {r['dataset']} | "
                     f"{r['accuracy']:.2f}{mark} | {floor} | {photos} | {r['params']:,} | "
                     f"{r.get('megabytes', 0):.1f} | {r['minutes']:.1f} min | {r['device']} | "
                     f"{r['init']} | {r['latency']:.3f} |")
    families = len({r["arch"] for r in rows})
    text = f"""# How do classical models, CNNs and a pretrained network compare?

{len(rows)} models, {families} families on two datasets, each trained by `python -m training`
and evaluated once on the untouched test set (10,000 images; single model, no test-time
augmentation). Six families are trained from scratch; EfficientNet-Lite0 is fine-tuned from
ImageNet weights (`--pretrained`). *Development photos accepted*: the share of the 290 real
clothing photos of `clothing-photos` given an answer a person accepts, as the app serves
them (`python -m benchmarks.photos`); a clothing model with an ImageNet view also reads the whole
photo with the ImageNet network it was fine-tuned from (`classifier/photo.py`). *Size*: its
weights files. Latency: one 28x28 image (batch 1) through the model on the CPU with
{torch.get_num_threads()} threads, median of 100 runs after warm-up (for a photo, the
ImageNet view adds one 224 px pass), measured by `python -m training.study` on the machine
that wrote this file. *Floor*: the lowest test accuracy accepted for that model; a
checkpoint below it is marked "(below floor)".

{chr(10).join(table)}

![accuracy by model and accuracy vs latency](comparison.png)

## What the numbers say
{chr(10).join(findings(rows))}

Each model's folder holds its training curves, confusion matrix, misclassified test images,
sample predictions, first-layer filters and a model card.
"""
    (root / "REPORT.md").write_text(text)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m training.study", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="data", help="datasets folder (default: data)")
    p.add_argument("--checkpoints", default=str(CHECKPOINTS_DIR),
                   help=f"checkpoint folders (default: {CHECKPOINTS_DIR})")
    p.add_argument("--report-only", action="store_true",
                   help="measure and write REPORT.md and the chart, leaving every folder's "
                        "plots and card as they are")
    args = p.parse_args(argv)
    root = Path(args.checkpoints)
    write_study(root, refresh(root, args.data_dir, files=not args.report_only))
    print(f"wrote {root / 'REPORT.md'}")


if __name__ == "__main__":
    main()
