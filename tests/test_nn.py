"""geomsci.core.nn: one seeded MLP builder and one Fourier-feature encoder for every method.

"Same seed, same weights": each adopting module is checked against a frozen copy of the initialization
it had before (written out here), bit for bit where seeded results are documented (deepmesh's SDFNet, the
wing Cp models, PIG's tanh MLPs)."""

import math

import pytest
import torch
from torch import nn

from geomsci.core.nn import FourierFeatures, gaussian_frequencies, linear_layers, mlp, positional_frequencies


def _old_sdfnet_parameters(hidden=64, layers=3, n_freq=16, sigma=1.0, features="fourier", seed=0, dtype=torch.float32):
    """SDFNet's initialization before core.nn: B ~ N(0, sigma^2) in float64, then U(+-1/sqrt(fan_in)) per layer."""
    g = torch.Generator().manual_seed(seed)
    if features == "fourier":
        B = torch.randn(n_freq, 3, generator=g, dtype=torch.float64) * sigma
    elif features == "positional":
        B = torch.cat([torch.eye(3, dtype=torch.float64) * 2.0**k / 2 for k in range(n_freq)])
    else:
        B = torch.zeros(0, 3, dtype=torch.float64)
    dims = [3 + 2 * B.shape[0]] + [hidden] * layers + [1]
    params = [B.to(dtype)]
    for i in range(len(dims) - 1):
        bound = 1.0 / math.sqrt(dims[i])
        params.append(torch.empty(dims[i + 1], dims[i], dtype=dtype).uniform_(-bound, bound, generator=g))
        params.append(torch.empty(dims[i + 1], dtype=dtype).uniform_(-bound, bound, generator=g))
    return params


@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(features="positional", n_freq=6),
        dict(features="none", layers=2, dtype=torch.float64),
        dict(seed=3, sigma=2.5, hidden=32),
    ],
)
def test_sdfnet_weights_unchanged(kw):
    from geomsci.deepmesh.sdf_net import SDFNet

    net = SDFNet(**kw)
    got = [net.B] + [p for lin in net.linears for p in (lin.weight, lin.bias)]
    want = _old_sdfnet_parameters(**kw)
    assert len(got) == len(want) and all(torch.equal(a, b) for a, b in zip(got, want))


def test_sdfnet_loads_state_dicts_saved_before():
    from geomsci.deepmesh.sdf_net import SDFNet

    net = SDFNet(hidden=8, layers=1, n_freq=2, seed=1)
    old_state = {("B" if k == "encoding.B" else k): v for k, v in net.state_dict().items()}
    other = SDFNet(hidden=8, layers=1, n_freq=2, seed=2)
    other.load_state_dict(old_state)
    x = torch.rand(7, 3)
    assert torch.equal(other(x), net(x))


def test_wing_models_weights_unchanged():
    from geomsci.wing.models import PointMLP

    def old_mlp(sizes):  # wing/models.py before core.nn
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.GELU()]
        return nn.Sequential(*layers[:-1])

    torch.manual_seed(0)
    want = old_mlp([22, 96, 96, 96, 1]).state_dict()
    torch.manual_seed(0)
    got = PointMLP(22).net.state_dict()
    assert list(got) == list(want) and all(torch.equal(got[k], want[k]) for k in want)


