"""The G-Shell step of ``geomsci demo``: analytic extractions checked against closed forms."""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch


def demo(out_dir: Path) -> str:
    """Analytic G-Shell extraction at 64^3: a spherical cap (nu = z - c) against its closed-form
    area and rim length, a band (32^3) with two loops, the watertight sphere; writes PLYs and a PNG."""
    from geomsci.core import geometry
    from geomsci.core import io as mesh_io
    from geomsci.core.tetgrid import tet_grid

    from .extract import extract_gshell
    from .turntable import turntable

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
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
        mesh_io.save(m.to(dtype=torch.float32), out_dir / f"{name}.ply")
    v20, t20 = tet_grid(20)
    small = [
        extract_gshell(v20, t20, v20.norm(dim=1) - r, nu).mesh
        for nu in (v20[:, 2] - c, 0.25 - v20[:, 2].abs(), torch.ones_like(v20[:, 0]))
    ]
    turntable(
        small,
        out_dir / "gshell.png",
        n_views=2,
        image_size=96,
        titles=["cap (nu = z - 0.3)", "band (nu = 0.25 - |z|)", "closed (nu = 1)"],
    )
    return (
        f"cap at 64^3 in {dt * 1000:.0f} ms: {len(loops)} loop, area err {100 * err_a:+.2f}%, rim length err "
        f"{100 * err_l:+.2f}%; band: {n_band} loops"
    )
