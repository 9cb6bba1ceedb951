"""Command line for the classifier library.

    python -m classifier models [--json]
    python -m classifier predict --model mnist-cnn digit.png [more.png ...] [--json]
    python -m classifier predict --model mnist-cnn --number 42.png --json
    python -m classifier explain --model mnist-cnn --method gradcam digit.png --out overlay.png

Test-set accuracy through this serving path: ``python -m training.served``.
"""
from __future__ import annotations

import argparse
import json
import sys

from PIL import Image

from classifier.checkpoint import CheckpointError
from classifier.explain import METHODS, ExplainError
from classifier.predict import list_models, load_model, number_summary, top_k
from classifier.preprocess import ImageError


def cmd_models(args) -> int:
    models = list_models()
    if args.json:
        for m in models:
            print(json.dumps(m))
    else:
        for m in models:
            acc = f"{100 * m['test_accuracy']:.2f}%" if m["test_accuracy"] is not None else "?"
            print(f"{m['name']:<26} {m['arch']:<9} {m['dataset']:<14} test accuracy {acc}")
    return 0


def cmd_predict(args) -> int:
    clf = load_model(args.model)
    status = 0
    for path in args.images:
        try:
            line = read_number(clf, path) if args.number else classify(clf, path)
        except ImageError as err:  # one bad file does not stop the others
            status = 1
            print(json.dumps({"file": path, "error": str(err)}) if args.json
                  else f"{path}: error: {err}")
            continue
        print(json.dumps(line) if args.json else describe(line))
    return status


def classify(clf, path: str) -> dict:
    probs, score, flagged = clf.assess(path)
    label = max(probs, key=probs.get)
    return {"file": path, "label": label, "index": clf.class_names.index(label),
            "probs": probs, "ood_score": score, "ood": flagged}


def read_number(clf, path: str) -> dict:
    result = clf.read_number(path)
    return {"file": path, **number_summary(result)}


def describe(line: dict) -> str:
    if "number" in line:
        warning = "  [does not look like a number]" if line["ood"] else ""
        return (f"{line['file']}: {line['number']}  (" + ", ".join(
            f"{d['label']} {d['prob']:.1%}" + ("?" if d["ood"] else "") for d in line["digits"])
            + ")" + warning)
    top = top_k(line["probs"]).items()
    warning = "  [does not look like the training data]" if line["ood"] else ""
    return (f"{line['file']}: {line['label']}  ("
            + ", ".join(f"{k} {v:.1%}" for k, v in top) + ")" + warning)


def cmd_explain(args) -> int:
    clf = load_model(args.model)
    e = clf.explain(args.image, method=args.method, target=args.target)
    Image.fromarray(e.overlay).save(args.out)
    print(f"{METHODS[e.method]} for class {e.target_label!r} written to {args.out}")
    return 0


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m classifier", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser("models", help="list the available models with their test accuracy")
    m.add_argument("--json", action="store_true", help="one JSON object per line")
    m.set_defaults(func=cmd_models)
    pr = sub.add_parser("predict", help="classify image files")
    pr.add_argument("--model", required=True, help="model name, folder or Hub repo id")
    pr.add_argument("images", nargs="+", help="image files")
    pr.add_argument("--json", action="store_true", help="one JSON object per line, with "
                    "ood_score (higher = less like the training data) and ood (past the "
                    "model's threshold, or a digit model's mark inside a loop)")
    pr.add_argument("--number", action="store_true",
                    help="read several digits side by side as a number (digit models)")
    pr.set_defaults(func=cmd_predict)
    ex = sub.add_parser("explain", help="write an explanation overlay for one image")
    ex.add_argument("--model", required=True)
    ex.add_argument("--method", choices=list(METHODS), default="saliency",
                    help="(default: saliency)")
    ex.add_argument("--target", help="class name or index (default: the predicted class)")
    ex.add_argument("image")
    ex.add_argument("--out", required=True, help="output PNG")
    ex.set_defaults(func=cmd_explain)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        return args.func(args)
    except (CheckpointError, ExplainError, ImageError, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
