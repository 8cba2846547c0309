"""`geomsci gshell ...` commands (the demo step lives in ``geomsci.gshell.demo``)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

app = typer.Typer(help="Ghost-on-the-Shell: open and watertight surfaces from an SDF and a manifold SDF.", no_args_is_help=True)


@app.command()
def fit(
    target: Path = typer.Argument(..., help="mesh (.ply, .obj, .stl, .off, ...) or point cloud (.ply with points only)"),
    out: Path = typer.Option(..., "--out", "-o", help="output mesh (.ply, .obj, ...); the watertight template goes next to it"),
    resolution: int = typer.Option(32, help="tet grid cubes per axis"),
    steps: int = typer.Option(150, help="Adam steps"),
    seed: int = typer.Option(0, help="seed of the point samples"),
    png: bool = typer.Option(True, help="also write a PNG turntable next to OUT"),
    force: bool = typer.Option(False, "--force", help="overwrite OUT (and its _watertight and .png siblings) if they exist"),
    threads: int = typer.Option(
        None, "--threads", help="torch threads (default: $GEOMSCI_THREADS, else half the cores, at most 8)"
    ),
):
    """Fit a G-Shell to TARGET and write the open surface to OUT (and OUT's stem + '_watertight')."""
    import torch

    from geomsci.core import geometry
    from geomsci.core import io as mesh_io
    from geomsci.core.cli_checks import at_least, mesh_output_file, output_files
    from geomsci.core.threads import limit_threads

    from .fit import evaluate
    from .fit import fit as run_fit

    if not target.exists():
        raise FileNotFoundError(f"target file {target} does not exist")
    wt_path = out.with_name(out.stem + "_watertight" + out.suffix)
    outputs = [out, wt_path] + ([out.with_suffix(".png")] if png else [])
    mesh_output_file(out, force)  # the format, before the fit
    output_files(outputs, force)
    at_least("--resolution", resolution, 4)
    at_least("--steps", steps, 0)
    mesh = mesh_io.load(target)
    if mesh.dim != 3:
        raise ValueError(f"target {target.name} has {mesh.dim}-D points; a 3-D mesh or point cloud is needed")
    if mesh.cells is not None and mesh.cell_type != "triangle":
        raise ValueError(f"target {target.name} has {mesh.cell_type} cells; a triangle mesh or a point cloud is needed")
    if mesh.n_points < 10:
        raise ValueError(f"target {target.name} has only {mesh.n_points} points")
    with limit_threads(threads):
        t0 = time.perf_counter()
        res = run_fit(mesh.to(dtype=torch.float32), resolution=resolution, steps=steps, seed=seed)
        dt = time.perf_counter() - t0
        mesh_io.save(res.mesh, out)
        mesh_io.save(res.watertight(), wt_path)
        loops = len(geometry.boundary_loops(res.mesh.cells))
        msg = f"wrote {out} ({res.mesh.n_points} vertices, {res.mesh.n_cells} triangles, {loops} boundary loops) and {wt_path.name} in {dt:.1f} s"
        if mesh.cell_type == "triangle":
            ev = evaluate(res.mesh, mesh.to(dtype=torch.float32), seed=seed)
            msg += f"; Chamfer-L1 {ev['chamfer']:.4g}, F-score@1% {ev['fscore']:.3f}"
        if png:
            from .turntable import turntable

            turntable([res.mesh, res.watertight()], out.with_suffix(".png"), titles=["open (nu > 0)", "template"])
    typer.echo(msg)
