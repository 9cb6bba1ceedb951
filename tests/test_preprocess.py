import io

import numpy as np
import pytest
from PIL import Image

from classifier.preprocess import (WORK_SIZE, BlankImageError, ImageError, load_rgba, normalize,
                                   prepare)
from training.data import read_split


@pytest.fixture(scope="module")
def digits(data_dir):
    images, labels = read_split(data_dir, "mnist", "test", download=False)
    return images[:20].numpy(), labels[:20]


def big_canvas(x28, scale=3, offset=(40, 150), size=(260, 320)):
    up = np.asarray(Image.fromarray(x28).resize((28 * scale, 28 * scale), Image.BILINEAR))
    canvas = np.zeros(size, np.uint8)
    canvas[offset[0]:offset[0] + up.shape[0], offset[1]:offset[1] + up.shape[1]] = up
    return canvas


def test_a_centred_mnist_digit_passes_through_unchanged(digits):
    for x in digits[0]:
        assert np.array_equal(prepare(x, "mnist"), x)


@pytest.mark.parametrize("transform", ["shifted", "scaled", "inverted"])
def test_moved_scaled_and_inverted_digits_map_back_close_to_the_original(digits, transform):
    diffs = []
    for x in digits[0]:
        canvas = big_canvas(x, scale=2 if transform != "scaled" else 5,
                            offset=(10, 200) if transform == "shifted" else (30, 30),
                            size=(200, 300) if transform != "scaled" else (300, 300))
        if transform == "inverted":
            canvas = 255 - canvas
        diffs.append(np.abs(prepare(canvas, "mnist").astype(int) - x).mean())
    # per-pixel mean error of 0.06 of full scale (0 would be identical); a digit shifted by
    # two pixels, by comparison, differs by about 0.2
    assert np.mean(diffs) < 0.06 * 255, np.mean(diffs)
    shifted = np.roll(digits[0][0], 2, axis=1)
    assert np.abs(shifted.astype(int) - digits[0][0]).mean() > np.mean(diffs)


def test_the_ink_lands_centred_by_mass_in_a_20_pixel_box():
    canvas = np.zeros((300, 300), np.uint8)
    canvas[20:60, 200:290] = 255  # a wide bar, far off-centre
    out = prepare(canvas, "mnist").astype(float)
    rows, cols = np.nonzero(out > 30)
    assert cols.max() - cols.min() + 1 <= 21 and rows.max() - rows.min() + 1 <= 10
    cy = (out.sum(1) * np.arange(28)).sum() / out.sum()
    cx = (out.sum(0) * np.arange(28)).sum() / out.sum()
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5


def test_thin_strokes_survive_the_downscale():
    canvas = np.zeros((600, 600, 4), np.uint8)
    canvas[100:500, 300, 3] = 255  # a 1 px line, 400 px tall
    canvas[100, 200:400, 3] = 255
    out = prepare(canvas, "mnist")
    assert out.max() == 255 and (out > 128).sum() >= 25


def rgba_drawing():
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[60:220, 130:150] = [0, 0, 0, 255]  # a black stroke on a transparent canvas
    return rgba


def as_modes():
    rgba = rgba_drawing()
    on_white = np.where(rgba[..., 3:] > 0, 0, 255).astype(np.uint8)[..., 0]  # (H, W)
    pil_rgba = Image.fromarray(rgba, "RGBA")
    return {
        "RGBA array": rgba,
        "LA array": np.stack([on_white, rgba[..., 3]], -1),
        "L array": on_white,
        "RGB array": np.repeat(on_white[..., None], 3, 2),
        "float array": on_white.astype(np.float32) / 255,
        "float64 0-255": on_white.astype(np.float64),
        "uint16 array": on_white.astype(np.uint16) * 257,
        "PIL RGBA": pil_rgba,
        "PIL LA": pil_rgba.convert("LA"),
        "PIL L": Image.fromarray(on_white),
        "PIL P": Image.fromarray(on_white).convert("P"),
        "PIL I;16": Image.fromarray(on_white.astype(np.uint16) * 257),
        "PIL CMYK": Image.fromarray(on_white).convert("CMYK"),
        "PIL 1": Image.fromarray(on_white).convert("1"),
        "sketchpad dict": {"background": None, "layers": [rgba], "composite": rgba},
    }


@pytest.mark.parametrize("mode", list(as_modes()))
def test_every_listed_mode_and_dtype_gives_the_same_digit(mode):
    reference = prepare(rgba_drawing(), "mnist")
    out = prepare(as_modes()[mode], "mnist")
    assert out.shape == (28, 28) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - reference).mean() < 8, mode


def test_files_bytes_and_exif_orientation(tmp_path):
    tall = np.full((200, 100), 255, np.uint8)
    tall[20:180, 45:55] = 0  # a vertical bar: "1"
    path = tmp_path / "one.jpg"
    image = Image.fromarray(tall).rotate(90, expand=True)  # stored lying down ...
    exif = image.getexif()
    exif[0x0112] = 6  # ... with EXIF saying "rotate 90 degrees clockwise to display"
    image.save(path, exif=exif)
    out = prepare(str(path), "mnist")
    rows, cols = np.nonzero(out > 100)
    assert (rows.max() - rows.min()) > 3 * (cols.max() - cols.min())  # upright again
    assert np.array_equal(prepare(path.read_bytes(), "mnist"), out)


