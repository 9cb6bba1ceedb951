"""The Gradio app: draw or upload, pick a model or compare them all, see what it saw and why.

    python app.py        # http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT)

Wiring only: the handlers below are small functions over the ``classifier`` API; the page's
parts, its words and pictures, and the server's upkeep are in ``web/``.
"""
from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

from web import page, upkeep, views  # first: the package switches Gradio's analytics off
import gradio as gr
from gradio.data_classes import FileData

from classifier import METHODS, BlankImageError, CheckpointError, ExplainError, ImageError
from classifier.datasets import DATASETS
from classifier.explain import methods_for
from classifier.image import load_rgba
from classifier.predict import number_summary, study, top_k
from web.page import clothing_examples, examples, image_upload, sketchpad
from web.served import ALL_MODELS, MODELS, add_hub_models, get_model, warm_up
from web.views import short

log = logging.getLogger("app")
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

ROOT = Path(__file__).resolve().parent
# Models from the Hugging Face Hub join the shipped ones: HUB_MODELS="user/mnist-cnn,..."
HUB_MODELS = [r.strip() for r in os.environ.get("HUB_MODELS", "").split(",") if r.strip()]
METHOD_BY_TITLE = {title: key for key, title in METHODS.items()}
PREDICTED = "predicted class"
MAX_UPLOAD = "10mb"

# ------------------------------------------------------------------ handlers

def analyse(image, model_name: str, method_title: str, target: str, compare_on: bool,
            dataset: str) -> views.Page:
    """Everything the page shows for one input. Errors become a message, never a crash."""
    if image is None or (isinstance(image, dict) and image.get("composite") is None):
        return views.Page(DATASETS[dataset].prompt)
    try:
        clf = get_model(model_name, dataset)
        reading = clf.analyse(image)  # one decoding, one preparation, one forward pass
        probs, message = views.judged(clf, reading)
        digits = reading.number["digits"] if reading.number else []
        if reading.number:  # several digits: the drawing is not one digit, whatever its score
            message = views.number_message(clf, reading.number)
        overlay, note = explanation(clf, reading.seen, method_title, target,
                                    views.answer(reading.probs))
        rows, gallery = (views.comparison(rank_all(reading.seen, dataset, True, reading.photo))
                         if compare_on else ([], []))
    except (ImageError, CheckpointError, ExplainError, ValueError) as err:
        log.info("user input refused: %s", err)
        if isinstance(err, ImageError) and not isinstance(err, BlankImageError):
            gr.Warning(str(err))  # a file that cannot be used: say so in view, too
        return views.Page(f"**{err}**")
    except Exception:  # a bug must not take the page down: log it, say so
        log.exception("analysis failed")
        return views.Page("**Something went wrong with this image; it has been logged.**")
    return views.Page(message, probs, views.crisp(reading.seen), overlay, note,
                      views.feature_gallery(reading.maps), rows or None, gallery, reading.steps,
                      views.number_picture(digits) if digits else None)


def explanation(clf, seen, method_title: str, target: str, shown: str | None = None):
    """The overlay for ``target``, or for ``shown`` (the answer on the page, which for a
    photo read with an ImageNet view may differ from the 28x28 input's own top class)."""
    method = METHOD_BY_TITLE.get(method_title, "saliency")
    reason = methods_for(clf)[method]
    if reason:
        return None, reason
    e = clf.explain(seen, method=method, target=shown if target in (None, PREDICTED) else target)
    return e.overlay, e.caption


def rank_all(seen, dataset: str, overlays: bool = False, photo=None) -> list[dict]:
    """Every model of ``dataset`` on the same 28x28 input: {"model", "label", "top3",
    "ood_score", "ood", "ms"} (the latency of the prediction and its score), and with
    ``overlays`` each model's small explanation. ``photo``: the decoded photo it was made
    from, which a model with an ImageNet view reads too."""
    out = []
    for name in MODELS[dataset]:
        clf = get_model(name)
        start = time.perf_counter()
        probs, score, flagged = clf.assess(seen, photo=photo)
        top = top_k(probs)
        row = {"model": name, "label": next(iter(top)), "top3": top, "ood_score": score,
               "ood": flagged, "ms": round(1000 * (time.perf_counter() - start), 2)}
        if overlays:
            row["explanation"] = clf.explain(
                seen, method="gradcam" if clf.has_conv else "saliency", target=row["label"],
                size=140)
        out.append(row)
    return out


def offered(model) -> tuple[list[str], str]:
    """The explanation methods offered for a model (a loaded one, or an architecture's
    name; None: all), and why the others are not."""
    applicable = methods_for(model) if model else {m: None for m in METHODS}
    return ([METHODS[m] for m, reason in applicable.items() if reason is None],
            " ".join(r for r in applicable.values() if r))


