"""``geomsci mmgp``: make a dataset, fit a surrogate from mesh + CSV files, predict, score, cross-validate.

    geomsci mmgp make-dataset DIR [--n-train 40 --n-test 10 --n-ood 5]
    geomsci mmgp fit DIR/train --inputs inputs.csv --outputs outputs.csv --fields u1,u2 -o model.pt
    geomsci mmgp predict model.pt DIR/test --inputs inputs.csv -o OUT
    geomsci mmgp score OUT DIR/test --outputs outputs.csv -o REPORT
    geomsci mmgp cv DIR/train --fields u1 --kernels matern52,rbf --shape-modes 4,8

Every model setting left out takes ``MMGPRegressor``'s default (one set of defaults for the API and
the command line). ``predict`` writes OUT/<id>.vtu with point fields <f>_mean, <f>_std, <f>_lo95,
<f>_hi95 for every field, and OUT/predictions.csv with the id, the out-of-distribution score and
<s>, <s>_std, <s>_lo95, <s>_hi95 for every scalar. Outputs are written whole or not at all and never
replace existing files without ``--force``. Bad input gives one line and exit code 2 (via
``geomsci``), checked before the work starts.
"""

from __future__ import annotations

import os
import shutil
import time
import warnings
from pathlib import Path

import typer

from geomsci.core.cli_checks import output_file, output_folder
from geomsci.mmgp.demo import demo  # noqa: F401  (the `geomsci demo` step)

app = typer.Typer(
    help="Mesh-morphing Gaussian-process surrogates (MMGP): fields and scalars on meshes of varying shape.", no_args_is_help=True
)

_THREADS = "torch threads (default: $GEOMSCI_THREADS, else half the cores)"
_ID = "column of the tables that names each sample"
_SPLIT = "use only the rows whose COLUMN equals VALUE, e.g. split=train (meshes of other rows are skipped)"
_PATHCOL = "column of the inputs table with each sample's mesh file (relative to DIR), instead of <id>.<ext>"
_SUBSET = "use only the rows the inputs table lists (meshes of the folder without a row are skipped)"


@app.command("make-dataset")
def make_dataset_cmd(
    out: Path = typer.Argument(..., help="folder to write train/, test/, ood_ellipse/, ood_wedge/ into"),
    n_train: int = typer.Option(40, help="training samples"),
    n_test: int = typer.Option(10, help="test samples"),
    n_ood: int = typer.Option(5, help="samples of each out-of-distribution shape (ellipse, wedge)"),
    seed: int = typer.Option(0, help="random seed"),
    h_min: float = typer.Option(0.025, help="smallest mesh size (about 3k nodes)"),
    h_max: float = typer.Option(0.04, help="largest mesh size (about 1k nodes)"),
    force: bool = typer.Option(False, "--force", help="write into OUT even if it already holds files"),
    threads: int | None = typer.Option(None, help=_THREADS),
):
    """Generate the Tensile2d-like plate benchmark: one VTU per sample plus inputs.csv / outputs.csv per split."""
    from geomsci.core.threads import limit_threads
    from geomsci.mmgp.datasets import make_dataset

    if min(n_train, n_test, n_ood) < 0:
        raise ValueError(f"sample counts must be >= 0, got n_train={n_train}, n_test={n_test}, n_ood={n_ood}")
    if not 0 < h_min <= h_max:
        raise ValueError(f"need 0 < h_min <= h_max, got h_min={h_min}, h_max={h_max}")
    output_folder(out, force)
    with limit_threads(threads), _staging(out) as tmp:
        t0 = time.perf_counter()
        counts = make_dataset(tmp, n_train, n_test, n_ood, seed=seed, h_range=(h_min, h_max), progress=True)
    typer.echo(
        f"wrote {sum(counts.values())} samples ({', '.join(f'{k}: {v}' for k, v in counts.items())}) "
        f"to {out} in {time.perf_counter() - t0:.1f} s"
    )


def _names(text: str | None) -> list[str]:
    return [s.strip() for s in (text or "").split(",") if s.strip()]


