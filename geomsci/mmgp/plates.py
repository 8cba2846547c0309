"""Random 2-D plate shapes and their independent triangle meshes (the geometry of the Tensile2d-like set).

A plate is a closed, counter-clockwise boundary polygon whose nodes carry a label:

    label 2 (loaded) :  top edge        2 2 2 2 2 2
                                       0           0
    label 0 (free)   :  side edges     0           0
                                       0           0
    label 1 (clamped):  bottom edge     1 1 1 1 1 1

Each shape is meshed on its own (boundary nodes spaced ``h`` apart, a jittered triangular lattice
inside, Delaunay, a few Laplacian smoothing sweeps, Delaunay again), so two samples share neither
node count nor connectivity: exactly the "non-parameterized geometric variability" MMGP is built for.
"""

from __future__ import annotations

import numpy as np
from matplotlib.path import Path as _PolyPath
from scipy.spatial import Delaunay, cKDTree

SHAPES = ("plate", "ellipse", "wedge")


def _resample(curve: np.ndarray, n_seg: int) -> np.ndarray:
    """``n_seg + 1`` points equally spaced by arc length along an open polyline ``curve`` (M, 2)."""
    seg = np.linalg.norm(np.diff(curve, axis=0), axis=1)  # (M-1,)
    s = np.concatenate([[0.0], np.cumsum(seg)])  # (M,)
    t = np.linspace(0.0, s[-1], n_seg + 1)
    return np.stack([np.interp(t, s, curve[:, 0]), np.interp(t, s, curve[:, 1])], axis=1)


def _side(a, b, coeffs, n_dense=400) -> np.ndarray:
    """Dense points of the side a -> b displaced along its right-hand normal by a sine series.

    x(t) = a + t (b - a) + n sum_k c_k sin(k pi t),  t in [0, 1]; the corners stay put.
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    t = np.linspace(0.0, 1.0, n_dense)[:, None]
    d = b - a
    normal = np.array([d[1], -d[0]]) / np.linalg.norm(d)  # outward for a CCW polygon
    k = np.arange(1, len(coeffs) + 1)[None, :]
    bump = (np.asarray(coeffs)[None, :] * np.sin(np.pi * k * t)).sum(1, keepdims=True)
    return a + t * d + bump * normal


def plate_boundary(rng: np.random.Generator, h: float, shape: str = "plate", amplitude: float = 0.08, n_modes: int = 2):
    """A random plate outline as a CCW polygon with node labels.

    Parameters
    ----------
    rng : numpy Generator (the only source of randomness)
    h : target spacing of boundary nodes (same length unit as the plate, width about 1)
    shape : ``'plate'`` (1 x 1.5 rectangle with bent sides, the training distribution), ``'ellipse'`` or
        ``'wedge'`` (out-of-distribution shapes)
    amplitude : largest normal displacement of a side by its first sine mode (mode k gets amplitude/k)
    n_modes : sine modes per side

    Returns
    -------
    points : (B, 2) float64 polygon nodes, counter-clockwise, no repeated closing node
    labels : (B,) int64, 0 free, 1 clamped (bottom), 2 loaded (top)
    """
    if shape not in SHAPES:
        raise ValueError(f"plate_boundary: shape must be one of {SHAPES}, got {shape!r}")
    if not h > 0:
        raise ValueError(f"plate_boundary: h must be positive, got {h}")
    if shape == "ellipse":
        a, b = 0.55, 0.8
        n = max(12, int(round(np.pi * (3 * (a + b) - np.sqrt((3 * a + b) * (a + 3 * b))) / h)))
        th = -np.pi / 2 + 2 * np.pi * np.arange(n) / n
        pts = np.stack([0.5 + a * np.cos(th), 0.75 + b * np.sin(th)], 1)
        labels = np.zeros(n, dtype=np.int64)
        labels[pts[:, 1] < 0.75 - 0.9 * b] = 1
        labels[pts[:, 1] > 0.75 + 0.9 * b] = 2
        return pts, labels
    if shape == "wedge":
        corners = np.array([[-0.15, 0.0], [1.15, 0.0], [0.75, 1.5], [0.25, 1.5]])
        coeffs = [np.zeros(1)] * 4
    else:
        # A tensile specimen: straight, level top and bottom edges (the pressure then has no sideways
        # resultant), a fixed bottom width, random top corners and height, and free sides bent by
        # n_modes sine modes each: 3 + 2 n_modes shape parameters.
        corners = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.5], [0.0, 1.5]])
        corners[2:, 0] += rng.uniform(-0.08, 0.08, size=2)
        corners[2:, 1] += rng.uniform(-0.1, 0.1)
        scale = amplitude / np.arange(1, n_modes + 1)
        coeffs = [np.zeros(1), rng.uniform(-1, 1, n_modes) * scale, np.zeros(1), rng.uniform(-1, 1, n_modes) * scale]
    pieces, labels = [], []
    side_label = [1, 0, 2, 0]  # bottom, right, top, left (CCW from the lower-left corner)
    for i in range(4):
        dense = _side(corners[i], corners[(i + 1) % 4], coeffs[i])
        length = np.linalg.norm(np.diff(dense, axis=0), axis=1).sum()
        pts = _resample(dense, max(3, int(round(length / h))))[:-1]  # drop the next side's corner
        lab = np.full(len(pts), side_label[i], dtype=np.int64)
        if side_label[i] == 0:  # a corner belongs to the clamped / loaded edge it ends
            lab[0] = side_label[i - 1]
        pieces.append(pts)
        labels.append(lab)
    labels[-1][0] = 2  # the upper-left corner ends the top edge
    return np.concatenate(pieces), np.concatenate(labels)


def triangle_quality(points: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Smallest interior angle of each triangle, in degrees. points (N, 2), faces (F, 3) -> (F,)."""
    p = points[faces]  # (F, 3, 2)
    angles = []
    for i in range(3):
        u = p[:, (i + 1) % 3] - p[:, i]
        v = p[:, (i + 2) % 3] - p[:, i]
        cos = (u * v).sum(1) / (np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1))
        angles.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    return np.min(np.stack(angles, 1), axis=1)


