import json

import numpy as np
import pytest
import torch
from PIL import Image

from classifier.__main__ import main
from classifier.checkpoint import CHECKPOINTS_DIR, save_checkpoint
from classifier.models import build_model


@pytest.fixture
def model_dir(tmp_path):
    torch.manual_seed(0)
    config = {"name": "mnist-cnn", "arch": "cnn", "arch_kwargs": {"width": 8},
              "dataset": "mnist", "class_names": [str(i) for i in range(10)], "mean": 0.13,
              "std": 0.31, "input_size": [1, 28, 28], "temperature": 1.0}
    return str(save_checkpoint(tmp_path / "m", build_model("cnn", width=8), config))


@pytest.fixture
def images(tmp_path):
    good = np.full((100, 80), 255, np.uint8)
    good[20:80, 35:45] = 0
    Image.fromarray(good).save(tmp_path / "one.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    Image.new("L", (50, 50), 255).save(tmp_path / "blank.png")
    return [str(tmp_path / n) for n in ("one.png", "broken.png", "blank.png")]


def test_predict_json_has_one_line_per_file_with_errors_inline(model_dir, images, capsys):
    status = main(["predict", "--model", model_dir, *images, "--json"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == 1 and [d["file"] for d in lines] == images
    ok, broken, blank = lines
    assert set(ok) == {"file", "label", "index", "probs", "ood_score", "ood"}
    assert ok["ood_score"] is None and ok["ood"] is False  # this checkpoint has no score
    assert ok["label"] == str(ok["index"]) and list(ok["probs"]) == [str(i) for i in range(10)]
    assert abs(sum(ok["probs"].values()) - 1) < 1e-5
    assert ok["probs"][ok["label"]] == max(ok["probs"].values())
    assert "not an image" in broken["error"] and "Draw a digit first" in blank["error"]


def test_explain_writes_an_overlay_png(model_dir, images, tmp_path, capsys):
    out = tmp_path / "overlay.png"
    assert main(["explain", "--model", model_dir, "--method", "gradcam", "--target", "3",
                 images[0], "--out", str(out)]) == 0
    assert Image.open(out).size == (280, 280) and "class '3'" in capsys.readouterr().out


def test_unknown_model_is_a_clear_error_not_a_traceback(capsys):
    assert main(["predict", "--model", "mnist-nope", "x.png"]) == 2
    assert "no model called 'mnist-nope'" in capsys.readouterr().err


def test_models_json_lists_the_shipped_models(capsys):
    main(["models", "--json"])
    models = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {"name", "dataset", "arch", "test_accuracy"} <= set(models[0])
    assert {m["name"] for m in models} >= {"mnist-linear", "fashion-mnist-linear"}


def test_evaluate_through_the_serving_path_matches_the_recorded_accuracy(data_dir, capsys):
    from training.served import main as served

    assert served(["--model", "mnist-linear", "--data-dir", str(data_dir), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    metrics = json.loads((CHECKPOINTS_DIR / "mnist-linear" / "metrics.json").read_text())
    assert result["correct"] == metrics["test_correct"]


def json_lines(argv, capsys):
    assert main(argv) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_predict_json_has_the_ood_score_and_flag(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    from training import synthetic

    scribble = tmp_path / "scribble.png"
    Image.fromarray(synthetic.scribble(np.random.default_rng(5))).save(scribble)
    digit = CHECKPOINTS_DIR.parent / "examples" / "digit" / "7-1.png"
    lines = json_lines(["predict", "--model", "mnist-cnn", "--json", str(scribble),
                        str(digit)], capsys)
    assert [line["ood"] for line in lines] == [True, False]
    assert lines[0]["ood_score"] > lines[1]["ood_score"]


def test_predict_number_json(tmp_path, data_dir, capsys):
    import numpy as np
    from PIL import Image

    from training import synthetic
    from training.data import read_split

    x, y = read_split(data_dir, "mnist", "test", download=False)
    picks = [int(np.flatnonzero(y.numpy() == d)[0]) for d in (4, 2)]
    path = tmp_path / "42.png"
    Image.fromarray(synthetic.number([x[i].numpy() for i in picks],
                                     np.random.default_rng(0))).save(path)
    (line,) = json_lines(["predict", "--model", "mnist-cnn", "--number", "--json", str(path)],
                         capsys)
    assert line["number"] == "42" and [d["label"] for d in line["digits"]] == ["4", "2"]
    assert all(0 <= d["prob"] <= 1 for d in line["digits"])
    assert line["ood"] is False and not any(d["ood"] for d in line["digits"])
    assert all(isinstance(d["ood_score"], float) for d in line["digits"])
