# The names `geomsci.gshell` offers; `__init__.py` imports each on first use (lazy_loader reads this file).
from .extract import GShellSurface, cut_open, extract_gshell
from .fit import FitResult, clean_surface, evaluate, fit, remove_small_components, template_sdf, winding_number
from .generative import GridVAE, generation_metrics, grids_to_meshes, open_shape_family, sample_grids, train_vae
from .model import GShell
from .multiview import MultiviewResult, backproject, carving_targets, fit_multiview, render_views, ring_cameras
from .regularizers import distance_targets, nu_close_loss, nu_open_loss, nu_smoothness_loss, nu_target_loss, sdf_sign_loss
from .turntable import turntable, turntable_views

__all__ = [
    "GShell",
    "GShellSurface",
    "extract_gshell",
    "cut_open",
    "fit",
    "FitResult",
    "evaluate",
    "remove_small_components",
    "clean_surface",
    "template_sdf",
    "winding_number",
    "GridVAE",
    "open_shape_family",
    "train_vae",
    "sample_grids",
    "grids_to_meshes",
    "generation_metrics",
    "fit_multiview",
    "MultiviewResult",
    "backproject",
    "carving_targets",
    "render_views",
    "ring_cameras",
    "sdf_sign_loss",
    "nu_open_loss",
    "nu_close_loss",
    "nu_target_loss",
    "nu_smoothness_loss",
    "distance_targets",
    "turntable",
    "turntable_views",
]
