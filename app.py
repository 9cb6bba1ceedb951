"""The Gradio app: draw or upload, pick a model or compare them all, see what it saw and why.

    python app.py        # http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT)

Wiring only: every handler is a small function over the ``classifier`` API.
"""
from __future__ import annotations

import ctypes
import hashlib
import io
import logging
import os
import re
import signal
import stat
import threading
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home, read at import

import gradio as gr  # noqa: E402
import numpy as np
from gradio.data_classes import FileData  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from classifier import (METHODS, BlankImageError, CheckpointError,  # noqa: E402
                        ExplainError, ImageError, list_models, load_model)
from classifier.checkpoint import CHECKPOINTS_DIR, resolve_checkpoint  # noqa: E402
from classifier.datasets import DATASETS  # noqa: E402
from classifier.explain import methods_for  # noqa: E402
from classifier.image import data_url_bytes, load_rgba  # noqa: E402
from classifier.predict import number_summary, study, top_k  # noqa: E402

log = logging.getLogger("app")
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

ROOT = Path(__file__).resolve().parent
EXAMPLES = ROOT / "examples"
# Models from the Hugging Face Hub join the shipped ones: HUB_MODELS="user/mnist-cnn,..."
HUB_MODELS = [r.strip() for r in os.environ.get("HUB_MODELS", "").split(",") if r.strip()]
HUB_TIMEOUT_S = float(os.environ.get("HUB_TIMEOUT_S", 60))
# Uploads and results live in Gradio's upload folder: files older than CACHE_AGE_S are
# deleted every CACHE_SWEEP_S, and the folder never holds more than DISK_BUDGET_MB.
CACHE_SWEEP_S, CACHE_AGE_S = 60, 600
DISK_BUDGET_MB = float(os.environ.get("DISK_BUDGET_MB", 500))
NO_IMAGE = "No image was received: upload an image file (PNG, JPEG, WebP, ...)."
CALIBRATED = "Top classes (calibrated)"
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
CSS = """.ood { opacity: 0.45; filter: grayscale(1); } .small p { font-size: 0.85em; }
/* the report table scrolls sideways on a phone rather than wrapping a letter per line */
.report table { display: block; overflow-x: auto; }
.report th, .report td { white-space: nowrap; }
.legend { display: flex; align-items: center; gap: 6px; font-size: 0.8em; }
.legend .bar { flex: 1; height: 10px; border-radius: 3px; max-width: 220px;
  background: linear-gradient(90deg, #000004, #420a68, #932667, #dd513a, #fca50a, #fcffa4); }
@media (max-width: 640px) {
  .intro p { display: none; }
  .intro h1 { font-size: 1.5em; margin-bottom: 0; }
}
#sketchpad canvas { display: block; width: 100%; max-width: 300px; aspect-ratio: 1;
  margin: 0 auto; background: #fff; border: 1px solid var(--border-color-primary);
  border-radius: 4px; touch-action: none; cursor: crosshair; }
#sketchpad .pad-head { display: flex; align-items: center; gap: 8px; max-width: 300px;
  margin: 0 auto 6px; }
#sketchpad .pad-head span { flex: 1; font-size: var(--text-md); color: var(--body-text-color); }
#sketchpad .pad-head button { padding: 4px 12px; border-radius: var(--button-small-radius);
  font-size: var(--text-sm); color: var(--button-secondary-text-color);
  border: 1px solid var(--border-color-primary);
  background: var(--button-secondary-background-fill); }
#sketchpad .pad-head button:hover { background: var(--button-secondary-background-fill-hover); }"""


def fetch_hub_models(repo_ids: list[str], timeout: float = HUB_TIMEOUT_S) -> dict[str, str]:
    """{repo id: local folder} of the Hub models that download and load within ``timeout``
    seconds each; the others are skipped with a log line. Runs once, at start."""
    found = {}
    for repo_id in repo_ids:
        result: dict = {}
        worker = threading.Thread(target=_fetch, args=(repo_id, result), daemon=True)
        worker.start()
        worker.join(timeout)
        if "folder" in result:
            found[repo_id] = result["folder"]
        else:
            log.warning("skipping Hub model %s: %s", repo_id,
                        result.get("error", f"no answer within {timeout:g} s"))
    return found


