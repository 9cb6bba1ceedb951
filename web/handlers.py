"""What the page does for each event: analyse an input, explain it, compare the models,
fool one, check an explanation, show a model card. Each is a small function over the
``classifier`` API; results become the page's words and pictures in ``web.views``.
"""
from __future__ import annotations

import logging
import time

import gradio as gr

from classifier import METHODS, BlankImageError, CheckpointError, ExplainError, ImageError
from classifier import attack, trust
from classifier.datasets import DATASETS
from classifier.explain import methods_for
from classifier.image import load_rgba
from classifier.predict import top_k
from web import corrections, page, views
from web.served import MODELS, get_model

log = logging.getLogger("app")

METHOD_BY_TITLE = {title: key for key, title in METHODS.items()}
PREDICTED = "predicted class"


def analyse(image, model_name: str, method_title: str, target: str, compare_on: bool,
            dataset: str, live: bool = False) -> views.Page:
    """Everything the page shows for one input. Errors become a message, never a crash.
    ``live``: a drawing while the pen moves: the answer alone, no explanation."""
    if image is None or (isinstance(image, dict) and image.get("composite") is None):
        return views.Page(DATASETS[dataset].prompt)
    try:
        clf = get_model(model_name, dataset)
        reading = clf.analyse(image)  # one decoding, one preparation, one forward pass
        probs, message = views.judged(clf, reading)
        digits = reading.number["digits"] if reading.number else []
        if reading.number:  # several digits: the drawing is not one digit, whatever its score
            message = views.number_message(clf, reading.number)
        if live:  # titled apart from the final answer, which lifting the pen brings
            probs = gr.update(value=reading.probs, label=views.LIVE_TITLE,
                              elem_classes=["ood"] if reading.ood else [])
            message = f"*{views.LIVE_MARK}:* {message}" if message else f"*{views.LIVE_MARK}*"
            return views.Page(message, probs, views.crisp(reading.seen), live=True,
                              number=views.number_picture(digits) if digits else None)
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


def fool_page(image, model_name: str, goal: str, dataset: str):
    """The Fool-it button: the changed input, the change amplified, and what all say of it."""
    if image is None:
        return None, None, "Draw or upload something first."
    try:
        clf = get_model(model_name, dataset)
        result = attack.fool(clf, image, None if goal == page.ANY_CLASS else goal)
    except (ImageError, CheckpointError, ValueError) as err:
        return None, None, f"**{err}**"
    others = {r["model"]: (r["label"], r["top3"][r["label"]])
              for r in rank_all(result.image, dataset) if r["model"] != model_name}
    return (views.crisp(result.image), views.change_picture(result.delta),
            views.fooled(result, others, clf.photo_view is not None))


def correction(image, model_name: str, label, dataset: str | None = None) -> dict:
    """Keep "that's wrong: it is a ``label``" for ``model_name``'s answer on ``image``:
    {"kept", "message", "model", "answer", "label"}. A label that is no class of the model's
    dataset raises ValueError; a full or switched-off store keeps nothing and says so."""
    clf = get_model(model_name, dataset)
    label = class_named(clf, label)
    store = corrections.store()
    reading = clf.analyse(image)
    answer = views.answer(reading.probs)
    out = {"kept": False, "model": model_name, "answer": answer, "label": label}
    if store is None:
        return {**out, "message": "This server keeps no corrections."}
    if label == answer:
        return {**out, "message": f"{model_name} already answers {label}: nothing to correct."}
    if reading.photo is None:
        raise ImageError("A correction needs the image itself, not a prepared 28x28 input.")
    try:
        store.add(reading.seen, reading.photo, dataset=clf.dataset, model=model_name,
                  answer=answer, label=label)
    except corrections.StoreFull as err:
        return {**out, "message": str(err)}
    return {**out, "kept": True,
            "message": corrections.KEPT.format(label=label, model=model_name, answer=answer)}


def class_named(clf, label) -> str:
    """``label`` as one of the model's class names (any letter case), or a ValueError that
    lists them."""
    names = {c.lower(): c for c in clf.class_names}
    if isinstance(label, str) and label.strip().lower() in names:
        return names[label.strip().lower()]
    raise ValueError(f"{views.short(label)} is not a class of {clf.dataset}: choose one of "
                     f"{', '.join(clf.class_names)}.")


def correction_page(image, model_name: str, label: str, dataset: str) -> str:
    """The "That's wrong" button: what was kept, or why not."""
    if image is None:
        return "Draw or upload something first."
    if not label:
        return "Choose the right class first."
    try:
        return correction(image, model_name, label, dataset)["message"]
    except (ImageError, CheckpointError, ValueError) as err:
        return f"**{err}**"


def trust_page(image, model_name: str, method_title: str, target: str, dataset: str):
    """Under the overlay: can this explanation be trusted (deletion and randomisation)."""
    if image is None:
        return ""
    try:
        clf = get_model(model_name, dataset)
        photo = load_rgba(image)
        seen = clf.preprocess(photo)  # prepared once, for the answer on the page and the check
        shown = views.answer(clf.assess(seen, photo=photo)[0])  # a photo view weighs in too
        check = trust.check_explanation(clf, seen, METHOD_BY_TITLE.get(method_title, "saliency"),
                                        shown if target in (None, PREDICTED) else target)
    except (ImageError, CheckpointError, ExplainError, ValueError):
        return ""
    return views.trust_note(check)


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
