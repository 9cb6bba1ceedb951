"""Out-of-distribution scores measured against each other, per model: AUROC (in-distribution
test images vs each outlier set) and the share flagged at the threshold that flags 1% of
held-out training images (for the method a checkpoint ships, its own threshold).
``python -m training.ood`` writes the chosen one into checkpoints.

    python -m benchmarks.ood --data-dir ../shared/data [--models mnist-cnn ...] [-n 500]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from classifier.checkpoint import CHECKPOINTS_DIR, available_models, load_checkpoint
from classifier.ood import METHODS
from classifier.preprocess import prepare
from training import synthetic
from training.data import read_split
from training.handwriting import handwritten_digit
from training.ood import fitted, handwritten, handwritten_count, other_dataset, score_images
from training.outliers import LETTERS as TRAINED_LETTERS
from training.served import photo_labels

LETTERS = "ABCDEFGHJKLMNPQRTUVWXYabcdefghjkmnpqrtuvwxy"  # not I, O, S, Z, i, l, o, s, z: digit-like
FONTS = ["/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf",
         "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
         "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"]


def auroc(inside: torch.Tensor, outside: torch.Tensor) -> float:
    """P(an outlier scores higher than an inlier), ties counted half."""
    a, b = inside.double(), outside.double()
    return float(((b[:, None] > a[None]).double().mean()
                  + 0.5 * (b[:, None] == a[None]).double().mean()))


def input_sets(data_dir: str, photos: str, n: int) -> dict:
    """uint8 (N, 28, 28) sets per dataset: what the models should accept and what not."""
    rng = np.random.default_rng(0)
    mnist, _ = read_split(data_dir, "mnist", "test", download=False)
    fashion, _ = read_split(data_dir, "fashion-mnist", "test", download=False)
    scribbles = np.stack([prepare(synthetic.scribble(rng), "digit-v1") for _ in range(n)])
    letters = np.stack([prepare(synthetic.letter(LETTERS[i % len(LETTERS)], rng), "digit-v1")
                        for i in range(n)])
    # never shown to a model trained with outlier exposure (training.outliers): a kind of
    # drawing, and letters in other fonts that are not among its training letters
    shapes = np.stack([prepare(synthetic.shapes(rng), "digit-v1") for _ in range(n)])
    fonts = [f for f in FONTS if Path(f).is_file()]
    unseen = "".join(c for c in LETTERS if c not in TRAINED_LETTERS)
    other_fonts = np.stack([prepare(synthetic.letter(unseen[i % len(unseen)], rng,
                                                     font=fonts[i % len(fonts)]), "digit-v1")
                            for i in range(n)]) if fonts else None
    sketches = np.stack([prepare(synthetic.sketch(x, rng), "digit-v1")
                         for x in mnist[:n].numpy()])
    pen = np.random.default_rng(1)  # its own draws: the other sets stay as they were
    drawn = np.stack([prepare(handwritten_digit(pen)[0], "digit-v1") for _ in range(n)])
    products = np.stack([prepare(synthetic.product(x, rng), "clothing-photo-v2")
                         for x in fashion[:n].numpy()])
    sets = {"mnist": {"in": {"test images": mnist, "canvas drawings": sketches,
                             "digits drawn with the page's pen": drawn},
                      "out": {"scribbles": scribbles, "letters (built-in font)": letters,
                              "shapes": shapes,
                              "held-out letters, other fonts": other_fonts,
                              "clothing (Fashion-MNIST)": fashion[:2000]}},
            "fashion-mnist": {"in": {"test images": fashion, "product photos": products},
                              "out": {"digits (MNIST)": mnist[:2000],
                                      "scribbles": scribbles, "shapes": shapes}}}
    folder = Path(photos)
    if (folder / "labels.csv").is_file():
        mapped = [p for p, _ in photo_labels(folder)]
        rows = [line.split(",") for line in (folder / "labels.csv").read_text().splitlines()[1:]]
        unmapped = [folder / "images" / f for f, c in rows
                    if c.strip() in ("hat", "shorts", "skirt")]
        sets["fashion-mnist"]["in"]["real photos (mapped)"] = np.stack(
            [prepare(p, "clothing-photo-v2") for p in mapped])
        sets["fashion-mnist"]["out"]["hat, shorts, skirt photos"] = np.stack(
            [prepare(p, "clothing-photo-v2") for p in unmapped])
    return {d: {k: {name: torch.as_tensor(np.asarray(v)) for name, v in group.items()
                    if v is not None}
                for k, group in s.items()} for d, s in sets.items()}


def measure(name: str, data_dir: str, sets: dict) -> list[str]:
    model, config = load_checkpoint(name)
    images, labels = read_split(data_dir, config["dataset"], "train", download=False)
    stats, val = fitted(model, config, images, labels, other=other_dataset(config, data_dir),
                        drawn=handwritten(config, handwritten_count(config)))  # as shipped
    threshold = {m: float(torch.quantile(s, 0.99)) for m, s in val.items()}
    shipped = config.get("ood", {}).get("method")
    if shipped:  # the checkpoint's own threshold (it may also cover canvas drawings)
        threshold[shipped] = config["ood"]["threshold"]
    groups = sets[config["dataset"]]
    inside = {k: score_images(model, config, stats, v) for k, v in groups["in"].items()}
    outside = {k: score_images(model, config, stats, v) for k, v in groups["out"].items()}
    rows = []
    for method in METHODS:
        cells = [f"{(inside[k][method] > threshold[method]).float().mean():.1%}"
                 for k in groups["in"]]
        for k, s in outside.items():
            cells.append(f"{auroc(inside['test images'][method], s[method]):.3f} / "
                         f"{(s[method] > threshold[method]).float().mean():.0%}")
        label = f"{method} (shipped)" if method == shipped else method
        rows.append(f"| {Path(name).name} | {label} | " + " | ".join(cells) + " |")
    return rows


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ood",
                                description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--photos", default="../shared/data/clothing-photos")
    p.add_argument("--models", nargs="*")
    p.add_argument("-n", type=int, default=500, help="images per synthetic set")
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    sets = input_sets(args.data_dir, args.photos, args.n)
    names = args.models or available_models(CHECKPOINTS_DIR)
    for dataset in ("mnist", "fashion-mnist"):
        mine = [m for m in names if load_checkpoint(m)[1]["dataset"] == dataset]
        if not mine:
            continue
        g = sets[dataset]
        print(f"\n{dataset}: flagged among inputs like the training data, then AUROC / "
              "flagged for each outlier set")
        print("| model | score | " + " | ".join(f"{k} flagged" for k in g["in"]) + " | "
              + " | ".join(g["out"]) + " |")
        print("|" + " --- |" * (2 + len(g["in"]) + len(g["out"])))
        for m in mine:
            for row in measure(m, args.data_dir, sets):
                print(row, flush=True)


if __name__ == "__main__":
    main()
