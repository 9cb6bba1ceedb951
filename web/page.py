"""The page's own parts: its style, the drawing canvas, the upload box, the examples, how a
drawing arrives, and each tab's answer panel. Markup, style and script live in files beside
this one.

    sketch = sketchpad()                 # a gr.HTML canvas that sends a data URL per stroke
    png = drawing(value)                 # those bytes, or None for an empty canvas
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
from PIL import Image

from classifier import ImageError
from classifier.image import data_url_bytes
from web import views

log = logging.getLogger("app")

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"
CSS = (HERE / "style.css").read_text()
# The pen is 14 px: numbers written with it stay legible at 65-130 px tall, where a 28 px pen
# ran their strokes into blobs (docs/log.md); a thin stroke of a big digit is thickened to
# MNIST's in preprocessing. training/handwriting.py draws with the same pen.
PAD_SIZE, PAD_PEN = 280, 14  # canvas pixels; the pen's width in them
LIVE = "live:"  # what the canvas puts before a drawing sent while the pen still moves
ANY_CLASS = "any other class"
INTRO = ("# Classify, compare, explain\nDraw a digit or upload a photo of clothing. Fourteen "
         "models trained in this repository answer, show the 28x28 image they saw, and show "
         "why with Saliency, Integrated Gradients, SmoothGrad and Grad-CAM.")


def sketchpad() -> gr.HTML:
    """A plain canvas, drawn on with a mouse, a pen or a finger from the first touch. When
    the pen lifts it sends one small PNG of the whole drawing (ink in the alpha channel; a
    few kB) in a single request: Gradio's Sketchpad spent about 0.6 s in the browser after
    each stroke and then uploaded the canvas about 20 times."""
    html = (HERE / "sketchpad.html").read_text().format(size=PAD_SIZE, pen=PAD_PEN)
    return gr.HTML("", html_template=html, js_on_load=(HERE / "sketchpad.js").read_text(),
                   elem_id="sketchpad", padding=False, apply_default_css=False)


def drawing(value) -> bytes | None:
    """The canvas's PNG, None for an empty canvas (``LIVE`` before it, for a drawing sent
    while the pen moves, is taken off). Only a data URL is read, never a path:
    whatever string a page sends, the server reads no file for it. Anything else becomes
    no bytes, which the app answers with its "not an image" message."""
    if isinstance(value, str) and value.startswith(LIVE):
        value = value[len(LIVE):]
    if value in (None, ""):
        return None
    try:
        return data_url_bytes(value)
    except ImageError as err:
        log.info("not a drawing (%s): %s", err, views.short(value))
        return b""


def accessibility() -> gr.HTML:
    """The page's live region, which announces each final answer to screen readers, and the
    script that gives every output picture an alt text (``a11y.js``)."""
    return gr.HTML("", html_template='<div id="answer-live" class="sr-only" role="status" '
                   'aria-live="polite"></div>', js_on_load=(HERE / "a11y.js").read_text(),
                   padding=False, apply_default_css=False, elem_id="a11y")


def image_upload(**kwargs) -> gr.Image:
    """A file-path ``gr.Image`` whose unreadable files reach the app, which says what is
    wrong, instead of failing inside Gradio's own decoding with no message on the page."""
    component = gr.Image(type="filepath", image_mode=None, **kwargs)
    decode = component.preprocess

    def preprocess(payload):
        try:
            return decode(payload)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            return str(payload.path) if payload is not None and payload.path else None

    component.preprocess = preprocess  # a subclass would make Gradio write a .pyi at import
    return component


def examples(kind: str) -> list[str]:
    return sorted(str(p) for p in (EXAMPLES / kind).glob("*") if p.suffix in (".png", ".jpg"))


def clothing_examples() -> list[list[str]]:
    """[file, caption] pairs, the real photos first, each captioned with its class: the
    names say it (real-dress.jpg, photo-coat.jpg, sandal-2.png)."""
    kinds = {"real": (0, "photo"), "photo": (1, "product photo")}
    rows = []
    for path in examples("clothing"):
        kind, _, rest = Path(path).stem.partition("-")
        if kind not in kinds:
            kind, rest = "", Path(path).stem
        order, source = kinds.get(kind, (2, "Fashion-MNIST"))
        name = (rest.rstrip("-0123456789").replace("-", " ")
                .replace("t shirt top", "T-shirt/top").replace("t shirt", "T-shirt"))
        rows.append((order, path, f"{source}: {name}"))
    return [[path, caption] for _, path, caption in sorted(rows)]


@dataclass
class Panel:
    """One tab's answer and controls. ``outputs`` lists the components in the order of
    ``views.Page.outputs``: the one place where the two meet."""
    status: gr.Markdown
    probs: gr.Label
    seen: gr.Image
    overlay: gr.Image
    note: gr.Markdown
    digits: gr.Image
    steps: gr.Gallery
    model: gr.Dropdown
    method: gr.Radio
    target: gr.Dropdown
    method_note: gr.Markdown
    compare_on: gr.Checkbox
    trust: gr.Markdown
    fool_target: gr.Dropdown
    fool_button: gr.Button
    fool_seen: gr.Image
    fool_change: gr.Image
    fool_note: gr.Markdown
    right: gr.Dropdown
    correct_button: gr.Button
    correct_note: gr.Markdown
    compared: gr.Column | None = None
    table: gr.Dataframe | None = None
    gallery: gr.Gallery | None = None
    maps: gr.Gallery | None = None

    def controls(self) -> list:
        return [self.model, self.method, self.target, self.compare_on]

    def outputs(self) -> list:
        return [self.status, self.probs, self.seen, self.overlay, self.note, self.maps,
                self.table, self.gallery, self.steps, self.digits]


