"""Finding the garment in a photo: drawn shapes whose true mask is known, then the real
development photos, whose floor the product promises."""
import numpy as np
import pytest

from classifier import load_model
from training.served import evaluate_photos
from classifier.clothing import clothing_steps, garment_mask
from classifier.preprocess import BlankImageError, prepare


def shirt(h=240, w=320, top=40, left=90):
    """A T-shirt silhouette (body and two sleeves), boolean (h, w)."""
    m = np.zeros((h, w), bool)
    m[top:top + 170, left + 30:left + 130] = True           # body
    m[top:top + 50, left:left + 30] = True                  # left sleeve
    m[top:top + 50, left + 130:left + 160] = True           # right sleeve
    return m


def iou(a, b):
    return (a & b).sum() / (a | b).sum()


def photo(mask, cloth, background):
    out = np.empty((*mask.shape, 3), np.float32)
    out[:] = background
    out[mask] = cloth[mask] if cloth.ndim == 3 else cloth
    return out


def stripes(h, w, colours, width=14):
    rows = (np.arange(h) // width) % len(colours)
    return np.asarray(colours, np.float32)[rows][:, None, :].repeat(w, axis=1)


def test_a_shirt_on_a_striped_coloured_blanket():
    m = shirt()
    blanket = stripes(*m.shape, [(0.9, 0.2, 0.2), (0.95, 0.85, 0.2), (0.2, 0.5, 0.85)])
    assert iou(garment_mask(photo(m, np.array([0.1, 0.1, 0.12]), blanket)), m) >= 0.9


def test_a_printed_shirt_on_wooden_floor_boards():
    m = shirt()
    rng = np.random.default_rng(0)
    wood = stripes(*m.shape, [(0.55, 0.35, 0.2), (0.62, 0.42, 0.25)], width=30)
    wood = np.clip(wood + rng.normal(0, 0.02, wood.shape), 0, 1)
    dots = stripes(*m.shape, [(0.9, 0.9, 0.95), (0.2, 0.3, 0.8)], width=6)  # a print
    assert iou(garment_mask(photo(m, dots, wood)), m) >= 0.9


def test_trousers_that_touch_the_bottom_edge():
    m = np.zeros((300, 200), bool)
    m[40:, 50:95] = True    # left leg, cut by the frame
    m[40:, 105:150] = True  # right leg
    m[40:90, 50:150] = True  # waist
    got = garment_mask(photo(m, np.array([0.15, 0.2, 0.45]), np.array([0.85, 0.83, 0.8])))
    assert iou(got, m) >= 0.9


def test_a_white_shirt_on_a_light_bed():
    m = shirt()
    rng = np.random.default_rng(1)
    bed = np.clip(np.array([0.82, 0.8, 0.76]) + rng.normal(0, 0.01, (*m.shape, 3)), 0, 1)
    assert iou(garment_mask(photo(m, np.array([0.97, 0.97, 0.97]), bed)), m) >= 0.9
    seen = prepare(photo(m, np.array([0.97, 0.97, 0.97]), bed), "clothing-photo-v2")
    assert seen.max() > 100  # a light garment is still visible to the model


def test_of_a_pair_of_shoes_one_is_kept():
    m = np.zeros((200, 300), bool)
    m[60:140, 30:130] = True
    small = np.zeros_like(m)
    small[70:130, 180:260] = True
    steps = clothing_steps(np.dstack([photo(m | small, np.array([0.2, 0.2, 0.2]),
                                            np.array([0.9, 0.9, 0.9])), np.ones(m.shape)]))
    assert iou(steps["mask"], m) >= 0.9
    assert np.abs(steps["box"] - (60, 140, 30, 130)).max() <= 2  # the larger shoe's box


def test_development_photos_reach_the_floor(data_dir):
    """The promise: at least 65% accepted answers from the default clothing model on the
    290 mapped real photos, at most 3% of them refused (measured 71.7%, 0), and at most a
    third flagged as not clothing (29.0%; 37.6% with a threshold from validation images
    alone)."""
    folder = data_dir / "clothing-photos"
    if not folder.is_dir():
        pytest.skip("no clothing-photos folder")
    result = evaluate_photos(load_model("fashion-mnist-resnet18"), folder)
    assert result["total"] == 290
    assert result["accepted"] >= 0.65 and result["refused"] <= 0.03 * 290, result
    assert result["flagged"] <= 0.33, result


def test_the_checkpoint_names_its_recipe_and_old_ones_still_load():
    from classifier import Classifier
    from classifier.preprocess import recipe_for

    assert recipe_for({"dataset": "fashion-mnist"}).name == "clothing-photo-v2"  # before the field
    assert recipe_for({"dataset": "mnist"}).name == "digit-v1"
    with pytest.raises(ValueError, match="unknown preprocessing recipe"):
        recipe_for({"dataset": "mnist", "preprocess": "digit-v9"})
    shipped = load_model("fashion-mnist-linear")
    assert shipped.recipe.name == shipped.config["preprocess"] == "clothing-photo-v2"
    m = shirt()
    blanket = stripes(*m.shape, [(0.9, 0.2, 0.2), (0.95, 0.85, 0.2)])
    x = photo(m, np.array([0.1, 0.1, 0.12]), blanket)
    old = Classifier(shipped.model, {**shipped.config, "preprocess": "clothing-v1"})
    with pytest.raises(BlankImageError):  # the first recipe saw no shirt on the blanket
        old.preprocess(x)
    assert shipped.preprocess(x).max() == 255  # the checkpoint's recipe, not the dataset's
