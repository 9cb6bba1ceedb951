"""What users send, built from real test images (training/synthetic.py), through the shipped
models. Thresholds are the product's promises; ``python -m benchmarks.robustness`` reports
the same figures on more images."""
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


@pytest.mark.parametrize("edge", ["top", "bottom", "left", "right", "fill"])
def test_big_drawings_touching_the_canvas_edge_are_read(mnist, edge):
    """A stroke along the border is ink, not the paper's noise (it used to erase the whole
    drawing: 42-98% of these were refused)."""
    rng = np.random.default_rng(1)
    clf = load_model("mnist-cnn")
    hits = [clf.predict(synthetic.sketch_at_edge(x, rng, edge)) == str(y)
            for x, y in zip(mnist[0][:100].numpy(), mnist[1][:100].tolist())]
    assert np.mean(hits) >= 0.97


def test_digit_on_paper_running_off_the_photo(mnist):
    rng = np.random.default_rng(2)
    clf = load_model("mnist-cnn")
    hits = [clf.predict(synthetic.paper(x, rng, cropped=True)) == str(y)
            for x, y in zip(mnist[0][:100].numpy(), mnist[1][:100].tolist())]
    assert np.mean(hits) >= 0.97


def test_digit_on_paper_under_a_shadow(mnist):
    """A phone photo of paper with a shadow taking 60% of the light over part of the sheet:
    it used to be taken for ink (36% read right on 300 such photos; now 100%)."""
    rng = np.random.default_rng(3)
    clf = load_model("mnist-cnn")
    hits = [clf.predict(synthetic.paper(x, rng, shadow=0.6)) == str(y)
            for x, y in zip(mnist[0][:100].numpy(), mnist[1][:100].tolist())]
    assert np.mean(hits) >= 0.97


@pytest.mark.parametrize("colour", [(200, 0, 0), (110, 110, 110)])
def test_bold_coloured_ink_in_a_tight_crop_is_not_taken_for_paper(mnist, colour):
    """Strokes wider than the paper estimate's closing. Of 150: red and grey 100% (99.3%
    with the median as the paper; 92.7% and 88.7% with the paper floored from its own
    brightness alone)."""
    import torch
    import torch.nn.functional as F
    from PIL import Image

    clf = load_model("mnist-cnn")
    hits = []
    for x, y in zip(mnist[0][:100].numpy(), mnist[1][:100].tolist()):
        a = np.asarray(Image.fromarray(x).resize((224, 224), Image.BILINEAR)) / 255
        a = F.max_pool2d(torch.from_numpy(a)[None, None], 7, 1, 3)[0, 0].numpy()
        rows, cols = np.flatnonzero(a.max(1) > 0.3), np.flatnonzero(a.max(0) > 0.3)
        a = a[max(0, rows[0] - 4):rows[-1] + 5, max(0, cols[0] - 4):cols[-1] + 5, None]
        photo = (245 * (1 - a) + np.array(colour) * a).clip(0, 255).astype(np.uint8)
        hits.append(clf.predict(photo) == str(y))
    assert np.mean(hits) >= 0.97
