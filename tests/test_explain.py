from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from classifier.checkpoint import save_checkpoint
from classifier.explain import METHODS, ExplainError, Explanation, methods_for, overlay
from classifier.models import build_model
from classifier.predict import Classifier, load_model


def tiny(arch, tmp_path, **kwargs):
    torch.manual_seed(0)
    model = build_model(arch, **kwargs).eval()
    config = {"name": f"mnist-{arch}", "arch": arch, "arch_kwargs": kwargs, "dataset": "mnist",
              "class_names": [str(i) for i in range(10)], "mean": 0.13, "std": 0.31,
              "input_size": [1, 28, 28], "temperature": 2.0}
    return load_model(str(save_checkpoint(tmp_path / arch, model, config)))


def digit(seed=0):
    rng = np.random.default_rng(seed)
    x = np.zeros((28, 28), np.uint8)
    r, c = rng.integers(6, 12, size=2)
    x[r:r + 12, c:c + 3] = 255
    x[r:r + 3, c:c + 9] = 200
    return x


@pytest.mark.parametrize("arch", ["cnn", "lenet5", "resnet18"])
@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_gives_a_finite_map_and_an_rgb_overlay(tmp_path, arch, method):
    clf = tiny(arch, tmp_path, **({"width": 8} if arch == "cnn" else {}))
    e = clf.explain(digit(), method=method, target=3)
    assert e.attribution.shape == (28, 28) and np.isfinite(e.attribution).all()
    assert 0 <= e.attribution.min() and e.attribution.max() <= 1
    assert e.overlay.shape == (280, 280, 3) and e.overlay.dtype == np.uint8
    assert e.target == 3 and e.target_label == "3"


@pytest.mark.parametrize("arch", ["linear", "svm", "mlp"])
def test_gradcam_is_refused_for_models_without_conv_layers(tmp_path, arch):
    clf = tiny(arch, tmp_path)
    assert methods_for(clf)["gradcam"] == f"Grad-CAM needs convolutional layers; {arch} has none."
    with pytest.raises(ExplainError, match="Grad-CAM needs convolutional layers"):
        clf.explain(digit(), method="gradcam")
    assert clf.explain(digit(), method="smoothgrad").attribution.shape == (28, 28)


def test_saliency_of_a_linear_model_is_its_weight_template(tmp_path):
    clf = tiny("linear", tmp_path)
    e = clf.explain(digit(), method="saliency", target=5)
    w = clf.model.fc.weight[5].detach().abs().reshape(28, 28) / 0.31  # d logit / d pixel
    assert np.allclose(e.attribution, (w / w.max()).numpy(), atol=1e-5)


def test_default_target_is_the_predicted_class_and_names_work(tmp_path):
    clf = tiny("cnn", tmp_path, width=8)
    predicted = clf.predict(digit())
    assert clf.explain(digit(), method="saliency").target_label == predicted
    assert clf.explain(digit(), method="saliency", target="7").target == 7
    with pytest.raises(ValueError, match="unknown target class"):
        clf.explain(digit(), target="cat")


def test_unknown_method_is_refused_by_name(tmp_path):
    with pytest.raises(ExplainError, match="unknown method 'lime'"):
        tiny("cnn", tmp_path, width=8).explain(digit(), method="lime")


def test_overlay_shows_the_input_where_the_map_is_zero():
    image = np.zeros((28, 28), np.uint8)
    image[10:18, 10:18] = 255
    out = overlay(image, np.zeros((28, 28), np.float32), size=56)
    assert out[28, 28].tolist() == [166, 166, 166]  # dimmed white ink, no colour
    assert out[2, 2].tolist() == [0, 0, 0]
    hot = overlay(image, np.ones((28, 28), np.float32), size=56)
    assert hot[2, 2, 0] > 200 and hot[2, 2, 2] < 150  # bright yellow where evidence is full


