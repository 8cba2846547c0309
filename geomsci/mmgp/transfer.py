"""P1 field transfer between a morphed sample and the common mesh (the "FE interpolation" of MMGP).

Both directions are sparse operators from ``geomsci.core.interp.transfer_matrix``: a field u (N,)
given at the nodes of a triangle mesh is evaluated at a query point q inside triangle (a, b, c) as
u(q) = lambda_a u_a + lambda_b u_b + lambda_c u_c, so ``u_q = T @ u`` with T (P, N), three
non-zeros per row summing to one; every affine field is reproduced exactly.

On the unit disk, the boundary nodes of one mesh lie on the circle, i.e. slightly outside the
inscribed polygon of another; they take the clamped barycentrics of the nearest cell. That is
expected here, so the core's warning about outside points is silenced (the mask is returned).

    to_common(sample, support)      T (N_c, N_i): sample field -> common-mesh nodes
    to_sample(support_mesh, sample) Q (N_i, N_c): common-mesh field -> the sample's morphed nodes
"""

from __future__ import annotations

import warnings

import torch

from geomsci.core.interp import transfer_matrix
from geomsci.core.mesh import Mesh


def transfer_operator(mesh: Mesh, query: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sparse P1 operator (P, N) from ``mesh`` nodes to ``query`` (P, D), and the (P,) bool mask of
    queries outside the mesh (they use the nearest cell's clamped weights)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="transfer_matrix: .* outside the mesh")
        T, outside = transfer_matrix(mesh, query)
    return T, outside


def apply(T: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
    """``T @ field`` for a sparse (P, N) operator and a field (N,) or (N, C) -> (P,) or (P, C)."""
    if field.dim() == 1:
        return torch.sparse.mm(T, field.unsqueeze(1)).squeeze(1)
    return torch.sparse.mm(T, field)