def _fetch(repo_id: str, result: dict) -> None:
    try:
        folder = str(resolve_checkpoint(repo_id))
        load_model(folder)  # a checkpoint that does not load is skipped now, not per request
        result["folder"] = folder
    except Exception as err:  # offline, unknown repo, broken checkpoint: skip it
        result["error"] = str(err)


# The only models a request can choose, by canonical name -> the folder they load from.
# Fixed here, at start: no request browses the disk or reaches the network for a model.
# Importing this module reads the shipped checkpoints' config files and loads no weights;
# models load on first use, or all at once by ``warm_up`` when the app is launched.
ALL_MODELS = list_models()
SERVED = {m["name"]: str(CHECKPOINTS_DIR / m["name"]) for m in ALL_MODELS}
MODELS = {ds: [m["name"] for m in ALL_MODELS if m["dataset"] == ds] for ds in DATASETS}


def add_hub_models(repo_ids: list[str]) -> None:
    """Serve the Hub models that download and load; called at launch, before the page is
    built, never by a request."""
    for repo, folder in fetch_hub_models([r for r in repo_ids if r not in SERVED]).items():
        clf = load_model(folder)
        SERVED[repo] = folder
        ALL_MODELS.append({"name": repo, "dataset": clf.dataset, "arch": clf.arch,
                           "class_names": clf.class_names, "test_accuracy": clf.test_accuracy})
        MODELS[clf.dataset].append(repo)


def warm_up() -> None:
    """Load every served model now, so no visitor waits for a first load."""
    for name in SERVED:
        get_model(name)


METHOD_BY_TITLE = {title: key for key, title in METHODS.items()}
PREDICTED = "predicted class"
MAX_UPLOAD = "10mb"


def get_model(name, dataset: str | None = None):
    """A served model by its canonical name, restricted to ``dataset``; anything else gets
    a clear error naming the choices."""
    known = MODELS.get(dataset, []) if dataset else list(SERVED)
    if not isinstance(name, str) or name not in known:
        raise CheckpointError(f"Unknown model {_short(name)}. Available: {', '.join(known)}.")
    try:
        return load_model(SERVED[name])
    except CheckpointError:
        log.exception("served model %s failed to load", name)
        raise CheckpointError(f"The model {name} could not be loaded.") from None


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def crisp(seen: np.ndarray, size: int = 280) -> np.ndarray:
    """The 28x28 model input, scaled up with hard pixel edges."""
    return np.asarray(Image.fromarray(seen).resize((size, size), Image.Resampling.NEAREST))


# ------------------------------------------------------------------ handlers

def analyse(image, model_name: str, method_title: str, target: str, compare_on: bool,
            dataset: str):
    """Everything the page shows for one input. Errors become a message, never a crash."""
    empty = (None, None, None, "", [], None, [], [], gr.update(value=None, visible=False))
    if image is None or (isinstance(image, dict) and image.get("composite") is None):
        return DATASETS[dataset].prompt, *empty
    try:
        clf = get_model(model_name, dataset)
        image = load_rgba(image)  # decoded once, for the reading and the number alike
        reading = clf.analyse(image)  # one preparation, one forward pass
        seen, steps = reading.seen, reading.steps  # steps: pictures, for clothing photos
        probs, message = judged(clf, reading)
        number = several_digits(clf, image)
        digits = number["digits"] if number else []
        if number:  # several digits: the whole drawing is not one digit, whatever the score
            message = number_message(clf, number)
        overlay, note = explanation(clf, seen, method_title, target, answer(reading.probs))
        maps = feature_gallery(reading.maps)
        rows, gallery = compare_models(seen, dataset, image) if compare_on else ([], [])
    except (ImageError, CheckpointError, ExplainError, ValueError) as err:
        log.info("user input refused: %s", err)
        if isinstance(err, ImageError) and not isinstance(err, BlankImageError):
            gr.Warning(str(err))  # a file that cannot be used: say so in view, too
        return f"**{err}**", *empty
    except Exception:  # a bug must not take the page down: log it, say so
        log.exception("analysis failed")
        return "**Something went wrong with this image; it has been logged.**", *empty
    return message, probs, crisp(seen), overlay, note, maps, rows or None, gallery, steps, \
        gr.update(value=number_picture(digits) if digits else None, visible=bool(digits))


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
    return f"The ImageNet network this model was fine-tuned from sees the whole photo as: {names}.{other}"


