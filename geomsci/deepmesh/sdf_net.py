"""A small neural signed-distance field and a helper that fits it to a shape.

``SDFNet`` maps points (P, 3) to values (P,)::

    gamma(x) = [x, sin(2 pi B x), cos(2 pi B x)]       B (n_freq, 3) ~ N(0, sigma^2), fixed
    s(x)     = MLP(gamma(x)),  Softplus(beta=100) activations (smooth, so grad s is well defined)

(Fourier features, Tancik et al. 2020; ``features="positional"`` uses the NeRF frequencies
2^k instead of random ones.)  It is fitted by ``fit_sdf`` with::

    L = mean |s(x_i) - d_i|  +  w_eik * mean (|grad s(y_j)| - 1)^2

on samples x_i with known signed distance d_i (uniform in the bounds plus points near the
surface) and uniform points y_j (the eikonal term keeps s a distance away from the data).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from geomsci.core.mesh import Mesh
from geomsci.core.nn import FourierFeatures, gaussian_frequencies, linear_layers, positional_frequencies
from geomsci.core.sampling import sample_points


class SDFNet(torch.nn.Module):
    """MLP signed-distance field with Fourier or positional input features: ``net(points (P, 3)) -> (P,)``.

    Parameters
    ----------
    hidden : int, width of the hidden layers
    layers : int, number of hidden layers
    n_freq : int, number of frequencies (random rows of B, or octaves for "positional")
    sigma : float, standard deviation of B (cycles per unit length) for "fourier"
    features : "fourier" | "positional" | "none"
    seed : int, draws B and the initial weights reproducibly
    dtype, device : of the parameters
    """

    def __init__(
        self,
        hidden: int = 64,
        layers: int = 3,
        n_freq: int = 16,
        sigma: float = 1.0,
        features: str = "fourier",
        seed: int = 0,
        dtype=torch.float32,
        device=None,
    ):
        super().__init__()
        if features not in ("fourier", "positional", "none"):
            raise ValueError(f"SDFNet: features must be 'fourier', 'positional' or 'none', got {features!r}")
        for name, value, least in (("hidden", hidden, 1), ("layers", layers, 0), ("n_freq", n_freq, 0)):
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ValueError(f"SDFNet: {name} must be an int >= {least}, got {value!r}")
        g = torch.Generator().manual_seed(seed)
        if features == "fourier":
            B = gaussian_frequencies(3, n_freq, sigma, g, dtype=dtype, device=device)
        elif features == "positional":
            B = positional_frequencies(3, n_freq, dtype=dtype, device=device)
        else:
            B = torch.zeros(0, 3, dtype=dtype, device=device)
        self.encoding = FourierFeatures(B)  # (P, 3) -> (P, 3 + 2 n_feat)
        # seeded after B from the same generator: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) weights and biases
        self.linears = linear_layers(
            [self.encoding.out_dim] + [hidden] * layers + [1], init="uniform", generator=g, dtype=dtype, device=device
        )
        self.act = torch.nn.Softplus(beta=100)

    @property
    def B(self) -> torch.Tensor:
        """(n_feat, 3) frequency matrix of the input features (cycles per unit length)."""
        return self.encoding.B

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # state dicts saved before the encoding moved to geomsci.core.nn hold the frequencies as "B"
        if prefix + "B" in state_dict and prefix + "encoding.B" not in state_dict:
            state_dict[prefix + "encoding.B"] = state_dict.pop(prefix + "B")
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        if points.dim() != 2 or points.shape[1] != 3:
            raise ValueError(f"SDFNet: points must have shape (P, 3), got {tuple(points.shape)}")
        if points.dtype != self.B.dtype or points.device != self.B.device:
            raise TypeError(
                f"SDFNet: points are {points.dtype} on {points.device} but the network is {self.B.dtype} on "
                f"{self.B.device}; convert one of them (points.to(...) or net.to(...))"
            )
        h = self.encoding(points)  # (P, 3 + 2 n_feat)
        for lin in self.linears[:-1]:
            h = self.act(lin(h))
        return self.linears[-1](h).squeeze(1)  # (P,)


def mesh_sdf(mesh: Mesh, points: torch.Tensor) -> torch.Tensor:
    """Signed distance (negative inside) from ``points`` (P, 3) to a closed triangle mesh -> (P,).

    Uses libigl's winding-number sign when installed, else trimesh. Not differentiable (data
    generation only); returns the points' dtype and device.
    """
    v = mesh.points.detach().cpu().double().numpy()
    f = mesh.cells.cpu().numpy().astype(np.int64)
    p = points.detach().cpu().double().numpy()
    try:
        import igl

        d, *_ = igl.signed_distance(p, v, f, sign_type=igl.SIGNED_DISTANCE_TYPE_WINDING_NUMBER)
    except (ImportError, AttributeError):  # pragma: no cover - libigl is optional
        import trimesh

        d = -trimesh.proximity.signed_distance(trimesh.Trimesh(v, f, process=False), p)
    return torch.as_tensor(np.asarray(d), dtype=points.dtype, device=points.device)


def eikonal_loss(field: Callable, points: torch.Tensor) -> torch.Tensor:
    """mean (|grad s(y)| - 1)^2 over points (P, 3), differentiable in the field's parameters."""
    y = points.detach().requires_grad_(True)
    s = field(y)
    (g,) = torch.autograd.grad(s.sum(), y, create_graph=True)  # (P, 3)
    return ((g.norm(dim=1) - 1) ** 2).mean()


