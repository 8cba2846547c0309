"""Losses on meshes and point sets: the usual mesh regularizers (normal consistency, Laplacian
smoothing, edge length), and the point-set losses of ``metrics`` (Chamfer, F-score) and ``spatial``
(nearest neighbours) under their historical import path.

``chamfer_distance``, ``f_score`` (convention: ``geomsci.core.metrics``) and ``nearest_neighbors``
(``geomsci.core.spatial``) are re-exported here unchanged. Every loss accepts numpy arrays as well
as tensors (converted; the result is a tensor).
"""

from __future__ import annotations

import torch

from .geometry import _check, _edge_keys, _half_edges, cotangent_weights, edges, face_normals
from .metrics import _safe_sqrt, chamfer_distance, f_score
from .spatial import as_points, nearest_neighbors

__all__ = [
    "nearest_neighbors",
    "chamfer_distance",
    "f_score",
    "normal_consistency",
    "laplacian_smoothing",
    "edge_length_loss",
]


# ------------------------------------------------------------------------------------------------
# mesh regularizers
# ------------------------------------------------------------------------------------------------
def normal_consistency(points: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Mean ``1 - cos(n_a, n_b)`` over all pairs of faces (a, b) that share an edge; a 0-d tensor.

    ::

          v2 ---- v3        n_a = normal of (v0, v1, v2), n_b = normal of (v1, v3, v2)
          | \\  b |         0 for a flat patch, 2 for a folded-over one.
          |  \\   |
          | a \\  |         Assumes consistently oriented faces. An edge shared by k > 2 faces
          v0 ---- v1        contributes all k (k - 1) / 2 pairs. 0 if no edge is shared.
    """
    points, faces = _check(as_points(points, "points"), faces)
    n = face_normals(points, faces)  # (F, 3)
    with torch.no_grad():
        keys = _edge_keys(_half_edges(faces), points.shape[0])  # (3F,)
        sk, order = torch.sort(keys, stable=True)
        _, counts = torch.unique_consecutive(sk, return_counts=True)
        starts = torch.cumsum(counts, 0) - counts  # group start in sorted order
        grp = torch.repeat_interleave(torch.arange(counts.numel(), device=faces.device), counts)
        pos = torch.arange(sk.numel(), device=faces.device)
        after = starts[grp] + counts[grp] - pos - 1  # later members of the same group
        a = torch.repeat_interleave(pos, after)  # (pairs,)
        b = (
            a
            + 1
            + (torch.arange(a.numel(), device=faces.device) - torch.repeat_interleave(torch.cumsum(after, 0) - after, after))
        )
        fa, fb = order[a] // 3, order[b] // 3
    if fa.numel() == 0:
        return points.new_zeros(())
    return (1 - (n[fa] * n[fb]).sum(-1)).mean()


def laplacian_smoothing(points: torch.Tensor, faces: torch.Tensor, method: str = "uniform") -> torch.Tensor:
    """Mean over vertices of ``|delta_i|``, the offset of each vertex from a weighted average of its
    neighbours, a 0-d tensor (as pytorch3d's ``mesh_laplacian_smoothing``).

    ``method="uniform"``: ``delta_i = mean_{j ~ i} x_j - x_i``.
    ``method="cot"``: ``delta_i = sum_j w_ij x_j / sum_j w_ij - x_i`` with cotangent weights
    ``w_ij`` computed without gradient (differentiating through the weights is unstable).
    Vertices with no neighbours (or a vanishing weight sum) contribute 0.
    """
    points, faces = _check(as_points(points, "points"), faces, dims=(2, 3))
    if method not in ("uniform", "cot"):
        raise ValueError(f"method must be 'uniform' or 'cot', got {method!r}")
    nv = points.shape[0]
    if method == "uniform":
        with torch.no_grad():
            e = edges(faces)  # (E, 2)
            i = torch.cat([e[:, 0], e[:, 1]])
            j = torch.cat([e[:, 1], e[:, 0]])
            w = torch.ones(i.numel(), dtype=points.dtype, device=points.device)
    else:
        with torch.no_grad():
            wf = cotangent_weights(points.detach(), faces)  # (F, 3) weight of edge opposite corner
            a, b = faces.roll(-1, dims=1).reshape(-1), faces.roll(-2, dims=1).reshape(-1)
            i, j = torch.cat([a, b]), torch.cat([b, a])
            w = torch.cat([wf.reshape(-1), wf.reshape(-1)])
    wsum = torch.zeros(nv, dtype=points.dtype, device=points.device).index_add(0, i, w)  # (N,)
    avg = torch.zeros_like(points).index_add(0, i, w.unsqueeze(1) * points[j])  # (N, D)
    ok = wsum.abs() > 1e-12
    delta = torch.where(ok.unsqueeze(1), avg / torch.where(ok, wsum, 1.0).unsqueeze(1) - points, 0.0)
    return torch.linalg.vector_norm(delta, dim=-1).mean()


def edge_length_loss(points: torch.Tensor, faces: torch.Tensor, target: float = 0.0) -> torch.Tensor:
    """Mean over unique edges of ``(|x_i - x_j| - target)^2``, a 0-d tensor (pytorch3d's
    ``mesh_edge_loss``)."""
    points, faces = _check(as_points(points, "points"), faces, dims=(2, 3))
    e = edges(faces)  # (E, 2)
    if e.numel() == 0:
        return points.new_zeros(())
    d = points[e[:, 0]] - points[e[:, 1]]  # (E, D)
    length = _safe_sqrt((d * d).sum(-1)) if target != 0.0 else None
    if length is None:
        return (d * d).sum(-1).mean()
    return ((length - float(target)) ** 2).mean()
