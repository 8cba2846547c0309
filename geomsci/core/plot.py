"""PNG pictures of meshes, fields and images (matplotlib, no global pyplot state).

- `plot_mesh`: a 3-D surface with an optional field as colours and simple Lambert shading
  (brightness ``0.35 + 0.65 |n . v|`` for face normal n and viewing direction v).
- `plot_field_2d`: a field on a 2-D triangle mesh (``tripcolor``; smooth for point fields, flat for
  cell fields).
- `plot_images`: a grid of images (e.g. rendered silhouettes and depth maps).

Each writes a PNG and returns its path. Figures are built on an Agg canvas directly, so plotting
never touches pyplot's global figure list and works without a display.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from .mesh import Mesh


def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _figure(figsize):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"plot: path must end in .png, got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def _triangles(mesh_or_pf) -> tuple[np.ndarray, np.ndarray | None, Mesh | None, str | None]:
    """(points (N, D), triangles (F, 3) or None, the Mesh if one was given, the original cell type).

    Quads are split into two triangles; tetrahedra are replaced by their boundary triangles.
    """
    mesh = None
    if isinstance(mesh_or_pf, Mesh):
        mesh = mesh_or_pf
        points, cells, ctype = _np(mesh.points), None if mesh.cells is None else _np(mesh.cells), mesh.cell_type
    elif isinstance(mesh_or_pf, (tuple, list)) and len(mesh_or_pf) == 2:
        points, cells = _np(mesh_or_pf[0]), _np(mesh_or_pf[1])
        ctype = "triangle"
    else:
        raise ValueError(f"plot: expected a Mesh or a (points, faces) pair, got {type(mesh_or_pf).__name__}")
    if points.ndim != 2 or points.shape[1] not in (2, 3):
        raise ValueError(f"plot: points must have shape (N, 2) or (N, 3), got {points.shape}")
    if cells is None:
        return points, None, mesh, None
    if ctype == "quad":
        tris = np.concatenate([cells[:, [0, 1, 2]], cells[:, [0, 2, 3]]])
    elif ctype == "tetra":
        faces = np.concatenate([cells[:, [1, 2, 3]], cells[:, [0, 3, 2]], cells[:, [0, 1, 3]], cells[:, [0, 2, 1]]])
        key = np.sort(faces, axis=1)
        _, inv, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
        tris = faces[counts[inv.reshape(-1)] == 1]  # faces of one tetrahedron only: the boundary
    elif ctype == "triangle":
        tris = cells
    else:
        raise ValueError(f"plot: cannot draw {ctype!r} cells; expected triangle, quad or tetra")
    return points, tris.astype(np.int64), mesh, ctype


def _field_values(field, mesh: Mesh | None, n_points: int, n_cells: int) -> tuple[np.ndarray, str]:
    """A field as a 1-D array and where it lives ('point' or 'cell'); vectors become magnitudes."""
    name = None
    if isinstance(field, str):
        name = field
        if mesh is None or (field not in mesh.point_data and field not in mesh.cell_data):
            known = [] if mesh is None else list(mesh.point_data) + list(mesh.cell_data)
            raise ValueError(f"plot: no field named {field!r}; the mesh has {known}")
        field = mesh.point_data.get(field, mesh.cell_data.get(field))
    values = _np(field).astype(np.float64)
    if values.ndim == 2:
        values = np.linalg.norm(values, axis=1)
    if values.ndim != 1:
        raise ValueError(f"plot: field {name or ''} must have shape (N,), (N, k), (M,) or (M, k), got {values.shape}")
    if len(values) == n_points:
        return values, "point"
    if len(values) == n_cells:
        return values, "cell"
    raise ValueError(f"plot: field has {len(values)} values, expected {n_points} (points) or {n_cells} (cells)")


def plot_mesh(
    mesh,
    path,
    *,
    field=None,
    title: str | None = None,
    views: int = 1,
    cmap: str = "viridis",
    elev: float = 25.0,
    azim: float = -60.0,
    colorbar: bool = True,
    size: float = 4.0,
    clim: tuple[float, float] | None = None,
    zoom: float = 1.35,
    symlog: float | None = None,
) -> Path:
    """Draw a 3-D mesh (or a point set) to a PNG, coloured by ``field`` if given.

    Parameters
    ----------
    mesh : `Mesh` or ``(points (N, 3), faces (F, 3))``. 2-D meshes are passed to `plot_field_2d`.
    path : output ``.png`` path (folders are created).
    field : None, the name of a point/cell field of the mesh, or values (N,) / (F,) (vectors (., k)
        are drawn as their length). Point fields are averaged onto faces.
    views : number of views side by side, turning around the z axis by 360 / views degrees.
    elev, azim : viewing angles of the first view in degrees (matplotlib's convention).
    symlog : if given, a symmetric-log colour scale, linear within +-``symlog`` (for fields spanning
        decades of both signs, such as curvatures near a sharp edge).
    zoom : magnification of the 3-D box in its axes (1 shows the whole box from any angle; the default
        1.35 fills the picture for compact shapes; long thin shapes seen obliquely need less).
    clim : (low, high) colour limits of the field (values outside get the end colours); default the
        field's range. Pass the same limits to compare two pictures (truth and prediction).

    Notes
    -----
    The colour bar gets its own strip to the right of the views, so it never covers the mesh.
    """
    from matplotlib import colormaps
    from matplotlib.colors import Normalize
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    points, tris, m, ctype = _triangles(mesh)
    if points.shape[1] == 2:
        if field is None:
            raise ValueError("plot_mesh: a 2-D mesh needs a field; use plot_field_2d")
        return plot_field_2d(mesh, field, path, title=title, cmap=cmap, colorbar=colorbar)
    if not (isinstance(views, int) and views >= 1):
        raise ValueError(f"plot_mesh: views must be a positive int, got {views!r}")
    n_cells = 0 if m is None or m.cells is None else m.n_cells
    values = where = None
    if field is not None:
        values, where = _field_values(field, m, len(points), n_cells if m is not None else (0 if tris is None else len(tris)))
        if where == "cell" and ctype not in ("triangle", None):
            raise ValueError(f"plot_mesh: cell fields are drawn on triangle meshes only, got {ctype!r} cells")
    if clim is not None:
        if len(clim) != 2 or not (np.isfinite(clim[0]) and np.isfinite(clim[1]) and clim[0] <= clim[1]):
            raise ValueError(f"plot_mesh: clim must be (low, high) finite with low <= high, got {clim!r}")
        if values is None:
            raise ValueError("plot_mesh: clim was given without a field to colour")
    norm: Normalize | None = None
    if values is not None:
        vmin, vmax = (float(c) for c in clim) if clim is not None else (float(np.nanmin(values)), float(np.nanmax(values)))
        if vmin == vmax:
            vmin, vmax = vmin - 0.5, vmax + 0.5
        if symlog is not None:
            from matplotlib.colors import SymLogNorm

            if not symlog > 0:
                raise ValueError(f"plot_mesh: symlog must be a positive linear range, got {symlog!r}")
            norm = SymLogNorm(symlog, vmin=vmin, vmax=vmax, clip=True)
        else:
            norm = Normalize(vmin, vmax, clip=True)
    cm = colormaps[cmap]

    bar_width = 1.0 if values is not None and colorbar else 0.0  # inches, a strip of its own
    total = size * views + bar_width
    fig = _figure((total, size))
    lo, hi = points.min(0), points.max(0)
    center, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 1e-12)
    top = 0.9 if title else 1.0
    ax = None
    for k in range(views):
        ax = fig.add_axes((size * k / total, 0.0, size / total, top), projection="3d")
        az = azim + 360.0 * k / views
        ax.view_init(elev=elev, azim=az)
        # viewing direction (towards the camera) in matplotlib's convention
        e, a = math.radians(elev), math.radians(az)
        view = np.array([math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e)])
        if tris is None or len(tris) == 0:
            c = cm(norm(values)) if values is not None and norm is not None else "tab:blue"
            ax.scatter(points[:, 0], points[:, 1], points[:, 2], c=c, s=4, depthshade=True)
        else:
            v = points[tris]  # (F, 3, 3)
            n = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
            n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-300)
            shade = 0.35 + 0.65 * np.abs(n @ view)  # (F,)
            if values is None or norm is None:
                base = np.broadcast_to(np.array([0.62, 0.72, 0.86]), (len(tris), 3))
            else:
                fv = values[tris].mean(1) if where == "point" else values
                base = cm(norm(fv))[:, :3]
            colors = np.clip(base * shade[:, None], 0, 1)
            ax.add_collection3d(Poly3DCollection(v, facecolors=colors, edgecolors="none", linewidths=0))
        ext = np.maximum((hi - lo) / 2, 0.05 * half)  # (3,) half extents; equal scale on all axes
        for set_lim, c, h in zip((ax.set_xlim, ax.set_ylim, ax.set_zlim), center, ext):
            set_lim(c - h, c + h)
        ax.set_box_aspect(tuple(ext / ext.max()), zoom=zoom)
        ax.set_axis_off()
    if title:
        fig.suptitle(title)
    if values is not None and colorbar:
        from matplotlib.cm import ScalarMappable

        cax = fig.add_axes(((size * views + 0.15) / total, 0.15, 0.18 / total, 0.7 * top))
        fig.colorbar(ScalarMappable(norm=norm, cmap=cm), cax=cax, label=field if isinstance(field, str) else None)
    return _save(fig, path)


def plot_field_2d(
    mesh,
    field,
    path,
    *,
    title: str | None = None,
    cmap: str = "viridis",
    show_edges: bool = False,
    colorbar: bool = True,
    size: float = 5.0,
) -> Path:
    """Draw a field on a 2-D triangle (or quad) mesh with ``tripcolor``.

    ``field`` is a field name of the mesh or values (N,) at points (Gouraud-smooth) or (M,) on cells
    (flat); vectors are drawn as their length.
    """
    from matplotlib.tri import Triangulation

    points, tris, m, ctype = _triangles(mesh)
    if tris is None:
        raise ValueError("plot_field_2d: the mesh has no cells; expected a 2-D triangle mesh")
    n_cells = m.n_cells if m is not None else len(tris)
    values, where = _field_values(field, m, len(points), n_cells)
    if where == "cell" and ctype == "quad":
        values = np.concatenate([values, values])  # each quad became two triangles
    tri = Triangulation(points[:, 0], points[:, 1], tris)
    fig = _figure((size + (1.0 if colorbar else 0), size))
    ax = fig.add_subplot(1, 1, 1)
    if where == "point":
        art = ax.tripcolor(tri, values, shading="gouraud", cmap=cmap)
    else:
        art = ax.tripcolor(tri, facecolors=values, cmap=cmap)
    if show_edges:
        ax.triplot(tri, color="k", linewidth=0.2, alpha=0.5)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    if colorbar:
        fig.colorbar(art, ax=ax, shrink=0.8, label=field if isinstance(field, str) else None)
    return _save(fig, path)


def plot_images(
    images, path, titles=None, *, cmap: str = "gray", ncols: int | None = None, colorbar: bool = False, size: float = 3.0
) -> Path:
    """Draw images side by side in a grid: each (H, W) (drawn with ``cmap``) or (H, W, 3) RGB in [0, 1]."""
    images = [_np(im) for im in images]
    if not images:
        raise ValueError("plot_images: got no images")
    for i, im in enumerate(images):
        if not (im.ndim == 2 or (im.ndim == 3 and im.shape[2] in (3, 4))):
            raise ValueError(f"plot_images: image {i} has shape {im.shape}, expected (H, W) or (H, W, 3)")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"plot_images: {len(titles)} titles for {len(images)} images")
    ncols = ncols or min(len(images), 4)
    nrows = math.ceil(len(images) / ncols)
    fig = _figure((size * ncols, size * nrows))
    for i, im in enumerate(images):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        art = ax.imshow(np.clip(im, 0, 1) if im.ndim == 3 else im, cmap=None if im.ndim == 3 else cmap, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        if titles is not None:
            ax.set_title(titles[i])
        if colorbar and im.ndim == 2:
            fig.colorbar(art, ax=ax, shrink=0.8)
    fig.tight_layout()
    return _save(fig, path)
