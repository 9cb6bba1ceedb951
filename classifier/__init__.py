"""Inference library: load checkpoints, turn any user image into model input, predict, explain.

    from classifier import load_model
    clf = load_model("mnist-cnn")
    clf.predict_proba("digit.png")
"""
from classifier.checkpoint import CheckpointError, load_checkpoint
from classifier.explain import METHODS, ExplainError, Explanation
from classifier.predict import Classifier, list_models, load_model
from classifier.preprocess import BlankImageError, ImageError, normalize, prepare

__all__ = ["BlankImageError", "CheckpointError", "Classifier", "ExplainError", "Explanation",
           "ImageError", "METHODS", "list_models", "load_checkpoint", "load_model", "normalize",
           "prepare"]