def test_gshell_mlp_head_matches_its_old_formula_to_one_ulp_and_old_states_load():
    """The MLP head used torch.rand * 2b - b (float32) where core.nn draws uniform_(-b, b) in the layer's dtype:
    equal to one float32 ulp; no documented result uses head='mlp'. Old state dicts (buffer 'freqs') still load."""
    from geomsci.gshell.model import GShell

    model = GShell(6, head="mlp", hidden=16, n_freqs=3, seed=2)
    gen = torch.Generator().manual_seed(2)
    for lin in (model.mlp[0], model.mlp[2]):
        bound = 1 / math.sqrt(lin.in_features)
        w = torch.rand(lin.weight.shape, generator=gen) * 2 * bound - bound
        b = torch.rand(lin.bias.shape, generator=gen) * 2 * bound - bound
        assert torch.allclose(lin.weight, w, rtol=0, atol=2e-8) and torch.allclose(lin.bias, b, rtol=0, atol=2e-8)
    # the encoding is the old one: [x, sin(2^k pi x_c), cos(2^k pi x_c)] coordinate by coordinate
    x = torch.rand(5, 3) * 2 - 1
    ang = x[:, :, None] * ((2.0 ** torch.arange(3)) * math.pi)
    assert torch.equal(model.encoding(x), torch.cat([x, ang.sin().flatten(1), ang.cos().flatten(1)], 1))
    state = {k: v for k, v in model.state_dict().items() if k != "encoding.B"}
    state["freqs"] = (2.0 ** torch.arange(3)) * math.pi
    clone = GShell(6, head="mlp", hidden=16, n_freqs=3, seed=5)
    clone.load_state_dict(state)
    assert all(torch.equal(a, b) for a, b in zip(clone.fields(), model.fields()))


def test_xavier_matches_pig_tanh_mlp_formula():
    """PIG's make_mlp (Xavier-normal weights, zero biases, one generator) is init='xavier'."""
    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    layers = linear_layers([4, 16, 1], init="xavier", generator=g1, dtype=torch.float64)
    for lin, (a, b) in zip(layers, [(4, 16), (16, 1)]):
        want = torch.randn(b, a, generator=g2, dtype=torch.float64) * math.sqrt(2.0 / (a + b))
        assert torch.equal(lin.weight, want) and not lin.bias.any()


def test_same_seed_same_network_and_bad_arguments():
    a = mlp([3, 8, 8, 2], nn.Tanh(), init="uniform", generator=torch.Generator().manual_seed(0))
    b = mlp([3, 8, 8, 2], nn.Tanh(), init="uniform", generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert len(a) == 5 and isinstance(a[1], nn.Tanh) and a[1] is not a[3]
    assert isinstance(mlp([3, 4], nn.ReLU(), activate_last=True)[-1], nn.ReLU)
    zero = linear_layers([3, 2], init="zero")[0]
    assert not zero.weight.any() and not zero.bias.any()
    with pytest.raises(ValueError, match="generator"):
        linear_layers([3, 4], init="uniform")
    with pytest.raises(ValueError, match="init must be one of"):
        linear_layers([3, 4], init="he")
    with pytest.raises(ValueError, match="sizes"):
        mlp([3], nn.Tanh())
    with pytest.raises(TypeError, match="activation"):
        mlp([3, 4], torch.tanh)


def test_fourier_features_formula_and_orders():
    B = gaussian_frequencies(2, 5, 1.5, torch.Generator().manual_seed(0), dtype=torch.float64)
    enc = FourierFeatures(B)
    x = torch.rand(10, 2, dtype=torch.float64)
    proj = 2 * math.pi * x @ B.T
    assert torch.equal(enc(x), torch.cat([x, proj.sin(), proj.cos()], 1)) and enc.out_dim == 12
    assert FourierFeatures(B, include_input=False)(x).shape == (10, 10)
    octave = positional_frequencies(2, 3)
    coord = positional_frequencies(2, 3, coordinate_major=True)
    assert octave[:, 0].tolist() == [0.5, 0, 1, 0, 2, 0] and coord[:, 0].tolist() == [0.5, 1, 2, 0, 0, 0]
    assert FourierFeatures(positional_frequencies(3, 0)).out_dim == 3
    with pytest.raises(ValueError, match=r"\(P, 2\)"):
        enc(torch.rand(4, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="sigma"):
        gaussian_frequencies(2, 3, 0.0, torch.Generator())


@pytest.mark.gpu
def test_seeded_networks_are_the_same_on_cuda():
    a = mlp([3, 8, 1], nn.Tanh(), init="uniform", generator=torch.Generator().manual_seed(0))
    b = mlp([3, 8, 1], nn.Tanh(), init="uniform", generator=torch.Generator().manual_seed(0), device="cuda")
    assert all(torch.equal(p, q.cpu()) for p, q in zip(a.parameters(), b.parameters()))
