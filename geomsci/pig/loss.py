"""The physics-informed loss of a model on a batch of collocation and data points.

Loss (``c`` runs over the problem's constraints, ``b`` over time bins when causal weighting is on)::

    L = lambda_r sum_b w_b mean_{x in bin b}( (R(u; x) / residual_scale)^2 )  +  sum_c weight_c mean( (D_c u - target_c)^2 )
    lambda_r = residual_weight (default 1),  w_b = exp(-eps * sum_{b' < b} L_b')   (detached; Wang, Sankaran & Perdikaris 2022), w = 1 when off

Every operation has shapes fixed by the batch sizes and reads no value back to the host, so the
loss can be captured in a CUDA graph or compiled; the time bins are summed through a one-hot
matrix product rather than ``index_add`` so that the sum is deterministic on a GPU too.
"""

from __future__ import annotations

import dataclasses

import torch

from geomsci.pig.problems.base import Constraint, Problem


def draw_batch(problem: Problem, n_collocation: int, n_data: int, generator: torch.Generator, dtype) -> tuple:
    """Collocation points (n_collocation, d) and the problem's constraints with ``n_data`` points
    per term, drawn with ``generator`` on its device and cast to ``dtype``."""
    xi = problem.sample_interior(n_collocation, generator).to(dtype)
    cons = []
    for c in problem.constraints(n_data, generator):
        pair = None if c.x_pair is None else c.x_pair.to(dtype)
        cons.append(dataclasses.replace(c, x=c.x.to(dtype), target=c.target.to(dtype), x_pair=pair))
    return xi, cons


def copy_batch_(dst: tuple, src: tuple) -> None:
    """Copy the batch ``src`` into the tensors of ``dst`` (same shapes): static buffers stay put."""
    dst[0].copy_(src[0])
    for a, b in zip(dst[1], src[1]):
        a.x.copy_(b.x), a.target.copy_(b.target)
        if a.x_pair is not None:
            a.x_pair.copy_(b.x_pair)


def physics_loss(
    problem: Problem,
    model,
    xi: torch.Tensor,
    cons: list[Constraint],
    *,
    residual_weight: float = 1.0,
    causal_eps: float | None = None,
    causal_bins: int = 16,
    method: str = "closed",
    chunk_size: int = 8192,
) -> torch.Tensor:
    """The scalar loss of the module docstring at collocation points ``xi`` (P, d) and ``cons``."""
    jet = model.jet(xi, order=problem.order, dims=problem.second_dims, method=method, chunk_size=chunk_size)
    r = problem.residual(jet, xi) / problem.residual_scale  # (P,)
    r2 = r * r
    if causal_eps and problem.time_dim is not None:
        lo, hi = float(problem.bounds[0, problem.time_dim]), float(problem.bounds[1, problem.time_dim])
        t = xi[:, problem.time_dim]
        b = ((t - lo) / (hi - lo) * causal_bins).long().clamp(0, causal_bins - 1)  # (P,)
        onehot = (b[:, None] == torch.arange(causal_bins, device=b.device)).to(r2.dtype)  # (P, B)
        sums = r2 @ onehot  # (B,)
        per_bin = sums / onehot.sum(0).clamp(min=1)  # (B,)
        w = torch.exp(-causal_eps * (torch.cumsum(per_bin, 0) - per_bin)).detach()
        res_loss = (w * per_bin).mean()
    else:
        res_loss = r2.mean()
    total = residual_weight * res_loss
    for c in cons:
        order = 0 if c.deriv is None else 1
        j = model.jet(c.x, order=order, method=method, chunk_size=chunk_size)
        val = j.u if c.deriv is None else j.d(c.deriv)
        if c.x_pair is not None:
            jp = model.jet(c.x_pair, order=order, method=method, chunk_size=chunk_size)
            val = val - (jp.u if c.deriv is None else jp.d(c.deriv))
        total = total + c.weight * ((val - c.target) ** 2).mean()
    return total
