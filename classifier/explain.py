"""Why a model answered what it did: Captum attributions drawn over the image it saw.

    e = load_model("mnist-cnn").explain("seven.png", method="gradcam")
    e.overlay        # uint8 (280, 280, 3) RGB, ready to show
    e.attribution    # float (28, 28) in [0, 1]

Every method has one call shape, ``Method(model).attribute(x, target=k)``:
- ``saliency``: |d logit_k / d pixel| (Simonyan et al. 2013);
- ``integrated_gradients``: gradients integrated from a black image to the input (|.|);
- ``smoothgrad``: saliency averaged over noisy copies of the input (less speckle);
- ``gradcam``: the late conv stage's activations weighted by their gradients, positive part,
  bilinearly upsampled over the pixels it covers (7x7 for the CNN and 4x4 for ResNet-18
  over the whole input; 10x10 for LeNet-5 over the central 20x20, as its C3 is unpadded). Models
  without conv layers (linear, svm, mlp) have no such map and are refused.

Colormap (matplotlib "inferno", blended over the dimmed input): transparent/dark where the
method found no evidence for the target class, through red and orange, to bright yellow
where the evidence is strongest. Each map is scaled to its own maximum, so colours compare
regions within one map, not across maps.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, NoiseTunnel, Saliency
from matplotlib import colormaps
from PIL import Image

from classifier.models import ARCHITECTURES

METHODS = {"saliency": "Saliency", "integrated_gradients": "Integrated Gradients",
           "smoothgrad": "SmoothGrad", "gradcam": "Grad-CAM"}
IG_STEPS, SMOOTHGRAD_SAMPLES, SMOOTHGRAD_NOISE = 32, 16, 0.15  # noise in pixel units (0..1)


class ExplainError(ValueError):
    """A method that does not apply, or an unknown method; the message is meant for users."""


@dataclass
class Explanation:
    method: str
    target: int
    target_label: str
    image: np.ndarray        # uint8 (28, 28): what the model saw
    attribution: np.ndarray  # float (28, 28) in [0, 1]
    overlay: np.ndarray      # uint8 (size, size, 3) RGB

    @property
    def empty(self) -> bool:
        """No evidence at all: e.g. Grad-CAM, whose map keeps only its positive part."""
        return not bool(np.any(self.attribution > 0))

    @property
    def caption(self) -> str:
        """What the overlay shows, in words; says so when it shows nothing."""
        if self.empty:
            return (f"{METHODS[self.method]} found no evidence for class **{self.target_label}**"
                    " (every part of its map was negative, and only the positive part is "
                    "drawn), so the overlay shows no heat.")
        return f"{METHODS[self.method]} for class **{self.target_label}**."


def methods_for(clf) -> dict[str, str | None]:
    """{method: None if it applies to this model, else a one-line reason why not}.
    ``clf``: a loaded model, or an architecture's name (nothing is loaded)."""
    arch = clf if isinstance(clf, str) else clf.arch
    has_conv = hasattr(ARCHITECTURES.get(arch), "cam_layer")  # as Classifier.has_conv finds
    reason = None if has_conv else f"Grad-CAM needs convolutional layers; {arch} has none."
    return {m: (reason if m == "gradcam" else None) for m in METHODS}


def attribute(clf, x: torch.Tensor, method: str, target: int) -> torch.Tensor:
    """Raw attribution (1, 1, 28, 28) of ``method`` for class ``target``."""
    model = clf.model
    x = x.clone().requires_grad_(True)
    if method == "saliency":
        return Saliency(model).attribute(x, target=target, abs=True)
    if method == "integrated_gradients":
        black = torch.full_like(x, -clf.mean / clf.std)  # pixel value 0 after normalising
        return IntegratedGradients(model).attribute(x, baselines=black, target=target,
                                                    n_steps=IG_STEPS).abs()
    if method == "smoothgrad":
        return NoiseTunnel(Saliency(model)).attribute(
            x, nt_type="smoothgrad", nt_samples=SMOOTHGRAD_SAMPLES,
            stdevs=SMOOTHGRAD_NOISE / clf.std, target=target, abs=True)
    if method == "gradcam":
        cam = LayerGradCam(model, clf.model.cam_layer).attribute(
            x, target=target, relu_attributions=True)  # (1, 1, h, w)
        # the map is stretched over the part of the input its units are centred on
        start, size = getattr(clf.model, "cam_span", (0, 28))
        cam = LayerAttribution.interpolate(cam, (size, size), interpolate_mode="bilinear")
        return torch.nn.functional.pad(cam, (start, 28 - size - start) * 2)
    raise ExplainError(f"unknown method {method!r}; choose one of {list(METHODS)}")


def explain(clf, image, method: str = "saliency", target=None, size: int = 280) -> Explanation:
    """Explain ``clf``'s answer for ``image`` (any input ``prepare`` accepts)."""
    if method not in METHODS:
        raise ExplainError(f"unknown method {method!r}; choose one of {list(METHODS)}")
    reason = methods_for(clf)[method]
    if reason:
        raise ExplainError(reason)
    seen = clf.seen(image)
    x = clf.tensor(seen)
    with clf.lock:  # Captum hooks live on the model object: one pass at a time
        index = clf.target_index(target, x)
        raw = attribute(clf, x, method, index).detach()[0, 0]
    heat = raw.clamp(min=0)
    heat = (heat / heat.max()).nan_to_num(0.0) if heat.max() > 0 else heat
    heat = heat.numpy().astype(np.float32)
    return Explanation(method, index, clf.class_names[index], seen, heat,
                       overlay(seen, heat, size))


_INFERNO = (colormaps["inferno"](np.linspace(0, 1, 256))[:, :3]).astype(np.float32)  # (256, 3)


def overlay(image: np.ndarray, heat: np.ndarray, size: int = 280) -> np.ndarray:
    """Blend ``heat`` (28, 28, in [0, 1]) over ``image`` (uint8 28x28), both smoothly scaled
    to ``size`` pixels; RGB uint8 (size, size, 3). See the module docstring for colours."""
    base = np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BICUBIC),
                      np.float32)[..., None] * (0.65 / 255)  # dimmed input
    h = np.asarray(Image.fromarray(np.asarray(heat, np.float32)).resize(
        (size, size), Image.Resampling.BILINEAR))
    h = np.clip(h, 0, 1)
    colour = _INFERNO[(h * 255).astype(np.uint8)]  # (size, size, 3)
    alpha = (0.85 * h ** 0.7)[..., None]
    rgb = base + alpha * (colour - base)
    return np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8)


def watch_conv_stages(model, into: dict) -> list:
    """Hooks that store the first conv layer's and the Grad-CAM stage's activations
    (channels, h, w) of the next forward pass in ``into``; remove them after it."""
    first = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    layers = {"first conv layer": first, "last conv stage": model.cam_layer}
    return [layer.register_forward_hook(
        lambda mod, inp, out, key=key: into.__setitem__(key, out[0].detach().float().numpy()))
        for key, layer in layers.items()]


def feature_maps(clf, image) -> dict[str, np.ndarray]:
    """Activations (channels, h, w) of the first conv layer and of the Grad-CAM stage."""
    if not clf.has_conv:
        raise ExplainError(f"{clf.arch} has no convolutional layers, so no feature maps.")
    seen: dict[str, np.ndarray] = {}
    with clf.lock:
        hooks = watch_conv_stages(clf.model, seen)
        try:
            clf.logits(clf.tensor(image))
        finally:
            for h in hooks:
                h.remove()
    return seen

