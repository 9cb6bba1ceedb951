"""The public API, which is also the app's MCP tools (a tool is named after its function, and
described by its docstring and ``Args:`` block).

An image comes as a base64 data URL (``data:image/png;base64,...``), decoded here, or as a
file uploaded to this app (``gradio_client.handle_file``, or the path ``/gradio_api/upload``
returns). A request never makes the server fetch a web address, read a file it did not
upload, or load a model that was not loaded at start.
"""
from __future__ import annotations

import logging

import gradio as gr
from gradio.data_classes import FileData

from classifier import CheckpointError, ExplainError, ImageError, attack, trust
from classifier.image import load_rgba
from classifier.predict import number_summary
from web import handlers, upkeep, views
from web.served import MODELS, get_model

log = logging.getLogger("app")

REFUSED = (ImageError, CheckpointError, ExplainError, ValueError)


def classify(image: str | dict, model: str = "mnist-cnn") -> dict:
    """Classify one image (a handwritten digit, or a piece of clothing) with one model.

    Args:
        image: the image, as a base64 data URL ("data:image/png;base64,...") or a file uploaded to this app. Digits: dark or light ink on a plain background; clothing: a photo of one garment.
        model: the model's name; mnist-* models read digits 0-9, fashion-mnist-* models read ten kinds of clothing. See the compare tool for every model of a dataset.

    Returns:
        {"label": the answer, "confidences": {class: probability}, "model", "ood_score", "ood": true when the image looks unlike anything the model was trained on, so the answer is a guess}
    """
    try:
        clf = get_model(model)
        probs, score, flagged = clf.assess(upkeep.received_image(image))
    except REFUSED as err:
        raise refuse(err) from None
    return {"label": views.answer(probs), "confidences": probs, "model": model,
            "ood_score": score, "ood": flagged}


def read_number(image: str | dict, model: str = "mnist-cnn") -> dict:
    """Read several handwritten digits side by side as one number (such as 42 or 2026).

    Args:
        image: the image, as a base64 data URL ("data:image/png;base64,...") or a file uploaded to this app.
        model: an mnist-* model, which reads each digit.

    Returns:
        {"number": "42", "digits": [{"label", "prob", "ood_score", "ood"}, ...] left to right, "ood": true when half the digits or more look unlike digits, "model"}
    """
    try:
        clf = get_model(model, "mnist")
        result = clf.read_number(upkeep.received_image(image))
    except REFUSED as err:
        raise refuse(err) from None
    return {**number_summary(result), "model": model}


def explain(image: str | dict, model: str = "mnist-cnn", method: str = "saliency",
            target: str | None = None) -> FileData:
    """Show why a model answers as it does: a heat map of the pixels that drove its answer,
    over the 28x28 image it saw (a PNG).

    Args:
        image: the image, as a base64 data URL ("data:image/png;base64,...") or a file uploaded to this app.
        model: the model's name, such as mnist-cnn or fashion-mnist-resnet18.
        method: saliency, integrated_gradients, smoothgrad or gradcam (gradcam needs a convolutional model).
        target: the class to explain; empty for the model's own answer.

    Returns:
        the overlay as a PNG image.
    """
    try:
        e = get_model(model).explain(upkeep.received_image(image), method=method,
                                     target=target or None)
    except REFUSED as err:
        raise refuse(err) from None
    return FileData(path=upkeep.save_result(e.overlay))


def compare(image: str | dict, dataset: str = "mnist") -> list[dict]:
    """Ask every model of a dataset about the same image, to compare their answers.

    Args:
        image: the image, as a base64 data URL ("data:image/png;base64,...") or a file uploaded to this app.
        dataset: mnist (digits) or fashion-mnist (clothing).

    Returns:
        one row per model: {"model", "label", "top3": {class: probability}, "ood_score", "ood", "ms": milliseconds}
    """
    try:
        if not isinstance(dataset, str) or dataset not in MODELS:
            raise ValueError(f"Unknown dataset {views.short(dataset)}; choose one of "
                             f"{sorted(MODELS)}.")
        photo = load_rgba(upkeep.received_image(image))
        seen = get_model(MODELS[dataset][0]).preprocess(photo)
    except REFUSED as err:
        raise refuse(err) from None
    return handlers.rank_all(seen, dataset, photo=photo)


def fool(image: str | dict, model: str = "mnist-cnn", target: str | None = None) -> dict:
    """Find a small change to the model's 28x28 input that makes it answer something else
    (an adversarial example), and ask the dataset's other models about the changed image.

    Args:
        image: the image, as a base64 data URL ("data:image/png;base64,...") or a file uploaded to this app.
        model: the model to fool.
        target: the answer to push it to; empty for any other answer.

    Returns:
        {"original": its answer before, "label": its answer after (null if no change within the budgets did it), "prob", "linf": the largest pixel change (0-1), "l2", "image": the changed 28x28 as a PNG data URL, "others": {other model: its answer for the changed image}, "model"}
    """
    try:
        clf = get_model(model)
        r = attack.fool(clf, upkeep.received_image(image), target or None)
    except REFUSED as err:
        raise refuse(err) from None
    others = {row["model"]: row["label"] for row in handlers.rank_all(r.image, clf.dataset)
              if row["model"] != model}
    return {"original": r.original, "label": r.label, "prob": r.prob, "linf": round(r.linf, 4),
            "l2": round(r.l2, 4), "image": views.data_url(r.image), "others": others,
            "model": model}


def check_explanation(image: str | dict, model: str = "mnist-cnn",
                      method: str = "saliency") -> dict:
    """Test whether an explanation can be trusted: blank the pixels it points at (do they
    matter more than random ones?), and compare it with the map of a randomly weighted copy of
    the model (a trustworthy map differs).

    Args:
        image: the image, as a base64 data URL ("data:image/png;base64,...") or a file uploaded to this app.
        model: the model whose explanation is tested.
        method: saliency, integrated_gradients, smoothgrad or gradcam.

    Returns:
        {"deletion_drop": the answer's probability fall when the map's top 10% of pixels are blanked, "random_drop": the same for as many random ink pixels, "randomized_similarity": rank correlation with the random model's map, "target", "method", "model"}
    """
    try:
        t = trust.check_explanation(get_model(model), upkeep.received_image(image), method)
    except REFUSED as err:
        raise refuse(err) from None
    return {"deletion_drop": round(t.deletion_drop, 4), "random_drop": round(t.random_drop, 4),
            "randomized_similarity": round(t.randomized_similarity, 4), "target": t.target,
            "method": method, "model": model}


def correct(image: str | dict, model: str, label: str) -> dict:
    """Report a wrong answer: the model got this image wrong, and ``label`` is right. The
    server keeps the model's 28x28 input, the image shrunk to at most 512 px, the model, its
    answer, the label and the day (nothing about who sent it), to train the next models on.

    Args:
        image: the image, as a base64 data URL ("data:image/png;base64,...") or a file uploaded to this app.
        model: the model that answered wrongly.
        label: the right class, one of the model's classes (such as 7, or Sneaker).

    Returns:
        {"kept": whether it was stored, "message", "model", "answer": the model's answer, "label"}
    """
    try:
        return handlers.correction(upkeep.received_image(image), model, label)
    except REFUSED as err:
        raise refuse(err) from None


TOOLS = [classify, read_number, explain, compare, fool, check_explanation, correct]


def refuse(err: Exception) -> gr.Error:
    """A user's mistake: one log line and a message, no traceback."""
    log.info("request refused: %s", err)
    return gr.Error(str(err), print_exception=False)
