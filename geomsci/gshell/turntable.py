"""PNG turntables of meshes: normal images from ``geomsci.core.render``, tiled by ``geomsci.core.plot.plot_images``."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from geomsci.core.mesh import Mesh
from geomsci.core.plot import plot_images
from geomsci.core.render import Camera, render


def _visible_faces(mesh: Mesh, rel_area: float = 1e-4) -> torch.Tensor:
    """Faces (F', 3) of ``mesh`` without the (near-)zero-area slivers that iso-surfacing leaves where the
    surface passes through a grid vertex: they cover no pixel, but their normals are noise and showed
    as speckles in the soft renderer's normal image."""
    p, f = mesh.points.detach().double().cpu(), mesh.cells.cpu()
    if f.shape[0] == 0:
        return f
    area = torch.linalg.cross(p[f[:, 1]] - p[f[:, 0]], p[f[:, 2]] - p[f[:, 0]], dim=-1).norm(dim=-1)  # (F,) twice the area
    return f[area > rel_area * area.mean()]


def turntable_views(
    meshes: list[Mesh] | Mesh, *, n_views: int = 4, image_size: int = 96, elevation: float = 25.0
) -> tuple[list[torch.Tensor], list[tuple[float, float]]]:
    """Images (H, W, 3) in [0, 1] of each mesh from ``n_views`` azimuths around z, row by row, and the
    (azimuth, elevation) in degrees of each view.

    Views alternate between ``elevation`` degrees above and below the equator, so both the outside
    and (for an open surface) the inside show. Each image is the soft-rendered normal image mapped
    to RGB (``(n + 1) / 2``) on white; one camera distance frames the bounding sphere of all meshes,
    so sizes compare across rows.
    """
    meshes = [meshes] if isinstance(meshes, Mesh) else list(meshes)
    if not meshes:
        raise ValueError("turntable: got no meshes")
    for i, m in enumerate(meshes):
        if m.cell_type != "triangle" or m.dim != 3:
            raise ValueError(f"turntable: mesh {i} must be a 3-D triangle mesh, got cell_type={m.cell_type!r}, dim={m.dim}")
    if not (isinstance(n_views, int) and n_views >= 1):
        raise ValueError(f"turntable: n_views must be a positive int, got {n_views!r}")
    pts = torch.cat([m.points.detach().double().cpu() for m in meshes])
    center = (pts.min(0).values + pts.max(0).values) / 2
    radius = max(float((pts - center).norm(dim=1).max()), 1e-12)
    dist = radius / math.sin(math.radians(20.0)) * 1.05  # the 40-degree field of view holds the bounding sphere
    images, angles = [], []
    for m in meshes:
        p, faces = m.points.detach().double().cpu(), _visible_faces(m)
        for k in range(n_views):
            az = 2 * math.pi * k / n_views + 0.3
            e = math.radians(elevation if k % 2 == 0 else -elevation)
            eye = center + dist * torch.tensor(
                [math.cos(e) * math.cos(az), math.cos(e) * math.sin(az), math.sin(e)], dtype=torch.float64
            )
            cam = Camera.look_at(eye.tolist(), at=center.tolist(), image_size=(image_size, image_size), fov=40.0)
            with torch.no_grad():
                img = render(p, faces, cam, sigma=2e-5, channels=("silhouette", "normals"))
            s = img["silhouette"][..., None]  # (H, W, 1) coverage
            images.append(((img["normals"] + s) / 2 + (1 - s)).clamp(0, 1))  # premultiplied normals -> colour on white
            angles.append((math.degrees(az) % 360, math.degrees(e)))
    return images, angles


def turntable(
    meshes: list[Mesh] | Mesh, path, *, n_views: int = 4, image_size: int = 96, titles=None, elevation: float = 25.0
) -> Path:
    """Write one PNG: a row per mesh, ``n_views`` azimuths around z per row (see :func:`turntable_views`);
    every panel is labelled with its mesh's title (``titles``, one per mesh) and the view angles."""
    meshes = [meshes] if isinstance(meshes, Mesh) else list(meshes)
    if titles is not None and len(titles) != len(meshes):
        raise ValueError(f"turntable: {len(titles)} titles for {len(meshes)} meshes")
    images, angles = turntable_views(meshes, n_views=n_views, image_size=image_size, elevation=elevation)
    names = [f"mesh {i}" for i in range(len(meshes))] if titles is None else list(titles)
    labels = [f"{names[i // n_views]}\naz {az:.0f}°, elev {el:+.0f}°" for i, (az, el) in enumerate(angles)]
    return plot_images(images, path, titles=labels, ncols=n_views, size=2.2)
