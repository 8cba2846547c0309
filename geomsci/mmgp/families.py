"""Two shape families that the plate benchmark does not contain, with a reaction-diffusion field on each.

They test MMGP on data geomsci did not design the defaults for:

    'blob'   smooth star-shaped domains, r(t) = R (1 + sum_k a_k cos(k t + phi_k)), k = 2, 3, 4:
             one boundary loop and no corners (disk morphing must not pin any)
    'holed'  the unit square with a circular hole of random centre and radius: two boundary loops,
             four corners (needs RBF morphing)

On each mesh, P1 finite elements solve

    -div(kappa grad u) + c u = q   in Omega,   u = 0 on the outer boundary,   kappa du/dn = 0 on a hole,

with the scalar inputs ``q`` in [1, 5] (source), ``kappa`` in [0.5, 2] (diffusivity) and ``c`` in
[0.5, 20] (reaction; c / kappa sets a boundary-layer width, so the field's shape changes with the
inputs, not only its amplitude). Outputs: the nodal fields ``u`` (N,) and ``flux`` = -kappa grad u
(N, 2) (element gradients averaged onto nodes with area weights, a vector field), and the scalars
``u_max`` and ``u_mean`` (integral of u over the area).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch
from matplotlib.path import Path as _PolyPath
from scipy.spatial import Delaunay, cKDTree
from tqdm.auto import tqdm

from geomsci.core.io import write_table
from geomsci.core.mesh import Mesh
from geomsci.mmgp.datasets import write_meshes

FAMILIES = ("blob", "holed")
INPUT_RANGES = {"q": (1.0, 5.0), "kappa": (0.5, 2.0), "c": (0.5, 20.0)}
FIELD_NAMES = ("u", "flux")
SCALAR_NAMES = ("u_max", "u_mean")
_SPLIT_CODES = {"train": 10, "test": 11}


def _blob_outline(rng: np.random.Generator, h: float) -> list[np.ndarray]:
    """One CCW loop, nodes about ``h`` apart by arc length."""
    t = np.linspace(0, 2 * np.pi, 2000, endpoint=False)
    r = 0.5 * np.ones_like(t)
    for k, amp in ((2, 0.12), (3, 0.07), (4, 0.04)):
        r += 0.5 * rng.uniform(-amp, amp) * np.cos(k * t + rng.uniform(0, 2 * np.pi))
    dense = np.stack([r * np.cos(t), r * np.sin(t)], 1)
    return [_resample_closed(dense, h)]


def _holed_outline(rng: np.random.Generator, h: float) -> list[np.ndarray]:
    """The unit square (CCW) and a circular hole (CW, so the domain lies to the left of both loops)."""
    n = max(4, int(round(1 / h)))
    s = np.linspace(0, 1, n, endpoint=False)
    square = np.concatenate(
        [np.stack([s, 0 * s], 1), np.stack([1 + 0 * s, s], 1), np.stack([1 - s, 1 + 0 * s], 1), np.stack([0 * s, 1 - s], 1)]
    )
    cx, cy, rad = rng.uniform(0.38, 0.62), rng.uniform(0.38, 0.62), rng.uniform(0.1, 0.22)
    m = max(8, int(round(2 * np.pi * rad / h)))
    t = -np.linspace(0, 2 * np.pi, m, endpoint=False)
    return [square, np.stack([cx + rad * np.cos(t), cy + rad * np.sin(t)], 1)]


def _resample_closed(dense: np.ndarray, h: float) -> np.ndarray:
    closed = np.vstack([dense, dense[:1]])
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(closed, axis=0), axis=1))])
    t = np.linspace(0, s[-1], max(8, int(round(s[-1] / h))), endpoint=False)
    return np.stack([np.interp(t, s, closed[:, 0]), np.interp(t, s, closed[:, 1])], 1)


def mesh_loops(loops: list[np.ndarray], h: float, rng: np.random.Generator, smooth: int = 3):
    """Triangulate the region left of every loop (outer CCW first, holes CW), nodes about ``h`` apart.

    Returns points (N, 2) with the loops' nodes first, in order, and CCW faces (F, 3).
    """
    outer, holes = _PolyPath(np.vstack([loops[0], loops[0][:1]])), [_PolyPath(np.vstack([lp, lp[:1]])) for lp in loops[1:]]

    def inside(p):
        keep = outer.contains_points(p)
        for hole in holes:
            keep &= ~hole.contains_points(p)
        return keep

    boundary = np.vstack(loops)
    nb = len(boundary)
    lo, hi = boundary.min(0), boundary.max(0)
    dy = h * np.sqrt(3) / 2
    jj, ii = np.meshgrid(np.arange(0, (hi[1] - lo[1]) / dy + 2), np.arange(-1, (hi[0] - lo[0]) / h + 2), indexing="ij")
    lat = np.stack([(ii + 0.5 * (jj % 2)) * h, jj * dy], -1).reshape(-1, 2) + lo - h / 2 + rng.uniform(0, h, 2)
    lat = lat + rng.normal(0, 0.08 * h, lat.shape)
    lat = lat[inside(lat)]
    dense = np.concatenate([lp + (np.roll(lp, -1, 0) - lp) * f for lp in loops for f in np.linspace(0, 1, 8, endpoint=False)])
    interior = lat[cKDTree(dense).query(lat)[0] > 0.7 * h]
    points = np.vstack([boundary, interior])
    for sweep in range(smooth + 1):
        faces = Delaunay(points).simplices
        faces = faces[inside(points[faces].mean(1))]
        if sweep == smooth:
            break
        e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
        acc, cnt = np.zeros_like(points), np.zeros(len(points))
        np.add.at(acc, e[:, 0], points[e[:, 1]])
        np.add.at(cnt, e[:, 0], 1.0)
        new = points.copy()
        new[nb:] = acc[nb:] / np.maximum(cnt[nb:], 1)[:, None]
        ok = inside(new[nb:])
        points[nb:][ok] = new[nb:][ok]
    p = points[faces]
    area2 = (p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1]) - (p[:, 2, 0] - p[:, 0, 0]) * (p[:, 1, 1] - p[:, 0, 1])
    faces[area2 < 0] = faces[area2 < 0][:, [0, 2, 1]]
    faces = faces[np.abs(area2) > 1e-14]
    used = np.zeros(len(points), bool)
    used[faces.ravel()] = True
    if not used[:nb].all():
        raise RuntimeError("mesh_loops: a boundary node is not in any triangle")
    remap = np.cumsum(used) - 1
    return points[used], remap[faces].astype(np.int64)


def solve_reaction_diffusion(points: np.ndarray, faces: np.ndarray, outer: np.ndarray, q: float, kappa: float, c: float):
    """P1 solution of -div(kappa grad u) + c u = q with u = 0 at the ``outer`` nodes: ``(u (N,), flux (N, 2))``."""
    n = len(points)
    p = points[faces]  # (F, 3, 2)
    d1, d2 = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
    det = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]  # 2 * area
    area = det / 2
    # Gradients of the three hat functions on each triangle: (F, 3, 2).
    grads = (
        np.stack(
            [
                np.stack([p[:, 1, 1] - p[:, 2, 1], p[:, 2, 0] - p[:, 1, 0]], 1),
                np.stack([p[:, 2, 1] - p[:, 0, 1], p[:, 0, 0] - p[:, 2, 0]], 1),
                np.stack([p[:, 0, 1] - p[:, 1, 1], p[:, 1, 0] - p[:, 0, 0]], 1),
            ],
            1,
        )
        / det[:, None, None]
    )
    ke = kappa * area[:, None, None] * np.einsum("fid,fjd->fij", grads, grads)  # (F, 3, 3)
    rows, cols = np.repeat(faces, 3, 1).ravel(), np.tile(faces, 3).ravel()
    K = sp.csr_matrix((ke.ravel(), (rows, cols)), shape=(n, n))
    mass = np.zeros(n)
    np.add.at(mass, faces.ravel(), np.repeat(area / 3, 3))  # lumped mass
    A = (K + sp.diags(c * mass)).tocsr()
    free = np.ones(n, bool)
    free[outer] = False
    u = np.zeros(n)
    u[free] = spla.spsolve(A[free][:, free].tocsc(), q * mass[free])
    g = np.einsum("fi,fid->fd", u[faces], grads)  # (F, 2) element gradients
    acc = np.zeros((n, 2))
    np.add.at(acc, faces.ravel(), np.repeat(g * area[:, None], 3, 0))
    flux = -kappa * acc / np.maximum(np.bincount(faces.ravel(), np.repeat(area, 3), n), 1e-300)[:, None]
    return u, flux


def make_family_sample(seed: int, family: str = "blob", h_range=(0.04, 0.06), dtype=torch.float64):
    """One sample of a family: ``(mesh with point fields u (N,) and flux (N, 2), inputs {q, kappa, c}, outputs {u_max, u_mean})``."""
    if family not in FAMILIES:
        raise ValueError(f"make_family_sample: family must be one of {FAMILIES}, got {family!r}")
    rng = np.random.default_rng(seed)
    h = rng.uniform(*h_range)
    for _ in range(10):
        loops = _blob_outline(rng, h) if family == "blob" else _holed_outline(rng, h)
        try:
            points, faces = mesh_loops(loops, h, rng)
            break
        except RuntimeError:
            continue
    else:
        raise RuntimeError(f"make_family_sample: no valid mesh for seed {seed}")
    inputs = {k: float(rng.uniform(*r)) for k, r in INPUT_RANGES.items()}
    u, flux = solve_reaction_diffusion(points, faces, np.arange(len(loops[0])), inputs["q"], inputs["kappa"], inputs["c"])
    p = points[faces]
    area = 0.5 * np.abs(
        (p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1]) - (p[:, 2, 0] - p[:, 0, 0]) * (p[:, 1, 1] - p[:, 0, 1])
    )
    outputs = {"u_max": float(u.max()), "u_mean": float((u[faces].mean(1) * area).sum() / area.sum())}
    mesh = Mesh(
        torch.as_tensor(points, dtype=dtype),
        torch.as_tensor(faces),
        "triangle",
        {"u": torch.as_tensor(u, dtype=dtype), "flux": torch.as_tensor(flux, dtype=dtype)},
    )
    return mesh, inputs, outputs


def make_family_split(
    n: int, family: str = "blob", split: str = "train", seed: int = 0, h_range=(0.04, 0.06), progress: bool = False
):
    """``n`` samples: ``(meshes, inputs (n, 3) [q, kappa, c], outputs (n, 2) [u_max, u_mean])``; splits are disjoint."""
    if split not in _SPLIT_CODES:
        raise ValueError(f"make_family_split: split must be one of {sorted(_SPLIT_CODES)}, got {split!r}")
    fam = FAMILIES.index(family) if family in FAMILIES else -1
    meshes, ins, outs = [], [], []
    for i in tqdm(range(n), desc=f"mmgp: {family} {split}", disable=not progress, leave=False):
        s = int(np.random.SeedSequence([seed, _SPLIT_CODES[split], fam, i]).generate_state(1)[0])
        mesh, inp, out = make_family_sample(s, family, h_range)
        meshes.append(mesh)
        ins.append([inp[k] for k in INPUT_RANGES])
        outs.append([out[k] for k in SCALAR_NAMES])
    return meshes, np.asarray(ins, float).reshape(n, 3), np.asarray(outs, float).reshape(n, 2)


def write_family_split(out_dir, meshes, inputs, outputs, prefix: str = "s") -> list[str]:
    """Write ``<prefix>_<i>.vtu`` and one ``samples.csv`` (id, inputs, scalar outputs) under ``out_dir``."""
    out_dir = Path(out_dir)
    ids = write_meshes(out_dir, meshes, prefix)
    write_table(
        out_dir / "samples.csv",
        {
            "id": ids,
            **{k: inputs[:, j] for j, k in enumerate(INPUT_RANGES)},
            **{k: outputs[:, j] for j, k in enumerate(SCALAR_NAMES)},
        },
    )
    return ids
