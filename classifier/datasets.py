"""What is known about each dataset, in one table: its classes and files, how a user's image
becomes its input, how training augments it, and how the page speaks of it.

    DATASETS["fashion-mnist"].class_names[9]      # 'Ankle boot'
    DATASETS["mnist"].recipe                      # 'digit-v1'
"""
from __future__ import annotations

from dataclasses import dataclass

# The four standard IDX files of both datasets (each .gz or plain), by split
FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


@dataclass(frozen=True)
class Dataset:
    name: str                     # the folder under the data directory, and the model prefix
    kind: str                     # "digits" or "clothing": the page's tab, and the augmentation
    class_names: tuple[str, ...]
    recipe: str                   # the preprocessing recipe a new checkpoint records
    hub_id: str                   # the same data on the Hugging Face Hub (model cards)
    torchvision: str              # the torchvision class that downloads it
    default_model: str            # what the page shows first
    noun: str                     # "This does not look like {noun}"
    prompt: str                   # what the page says before any input


DATASETS = {d.name: d for d in (
    Dataset(name="mnist", kind="digits", class_names=tuple(str(d) for d in range(10)),
            recipe="digit-v1", hub_id="ylecun/mnist", torchvision="MNIST",
            default_model="mnist-cnn", noun="a digit",
            prompt="Draw a digit or upload an image."),
    Dataset(name="fashion-mnist", kind="clothing",
            class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
            recipe="clothing-photo-v2", hub_id="zalando-datasets/fashion_mnist",
            torchvision="FashionMNIST",
            default_model="fashion-mnist-efficientnet-lite0",
            noun="one of the ten kinds of clothing as it was shown them",
            prompt="Upload a photo of a piece of clothing, or pick an example."),
)}