def model_options(model_name: str, method_title: str, target: str, dataset: str):
    """Offer only the methods that apply to the chosen model, and say why others do not;
    the chosen method and class stay when they still apply."""
    try:
        clf = get_model(model_name, dataset)
    except CheckpointError as err:
        return gr.update(), f"**{err}**", gr.update()
    titles, notes = offered(clf)
    targets = [PREDICTED, *clf.class_names]
    method = method_title if method_title in titles else (titles[0] if titles else None)
    return gr.update(choices=titles, value=method), notes, \
        gr.update(choices=targets, value=target if target in targets else PREDICTED)


def model_card(model_name: str):
    """The models tab: metrics, plots and training details of one checkpoint."""
    try:
        clf = get_model(model_name)
    except CheckpointError as err:
        return f"**{err}**", None, None, None, None, gr.update(value=None, visible=False)
    if not clf.metrics:
        return (f"**No metrics for {model_name}.**", None, None, None, None,
                gr.update(value=None, visible=False))
    plots = {k: str(v) for k, v in clf.plots().items()}
    table = [[c, round(v["precision"], 4), round(v["recall"], 4), round(v["f1"], 4),
              v["support"]] for c, v in clf.metrics["per_class"].items()]
    return (views.card_summary(model_name, clf), table, plots.get("confusion"),
            plots.get("misclassified"), plots.get("curves"),
            gr.update(value=plots.get("filters"), visible="filters" in plots))


# ------------------------------------------------------------------ API endpoints

def classify(image: FileData, model: str = "mnist-cnn") -> dict:
    """Classify an image file with one model: {"label", "confidences", "model"}."""
    try:
        clf = get_model(model)
        probs, score, flagged = clf.assess(upkeep.uploaded_file(image))
    except (ImageError, CheckpointError, ValueError) as err:
        raise refuse(err) from None
    return {"label": max(probs, key=probs.get), "confidences": probs, "model": model,
            "ood_score": score, "ood": flagged}


def read_number(image: FileData, model: str = "mnist-cnn") -> dict:
    """Several digits side by side read as a number: {"number": "42", "digits": [{"label",
    "prob", "ood_score", "ood"}, ...] left to right, "ood" (half the digits or more look
    unlike digits, or one nothing like any), "model"}."""
    try:
        clf = get_model(model, "mnist")
        result = clf.read_number(upkeep.uploaded_file(image))
    except (ImageError, CheckpointError, ValueError) as err:
        raise refuse(err) from None
    return {**number_summary(result), "model": model}


def explain(image: FileData, model: str = "mnist-cnn", method: str = "saliency",
            target: str | None = None) -> FileData:
    """Explanation overlay (PNG) of ``model`` for ``target`` (default: predicted class).
    method: saliency, integrated_gradients, smoothgrad or gradcam."""
    try:
        e = get_model(model).explain(upkeep.uploaded_file(image), method=method,
                                     target=target or None)
    except (ImageError, CheckpointError, ExplainError, ValueError) as err:
        raise refuse(err) from None
    return FileData(path=upkeep.save_result(e.overlay))


def compare(image: FileData, dataset: str = "mnist") -> list[dict]:
    """Every model of ``dataset`` (mnist or fashion-mnist) on one image file: for each,
    {"model", "label", "top3": {class: probability}, "ood_score", "ood", "ms"}."""
    try:
        if not isinstance(dataset, str) or dataset not in MODELS:
            raise ValueError(f"Unknown dataset {short(dataset)}; choose one of "
                             f"{sorted(MODELS)}.")
        photo = load_rgba(upkeep.uploaded_file(image))
        seen = get_model(MODELS[dataset][0]).preprocess(photo)
    except (ImageError, CheckpointError, ValueError) as err:
        raise refuse(err) from None
    return rank_all(seen, dataset, photo=photo)


def refuse(err: Exception) -> gr.Error:
    """A user's mistake: one log line and a message, no traceback."""
    log.info("request refused: %s", err)
    return gr.Error(str(err), print_exception=False)


# ------------------------------------------------------------------ layout

def panel(dataset: str) -> page.Panel:
    """A tab's answer panel, its controls set for the tab's default model."""
    names = MODELS[dataset]
    default = DATASETS[dataset].default_model
    default = default if default in names else (names[0] if names else None)
    info = next((m for m in ALL_MODELS if m["name"] == default), None)
    titles, notes = offered(info["arch"] if info else None)
    return page.answer_panel(dataset, names, default, titles, notes,
                             [PREDICTED, *(info["class_names"] if info else [])])


def wire_panel(p: page.Panel, dataset: str) -> None:
    """The compare-all part shows while asked for; a new model offers its own methods."""
    p.compare_on.change(lambda on: gr.update(visible=on), p.compare_on, p.compared,
                        queue=False, show_progress="hidden", api_visibility="private")
    p.model.change(lambda m, me, t: model_options(m, me, t, dataset),
                   [p.model, p.method, p.target], [p.method, p.method_note, p.target],
                   show_progress="hidden", api_visibility="private")


