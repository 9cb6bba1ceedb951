"""Real clothing photos: how each clothing model and each preprocessing recipe does on the
development photos (../shared/data/clothing-photos, never used for training), and how long
preprocessing takes.

    python -m benchmarks.photos [--data-dir ../shared/data]

Prints, per recipe, the default model's accepted answers, refusals and median preprocessing
time per photo; then every clothing model with the current recipe, overall and per photo
class; then the median time to preprocess a 12-megapixel phone JPEG.
"""
from __future__ import annotations

import argparse
import io
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image

from classifier import Classifier, list_models, load_model
from classifier.datasets import DATASETS
from classifier.preprocess import BlankImageError
from training.served import ACCEPTED, evaluate_photos, photo_labels

DEFAULT_MODEL = DATASETS["fashion-mnist"].default_model


def median_ms(fn, inputs) -> float:
    times = []
    for x in inputs:
        t0 = time.perf_counter()
        try:
            fn(x)
        except BlankImageError:
            pass
        times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times)


def phone_jpeg() -> bytes:
    """A 4000x3000 photo-like JPEG: a garment-shaped patch on a textured floor."""
    rng = np.random.default_rng(0)
    img = np.clip(rng.normal(170, 12, (3000, 4000, 3)), 0, 255).astype(np.uint8)
    img[600:2500, 1300:2700] = (40, 60, 140)
    buffer = io.BytesIO()
    Image.fromarray(img).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.photos",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared/data"))
    args = p.parse_args()
    folder = Path(args.data_dir) / "clothing-photos"
    paths = [path for path, _ in photo_labels(folder)]
    default = load_model(DEFAULT_MODEL)
    print(f"{len(paths)} development photos of {len(ACCEPTED)} mapped classes\n")
    print(f"{'recipe':<20} {'accepted (' + DEFAULT_MODEL + ')':<36} refused   median ms/photo")
    for recipe in ("clothing-v1", "clothing-photo-v2"):
        clf = Classifier(default.model, {**default.config, "preprocess": recipe})
        r = evaluate_photos(clf, folder)
        print(f"{recipe:<20} {100 * r['accepted']:>6.1f}%{'':<28} {r['refused']:>4}/{r['total']}"
              f"   {median_ms(clf.preprocess, paths):8.1f}", flush=True)
    print(f"\nevery clothing model, recipe {default.recipe}: accepted answers per photo class;"
          " flagged as not one of the ten kinds: of the mapped photos, and of the hats, "
          "shorts and skirts")
    classes = list(ACCEPTED)
    print(f"{'model':<34} {'all':>6} " + " ".join(f"{c:>10}" for c in classes)
          + "  refused  flagged: mapped  hat/shorts/skirt")
    for m in list_models():
        if m["dataset"] != "fashion-mnist":
            continue
        clf = load_model(m["name"])
        r = evaluate_photos(clf, folder)
        cells = " ".join(f"{r['per_class'][c]['accepted']:>4}/{r['per_class'][c]['n']:<5}"
                         for c in classes)
        others = " ".join(f"{v['flagged']}/{v['n']}" for v in r["others"].values())
        view = " (photo view)" if clf.photo_view is not None else ""
        print(f"{m['name'] + view:<34} {100 * r['accepted']:5.1f}% {cells}  {r['refused']:>7}  "
              f"{100 * r['flagged']:13.1f}%  {100 * r['others_flagged']:5.1f}% ({others})",
              flush=True)
    jpeg = phone_jpeg()
    ms = median_ms(default.preprocess, [jpeg] * 11)
    whole = median_ms(default.assess, [jpeg] * 11)
    print(f"\n12-megapixel phone JPEG ({len(jpeg) / 2**20:.1f} MB), {DEFAULT_MODEL}: "
          f"preprocessing median {ms:.0f} ms, the whole answer (decode, preprocess, predict"
          f"{', ImageNet view' if default.photo_view is not None else ''}) median {whole:.0f} ms"
          " of 11")


if __name__ == "__main__":
    main()
