"""Test-set metrics and calibration, from logits and labels (all on the CPU).

Calibration: a single temperature T, fitted on the validation split by minimising the
negative log-likelihood of softmax(logits / T); expected calibration error (ECE) with 15
equal-width confidence bins, before and after.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    log_t = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200)

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.detach().exp().clamp(0.05, 20.0))


def expected_calibration_error(probs: torch.Tensor, labels: torch.Tensor, bins: int = 15) -> float:
    conf, pred = probs.max(1)
    correct = (pred == labels).float()
    edges = torch.linspace(0, 1, bins + 1)
    ece = torch.zeros(())
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            ece += inside.float().mean() * (conf[inside].mean() - correct[inside].mean()).abs()
    return float(ece)


def confusion_matrix(pred: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(true, predicted) counts."""
    return torch.bincount(labels * num_classes + pred,
                          minlength=num_classes ** 2).reshape(num_classes, num_classes)


def classification_metrics(logits: torch.Tensor, labels: torch.Tensor, class_names: list[str],
                           temperature: float = 1.0) -> dict:
    """Accuracy, loss, per-class precision/recall/F1, confusion matrix, ECE, misclassified."""
    pred = logits.argmax(1)
    cm = confusion_matrix(pred, labels, len(class_names))
    tp = cm.diag().float()
    precision = tp / cm.sum(0).clamp(min=1)
    recall = tp / cm.sum(1).clamp(min=1)
    f1 = 2 * precision * recall / (precision + recall).clamp(min=1e-12)
    wrong = (pred != labels).nonzero().flatten()
    return {
        "test_accuracy": float((pred == labels).float().mean()),
        "test_loss": float(F.cross_entropy(logits, labels)),
        "test_correct": int((pred == labels).sum()),
        "test_size": len(labels),
        "per_class": {name: {"precision": float(precision[i]), "recall": float(recall[i]),
                             "f1": float(f1[i]), "support": int(cm[i].sum())}
                      for i, name in enumerate(class_names)},
        "confusion_matrix": cm.tolist(),
        "ece_before_temperature": expected_calibration_error(logits.softmax(1), labels),
        "ece_after_temperature": expected_calibration_error((logits / temperature).softmax(1),
                                                            labels),
        "misclassified": [{"index": int(i), "true": int(labels[i]), "pred": int(pred[i])}
                          for i in wrong],
    }
