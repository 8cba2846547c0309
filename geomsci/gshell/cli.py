"""`geomsci gshell ...` commands and the G-Shell step of `geomsci demo`."""
from __future__ import annotations

import math
import time
from pathlib import Path

import torch
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
):
    """Fit a G-Shell to TARGET and write the open surface to OUT (and OUT's stem + '_watertight')."""
    import geomsci
    from geomsci.core import geometry

    from .fit import evaluate
    from .fit import fit as run_fit

    from geomsci.core.io import MESH_EXTENSIONS

    if not target.exists():
        raise FileNotFoundError(f"target file {target} does not exist")
    if out.suffix.lower() not in MESH_EXTENSIONS:  # checked before the fit, not after minutes of it
        raise ValueError(
            f"--out {out}: unknown mesh format {out.suffix or '(no extension)'!r}; use one of {', '.join(MESH_EXTENSIONS)}"
        )
    if resolution < 4:
        raise ValueError(f"--resolution must be at least 4, got {resolution}")
    if steps < 0:
        raise ValueError(f"--steps must be >= 0, got {steps}")
    mesh = geomsci.load(target)
    if mesh.dim != 3:
        raise ValueError(f"target {target.name} has {mesh.dim}-D points; a 3-D mesh or point cloud is needed")
    if mesh.cells is not None and mesh.cell_type != "triangle":
        raise ValueError(f"target {target.name} has {mesh.cell_type} cells; a triangle mesh or a point cloud is needed")
    if mesh.n_points < 10:
        raise ValueError(f"target {target.name} has only {mesh.n_points} points")
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    res = run_fit(mesh.to(dtype=torch.float32), resolution=resolution, steps=steps, seed=seed)
    dt = time.perf_counter() - t0
    geomsci.save(res.mesh, out)
    wt_path = out.with_name(out.stem + "_watertight" + out.suffix)
    geomsci.save(res.watertight(), wt_path)
    loops = len(geometry.boundary_loops(res.mesh.cells))
    msg = f"wrote {out} ({res.mesh.n_points} vertices, {res.mesh.n_cells} triangles, {loops} boundary loops) and {wt_path.name} in {dt:.1f} s"
    if mesh.cell_type == "triangle":
        ev = evaluate(res.mesh, mesh.to(dtype=torch.float32), seed=seed)
        msg += f"; Chamfer-L1 {ev['chamfer']:.4g}, F-score@1% {ev['fscore']:.3f}"
    if png:
        from .turntable import turntable

        turntable([res.mesh, res.watertight()], out.with_suffix(".png"), titles=["open (nu > 0)", "template"])
    typer.echo(msg)


def demo(out_dir: Path) -> str:
    """Analytic G-Shell extraction at 64^3: a spherical cap (nu = z - c) against its closed-form
    area and rim length, a band (32^3) with two loops, the watertight sphere; writes PLYs and a PNG."""
    import geomsci
    from geomsci.core import geometry
    from geomsci.core.tetgrid import tet_grid

    from .extract import extract_gshell
    from .turntable import turntable

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        r, c = 0.7, 0.3
        v, t = tet_grid(64, dtype=torch.float64)
        s = v.norm(dim=1) - r
        t0 = time.perf_counter()
        cap = extract_gshell(v, t, s, v[:, 2] - c).mesh
        dt = time.perf_counter() - t0
        vb, tb = tet_grid(32, dtype=torch.float64)
        band = extract_gshell(vb, tb, vb.norm(dim=1) - r, 0.25 - vb[:, 2].abs()).mesh
        loops = geometry.boundary_loops(cap.cells)
        length = sum(float((cap.points[lp] - cap.points[lp.roll(-1)]).norm(dim=1).sum()) for lp in loops)
        area = float(geometry.surface_area(cap.points, cap.cells))
        err_a = area / (2 * math.pi * r * (r - c)) - 1
        err_l = length / (2 * math.pi * math.sqrt(r * r - c * c)) - 1
        n_band = len(geometry.boundary_loops(band.cells))
        for name, m in (("cap", cap), ("band", band)):
            geomsci.save(m.to(dtype=torch.float32), out_dir / f"{name}.ply")
        v32, t32 = tet_grid(20)
        small = [extract_gshell(v32, t32, v32.norm(dim=1) - r, nu).mesh for nu in (v32[:, 2] - c, 0.25 - v32[:, 2].abs(), torch.ones_like(v32[:, 0]))]
        turntable(small, out_dir / "gshell.png", n_views=2, image_size=64, titles=["cap", "band", "closed"])
    finally:
        torch.set_num_threads(n_threads)
    return (
        f"cap at 64^3 in {dt * 1000:.0f} ms: {len(loops)} loop, area err {100 * err_a:+.2f}%, rim length err "
        f"{100 * err_l:+.2f}%; band: {n_band} loops"
    )
