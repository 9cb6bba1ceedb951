"""A loaded model with the verbs users know: preprocess, predict_proba, predict, explain.

    clf = load_model("mnist-cnn")                 # shipped name, folder, or Hub repo id
    clf.predict_proba("seven.png")                # {"0": 0.0001, ..., "7": 0.998, ...}
    clf.preprocess("seven.png")                   # the uint8 28x28 image the model saw
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from classifier.checkpoint import (CHECKPOINTS_DIR, available_models, load_checkpoint,
                                   read_metrics)
from classifier.digits import marks_inside_a_loop
from classifier.image import ImageError, load_rgba
from classifier.pixels import light_on_dark, passthrough
from classifier.ood import NEEDS, features, load_stats, scores
from classifier.photo import Evidence, PhotoView
from classifier.preprocess import Prepared, normalize, prepare, prepare_steps, prepared, recipe_for

# A number is flagged when half its digits are past the OOD threshold, or one is this many
# times past it: a scribble's piece can be that unlike a digit, a drawn digit rarely is
FAR_UNLIKE = 6.0


@dataclass
class Reading:
    """``Classifier.analyse``'s answer for one input."""
    seen: np.ndarray                     # uint8 (28, 28): what the model saw
    steps: list                          # [(picture, caption)] for a clothing photo, else []
    probs: dict[str, float]              # calibrated, in class order
    ood_score: float | None              # higher = less like the training data
    ood: bool                            # flagged: Classifier.unlike
    maps: dict[str, np.ndarray]          # conv activations (channels, h, w); {} without conv
    evidence: Evidence | None = None     # a photo's ImageNet reading, for models that have one
    number: dict | None = None           # a drawing of several digits read as a number
    photo: np.ndarray | None = None      # the decoded input (RGBA), None for a prepared 28x28


