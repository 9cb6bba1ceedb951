"""Inference library: load checkpoints, turn any user image into model input, predict, explain.

    from classifier import load_model
    clf = load_model("mnist-cnn")
    clf.predict_proba("digit.png")

The names below load their module on first use, so ``import classifier.datasets`` (as
training does) costs no Captum or Matplotlib import.
"""
from importlib import import_module

_WHERE = {"CheckpointError": "checkpoint", "load_checkpoint": "checkpoint",
          "METHODS": "explain", "ExplainError": "explain", "Explanation": "explain",
          "Classifier": "predict", "list_models": "predict", "load_model": "predict",
          "BlankImageError": "preprocess", "ImageError": "preprocess", "normalize": "preprocess",
          "prepare": "preprocess"}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'classifier' has no attribute {name!r}")
    return getattr(import_module(f"classifier.{_WHERE[name]}"), name)
