"""A small generative model of open surfaces: a 3-D convolutional VAE over G-Shell grids.

Each shape is a grid of two channels (s, nu) at the vertices of a ``tet_grid(n)`` (n + 1 = 16 per
axis by default), clamped to [-tau, tau] (a truncated SDF pair). Sampling decodes a latent code
into (s, nu) and extracts the open surface with ``extract_gshell``: every sample is a mesh, with
no template needed at decode time, and the decoder can produce caps (one rim) and tubes (two)
alike because the boundary is just nu's zero set.

Family (``open_shape_family``): spherical caps (radius, cut height random) and open tubes (capped
cylinder SDF, nu cutting both ends; radius, height, cut depth random).

Metrics (``generation_metrics``), with the Chamfer distance CD-L1 of ``geomsci.core.metrics`` (Euclidean,
the two one-sided means summed) between point samples:
MMD = mean over reference shapes of the distance to the closest generated shape (lower is
better), COV = fraction of reference shapes that are the nearest reference of some generated
shape (higher is better), and the fraction of samples that are valid open manifolds (non-empty,
manifold, one connected component, at least one boundary loop).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from geomsci.core import geometry as G
from geomsci.core.metrics import chamfer_distance
from geomsci.core.sampling import sample_points
from geomsci.core.tetgrid import tet_grid

from .extract import extract_gshell


def _capped_cylinder_sdf(p: torch.Tensor, radius: float, half_height: float) -> torch.Tensor:
    # exact SDF of a solid cylinder |(x, y)| <= r, |z| <= h: d = (|xy| - r, |z| - h)
    d = torch.stack([p[:, :2].norm(dim=1) - radius, p[:, 2].abs() - half_height], 1)
    return d.max(1).values.clamp_max(0) + d.clamp_min(0).norm(dim=1)


def open_shape_family(n_shapes: int, resolution: int = 15, *, tau: float = 0.3, seed: int = 0, dtype=torch.float32):
    """``n_shapes`` G-Shell grids of caps and tubes (half each, alternating).

    Returns
    -------
    grids : (n_shapes, 2, n+1, n+1, n+1) float, channels (s, nu) clamped to [-tau, tau]
    kinds : (n_shapes,) long, 0 = cap (1 boundary loop), 1 = tube (2 loops)
    """
    if not isinstance(n_shapes, int) or n_shapes < 1:
        raise ValueError(f"open_shape_family: n_shapes must be a positive int, got {n_shapes!r}")
    gen = torch.Generator().manual_seed(seed)
    v, _ = tet_grid(resolution, dtype=dtype)
    n1 = resolution + 1
    grids, kinds = [], []
    for i in range(n_shapes):
        u = torch.rand(3, generator=gen, dtype=dtype)
        if i % 2 == 0:  # cap: sphere of radius r cut at z = c
            r = 0.45 + 0.3 * float(u[0])
            c = r * (-0.3 + 0.8 * float(u[1]))
            s, nu = v.norm(dim=1) - r, v[:, 2] - c
        else:  # tube: capped cylinder, both ends cut off
            r = 0.25 + 0.25 * float(u[0])
            h = 0.4 + 0.3 * float(u[1])
            s, nu = _capped_cylinder_sdf(v, r, h), (h - 0.08 - 0.12 * float(u[2])) - v[:, 2].abs()
        grid = torch.stack([s, nu]).clamp(-tau, tau).reshape(2, n1, n1, n1)
        grids.append(grid)
        kinds.append(i % 2)
    return torch.stack(grids), torch.tensor(kinds)


class GridVAE(nn.Module):
    """3-D convolutional VAE over (2, 16, 16, 16) grids: 16 -> 8 -> 4 -> latent -> 4 -> 8 -> 16."""

    def __init__(self, latent: int = 8, width: int = 16, tau: float = 0.3, seed: int = 0):
        super().__init__()
        self.latent, self.tau = latent, tau
        w = width
        self.enc = nn.Sequential(nn.Conv3d(2, w, 4, 2, 1), nn.SiLU(), nn.Conv3d(w, 2 * w, 4, 2, 1), nn.SiLU(), nn.Flatten())
        self.to_stats = nn.Linear(2 * w * 64, 2 * latent)
        self.from_z = nn.Linear(latent, 2 * w * 64)
        self.dec = nn.Sequential(
            nn.SiLU(),
            nn.ConvTranspose3d(2 * w, w, 4, 2, 1),
            nn.SiLU(),
            nn.ConvTranspose3d(w, w, 4, 2, 1),
            nn.SiLU(),
            nn.Conv3d(w, 2, 3, 1, 1),
        )
        self.w = w
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in self.parameters():
                if p.dim() > 1:
                    bound = 1 / math.sqrt(p[0].numel())
                    p.copy_((torch.rand(p.shape, generator=gen) * 2 - 1) * bound)
                else:
                    p.zero_()

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, 2, 16, 16, 16) -> (mu, logvar) each (B, latent)."""
        mu, logvar = self.to_stats(self.enc(x / self.tau)).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, latent) -> grids (B, 2, 16, 16, 16) in (-tau, tau)."""
        h = self.from_z(z).reshape(-1, 2 * self.w, 4, 4, 4)
        return self.tau * torch.tanh(self.dec(h))

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        return self.decode(z), mu, logvar


def train_vae(
    grids: torch.Tensor,
    *,
    latent: int = 8,
    steps: int = 400,
    batch: int = 32,
    lr: float = 2e-3,
    beta: float = 1e-2,
    seed: int = 0,
    progress: bool = True,
) -> tuple[GridVAE, list[float]]:
    """Train a `GridVAE` on grids (N, 2, 16, 16, 16): L1 reconstruction (relative to tau) + beta KL.
    Returns the model and the loss history."""
    from tqdm.auto import tqdm

    if grids.dim() != 5 or grids.shape[1] != 2 or tuple(grids.shape[2:]) != (16, 16, 16):
        raise ValueError(f"train_vae: grids must have shape (N, 2, 16, 16, 16), got {tuple(grids.shape)}")
    state = torch.random.get_rng_state()  # restored below: the global RNG is seeded for the
    torch.manual_seed(seed)  # reparameterization noise only
    model = GridVAE(latent, seed=seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    hist = []
    try:
        for _ in tqdm(range(steps), desc="gshell vae", disable=not progress, leave=False):
            idx = torch.randint(0, grids.shape[0], (batch,), generator=gen)
            x = grids[idx]
            rec, mu, logvar = model(x)
            kl = -0.5 * (1 + logvar - mu.square() - logvar.exp()).sum(1).mean()
            loss = (rec - x).abs().mean() / model.tau + beta * kl
            opt.zero_grad()
            loss.backward()
            opt.step()
            hist.append(float(loss.detach()))
    finally:
        torch.random.set_rng_state(state)
    return model, hist


@torch.no_grad()
def sample_grids(model: GridVAE, n: int, train_grids: torch.Tensor | None = None, *, seed: int = 0) -> torch.Tensor:
    """Decode ``n`` latent codes -> grids (n, 2, 16, 16, 16).

    With ``train_grids``, codes are drawn from a full-covariance Gaussian fitted to the encoder
    means of the training grids (ex-post density estimation, Ghosh et al. 2020), which stays on the
    codes the decoder was trained on; otherwise from the N(0, I) prior.
    """
    gen = torch.Generator().manual_seed(seed)
    eps = torch.randn(n, model.latent, generator=gen)
    if train_grids is None:
        return model.decode(eps)
    if train_grids.dim() != 5 or tuple(train_grids.shape[1:]) != (2, 16, 16, 16) or train_grids.shape[0] < 2:
        raise ValueError(
            f"sample_grids: train_grids must have shape (N, 2, 16, 16, 16) with N >= 2 (to fit a covariance), "
            f"got {tuple(train_grids.shape)}"
        )
    mu = model.encode(train_grids)[0]  # (N, latent)
    mean = mu.mean(0)
    cov = torch.cov(mu.T) + 1e-6 * torch.eye(model.latent)
    return model.decode(mean + eps @ torch.linalg.cholesky(cov).T)


@torch.no_grad()
def grids_to_meshes(grids: torch.Tensor, resolution: int = 15) -> list:
    """Extract the open G-Shell surface of each grid (B, 2, n+1, n+1, n+1) -> list of Mesh."""
    n1 = resolution + 1
    if grids.dim() != 5 or tuple(grids.shape[1:]) != (2, n1, n1, n1):
        raise ValueError(
            f"grids_to_meshes: grids must have shape (B, 2, {n1}, {n1}, {n1}) for resolution={resolution}, "
            f"got {tuple(grids.shape)}; pass the resolution the grids were made with"
        )
    v, t = tet_grid(resolution, dtype=grids.dtype)
    return [extract_gshell(v, t, g[0].reshape(-1), g[1].reshape(-1)).mesh for g in grids]


@torch.no_grad()
def is_valid_open_manifold(mesh) -> bool:
    """Non-empty, manifold, one connected component, at least one boundary loop."""
    if mesh.n_cells == 0 or not G.is_manifold(mesh.cells):
        return False
    used = torch.unique(mesh.cells)
    if torch.unique(G.connected_components(mesh.cells, mesh.n_points)[used]).numel() != 1:
        return False
    return len(G.boundary_loops(mesh.cells)) >= 1


@torch.no_grad()
def generation_metrics(generated: list, reference: list, *, n_points: int = 1000, seed: int = 0) -> dict:
    """MMD-CD, COV-CD (see module docstring) and the valid fraction of ``generated``."""
    if not reference:
        raise ValueError("generation_metrics: reference must hold at least one mesh (MMD and COV compare against it)")
    gen = torch.Generator().manual_seed(seed)

    def pts(m):
        return sample_points(m.points, m.cells, n_points, generator=gen)

    valid = [is_valid_open_manifold(m) for m in generated]
    gp = [pts(m) for m, ok in zip(generated, valid) if m.n_cells > 0]
    rp = [pts(m) for m in reference]
    if not gp:
        return {"valid": 0.0, "mmd": float("inf"), "cov": 0.0}
    d = torch.tensor([[float(chamfer_distance(a, b, squared=False)[0]) for b in rp] for a in gp])  # (G, R)
    return {
        "valid": sum(valid) / len(generated),
        "mmd": float(d.min(0).values.mean()),
        "cov": torch.unique(d.argmin(1)).numel() / len(rp),
        "loops": [len(G.boundary_loops(m.cells)) if m.n_cells else 0 for m in generated],
    }
