"""`geomsci deepmesh ...` commands (the demo step lives in ``geomsci.deepmesh.demo``)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

app = typer.Typer(help="Differentiable iso-surface extraction (marching cubes, DeepMesh).", no_args_is_help=True)


@app.command()
def extract(
    volume: Path = typer.Argument(..., help="scalar volume: .npy, .npz or a meshio-readable lattice (.vtu, .vtk, ...)"),
    level: float = typer.Option(0.0, "--level", "-l", help="iso-value; nodes with value <= level are inside"),
    out: Path = typer.Option(..., "--out", "-o", help="output mesh (.ply, .obj, .stl, .off, .vtu, ...)"),
    key: str = typer.Option(None, "--key", help="array (.npz) or point field (meshio) to use"),
    spacing: float = typer.Option(None, "--spacing", help="node spacing (overrides the file's)"),
    force: bool = typer.Option(False, "--force", help="overwrite OUT if it exists"),
    threads: int = typer.Option(
        None, "--threads", help="torch threads (default: $GEOMSCI_THREADS, else half the cores, at most 8)"
    ),
):
    """Extract the LEVEL iso-surface of VOLUME with marching cubes and write it to OUT."""
    import numpy as np
    import torch

    from geomsci.core import geometry
    from geomsci.core import io as mesh_io
    from geomsci.core.cli_checks import mesh_output_file
    from geomsci.core.threads import limit_threads

    from .marching_cubes import marching_cubes
    from .volume_io import read_volume

    mesh_output_file(out, force, example="surface.ply")
    values, origin, sp = read_volume(volume, key)
    values = values.astype(np.float64)
    if not np.isfinite(values).all():
        n_bad = int((~np.isfinite(values)).sum())
        raise ValueError(f"volume {volume.name} contains {n_bad} NaN/inf values")
    lo, hi = float(values.min()), float(values.max())
    if not (lo <= level < hi):
        raise ValueError(f"level {level} is outside the volume's value range [{lo:g}, {hi:g}); no surface to extract")
    if spacing is not None:
        if not (spacing > 0 and np.isfinite(spacing)):
            raise ValueError(f"--spacing must be a positive finite number, got {spacing}")
        sp = np.full(3, spacing)
    with limit_threads(threads):
        t0 = time.perf_counter()
        mesh = marching_cubes(torch.from_numpy(values), level, spacing=sp.tolist(), origin=origin.tolist())
        dt = time.perf_counter() - t0
        mesh_io.save(mesh.to(dtype=torch.float32), out)
        closed = geometry.is_watertight(mesh.cells)
    typer.echo(
        f"wrote {out}: {mesh.n_points} vertices, {mesh.n_cells} triangles from a {values.shape} volume "
        f"at level {level:g} in {dt:.2f} s ({'watertight' if closed else 'open'})"
    )
