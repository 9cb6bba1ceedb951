"""Accuracy on what users send, built from real test images (training/synthetic.py):
Sketchpad drawings, ink on paper photos (also under a shadow, and beside the dark table),
and Fashion-MNIST items as product photos; and for the clothing models, the real
development photos (accepted answers per photo class); big drawings touching each canvas
edge; numbers of 2-4 digits read whole (written apart, with broken strokes, touching);
two-digit numbers with a 1, drawn as pen strokes close together (``pairs``); digits and
numbers of 2-4 digits drawn as pen strokes on the page's canvas with its pen, in a stroke
font of common styles, not from MNIST, also written uphill and downhill (``handwriting``,
training/handwriting.py); what the digit page warns about (``warned``: scribbles, letters
and shapes, against drawn digits and numbers, read as the page reads them, a number or one
digit); and, with ``--ood``, the out-of-distribution table of ``python -m benchmarks.ood``.

    python -m benchmarks.robustness [--n 2000] [--ood]
        [--parts sets edges numbers pairs handwriting warned photos]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks.ood import LETTERS
from classifier import BlankImageError, list_models, load_model
from training import synthetic
from training.data import read_split
from training.handwriting import PEN, handwritten_digit, handwritten_number
from training.served import evaluate_photos

PARTS = ["sets", "edges", "numbers", "pairs", "handwriting", "warned", "photos"]
SETS = {"mnist": {"clean": None, "sketchpad": synthetic.sketch, "paper+jpeg": synthetic.paper,
                  "paper+shadow": lambda x, rng: synthetic.paper(x, rng, shadow=0.6),
                  "paper+table": lambda x, rng: synthetic.paper(x, rng, table=True)},
        "fashion-mnist": {"clean": None, "product photo": synthetic.product}}


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.robustness",
                                description=__doc__)
    p.add_argument("--n", type=int, default=2000, help="test images per set (default: 2000)")
    p.add_argument("--ood", action="store_true", help="also the out-of-distribution table")
    p.add_argument("--parts", nargs="*", default=PARTS, choices=PARTS,
                   help="which parts to measure (default: all)")
    p.add_argument("--pen", type=int, default=PEN,
                   help="handwriting and pairs: the pen's width in canvas pixels "
                        f"(default: the page's, {PEN})")
    p.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared/data"))
    args = p.parse_args()
    for dataset, sets in SETS.items() if "sets" in args.parts else ():
        images, labels = read_split(args.data_dir, dataset, "test")
        images, labels = images[:args.n].numpy(), labels[:args.n].tolist()
        models = [load_model(m["name"]) for m in list_models() if m["dataset"] == dataset]
        for set_name, make in sets.items():
            rng = np.random.default_rng(0)
            inputs = [x if make is None else make(x, rng) for x in images]
            seen = [models[0].preprocess(x) for x in inputs]  # the same path for every model
            for clf in models:
                hits = [clf.predict(s) == clf.class_names[y] for s, y in zip(seen, labels)]
                print(f"{dataset:<14} {set_name:<14} {clf.name:<24} "
                      f"accuracy {100 * np.mean(hits):6.2f}%  (n={len(hits)})", flush=True)
    mnist, mnist_labels = read_split(args.data_dir, "mnist", "test")
    mnist, mnist_labels = mnist.numpy(), mnist_labels.numpy()
    cnn = load_model("mnist-cnn")
    for edge in ("top", "bottom", "left", "right", "fill") if "edges" in args.parts else ():
        rng = np.random.default_rng(0)
        hits, refused = 0, 0
        for x, y in zip(mnist[:args.n // 2], mnist_labels[:args.n // 2]):
            try:
                hits += cnn.predict(synthetic.sketch_at_edge(x, rng, edge)) == str(y)
            except BlankImageError:
                refused += 1
        print(f"mnist          edge: {edge:<8} mnist-cnn                accuracy "
              f"{100 * hits / (args.n // 2):6.2f}%  refused {refused}", flush=True)
    for kind in ("apart", "broken", "touching", "one digit") if "numbers" in args.parts else ():
        rng = np.random.default_rng(0)
        right, total = 0, args.n // 4
        for _ in range(total):
            idx = rng.integers(0, len(mnist), 1 if kind == "one digit" else int(rng.integers(2, 5)))
            drawing = (synthetic.sketch(mnist[idx[0]], rng) if kind == "one digit" else
                       synthetic.number([mnist[i] for i in idx], rng, broken=kind == "broken",
                                        touching=kind == "touching"))
            right += _read(cnn, drawing) == "".join(str(mnist_labels[i]) for i in idx)
        print(f"mnist          number: {kind:<8} mnist-cnn              whole number right "
              f"{100 * right / total:6.2f}%  (n={total}, "
              f"{'a canvas drawing' if kind == 'one digit' else '2-4 digits'})", flush=True)
    if "pairs" in args.parts:
        drawings = close_pairs(args.pen)
        right = sum(_read(cnn, d) == n for d, n in drawings)
        print(f"mnist          number: 1 close  mnist-cnn              whole number right "
              f"{100 * right / len(drawings):6.2f}%  ({right} of {len(drawings)}: 11, 17, 71, "
              "14, 41, 12 in strokes 16-28 px apart)", flush=True)
    if "handwriting" in args.parts:
        handwriting(args.n, args.pen)
    if "warned" in args.parts:
        warned(cnn, args.n // 4, mnist)
    photos = Path(args.data_dir) / "clothing-photos"
    for m in (m for m in list_models() if m["dataset"] == "fashion-mnist" and photos.is_dir()
              and "photos" in args.parts):
        r = evaluate_photos(load_model(m["name"]), photos)
        per_class = "  ".join(f"{c} {v['accepted']}/{v['n']}" for c, v in r["per_class"].items())
        print(f"fashion-mnist  real photos    {m['name']:<24} "
              f"accepted {100 * r['accepted']:6.2f}%  "
              f"refused {r['refused']}/{r['total']}  flagged {100 * r['flagged']:5.1f}%  "
              f"({per_class})", flush=True)
    if args.ood:
        from benchmarks.ood import main as ood_table

        ood_table(["--data-dir", args.data_dir, "--photos", str(photos)])


def handwriting(n: int, pen: int = PEN, seed: int = 0) -> None:
    """Single digits (n / 2) for every digit model: right, and flagged as not a digit; and
    numbers of 2, 3 and 4 digits (n / 8 each) read whole by mnist-cnn."""
    rng = np.random.default_rng(seed)
    drawings = [handwritten_digit(rng, pen=pen) for _ in range(n // 2)]
    models = [load_model(m["name"]) for m in list_models() if m["dataset"] == "mnist"]
    seen = [models[0].preprocess(d) for d, _ in drawings]  # the same path for every model
    for clf in models:
        judged = [clf.assess(s) for s in seen]
        right = np.mean([max(p, key=p.get) == y for (p, _, _), (_, y) in zip(judged, drawings)])
        flagged = np.mean([ood for _, _, ood in judged])
        print(f"mnist          handwritten    {clf.name:<24} accuracy {100 * right:6.2f}%  "
              f"flagged {100 * flagged:5.2f}%  (n={len(drawings)}, pen {pen} px)", flush=True)
    cnn = load_model("mnist-cnn")
    for digits in (2, 3, 4):
        rng = np.random.default_rng(seed * 10 + digits)
        numbers = [handwritten_number(rng, digits, pen=pen) for _ in range(n // 8)]
        right = sum(_read(cnn, d) == number for d, number in numbers)
        print(f"mnist          handwritten: {digits} digits mnist-cnn            whole number "
              f"right {100 * right / len(numbers):6.2f}%  (n={len(numbers)}, pen {pen} px)",
              flush=True)
    for slope in (-0.2, 0.2):  # written uphill and downhill, the digits upright
        right, total = 0, 0
        for digits in (2, 3, 4):
            rng = np.random.default_rng(seed * 10 + digits)
            numbers = [handwritten_number(rng, digits, pen=pen, slope=slope)
                       for _ in range(n // 8)]
            right += sum(_read(cnn, d) == number for d, number in numbers)
            total += len(numbers)
        print(f"mnist          handwritten: {'uphill' if slope < 0 else 'downhill':<8} "
              f"mnist-cnn            whole number right {100 * right / total:6.2f}%  "
              f"(n={total}, 2-4 digits, {abs(slope):.1f} px per px, pen {pen} px)", flush=True)


def warned(clf, n: int, mnist: np.ndarray) -> None:
    """Share of drawings the digit page answers with a warning, decided as ``app.analyse``
    decides it, from ``Classifier.analyse``: a drawing read as several digits is warned about
    when its number is flagged (half its digits or more look unlike digits, or one nothing
    like any), otherwise when it is flagged as one digit."""
    def warns(drawing) -> bool:
        try:
            reading = clf.analyse(drawing)
        except BlankImageError:
            return True  # refused: no answer given either
        return reading.number["ood"] if reading.number else reading.ood

    rng = np.random.default_rng(1)
    sets = {"scribbles": [synthetic.scribble(rng) for _ in range(n)],
            "letters": [synthetic.letter(LETTERS[i % len(LETTERS)], rng) for i in range(n)],
            "shapes": [synthetic.shapes(rng) for _ in range(n)],
            "drawn digits": [handwritten_digit(rng)[0] for _ in range(n)],
            "drawn numbers": [handwritten_number(rng, int(k))[0]
                              for k in rng.integers(2, 5, n)],
            "canvas digits": [synthetic.sketch(x, rng) for x in mnist[:n]]}
    for name, drawings in sets.items():
        share = np.mean([warns(d) for d in drawings])
        print(f"mnist          page warns     {clf.name:<24} {name:<14} {100 * share:6.2f}%  "
              f"(n={len(drawings)})", flush=True)


def _read(clf, drawing) -> str:
    try:
        return clf.read_number(drawing)["number"]
    except BlankImageError:
        return ""


def close_pairs(pen: int = PEN) -> list[tuple[np.ndarray, str]]:
    """(drawing, number): two-digit numbers with a 1, drawn as the page draws them (280 px
    canvas, round pen ends, ink in alpha), the digits' strokes 16-28 px apart, centre to
    centre: they touch or nearly touch, and a pair with a 1 is narrow."""
    def one(x, slant=0):
        return [[(x + slant, 60), (x - slant, 220)]]

    def seven(x):
        return [[(x - 35, 60), (x + 35, 60), (x - 5, 220)]]

    def four(x):
        return [[(x - 10, 60), (x - 40, 160), (x + 35, 160)], [(x + 15, 90), (x + 15, 220)]]

    def two(x):
        return [[(x, 90), (x + 30, 60), (x + 60, 90), (x, 220), (x + 70, 220)]]

    pairs = []
    for gap in (16, 20, 24, 28):
        pairs += [(one(140 - gap // 2) + one(140 + gap // 2), "11"),
                  (one(140 - gap // 2, 8) + one(140 + gap // 2, 8), "11"),
                  (one(100) + seven(135 + gap), "17"), (seven(100) + one(135 + gap), "71"),
                  (one(80) + four(120 + gap), "14"), (four(90) + one(130 + gap), "41"),
                  (one(80) + two(90 + gap), "12")]
    return [(synthetic.pen(280, strokes, pen, round_ends=True), number)
            for strokes, number in pairs]


if __name__ == "__main__":
    main()
