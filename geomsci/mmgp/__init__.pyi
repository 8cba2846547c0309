# The names `geomsci.mmgp` offers; `__init__.py` imports each on first use (lazy_loader reads this file).
from .datasets import make_dataset, make_sample, make_split
from .executor import map_samples
from .gp import BatchedGP, SharedGP
from .metrics import coverage, q2, rrmse_field, rrmse_scalar
from .morphing import boundary_correspondence, disk_map, disk_morph, flipped_triangles, rbf_boundary_morph, rbf_morph
from .pod import WeightedPOD
from .regressor import MMGPRegressor

__all__ = [
    "MMGPRegressor",
    "WeightedPOD",
    "BatchedGP",
    "SharedGP",
    "disk_map",
    "disk_morph",
    "flipped_triangles",
    "rbf_morph",
    "rbf_boundary_morph",
    "boundary_correspondence",
    "map_samples",
    "make_dataset",
    "make_split",
    "make_sample",
    "rrmse_field",
    "rrmse_scalar",
    "q2",
    "coverage",
]
