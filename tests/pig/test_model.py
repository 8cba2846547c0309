"""PIG and PINN: closed-form jets equal autograd's (float64, 1e-10), gradcheck, truncation bound, errors."""

import math

import pytest
import torch

from geomsci.pig import PIG, PINN


def _rand_full(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    if model.offdiag is not None:
        with torch.no_grad():
            model.offdiag.copy_(torch.randn(model.offdiag.shape, generator=g, dtype=model.offdiag.dtype) * 3)


@pytest.mark.parametrize("dim", [1, 2, 3])
@pytest.mark.parametrize("covariance", ["diag", "full"])
@pytest.mark.parametrize("scale_param", ["softplus", "log"])
def test_closed_form_jet_matches_autograd(dim, covariance, scale_param, device):
    # Points far from the origin (box [2, 6]^d) exercise the chunk-centring of the polynomial expansion.
    lo, hi = [2.0] * dim, [6.0] * dim
    m = PIG(
        dim,
        (lo, hi),
        n_gaussians=30,
        channels=3,
        hidden=8,
        n_hidden_layers=2,
        covariance=covariance,
        scale_param=scale_param,
        seed=3,
        device=device,
    )
    _rand_full(m)
    x = 2.0 + 4.0 * torch.rand(64, dim, dtype=torch.float64, generator=torch.Generator().manual_seed(1)).to(device)
    a = m.jet(x, order=2)
    b = m.jet(x, order=2, method="autograd")
    for name in ("value", "grad", "hess"):
        ref = getattr(b, name)
        err = (getattr(a, name) - ref).abs().max().item()
        assert err <= 1e-10 * max(1.0, ref.abs().max().item()), (name, err)
    # and the parameter gradients of a residual-like loss agree too
    la = (a.hess.sum(-1) + a.value).pow(2).mean()
    lb = (b.hess.sum(-1) + b.value).pow(2).mean()
    ga = torch.autograd.grad(la, list(m.parameters()))
    gb = torch.autograd.grad(lb, list(m.parameters()))
    for p, q in zip(ga, gb):
        assert torch.allclose(p, q, rtol=1e-9, atol=1e-11)


def test_selected_dims_and_chunking():
    m = PIG(3, ([-1, -1, 0], [1, 1, 1]), n_gaussians=20, seed=0)
    x = torch.rand(100, 3, dtype=torch.float64)
    full = m.jet(x, order=2)
    part = m.jet(x, order=2, dims=(2,), chunk_size=7)
    assert part.hess.shape == (100, 1, 1)
    torch.testing.assert_close(part.hess[..., 0], full.hess[..., 2], rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(part.grad, full.grad, rtol=1e-12, atol=1e-13)
    assert torch.equal(part.dd(2), part.hess[:, 0, 0])
    with pytest.raises(ValueError, match="not carried"):
        part.dd(0)


def test_gradcheck_closed_form_jet():
    # The closed-form jet is differentiable in every parameter and in x; finite differences agree.
    m = PIG(2, ([-1, -1], [1, 1]), n_gaussians=4, channels=2, hidden=3, covariance="full", seed=0)
    _rand_full(m)
    x = (torch.rand(5, 2, dtype=torch.float64) * 2 - 1).requires_grad_(True)

    class Wrap(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, pts):
            j = self.model.jet(pts, order=2)
            return j.value, j.grad, j.hess

    w = Wrap(m)
    names = [n for n, _ in w.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_(True) for _, p in w.named_parameters())
    f = lambda pts, *ps: torch.func.functional_call(w, dict(zip(names, ps)), (pts,))
    assert torch.autograd.gradcheck(f, (x,) + params)


def test_truncation_within_stated_tolerance():
    tol = 1e-8
    kw = dict(dim=2, bounds=([-1, -1], [1, 1]), n_gaussians=200, channels=2, sigma_init=0.05, seed=0)
    exact, trunc = PIG(**kw), PIG(truncate_tol=tol, **kw)
    x = torch.rand(2000, 2, dtype=torch.float64) * 2 - 1
    x = x[torch.argsort(x[:, 0])]  # spatially coherent chunks, so truncation drops something
    a = exact.embedding_jet(x[:100], order=0).value
    b = trunc.embedding_jet(x[:100], order=0).value
    idx, live = trunc._select(x[:100])
    assert int(live.sum()) < exact.means.shape[0]  # it did drop Gaussians
    assert idx.shape[1] < exact.n_gaussians  # and computes with fewer columns
    bound = tol * trunc.features.abs().sum()  # stated bound: tol * sum |f| (over all, >= dropped)
    assert (a - b).abs().max() <= bound


def test_pinn_jet_matches_autograd():
    m = PINN(3, ([-1, -2, 0], [1, 2, 10]), width=16, depth=3, seed=0)
    x = torch.rand(40, 3, dtype=torch.float64) * 3
    a, b = m.jet(x, 2, dims=(0, 2)), m.jet(x, 2, dims=(0, 2), method="autograd")
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(a.hess, b.hess, rtol=1e-10, atol=1e-12)


def test_positive_scales_and_covariance():
    m = PIG(2, ([-1, -1], [1, 1]), n_gaussians=5, covariance="full", sigma_init=0.2, seed=0)
    assert torch.allclose(m.scales, torch.full_like(m.scales, 0.2))
    with torch.no_grad():
        m.raw_scales.fill_(-50.0)
    assert (m.scales > 0).all()
    cov = m.covariances()
    assert (torch.linalg.eigvalsh(cov) > 0).all()


def test_bad_input_messages():
    with pytest.raises(ValueError, match="bounds"):
        PIG(2, ([0, 0], [0, 1]))
    with pytest.raises(ValueError, match="covariance"):
        PIG(2, ([0, 0], [1, 1]), covariance="dense")
    m = PIG(2, ([0, 0], [1, 1]), n_gaussians=3)
    with pytest.raises(ValueError, match=r"shape \(P, 2\)"):
        m(torch.zeros(4, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="order"):
        m.jet(torch.zeros(4, 2, dtype=torch.float64), order=3)


@pytest.mark.gpu
def test_jet_cuda_matches_cpu():
    m = PIG(2, ([-1, -1], [1, 1]), n_gaussians=50, covariance="full", seed=0)
    _rand_full(m)
    x = torch.rand(300, 2, dtype=torch.float64)
    a = m.jet(x, 2)
    mc = m.to("cuda")
    b = mc.jet(x.cuda(), 2)
    torch.testing.assert_close(b.hess.cpu(), a.hess, rtol=1e-10, atol=1e-12)


def test_truncated_chunks_are_spatial_and_keep_the_order():
    # with truncation, jet() sorts points into grid cells so chunks are compact, then restores the order
    tol = 1e-10
    kw = dict(dim=2, bounds=([-1, -1], [1, 1]), n_gaussians=300, channels=2, sigma_init=0.04, seed=1)
    exact, trunc = PIG(**kw), PIG(truncate_tol=tol, **kw)
    x = torch.rand(1500, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():  # values only; the gradients are checked elsewhere
        a = exact.jet(x, order=2, chunk_size=100)
        b = trunc.jet(x, order=2, chunk_size=100)
        scale = trunc.features.abs().sum() * max(1.0, float(a.hess.abs().max()))
    for u, v in ((a.value, b.value), (a.grad, b.grad), (a.hess, b.hess)):
        assert float((u - v).abs().max()) <= 1e3 * tol * float(scale)
    perm = trunc._chunk_order(x, 100)
    first = x[perm[:100]]
    assert float((first.max(0).values - first.min(0).values).max()) < 1.0  # a compact chunk, not the whole box
    assert exact._chunk_order(x, 100) is None


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(bounds=([0, -math.inf], [1, 1])), "finite"),
        (dict(sigma_init=float("nan")), "sigma_init must be positive and finite"),
        (dict(sigma_init=[0.1, 0.1, 0.1]), "one float or 2 floats"),
        (dict(n_gaussians=2.5), "n_gaussians must be an integer"),
        (dict(hidden=0), "hidden must be an integer >= 1"),
        (dict(n_hidden_layers=-1), "n_hidden_layers must be an integer >= 0"),
        (dict(out_dim=0), "out_dim must be an integer >= 1"),
    ],
)
def test_bad_constructor_arguments_say_which(kwargs, match):
    kw = dict(bounds=([0, 0], [1, 1]), n_gaussians=3) | kwargs
    with pytest.raises(ValueError, match=match):
        PIG(2, **kw)


def test_pinn_bad_bounds_and_sizes():
    with pytest.raises(ValueError, match="finite"):
        PINN(2, ([0, 0], [1, math.inf]))
    with pytest.raises(ValueError, match="width must be an integer"):
        PINN(2, ([0, 0], [1, 1]), width=2.5)


def test_points_of_the_wrong_dtype_or_chunk_size_are_named():
    m = PIG(2, ([0, 0], [1, 1]), n_gaussians=3)
    with pytest.raises(ValueError, match=r"x is torch.float32 .* parameters are torch.float64"):
        m(torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"x is torch.float32"):
        PINN(2, ([0, 0], [1, 1]), width=4, depth=1).jet(torch.zeros(4, 2))
    with pytest.raises(ValueError, match="chunk_size must be an integer >= 1"):
        m.jet(torch.zeros(4, 2, dtype=torch.float64), chunk_size=0)


def test_no_points_give_empty_results():
    for tol in (None, 1e-6):
        m = PIG(2, ([0, 0], [1, 1]), n_gaussians=3, truncate_tol=tol)
        x = torch.zeros(0, 2, dtype=torch.float64)
        assert m(x).shape == (0, 1)
        j = m.jet(x)
        assert j.value.shape == (0, 1) and j.grad.shape == (0, 1, 2) and j.hess.shape == (0, 1, 2)
