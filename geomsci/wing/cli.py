"""`geomsci wing ...`: surface features, wing Cp datasets, Cp model training and prediction (the demo step
lives in ``geomsci.wing.demo``)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from geomsci.core.cli_checks import mesh_output_file, output_file, output_folder

app = typer.Typer(help="Riemannian surface features, wing panel-method Cp data and Cp learning.", no_args_is_help=True)

THREADS_HELP = "torch threads (default: $GEOMSCI_THREADS, else half the cores, at most 8)"


@app.command()
def features(
    mesh: Path = typer.Argument(..., help="surface mesh file (triangles; a wing .vtu from make-dataset keeps its grid)"),
    out: Path = typer.Option(..., "--out", "-o", help="output mesh file with the feature fields (e.g. .vtu)"),
    periodic_u: bool = typer.Option(False, help="grid meshes: the u axis wraps around"),
    periodic_v: bool = typer.Option(False, help="grid meshes: the v axis wraps around"),
    rings: int = typer.Option(2, help="unstructured meshes: neighbourhood rings of the local fits"),
    force: bool = typer.Option(False, "--force", help="overwrite OUT if it exists"),
    threads: int = typer.Option(None, "--threads", help=THREADS_HELP),
):
    """Write metric, Christoffel symbols and curvatures as point fields of MESH."""
    import torch

    from geomsci.core import io as mesh_io
    from geomsci.core.threads import limit_threads
    from geomsci.wing.features import riemannian_features

    if not mesh.exists():
        raise FileNotFoundError(f"{mesh}: no such file")
    mesh_output_file(out, force, example="features.vtu")
    m = mesh_io.load(mesh)
    if m.cell_type != "triangle" or m.dim != 3:
        raise ValueError(f"{mesh}: features need a 3-D triangle mesh, got cell_type={m.cell_type!r}, dim={m.dim}")
    m = m.to(dtype=torch.float64)
    if "ij" in m.point_data:
        m.point_data["ij"] = m.point_data["ij"].long()
    t0 = time.perf_counter()
    with limit_threads(threads):
        f = riemannian_features(m, periodic_u=periodic_u, periodic_v=periodic_v, rings=rings)
        mesh_io.save(f, out)
    new = [k for k in f.point_data if k not in m.point_data]
    detail = f"new: {', '.join(new)}" if new else "the features MESH already held were recomputed"
    typer.echo(
        f"wrote {out}: {len(f.point_data)} point fields ({detail}) on {f.n_points} points in {time.perf_counter() - t0:.2f} s"
    )


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
    force: bool = typer.Option(False, "--force", help="write into OUT even if it already holds files"),
    threads: int = typer.Option(None, "--threads", help=THREADS_HELP),
):
    """Random wings x flight conditions solved by the panel method: one .vtu per wing + conditions.csv."""
    from geomsci.core.errors import InputError
    from geomsci.core.threads import limit_threads
    from geomsci.wing.dataset import make_dataset

    # checked before any wing is solved
    output_folder(out, force)
    if not 0 < test < wings:
        raise InputError(f"--test must be between 1 and --wings - 1 = {wings - 1}, got {test}")
    t0 = time.perf_counter()
    with limit_threads(threads):
        path = make_dataset(out, wings, test, n_mach, n_alpha, n_chord=n_chord, n_span=n_span, seed=seed)
    typer.echo(f"wrote {wings} wings x {n_mach * n_alpha} conditions to {out} ({path.name}) in {time.perf_counter() - t0:.0f} s")


@app.command()
def train(
    data: Path = typer.Argument(..., help="dataset folder from make-dataset"),
    model: str = typer.Option("mlp", help="mlp or attention"),
    features_: str = typer.Option("all", "--features", help="none, all, or comma list of metric,christoffel,curvature,normal"),
    epochs: int = typer.Option(15, help="training epochs"),
    seed: int = typer.Option(0, help="random seed"),
    out: Path = typer.Option(None, "--out", "-o", help="save the trained model here (.pt); `geomsci wing predict` reads it"),
    force: bool = typer.Option(False, "--force", help="overwrite OUT if it exists"),
    threads: int = typer.Option(None, "--threads", help=THREADS_HELP),
):
    """Train a Cp model on the training wings and report the Cp MSE on the held-out wings."""
    from geomsci.core.threads import limit_threads
    from geomsci.wing.dataset import load_dataset
    from geomsci.wing.train import INPUT_GROUPS, cp_mse, save_cp_model, train_cp_model

    if model not in ("mlp", "attention"):
        raise ValueError(f"--model must be mlp or attention, got {model!r}")
    if out is not None:  # before training, so a bad path does not cost the run
        if out.suffix != ".pt":
            raise ValueError(f"--out {out}: the model file must end in .pt")
        output_file(out, force, example="model.pt")
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
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with limit_threads(threads):
        net, norm = train_cp_model(d, model, groups, epochs=epochs, seed=seed, progress=True)
        typer.echo(
            f"{model} with features {list(groups) or 'none'}: held-out Cp MSE {cp_mse(net, norm, d, 'test'):.4f}, "
            f"train {cp_mse(net, norm, d, 'train'):.4f} ({time.perf_counter() - t0:.0f} s)"
        )
    if out is not None:
        save_cp_model(out, net, norm, model, groups)
        typer.echo(f"saved {out}")


@app.command()
def predict(
    model_file: Path = typer.Argument(..., help="Cp model (.pt) from `geomsci wing train -o`"),
    mesh: Path = typer.Argument(
        ..., help="half-wing grid mesh: a wing_XXX.vtu from make-dataset (or any mesh with an 'ij' grid field)"
    ),
    alpha: float = typer.Option(..., "--alpha", help="angle of attack in degrees"),
    mach: float = typer.Option(..., "--mach", help="Mach number"),
    out: Path = typer.Option(..., "--out", "-o", help="output mesh (.vtu keeps every field) with the point field cp_predicted"),
    force: bool = typer.Option(False, "--force", help="overwrite OUT if it exists"),
    threads: int = typer.Option(None, "--threads", help=THREADS_HELP),
):
    """Predict Cp on MESH at (ALPHA, MACH) with a saved model; writes it as the point field cp_predicted."""
    import math

    import torch

    from geomsci.core import io as mesh_io
    from geomsci.core.threads import limit_threads
    from geomsci.wing.dataset import FEATURE_NAMES, WingData
    from geomsci.wing.features import riemannian_features
    from geomsci.wing.train import load_cp_model, predict_cp

    if not (math.isfinite(alpha) and -30 <= alpha <= 30):
        raise ValueError(f"--alpha must be an angle in degrees within +-30, got {alpha}")
    if not (math.isfinite(mach) and 0 <= mach < 1):
        raise ValueError(f"--mach must be in [0, 1) (the panel data are subsonic), got {mach}")
    mesh_output_file(out, force, example="cp.vtu")
    with limit_threads(threads):
        net, norm, _ = load_cp_model(model_file)
        m = mesh_io.load(mesh)
        if m.cell_type != "triangle" or m.dim != 3 or "ij" not in m.point_data:
            raise ValueError(
                f"{mesh}: needs a 3-D half-wing grid mesh with an 'ij' point field (a wing_XXX.vtu from "
                f"`geomsci wing make-dataset` or geomsci.wing.wing_mesh), got cell_type={m.cell_type!r}, "
                f"fields {sorted(m.point_data)}"
            )
        m = m.to(dtype=torch.float64)
        m.point_data["ij"] = m.point_data["ij"].long()
        if any(k not in m.point_data for k in FEATURE_NAMES[:-3] + ["normal"]):
            m = riemannian_features(m)
        pd = m.point_data
        feats = torch.cat([torch.stack([pd[k] for k in FEATURE_NAMES[:-3]], -1), pd["normal"]], -1).float()
        d = WingData(
            m.points.float()[None],
            feats[None],
            list(FEATURE_NAMES),
            torch.zeros(1, 1, m.n_points),
            torch.tensor([[[alpha, mach]]], dtype=torch.float32),
            torch.tensor([1]),
        )
        pred = predict_cp(net, norm, d)[0, 0]
        m.set_point_field("cp_predicted", pred.double())
        mesh_io.save(m, out)
    typer.echo(
        f"wrote {out}: Cp predicted on {m.n_points} points at alpha {alpha:g} deg, Mach {mach:g} "
        f"(min {float(pred.min()):.3f}, max {float(pred.max()):.3f})"
    )
