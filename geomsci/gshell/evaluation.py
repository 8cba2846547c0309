"""How good a G-Shell fit is against its target mesh: core's surface metrics plus the topology of
the open surface (boundary loops, manifoldness)."""

from __future__ import annotations

import torch

from geomsci.core.mesh import Mesh
from geomsci.core.metrics import surface_metrics


@torch.no_grad()
def evaluate(pred: Mesh, target: Mesh, *, n: int = 20000, seed: int = 0, fraction: float = 0.01) -> dict:
    """``geomsci.core.metrics.surface_metrics`` of ``pred`` against ``target`` (``n`` area-uniform
    samples of each, F-score at ``fraction`` of the target's bounding-box diagonal), plus
    ``chamfer_rel`` (CD-L1 / diagonal), boundary loops, manifoldness and face count of ``pred``.

    ``chamfer`` (= ``chamfer_l1``, the Euclidean two-sided Chamfer distance this function has always
    reported) and ``fscore`` (= ``f_score``) are kept as aliases.
    """
    from geomsci.core import geometry as G

    for name, m in (("pred", pred), ("target", target)):
        if m.cells is None or m.cell_type != "triangle":
            raise ValueError(
                f"evaluate: {name} must be a triangle mesh (Chamfer and F-score sample its faces), "
                f"got {'a point set' if m.cells is None else m.cell_type + ' cells'}"
            )
    out = surface_metrics(pred, target, n=n, seed=seed, f_fraction=fraction)
    diag = out.pop("diagonal")
    out.update(
        chamfer=out["chamfer_l1"],
        chamfer_rel=out["chamfer_l1"] / diag,
        fscore=out["f_score"],
        boundary_loops=len(G.boundary_loops(pred.cells)),
        manifold=G.is_manifold(pred.cells),
        faces=pred.n_cells,
    )
    return out