class _staging:
    """Write a folder's files into a hidden sibling first; on success move them into place (replacing
    files of the same name), on failure leave the target as it was."""

    def __init__(self, target: Path):
        self.target = Path(target)
        self.tmp = self.target.parent / f".{self.target.name}.partial-{os.getpid()}"

    def __enter__(self) -> Path:
        self.tmp.mkdir(parents=True, exist_ok=False)
        return self.tmp

    def __exit__(self, kind, value, tb):
        try:
            if kind is None:
                self.target.mkdir(parents=True, exist_ok=True)
                for p in self.tmp.iterdir():
                    dest = self.target / p.name
                    if dest.is_dir() and p.is_dir():
                        shutil.rmtree(dest)
                    os.replace(p, dest)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return False


def _model_kwargs(**given) -> dict:
    """The options the user gave (None = not given: the MMGPRegressor default applies)."""
    kw = {k: v for k, v in given.items() if v is not None}
    if "n_corners" in kw:
        raw = str(kw["n_corners"]).strip()
        if raw != "auto":
            try:
                kw["n_corners"] = int(raw)
            except ValueError:
                raise ValueError(f"--n-corners must be 'auto' or an integer >= 0, got {raw!r}") from None
    return kw


def _echo_warnings(caught) -> None:
    seen = set()
    for w in caught:
        msg = str(w.message)
        if msg not in seen:
            seen.add(msg)
            typer.echo(f"geomsci: warning: {msg}", err=True)


def _read(directory, inputs, outputs, fields, id_column, split, path_column, subset, input_columns, output_columns=None):
    from geomsci.mmgp.files import read_samples

    data = read_samples(
        directory,
        inputs,
        outputs,
        fields,
        progress=True,
        id_column=id_column,
        split=split,
        path_column=path_column or None,
        subset=subset,
        input_columns=_names(input_columns) or None,
        output_columns=_names(output_columns) or None,
    )
    skipped = f"; skipped {data['skipped']} meshes that no chosen row names" if data["skipped"] else ""
    typer.echo(f"read {len(data['ids'])} samples from {directory}{skipped}")
    return data


