"""The models a request can choose: the shipped checkpoints, plus Hub models fetched at
start. Fixed before the page is built: no request browses the disk or reaches the network
for a model.

    clf = get_model("mnist-cnn", "mnist")     # or CheckpointError naming the choices
"""
from __future__ import annotations

import logging

from classifier import CheckpointError, list_models, load_model
from classifier.checkpoint import CHECKPOINTS_DIR
from classifier.datasets import DATASETS
from web import upkeep
from web.views import short

log = logging.getLogger("app")

# By canonical name -> the folder each loads from.
# Importing this module reads the shipped checkpoints' config files and loads no weights;
# models load on first use, or all at once by ``warm_up`` when the app is launched.
ALL_MODELS = list_models()
SERVED = {m["name"]: str(CHECKPOINTS_DIR / m["name"]) for m in ALL_MODELS}
MODELS = {ds: [m["name"] for m in ALL_MODELS if m["dataset"] == ds] for ds in DATASETS}


def add_hub_models(repo_ids: list[str]) -> None:
    """Serve the Hub models that download and load; called at launch, before the page is
    built, never by a request."""
    for repo, folder in upkeep.fetch_hub_models([r for r in repo_ids if r not in SERVED]).items():
        clf = load_model(folder)
        SERVED[repo] = folder
        ALL_MODELS.append({"name": repo, "dataset": clf.dataset, "arch": clf.arch,
                           "class_names": clf.class_names, "test_accuracy": clf.test_accuracy})
        MODELS[clf.dataset].append(repo)


def warm_up() -> None:
    """Load every served model now, so no visitor waits for a first load."""
    for name in SERVED:
        get_model(name)


def get_model(name, dataset: str | None = None):
    """A served model by its canonical name, restricted to ``dataset``; anything else gets
    a clear error naming the choices."""
    known = MODELS.get(dataset, []) if dataset else list(SERVED)
    if not isinstance(name, str) or name not in known:
        raise CheckpointError(f"Unknown model {short(name)}. Available: {', '.join(known)}.")
    try:
        return load_model(SERVED[name])
    except CheckpointError:
        log.exception("served model %s failed to load", name)
        raise CheckpointError(f"The model {name} could not be loaded.") from None

