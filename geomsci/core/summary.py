"""A one-screen description of a mesh: sizes, fields, extent and topology (used by ``geomsci info``)."""

from __future__ import annotations

import torch

from . import geometry
from .mesh import Mesh


def _surface_triangles(mesh: Mesh) -> torch.Tensor | None:
    """The triangles whose topology describes the mesh: the faces of a triangle mesh, quads split in
    two (which keeps V - E + F and the boundary), the boundary faces of a tetrahedral mesh."""
    cells = mesh.cells
    if mesh.cell_type == "triangle":
        return cells
    if mesh.cell_type == "quad":
        return torch.cat([cells[:, [0, 1, 2]], cells[:, [0, 2, 3]]])
    if mesh.cell_type == "tetra":
        # the four faces of each tetrahedron, oriented outward for a positively oriented tet
        faces = torch.cat([cells[:, [1, 2, 3]], cells[:, [0, 3, 2]], cells[:, [0, 1, 3]], cells[:, [0, 2, 1]]])
        _, inv, counts = torch.unique(torch.sort(faces, dim=1).values, dim=0, return_inverse=True, return_counts=True)
        return faces[counts[inv] == 1]
    return None


def _fields(data: dict) -> str:
    if not data:
        return "none"
    return ", ".join(f"{k} {tuple(v.shape)} {str(v.dtype).replace('torch.', '')}" for k, v in data.items())


def _fmt(x: float) -> str:
    return f"{x:.6g}"


@torch.no_grad()
def describe(mesh: Mesh) -> dict[str, object]:
    """Sizes, fields, bounding box and topology of ``mesh`` as an ordered ``{label: value}`` dict.

    Topology (watertight, manifold, oriented, genus, boundary loops, Euler characteristic) is that of
    the triangle surface: the mesh itself, its quads split into triangles, or the boundary surface of
    a tetrahedral mesh (reported as ``surface ...``). Values are plain Python objects.
    """
    if not isinstance(mesh, Mesh):
        raise ValueError(f"describe: expected a geomsci Mesh, got {type(mesh).__name__}")
    pts = mesh.points.detach()
    info: dict[str, object] = {
        "points": mesh.n_points,
        "cells": mesh.n_cells,
        "cell type": mesh.cell_type or "none (point set)",
        "dimension": mesh.dim,
        "dtype": str(mesh.dtype).replace("torch.", ""),
        "point fields": _fields(mesh.point_data),
        "cell fields": _fields(mesh.cell_data),
    }
    if mesh.n_points:
        lo, hi = pts.min(dim=0).values.tolist(), pts.max(dim=0).values.tolist()
        info["bounding box"] = f"[{', '.join(map(_fmt, lo))}] .. [{', '.join(map(_fmt, hi))}]"
    tris = _surface_triangles(mesh) if mesh.cells is not None else None
    if tris is None or tris.numel() == 0:
        return info
    prefix = "surface " if mesh.cell_type == "tetra" else ""
    if mesh.cell_type == "tetra":
        info["surface triangles"] = int(tris.shape[0])
    manifold = geometry.is_manifold(tris)
    info[prefix + "watertight"] = geometry.is_watertight(tris)
    info[prefix + "manifold"] = manifold
    info[prefix + "oriented"] = geometry.is_oriented(tris)
    info[prefix + "Euler char."] = geometry.euler_characteristic(tris)
    info[prefix + "genus"] = geometry.genus(tris) if manifold else "n/a (not manifold)"
    loops = geometry.boundary_loops(tris)
    info[prefix + "boundary loops"] = len(loops) if not loops else f"{len(loops)} (lengths {[len(l) for l in loops][:10]})"
    if mesh.cell_type == "tetra":
        a, b, c, d = (pts[mesh.cells[:, i]] for i in range(4))
        info["volume"] = _fmt(float((torch.linalg.cross(b - a, c - a) * (d - a)).sum(1).abs().sum() / 6))
    if mesh.dim == 3:
        info[prefix + "area"] = _fmt(float(geometry.surface_area(pts, tris)))
        if mesh.cell_type == "triangle" and info["watertight"] and info["oriented"]:
            info[prefix + "enclosed volume"] = _fmt(float(geometry.signed_volume(pts, tris)))
    else:
        info["area"] = _fmt(float(geometry.face_areas(pts, tris).sum()))
    return info
