"""PNG turntables of meshes, drawn with ``geomsci.core.render`` (normal images, shaded by the
normal's direction) and tiled with matplotlib."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from geomsci.core.mesh import Mesh
from geomsci.core.render import Camera, render


def turntable(meshes: list[Mesh] | Mesh, path, *, n_views: int = 4, image_size: int = 96, titles=None, elevation: float = 25.0) -> Path:
    """Write one PNG: a row per mesh, ``n_views`` azimuths around z per row, seen alternately from
    ``elevation`` degrees above and below.

    Each view shows the soft-rendered normal image mapped to RGB (``(n + 1) / 2``) on white; the
    camera frames the bounding sphere of all meshes. Back faces show their own (inward) normals, so
    the inside of an open surface looks different from its outside.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    meshes = [meshes] if isinstance(meshes, Mesh) else list(meshes)
    pts = torch.cat([m.points.detach().double().cpu() for m in meshes])
    center = (pts.min(0).values + pts.max(0).values) / 2
    radius = float((pts - center).norm(dim=1).max())
    dist = radius / math.sin(math.radians(20.0)) * 1.05
    fig, axes = plt.subplots(len(meshes), n_views, figsize=(2 * n_views, 2 * len(meshes)), squeeze=False)
    for r, m in enumerate(meshes):
        p = m.points.detach().double().cpu()
        for k in range(n_views):
            az = 2 * math.pi * k / n_views + 0.3
            e = math.radians(elevation if k % 2 == 0 else -elevation)
            eye = center + dist * torch.tensor([math.cos(e) * math.cos(az), math.cos(e) * math.sin(az), math.sin(e)], dtype=torch.float64)
            cam = Camera.look_at(eye.tolist(), at=center.tolist(), image_size=(image_size, image_size), fov=40.0)
            with torch.no_grad():
                img = render(p, m.cells.cpu(), cam, sigma=2e-5, channels=("silhouette", "normals"))
            s = img["silhouette"].numpy()[..., None]
            rgb = (img["normals"].numpy() + s) / 2 + (1 - s)  # premultiplied normals -> colour on white
            ax = axes[r][k]
            ax.imshow(np.clip(rgb, 0, 1))
            ax.set_axis_off()
            if k == 0 and titles is not None:
                ax.set_title(titles[r], fontsize=8, loc="left")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
