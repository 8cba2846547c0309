"""``geomsci mmgp``: make a dataset, fit a surrogate from mesh + CSV files, predict with uncertainty.

    geomsci mmgp make-dataset DIR [--n-train 40 --n-test 10 --n-ood 5]
    geomsci mmgp fit DIR/train --inputs inputs.csv --outputs outputs.csv --fields u1,u2 -o model.pt
    geomsci mmgp predict model.pt DIR/test --inputs inputs.csv -o OUT

``predict`` writes OUT/<id>.vtu with point fields <f>_mean, <f>_std, <f>_lo95, <f>_hi95 for every
field, and OUT/predictions.csv with id, <s>, <s>_std, <s>_lo95, <s>_hi95 for every scalar.
Bad files, missing columns or mismatched ids raise one-line errors (exit code 2 via ``geomsci``).
"""
from __future__ import annotations

import time
from pathlib import Path

import typer

app = typer.Typer(help="Mesh-morphing Gaussian-process surrogates (MMGP): fields and scalars on meshes of varying shape.",
                  no_args_is_help=True)


@app.command("make-dataset")
def make_dataset_cmd(
    out: Path = typer.Argument(..., help="folder to write train/, test/, ood_ellipse/, ood_wedge/ into"),
    n_train: int = typer.Option(40, help="training samples"),
    n_test: int = typer.Option(10, help="test samples"),
    n_ood: int = typer.Option(5, help="samples of each out-of-distribution shape (ellipse, wedge)"),
    seed: int = typer.Option(0, help="random seed"),
    h_min: float = typer.Option(0.025, help="smallest mesh size (about 3k nodes)"),
    h_max: float = typer.Option(0.04, help="largest mesh size (about 1k nodes)"),
):
    """Generate the Tensile2d-like plate benchmark: one VTU per sample plus inputs.csv / outputs.csv per split."""
    from geomsci.mmgp.datasets import make_dataset

    if min(n_train, n_test, n_ood) < 0:
        raise ValueError(f"sample counts must be >= 0, got n_train={n_train}, n_test={n_test}, n_ood={n_ood}")
    if not 0 < h_min <= h_max:
        raise ValueError(f"need 0 < h_min <= h_max, got h_min={h_min}, h_max={h_max}")
    t0 = time.perf_counter()
    counts = make_dataset(out, n_train, n_test, n_ood, seed=seed, h_range=(h_min, h_max), progress=True)
    typer.echo(f"wrote {sum(counts.values())} samples ({', '.join(f'{k}: {v}' for k, v in counts.items())}) "
               f"to {out} in {time.perf_counter() - t0:.1f} s")