def test_concurrent_explanations_on_one_shared_model_match_sequential_ones(tmp_path):
    clf = tiny("cnn", tmp_path, width=8)
    jobs = [(digit(seed), method) for seed in range(6) for method in ("gradcam", "saliency",
                                                                       "integrated_gradients")]
    jobs += [(digit(seed), "predict") for seed in range(12)]  # predictions run meanwhile

    def do(job):
        x, method = job
        if method == "predict":
            return np.array(list(clf.predict_proba(x).values()))
        return clf.explain(x, method=method).attribution

    sequential = [do(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=6) as pool:
        parallel = list(pool.map(do, jobs))
    for a, b in zip(sequential, parallel):
        assert np.allclose(a, b, atol=1e-6)
    assert not clf.model.cam_layer._forward_hooks  # no hook left behind


def test_predict_proba_applies_the_calibration_temperature(tmp_path):
    clf = tiny("mlp", tmp_path)
    x = digit()
    logits = clf.logits(clf.tensor(x))[0]
    probs = clf.predict_proba(x)
    assert list(probs) == clf.class_names
    expected = (logits / 2.0).softmax(0)  # temperature 2 from the config
    assert np.allclose(list(probs.values()), expected.numpy(), atol=1e-6)
    assert isinstance(clf, Classifier) and abs(sum(probs.values()) - 1) < 1e-5


def test_feature_maps_of_a_conv_model(tmp_path):
    maps = tiny("cnn", tmp_path, width=8).feature_maps(digit())
    assert maps["first conv layer"].shape == (8, 28, 28)
    assert maps["last conv stage"].shape == (32, 7, 7)
    with pytest.raises(ExplainError, match="no convolutional layers"):
        tiny("mlp", tmp_path).feature_maps(digit())


def test_lenet5_gradcam_map_is_placed_where_its_units_look():
    """C3 is unpadded: with every weight positive and equal, the input pixels that move unit
    (i, j) are centred on pixel (2i + 5, 2j + 5), which is where ``cam_span`` puts it."""
    model = build_model("lenet5").eval()
    for conv in (model.features[0], model.features[3]):
        torch.nn.init.constant_(conv.weight, 0.1)
        torch.nn.init.zeros_(conv.bias)
    start, size = model.cam_span
    for i, j in [(2, 2), (3, 7), (7, 4)]:  # inside: the padding skews the border units
        x = torch.ones(1, 1, 28, 28, requires_grad=True)
        model.features[:4](x)[0, :, i, j].sum().backward()
        g = x.grad[0, 0].abs()
        rows = (g.sum(1) * (torch.arange(28) + 0.5)).sum() / g.sum()
        cols = (g.sum(0) * (torch.arange(28) + 0.5)).sum() / g.sum()
        cell = size / 10
        assert abs(rows - (start + (i + 0.5) * cell)) < 0.3
        assert abs(cols - (start + (j + 0.5) * cell)) < 0.3


def test_an_all_zero_map_is_said_in_words_not_shown_as_an_empty_overlay():
    blank = Explanation("gradcam", 3, "3", digit(), np.zeros((28, 28), np.float32),
                        np.zeros((280, 280, 3), np.uint8))
    assert blank.empty and "no evidence for class **3**" in blank.caption
    heat = np.zeros((28, 28), np.float32)
    heat[10, 10] = 1
    shown = Explanation("gradcam", 3, "3", digit(), heat, np.zeros((280, 280, 3), np.uint8))
    assert not shown.empty and shown.caption == "Grad-CAM for class **3**."


def test_which_methods_apply_is_known_from_the_architecture_alone():
    assert methods_for("cnn")["gradcam"] is None
    assert "has none" in methods_for("mlp")["gradcam"]


def test_analyse_prepares_once_and_runs_the_model_once(tmp_path):
    clf = tiny("cnn", tmp_path, width=8)
    calls = []
    clf.model.register_forward_hook(lambda *_: calls.append(1))
    reading = clf.analyse(digit())
    assert len(calls) == 1
    assert set(reading.maps) == {"first conv layer", "last conv stage"}
    assert reading.maps["first conv layer"].shape == (8, 28, 28)
    expected = clf.predict_proba(digit())
    assert all(abs(reading.probs[k] - v) < 1e-6 for k, v in expected.items())
    assert np.array_equal(reading.seen, digit()) and reading.steps == []
