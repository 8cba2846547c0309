"""The core step of ``geomsci demo``: make a torus, check its curvature against the closed form,
write it to a file and read it back, and draw it (matplotlib) and render it (soft rasterizer)."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from . import geometry, io, plot, shapes
from .render import Camera, render


def demo(out_dir) -> str:
    """Write ``torus.ply``, ``torus_curvature.png`` and ``torus_render.png`` under ``out_dir``;
    return a one-line summary with the measured curvature error and render time.

    Threads: ``geomsci demo`` runs every step inside ``limit_threads(--threads)``; called from Python,
    the caller's setting applies (wrap it in ``geomsci.core.threads.limit_threads`` to choose)."""
    return _demo(Path(out_dir))


def _demo(out: Path) -> str:
    out.mkdir(parents=True, exist_ok=True)
    R, r = 1.0, 0.35
    torus = shapes.torus_mesh(R, r, 64, 32, dtype=torch.float64)
    p = torus.points
    # analytic mean curvature at tube angle v: H = (R + 2 r cos v) / (2 r (R + r cos v))
    cos_v = (torch.linalg.vector_norm(p[:, :2], dim=1) - R) / r
    h_exact = (R + 2 * r * cos_v) / (2 * r * (R + r * cos_v))
    h = geometry.mean_curvature(p, torus.cells)
    rel_err = float(((h - h_exact).abs() / h_exact.abs()).max())
    torus.set_point_field("mean_curvature", h)
    torus.set_point_field("mean_curvature_exact", h_exact)

    path = io.save(torus, out / "torus.ply")
    back = io.load(path, dtype=torch.float64)  # the PLY round trip keeps the fields (as float32)
    plot.plot_mesh(back, out / "torus_curvature.png", field="mean_curvature", title="torus: mean curvature (cotangent)")

    cam = Camera.look_at((2.6, 1.2, 1.8), fov=45, image_size=128)
    t0 = time.perf_counter()
    with torch.no_grad():
        img = render(back.points, back.cells, cam, sigma=1e-4, gamma=1e-4)
    t_render = time.perf_counter() - t0
    plot.plot_images(
        [img["silhouette"], img["depth"], (img["normals"] + 1) / 2 * img["silhouette"].unsqueeze(-1)],
        out / "torus_render.png",
        titles=["soft silhouette", "depth", "normals"],
    )
    return (
        f"torus ({back.n_cells} faces, genus {geometry.genus(back.cells)}): cotangent mean curvature within "
        f"{100 * rel_err:.2f}% of the closed form; 128x128 soft render in {t_render:.2f} s; wrote {path.name} and 2 PNGs"
    )
