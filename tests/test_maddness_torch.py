import numpy as np
import pytest

torch = pytest.importorskip("torch")
tt = pytest.importorskip("tenfold.torch")

from conftest import structured_data  # noqa: E402


@pytest.fixture(scope="module")
def calib():
    rng = np.random.default_rng(0)
    return torch.from_numpy(structured_data(1500, 40, rng, rank=6, clusters=10, noise=0.05))


@pytest.fixture(scope="module")
def layer_pair(calib):
    torch.manual_seed(0)
    lin = torch.nn.Linear(40, 12)
    return lin, tt.MaddnessLinear.from_linear(lin, calib, ncodebooks=16)


def test_matches_maddness_and_linear(calib, layer_pair):
    lin, layer = layer_pair
    X = calib[:300]
    y = layer(X)
    assert y.shape == (300, 12) and y.dtype == torch.float32
    np.testing.assert_array_equal(y.numpy(), layer.amm.matmul(X.numpy()))
    exact = lin(X).detach()
    assert ((y - exact).norm() / exact.norm()).item() < 0.2


def test_leading_shapes_and_repr(calib, layer_pair):
    _, layer = layer_pair
    X = calib[:60]
    flat = layer(X)
    y = layer(X.reshape(3, 4, 5, 40))
    assert y.shape == (3, 4, 5, 12)
    np.testing.assert_array_equal(y.reshape(60, 12).numpy(), flat.numpy())
    assert layer.in_features == 40 and layer.out_features == 12
    assert "in_features=40" in repr(layer) and "ncodebooks=16" in repr(layer)
    assert len(list(layer.parameters())) == 0 and len(list(layer.buffers())) >= 5
    with pytest.raises(ValueError, match="last dimension 40"):
        layer(torch.zeros(3, 7))


def test_backward_raises(calib, layer_pair):
    _, layer = layer_pair
    X = calib[:10].clone().requires_grad_(True)
    out = layer(X).sum()
    with pytest.raises(RuntimeError, match="inference only"):
        out.backward()


def test_state_dict_roundtrip(calib, layer_pair):
    lin, layer = layer_pair
    other = tt.MaddnessLinear.from_linear(lin, calib[:500] * 0.5, ncodebooks=16)
    other.load_state_dict(layer.state_dict())
    np.testing.assert_array_equal(other(calib[:50]).numpy(), layer(calib[:50]).numpy())


def test_replace_linear(calib):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(40, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(),
                              torch.nn.Linear(64, 5))
    with torch.no_grad():
        exact = net(calib[1000:]).clone()
    tt.replace_linear(net, calib[:1000], filter_fn=lambda name, m: m.out_features == 64, ncodebooks=16)
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["MaddnessLinear", "ReLU", "MaddnessLinear", "ReLU", "Linear"]
    with torch.no_grad():
        approx = net(calib[1000:])
    # Two approximate layers in series on an untrained net: errors compound. It must still be
    # far better than predicting the mean output.
    err = (approx - exact).norm().item()
    assert err / exact.norm().item() < 0.6
    assert err < 0.7 * (exact - exact.mean(0)).norm().item()
    with pytest.raises(ValueError, match="no nn.Linear"):
        tt.replace_linear(net, calib[:100], filter_fn=lambda name, m: False)
    with pytest.raises(TypeError):
        tt.MaddnessLinear.from_linear(torch.nn.ReLU(), calib)
    with pytest.raises(ValueError, match="in_features"):
        tt.MaddnessLinear.from_linear(torch.nn.Linear(7, 3), calib)


def test_docstring_examples():
    import doctest

    assert doctest.testmod(tt).failed == 0