def answer_panel(dataset: str, names: list[str], default: str | None, titles: list[str],
                 notes: str, targets: list[str]) -> Panel:
    """The answer beside the input, so it is in view at once: the message, the top classes,
    the 28x28 image the model saw and the explanation overlay; then the controls."""
    status = gr.Markdown(elem_classes=["status"], elem_id=f"{dataset}-status")
    with gr.Row(equal_height=False):
        probs = gr.Label(num_top_classes=3, label=views.CALIBRATED, elem_id=f"{dataset}-label",
                         min_width=150)
        seen = gr.Image(label="What the model saw (28x28)", interactive=False, height=190,
                        elem_id=f"{dataset}-seen", min_width=150, buttons=[])
        overlay = gr.Image(label="Why (overlay)", interactive=False, height=190,
                           elem_id=f"{dataset}-overlay", min_width=150, buttons=["fullscreen"])
    gr.HTML(views.LEGEND)
    note = gr.Markdown(elem_id=f"{dataset}-note")
    trust = gr.Markdown(elem_id=f"{dataset}-trust", elem_classes=["small"])
    with gr.Row(equal_height=True):
        right = gr.Dropdown(targets[1:], value=None, label="That's wrong: it is a",
                            min_width=150, elem_id=f"{dataset}-right")
        correct_button = gr.Button("Send the right answer", variant="secondary",
                                   min_width=100, elem_id=f"{dataset}-correct")
    correct_note = gr.Markdown(views.KEEPS, elem_classes=["small"],
                               elem_id=f"{dataset}-correct-note")
    digits = gr.Image(label="The number, digit by digit", interactive=False, height=130,
                      visible=False, elem_id=f"{dataset}-digits")
    steps = gr.Gallery(label="How the photo was read: the garment found, cut out, made 28x28 "
                             "(and, for a pretrained model, what its ImageNet network saw)",
                       columns=3, height="auto", object_fit="contain",
                       visible=dataset == "fashion-mnist")
    with gr.Row():
        model = gr.Dropdown(names, value=default, label="Model", min_width=150)
        method = gr.Radio(titles, value=titles[-1], label="Explanation", min_width=150)
        target = gr.Dropdown(targets, value=targets[0], label="Explain class", min_width=150)
    method_note = gr.Markdown(notes)
    with gr.Row(equal_height=True):
        fool_target = gr.Dropdown([ANY_CLASS, *targets[1:]], value=ANY_CLASS, min_width=150,
                                  label="Fool it: make the model answer")
        fool_button = gr.Button("Fool it", variant="secondary", min_width=100,
                                elem_id=f"{dataset}-fool")
    with gr.Row(equal_height=False):
        fool_seen = gr.Image(label="The changed 28x28 input", interactive=False, height=160,
                             min_width=150, buttons=[], elem_id=f"{dataset}-fooled")
        fool_change = gr.Image(label="The change, amplified (red: ink added, blue: taken away)",
                               interactive=False, height=160, min_width=150, buttons=[],
                               elem_id=f"{dataset}-change")
    fool_note = gr.Markdown(elem_id=f"{dataset}-fool-note")
    compare_on = gr.Checkbox(label="Compare all models side by side", value=False)
    return Panel(status, probs, seen, overlay, note, digits, steps, model, method, target,
                 method_note, compare_on, trust, fool_target, fool_button, fool_seen,
                 fool_change, fool_note, right, correct_button, correct_note)


def more_panel(panel: Panel) -> Panel:
    """Below the input and answer: every model side by side (shown while asked for), the
    feature maps, and what "calibrated" means."""
    with gr.Column(visible=False) as panel.compared:
        panel.table = gr.Dataframe(
            headers=["model", "answer", "like its training data", "top 3", "ms"],
            label="All models")
        panel.gallery = gr.Gallery(label="Each model's explanation: Grad-CAM where the model "
                                   "has conv layers, Saliency otherwise", columns=6,
                                   height=240, object_fit="contain")
    with gr.Accordion("Feature maps of conv models", open=False):
        panel.maps = gr.Gallery(label="Activations for this input", columns=8, height=260)
    gr.Markdown(views.CALIBRATED_MEANS + " " + views.COLOURS, elem_classes=["small"])
    return panel


def models_tab(text: str, figure, names: list[str]) -> tuple[gr.Dropdown, list]:
    """The comparison study (its text without file links, its figure), then a model card
    picked from ``names``: (the picker, the card's components, in ``app.model_card``'s order)."""
    gr.Markdown(views.without_file_links(text), elem_classes=["report"])
    if figure:
        gr.Image(str(figure), show_label=False, interactive=False, elem_id="study-figure")
    chosen = gr.Dropdown(names, label="Model card", value=names[0] if names else None)
    card = gr.Markdown()
    per_class = gr.Dataframe(headers=["class", "precision", "recall", "F1", "support"],
                             label="Per-class test metrics")
    # the figures carry their own titles, which a component label would cover
    with gr.Row():
        confusion = gr.Image(show_label=False, interactive=False, min_width=300,
                             elem_id="card-confusion")
        wrong = gr.Image(show_label=False, interactive=False, min_width=300, elem_id="card-wrong")
    with gr.Row():
        curves = gr.Image(show_label=False, interactive=False, min_width=300,
                          elem_id="card-curves")
        filters = gr.Image(show_label=False, interactive=False, min_width=300,
                           elem_id="card-filters")
    return chosen, [card, per_class, confusion, wrong, curves, filters]