def answer(probs: dict[str, float]) -> str:
    return max(probs, key=probs.get)


def several_digits(clf, image) -> dict | None:
    """``read_number`` of a drawing of several digits; None for one digit or clothing."""
    if clf.recipe != "digit-v1":
        return None
    try:
        number = clf.read_number(image)
    except ImageError:
        return None
    return number if len(number["digits"]) > 1 else None


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


def explanation(clf, seen: np.ndarray, method_title: str, target: str, shown: str | None = None):
    """The overlay for ``target``, or for ``shown`` (the answer on the page, which for a
    photo read with an ImageNet view may differ from the 28x28 input's own top class)."""
    method = METHOD_BY_TITLE.get(method_title, "saliency")
    reason = methods_for(clf)[method]
    if reason:
        return None, reason
    e = clf.explain(seen, method=method, target=shown if target in (None, PREDICTED) else target)
    return e.overlay, e.caption


def feature_gallery(activations: dict[str, np.ndarray]) -> list:
    out = []
    for layer, maps in activations.items():
        for k in range(min(8, len(maps))):
            m = maps[k] - maps[k].min()
            m = (255 * m / max(float(m.max()), 1e-6)).astype(np.uint8)
            out.append((crisp(m, 112), f"{layer} #{k}"))
    return out


def rank_all(seen: np.ndarray, dataset: str, overlays: bool = False, photo=None) -> list[dict]:
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


def compare_models(seen: np.ndarray, dataset: str, photo=None):
    """The compare-all table and gallery of the page; a model to which the input does not
    look like its training data says so beside its answer."""
    rows, gallery = [], []
    for r in rank_all(seen, dataset, overlays=True, photo=photo):
        e, p = r["explanation"], r["top3"][r["label"]]
        like = "-" if r["ood_score"] is None else "no" if r["ood"] else "yes"
        rows.append([r["model"], r["label"], like,
                     ", ".join(f"{k} {v:.1%}" for k, v in r["top3"].items()), r["ms"]])
        gallery.append((e.overlay, f"{r['model'].split('-')[-1]}: {r['label']} {p:.0%}"
                        + (" (flagged)" if r["ood"] else "")
                        + (" (no heat)" if e.empty else "")))
    return rows, gallery


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
    metrics, config = clf.metrics, clf.config
    if not metrics:
        return (f"**No metrics for {model_name}.**", None, None, None, None,
                gr.update(value=None, visible=False))
    tr = config["training"]
    summary = (f"### {model_name}\n**Test accuracy {100 * metrics['test_accuracy']:.2f}%** "
               f"({metrics['test_size']:,} test images) · {metrics['parameters']:,} parameters · "
               f"init: {config['init']} · {metrics['epochs_run']} epochs, "
               f"{metrics['train_seconds'] / 60:.1f} min on {metrics['device']} · "
               f"{tr['optimizer']} lr {tr['lr']} ({tr['schedule']}), augmentation "
               f"{tr['augment']} · calibration temperature {config['temperature']} "
               f"(ECE {100 * metrics['ece_before_temperature']:.2f}% -> "
               f"{100 * metrics['ece_after_temperature']:.2f}%)")
    plots = {k: str(v) for k, v in clf.plots().items()}
    if "filters" not in plots:
        summary += (f"\n\nNo first-layer filters to show: {clf.arch} has no convolutional "
                    "layer, so its first layer has no small image-like filters.")
    table = [[c, round(v["precision"], 4), round(v["recall"], 4), round(v["f1"], 4),
              v["support"]] for c, v in metrics["per_class"].items()]
    return (summary, table, plots.get("confusion"), plots.get("misclassified"),
            plots.get("curves"),
            gr.update(value=plots.get("filters"), visible="filters" in plots))


FILE_LINK = re.compile(r"\[([^\]]+)\]\((?!https?:)[^)\s]+\)")


def without_file_links(markdown: str) -> str:
    """Links to files beside the report (a model's README) do not resolve on the page:
    keep their text. The models are picked below it instead."""
    return FILE_LINK.sub(r"\1", markdown)


# ------------------------------------------------------------------ API endpoints

