"""Distances between point sets and between surfaces: Chamfer, F-score, normal consistency, with ONE
convention used by every subpackage.

Convention
----------
With nearest-neighbour distances ``d(p, S) = min_{q in S} |p - q|`` (Euclidean)::

    CD(X, Y) = mean_{x in X} d(x, Y)^k + mean_{y in Y} d(y, X)^k

the *sum* of the two one-sided means (not their average), with k = 2 (``squared=True``, "CD-L2",
pytorch3d's ``chamfer_distance``) or k = 1 (``squared=False``, "CD-L1"). Normal term (losses):
``mean_x (1 - |cos(n_x, n_nn(x))|) + mean_y (1 - |cos(n_y, n_nn(y))|)``, orientation-free, summed
over the two directions like the distance. F-score at threshold t (Tatarchenko et al. 2019):
precision = fraction of X with d(x, Y) < t, recall = fraction of Y with d(y, X) < t, F = 2PR/(P+R).
Normal consistency (a metric, higher is better, Mescheder et al. 2019):
``(mean_x |cos| + mean_y |cos|) / 2 = 1 - normal_term / 2``.

``surface_metrics(pred, target)`` reports all of them for two meshes from ``n`` area-uniform
samples of each, under the keys ``chamfer_l2``, ``chamfer_l1``, ``f_score``, ``precision``,
``recall``, ``f_threshold`` and ``normal_consistency``; distances are in the target's units.
"""

from __future__ import annotations

import torch

from .spatial import as_points, nearest_neighbors, nearest_neighbors_both_ways

__all__ = ["chamfer_distance", "f_score", "surface_metrics"]

_REDUCTIONS = ("mean", "sum", None)


def _safe_sqrt(d2: torch.Tensor) -> torch.Tensor:
    # sqrt with a zero (not NaN) gradient at 0
    pos = d2 > 0
    return torch.where(pos, d2.clamp_min(torch.finfo(d2.dtype).tiny).sqrt(), torch.zeros_like(d2))


