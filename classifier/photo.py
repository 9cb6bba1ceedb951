"""What an ImageNet network knows about a clothing photo, as evidence for Fashion-MNIST classes.

A model fine-tuned on Fashion-MNIST sees a photo only as the 28x28 silhouette GrabCut cuts
out (``classifier.clothing``). Fashion-MNIST has no photos, so nothing it learnt tells a
pair of shoes seen from above from a bag. The ImageNet network it was fine-tuned from has
seen millions of photos, and its classes name garments: jersey (T-shirt), jean, sweatshirt,
trench coat, gown, sandal, running shoe, and kinds that are none of the ten (cowboy hat,
miniskirt, swimming trunks). A checkpoint with a ``"photo"`` entry in its config keeps that
network, unchanged, beside its own weights (``imagenet.safetensors``), and reads a photo
with both:

    view = PhotoView.load(folder, config["photo"])
    kinds = view.read(rgba)          # evidence (10,) per class, and how much says "other"
    probs = view.combine(silhouette_probs, kinds)

ImageNet's evidence is by *kind* of garment: the mass of the ImageNet classes of each kind
(top, trousers, dress, coat, footwear, bag), normalised over every garment class it knows,
so a shirt on a quilt is judged among garments, not against the quilt. Within a kind the
silhouette model decides (a T-shirt, a pullover or a shirt are all "top" to ImageNet),
except for footwear, where ImageNet's sandal / running shoe / boot split is used: photos
show shoes in pairs from above, which Fashion-MNIST never does. The answer is the product
of the two, ImageNet's raised to ``weight`` and floored at ``floor`` so that neither can
veto a class alone (a product of experts, renormalised; not calibrated as a whole).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from classifier.pixels import over_white, to_uint8

IMAGENET_FILE = "imagenet.safetensors"

# The default photo view, written into a fine-tuned clothing checkpoint's config by training.
# Kinds: the Fashion-MNIST classes of each kind of garment, and the ImageNet-1k classes
# (indices) that speak for it, by their WordNet meaning.
KINDS = {
    "top": (["T-shirt/top", "Pullover", "Shirt"],
            [610, 841, 474, 697]),        # jersey/T-shirt, sweatshirt, cardigan, pajama
    "trousers": (["Trouser"], [608]),     # jean
    "dress": (["Dress"],
              [578, 399, 601, 689, 775, 411]),  # gown, abaya, hoopskirt, overskirt, sarong, apron
    "coat": (["Coat"],
             [869, 568, 617, 834, 652, 501, 400, 614, 735, 465]),  # trench, fur and lab coat,
    # suit, military uniform, cloak, academic gown, kimono, poncho, bulletproof vest
    "footwear": (["Sandal", "Sneaker", "Ankle boot"], [774, 502, 770, 630, 514]),
    "bag": (["Bag"], [414, 748, 636, 893, 728]),  # backpack, purse, mailbag, wallet, plastic bag
}
# Within footwear, ImageNet's own split: sandal and clog; running shoe and loafer; cowboy boot
FOOTWEAR = {"Sandal": [774, 502], "Sneaker": [770, 630], "Ankle boot": [514]}
# Garments and accessories that are none of the ten kinds: hats and caps, skirts, swimwear
# and underwear, socks, ties, scarves, mittens, wigs.
OTHER = [515, 808, 452, 793, 433, 518, 560, 655, 842, 445, 459, 638, 639, 806, 496, 457, 906,
         451, 824, 658, 529, 903, 667, 887]
DEFAULT_VIEW = {
    "weights_file": IMAGENET_FILE,
    "resolution": 224,         # px: the photo padded to a square (its median colour) and resized
    "mean": 0.5, "std": 0.5,   # per RGB channel, in [0, 1] units
    "weight": 2.0,             # exponent of ImageNet's evidence in the product
    "floor": 0.02,             # evidence never below this share, so it cannot veto alone
    "other_threshold": 0.5,    # "none of the ten kinds" past this share of the garment mass
    "min_ten_kinds": 0.15,     # ... or below this probability on the ten kinds' classes
    "silhouette_flag": True,   # ... or when the silhouette's own score is past its threshold
    "kinds": KINDS, "footwear": FOOTWEAR, "other": OTHER,
}


@dataclass
class Evidence:
    """ImageNet's reading of one photo."""
    kinds: np.ndarray     # (classes,) per Fashion-MNIST class: its kind's share, floored
    other: float          # share of the garment mass on kinds that are none of the ten
    garment: float        # probability ImageNet puts on any garment class at all
    top5: list[tuple[str, float]]  # ImageNet's own top five, for people to read
    image: np.ndarray | None = None  # uint8 (r, r, 3): what the ImageNet network saw


