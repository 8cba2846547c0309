"""Riemannian surface features, wing geometry, a 3-D panel method and Cp learning."""
from geomsci.wing.features import grid_features, grid_to_mesh, mesh_features, parametric_features, riemannian_features
from geomsci.wing.fundamental_forms import FEATURE_GROUPS, fundamental_forms

__all__ = [
    "FEATURE_GROUPS",
    "fundamental_forms",
    "grid_features",
    "grid_to_mesh",
    "mesh_features",
    "parametric_features",
    "riemannian_features",
]