def classify(image: FileData, model: str = "mnist-cnn") -> dict:
    """Classify an image file with one model: {"label", "confidences", "model"}."""
    try:
        clf = get_model(model)
        probs, score, flagged = clf.assess(uploaded_file(image))
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
        result = clf.read_number(uploaded_file(image))
    except (ImageError, CheckpointError, ValueError) as err:
        raise refuse(err) from None
    return {**number_summary(result), "model": model}


def explain(image: FileData, model: str = "mnist-cnn", method: str = "saliency",
            target: str | None = None) -> FileData:
    """Explanation overlay (PNG) of ``model`` for ``target`` (default: predicted class).
    method: saliency, integrated_gradients, smoothgrad or gradcam."""
    try:
        e = get_model(model).explain(uploaded_file(image), method=method,
                                     target=target or None)
    except (ImageError, CheckpointError, ExplainError, ValueError) as err:
        raise refuse(err) from None
    return FileData(path=save_result(e.overlay))


def compare(image: FileData, dataset: str = "mnist") -> list[dict]:
    """Every model of ``dataset`` (mnist or fashion-mnist) on one image file: for each,
    {"model", "label", "top3": {class: probability}, "ood_score", "ood", "ms"}."""
    try:
        if not isinstance(dataset, str) or dataset not in MODELS:
            raise ValueError(f"Unknown dataset {_short(dataset)}; choose one of "
                             f"{sorted(MODELS)}.")
        photo = load_rgba(uploaded_file(image))
        seen = get_model(MODELS[dataset][0]).preprocess(photo)
    except (ImageError, CheckpointError, ValueError) as err:
        raise refuse(err) from None
    return rank_all(seen, dataset, photo=photo)


def refuse(err: Exception) -> gr.Error:
    """A user's mistake: one log line and a message, no traceback."""
    log.info("request refused: %s", err)
    return gr.Error(str(err), print_exception=False)


# ------------------------------------------------------------------ files on the server

def upload_folder() -> Path:
    return Path(gr.utils.get_upload_folder()).resolve()


def uploaded_file(image) -> str:
    """The path of a file that Gradio received as an upload. Anything else (a bare path, a
    dict without Gradio's file marker, a file outside the upload folder, a missing file) is
    refused with the one message of a missing image: a caller learns nothing of the disk."""
    meta = image.get("meta") if isinstance(image, dict) else None
    path = image.get("path") if isinstance(meta, dict) else None
    if meta and meta.get("_type") == "gradio.FileData" and isinstance(path, str):
        try:
            real = Path(path).resolve()
            if real.is_relative_to(upload_folder()) and real.is_file():
                return str(real)
        except (OSError, ValueError):  # a null byte, a loop of links, ...
            pass
    raise ImageError(NO_IMAGE)