class PhotoView:
    """The ImageNet network and the config entry that says how to read a photo with it."""

    def __init__(self, net: nn.Module, config: dict, class_names: list[str]):
        self.net = net.eval()
        self.cfg = {**DEFAULT_VIEW, **config}
        self.class_names = list(class_names)
        self.lock = threading.Lock()  # one pass at a time through the shared network

    @classmethod
    def load(cls, folder: str | Path, config: dict, class_names: list[str]) -> PhotoView:
        from safetensors.torch import load_file

        net = imagenet_network()
        state = load_file(Path(folder) / config.get("weights_file", IMAGENET_FILE))
        net.load_state_dict({k: v.float() for k, v in state.items()})
        return cls(net, config, class_names)

    def picture(self, rgba: np.ndarray) -> np.ndarray:
        """The photo padded to a square with its median colour and resized: what the
        ImageNet network sees, uint8 (r, r, 3)."""
        rgb = over_white(rgba) if rgba.shape[2] == 4 else rgba[..., :3]
        img = Image.fromarray(to_uint8(rgb))
        w, h = img.size
        fill = tuple(int(v) for v in np.median(np.asarray(img).reshape(-1, 3), axis=0))
        square = Image.new("RGB", (max(w, h), max(w, h)), fill)
        square.paste(img, ((max(w, h) - w) // 2, (max(w, h) - h) // 2))
        r = int(self.cfg["resolution"])
        return np.asarray(square.resize((r, r), Image.Resampling.BICUBIC))

    def tensor(self, picture: np.ndarray) -> torch.Tensor:
        """A ``picture`` normalised for the network: (1, 3, r, r)."""
        x = torch.from_numpy(picture.astype(np.float32) / 255).permute(2, 0, 1)[None]
        return (x - self.cfg["mean"]) / self.cfg["std"]

    def read(self, rgba: np.ndarray) -> Evidence:
        """ImageNet's evidence for each class from one photo (float RGBA, H x W x 4)."""
        picture = self.picture(rgba)
        with self.lock, torch.inference_mode():
            p = self.net(self.tensor(picture)).softmax(1)[0].numpy()  # (1000,)
        evidence = self.evidence(p)
        evidence.image = picture
        return evidence

    def evidence(self, p: np.ndarray) -> Evidence:
        """``Evidence`` from ImageNet's probabilities (1000,)."""
        kinds, footwear = self.cfg["kinds"], self.cfg["footwear"]
        other = float(p[self.cfg["other"]].sum())
        garment = other + sum(float(p[ids].sum()) for _, ids in kinds.values())
        share = np.zeros(len(self.class_names))
        for members, ids in kinds.values():
            for name in members:
                share[self.class_names.index(name)] = p[ids].sum() / max(garment, 1e-9)
        shoes = sum(float(p[ids].sum()) for ids in footwear.values())
        for name, ids in footwear.items():  # ImageNet's own split within footwear
            share[self.class_names.index(name)] *= len(footwear) * p[ids].sum() / max(shoes, 1e-9)
        floor = self.cfg["floor"]
        top = np.argsort(p)[::-1][:5]
        return Evidence(kinds=(1 - floor) * share + floor, other=other / max(garment, 1e-9),
                        garment=garment, top5=[(imagenet_name(int(i)), float(p[i])) for i in top])

    def combine(self, probs: np.ndarray, evidence: Evidence) -> np.ndarray:
        """The silhouette model's probabilities (classes,) times the evidence ** weight,
        renormalised."""
        log = np.log(np.clip(probs, 1e-6, None)) + self.cfg["weight"] * np.log(evidence.kinds)
        out = np.exp(log - log.max())
        return out / out.sum()

    def unlike(self, evidence: Evidence, silhouette_flag: bool) -> bool:
        """Whether the photo is flagged as none of the ten kinds: ImageNet puts most of its
        garment mass on other kinds (a hat, swimming trunks), or little on the ten kinds at
        all (a hat it takes for an iron, a skirt for a towel); and, where the config says
        so, the silhouette's own out-of-distribution flag."""
        ten = evidence.garment * (1 - evidence.other)
        return (evidence.other > self.cfg["other_threshold"] or ten < self.cfg["min_ten_kinds"]
                or (silhouette_flag and self.cfg["silhouette_flag"]))


def imagenet_network() -> nn.Module:
    """timm's EfficientNet-Lite0 with its 1000-way ImageNet classifier, untrained."""
    import timm

    return timm.create_model("efficientnet_lite0", num_classes=1000)


def imagenet_name(index: int) -> str:
    """The first name of ImageNet-1k class ``index`` ("jersey", "running shoe")."""
    return _imagenet_names()[index]


@lru_cache(maxsize=1)
def _imagenet_names() -> list[str]:
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return [info.index_to_description(i).split(",")[0] for i in range(1000)]