@app.command()
def fit(
    directory: Path = typer.Argument(..., help="folder of training meshes (VTU ...) named <id>.<ext>"),
    inputs: str = typer.Option("inputs.csv", help="CSV with an id column and the scalar inputs (the samples table)"),
    outputs: str = typer.Option("", help="CSV with an id column and the scalar outputs to learn (optional)"),
    fields: str = typer.Option(
        "", help="comma-separated point fields of the meshes to learn, e.g. u1,u2 (vector fields kept whole)"
    ),
    out: Path = typer.Option(Path("model.pt"), "--out", "-o", help="where to write the fitted model"),
    force: bool = typer.Option(False, "--force", help="replace an existing model file"),
    id_column: str = typer.Option("id", help=_ID),
    split: str = typer.Option("", help=_SPLIT),
    path_column: str = typer.Option("", help=_PATHCOL),
    subset: bool = typer.Option(False, "--subset", help=_SUBSET),
    input_columns: str = typer.Option("", help="comma-separated input columns (default: every other column of the inputs table)"),
    output_columns: str = typer.Option(
        "", help="comma-separated scalar outputs (default: every other column of the outputs table)"
    ),
    morphing: str | None = typer.Option(None, help="auto (default: disk for one boundary loop, else rbf), disk or rbf"),
    n_corners: str | None = typer.Option(
        None, help="boundary corners pinned on the disk: auto (default: the corners the boundaries have) or a number"
    ),
    corner_angle: float | None = typer.Option(
        None, help="turning angle (degrees) above which a boundary node is a corner (default 30)"
    ),
    shape_modes: int | None = typer.Option(None, help="POD modes of the morphed coordinates used as GP inputs (default 8)"),
    field_modes: int | None = typer.Option(None, help="fixed POD modes per field (default: by --energy)"),
    energy: float | None = typer.Option(None, help="POD energy kept for each field (default 0.99999)"),
    restarts: int | None = typer.Option(None, help="GP hyperparameter restarts (default 2)"),
    iters: int | None = typer.Option(None, help="Adam iterations per GP on log hyperparameters (default 300)"),
    polish: int | None = typer.Option(None, help="L-BFGS iterations after Adam (default 100)"),
    kernel: str | None = typer.Option(None, help="GP kernel: matern52 (default), matern32 or rbf (ARD)"),
    amplitude_shape_modes: int | None = typer.Option(
        None, help="leading shape modes in each field's power-law amplitude (default 0)"
    ),
    interval_calibration: str | None = typer.Option(None, help="cv (default: CV-measured factor per output) or none"),
    scheduler: str = typer.Option("", help="dask scheduler address for the per-sample morphing (default: serial)"),
    threads: int | None = typer.Option(None, help=_THREADS),
):
    """Fit an MMGP surrogate from a folder of meshes and CSV tables; saves it with torch.save."""
    from geomsci.core.threads import limit_threads, resolve_threads
    from geomsci.mmgp.regressor import MMGPRegressor

    field_names = _names(fields)
    if not field_names and not outputs:
        raise ValueError("nothing to learn: give --fields and/or --outputs")
    output_file(out, force, example="model.pt")
    n_threads = resolve_threads(threads)
    model = MMGPRegressor(
        **_model_kwargs(
            morphing=morphing,
            n_corners=n_corners,
            corner_angle=corner_angle,
            n_shape_modes=shape_modes,
            field_modes=field_modes,
            field_energy=energy,
            n_restarts=restarts,
            n_iter=iters,
            n_polish=polish,
            kernel=kernel,
            amplitude_shape_modes=amplitude_shape_modes,
            interval_calibration=interval_calibration,
        ),
        scheduler=scheduler or None,
        progress=True,
    )
    model._check_params()  # bad settings: one line before any mesh is read
    t0 = time.perf_counter()
    with limit_threads(n_threads):
        data = _read(
            directory, inputs, outputs or None, field_names, id_column, split, path_column, subset, input_columns, output_columns
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.fit(data["meshes"], data["inputs"], data["outputs"], ids=data["ids"])
        _echo_warnings(caught)
        model.save(out)
    loops = f"{model.n_loops_} boundary loop{'s' if model.n_loops_ > 1 else ''}"
    why = "chosen from the boundary loops" if model.morphing == "auto" else "as asked"
    typer.echo(
        f"morphing: {model.morphing_} ({why}: the meshes have {loops}); corners pinned: {model.n_corners_}"
        + (f" (turning angle > {model.corner_angle:g} deg)" if model.morphing_ == "disk" else "")
    )
    if model.common_mesh_index_ is not None:
        how = (
            "as asked"
            if model.common_mesh is not None
            else ("most nodes" if model.morphing_ == "disk" else "the finer mesh onto which fewest samples fold")
        )
        typer.echo(
            f"common mesh: sample {data['ids'][model.common_mesh_index_]!r} ({how}); "
            f"training samples that fold onto it: {model.n_folded_}"
        )
    modes = ", ".join(f"{k}: {p.n_components_} modes" for k, p in model.field_pods_.items())
    factors = ", ".join(f"{k} {v:.2f}" for k, v in model.std_scale_.items())
    typer.echo(
        f"fit {len(data['ids'])} samples ({modes}{', ' if modes else ''}scalars: {model.scalar_names_}; "
        f"CV interval factors: {factors}) in {time.perf_counter() - t0:.1f} s on {n_threads} thread(s); wrote {out}"
    )


@app.command()
def predict(
    model_path: Path = typer.Argument(..., help="model file written by 'geomsci mmgp fit'"),
    directory: Path = typer.Argument(..., help="folder of meshes to predict on, named <id>.<ext>"),
    inputs: str = typer.Option("inputs.csv", help="CSV with an id column and the scalar inputs"),
    out: Path = typer.Option(Path("mmgp_predictions"), "--out", "-o", help="output folder"),
    force: bool = typer.Option(
        False, "--force", help="write into an existing, non-empty output folder (same names are replaced)"
    ),
    id_column: str = typer.Option("id", help=_ID),
    split: str = typer.Option("", help=_SPLIT),
    path_column: str = typer.Option("", help=_PATHCOL),
    subset: bool = typer.Option(False, "--subset", help=_SUBSET),
    input_columns: str = typer.Option("", help="comma-separated input columns (default: every other column)"),
    scheduler: str = typer.Option("", help="dask scheduler address for the per-sample morphing (default: serial)"),
    threads: int | None = typer.Option(None, help=_THREADS),
):
    """Predict fields (mean, std, 95% bounds per node, as VTU) and scalars (CSV) on new meshes, with an OOD score per sample."""
    import torch

    from geomsci.core.io import save, write_table
    from geomsci.core.mesh import Mesh
    from geomsci.core.threads import limit_threads
    from geomsci.mmgp.regressor import Z95, MMGPRegressor

    output_folder(out, force)
    t0 = time.perf_counter()
    with limit_threads(threads):
        model = MMGPRegressor.load(model_path)
        model.progress, model.scheduler = True, scheduler or None
        if not input_columns and model.input_names_:
            input_columns = ",".join(model.input_names_)
        data = _read(directory, inputs, None, (), id_column, split, path_column, subset, input_columns)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            mean, std, ood, folded = model.predict(
                data["meshes"], data["inputs"], return_std=True, ids=data["ids"], return_ood=True, return_folds=True
            )
        _echo_warnings(caught)
        with _staging(out) as tmp:
            for j, (sid, m) in enumerate(zip(data["ids"], data["meshes"])):
                pd = {}
                for f in model.field_names_:
                    mu, sd = mean[f][j], std[f][j]
                    pd.update({f"{f}_mean": mu, f"{f}_std": sd, f"{f}_lo95": mu - Z95 * sd, f"{f}_hi95": mu + Z95 * sd})
                save(Mesh(m.points, m.cells, "triangle", pd), tmp / f"{sid}.vtu")
            cols: dict = {id_column: data["ids"], "ood_score": ood.cpu(), "folded_triangles": folded}
            for s in model.scalar_names_:
                mu, sd = mean[s].cpu(), std[s].cpu()
                cols.update({s: mu, f"{s}_std": sd, f"{s}_lo95": mu - Z95 * sd, f"{s}_hi95": mu + Z95 * sd})
            write_table(tmp / "predictions.csv", {k: (v.cpu() if isinstance(v, torch.Tensor) else v) for k, v in cols.items()})
    far = int((ood > model.ood_threshold).sum())
    typer.echo(
        f"predicted {len(data['ids'])} samples in {time.perf_counter() - t0:.1f} s ({far} with OOD score > "
        f"{model.ood_threshold:g}, {int((folded > 0).sum())} folded by the morph); wrote {out}/<id>.vtu and "
        f"{out}/predictions.csv"
    )


@app.command()
def score(
    predictions: Path = typer.Argument(..., help="folder written by 'geomsci mmgp predict'"),
    truth: Path = typer.Argument(..., help="folder of the true meshes (point fields), named <id>.<ext>"),
    outputs: str = typer.Option(
        "outputs.csv", help="CSV with the true scalar outputs (looked up in TRUTH; optional for fields only)"
    ),
    fields: str = typer.Option("", help="comma-separated fields to score (default: every <f>_mean of the predictions)"),
    id_column: str = typer.Option("id", help=_ID),
    out: Path = typer.Option(Path("mmgp_score"), "--out", "-o", help="folder for scores.csv, parity.png, worst_error.png"),
    force: bool = typer.Option(False, "--force", help="write into an existing, non-empty output folder"),
):
    """RRMSE, Q2 and 95% coverage per output against the truth: a table, scores.csv, a parity plot, the worst sample's error."""
    from geomsci.mmgp.report import score_predictions

    output_folder(out, force)
    with _staging(out) as tmp:
        rows, notes = score_predictions(predictions, truth, outputs, _names(fields), id_column, tmp)
    typer.echo(f"| {'output':<16} | {'RRMSE':>9} | {'Q2':>8} | {'cover95':>7} | samples |")
    for r in rows:
        typer.echo(f"| {r['output']:<16} | {r['rrmse']:9.3e} | {r['q2']:8.4f} | {r['cover95']:7.1%} | {r['n']:>7} |")
    for line in notes:
        typer.echo(line)
    typer.echo(
        f"wrote {out}/scores.csv, {out}/parity.png" + (f", {out}/worst_error.png" if (out / "worst_error.png").exists() else "")
    )


@app.command()
def cv(
    directory: Path = typer.Argument(..., help="folder of training meshes"),
    inputs: str = typer.Option("inputs.csv", help="CSV with an id column and the scalar inputs"),
    outputs: str = typer.Option("", help="CSV with the scalar outputs to learn (optional)"),
    fields: str = typer.Option("", help="comma-separated point fields to learn"),
    id_column: str = typer.Option("id", help=_ID),
    split: str = typer.Option("", help=_SPLIT),
    path_column: str = typer.Option("", help=_PATHCOL),
    subset: bool = typer.Option(False, "--subset", help=_SUBSET),
    input_columns: str = typer.Option("", help="comma-separated input columns (default: every other column)"),
    output_columns: str = typer.Option("", help="comma-separated scalar outputs (default: every other column)"),
    kernels: str = typer.Option("matern52,rbf", help="kernels to try"),
    shape_modes: str = typer.Option("4,8", help="numbers of shape modes to try"),
    amplitude_shape_modes: str = typer.Option("0", help="amplitude shape modes to try"),
    folds: int = typer.Option(5, help="K of the K-fold cross-validation"),
    morphing: str | None = typer.Option(None, help="auto (default), disk or rbf"),
    n_corners: str | None = typer.Option(None, help="auto (default) or a number"),
    restarts: int | None = typer.Option(None, help="GP restarts (default 2)"),
    iters: int | None = typer.Option(None, help="Adam iterations (default 300)"),
    polish: int | None = typer.Option(None, help="L-BFGS iterations (default 100)"),
    out: Path | None = typer.Option(None, "--out", "-o", help="also write the table as CSV here"),
    force: bool = typer.Option(False, "--force", help="replace an existing CSV"),
    threads: int | None = typer.Option(None, help=_THREADS),
):
    """K-fold cross-validation over a small grid (kernel, shape modes, amplitude shape modes) on the training set."""
    from geomsci.core.io import write_table
    from geomsci.core.threads import limit_threads
    from geomsci.mmgp.regressor import MMGPRegressor
    from geomsci.mmgp.selection import as_samples, cross_validate_grid

    field_names = _names(fields)
    if not field_names and not outputs:
        raise ValueError("nothing to learn: give --fields and/or --outputs")
    try:
        grid = {
            "kernel": _names(kernels),
            "n_shape_modes": [int(v) for v in _names(shape_modes)],
            "amplitude_shape_modes": [int(v) for v in _names(amplitude_shape_modes)],
        }
    except ValueError:
        raise ValueError(
            f"--shape-modes and --amplitude-shape-modes take comma-separated integers, got "
            f"{shape_modes!r} and {amplitude_shape_modes!r}"
        ) from None
    if any(not v for v in grid.values()):
        raise ValueError("--kernels, --shape-modes and --amplitude-shape-modes each need at least one value")
    if out is not None:
        output_file(out, force, example="cv.csv")
    base = MMGPRegressor(
        **_model_kwargs(morphing=morphing, n_corners=n_corners, n_restarts=restarts, n_iter=iters, n_polish=polish)
    )
    for combo in ({k: v[0] for k, v in grid.items()}, {k: v[-1] for k, v in grid.items()}):
        MMGPRegressor(**{**base.get_params(), **combo})._check_params()
    with limit_threads(threads):
        data = _read(
            directory, inputs, outputs or None, field_names, id_column, split, path_column, subset, input_columns, output_columns
        )
        samples = as_samples(data["meshes"], data["inputs"], data["outputs"], data["ids"])
        rows, best = cross_validate_grid(base, samples, grid, folds=folds, progress=True)
    names = list(data["outputs"])
    typer.echo(f"{folds}-fold CV on {len(samples)} samples; each cell: RRMSE / cover95")
    typer.echo("| kernel | shape modes | amp. modes | " + " | ".join(names) + " | geo. mean RRMSE |")
    table = {
        k: []
        for k in ["kernel", "shape_modes", "amplitude_shape_modes"]
        + [f"{n}_{m}" for n in names for m in ("rrmse", "q2", "cover95")]
        + ["score"]
    }
    for r in rows:
        p = r["params"]
        cells = " | ".join(f"{r[n]['rrmse']:.2e} / {r[n]['cover95']:.1%}" for n in names)
        mark = " (chosen)" if p == best else ""
        typer.echo(f"| {p['kernel']} | {p['n_shape_modes']} | {p['amplitude_shape_modes']} | {cells} | {r['score']:.2e}{mark} |")
        table["kernel"].append(p["kernel"])
        table["shape_modes"].append(p["n_shape_modes"])
        table["amplitude_shape_modes"].append(p["amplitude_shape_modes"])
        for n in names:
            for m in ("rrmse", "q2", "cover95"):
                table[f"{n}_{m}"].append(r[n][m])
        table["score"].append(r["score"])
    typer.echo(
        f"chosen: --kernel {best['kernel']} --shape-modes {best['n_shape_modes']} "
        f"--amplitude-shape-modes {best['amplitude_shape_modes']}"
    )
    if out is not None:
        tmp = out.with_name(out.name + ".part")
        write_table(tmp, table)
        os.replace(tmp, out)
        typer.echo(f"wrote {out}")