class Classifier:
    """A checkpoint's model plus everything needed to serve it (config, calibration)."""

    def __init__(self, model: nn.Module, config: dict):
        self.model = model.eval()
        self.config = config
        self.name: str = config.get("name") or Path(config.get("folder", "model")).name
        self.dataset: str = config["dataset"]
        self.recipe = recipe_for(config)  # how user images become its 28x28 input
        self.arch: str = config["arch"]
        self.class_names: list[str] = list(config["class_names"])
        self.temperature: float = float(config.get("temperature", 1.0))
        self.mean, self.std = float(config["mean"]), float(config["std"])
        # Captum's Grad-CAM hooks into the shared model while it runs, so every forward pass
        # (predictions too) takes this lock: otherwise one thread's pass runs another's hook.
        self.lock = threading.RLock()
        self.metrics = _read_metrics(config.get("folder"))
        # out-of-distribution score: the method and threshold fitted for this checkpoint
        self.ood_config: dict = config.get("ood") or {}
        self.ood_stats = load_stats(config["folder"]) if config.get("folder") else None
        needs = NEEDS.get(self.ood_config.get("method"), ())
        if not set(needs) <= set(self.ood_stats or {}):
            self.ood_config = {}  # its statistics are missing: no score rather than a wrong one
        # a fine-tuned clothing model may also read photos with its ImageNet network
        self.photo_view = (PhotoView.load(config["folder"], config["photo"], self.class_names)
                           if config.get("photo") and config.get("folder") else None)

    @property
    def test_accuracy(self) -> float | None:
        return self.metrics.get("test_accuracy")

    @property
    def has_conv(self) -> bool:
        return hasattr(self.model, "cam_layer")

    def plots(self) -> dict[str, Path]:
        """The report figures saved with the checkpoint, by name (``confusion``,
        ``misclassified``, ``curves``, ``filters``); a model without one has no entry."""
        if not self.config.get("folder"):
            return {}
        paths = {n: Path(self.config["folder"]) / f"{n}.png"
                 for n in ("confusion", "misclassified", "curves", "filters")}
        return {n: path for n, path in paths.items() if path.is_file()}

    def preprocess(self, image) -> np.ndarray:
        """The uint8 (28, 28) image the model sees (background 0), for display too."""
        return prepare(image, self.recipe)

    def preprocess_steps(self, image) -> tuple[np.ndarray, list[tuple[np.ndarray, str]]]:
        """``preprocess(image)`` and, for a clothing photo, pictures of how it was read
        (the garment outlined, cut out, the 28x28 image), each with a caption."""
        return prepare_steps(image, self.recipe)

    def seen(self, image) -> np.ndarray:
        """``preprocess(image)``, unless ``image`` already is a prepared uint8 28x28."""
        return image if _is_prepared(image) else self.preprocess(image)

    def tensor(self, image) -> torch.Tensor:
        """Normalised model input (1, 1, 28, 28); ``image`` may already be a 28x28 uint8."""
        return normalize(self.seen(image), self.mean, self.std)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        with self.lock, torch.inference_mode():
            return self.model(x)

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """Calibrated probabilities (N, classes) for a normalised batch."""
        return (self.logits(x) / self.temperature).softmax(1)

    def probabilities_and_ood(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Calibrated probabilities (N, classes) and the out-of-distribution score (N,),
        higher = less like the training data (None where the checkpoint has none), from
        one forward pass."""
        with self.lock, torch.inference_mode():
            logits, feats = features(self.model, x)
        probs = (logits / self.temperature).softmax(1)
        method = self.ood_config.get("method")
        if method is None:
            return probs, None
        return probs, scores(logits, feats, self.temperature, self.ood_stats)[method]

    def is_ood(self, score: float | None) -> bool:
        """Whether a score is past this checkpoint's threshold (about 1% of held-out
        training images are)."""
        return score is not None and score > self.ood_config["threshold"]

    def unlike(self, seen: np.ndarray, score: float | None) -> bool:
        """Whether a prepared image is flagged as unlike the training images: its score past
        the threshold, or, for a digit model, a mark inside a closed loop of other ink (a
        smiley's eyes), which no digit has and the score alone let through."""
        return self.is_ood(score) or (self.recipe.loop_rule and marks_inside_a_loop(seen))

    def assess(self, image, photo=None) -> tuple[dict[str, float], float | None, bool]:
        """({class name: probability}, the out-of-distribution score or None, whether it is
        flagged (``unlike``)) for one image, from one forward pass. For a model with a
        photo view and a photo, the probabilities and the flag take its ImageNet reading
        into account (``classifier.photo``). ``photo``: the decoded photo (RGBA) that
        ``image``, already a prepared 28x28, was made from."""
        if self.photo_view is None or _is_prepared(image):
            return self._judged(self.seen(image), self.evidence(photo))
        photo = load_rgba(image)
        return self._judged(self.preprocess(photo), self.evidence(photo))

    def evidence(self, photo) -> Evidence | None:
        """The ImageNet reading of a decoded photo (RGBA), for a model with a photo view;
        None otherwise, and for an image that already looks like a dataset image."""
        if self.photo_view is None or photo is None or passthrough(photo) is not None:
            return None
        return self.photo_view.read(photo)

    def _judged(self, seen: np.ndarray, evidence: Evidence | None = None
                ) -> tuple[dict[str, float], float | None, bool]:
        """``assess`` of a prepared image, and of the photo's ImageNet reading if any."""
        probs, score = self.probabilities_and_ood(normalize(seen, self.mean, self.std))
        score = None if score is None else round(float(score[0]), 4)
        p, flagged = probs[0].numpy(), self.unlike(seen, score)
        if evidence is not None:
            p = self.photo_view.combine(p, evidence)
            flagged = self.photo_view.unlike(evidence, flagged)
        return {name: float(v) for name, v in zip(self.class_names, p)}, score, flagged

    def analyse(self, image) -> Reading:
        """What a page shows about one input, the explanation aside: the prepared image
        (and a photo's steps), probabilities, out-of-distribution score and flag, conv
        activations, and for a drawing of several digits the number, from one decoding, one
        preparation and one forward pass. A drawing's ink is extracted once and serves both
        the 28x28 digit and the number."""
        from classifier.explain import watch_conv_stages

        photo = None if _is_prepared(image) else load_rgba(image)
        done = (Prepared(image, [], None) if photo is None
                else prepared(photo, self.recipe, steps=True))
        evidence = self.evidence(photo)
        steps = done.steps
        if evidence is not None:
            name, p = evidence.top5[0]
            caption = f"{len(steps) + 1}. ImageNet: {name.lower()} {p:.0%}"
            steps = [*steps, (evidence.image, caption)]
        maps: dict[str, np.ndarray] = {}
        with self.lock:
            hooks = watch_conv_stages(self.model, maps) if self.has_conv else []
            try:
                probs, score, flagged = self._judged(done.seen, evidence)
            finally:
                for h in hooks:
                    h.remove()
        number = self._several_digits(photo, done.ink)
        return Reading(done.seen, steps, probs, score, flagged, maps, evidence, number, photo)

    def _several_digits(self, photo, ink) -> dict | None:
        """``read_number`` of a drawing of several digits, from its ink; None for one digit,
        for a recipe that reads no numbers, and where the drawing cannot be cut into digits."""
        if photo is None or not self.recipe.reads_numbers:
            return None
        try:
            number = self._number(self.recipe.ink(photo) if ink is None else ink)
        except ImageError:
            return None
        return number if len(number["digits"]) > 1 else None

    def predict_proba(self, image) -> dict[str, float]:
        """{class name: probability} for one image, in class order (calibrated, but for a
        photo read with an ImageNet view: see ``assess``)."""
        if self.photo_view is not None:
            return self.assess(image)[0]
        probs = self.probabilities(self.tensor(image))[0]
        return {name: float(p) for name, p in zip(self.class_names, probs)}

    def predict(self, image) -> str:
        probs = self.predict_proba(image)
        return max(probs, key=probs.get)

    def read_number(self, image) -> dict:
        """Several digits side by side (digit models only): ``{"number": "42", "digits":
        [{"label", "prob", "image", "ood_score", "ood"}, ...], "ood"}``, digits left to right,
        ``image`` the 28x28 each one became, ``prob`` its calibrated probability, ``ood``
        whether it is flagged as ``assess`` flags it (``unlike``); the number's ``ood``:
        whether half of its digits or more are, or one is ``FAR_UNLIKE`` times past the
        threshold (a scribble cut into pieces, not a number)."""
        if not self.recipe.reads_numbers:
            raise ValueError(f"{self.name} reads clothing, not numbers")
        return self._number(self.recipe.ink(load_rgba(image)))

    def _number(self, ink: np.ndarray) -> dict:
        """``read_number`` of a drawing's cleaned ink."""
        from classifier.number import read_digits

        distance = self.ood_config.get("method") in NEEDS

        def judge(batch):  # a distance over its threshold: 1 is the edge of "a digit"
            probs, score = self.probabilities_and_ood(normalize(batch, self.mean, self.std))
            unlike = (score / self.ood_config["threshold"]).numpy() if distance else None
            return probs.numpy(), unlike, None if score is None else score.numpy()

        seen, probs, scores_ = read_digits(ink, judge)
        best = torch.from_numpy(probs).max(1)
        digits = []
        for k, img in enumerate(seen):
            s = None if scores_ is None else round(float(scores_[k]), 4)
            digits.append({"label": self.class_names[int(best.indices[k])],
                           "prob": float(best.values[k]), "image": img, "ood_score": s,
                           "ood": self.unlike(img, s)})  # as assess judges it
        flagged = sum(d["ood"] for d in digits)
        far = distance and any(d["ood_score"] > FAR_UNLIKE * self.ood_config["threshold"]
                               for d in digits)
        return {"number": "".join(d["label"] for d in digits), "digits": digits,
                "ood": 2 * flagged >= len(digits) or far}

    def explain(self, image, method: str = "saliency", target: int | str | None = None,
                size: int = 280):
        """An ``Explanation`` (attribution map, overlay of ``size`` px, target); see
        ``classifier.explain``."""
        from classifier.explain import explain

        if target in (None, "") and self.photo_view is not None and not _is_prepared(image):
            photo = load_rgba(image)  # explain the answer given, photo view included
            image = self.preprocess(photo)  # prepared once, for the answer and the map
            probs = self._judged(image, self.evidence(photo))[0]
            target = max(probs, key=probs.get)
        return explain(self, image, method=method, target=target, size=size)

    def feature_maps(self, image) -> dict[str, np.ndarray]:
        """Activations (channels, h, w) of each conv stage for one image (conv models only)."""
        from classifier.explain import feature_maps

        return feature_maps(self, image)

    def target_index(self, target: int | str | None, x: torch.Tensor) -> int:
        """Class index from an index, a class name, or None (the predicted class)."""
        if target is None or target == "":
            return int(self.logits(x).argmax(1))
        if isinstance(target, str) and target in self.class_names:
            return self.class_names.index(target)
        if isinstance(target, (int, np.integer)) or (isinstance(target, str)
                                                      and target.isdigit()):
            index = int(target)
            if 0 <= index < len(self.class_names):
                return index
        raise ValueError(f"unknown target class {target!r}; choose one of {self.class_names}")


def _is_prepared(image) -> bool:
    """A uint8 28x28 array that passes the same rule as a 28x28 image file would."""
    return (isinstance(image, np.ndarray) and image.shape == (28, 28)
            and image.dtype == np.uint8 and light_on_dark(image / 255.0))


def _read_metrics(folder) -> dict:
    """The checkpoint's test metrics without the per-epoch history ({} if none)."""
    m = read_metrics(folder) if folder else {}
    m.pop("history", None)
    return m


def number_summary(number: dict) -> dict:
    """``read_number``'s answer without the digit images, probabilities rounded: what the
    API and the CLI return."""
    return {"number": number["number"], "ood": number["ood"],
            "digits": [{"label": d["label"], "prob": round(d["prob"], 4),
                        "ood_score": d["ood_score"], "ood": d["ood"]} for d in number["digits"]]}


def top_k(probs: dict[str, float], k: int = 3) -> dict[str, float]:
    """The ``k`` likeliest classes of ``probs``, likeliest first."""
    return dict(sorted(probs.items(), key=lambda kv: -kv[1])[:k])


_load_lock = threading.Lock()


@lru_cache(maxsize=32)
def _cached(name: str, device: str) -> Classifier:
    return Classifier(*load_checkpoint(name, device=device))


def load_model(name: str, device: str = "cpu") -> Classifier:
    """Load a shipped model by name (``mnist-cnn``), a checkpoint folder, or a Hub repo id.
    Loaded models are cached, so repeated calls are free."""
    with _load_lock:
        return _cached(str(name), device)


def study(root: Path | None = None) -> tuple[str, Path | None]:
    """The comparison study of the shipped models: REPORT.md's text up to its first figure,
    and the comparison figure (None if missing)."""
    root = Path(root or CHECKPOINTS_DIR)
    report, figure = root / "REPORT.md", root / "comparison.png"
    text = (report.read_text().split("![")[0] if report.is_file()
            else "No REPORT.md yet: run `python -m training --all`.")
    return text, figure if figure.is_file() else None


def list_models(root: Path | None = None) -> list[dict]:
    """Every shipped model with its dataset, architecture, classes and test accuracy, read
    from the checkpoints' files without loading any weights."""
    out = []
    for name in available_models(root):
        folder = Path(root or CHECKPOINTS_DIR) / name
        config = json.loads((folder / "config.json").read_text())
        metrics = _read_metrics(folder)
        out.append({"name": name, "dataset": config["dataset"], "arch": config["arch"],
                    "class_names": list(config["class_names"]),
                    "test_accuracy": metrics.get("test_accuracy")})
    return out
