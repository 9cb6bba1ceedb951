import pytest
import torch

from classifier.models import ARCHITECTURES, build_model


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_every_architecture_maps_a_batch_to_finite_logits(arch):
    torch.manual_seed(0)
    model = build_model(arch).eval()
    logits = model(torch.randn(3, 1, 28, 28))
    assert logits.shape == (3, 10)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("arch,size", [("lenet5", 10), ("cnn", 7), ("resnet18", 4),
                                       ("efficientnet_lite0", 4)])
def test_gradcam_layers_have_the_promised_map_size(arch, size):
    model = build_model(arch).eval()
    seen = {}

    def hook(module, inputs, output):
        seen["shape"] = output.shape

    model.cam_layer.register_forward_hook(hook)
    model(torch.zeros(1, 1, 28, 28))
    assert seen["shape"][-2:] == (size, size)


def test_the_cnn_takes_fewer_convs_per_block_and_keeps_its_7x7_cam_layer():
    full, lite = build_model("cnn", width=16), build_model("cnn", width=16, convs=[1, 2, 2])
    def convs(model):
        return [layer for layer in model.features if isinstance(layer, torch.nn.Conv2d)]

    assert [c.out_channels for c in convs(full)] == [16, 16, 32, 32, 64, 64]
    assert [c.out_channels for c in convs(lite)] == [16, 32, 32, 64, 64]
    assert lite.cam_layer is convs(lite)[-1]
    assert lite.eval()(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(ValueError, match="three blocks"):
        build_model("cnn", convs=[1, 2])


def test_unknown_architecture_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown architecture 'vgg'"):
        build_model("vgg")


def test_svm_features_approximate_the_rbf_kernel():
    torch.manual_seed(0)
    model = build_model("svm", num_components=784, num_features=16384, sigma=4.0)
    x, y = torch.randn(2, 784) * 0.1, torch.randn(2, 784) * 0.1
    y[0] = x[0] + 0.05 * torch.randn(784)  # one close pair, one far pair
    def z(a):
        return model.scale * torch.cos(model.project(a) @ model.W + model.b)

    approx = (z(x) * z(y)).sum(1)
    exact = torch.exp(-((x - y) ** 2).sum(1) / (2 * 4.0 ** 2))
    assert torch.allclose(approx, exact, atol=0.03)
