"""The Physics-Informed Gaussian (PIG) model: a learnable Gaussian feature embedding followed by a
tiny tanh MLP (Kang et al., "PIG: Physics-Informed Gaussians as Adaptive Parametric Mesh
Representations", ICLR 2025).

Feature embedding (K channels, each with its own N Gaussians, as in the paper's appendix A.1)::

    FE_k(x) = sum_i f_ki * exp(-1/2 (x - mu_ki)^T Sigma_ki^-1 (x - mu_ki))        k = 1..K
    u(x)    = MLP(FE(x))          MLP: K -> hidden (tanh) -> ... -> out

Covariance. The precision is stored through a lower-triangular factor L, Sigma^-1 = L L^T, with
diagonal 1/sigma_j (sigma_j > 0 via softplus or exp of a raw parameter) and, for ``covariance=
"full"``, free strictly-lower entries (zero for ``"diag"``, where Sigma = diag(sigma^2)).

Closed-form derivatives. With y = L^T (x - mu), q = |y|^2, G = exp(-q/2) and g = L y = Sigma^-1 (x - mu):

    dG/dx_j     = -G g_j
    d2G/dx_j^2  =  G (g_j^2 - P_jj)           P = Sigma^-1,  P_jj = sum_k L_jk^2

so the embedding's jet is three sums over Gaussians, which are then pushed through the MLP in
forward mode (``geomsci.pig.jet``). No double backward is needed for second-order PDE residuals.

Truncation. With ``truncate_tol=tol`` each chunk of points keeps only the Gaussians whose
Mahalanobis distance to the chunk's bounding box satisfies q_min <= 2 ln(1/tol); every dropped
Gaussian is below ``tol`` on the whole chunk, so FE_k changes by at most tol * sum_i |f_ki| over
the dropped ones (derivatives by the same factor times |g| and |g_j^2 - P_jj| there).
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import nn

from geomsci.core.nn import linear_layers
from geomsci.pig.jet import Jet, autograd_jet, mlp_jet


def _check_points(x: torch.Tensor, dim: int, who: str, like: torch.Tensor | None = None) -> None:
    """Shape (P, dim); with ``like`` (a parameter of the model) also its dtype and device.
    Shape, dtype and device only: no values are read (no device sync)."""
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != dim:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{who}: x must be a tensor of shape (P, {dim}), got {shape}")
    if like is not None and (x.dtype != like.dtype or x.device != like.device):
        raise ValueError(
            f"{who}: x is {x.dtype} on {x.device} but the model's parameters are {like.dtype} on "
            f"{like.device}; pass x.to(dtype={like.dtype}, device='{like.device}')"
        )


def _check_bounds(bounds, dim: int, who: str) -> torch.Tensor:
    b = torch.as_tensor(bounds, dtype=torch.float64)
    if b.shape != (2, dim) or not bool(torch.isfinite(b).all()) or not bool((b[1] > b[0]).all()):
        raise ValueError(
            f"{who}: bounds must be ((lo_1..lo_d), (hi_1..hi_d)), finite, with hi > lo and d = {dim}, got {b.tolist()}"
        )
    return b


def _check_sizes(who: str, **sizes) -> None:
    """Each keyword is ``name=(value, minimum)``: value must be an int >= minimum."""
    for name, (value, minimum) in sizes.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
            raise ValueError(f"{who}: {name} must be an integer >= {minimum}, got {value!r}")


class JetModel(nn.Module):
    """Shared front for models that give closed-form jets: chunking and the autograd fallback."""

    dim: int

    def jet(self, x: torch.Tensor, order: int = 2, dims=None, method: str = "closed", chunk_size: int = 4096) -> Jet:
        """Value, gradient and pure second derivatives d2u/dx_j^2 (j in ``dims``) at ``x`` (P, d).

        ``method="closed"`` uses the closed forms (forward mode); ``"autograd"`` uses double
        backward on ``forward``. Both are differentiable in the parameters. Points are processed
        in chunks of ``chunk_size``.
        """
        _check_points(x, self.dim, type(self).__name__ + ".jet", next(self.parameters()))
        _check_sizes("jet", chunk_size=(chunk_size, 1))
        if order not in (0, 1, 2):
            raise ValueError(f"jet: order must be 0, 1 or 2, got {order}")
        if method not in ("closed", "autograd"):
            raise ValueError(f"jet: method must be 'closed' or 'autograd', got {method!r}")
        dims = tuple(range(self.dim)) if dims is None else tuple(int(j) for j in dims)
        if any(j < 0 or j >= self.dim for j in dims):
            raise ValueError(f"jet: dims must lie in [0, {self.dim}), got {dims}")
        if order < 2:
            dims = ()
        fn = self._closed_jet if method == "closed" else (lambda xc, o, ds: autograd_jet(self.forward, xc, o, ds))
        if x.shape[0] <= chunk_size:
            return fn(x, order, dims)
        perm = self._chunk_order(x, chunk_size) if method == "closed" else None
        xs = x if perm is None else x[perm]
        parts = [fn(xc, order, dims) for xc in torch.split(xs, chunk_size)]
        cat = lambda name: None if getattr(parts[0], name) is None else torch.cat([getattr(p, name) for p in parts])
        jet = Jet(cat("value"), cat("grad"), cat("hess"), parts[0].dims)
        if perm is not None:  # back to the caller's order
            inv = torch.empty_like(perm)
            inv[perm] = torch.arange(perm.numel(), device=perm.device)
            jet = Jet(
                jet.value[inv], None if jet.grad is None else jet.grad[inv], None if jet.hess is None else jet.hess[inv], jet.dims
            )
        return jet

    def _chunk_order(self, x: torch.Tensor, chunk_size: int) -> torch.Tensor | None:
        """Permutation of the points that makes chunks spatially compact (None: keep the order).
        Used by models that truncate far Gaussians per chunk."""
        return None

    def _closed_jet(self, x, order, dims) -> Jet:  # pragma: no cover - abstract
        raise NotImplementedError


def make_mlp(n_in: int, hidden: int, n_hidden_layers: int, out_dim: int, dtype, device, generator=None) -> nn.ModuleList:
    """Linear layers of a tanh MLP, Xavier-normal weights and zero biases (seeded): ``core.nn.linear_layers``."""
    sizes = [n_in] + [hidden] * n_hidden_layers + [out_dim]
    return linear_layers(sizes, init="xavier", generator=generator, dtype=dtype, device=device)


class PIG(JetModel):
    """Physics-Informed Gaussians: ``u(x) = MLP(FE(x))`` with K x N trainable Gaussians in d dims.

    Parameters
    ----------
    dim : int, input dimension d (space plus time, time last by this package's convention)
    bounds : ((lo_1..lo_d), (hi_1..hi_d)), the domain box; means start uniform in it
    n_gaussians : int N per channel (the paper: 800 for Helmholtz with 4 channels)
    channels : int K, feature channels = MLP input size (paper: 4)
    hidden, n_hidden_layers : MLP width and depth (paper: one hidden layer of 16 tanh units)
    out_dim : int, number of outputs
    covariance : ``"diag"`` or ``"full"`` (Cholesky factor of the precision)
    sigma_init : float or d floats, initial standard deviations (default 5 % of each extent:
        0.1 on [-1, 1] as in the paper)
    scale_param : ``"softplus"`` or ``"log"``, how sigma > 0 is parameterised
    truncate_tol : float or None, see module docstring
    seed : int, makes the initialisation reproducible
    dtype, device : of all parameters

    Parameters (tensors): ``means`` (M, d), ``raw_scales`` (M, d), ``features`` (M,), ``offdiag``
    (M, d(d-1)/2) for full covariance, M = K N; ``channel`` (M,) is the channel of each Gaussian.
    """

    def __init__(
        self,
        dim: int,
        bounds,
        n_gaussians: int = 400,
        channels: int = 4,
        hidden: int = 16,
        n_hidden_layers: int = 1,
        out_dim: int = 1,
        covariance: str = "diag",
        sigma_init=None,
        scale_param: str = "softplus",
        truncate_tol: float | None = None,
        seed: int = 0,
        dtype=torch.float64,
        device=None,
    ):
        super().__init__()
        _check_sizes(
            "PIG",
            dim=(dim, 1),
            n_gaussians=(n_gaussians, 1),
            channels=(channels, 1),
            hidden=(hidden, 1),
            n_hidden_layers=(n_hidden_layers, 0),
            out_dim=(out_dim, 1),
        )
        if covariance not in ("diag", "full"):
            raise ValueError(f"PIG: covariance must be 'diag' or 'full', got {covariance!r}")
        if scale_param not in ("softplus", "log"):
            raise ValueError(f"PIG: scale_param must be 'softplus' or 'log', got {scale_param!r}")
        if truncate_tol is not None and not (0.0 < truncate_tol < 1.0):
            raise ValueError(f"PIG: truncate_tol must be in (0, 1) or None, got {truncate_tol}")
        b = _check_bounds(bounds, dim, "PIG")
        self.dim, self.covariance, self.scale_param, self.truncate_tol = dim, covariance, scale_param, truncate_tol
        self.n_gaussians, self.channels = n_gaussians, channels
        g = torch.Generator().manual_seed(seed)
        M = channels * n_gaussians
        lo, hi = b[0].to(dtype), b[1].to(dtype)
        means = lo + (hi - lo) * torch.rand(M, dim, generator=g, dtype=dtype)  # (M, d)
        sig = 0.05 * (hi - lo) if sigma_init is None else torch.as_tensor(sigma_init, dtype=dtype)
        if sig.dim() > 1 or sig.numel() not in (1, dim):
            raise ValueError(f"PIG: sigma_init must be one float or {dim} floats (one per dim), got shape {tuple(sig.shape)}")
        sig = sig.expand(dim)
        if not bool(torch.isfinite(sig).all()) or bool((sig <= 0).any()):
            raise ValueError(f"PIG: sigma_init must be positive and finite, got {sig.tolist()}")
        raw = torch.log(torch.expm1(sig)) if scale_param == "softplus" else torch.log(sig)
        self.means = nn.Parameter(means.to(device))
        self.raw_scales = nn.Parameter(raw.expand(M, dim).clone().to(device))
        self.features = nn.Parameter((0.01 * torch.randn(M, generator=g, dtype=dtype)).to(device))
        if covariance == "full" and dim > 1:
            self.offdiag = nn.Parameter(torch.zeros(M, dim * (dim - 1) // 2, dtype=dtype, device=device))
        else:
            self.offdiag = None
        self.register_buffer("channel", torch.arange(channels, device=device).repeat_interleave(n_gaussians))
        self.mlp = make_mlp(channels, hidden, n_hidden_layers, out_dim, dtype, device, g)

    # -- Gaussian parameters ----------------------------------------------------------------------
    @property
    def scales(self) -> torch.Tensor:
        """(M, d) standard deviations sigma > 0 (of the diagonal factor)."""
        if self.scale_param == "softplus":
            return nn.functional.softplus(self.raw_scales)
        return torch.exp(self.raw_scales)

    def precision_factor(self) -> torch.Tensor:
        """(M, d, d) lower-triangular L with Sigma^-1 = L L^T (diagonal 1/sigma)."""
        M, d = self.means.shape
        L = torch.diag_embed(1.0 / self.scales)  # (M, d, d)
        if self.offdiag is not None:
            rows, cols = torch.tril_indices(d, d, offset=-1, device=L.device)
            L = L.index_put((torch.arange(M, device=L.device)[:, None], rows[None], cols[None]), self.offdiag, accumulate=True)
        return L

    def covariances(self) -> torch.Tensor:
        """(M, d, d) covariance matrices Sigma = (L L^T)^-1."""
        L = self.precision_factor()
        return torch.cholesky_inverse(L) if L.shape[-1] > 0 else L

    # -- evaluation -------------------------------------------------------------------------------
    def _chunk_order(self, x: torch.Tensor, chunk_size: int) -> torch.Tensor | None:
        """With truncation on, sort the points by the cell of a regular grid over their bounding box
        with about P / chunk_size cells (row-major), so that each chunk covers about one cell and
        keeps only the Gaussians near it. Without truncation the order does not matter: None."""
        if self.truncate_tol is None:
            return None
        with torch.no_grad():
            lo, hi = x.min(0).values, x.max(0).values  # (d,)
            n_cells = max(1, round((x.shape[0] / chunk_size) ** (1.0 / self.dim)))
            cell = ((x - lo) / (hi - lo).clamp(min=1e-300) * n_cells).long().clamp(0, n_cells - 1)  # (P, d)
            key = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
            for j in range(self.dim):
                # serpentine (boustrophedon) order keeps consecutive cells adjacent
                key = key * n_cells + torch.where(key % 2 == 1, n_cells - 1 - cell[:, j], cell[:, j])
            return torch.sort(key, stable=True).indices

    def _select(self, x: torch.Tensor):
        """Gaussians kept for the points ``x``: (idx (K, N'), live (K, N')) or None for all.

        Channels keep different numbers of Gaussians; shorter rows are padded with index 0 and
        ``live = False`` (their features are zeroed), so every channel has N' columns."""
        if self.truncate_tol is None or x.shape[0] == 0:  # no points: nothing to truncate for
            return None
        with torch.no_grad():
            lo, hi = x.min(0).values, x.max(0).values  # (d,)
            dist = torch.clamp(torch.maximum(lo - self.means, self.means - hi), min=0.0)  # (M, d)
            if self.offdiag is None:
                qmin = ((dist / self.scales) ** 2).sum(-1)  # (M,)
            else:
                L = self.precision_factor()
                lam = torch.linalg.eigvalsh(L @ L.transpose(1, 2))[:, 0]  # (M,) smallest eigenvalue
                qmin = lam * (dist**2).sum(-1)
            keep = (qmin <= 2.0 * math.log(1.0 / self.truncate_tol)).reshape(self.channels, self.n_gaussians)
            n_keep = max(1, int(keep.sum(1).max()))
            # stable sort puts kept Gaussians first in each channel, in their original order
            order = torch.sort((~keep).to(torch.int8), dim=1, stable=True).indices[:, :n_keep]  # (K, N')
            live = torch.gather(keep, 1, order)
            return order, live

    def embedding_jet(self, x: torch.Tensor, order: int = 2, dims=()) -> Jet:
        """Closed-form jet of the K-channel embedding FE at ``x`` (P, d): value (P, K), grad (P, K, d),
        hess (P, K, S). See the module docstring for the formulas.

        Implementation: with P = Sigma^-1 and r = x - mu, every quantity is a polynomial of degree
        <= 2 in x whose coefficients depend only on the Gaussian:

            q            = r^T P r                 (exponent)
            g_j          = (P x)_j - (P mu)_j
            g_j^2 - P_jj = (sum_i P_ji x_i - (P mu)_j)^2 - P_jj

        With the monomials phi(x) = [1, x_i, x_i x_k (i <= k)] (P, D2) this becomes two batched
        matrix products per channel: q = phi @ Q_k (P, N) and sums = exp(-q/2) @ C_k, contracted
        with phi per point. Coordinates are shifted to the centre of the chunk first (exact for
        every derivative, and keeps the expansion free of cancellation when |x| >> sigma).
        """
        d, K, N = self.dim, self.channels, self.n_gaussians
        L = self.precision_factor().reshape(K, N, d, d)
        mu, f = self.means.reshape(K, N, d), self.features.reshape(K, N)
        sel = self._select(x)
        if sel is not None:
            idx, live = sel  # (K, N')
            L = torch.gather(L, 1, idx[:, :, None, None].expand(-1, -1, d, d))
            mu = torch.gather(mu, 1, idx[:, :, None].expand(-1, -1, d))
            f = torch.gather(f, 1, idx) * live
        with torch.no_grad():  # (d,) chunk centre (any point will do for no points)
            c = 0.5 * (x.min(0).values + x.max(0).values) if x.shape[0] else x.new_zeros(d)
        xs, mus = x - c, mu - c  # (P, d), (K, N, d)
        Pm = L @ L.transpose(-1, -2)  # (K, N, d, d) precision
        Pmu = (Pm @ mus.unsqueeze(-1)).squeeze(-1)  # (K, N, d)
        ii, kk = torch.triu_indices(d, d, device=x.device)  # monomials x_i x_k, i <= k
        twice = torch.where(ii == kk, 1.0, 2.0).to(x.dtype)  # off-diagonal monomials count twice
        phi1 = torch.cat([x.new_ones(x.shape[0], 1), xs], dim=1)  # (P, 1 + d)
        phi = torch.cat([phi1, xs[:, ii] * xs[:, kk]], dim=1)  # (P, D2)
        # -q/2 = phi @ Qh with Qh the coefficients of -r^T P r / 2
        Qh = torch.cat([-0.5 * (mus * Pmu).sum(-1, keepdim=True), Pmu, -0.5 * twice * Pm[..., ii, kk]], dim=-1)  # (K, N, D2)
        G = torch.exp(torch.matmul(phi, Qh.transpose(1, 2)))  # (K, P, N)
        if order == 0:
            return Jet(torch.bmm(G, f.unsqueeze(-1)).squeeze(-1).T)  # (P, K)
        # coefficient columns: value [1] | -g_j over phi1, for each j | g_j^2 - P_jj over phi, for j in dims
        cols = [f.unsqueeze(-1)]
        for j in range(d):
            cols.append(f.unsqueeze(-1) * torch.cat([Pmu[..., j : j + 1], -Pm[..., j, :]], -1))  # (K, N, 1 + d)
        dims = tuple(dims) if order == 2 else ()
        for j in dims:
            a = Pm[..., j, :]  # (K, N, d) coefficients of x in (P x)_j
            cj = torch.cat(
                [
                    Pmu[..., j : j + 1] ** 2 - Pm[..., j, j : j + 1],
                    -2.0 * Pmu[..., j : j + 1] * a,
                    twice * a[..., ii] * a[..., kk],
                ],
                -1,
            )  # (K, N, D2)
            cols.append(f.unsqueeze(-1) * cj)
        sums = torch.bmm(G, torch.cat(cols, -1))  # (K, P, 1 + d (1 + d) + S D2)
        value = sums[:, :, 0].T  # (P, K)
        n1 = 1 + d
        g = sums[:, :, 1 : 1 + d * n1].reshape(K, -1, d, n1)  # (K, P, d, 1 + d)
        grad = (g * phi1[None, :, None, :]).sum(-1).permute(1, 0, 2)  # (P, K, d)
        hess = None
        if dims:
            h = sums[:, :, 1 + d * n1 :].reshape(K, -1, len(dims), phi.shape[1])  # (K, P, S, D2)
            hess = (h * phi[None, :, None, :]).sum(-1).permute(1, 0, 2)  # (P, K, S)
        return Jet(value, grad, hess, dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """u(x): (P, d) -> (P, out_dim)."""
        _check_points(x, self.dim, "PIG", self.means)
        return mlp_jet(self.embedding_jet(x, order=0), self.mlp).value

    def _closed_jet(self, x, order, dims) -> Jet:
        return mlp_jet(self.embedding_jet(x, order, dims), self.mlp)

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters by role, for separate learning rates: means, scales (incl. off-diagonal), weights."""
        scales = [self.raw_scales] + ([self.offdiag] if self.offdiag is not None else [])
        return {"means": [self.means], "scales": scales, "weights": [self.features] + list(self.mlp.parameters())}
