"""Open (and closed) target surfaces for G-Shell fitting: hemisphere, uncapped cylinder, a
T-shirt-like tube with two sleeves (three boundary loops), torus.

Built independently of G-Shell (parametric meshes from ``geomsci.core.shapes``; the T-shirt by
marching *cubes* (``geomsci.core.isosurface``, not G-Shell's marching tetrahedra) of an analytic
SDF, then cut by planes with trimesh), so fits are measured against a reference the method did not
make. All consistently oriented, outward.
"""

from __future__ import annotations

import numpy as np
import torch

from geomsci.core.mesh import Mesh
from geomsci.core.shapes import cylinder_mesh, torus_mesh, uv_sphere

TARGETS = ("hemisphere", "cylinder", "tshirt", "torus")
# number of boundary loops of each target
BOUNDARY_LOOPS = {"hemisphere": 1, "cylinder": 2, "tshirt": 3, "torus": 0}


def _compact(points: np.ndarray, faces: np.ndarray, dtype) -> Mesh:
    used = np.unique(faces)
    remap = np.full(len(points), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return Mesh(torch.as_tensor(points[used], dtype=dtype), torch.as_tensor(remap[faces]), "triangle")


def hemisphere(radius: float = 0.7, n_lat: int = 48, n_lon: int = 96, *, dtype=torch.float32) -> Mesh:
    """Upper half (z >= 0) of a sphere of ``radius``: one boundary circle of length 2 pi r."""
    s = uv_sphere(n_lat, n_lon, radius, dtype=torch.float64)
    p, f = s.points.numpy(), s.cells.numpy()
    keep = (p[f][:, :, 2] >= -1e-9).all(1)
    return _compact(p, f[keep], dtype)


def cylinder(radius: float = 0.45, height: float = 1.2, *, dtype=torch.float32) -> Mesh:
    """Uncapped cylinder around z: two boundary circles."""
    return cylinder_mesh(radius, height, 96, 32, capped=False, dtype=dtype)


def torus(R: float = 0.55, r: float = 0.2, *, dtype=torch.float32) -> Mesh:
    """Watertight torus around z: no boundary, genus 1."""
    return torus_mesh(R, r, 96, 48, dtype=dtype)


def _smin(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b * (1 - h) + a * h - k * h * (1 - h)


def tshirt_sdf(p: np.ndarray) -> np.ndarray:
    """SDF (approximate, exact away from the blends) of a closed T-shirt-like solid: a vertical body
    capsule (radius 0.32, z in [-0.7, 0.25]) blended with a horizontal sleeve capsule (radius 0.15,
    x in [-0.8, 0.8], z = 0.2). p (P, 3) -> (P,)."""

    def capsule(p, a, b, r):
        pa, ba = p - a, b - a
        h = np.clip((pa @ ba) / (ba @ ba), 0, 1)
        return np.linalg.norm(pa - h[:, None] * ba, axis=1) - r

    body = capsule(p, np.array([0, 0, -0.7]), np.array([0, 0, 0.25]), 0.32)
    sleeves = capsule(p, np.array([-0.8, 0, 0.2]), np.array([0.8, 0, 0.2]), 0.15)
    return _smin(body, sleeves, 0.1)


def tshirt(resolution: int = 128, *, dtype=torch.float32) -> Mesh:
    """A T-shirt-like open tube: the surface of ``tshirt_sdf`` cut open at the waist (z = -0.6) and
    the two sleeve ends (|x| = 0.7): three boundary loops, genus 0."""
    import trimesh

    from geomsci.core.isosurface import marching_cubes

    lo, hi = -1.0, 1.0
    ax = np.linspace(lo, hi, resolution + 1)  # resolution counts cells
    grid = np.stack(np.meshgrid(ax, ax, ax, indexing="ij"), -1).reshape(-1, 3)
    vol = tshirt_sdf(grid).reshape((resolution + 1,) * 3)
    h = (hi - lo) / resolution
    surface = marching_cubes(torch.as_tensor(vol), 0.0, spacing=h, origin=(lo, lo, lo))  # outward: negative inside
    tm = trimesh.Trimesh(surface.points.numpy(), surface.cells.numpy(), process=True)
    if tm.volume < 0:
        tm.invert()
    v, f = tm.vertices, tm.faces
    for origin, normal in (([0, 0, -0.6], [0, 0, 1]), ([0.7, 0, 0], [-1, 0, 0]), ([-0.7, 0, 0], [1, 0, 0])):
        v, f = trimesh.intersections.slice_faces_plane(v, f, np.array(normal, float), np.array(origin, float))[:2]
    tm = trimesh.Trimesh(v, f, process=True)  # merges the duplicated cut vertices
    return Mesh.from_trimesh(tm, dtype=dtype)


def make_target(name: str, *, dtype=torch.float32) -> Mesh:
    """One of ``TARGETS`` by name."""
    builders = {"hemisphere": hemisphere, "cylinder": cylinder, "tshirt": tshirt, "torus": torus}
    if name not in builders:
        raise ValueError(f"make_target: unknown target {name!r}; expected one of {list(TARGETS)}")
    return builders[name](dtype=dtype)