def _delaunay_inside(points: np.ndarray, poly: _PolyPath) -> np.ndarray:
    tri = Delaunay(points).simplices  # (F, 3)
    keep = poly.contains_points(points[tri].mean(1))
    faces = tri[keep]
    p = points[faces]
    area2 = (p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1]) - (p[:, 2, 0] - p[:, 0, 0]) * (p[:, 1, 1] - p[:, 0, 1])
    faces[area2 < 0] = faces[area2 < 0][:, [0, 2, 1]]  # counter-clockwise
    return faces[np.abs(area2) > 1e-14]


def mesh_polygon(boundary: np.ndarray, h: float, rng: np.random.Generator, smooth: int = 4):
    """Triangulate the inside of a CCW polygon with nodes about ``h`` apart.

    Parameters
    ----------
    boundary : (B, 2) polygon nodes (kept as the first B mesh nodes, in order)
    h : target edge length
    rng : numpy Generator for the lattice offset, rotation and jitter
    smooth : Laplacian smoothing sweeps of the interior nodes before the final Delaunay

    Returns
    -------
    points : (N, 2) float64 with ``points[:B] == boundary``
    faces : (F, 3) int64, counter-clockwise

    Raises
    ------
    RuntimeError if the triangulation does not cover the polygon as one disk (B boundary edges).
    """
    nb = len(boundary)
    poly = _PolyPath(np.vstack([boundary, boundary[:1]]))
    lo, hi = boundary.min(0) - h, boundary.max(0) + h
    # Jittered triangular lattice, randomly shifted and rotated.
    dy = h * np.sqrt(3) / 2
    span = np.linalg.norm(hi - lo)
    jj, ii = np.meshgrid(np.arange(-span / dy, span / dy + 1), np.arange(-span / h, span / h + 1), indexing="ij")
    lat = np.stack([(ii + 0.5 * (jj % 2)) * h, jj * dy], -1).reshape(-1, 2)  # (L, 2)
    ang = rng.uniform(0, np.pi / 3)
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    lat = lat @ rot.T + (lo + hi) / 2 + rng.uniform(-h, h, 2) + rng.normal(0, 0.08 * h, lat.shape)
    lat = lat[poly.contains_points(lat)]
    # Keep lattice nodes away from the boundary polyline (densely sampled at h/8).
    seg = np.vstack([boundary, boundary[:1]])
    dense = np.concatenate([seg[:-1] + (seg[1:] - seg[:-1]) * t for t in np.linspace(0, 1, 8, endpoint=False)])
    dist, _ = cKDTree(dense).query(lat)
    interior = lat[dist > 0.7 * h]
    points = np.vstack([boundary, interior])
    faces = _delaunay_inside(points, poly)
    for _ in range(smooth):  # Laplacian smoothing: interior node -> mean of its neighbours
        e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
        acc = np.zeros_like(points)
        cnt = np.zeros(len(points))
        np.add.at(acc, e[:, 0], points[e[:, 1]])
        np.add.at(cnt, e[:, 0], 1.0)
        new = acc / np.maximum(cnt, 1)[:, None]
        move = np.arange(len(points)) >= nb
        move &= cnt > 0
        points[move] = new[move]
        points[nb:] = np.where(poly.contains_points(points[nb:])[:, None], points[nb:], interior)
        faces = _delaunay_inside(points, poly)
    used = np.zeros(len(points), bool)
    used[faces.ravel()] = True
    if not used[:nb].all():
        raise RuntimeError("mesh_polygon: a boundary node is not in any triangle")
    remap = np.cumsum(used) - 1
    points, faces = points[used], remap[faces]
    e = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    _, counts = np.unique(e, axis=0, return_counts=True)
    if (counts == 1).sum() != nb or (counts > 2).any():
        raise RuntimeError("mesh_polygon: the triangulation is not a disk bounded by the polygon")
    return points, faces.astype(np.int64)


def random_plate_mesh(rng: np.random.Generator, h: float, shape: str = "plate", max_tries: int = 10):
    """A random plate outline and its mesh: ``(points (N,2), faces (F,3), labels (N,))``.

    ``labels`` is 0 inside and on free edges, 1 on the clamped bottom, 2 on the loaded top; the
    first B nodes are the boundary polygon in CCW order.
    """
    for _ in range(max_tries):
        boundary, blabels = plate_boundary(rng, h, shape)
        try:
            points, faces = mesh_polygon(boundary, h, rng)
        except RuntimeError:
            continue
        labels = np.zeros(len(points), dtype=np.int64)
        labels[: len(boundary)] = blabels
        return points, faces, labels
    raise RuntimeError(f"random_plate_mesh: no valid mesh after {max_tries} tries (h={h}, shape={shape!r})")