def _as_clouds(x, y, name_x="x", name_y="y"):
    """Both point sets as tensors (converted from arrays), 2-D (N, D) or batched 3-D (B, N, D)."""

    def conv(c, name, like):
        if not isinstance(c, torch.Tensor):
            if isinstance(c, (list, tuple)) or hasattr(c, "__array__"):
                import numpy as np

                arr = np.asarray(c)
                if arr.ndim == 3:  # batched: check one slice, convert whole
                    as_points(arr[0] if len(arr) else arr.reshape(0, arr.shape[-1]), name, like=like)
                    t = torch.as_tensor(arr, device=None if like is None else like.device)
                    return t if t.is_floating_point() else t.to(torch.get_default_dtype())
            return as_points(c, name, like=like) if not isinstance(c, torch.Tensor) else c
        return c

    x = conv(x, name_x, y if isinstance(y, torch.Tensor) else None)
    y = conv(y, name_y, x)
    for name, c in ((name_x, x), (name_y, y)):
        if c.dim() not in (2, 3):
            raise ValueError(f"{name} must have shape (N, D) or batched (B, N, D), got {tuple(c.shape)}")
        if not c.is_floating_point():
            raise TypeError(f"{name} must hold float coordinates, got dtype {c.dtype}")
    if x.dim() != y.dim() or (x.dim() == 3 and x.shape[0] != y.shape[0]):
        raise ValueError(
            f"{name_x} and {name_y} must both be (N, D) or both (B, N, D) with the same B, "
            f"got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    return x, y


def _chamfer_one(x, y, squared, two_sided, x_normals, y_normals, max_memory):
    for name, c in (("x", x), ("y", y)):
        if c.shape[0] == 0:
            raise ValueError(f"{name} is empty: the Chamfer distance needs at least one point in each set")
    if two_sided:
        d_xy, i_xy, d_yx, i_yx = nearest_neighbors_both_ways(x, y, max_memory=max_memory)  # (N,), (M,)
    else:
        d_xy, i_xy = nearest_neighbors(x, y, max_memory=max_memory)  # (N,)
    dist = (d_xy if squared else _safe_sqrt(d_xy)).mean()
    if two_sided:
        dist = dist + (d_yx if squared else _safe_sqrt(d_yx)).mean()
    if x_normals is None:
        return dist, None
    cos = torch.nn.functional.cosine_similarity(x_normals, y_normals[i_xy], dim=-1, eps=1e-12)
    nl = (1 - cos.abs()).mean()
    if two_sided:
        cos = torch.nn.functional.cosine_similarity(y_normals, x_normals[i_yx], dim=-1, eps=1e-12)
        nl = nl + (1 - cos.abs()).mean()
    return dist, nl


def chamfer_distance(
    x,
    y,
    *,
    squared: bool = True,
    two_sided: bool = True,
    x_normals=None,
    y_normals=None,
    batch_reduction: str | None = "mean",
    max_memory: int | None = None,
):
    """Chamfer distance between point sets x (N, D) and y (M, D), or batches (B, N, D) / (B, M, D).

    ``CD = mean_i d(x_i, y) + mean_j d(y_j, x)`` (the module's convention: the *sum* of the two
    one-sided means) where d is the squared (``squared=True``) or plain Euclidean distance to the
    nearest point; ``two_sided=False`` keeps only the x -> y term.

    With ``x_normals`` and ``y_normals`` (shaped like their points) also returns the normal term
    ``mean_i (1 - |cos(n_i, n_nn(i))|)`` over the same directions (orientation-free, as in
    pytorch3d), else ``None``.

    Batched input (as pytorch3d users pass it) gives one value per batch element, reduced by
    ``batch_reduction``: ``"mean"`` (default, pytorch3d's), ``"sum"`` or ``None`` for a (B,) tensor.
    Numpy arrays are accepted and converted (onto the other argument's device).

    Returns
    -------
    distance : 0-d tensor (or (B,)); normal_loss : the same shape, or None
    """
    if (x_normals is None) != (y_normals is None):
        raise ValueError("pass both x_normals and y_normals, or neither")
    if batch_reduction not in _REDUCTIONS:
        raise ValueError(f"batch_reduction must be 'mean', 'sum' or None, got {batch_reduction!r}")
    x, y = _as_clouds(x, y)
    if x_normals is not None:
        x_normals, y_normals = _as_clouds(x_normals, y_normals, "x_normals", "y_normals")
        for name, nrm, pts in (("x_normals", x_normals, x), ("y_normals", y_normals, y)):
            if nrm.shape != pts.shape:
                raise ValueError(f"{name} must have the shape of its points {tuple(pts.shape)}, got {tuple(nrm.shape)}")
    if x.dim() == 2:
        return _chamfer_one(x, y, squared, two_sided, x_normals, y_normals, max_memory)
    if x.shape[0] == 0:
        raise ValueError("x and y hold an empty batch (B = 0)")
    # one search per batch element: clouds of different elements must not see each other
    per = [
        _chamfer_one(
            x[b],
            y[b],
            squared,
            two_sided,
            None if x_normals is None else x_normals[b],
            None if y_normals is None else y_normals[b],
            max_memory,
        )
        for b in range(x.shape[0])
    ]
    dist = torch.stack([d for d, _ in per])  # (B,)
    nl = None if x_normals is None else torch.stack([n for _, n in per])
    if batch_reduction == "mean":
        return dist.mean(), None if nl is None else nl.mean()
    if batch_reduction == "sum":
        return dist.sum(), None if nl is None else nl.sum()
    return dist, nl


def f_score(x, y, threshold: float, *, max_memory: int | None = None):
    """F-score at a distance threshold (Tatarchenko et al. 2019), x = prediction, y = ground truth.

    ``precision`` = fraction of x within ``threshold`` (Euclidean, strict <) of y,
    ``recall`` = fraction of y within ``threshold`` of x, ``f = 2 P R / (P + R)`` (0 when both are 0).
    x (N, D), y (M, D): tensors or numpy arrays.

    Returns
    -------
    (f, precision, recall) as 0-d tensors (no gradient).
    """
    if not (float(threshold) > 0):
        raise ValueError(f"threshold must be a positive distance, got {threshold}")
    x, y = _as_clouds(x, y)
    if x.dim() != 2:
        raise ValueError(f"f_score takes one pair of clouds (N, D), (M, D), got {tuple(x.shape)} and {tuple(y.shape)}")
    with torch.no_grad():
        d_xy, _, d_yx, _ = nearest_neighbors_both_ways(x, y, max_memory=max_memory)
        t2 = float(threshold) ** 2
        p = (d_xy < t2).to(x.dtype).mean()
        r = (d_yx < t2).to(x.dtype).mean()
        f = torch.where(p + r > 0, 2 * p * r / (p + r).clamp_min(torch.finfo(x.dtype).tiny), torch.zeros_like(p))
    return f, p, r


@torch.no_grad()
def surface_metrics(
    pred,
    target,
    *,
    n: int = 20_000,
    seed: int = 0,
    f_threshold: float | None = None,
    f_fraction: float = 0.01,
    dtype: torch.dtype | None = None,
) -> dict:
    """Chamfer (CD-L2 and CD-L1), F-score and normal consistency between two triangle meshes.

    ``n`` area-uniform samples are drawn on ``pred`` and then on ``target`` from one generator
    seeded with ``seed`` (so results are reproducible on one machine); distances are in the
    target's units.

    Parameters
    ----------
    pred, target : Mesh with triangle cells (3-D)
    f_threshold : F-score distance; default ``f_fraction`` (1%) of the target's bounding-box
        diagonal (the diagonal of its vertices)
    dtype : sampling precision; default the target's dtype

    Returns
    -------
    dict with ``chamfer_l2`` (squared, sum of the two means), ``chamfer_l1`` (Euclidean, same),
    ``f_score``, ``precision``, ``recall``, ``f_threshold``, ``normal_consistency`` (floats) and
    ``diagonal`` (the target's bounding-box diagonal)
    """
    from .mesh import Mesh
    from .sampling import sample_points

    for name, m in (("pred", pred), ("target", target)):
        if not isinstance(m, Mesh):
            raise TypeError(f"surface_metrics: {name} must be a Mesh, got {type(m).__name__}")
        if m.cells is None or m.cell_type != "triangle" or m.dim != 3:
            raise ValueError(
                f"surface_metrics: {name} must be a 3-D triangle mesh (the metrics sample its faces), "
                f"got {'a point set' if m.cells is None else str(m.cell_type) + ' cells'} in {m.dim}-D"
            )
        if m.n_cells == 0:
            raise ValueError(f"surface_metrics: {name} has no faces to sample")
    dtype = target.dtype if dtype is None else dtype
    dev = target.device
    gen = torch.Generator(device=dev).manual_seed(seed)
    x, nx = sample_points(
        pred.points.detach().to(device=dev, dtype=dtype), pred.cells.to(dev), n, generator=gen, return_normals=True
    )
    y, ny = sample_points(target.points.detach().to(dtype), target.cells, n, generator=gen, return_normals=True)
    tp = target.points.detach().to(dtype)
    diag = float((tp.max(0).values - tp.min(0).values).norm())
    thr = f_fraction * diag if f_threshold is None else float(f_threshold)
    d_xy, i_xy, d_yx, i_yx = nearest_neighbors_both_ways(x, y)
    cos_xy = torch.nn.functional.cosine_similarity(nx, ny[i_xy], dim=-1, eps=1e-12).abs()
    cos_yx = torch.nn.functional.cosine_similarity(ny, nx[i_yx], dim=-1, eps=1e-12).abs()
    t2 = thr**2
    p = float((d_xy < t2).to(dtype).mean())
    r = float((d_yx < t2).to(dtype).mean())
    return {
        "chamfer_l2": float(d_xy.mean() + d_yx.mean()),
        "chamfer_l1": float(_safe_sqrt(d_xy).mean() + _safe_sqrt(d_yx).mean()),
        "f_score": 2 * p * r / (p + r) if p + r > 0 else 0.0,
        "precision": p,
        "recall": r,
        "f_threshold": thr,
        "normal_consistency": float(cos_xy.mean() + cos_yx.mean()) / 2,
        "diagonal": diag,
    }
