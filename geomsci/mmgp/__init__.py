"""MMGP: mesh-morphing Gaussian-process surrogates for fields and scalars on meshes of varying shape."""

from geomsci.mmgp.datasets import make_dataset, make_sample, make_split
from geomsci.mmgp.executor import map_samples
from geomsci.mmgp.gp import BatchedGP, SharedGP
from geomsci.mmgp.metrics import coverage, q2, rrmse_field, rrmse_scalar
from geomsci.mmgp.morphing import boundary_correspondence, disk_map, disk_morph, flipped_triangles, rbf_boundary_morph, rbf_morph
from geomsci.mmgp.pod import WeightedPOD
from geomsci.mmgp.regressor import MMGPRegressor

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
