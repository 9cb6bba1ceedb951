"""The app's handlers called directly, then one round trip per named endpoint."""
import base64
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import app
from web import page, views


def drawing(blank=False):
    rgba = np.zeros((280, 280, 4), np.uint8)
    if not blank:
        rgba[40:240, 130:150] = [0, 0, 0, 255]  # one thick vertical stroke: a "1"
    return {"background": None, "layers": [rgba], "composite": rgba}


def run(image, model="mnist-linear", method="Saliency", dataset="mnist", compare=False):
    return app.analyse(image, model, method, app.PREDICTED, compare, dataset)


def test_a_sketchpad_drawing_is_classified_shown_and_explained():
    shown = run(drawing())
    probs = shown.probs["value"]
    assert shown.message == "" and max(probs, key=probs.get) == "1"
    digits = shown.outputs()[-1]  # the number's picture: hidden for one digit
    assert digits["value"] is None and digits["visible"] is False
    assert shown.seen.shape == (280, 280) and shown.overlay.shape == (280, 280, 3)
    assert "Saliency for class **1**" in shown.note and shown.steps == []  # steps: photos


def data_url(rgba: np.ndarray) -> str:
    """What the page's canvas sends: ``canvas.toDataURL('image/png')``."""
    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_the_handwriting_fixture_draws_as_the_page_does():
    """Tests and benchmarks draw numbers on the page's canvas with the page's pen."""
    from training import handwriting

    assert (handwriting.CANVAS, handwriting.PEN) == (page.PAD_SIZE, page.PAD_PEN)


def test_the_canvas_png_is_read_as_the_same_drawing():
    rgba = drawing()["composite"]
    png = page.drawing(data_url(rgba))
    shown = run(png)
    probs = shown.probs["value"]
    assert shown.message == "" and max(probs, key=probs.get) == "1"
    assert np.array_equal(shown.seen, run(drawing()).seen)  # the same model input as the array


def test_a_canvas_value_is_never_taken_for_a_path(tmp_path):
    seven = tmp_path / "seven.png"
    Image.fromarray(drawing()["composite"]).save(seven)  # a readable image on the disk
    assert page.drawing(str(seven)) == b""
    assert "not an image" in run(page.drawing(str(seven))).message
    for value in ("data:image/png;base64,not base64!", "data:text/html;base64,PGI+",
                  "data:image/png;base64," + "A" * 2_000_004):
        assert page.drawing(value) == b""
    assert page.drawing("") is None and "Draw a digit" in run(page.drawing("")).message


def test_compare_all_lists_every_model_of_the_dataset():
    shown = run(drawing(), compare=True)
    rows, gallery = shown.rows, shown.gallery
    assert [r[0] for r in rows] == app.MODELS["mnist"] and len(gallery) == len(rows)
    assert all(isinstance(r[4], float) for r in rows)  # latency in ms
    assert {r[2] for r in rows} == {"yes"}  # a canvas drawing of a digit looks like one


def test_compare_all_says_which_models_find_a_scribble_unlike_a_digit():
    from training import synthetic

    rgba = synthetic.scribble(np.random.default_rng(5))
    shown = run({"background": None, "layers": [rgba], "composite": rgba}, model="mnist-cnn",
                compare=True)
    rows, gallery = shown.rows, shown.gallery
    flagged = {r[0] for r in rows if r[2] == "no"}
    assert "mnist-cnn" in flagged  # as the single-model view says
    assert all(("flagged" in caption) == (r[0] in flagged)
               for r, (_, caption) in zip(rows, gallery))


@pytest.mark.parametrize("image,message", [
    (drawing(blank=True), "Draw a digit first"),
    ({"background": None, "layers": [], "composite": None}, "Draw a digit or upload"),
    (None, "Draw a digit or upload"),
])
def test_blank_canvas_gets_a_message_not_an_error(image, message):
    shown = run(image)
    assert message in shown.message and shown.probs is None


def test_wrong_model_name_gets_a_clear_message():
    assert "Unknown model 'mnist-vgg'" in run(drawing(), model="mnist-vgg").message
    other_tab = run(drawing(), model="fashion-mnist-linear")  # a model of the other tab
    assert "Unknown model" in other_tab.message