def _names(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


@app.command()
def fit(
    directory: Path = typer.Argument(..., help="folder of training meshes (VTU ...) named <id>.<ext>"),
    inputs: str = typer.Option("inputs.csv", help="CSV with an id column and the scalar inputs"),
    outputs: str = typer.Option("", help="CSV with an id column and the scalar outputs to learn (optional)"),
    fields: str = typer.Option("", help="comma-separated point fields of the meshes to learn, e.g. u1,u2"),
    out: Path = typer.Option(Path("model.pt"), "--out", "-o", help="where to write the fitted model"),
    n_corners: int = typer.Option(4, help="boundary corners pinned on the disk (0: arc length only)"),
    shape_modes: int = typer.Option(8, help="POD modes of the morphed coordinates used as GP inputs"),
    energy: float = typer.Option(0.99999, help="POD energy kept for each field"),
    restarts: int = typer.Option(2, help="GP hyperparameter restarts"),
    iters: int = typer.Option(300, help="Adam iterations per GP (on log hyperparameters)"),
    polish: int = typer.Option(100, help="L-BFGS iterations after Adam"),
    kernel: str = typer.Option("matern52", help="GP kernel: matern52, matern32 or rbf (ARD)"),
    amplitude_shape_modes: int = typer.Option(0, help="leading shape modes that also enter each field's power-law amplitude"),
    scheduler: str = typer.Option("", help="dask scheduler address for the per-sample morphing (default: serial)"),
):
    """Fit an MMGP surrogate from a folder of meshes and CSV tables; saves it with torch.save."""
    from geomsci.mmgp.files import read_samples
    from geomsci.mmgp.regressor import MMGPRegressor

    field_names = _names(fields)
    if not field_names and not outputs:
        raise ValueError("nothing to learn: give --fields and/or --outputs")
    t0 = time.perf_counter()
    data = read_samples(directory, inputs, outputs or None, field_names, progress=True)
    model = MMGPRegressor(n_corners=n_corners, n_shape_modes=shape_modes, field_energy=energy, n_restarts=restarts,
                          n_iter=iters, n_polish=polish, kernel=kernel, amplitude_shape_modes=amplitude_shape_modes,
                          scheduler=scheduler or None, progress=True)
    model.fit(data["meshes"], data["inputs"], data["outputs"], ids=data["ids"])
    model.save(out)
    modes = ", ".join(f"{k}: {p.n_components_} modes" for k, p in model.field_pods_.items())
    typer.echo(f"fit {len(data['ids'])} samples ({modes}{', ' if modes else ''}scalars: {model.scalar_names_}) "
               f"in {time.perf_counter() - t0:.1f} s; wrote {out}")


@app.command()
def predict(
    model_path: Path = typer.Argument(..., help="model file written by 'geomsci mmgp fit'"),
    directory: Path = typer.Argument(..., help="folder of meshes to predict on, named <id>.<ext>"),
    inputs: str = typer.Option("inputs.csv", help="CSV with an id column and the scalar inputs"),
    out: Path = typer.Option(Path("mmgp_predictions"), "--out", "-o", help="output folder"),
    scheduler: str = typer.Option("", help="dask scheduler address for the per-sample morphing (default: serial)"),
):
    """Predict fields (mean, std, 95% bounds per node, as VTU) and scalars (CSV) on new meshes."""
    import torch

    from geomsci.core.io import save, write_table
    from geomsci.core.mesh import Mesh
    from geomsci.mmgp.files import read_samples
    from geomsci.mmgp.regressor import Z95, MMGPRegressor

    t0 = time.perf_counter()
    model = MMGPRegressor.load(model_path)
    model.progress, model.scheduler = True, scheduler or None
    data = read_samples(directory, inputs, None, (), progress=True)
    mean, std = model.predict(data["meshes"], data["inputs"], return_std=True, ids=data["ids"])
    out.mkdir(parents=True, exist_ok=True)
    for j, (sid, m) in enumerate(zip(data["ids"], data["meshes"])):
        pd = {}
        for f in model.field_names_:
            mu, sd = mean[f][j], std[f][j]
            pd.update({f"{f}_mean": mu, f"{f}_std": sd, f"{f}_lo95": mu - Z95 * sd, f"{f}_hi95": mu + Z95 * sd})
        save(Mesh(m.points, m.cells, "triangle", pd), out / f"{sid}.vtu")
    cols: dict = {"id": data["ids"]}
    for s in model.scalar_names_:
        mu, sd = mean[s], std[s]
        cols.update({s: mu, f"{s}_std": sd, f"{s}_lo95": mu - Z95 * sd, f"{s}_hi95": mu + Z95 * sd})
    write_table(out / "predictions.csv", {k: (v.cpu() if isinstance(v, torch.Tensor) else v) for k, v in cols.items()})
    typer.echo(f"predicted {len(data['ids'])} samples in {time.perf_counter() - t0:.1f} s; wrote {out}/<id>.vtu and {out}/predictions.csv")


def _plot(mesh, values, path: Path, title: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    p = mesh.points.detach().cpu().numpy()
    fig = Figure(figsize=(3.2 * len(values), 3.6))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(values))
    for ax, (name, v) in zip(axes, values.items()):
        tpc = ax.tripcolor(p[:, 0], p[:, 1], mesh.cells.cpu().numpy(), v.detach().cpu().numpy(), shading="gouraud")
        fig.colorbar(tpc, ax=ax, shrink=0.8)
        ax.set_title(name, fontsize=9)
        ax.set_aspect("equal")
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def demo(out_dir: Path) -> str:
    """Fit MMGP on 40 small generated plates, predict u2 and max_top_u2 on 4 new ones with 95% bounds."""
    import torch

    from geomsci.core.io import save
    from geomsci.core.mesh import Mesh
    from geomsci.mmgp.datasets import make_split
    from geomsci.mmgp.metrics import coverage, rrmse_field
    from geomsci.mmgp.regressor import Z95, MMGPRegressor

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small dense algebra: extra threads only add overhead; restored below
    try:
        h = (0.08, 0.1)
        mtr, xtr, ytr = make_split(40, "train", seed=1, h_range=h)
        mte, xte, yte = make_split(4, "test", seed=1, h_range=h)
        model = MMGPRegressor(n_corners=4, n_shape_modes=6, field_energy=0.9999, n_restarts=1, n_iter=60, n_polish=40)
        model.fit(mtr, xtr, {"u2": [m.point_data["u2"] for m in mtr], "max_top_u2": ytr[:, 1]})
        mean, std = model.predict(mte, xte, return_std=True)
    finally:
        torch.set_num_threads(threads)
    truth = [m.point_data["u2"] for m in mte]
    err = rrmse_field(truth, mean["u2"])
    cov = coverage(truth, mean["u2"], std["u2"])
    m0 = mte[0]
    save(Mesh(m0.points, m0.cells, "triangle", {"u2_true": truth[0], "u2_mean": mean["u2"][0], "u2_std": std["u2"][0],
                                                  "u2_lo95": mean["u2"][0] - Z95 * std["u2"][0]}), out_dir / "prediction.vtu")
    _plot(m0, {"u2 (FE)": truth[0], "u2 (MMGP mean)": mean["u2"][0], "std": std["u2"][0],
               "|error|": (truth[0] - mean["u2"][0]).abs()}, out_dir / "prediction.png", "MMGP on an unseen plate")
    rel = float(torch.mean(torch.abs(mean["max_top_u2"] - torch.as_tensor(yte[:, 1])) / torch.as_tensor(yte[:, 1])))
    return (f"{len(mtr)} plates ({min(m.n_points for m in mtr)}-{max(m.n_points for m in mtr)} nodes): u2 RRMSE {err:.1e}, "
            f"95% coverage {cov:.0%}, max_top_u2 rel. err {rel:.1%} on 4 unseen plates")