def save_result(rgb: np.ndarray) -> str:
    """A PNG in the upload folder named by its content, so repeated answers share one file;
    Gradio tracks it and deletes it with the other temporary files."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    data = buffer.getvalue()
    out = upload_folder() / "results" / f"{hashlib.sha256(data).hexdigest()[:32]}.png"
    if out.is_file():
        os.utime(out)  # handed out again: its age starts over
        return str(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.{threading.get_ident()}")
    staging.write_bytes(data)
    staging.replace(out)
    return str(out)


def prune(folder: Path, max_bytes: float, started: float = 0.0,
          max_age: float = CACHE_AGE_S) -> int:
    """Keep ``folder`` within ``max_bytes``: delete what an earlier run left (files older than
    ``max_age`` seconds, untouched since before ``started``), then the oldest of this run's
    files until the rest fit. Files made or touched at start (examples), and copies of
    shipped files, are kept: Gradio caches a shipped file (the comparison plot, a model
    card's figures) as a copy that keeps the original's old modification time, so a file's
    age counts from its last change of content or inode. Returns the bytes left."""
    now = time.time()
    files, total = [], 0
    for path in folder.rglob("*"):
        try:
            st = path.lstat()
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        touched = max(st.st_mtime, st.st_ctime)
        if touched < started and now - touched > max_age:
            path.unlink(missing_ok=True)
            continue
        total += st.st_size
        if st.st_mtime >= started:  # written by this run: uploads and results
            files.append((st.st_mtime, st.st_size, path))
    for _, size, path in sorted(files):
        if total <= max_bytes:
            break
        path.unlink(missing_ok=True)
        total -= size
    return total


def keep_bounded(every_s: float = 10.0) -> threading.Thread:
    """For the server's life, in the background: prune the upload folder to DISK_BUDGET_MB,
    and hand memory that requests freed back to the system."""
    started = time.time()
    libc = _glibc()
    if libc:  # few malloc arenas: threads that took turns on a model share freed memory
        libc.mallopt(-8, 2)  # M_ARENA_MAX

    def loop():
        while True:
            if libc:
                libc.malloc_trim(0)
            try:
                prune(upload_folder(), DISK_BUDGET_MB * 2**20, started=started)
            except OSError as err:
                log.warning("pruning the upload folder failed: %s", err)
            time.sleep(every_s)

    thread = threading.Thread(target=loop, name="keep-bounded", daemon=True)
    thread.start()
    return thread


def _glibc():
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # not Linux with glibc: nothing to tune
        return None


# ------------------------------------------------------------------ layout

def answer_panel(dataset: str):
    """The answer beside the input, so it is in view at once: the message, the top classes,
    the 28x28 image the model saw and the explanation overlay; then the controls."""
    names = MODELS[dataset]
    default = DATASETS[dataset].default_model
    default = default if default in names else (names[0] if names else None)
    info = next((m for m in ALL_MODELS if m["name"] == default), None)
    titles, notes = offered(info["arch"] if info else None)
    classes = info["class_names"] if info else []
    status = gr.Markdown(elem_classes=["status"], elem_id=f"{dataset}-status")
    with gr.Row(equal_height=False):
        probs = gr.Label(num_top_classes=3, label=CALIBRATED, elem_id=f"{dataset}-label",
                         min_width=150)
        seen = gr.Image(label="What the model saw (28x28)", interactive=False, height=190,
                        elem_id=f"{dataset}-seen", min_width=150, buttons=[])
        overlay = gr.Image(label="Why (overlay)", interactive=False, height=190,
                           elem_id=f"{dataset}-overlay", min_width=150, buttons=["fullscreen"])
    gr.HTML(LEGEND)
    note = gr.Markdown(elem_id=f"{dataset}-note")
    digits = gr.Image(label="The number, digit by digit", interactive=False, height=130,
                      visible=False)
    steps = gr.Gallery(label="How the photo was read: the garment found, cut out, made 28x28 "
                             "(and, for a pretrained model, what its ImageNet network saw)",
                       columns=3, height="auto", object_fit="contain",
                       visible=dataset == "fashion-mnist")
    with gr.Row():
        model = gr.Dropdown(names, value=default, label="Model", min_width=150)
        method = gr.Radio(titles, value=titles[-1], label="Explanation", min_width=150)
        target = gr.Dropdown([PREDICTED, *classes], value=PREDICTED, label="Explain class",
                             min_width=150)
    method_note = gr.Markdown(notes)
    compare_on = gr.Checkbox(label="Compare all models side by side", value=False)
    return (model, method, target, compare_on, method_note), \
        [status, probs, seen, overlay, note, digits, steps]


def more_panel(dataset: str, controls, answers):
    """Below the input and answer: every model side by side (only while asked for), the
    feature maps, and what "calibrated" means. Returns every output of ``analyse``."""
    model, method, target, compare_on, method_note = controls
    with gr.Column(visible=False) as compared:
        table = gr.Dataframe(headers=["model", "answer", "like its training data", "top 3", "ms"],
                             label="All models")
        gallery = gr.Gallery(label="Each model's explanation: Grad-CAM where the model has "
                             "conv layers, Saliency otherwise", columns=6, height=240,
                             object_fit="contain")
    with gr.Accordion("Feature maps of conv models", open=False):
        maps = gr.Gallery(label="Activations for this input", columns=8, height=260)
    gr.Markdown(CALIBRATED_MEANS + " " + COLOURS, elem_classes=["small"])
    compare_on.change(lambda on: gr.update(visible=on), compare_on, compared, queue=False,
                      show_progress="hidden", api_visibility="private")
    model.change(lambda m, me, t: model_options(m, me, t, dataset), [model, method, target],
                 [method, method_note, target], show_progress="hidden",
                 api_visibility="private")
    status, probs, seen, overlay, note, digits, steps = answers
    return [status, probs, seen, overlay, note, maps, table, gallery, steps, digits]


def wire(source, state, controls, outputs, dataset: str, read=lambda value: value) -> None:
    """A new input is analysed in the same request that keeps it (one round trip per
    stroke); a changed control re-analyses the kept input. ``read`` turns the component's
    value into the input that is kept."""
    run = lambda image, m, me, t, c: analyse(image, m, me, t, c, dataset)  # noqa: E731

    def keep_and_run(value, *rest):
        image = read(value)
        return (image, *run(image, *rest))

    source.change(keep_and_run, [source, *controls], [state, *outputs],
                  trigger_mode="always_last", show_progress="hidden", api_visibility="private")
    for control in controls:
        control.change(run, [state, *controls], outputs, trigger_mode="always_last",
                       show_progress="hidden", api_visibility="private")


def drawing(value) -> bytes | None:
    """The canvas's PNG, None for an empty canvas. Only a data URL is read, never a path:
    whatever string a page sends, the server reads no file for it. Anything else becomes
    no bytes, which ``analyse`` answers with its "not an image" message."""
    if value in (None, ""):
        return None
    try:
        return data_url_bytes(value)
    except ImageError as err:
        log.info("not a drawing (%s): %s", err, _short(value))
        return b""


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


# The drawing area: a plain canvas, drawn on with a mouse, a pen or a finger from the first
# touch. When the pen lifts it sends one small PNG of the whole drawing (ink in the alpha
# channel, as Gradio's Sketchpad sent it; a few kB) in a single request: the Sketchpad spent
# about 0.6 s in the browser after each stroke and then uploaded the canvas about 20 times.
# The pen is 14 px: numbers written on it stay legible (3-4 digit numbers are about 65-130
# px tall); a 28 px pen ran their strokes into blobs (benchmarks/robustness.py
# --parts handwriting: 52% of numbers right against 94%, same reader), and a thin stroke
# of a big digit is thickened to MNIST's in preprocessing.
PAD_SIZE, PAD_PEN = 280, 14  # canvas pixels; the pen's width in them
PAD_HTML = f"""<div class="pad-head"><span>Draw a digit, or a number</span>
<button type="button" class="undo" aria-label="Undo the last stroke">Undo</button>
<button type="button" class="clear" aria-label="Clear canvas">Clear</button></div>
<canvas width="{PAD_SIZE}" height="{PAD_SIZE}" role="img"
 aria-label="Drawing area: draw a digit with the mouse, a pen or a finger"></canvas>"""
PAD_JS = f"""
const canvas = element.querySelector('canvas');
const ctx = canvas.getContext('2d');
const strokes = [];
let current = null;
const at = (e) => {{
  const r = canvas.getBoundingClientRect();
  return [(e.clientX - r.left) * canvas.width / r.width,
          (e.clientY - r.top) * canvas.height / r.height];
}};
const line = (points) => {{
  ctx.lineCap = 'round'; ctx.lineJoin = 'round'; ctx.lineWidth = {PAD_PEN};
  ctx.strokeStyle = '#000';
  ctx.beginPath(); ctx.moveTo(...points[0]);
  for (const p of points) ctx.lineTo(...p);
  ctx.stroke();
}};
// a new value is itself the component's change event: one request
const send = () => {{ props.value = strokes.length ? canvas.toDataURL('image/png') : ''; }};
const redraw = () => {{
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  strokes.forEach(line);
  send();
}};
canvas.addEventListener('pointerdown', (e) => {{
  if (e.button > 0) return;
  e.preventDefault();
  canvas.setPointerCapture(e.pointerId);
  current = [at(e)];
  strokes.push(current);
  line([current[0], current[0]]);
}});
canvas.addEventListener('pointermove', (e) => {{
  if (!current) return;
  const p = at(e);
  line([current[current.length - 1], p]);
  current.push(p);
}});
const lift = () => {{ if (current) {{ current = null; send(); }} }};
canvas.addEventListener('pointerup', lift);
canvas.addEventListener('pointercancel', lift);
element.querySelector('.undo').addEventListener('click', () => {{ strokes.pop(); redraw(); }});
element.querySelector('.clear').addEventListener('click', () => {{
  strokes.length = 0; redraw();
}});
"""


def build() -> gr.Blocks:
    """The page, over the served models."""
    with gr.Blocks(title="MNIST & Fashion-MNIST: classify, compare, explain",
                   delete_cache=(CACHE_SWEEP_S, CACHE_AGE_S)) as demo:
        gr.Markdown("# Classify, compare, explain\nDraw a digit or upload a photo of clothing. "
                    "Fourteen models trained in this repository answer, show the 28x28 image they "
                    "saw, and show why with Saliency, Integrated Gradients, SmoothGrad and Grad-CAM.",
                    elem_classes=["intro"])
        with gr.Tab("Digits"):
            digit_state = gr.State(None)
            with gr.Row(equal_height=False):
                with gr.Column(scale=5, min_width=300):
                    with gr.Tab("Draw"):
                        sketch = gr.HTML("", html_template=PAD_HTML, js_on_load=PAD_JS,
                                         elem_id="sketchpad", padding=False,
                                         apply_default_css=False)
                    with gr.Tab("Upload"):
                        # filepath: the classifier reads the file itself (EXIF orientation, any mode)
                        digit_upload = image_upload(label="Photo or scan of a digit", height=300,
                                                    sources=["upload", "clipboard", "webcam"],
                                                    elem_id="digit-upload")
                        gr.Examples(examples("digit"), inputs=digit_upload, cache_examples=False)
                with gr.Column(scale=6, min_width=300):
                    controls, answers = answer_panel("mnist")
            outputs = more_panel("mnist", controls, answers)
            wire(sketch, digit_state, controls[:4], outputs, "mnist", read=drawing)
            wire(digit_upload, digit_state, controls[:4], outputs, "mnist")
        with gr.Tab("Clothing"):
            cloth_state = gr.State(None)
            with gr.Row(equal_height=False):
                with gr.Column(scale=5, min_width=300):
                    cloth_upload = image_upload(label="Photo of one piece of clothing", height=300,
                                                sources=["upload", "clipboard", "webcam"],
                                                elem_id="clothing-upload")
                with gr.Column(scale=6, min_width=300):
                    controls, answers = answer_panel("fashion-mnist")
            # below the answer, so a phone shows the answer right under the photo
            caption = gr.Textbox(visible=False, label="Class")
            gr.Examples(clothing_examples(), inputs=[cloth_upload, caption],
                        cache_examples=False, examples_per_page=6,
                        label="Examples: real photos first, then Fashion-MNIST items")
            outputs = more_panel("fashion-mnist", controls, answers)
            wire(cloth_upload, cloth_state, controls[:4], outputs, "fashion-mnist")
        with gr.Tab("Models"):
            text, figure = study()
            gr.Markdown(without_file_links(text), elem_classes=["report"])
            if figure:
                gr.Image(str(figure), show_label=False, interactive=False)
            chosen = gr.Dropdown([m["name"] for m in ALL_MODELS], label="Model card",
                                 value=ALL_MODELS[0]["name"] if ALL_MODELS else None)
            card = gr.Markdown()
            per_class = gr.Dataframe(headers=["class", "precision", "recall", "F1", "support"],
                                     label="Per-class test metrics")
            # the figures carry their own titles, which a component label would cover
            with gr.Row():
                confusion = gr.Image(show_label=False, interactive=False, min_width=300)
                wrong = gr.Image(show_label=False, interactive=False, min_width=300)
            with gr.Row():
                curves = gr.Image(show_label=False, interactive=False, min_width=300)
                filters = gr.Image(show_label=False, interactive=False, min_width=300)
            card_outputs = [card, per_class, confusion, wrong, curves, filters]
            # hidden progress: Gradio's screen-reader status would read "common.complete"
            chosen.change(model_card, chosen, card_outputs, show_progress="hidden",
                          api_visibility="private")
            demo.load(model_card, chosen, card_outputs, show_progress="hidden",
                      api_visibility="private")
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
    return dict(max_file_size=MAX_UPLOAD, css=CSS, state_session_capacity=256,
                max_threads=8,
                server_name=os.environ.get("GRADIO_SERVER_NAME"),
                server_port=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))


def stop(*_):
    raise KeyboardInterrupt  # Gradio then closes the server and deletes its temporary files


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, stop)  # docker stop, a Space restart
    add_hub_models(HUB_MODELS)
    warm_up()
    keep_bounded()
    build().launch(**launch_options())
