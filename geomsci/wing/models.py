"""Cp predictors over the points of one wing: a point-wise MLP and a DAN-like attention network.

Both map per-point inputs (coordinates, flight condition and, optionally, Riemannian features)
of shape (B, N, D_in) to Cp (B, N). The attention network follows the Deep Attention Network idea
(every point attends to the whole wing), made linear in N with a small set of learned latent
vectors, as in Perceiver IO: points -> latents (cross-attention), latent self-attention,
latents -> points (cross-attention), then a point-wise head on [point embedding, attended context].
"""

from __future__ import annotations

import torch
from torch import nn

from geomsci.core.nn import mlp


def _mlp(sizes: list[int]) -> nn.Sequential:
    """GELU MLP with PyTorch's default init from the global RNG (``train_cp_model`` seeds it)."""
    return mlp(sizes, nn.GELU(), init="torch")


def _check_inputs(x: torch.Tensor, in_dim: int, who: str) -> None:
    """Shape only (no values read): (B, N, in_dim)."""
    if x.dim() != 3 or x.shape[-1] != in_dim:
        raise ValueError(
            f"{who}: inputs must have shape (B, N, {in_dim}) (the in_dim the model was built with), got {tuple(x.shape)}"
        )


class PointMLP(nn.Module):
    """Cp at each point from that point's inputs only: (B, N, D_in) -> (B, N)."""

    def __init__(self, in_dim: int, hidden: int = 96, layers: int = 4):
        super().__init__()
        if in_dim < 1 or hidden < 1 or layers < 2:
            raise ValueError(f"PointMLP: need in_dim, hidden >= 1 and layers >= 2, got {in_dim}, {hidden}, {layers}")
        self.net = _mlp([in_dim] + [hidden] * (layers - 1) + [1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_inputs(x, self.net[0].in_features, "PointMLP")
        return self.net(x).squeeze(-1)


class _Block(nn.Module):
    """Pre-norm (cross-)attention + feed-forward block: q (B, M, d), kv (B, N, d) -> (B, M, d)."""

    def __init__(self, d: int, heads: int):
        super().__init__()
        self.nq, self.nkv, self.nf = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.ff = _mlp([d, 2 * d, d])

    def forward(self, q, kv):
        kv = self.nkv(kv)
        q = q + self.attn(self.nq(q), kv, kv, need_weights=False)[0]
        return q + self.ff(self.nf(q))


class AttentionCpNet(nn.Module):
    """DAN-like Cp network: each point's prediction sees the whole wing through attention.

    (B, N, D_in) -> embed (B, N, d) -> latents (B, M, d) by cross-attention -> ``depth`` latent
    self-attention blocks -> each point queries the latents -> head on [embedding, context] -> (B, N).
    Cost O(B N M d), so a whole wing (hundreds of points) fits on a CPU.
    """

    def __init__(self, in_dim: int, d: int = 32, latents: int = 32, heads: int = 4, depth: int = 1):
        super().__init__()
        if in_dim < 1 or d % heads:
            raise ValueError(
                f"AttentionCpNet: need in_dim >= 1 and d divisible by heads, got in_dim={in_dim}, d={d}, heads={heads}"
            )
        if latents < 1 or depth < 0:
            raise ValueError(f"AttentionCpNet: need latents >= 1 and depth >= 0, got latents={latents}, depth={depth}")
        self.embed = _mlp([in_dim, d, d])
        self.latents = nn.Parameter(torch.randn(latents, d) * 0.2)
        self.encode = _Block(d, heads)
        self.process = nn.ModuleList([_Block(d, heads) for _ in range(depth)])
        self.decode = _Block(d, heads)
        self.head = _mlp([2 * d, d, d, 1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_inputs(x, self.embed[0].in_features, "AttentionCpNet")
        h = self.embed(x)  # (B, N, d)
        z = self.encode(self.latents.expand(x.shape[0], -1, -1), h)  # (B, M, d)
        for blk in self.process:
            z = blk(z, z)
        ctx = self.decode(h, z)  # (B, N, d)
        return self.head(torch.cat([h, ctx], -1)).squeeze(-1)


MODELS = {"mlp": PointMLP, "attention": AttentionCpNet}
