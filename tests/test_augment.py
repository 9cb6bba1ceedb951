"""Training augmentation: known answers on small made-up batches."""
import torch

from training.augment import (PHOTO_PARTS, augment, photo_style, random_blur, random_tone,
                              stretch)


def garment_batch(n=16):
    x = torch.zeros(n, 1, 28, 28)
    x[:, :, 6:22, 8:20] = torch.linspace(0.2, 0.8, 12)  # a shaded block on black
    return x


def test_stretch_puts_the_brightest_pixels_at_one():
    x = garment_batch() * 0.5
    y = stretch(x)
    assert torch.allclose(y.amax((1, 2, 3)), torch.ones(len(y))) and y.min() == 0


def test_photo_style_keeps_shape_range_and_the_black_background():
    torch.manual_seed(0)
    x = garment_batch(64)
    for parts in [(p,) for p in PHOTO_PARTS if p not in ("warp", "mask", "blur")]:
        y = photo_style(x, parts)
        assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
        assert y[:, :, :4].abs().max() == 0  # nothing appears far from the garment
    y = augment(x, "fashion-mnist", "photo")
    assert y.shape == x.shape and 0 <= y.min() and y.max() <= 1


def test_tone_can_flatten_the_garment_and_blur_spreads_it():
    torch.manual_seed(0)
    x = garment_batch(200)
    garment = (x > 0.02).float()
    y = random_tone(x, garment, p=1.0)
    inside = y[:, 0, 6:22, 8:20].flatten(1)
    assert (inside.std(1) < x[:, 0, 6:22, 8:20].flatten(1).std(1)).any()  # some flatter
    assert (random_blur(x, p=1.0)[:, :, 5, 8:20] > 0).all()  # ink spread one row up


def test_photo_needs_photo_parts_only_for_clothing():
    torch.manual_seed(0)
    x = garment_batch(8)
    torch.manual_seed(1)
    a = augment(x, "mnist", "photo")
    torch.manual_seed(1)
    b = augment(x, "mnist", "full")
    assert torch.equal(a, b)  # digits: "photo" is "full"
