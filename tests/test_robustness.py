"""What users send, built from real test images (tests/synthetic.py), through the shipped
models. Thresholds are the product's promises; ``benchmarks/robustness.py`` reports the
same figures on more images."""
import numpy as np
import pytest

from classifier.predict import load_model
from training import synthetic
from training.data import read_split

N = 500  # images per set: enough to resolve a 1-point difference, quick on two cores


def accuracy(clf, make, images, labels, seed=0):
    rng = np.random.default_rng(seed)
    hits = [clf.predict(make(x, rng)) == clf.class_names[y]
            for x, y in zip(images[:N].numpy(), labels[:N].tolist())]
    return float(np.mean(hits))


@pytest.fixture(scope="module")
def mnist(data_dir):
    return read_split(data_dir, "mnist", "test", download=False)


def test_sketchpad_drawings_thick_off_centre_varied_sizes(mnist):
    assert accuracy(load_model("mnist-cnn"), synthetic.sketch, *mnist) >= 0.99


def test_dark_ink_on_noisy_paper_jpeg(mnist):
    assert accuracy(load_model("mnist-cnn"), synthetic.paper, *mnist) >= 0.97


def test_fashion_items_as_product_photos(data_dir):
    images, labels = read_split(data_dir, "fashion-mnist", "test", download=False)
    clf = load_model("fashion-mnist-resnet18")
    clean = accuracy(clf, lambda x, rng: x, images, labels)
    photos = accuracy(clf, synthetic.product, images, labels)
    assert photos >= 0.9 * clean, (photos, clean)