def _training_samples(target, bounds: torch.Tensor, n: int, near_std: float, g: torch.Generator):
    """Points (n, 3) and signed distances (n,): half uniform in the bounds, half near the surface."""
    lo, hi = bounds[0], bounds[1]
    n_uni = n // 2
    uni = lo + (hi - lo) * torch.rand(n_uni, 3, generator=g, dtype=lo.dtype, device=lo.device)
    if isinstance(target, Mesh):
        surf = sample_points(target.points.detach().to(lo), target.cells, n - n_uni, generator=g)
    else:  # a callable: near points by moving uniform samples toward the zero set (Newton steps)
        surf = lo + (hi - lo) * torch.rand(n - n_uni, 3, generator=g, dtype=lo.dtype, device=lo.device)
        for _ in range(4):
            x = surf.detach().requires_grad_(True)
            s = target(x)
            (gr,) = torch.autograd.grad(s.sum(), x)
            surf = (x - s.unsqueeze(1) * gr / gr.square().sum(1, keepdim=True).clamp_min(1e-12)).detach()
    near = surf + near_std * torch.randn(surf.shape, generator=g, dtype=lo.dtype, device=lo.device)
    pts = torch.cat([uni, near])  # (n, 3)
    with torch.no_grad():
        d = mesh_sdf(target, pts) if isinstance(target, Mesh) else target(pts)
    return pts, d


def fit_sdf(
    net: torch.nn.Module,
    target,
    bounds,
    *,
    steps: int = 500,
    batch: int = 4096,
    n_samples: int = 60_000,
    eikonal_weight: float = 0.1,
    lr: float = 3e-3,
    near_std: float = 0.02,
    seed: int = 0,
    progress: bool = False,
) -> list[float]:
    """Fit ``net`` to the signed distance of ``target`` (a closed ``Mesh`` or a callable SDF).

    Parameters
    ----------
    net : module mapping (P, 3) -> (P,), trained in place
    target : Mesh (closed triangle surface) or callable points (P, 3) -> signed distance (P,)
    bounds : ((xmin, ymin, zmin), (xmax, ymax, zmax)) or a half-width b for [-b, b]^3
    steps, batch : Adam steps and samples per step
    n_samples : size of the pool of (point, distance) pairs, drawn once
    eikonal_weight : weight of mean (|grad s| - 1)^2 on uniform points
    near_std : std of the Gaussian offset of near-surface samples (world units)

    Returns
    -------
    history : list of the loss at each step
    """
    from .extract import _bounds

    if not isinstance(target, Mesh) and not callable(target):
        raise TypeError(f"fit_sdf: target must be a closed triangle Mesh or a callable SDF, got {type(target).__name__}")
    for name, value, least in (("steps", steps, 0), ("batch", batch, 4), ("n_samples", n_samples, 2)):
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise ValueError(f"fit_sdf: {name} must be an int >= {least}, got {value!r}")
    p0 = next(net.parameters())
    b = _bounds(bounds, p0.dtype, p0.device, "fit_sdf")
    g = torch.Generator(device=p0.device).manual_seed(seed)
    pts, dist = _training_samples(target, b, n_samples, near_std, g)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=lr * 0.05)
    history = []
    for _ in tqdm(range(steps), desc="fit_sdf", disable=not progress, leave=False):
        idx = torch.randint(0, pts.shape[0], (batch,), generator=g, device=p0.device)
        uni = b[0] + (b[1] - b[0]) * torch.rand(batch // 4, 3, generator=g, dtype=b.dtype, device=b.device)
        loss = (net(pts[idx]) - dist[idx]).abs().mean() + eikonal_weight * eikonal_loss(net, uni)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        history.append(float(loss.detach()))
    return history
