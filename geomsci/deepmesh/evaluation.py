"""How close an extracted mesh is to its target: core's surface metrics plus the topology of the
mesh (genus, components, watertightness)."""

from __future__ import annotations

from geomsci.core import geometry
from geomsci.core.mesh import Mesh
from geomsci.core.metrics import surface_metrics as core_surface_metrics


def surface_metrics(mesh: Mesh, target: Mesh, *, n: int = 20_000, seed: int = 0, f_threshold: float | None = None) -> dict:
    """``geomsci.core.metrics.surface_metrics`` of ``mesh`` against ``target`` (sampled in
    ``mesh``'s dtype) plus the topology of ``mesh``: genus (None unless watertight), number of
    components, watertight.

    Keys: ``chamfer_l2``, ``chamfer_l1``, ``f_score``, ``precision``, ``recall``, ``f_threshold``
    (default 1% of the target's bounding-box diagonal), ``normal_consistency``, ``genus``,
    ``components``, ``watertight``; ``chamfer`` is kept as an alias of ``chamfer_l2`` (the squared
    two-sided Chamfer distance this function has always reported).
    """
    out = core_surface_metrics(mesh, target, n=n, seed=seed, f_threshold=f_threshold, dtype=mesh.dtype)
    out.pop("diagonal")
    faces = mesh.cells
    closed = geometry.is_watertight(faces)
    out.update(
        chamfer=out["chamfer_l2"],
        genus=geometry.genus(faces, mesh.n_points) if closed else None,
        components=int(geometry.connected_components(faces, mesh.n_points).unique().numel()),
        watertight=closed,
    )
    return out