def test_corrupt_and_huge_uploads_get_messages(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    assert "not an image" in run(str(bad)).message
    huge = tmp_path / "huge.png"
    Image.new("L", (9000, 9000)).save(huge)
    assert "too large" in run(str(huge)).message


def test_gradcam_is_not_offered_for_models_without_conv_layers():
    update, note, targets = app.model_options("mnist-mlp", "Grad-CAM", "3", "mnist")
    assert "Grad-CAM" not in update["choices"] and "Grad-CAM needs convolutional" in note
    assert update["value"] == "Saliency"  # the chosen method no longer applies
    assert targets["choices"][0] == app.PREDICTED and targets["value"] == "3"


def test_changing_the_model_keeps_the_method_and_class_that_still_apply():
    update, _, targets = app.model_options("mnist-lenet5", "SmoothGrad", "3", "mnist")
    assert update["value"] == "SmoothGrad" and targets["value"] == "3"


def test_clothing_examples_are_captioned_with_their_class_real_photos_first():
    rows = app.clothing_examples()
    assert rows[0][1].startswith("photo: ") and rows[-1][1].startswith("Fashion-MNIST: ")
    captions = dict((Path(f).name, c) for f, c in rows)
    assert captions["real-t-shirt.jpg"] == "photo: T-shirt"
    assert captions["photo-coat.jpg"] == "product photo: coat"
    assert captions["t-shirt-top-1.png"] == "Fashion-MNIST: T-shirt/top"
    assert captions["ankle-boot-2.png"] == "Fashion-MNIST: ankle boot"


def test_report_links_to_files_keep_their_text_only():
    text = "| [cnn](mnist-cnn/README.md) | see [docs](https://example.org/x) |"
    assert views.without_file_links(text) == "| cnn | see [docs](https://example.org/x) |"


def test_clothing_example_runs_end_to_end():
    example = app.examples("clothing")[0]  # a Fashion-MNIST image: nothing to cut out
    shown = run(example, model="fashion-mnist-linear", dataset="fashion-mnist")
    assert shown.message == "" and len(shown.probs["value"]) == 10 and shown.steps == []


def test_a_clothing_photo_shows_how_it_was_read():
    photo = str(page.EXAMPLES / "clothing" / "photo-coat.jpg")
    shown = run(photo, model="fashion-mnist-cnn", dataset="fashion-mnist")
    assert shown.message == "" and [c[:2] for _, c in shown.steps] == ["1.", "2.", "3."]
    outlined, cut, small = (picture for picture, _ in shown.steps)
    assert outlined.ndim == 3 and cut.shape[0] <= outlined.shape[0] and small.shape == (224, 224, 3)


def test_models_tab_card():
    summary, table, confusion, *_, filters = app.model_card("mnist-cnn")
    assert "Test accuracy" in summary and len(table) == 10 and confusion.endswith(".png")
    assert filters["visible"] and filters["value"].endswith("filters.png")


def test_a_model_without_filters_says_why_instead_of_an_empty_box():
    summary, *_, filters = app.model_card("mnist-svm")
    assert "No first-layer filters" in summary and filters["visible"] is False


def test_importing_the_app_loads_no_model():
    code = ("import app, classifier.predict as p; "
            "assert p._cached.cache_info().currsize == 0, p._cached.cache_info()")
    subprocess.run([sys.executable, "-c", code], cwd=app.ROOT, check=True,
                   env={**os.environ, "HUB_MODELS": ""})


@pytest.fixture
def seven(tmp_path):
    page = np.full((200, 160), 250, np.uint8)
    page[30:45, 30:130] = 20   # the bar of a 7
    for r in range(45, 180):   # its stem, slanting left
        c = 125 - (r - 45) // 3
        page[r, c - 7:c + 7] = 20
    path = tmp_path / "seven.png"
    Image.fromarray(page).save(path)
    return str(path)


def test_classify_endpoint_round_trip(client, seven):
    from gradio_client import handle_file

    out = client.predict(handle_file(seven), "mnist-linear", api_name="/classify")
    assert out["label"] == "7" and out["model"] == "mnist-linear"
    assert abs(sum(out["confidences"].values()) - 1) < 1e-4
    assert out["ood"] is False and isinstance(out["ood_score"], float)


def test_read_number_endpoint_round_trip(client, tmp_path, data_dir):
    from gradio_client import handle_file

    from training import synthetic
    from training.data import read_split

    x, y = read_split(data_dir, "mnist", "test", download=False)
    picks = [int(np.flatnonzero(y.numpy() == d)[0]) for d in (3, 0, 8)]
    path = tmp_path / "308.png"
    Image.fromarray(synthetic.number([x[i].numpy() for i in picks],
                                     np.random.default_rng(1))).save(path)
    out = client.predict(handle_file(str(path)), "mnist-cnn", api_name="/read_number")
    assert out["number"] == "308" and len(out["digits"]) == 3
    assert out["ood"] is False and {"label", "prob", "ood_score", "ood"} == set(out["digits"][0])
    with pytest.raises(Exception, match="Unknown model"):
        client.predict(handle_file(str(path)), "fashion-mnist-cnn", api_name="/read_number")


def test_a_scribble_is_flagged_on_the_page():
    from training import synthetic

    rgba = synthetic.scribble(np.random.default_rng(5))
    shown = run({"background": None, "layers": [rgba], "composite": rgba}, model="mnist-cnn")
    probs = shown.probs
    assert "does not look like a digit" in shown.message and probs["elem_classes"] == ["ood"]
    assert len(probs["value"]) == 10  # the guesses are still listed


def test_a_scribble_cut_into_pieces_is_not_read_as_a_number():
    """This scribble is cut into 4 pieces (reading 1122), two of which look unlike any
    digit: the page says so rather than announcing a number."""
    from training import synthetic

    rgba = synthetic.scribble(np.random.default_rng(1))
    shown = run({"background": None, "layers": [rgba], "composite": rgba}, model="mnist-cnn")
    assert "does not look like a number" in shown.message and "Reads as" not in shown.message
    assert shown.outputs()[-1]["visible"]  # its pieces are still shown, the unlike ones greyed


def test_several_digits_show_the_number(data_dir):
    from training import synthetic
    from training.data import read_split

    x, y = read_split(data_dir, "mnist", "test", download=False)
    picks = [int(np.flatnonzero(y.numpy() == d)[0]) for d in (4, 2)]
    rgba = synthetic.number([x[i].numpy() for i in picks], np.random.default_rng(0))
    shown = run({"background": None, "layers": [rgba], "composite": rgba}, model="mnist-cnn")
    digits = shown.outputs()[-1]
    assert "Reads as the number 42" in shown.message and digits["visible"]
    assert digits["value"].shape == (84 + 26, 2 * 84 + 8, 3)  # two digits, answers under


def test_explain_endpoint_round_trip(client, seven):
    from gradio_client import handle_file

    path = client.predict(handle_file(seven), "mnist-lenet5", "gradcam", None,
                          api_name="/explain")
    assert Image.open(path).size == (280, 280)


def test_unknown_model_through_the_api_is_a_clear_error(client, seven):
    from gradio_client import handle_file

    with pytest.raises(Exception, match="Unknown model 'mnist-nope'"):
        client.predict(handle_file(seven), "mnist-nope", api_name="/classify")


def test_compare_endpoint_round_trip(client, seven):
    from gradio_client import handle_file

    rows = client.predict(handle_file(seven), "mnist", api_name="/compare")
    assert [r["model"] for r in rows] == app.MODELS["mnist"]
    assert all(len(r["top3"]) == 3 and r["ms"] >= 0 for r in rows)
    assert all(r["ood"] is False and isinstance(r["ood_score"], float) for r in rows)



def test_fool_endpoint_flips_the_cnn_with_a_small_change(client, seven):
    from gradio_client import handle_file

    out = client.predict(handle_file(seven), "mnist-cnn", None, api_name="/fool")
    assert out["original"] == "7" and out["label"] not in (None, "7")
    assert 0 < out["linf"] <= 0.35 and out["l2"] > 0 and 0 < out["prob"] <= 1
    changed = Image.open(io.BytesIO(base64.b64decode(out["image"].split(",", 1)[1])))
    assert changed.size == (28, 28)
    assert set(out["others"]) == set(app.MODELS["mnist"]) - {"mnist-cnn"}
    goal = client.predict(handle_file(seven), "mnist-cnn", "3", api_name="/fool")
    assert goal["label"] == "3"


def test_check_explanation_endpoint_and_its_refusals(client, seven):
    from gradio_client import handle_file

    out = client.predict(handle_file(seven), "mnist-cnn", "gradcam",
                         api_name="/check_explanation")
    assert out["target"] == "7" and -1 <= out["randomized_similarity"] <= 1
    assert -1 <= out["deletion_drop"] <= 1 and -1 <= out["random_drop"] <= 1
    with pytest.raises(Exception, match="Grad-CAM needs convolutional layers"):
        client.predict(handle_file(seven), "mnist-linear", "gradcam",
                       api_name="/check_explanation")
    with pytest.raises(Exception, match="Unknown model"):
        client.predict(handle_file(seven), "mnist-nope", "saliency", api_name="/fool")
    with pytest.raises(Exception, match="already answers 7"):
        client.predict(handle_file(seven), "mnist-cnn", "7", api_name="/fool")


def test_fool_it_on_the_page_shows_the_change_and_the_other_models():
    fooled, change, note = app.fool_page(drawing(), "mnist-cnn", page.ANY_CLASS, "mnist")
    assert fooled.shape == (280, 280) and change.shape == (280, 280, 3)
    assert "1 →" in note and "other models" in note
    assert app.fool_page(None, "mnist-cnn", page.ANY_CLASS, "mnist")[2].startswith("Draw")


def test_a_drawing_sent_while_the_pen_moves_gets_the_answer_alone():
    import gradio as gr

    rgba = drawing()["composite"]
    live = page.drawing(page.LIVE + data_url(rgba))
    assert live == page.drawing(data_url(rgba))  # the same drawing, marked as live
    shown = app.analyse(live, "mnist-cnn", "Grad-CAM", app.PREDICTED, True, "mnist", live=True)
    full = app.analyse(live, "mnist-cnn", "Grad-CAM", app.PREDICTED, True, "mnist")
    assert views.LIVE_MARK in shown.probs["label"] and shown.message.startswith("*While")
    assert shown.probs["value"] == full.probs["value"]  # the same answer, sooner
    assert np.array_equal(shown.seen, full.seen) and shown.overlay is None and not shown.rows
    assert all(o == gr.skip() for o in shown.outputs()[3:9])  # the overlay and the rest wait
    assert full.overlay is not None and full.rows


def test_correct_endpoint_keeps_a_correction_and_refuses_a_bad_label(client, seven):
    import json
    from gradio_client import handle_file

    from web import corrections

    store = corrections.store()
    before = store.size()[0]
    out = client.predict(handle_file(seven), "mnist-linear", "1", api_name="/correct")
    assert out["kept"] is True and (out["answer"], out["label"]) == ("7", "1")
    assert "nothing about you" in out["message"]
    row = json.loads((store.split / "metadata.jsonl").read_text().splitlines()[-1])
    assert store.size()[0] == before + 1 and (row["model"], row["label"]) == ("mnist-linear", "1")
    same = client.predict(views.data_url(np.asarray(Image.open(seven))), "mnist-linear",
                          "7", api_name="/correct")  # a data URL: the model's own answer
    assert same["kept"] is False and "already answers 7" in same["message"]
    with pytest.raises(Exception, match="not a class of mnist: choose one of 0, 1"):
        client.predict(handle_file(seven), "mnist-linear", "Sneaker", api_name="/correct")
    assert store.size()[0] == before + 1


def test_the_page_sends_a_correction_of_the_kept_input():
    from web.handlers import correction_page

    assert "Choose the right class" in correction_page(b"x", "mnist-linear", None, "mnist")
    png = page.drawing(data_url(drawing()["composite"]))  # read as 1
    assert "Thank you: kept" in correction_page(png, "mnist-linear", "7", "mnist")
    assert "not a class" in correction_page(png, "mnist-linear", "Coat", "mnist")
    assert "Unknown model" in correction_page(png, "fashion-mnist-cnn", "7", "mnist")


def test_mcp_is_served_unless_switched_off(monkeypatch):
    monkeypatch.delenv("GRADIO_MCP_SERVER", raising=False)
    assert app.launch_options()["mcp_server"] is True
    monkeypatch.setenv("GRADIO_MCP_SERVER", "false")
    assert app.launch_options()["mcp_server"] is False