def wire(source, state, p: page.Panel, dataset: str, read=lambda value: value) -> None:
    """A new input is analysed in the same request that keeps it (one round trip per
    stroke); a changed control re-analyses the kept input. ``read`` turns the component's
    value into the input that is kept."""
    def run(image, model, method, target, compare_on):
        return analyse(image, model, method, target, compare_on, dataset).outputs()

    def keep_and_run(value, *rest):
        image = read(value)
        return (image, *run(image, *rest))

    controls, outputs = p.controls(), p.outputs()
    source.change(keep_and_run, [source, *controls], [state, *outputs],
                  trigger_mode="always_last", show_progress="hidden", api_visibility="private")
    for control in controls:
        control.change(run, [state, *controls], outputs, trigger_mode="always_last",
                       show_progress="hidden", api_visibility="private")


def build() -> gr.Blocks:
    """The page, over the served models."""
    with gr.Blocks(title="MNIST & Fashion-MNIST: classify, compare, explain",
                   delete_cache=(upkeep.CACHE_SWEEP_S, upkeep.CACHE_AGE_S)) as demo:
        gr.Markdown(page.INTRO, elem_classes=["intro"])
        with gr.Tab("Digits"):
            digit_state = gr.State(None)
            with gr.Row(equal_height=False):
                with gr.Column(scale=5, min_width=300):
                    with gr.Tab("Draw"):
                        sketch = sketchpad()
                    with gr.Tab("Upload"):
                        # a file path: the classifier reads the file (EXIF orientation, any mode)
                        digit_upload = image_upload(label="Photo or scan of a digit", height=300,
                                                    sources=["upload", "clipboard", "webcam"],
                                                    elem_id="digit-upload")
                        gr.Examples(examples("digit"), inputs=digit_upload, cache_examples=False)
                with gr.Column(scale=6, min_width=300):
                    digits = panel("mnist")
            page.more_panel(digits)
            wire_panel(digits, "mnist")
            wire(sketch, digit_state, digits, "mnist", read=page.drawing)
            wire(digit_upload, digit_state, digits, "mnist")
        with gr.Tab("Clothing"):
            cloth_state = gr.State(None)
            with gr.Row(equal_height=False):
                with gr.Column(scale=5, min_width=300):
                    cloth_upload = image_upload(label="Photo of one piece of clothing", height=300,
                                                sources=["upload", "clipboard", "webcam"],
                                                elem_id="clothing-upload")
                with gr.Column(scale=6, min_width=300):
                    clothing = panel("fashion-mnist")
            # below the answer, so a phone shows the answer right under the photo
            caption = gr.Textbox(visible=False, label="Class")
            gr.Examples(clothing_examples(), inputs=[cloth_upload, caption],
                        cache_examples=False, examples_per_page=6,
                        label="Examples: real photos first, then Fashion-MNIST items")
            page.more_panel(clothing)
            wire_panel(clothing, "fashion-mnist")
            wire(cloth_upload, cloth_state, clothing, "fashion-mnist")
        with gr.Tab("Models"):
            chosen, card = page.models_tab(*study(), [m["name"] for m in ALL_MODELS])
            # hidden progress: Gradio's screen-reader status would read "common.complete"
            chosen.change(model_card, chosen, card, show_progress="hidden",
                          api_visibility="private")
            demo.load(model_card, chosen, card, show_progress="hidden", api_visibility="private")
        gr.api(classify, api_name="classify")
        gr.api(explain, api_name="explain")
        gr.api(compare, api_name="compare")
        gr.api(read_number, api_name="read_number")
    demo.queue(default_concurrency_limit=2, max_size=64)  # 2 vCPU: two requests at a time
    return demo


def __getattr__(name: str):
    """``app.demo``, built on first use (``gradio app.py`` and the tests read it)."""
    if name == "demo":
        globals()["demo"] = build()
        return globals()["demo"]
    raise AttributeError(name)


def launch_options() -> dict:
    # state_session_capacity: each open page keeps its last input (a drawing is a few kB)
    # max_threads: fewer worker threads, fewer per-thread buffers in torch and malloc
    return dict(max_file_size=MAX_UPLOAD, css=page.CSS, state_session_capacity=256,
                max_threads=8,
                server_name=os.environ.get("GRADIO_SERVER_NAME"),
                server_port=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))


def stop(*_):
    raise KeyboardInterrupt  # Gradio then closes the server and deletes its temporary files


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, stop)  # docker stop, a Space restart
    add_hub_models(HUB_MODELS)
    warm_up()
    upkeep.keep_bounded()
    build().launch(**launch_options())
