import torch
from torch import nn

from mnist_rules.model import build_mlp, count_parameters


def test_shapes_and_parameter_count():
    model = build_mlp(0)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes == {
        "fc1.weight": (400, 784),
        "fc1.bias": (400,),
        "fc2.weight": (256, 400),
        "fc2.bias": (256,),
        "fc3.weight": (10, 256),
        "fc3.bias": (10,),
    }
    assert count_parameters(model) == 419_226
    assert model(torch.rand(5, 1, 28, 28)).shape == (5, 10)  # images, as ToTensor gives them
    assert model(torch.rand(5, 784)).shape == (5, 10)  # and flat rows


def test_default_linear_init_drawn_from_the_seed():
    # The same draws as three nn.Linear layers made in order after manual_seed(seed).
    torch.manual_seed(7)
    reference = [nn.Linear(784, 400), nn.Linear(400, 256), nn.Linear(256, 10)]
    model = build_mlp(7)
    for layer, ref in zip([model.fc1, model.fc2, model.fc3], reference, strict=True):
        assert torch.equal(layer.weight, ref.weight) and torch.equal(layer.bias, ref.bias)
    assert not torch.equal(build_mlp(8).fc1.weight, model.fc1.weight)


def test_building_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_mlp(0)
    assert torch.equal(torch.rand(3), expected)
