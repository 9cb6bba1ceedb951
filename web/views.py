"""How results are shown: the words and pictures of an answer, and the one place where an
answer becomes the page's outputs.

    page = Page(message, probs=label_update(clf, reading), seen=crisp(reading.seen), ...)
    page.outputs()      # the values of the answer panel's components, in their order
"""
from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass, field

import gradio as gr
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from classifier.datasets import DATASETS

CALIBRATED = "Top classes (calibrated)"
LIVE_MARK = "While you draw"
LIVE_TITLE = f"{LIVE_MARK} (lift the pen for the full answer)"
CALIBRATED_MEANS = (
    "*Calibrated* means: for inputs like the training images, answers given at 80% are "
    "right about 80% of the time. It promises nothing for anything else (a scribble, a hat), "
    "so each model also scores how unlike its training images the input is, and says so "
    "when it is.")
COLOURS = ("*Overlay colours*: dark where the method found no evidence for the class, through "
           "red and orange to bright yellow where the evidence is strongest. Each map is scaled "
           "to its own maximum, so colours compare places within one map, not across maps.")
# the overlay's colour scale (matplotlib's inferno), shown under it
LEGEND = ('<div class="legend"><span>no evidence</span><span class="bar"></span>'
          '<span>strongest evidence for the class</span></div>')


@dataclass
class Page:
    """Everything the page shows for one input; ``outputs`` is the one mapping onto the
    components (``app.more_panel``'s list, in the same order)."""
    message: str                       # Markdown over the answer: the answer, or what is wrong
    probs: object = None               # the Label's update: probabilities, title, greying
    seen: np.ndarray | None = None     # the 28x28 input, scaled up with hard edges
    overlay: np.ndarray | None = None  # the explanation over the input
    note: str = ""                     # the explanation's caption, or why there is none
    maps: list = field(default_factory=list)      # [(feature map, caption)]
    rows: list | None = None           # the compare-all table
    gallery: list = field(default_factory=list)   # each model's small explanation
    steps: list = field(default_factory=list)     # [(picture, caption)]: a photo's steps
    number: np.ndarray | None = None   # a number's digits side by side, or None
    live: bool = False                 # an answer while the pen moves: the rest waits

    def outputs(self) -> tuple:
        number = gr.update(value=self.number, visible=self.number is not None)
        if self.live:  # the overlay and everything under it keep showing until the pen lifts
            return (self.message, self.probs, self.seen, *[gr.skip()] * 6, number)
        return (self.message, self.probs, self.seen, self.overlay, self.note, self.maps,
                self.rows, self.gallery, self.steps, number)


def crisp(seen: np.ndarray, size: int = 280) -> np.ndarray:
    """The 28x28 model input, scaled up with hard pixel edges."""
    return np.asarray(Image.fromarray(seen).resize((size, size), Image.Resampling.NEAREST))


KEEPS = ("Sending keeps the model's 28x28 input, the image shrunk to at most 512 px, the "
         "model, its answer and your label, to train better models; nothing about you.")


def answer(probs: dict[str, float]) -> str:
    return max(probs, key=probs.get)


def judged(clf, reading):
    """The probabilities to show and a message: guesses greyed, with a warning, when the
    input does not look like the model's training data."""
    probs, flagged = reading.probs, reading.ood
    seen_by = imagenet_note(reading.evidence)
    if not flagged:
        label = CALIBRATED if reading.evidence is None else "Probabilities"
        return gr.update(value=probs, label=label, elem_classes=[]), seen_by
    return (gr.update(value=probs, label="Guesses (not to be trusted here)",
                      elem_classes=["ood"]),
            f"**This does not look like {DATASETS[clf.dataset].noun}** to {clf.name}: it is "
            "unlike the images it was trained on, so its guesses below are not to be trusted."
            + (f" {seen_by}" if seen_by else ""))


def imagenet_note(evidence) -> str:
    """What the ImageNet view saw in a photo, in words (empty for other models)."""
    if evidence is None:
        return ""
    names = ", ".join(f"{name.lower()} {p:.0%}" for name, p in evidence.top5[:3])
    other = (f" {evidence.other:.0%} of the garments it sees are of kinds that none of the ten "
             "classes is." if evidence.other >= 0.2 else "")
    return ("The ImageNet network this model was fine-tuned from sees the whole photo as: "
            f"{names}.{other}")


def number_message(clf, number: dict) -> str:
    """What the page says of a drawing read as several digits: the number, or, when half its
    pieces or more look unlike digits, or one nothing like any (a scribble cut up), that it
    does not look like one."""
    digits, unlike = number["digits"], sum(d["ood"] for d in number["digits"])
    if number["ood"]:
        how = "unlike" if 2 * unlike >= len(digits) else "nothing like"
        return (f"**This does not look like a number** to {clf.name}: cut into {len(digits)} "
                f"pieces it would read {number['number']}, but {unlike} of them "
                f"{'looks' if unlike == 1 else 'look'} {how} the digits it was trained on "
                "(greyed below). Neither that nor the guesses below are to be trusted.")
    return (f"**Reads as the number {number['number']}**: "
            + ", ".join(f"{d['label']} ({d['prob']:.0%})" for d in digits)
            + ". The guesses below read the whole drawing as one digit."
            + (" The greyed digit looks unlike the training digits." if unlike == 1 else
               " The greyed digits look unlike the training digits." if unlike else ""))


