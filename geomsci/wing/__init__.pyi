# The names `geomsci.wing` offers; `__init__.py` imports each on first use (lazy_loader reads this file).
from .dataset import FEATURE_NAMES, WingData, load_dataset, make_dataset, random_wing
from .features import grid_features, grid_to_mesh, mesh_features, parametric_features, riemannian_features
from .fundamental_forms import FEATURE_GROUPS, fundamental_forms
from .lifting_line import lifting_line_slope
from .models import MODELS, AttentionCpNet, PointMLP
from .panel import PanelSolution, panel_to_points, solve_panels
from .planform import Wing, mirror_mesh, parse_cst_spec, wing_grid, wing_mesh
from .sections import cosine_stations, cst, naca4, naca5, section
from .train import Normalizer, cp_mse, load_cp_model, predict_cp, save_cp_model, train_cp_model

__all__ = [
    "FEATURE_GROUPS",
    "FEATURE_NAMES",
    "MODELS",
    "AttentionCpNet",
    "Normalizer",
    "PanelSolution",
    "PointMLP",
    "Wing",
    "WingData",
    "cosine_stations",
    "cp_mse",
    "cst",
    "fundamental_forms",
    "grid_features",
    "grid_to_mesh",
    "lifting_line_slope",
    "load_cp_model",
    "load_dataset",
    "make_dataset",
    "mesh_features",
    "mirror_mesh",
    "naca4",
    "naca5",
    "panel_to_points",
    "parametric_features",
    "parse_cst_spec",
    "predict_cp",
    "random_wing",
    "riemannian_features",
    "save_cp_model",
    "section",
    "solve_panels",
    "train_cp_model",
    "wing_grid",
    "wing_mesh",
]
