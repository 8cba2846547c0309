"""`geomsci wing ...`: surface features, wing Cp datasets, Cp model training; and the demo step."""
from __future__ import annotations

import time
from pathlib import Path

import typer

app = typer.Typer(help="Riemannian surface features, wing panel-method Cp data and Cp learning.", no_args_is_help=True)

ASSET = Path(__file__).resolve().parents[2] / "assets" / "wing" / "cp_mlp_features.pt"


@app.command()
def features(
    mesh: Path = typer.Argument(..., help="surface mesh file (triangles; a wing .vtu from make-dataset keeps its grid)"),
    out: Path = typer.Option(..., "--out", "-o", help="output mesh file with the feature fields (e.g. .vtu)"),
    periodic_u: bool = typer.Option(False, help="grid meshes: the u axis wraps around"),
    periodic_v: bool = typer.Option(False, help="grid meshes: the v axis wraps around"),
    rings: int = typer.Option(2, help="unstructured meshes: neighbourhood rings of the local fits"),
):
    """Write metric, Christoffel symbols and curvatures as point fields of MESH."""
    import torch

    import geomsci
    from geomsci.wing.features import riemannian_features

    if not mesh.exists():
        raise FileNotFoundError(f"{mesh}: no such file")
    m = geomsci.load(mesh)
    if m.cell_type != "triangle" or m.dim != 3:
        raise ValueError(f"{mesh}: features need a 3-D triangle mesh, got cell_type={m.cell_type!r}, dim={m.dim}")
    m = m.to(dtype=torch.float64)
    if "ij" in m.point_data:
        m.point_data["ij"] = m.point_data["ij"].long()
    t0 = time.perf_counter()
    f = riemannian_features(m, periodic_u=periodic_u, periodic_v=periodic_v, rings=rings)
    geomsci.save(f, out)
    names = [k for k in f.point_data if k not in m.point_data]
    typer.echo(f"wrote {out}: {len(names)} fields ({', '.join(names)}) on {f.n_points} points in "
               f"{time.perf_counter() - t0:.2f} s")


@app.command("make-dataset")
def make_dataset_cmd(
    out: Path = typer.Option(Path("wing_data"), "--out", "-o", help="output folder"),
    wings: int = typer.Option(40, help="number of random wings"),
    test: int = typer.Option(10, help="how many of them are held-out test planforms"),
    n_mach: int = typer.Option(2, help="Mach numbers per wing (uniform in 0.1-0.7)"),
    n_alpha: int = typer.Option(3, help="angles of attack per Mach number (uniform in -2-12 deg)"),
    n_chord: int = typer.Option(16, help="panels per side along the chord"),
    n_span: int = typer.Option(8, help="panels along the half span (plus 2 tip-cap panels)"),
    seed: int = typer.Option(0, help="random seed"),
):
    """Random wings x flight conditions solved by the panel method: one .vtu per wing + conditions.csv."""
    import torch

    from geomsci.wing.dataset import make_dataset

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    path = make_dataset(out, wings, test, n_mach, n_alpha, n_chord=n_chord, n_span=n_span, seed=seed)
    typer.echo(f"wrote {wings} wings x {n_mach * n_alpha} conditions to {out} ({path.name}) in "
               f"{time.perf_counter() - t0:.0f} s")