def number_picture(digits: list[dict], side: int = 84) -> np.ndarray:
    """Each digit's 28x28 image side by side, its answer under it: one picture, which
    stays one row on a phone. A digit that looks unlike the training digits is greyed."""
    gap, text = 8, 26
    out = Image.new("RGB", (len(digits) * (side + gap) - gap, side + text), "white")
    draw = ImageDraw.Draw(out)
    for k, d in enumerate(digits):
        left = k * (side + gap)
        seen = crisp(d["image"], side) // (3 if d["ood"] else 1)
        out.paste(Image.fromarray(seen).convert("RGB"), (left, 0))
        draw.text((left + side // 2, side + text // 2), f"{d['label']}  {d['prob']:.0%}",
                  fill="#999999" if d["ood"] else "black", anchor="mm",
                  font=ImageFont.load_default(size=16))
    return np.asarray(out)


def feature_gallery(activations: dict[str, np.ndarray]) -> list:
    """The first eight feature maps of each conv stage, each scaled to its own range."""
    out = []
    for layer, maps in activations.items():
        for k in range(min(8, len(maps))):
            m = maps[k] - maps[k].min()
            m = (255 * m / max(float(m.max()), 1e-6)).astype(np.uint8)
            out.append((crisp(m, 112), f"{layer} #{k}"))
    return out


def comparison(ranked: list[dict]) -> tuple[list, list]:
    """The compare-all table and gallery of ``app.rank_all``'s rows; a model to which the
    input does not look like its training data says so beside its answer."""
    rows, gallery = [], []
    for r in ranked:
        e, p = r["explanation"], r["top3"][r["label"]]
        like = "-" if r["ood_score"] is None else "no" if r["ood"] else "yes"
        rows.append([r["model"], r["label"], like,
                     ", ".join(f"{k} {v:.1%}" for k, v in r["top3"].items()), r["ms"]])
        gallery.append((e.overlay, f"{r['model'].split('-')[-1]}: {r['label']} {p:.0%}"
                        + (" (flagged)" if r["ood"] else "")
                        + (" (no heat)" if e.empty else "")))
    return rows, gallery


def card_summary(name: str, clf) -> str:
    """The Models tab's headline for one checkpoint: accuracy, size, how it was trained."""
    metrics, config, tr = clf.metrics, clf.config, clf.config["training"]
    text = (f"### {name}\n**Test accuracy {100 * metrics['test_accuracy']:.2f}%** "
            f"({metrics['test_size']:,} test images) · {metrics['parameters']:,} parameters · "
            f"init: {config['init']} · {metrics['epochs_run']} epochs, "
            f"{metrics['train_seconds'] / 60:.1f} min on {metrics['device']} · "
            f"{tr['optimizer']} lr {tr['lr']} ({tr['schedule']}), augmentation "
            f"{tr['augment']} · calibration temperature {config['temperature']} "
            f"(ECE {100 * metrics['ece_before_temperature']:.2f}% -> "
            f"{100 * metrics['ece_after_temperature']:.2f}%)")
    if "filters" not in clf.plots():
        text += (f"\n\nNo first-layer filters to show: {clf.arch} has no convolutional "
                 "layer, so its first layer has no small image-like filters.")
    return text


FILE_LINK = re.compile(r"\[([^\]]+)\]\((?!https?:)[^)\s]+\)")


def without_file_links(markdown: str) -> str:
    """Links to files beside the report (a model's README) do not resolve on the page:
    keep their text. The models are picked below it instead."""
    return FILE_LINK.sub(r"\1", markdown)


def short(value) -> str:
    """A value as a message may quote it: its repr, cut at 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def change_picture(delta: np.ndarray, size: int = 280) -> np.ndarray:
    """A change to a 28x28 input, amplified to its own largest pixel: red where ink was
    added, blue where it was taken away, white where nothing changed."""
    scale = max(float(np.abs(delta).max()), 1e-6)
    d = np.clip(delta / scale, -1, 1)[..., None]
    red, blue, white = np.array([214, 39, 40.]), np.array([31, 119, 180.]), np.full(3, 255.)
    rgb = np.where(d > 0, white + d * (red - white), white - d * (blue - white))
    return crisp(rgb.astype(np.uint8), size)


def fooled(result, others: dict[str, tuple[str, float]], photo_view: bool = False) -> str:
    """What the page says of ``attack.fool``'s result, and whether the trick transfers to the
    dataset's other models (``others``: {model: (answer, probability)}). ``photo_view``: the
    model also reads the photo with ImageNet, which the change does not touch."""
    if not result.flipped:
        goal = f"answer {result.target}" if result.target else "change its answer"
        return (f"No change within a largest pixel change of {result.budget:.2f} made the "
                f"model {goal}: it stays {result.original}.")
    fooled_too = [m for m, (label, _) in others.items() if label != result.original]
    lines = [f"**{result.original} → {result.label}** ({result.prob:.0%}) after a change of "
             f"at most **{result.linf:.3f}** per pixel (0-1 scale; L2 {result.l2:.2f}), "
             f"found in {result.seconds:.1f} s.",
             "The same changed image, given to the other models: "
             + ", ".join(f"{m.split('-', 1)[1] if '-' in m else m} {label} ({p:.0%})"
                         for m, (label, p) in others.items())
             + f". {len(fooled_too)} of {len(others)} no longer answer {result.original}."]
    if photo_view:
        lines.append("This is the 28x28 model alone: the photo's ImageNet reading, which the "
                     "answer above also weighs, sees the photo, not this change.")
    return "\n\n".join(lines)


def trust_note(trust) -> str:
    """``trust.check_explanation``'s figures in plain words, under the overlay."""
    return trust.words


def data_url(image: np.ndarray) -> str:
    """An image as a PNG data URL: an API answer that needs no file on the server."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