@pytest.mark.parametrize("blank", [
    np.zeros((280, 280, 4), np.uint8),                      # empty transparent canvas
    np.full((280, 280), 255, np.uint8),                     # white page
    np.zeros((28, 28), np.uint8),                           # black 28x28
    {"background": None, "layers": [], "composite": None},  # Sketchpad never touched
])
def test_blank_input_raises_the_specific_error(blank):
    with pytest.raises(BlankImageError, match="Draw a digit first"):
        prepare(blank, "mnist")


def test_noisy_empty_paper_is_blank_too():
    rng = np.random.default_rng(0)
    paper = np.clip(rng.normal(240, 4, (300, 300, 3)), 0, 255).astype(np.uint8)
    with pytest.raises(BlankImageError):
        prepare(paper, "mnist")
    with pytest.raises(BlankImageError, match="No item found"):
        prepare(paper, "fashion-mnist")


@pytest.mark.parametrize("inverted", [False, True])
def test_which_way_the_marks_go_is_read_from_the_marks_not_the_median(inverted):
    """Pen on paper with a shadow over two thirds of the sheet: the median pixel is dark,
    yet the marks are darker still (and lighter, once the photo is inverted)."""
    from classifier.digits import dark_marks

    gray = np.full((240, 300), 0.9, np.float32)
    gray[:, 100:] = 0.35                       # the shadow
    gray[60:180, 180:192] = 0.05               # a stroke in the shade
    gray[60:72, 40:80] = 0.1                   # and one in the light
    assert float(np.median(gray)) < 0.5
    assert dark_marks(1 - gray if inverted else gray) is not inverted


@pytest.mark.parametrize("bad,message", [
    (b"not an image at all", "not an image"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 50, "not an image"),
    (b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 50, "HEIC photo"),  # an iPhone's photo
    (np.zeros((10, 10, 7), np.uint8), "Unsupported image array"),
    (12345, "Unsupported input type"),
    ("/no/such/file.png", "No such file"),
])
def test_unreadable_input_gets_a_clear_message(bad, message):
    with pytest.raises(ImageError, match=message):
        prepare(bad, "mnist")


def test_huge_images_are_refused_before_decoding(tmp_path):
    buf = io.BytesIO()
    Image.new("L", (9000, 9000)).save(buf, format="PNG")  # 81 megapixels, tiny file
    with pytest.raises(ImageError, match="too large"):
        prepare(buf.getvalue(), "mnist")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "array"])
def test_large_images_are_reduced_before_any_float_copy(tmp_path, fmt):
    big = np.full((4000, 6000), 250, np.uint8)
    big[400:3600, 2800:3300] = 10  # a "1" drawn with a marker, photographed at 24 MP
    path = tmp_path / f"big.{fmt.lower()}"
    if fmt != "array":
        Image.fromarray(big).save(path, format=fmt)
    rgba = load_rgba(big if fmt == "array" else str(path))
    h, w = rgba.shape[:2]  # JPEGs decode at 1/8 scale here (750 px), others are resized
    assert w == (750 if fmt == "JPEG" else WORK_SIZE) and abs(w / h - 1.5) < 0.01
    small = np.asarray(Image.fromarray(big).resize((600, 400), Image.Resampling.LANCZOS))
    # the same digit as from a small copy, up to the odd pixel at an edge
    assert np.abs(prepare(rgba, "mnist").astype(int) - prepare(small, "mnist")).mean() < 4


def test_clothing_on_white_is_cropped_inverted_and_stretched():
    photo = np.full((300, 400, 3), 250, np.uint8)
    photo[100:200, 150:230] = [40, 60, 160]  # a dark blue box: the "item"
    out = prepare(photo, "fashion-mnist")
    assert out[0, 0] == 0 and out[14, 14] >= 230  # background black, item bright
    cols = np.nonzero(out[14] > 128)[0]
    assert cols.min() >= 2 and cols.max() <= 25  # centred, padded to a square


def test_a_fashion_test_image_passes_through_unchanged(data_dir):
    images, _ = read_split(data_dir, "fashion-mnist", "test", download=False)
    for x in images[:50].numpy():
        assert np.array_equal(prepare(x, "fashion-mnist"), x)


def test_serving_a_test_image_gives_the_tensor_evaluation_used(data_dir):
    images, _ = read_split(data_dir, "mnist", "test", download=False)
    batch = normalize(images[:8], 0.13, 0.31)  # what evaluation feeds the model
    served = [normalize(prepare(x, "mnist"), 0.13, 0.31) for x in images[:8].numpy()]
    assert all(np.array_equal(batch[i:i + 1].numpy(), s.numpy()) for i, s in enumerate(served))


def test_the_same_pixels_as_an_array_or_an_image_give_the_same_model_input():
    from PIL import Image

    from classifier import load_model

    clf = load_model("mnist-linear")
    dark_on_light = np.full((28, 28), 255, np.uint8)
    dark_on_light[5:23, 12:16] = 0  # a black 1 on white: not yet a model input
    light_on_dark = 255 - dark_on_light  # already one
    for pixels in (dark_on_light, light_on_dark):
        assert np.array_equal(clf.seen(pixels), clf.seen(Image.fromarray(pixels)))
    assert np.array_equal(clf.seen(light_on_dark), light_on_dark)