@app.command()
def train(
    data: Path = typer.Argument(..., help="dataset folder from make-dataset"),
    model: str = typer.Option("mlp", help="mlp or attention"),
    features_: str = typer.Option("all", "--features", help="none, all, or comma list of metric,christoffel,curvature,normal"),
    epochs: int = typer.Option(15, help="training epochs"),
    seed: int = typer.Option(0, help="random seed"),
    out: Path = typer.Option(None, "--out", "-o", help="save the trained model here (.pt)"),
):
    """Train a Cp model on the training wings and report the Cp MSE on the held-out wings."""
    import torch

    from geomsci.wing.dataset import load_dataset
    from geomsci.wing.train import INPUT_GROUPS, cp_mse, train_cp_model

    torch.set_num_threads(1)
    if features_ == "none":
        groups = ()
    elif features_ == "all":
        groups = ("metric", "christoffel", "curvature")
    else:
        groups = tuple(g.strip() for g in features_.split(",") if g.strip())
        bad = [g for g in groups if g not in INPUT_GROUPS]
        if bad:
            raise ValueError(f"--features: unknown group(s) {bad}; expected none, all or {sorted(INPUT_GROUPS)}")
    d = load_dataset(data)
    if out is not None:  # before training, so a bad path does not cost the run
        out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    net, norm = train_cp_model(d, model, groups, epochs=epochs, seed=seed, progress=True)
    typer.echo(f"{model} with features {list(groups) or 'none'}: held-out Cp MSE {cp_mse(net, norm, d, 'test'):.4f}, "
               f"train {cp_mse(net, norm, d, 'train'):.4f} ({time.perf_counter() - t0:.0f} s)")
    if out is not None:
        torch.save({"model": model, "groups": groups, "state": net.state_dict(), "norm": norm.__dict__}, out)
        typer.echo(f"saved {out}")


def _plot(half, name, path, title, cmap):
    """PNG of point field ``name`` on the full (mirrored) wing, seen from above (core's plot_mesh)."""
    from geomsci.core.plot import plot_mesh
    from geomsci.wing.planform import mirror_mesh

    full = mirror_mesh(half)
    return plot_mesh(full, path, field=name, title=title, cmap=cmap, elev=35.0, azim=-125.0, size=5.0)


def demo(out_dir: Path) -> str:
    """A random unseen wing: features, panel-method Cp and the pretrained MLP's Cp, as PNGs."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small dense ops: one thread avoids OpenMP spinning on a shared CPU
    try:
        return _demo(Path(out_dir))
    finally:
        torch.set_num_threads(threads)


def _demo(out_dir: Path) -> str:
    import torch

    import geomsci
    from geomsci.wing.dataset import FEATURE_NAMES, WingData, random_wing
    from geomsci.wing.features import grid_features
    from geomsci.wing.models import MODELS
    from geomsci.wing.panel import panel_to_points, solve_panels
    from geomsci.wing.planform import wing_grid
    from geomsci.wing.train import Normalizer, predict_cp

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
    for name in ("H", "Gamma1_11"):  # clip to the 10-90 % range: the singular trailing-edge rows would swamp the colours
        v = mesh.point_data[name]
        lo, hi = torch.quantile(v, torch.tensor([0.1, 0.9], dtype=v.dtype))
        shown.set_point_field(f"{name}_clipped", v.clamp(lo, hi))
    _plot(shown, "H_clipped", out_dir / "wing_mean_curvature.png", "mean curvature H (10-90 % range)", "coolwarm")
    _plot(shown, "Gamma1_11_clipped", out_dir / "wing_christoffel_1_11.png", "Christoffel symbol Gamma^1_11 (10-90 %)", "viridis")
    _plot(shown, "cp", out_dir / "wing_cp_panel.png", f"Cp, panel method (alpha {alpha}, M {mach})", "jet_r")
    if ASSET.exists():
        ck = torch.load(ASSET, weights_only=False)
        norm = Normalizer(**ck["norm"])
        feats = torch.cat([torch.stack([mesh.point_data[k] for k in FEATURE_NAMES[:-3]], -1),
                           mesh.point_data["normal"]], -1).float()
        d = WingData(mesh.points.float()[None], feats[None], list(FEATURE_NAMES), cp.float()[None, None],
                     torch.tensor([[[alpha, mach]]]), torch.tensor([1]))
        net = MODELS[ck["model"]](norm.mean.numel())
        net.load_state_dict(ck["state"])
        net.eval()
        pred = predict_cp(net, norm, d)[0, 0]
        mesh.set_point_field("cp_predicted", pred.double())
        shown.set_point_field("cp_predicted", pred.double())
        _plot(shown, "cp_predicted", out_dir / "wing_cp_predicted.png", "Cp, MLP + Riemannian features", "jet_r")
        msg += f"; MLP+features Cp MSE {float(((pred - cp) ** 2).mean()):.4f} (Cp variance {float(cp.var()):.3f})"
    geomsci.save(mesh, out_dir / "wing.vtu")
    return msg
