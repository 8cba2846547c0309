"""The wing step of ``geomsci demo``: a random unseen wing, its Riemannian features, panel-method Cp and the
pretrained MLP's Cp (shipped with the package: ``geomsci/wing/data/cp_mlp_features.pt``)."""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

import torch


def pretrained_cp_model_path() -> Path:
    """Path of the pretrained Cp MLP (coordinates + flight condition + all Riemannian features) that ships
    as package data; made by ``geomsci wing train ... --features all -o cp.pt`` on the docs/wing.md dataset."""
    return Path(str(resources.files("geomsci.wing") / "data" / "cp_mlp_features.pt"))


def robust_limits(
    values: torch.Tensor, mask: torch.Tensor | None = None, lo: float = 0.02, hi: float = 0.98
) -> tuple[float, float]:
    """Colour limits from the ``lo``-``hi`` quantiles of ``values[mask]``, symmetric about 0 when they change sign.

    The wing grid's trailing-edge rows and its tip line are parametric singularities (|H| ~ 1e7 there):
    leaving them out of the limits (``mask``) keeps the rest of the surface from turning one colour."""
    v = values.detach().double().cpu()
    v = v if mask is None else v[mask.cpu()]
    q = torch.quantile(v, torch.tensor([lo, hi], dtype=torch.float64))
    a, b = float(q[0]), float(q[1])
    if a < 0 < b:
        m = max(-a, b)
        return -m, m
    return a, b


def _plot(half, name, path, title, cmap, clim=None, symlog=None):
    """PNG of point field ``name`` on the full (mirrored) wing, seen from above and behind."""
    from geomsci.core.plot import plot_mesh
    from geomsci.wing.planform import mirror_mesh

    return plot_mesh(
        mirror_mesh(half),
        path,
        field=name,
        title=title,
        cmap=cmap,
        elev=35.0,
        azim=-125.0,
        size=5.0,
        clim=clim,
        zoom=1.0,
        symlog=symlog,
    )


def demo(out_dir: Path) -> str:
    """A random unseen wing: features, panel-method Cp and the pretrained MLP's Cp, as PNGs and ``wing.vtu``."""
    from geomsci.core import io as mesh_io
    from geomsci.wing.dataset import FEATURE_NAMES, WingData, random_wing
    from geomsci.wing.features import grid_features
    from geomsci.wing.panel import panel_to_points, solve_panels
    from geomsci.wing.planform import wing_grid
    from geomsci.wing.train import load_cp_model, predict_cp

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    wing = random_wing(torch.Generator().manual_seed(2024))  # not among the training seeds' wings
    X = wing_grid(wing, 16, 8, 2)
    t0 = time.perf_counter()
    mesh = grid_features(X)
    alpha, mach = 6.0, 0.4
    sol = solve_panels(X, alpha, mach, ref_area=wing.area)
    cp = panel_to_points(sol.cp)[0].reshape(-1)
    t_solve = time.perf_counter() - t0
    mesh.set_point_field("cp", cp)
    section = wing.to_dict()["section"]
    section = "CST" if section.startswith("cst") else section.upper()
    msg = f"{section} wing, AR {wing.aspect_ratio:.1f}: CL {float(sol.cl[0]):.3f} at {alpha} deg, M {mach} ({t_solve:.1f} s)"
    shown = mesh.detach()
    ij = mesh.point_data["ij"]
    regular = (ij[:, 0] > 0) & (ij[:, 0] < X.shape[0] - 1) & (ij[:, 1] < X.shape[1] - 1)  # not the TE rows, not the tip line
    # H spans 1/(leading-edge radius) ~ 40 down to ~0.1 on the flat parts: a symmetric-log colour scale
    _plot(
        shown,
        "H",
        out_dir / "wing_mean_curvature.png",
        "mean curvature H (> 0: convex; log scale beyond +-1)",
        "coolwarm",
        robust_limits(mesh.point_data["H"], regular),
        symlog=1.0,
    )
    _plot(
        shown,
        "Gamma1_11",
        out_dir / "wing_christoffel_1_11.png",
        "Christoffel symbol Gamma^1_11",
        "viridis",
        robust_limits(mesh.point_data["Gamma1_11"], regular),
    )
    cp_lim = (float(cp.min()), float(cp.max()))  # one colour scale for the panel method and the model
    _plot(shown, "cp", out_dir / "wing_cp_panel.png", f"Cp, panel method (alpha {alpha}, M {mach})", "jet_r", cp_lim)
    net, norm, _ = load_cp_model(pretrained_cp_model_path())
    feats = torch.cat([torch.stack([mesh.point_data[k] for k in FEATURE_NAMES[:-3]], -1), mesh.point_data["normal"]], -1)
    d = WingData(
        mesh.points.float()[None],
        feats.float()[None],
        list(FEATURE_NAMES),
        cp.float()[None, None],
        torch.tensor([[[alpha, mach]]]),
        torch.tensor([1]),
    )
    pred = predict_cp(net, norm, d)[0, 0]
    mesh.set_point_field("cp_predicted", pred.double())
    shown.set_point_field("cp_predicted", pred.double())
    _plot(shown, "cp_predicted", out_dir / "wing_cp_predicted.png", "Cp, MLP + Riemannian features (same scale)", "jet_r", cp_lim)
    msg += f"; MLP+features Cp MSE {float(((pred - cp) ** 2).mean()):.4f} (Cp variance {float(cp.var()):.3f})"
    mesh_io.save(mesh, out_dir / "wing.vtu")
    return msg
