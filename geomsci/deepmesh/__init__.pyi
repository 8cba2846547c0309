# The names `geomsci.deepmesh` offers; `__init__.py` imports each on first use (lazy_loader reads this file).
from .drag import newtonian_drag, optimize_drag
from .extract import extract_surface, sample_grid
from .marching_cubes import marching_cubes
from .sdf_net import SDFNet, eikonal_loss, fit_sdf, mesh_sdf
from .single_view import reconstruct_from_view, silhouette_iou
from .topology import fit_to_target, surface_metrics

__all__ = [
    "marching_cubes",
    "extract_surface",
    "sample_grid",
    "SDFNet",
    "fit_sdf",
    "mesh_sdf",
    "eikonal_loss",
    "fit_to_target",
    "surface_metrics",
    "reconstruct_from_view",
    "silhouette_iou",
    "newtonian_drag",
    "optimize_drag",
]
