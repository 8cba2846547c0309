"""Riemannian surface features, wing geometry, a 3-D panel method and Cp learning."""
from geomsci.wing.features import grid_features, grid_to_mesh, mesh_features, parametric_features, riemannian_features
from geomsci.wing.fundamental_forms import FEATURE_GROUPS, fundamental_forms
from geomsci.wing.lifting_line import lifting_line_slope
from geomsci.wing.panel import PanelSolution, panel_to_points, solve_panels
from geomsci.wing.planform import Wing, mirror_mesh, wing_grid, wing_mesh
from geomsci.wing.sections import cosine_stations, cst, naca4, naca5, section

__all__ = [
    "FEATURE_GROUPS",
    "PanelSolution",
    "Wing",
    "cosine_stations",
    "cst",
    "fundamental_forms",
    "grid_features",
    "grid_to_mesh",
    "lifting_line_slope",
    "mesh_features",
    "mirror_mesh",
    "naca4",
    "naca5",
    "panel_to_points",
    "parametric_features",
    "riemannian_features",
    "section",
    "solve_panels",
    "wing_grid",
    "wing_mesh",
]
