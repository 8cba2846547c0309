"""The `Mesh` datatype: points, one kind of cells, and per-point / per-cell fields.

Mirrors meshio's names (``points``, ``cells``, ``point_data``, ``cell_data``) but holds torch
tensors, so gradients and devices flow through every op. A mesh without cells is a point set
(particles, point clouds).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import torch

CELL_SIZES = {"line": 2, "triangle": 3, "quad": 4, "tetra": 4}
_DEFAULT_TYPE = {2: "line", 3: "triangle", 4: "quad"}


def _to_tensor(x, what: str) -> torch.Tensor:
    """``x`` as a tensor; a TypeError naming ``what`` for ragged or non-numeric input."""
    if isinstance(x, torch.Tensor):
        return x
    try:
        arr = np.asarray(x)
    except ValueError as e:  # ragged nested lists
        raise TypeError(f"Mesh: {what} must be a numeric array, got ragged nested lists ({e})") from None
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"Mesh: {what} must be a numeric array, got {type(x).__name__} of dtype {arr.dtype}")
    return torch.as_tensor(arr)


def _as_float_tensor(x, name: str) -> torch.Tensor:
    t = _to_tensor(x, name)
    if t.is_complex():
        raise TypeError(f"Mesh: {name} must be real, got dtype {t.dtype}")
    if not (t.is_floating_point()):
        t = t.to(torch.get_default_dtype())
    return t


def _as_index_tensor(x, device) -> torch.Tensor:
    t = _to_tensor(x, "cells")
    if t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"Mesh: cells must hold integer vertex indices, got dtype {t.dtype}")
    if t.is_floating_point():
        if not torch.equal(t, t.round()):
            raise ValueError("Mesh: cells must hold integer indices, got non-integer floats")
        t = t.long()
    return t.to(device=device, dtype=torch.long)


def _field_tensor(name, value, kind: str) -> torch.Tensor:
    if not isinstance(name, str):
        raise TypeError(f"Mesh: {kind} field names must be strings, got {name!r} ({type(name).__name__})")
    return _to_tensor(value, f"{kind} field {name!r}")


_ORDER = {"tetra": 3, "triangle": 2, "quad": 2, "polygon": 2, "line": 1}


def _warn_dropped_blocks(blocks, chosen) -> None:
    """Warn about meshio cell blocks that a `Mesh` cannot keep: types it does not hold (hexahedra,
    polygons, ...) and blocks of the kept dimension or higher; lower-dimensional blocks (boundary lines
    of a surface, say) are dropped quietly, as documented in `Mesh.from_meshio`."""
    kept = {i for i, _ in chosen or []}
    top = _ORDER[chosen[0][1].type] if chosen else 0
    lost: dict[str, int] = {}
    for i, b in enumerate(blocks):
        if i in kept or b.type == "vertex" or len(b.data) == 0:
            continue
        if b.type not in CELL_SIZES or _ORDER[b.type] >= top:
            lost[b.type] = lost.get(b.type, 0) + len(b.data)
    if lost:
        what = ", ".join(f"{n} {t}" for t, n in lost.items())
        keep = f"{chosen[0][1].type!r} cells" if chosen else "the points only (a point set)"
        warnings.warn(
            f"Mesh.from_meshio: dropped {what} cells (a Mesh holds one of {sorted(CELL_SIZES)}); keeping {keep}. "
            "Pass cell_type= to choose the block, or split the mesh by cell type first",
            UserWarning,
            stacklevel=3,
        )


_VTK_CELL_NAMES = {1: "vertex", 3: "line", 5: "triangle", 9: "quad", 10: "tetra", 7: "polygon"}


def meshio_from_vtk_cells(points, types, offsets, conn, point_data: dict, cell_data: dict):
    """A ``meshio.Mesh`` from VTK's flat cell arrays: cell types (M,), offsets (M + 1,) into the
    connectivity, and per-cell data in the same cell order; one block per (type, size)."""
    import meshio

    sizes = np.diff(offsets)
    blocks, owners = [], []
    unknown: dict[int, int] = {}
    for t, k in sorted({(int(t), int(k)) for t, k in zip(types, sizes)}):
        rows = np.nonzero((types == t) & (sizes == k))[0]
        if t not in _VTK_CELL_NAMES:  # VTK types a Mesh does not hold (hexahedra, wedges, ...)
            unknown[t] = unknown.get(t, 0) + len(rows)
            continue
        idx = offsets[rows][:, None] + np.arange(k)
        blocks.append(meshio.CellBlock(_VTK_CELL_NAMES.get(t, f"vtk{t}"), conn[idx]))
        owners.append(rows)
    if unknown:
        warnings.warn(
            f"dropped {sum(unknown.values())} cells of VTK cell types {sorted(unknown)} (a Mesh holds {sorted(CELL_SIZES)})",
            UserWarning,
            stacklevel=3,
        )
    cdata = {name: [np.asarray(v)[r] for r in owners] for name, v in cell_data.items() if len(v) == len(types)}
    return meshio.Mesh(points, blocks, point_data={k: v for k, v in point_data.items() if len(v) == len(points)}, cell_data=cdata)


def _check_vtk_cells(data) -> None:
    """Refuse cell arrays whose offsets do not rise to the connectivity's end or whose indices are out of
    range (VTK's readers pass such arrays on from a corrupt file; using them reads far out of bounds)."""
    arrays = []
    if hasattr(data, "GetPolys"):
        arrays = [data.GetVerts(), data.GetLines(), data.GetPolys(), data.GetStrips()]
    elif hasattr(data, "GetCells") and data.GetCells() is not None:
        arrays = [data.GetCells()]
    from vtkmodules.util.numpy_support import vtk_to_numpy

    n = data.GetNumberOfPoints()
    for arr in arrays:
        if arr is None or arr.GetNumberOfCells() == 0:
            continue
        offsets = vtk_to_numpy(arr.GetOffsetsArray())
        conn = vtk_to_numpy(arr.GetConnectivityArray())
        if offsets[0] != 0 or offsets[-1] != len(conn) or (np.diff(offsets) < 0).any():
            raise ValueError("Mesh.from_pyvista: the cell offsets are inconsistent with the connectivity (corrupt data)")
        if len(conn) and (conn.min() < 0 or conn.max() >= n):
            raise ValueError(f"Mesh.from_pyvista: a cell refers to point {int(conn.max())} of {n} (corrupt data)")


class Mesh:
    """A mesh (or point set) with fields, held as torch tensors.

    Parameters
    ----------
    points : float tensor or array, shape (N, D) with D = 2 or 3
        Vertex coordinates. Keeps its dtype and device (and autograd graph).
    cells : integer tensor or array, shape (M, k), optional
        Vertex indices of each cell, all of one type. ``None`` makes a point set.
    cell_type : str, optional
        One of ``'line'``, ``'triangle'``, ``'quad'``, ``'tetra'``. Inferred from k when omitted and
        unambiguous: k = 2 lines, k = 3 triangles, k = 4 with 2-D points quads. With 3-D points k = 4 can
        be quads or tetrahedra, so ``cell_type`` is required (a ValueError says so).
    point_data : mapping of name -> tensor, shape (N, ...)
    cell_data : mapping of name -> tensor, shape (M, ...)

    Raises
    ------
    ValueError
        On a wrong shape, non-finite points, an index out of range, a negative index, mixed or
        unknown cell sizes, or a field whose first dimension does not match.
    """

    def __init__(
        self,
        points,
        cells=None,
        cell_type: str | None = None,
        point_data: Mapping | None = None,
        cell_data: Mapping | None = None,
    ):
        if isinstance(cells, (list, tuple)) and len(cells) > 0 and not np.isscalar(cells[0]):
            lengths = {len(c) for c in cells}
            if len(lengths) > 1:
                raise ValueError(
                    f"Mesh: mixed cell sizes {sorted(lengths)}; a Mesh holds one cell type, split the cells by type first"
                )
        points = _as_float_tensor(points, "points")
        if points.dim() != 2 or points.shape[1] not in (2, 3):
            raise ValueError(f"Mesh: points must have shape (N, 2) or (N, 3), got {tuple(points.shape)}")
        # one reduction first: a NaN or inf anywhere makes the sum non-finite (so does an overflow of huge
        # finite values, which the full check below then clears)
        if points.numel() and not bool(torch.isfinite(points.sum())) and not torch.isfinite(points).all():
            bad = (~torch.isfinite(points)).any(dim=1).nonzero().flatten()[:5].tolist()
            raise ValueError(f"Mesh: points contain NaN or inf (first bad rows: {bad})")
        self.points = points
        if cells is not None:
            cells = _as_index_tensor(cells, points.device)
            if cells.dim() != 2:
                raise ValueError(f"Mesh: cells must have shape (M, k), got {tuple(cells.shape)}")
            k = cells.shape[1]
            if cell_type is None:
                if k not in _DEFAULT_TYPE:
                    raise ValueError(f"Mesh: cannot infer a cell type for {k} vertices per cell")
                if k == 4 and points.shape[1] == 3:
                    raise ValueError(
                        "Mesh: cells with 4 vertices each are quads or tetrahedra, and 3-D points do not tell "
                        "which; pass cell_type='quad' or cell_type='tetra'"
                    )
                cell_type = _DEFAULT_TYPE[k]
            if cell_type not in CELL_SIZES:
                raise ValueError(f"Mesh: unknown cell_type {cell_type!r}; expected one of {sorted(CELL_SIZES)}")
            if CELL_SIZES[cell_type] != k:
                raise ValueError(f"Mesh: cell_type {cell_type!r} needs {CELL_SIZES[cell_type]} vertices per cell, got {k}")
            if cell_type == "tetra" and points.shape[1] != 3:
                raise ValueError(f"Mesh: tetrahedra need 3-D points, got points of shape {tuple(points.shape)}")
            if cells.numel() > 0:
                lo, hi = (int(x) for x in torch.aminmax(cells))  # one pass over the indices
                if lo < 0:
                    raise ValueError(f"Mesh: cells contain a negative index ({lo})")
                if hi >= points.shape[0]:
                    raise ValueError(f"Mesh: cell index {hi} out of range for {points.shape[0]} points")
        elif cell_type is not None:
            raise ValueError("Mesh: cell_type given without cells")
        self.cells = cells
        self.cell_type = cell_type
        self.point_data: dict[str, torch.Tensor] = {}
        self.cell_data: dict[str, torch.Tensor] = {}
        for what, data in (("point_data", point_data), ("cell_data", cell_data)):
            if data is not None and not isinstance(data, Mapping):
                raise TypeError(f"Mesh: {what} must be a mapping of name -> tensor, got {type(data).__name__}")
        for name, value in (point_data or {}).items():
            self.set_point_field(name, value)
        for name, value in (cell_data or {}).items():
            self.set_cell_field(name, value)

    # -- fields ---------------------------------------------------------------------------------
    def set_point_field(self, name: str, value) -> None:
        """Attach a per-point field of shape (N, ...)."""
        t = _field_tensor(name, value, "point").to(self.points.device)
        if t.dim() == 0 or t.shape[0] != self.n_points:
            raise ValueError(f"Mesh: point field {name!r} has shape {tuple(t.shape)}, expected first dimension {self.n_points}")
        self.point_data[name] = t

    def set_cell_field(self, name: str, value) -> None:
        """Attach a per-cell field of shape (M, ...)."""
        if self.cells is None:
            raise ValueError(f"Mesh: cannot set cell field {name!r} on a point set (no cells)")
        t = _field_tensor(name, value, "cell").to(self.points.device)
        if t.dim() == 0 or t.shape[0] != self.n_cells:
            raise ValueError(f"Mesh: cell field {name!r} has shape {tuple(t.shape)}, expected first dimension {self.n_cells}")
        self.cell_data[name] = t

    # -- properties -----------------------------------------------------------------------------
    @property
    def n_points(self) -> int:
        return int(self.points.shape[0])

    @property
    def n_cells(self) -> int:
        return 0 if self.cells is None else int(self.cells.shape[0])

    @property
    def dim(self) -> int:
        return int(self.points.shape[1])

    @property
    def faces(self) -> torch.Tensor:
        """Triangle indices (F, 3); raises for other cell types."""
        if self.cell_type != "triangle":
            raise ValueError(f"Mesh: faces asked of a mesh with cell_type {self.cell_type!r}, not 'triangle'")
        return self.cells

    @property
    def device(self) -> torch.device:
        return self.points.device

    @property
    def dtype(self) -> torch.dtype:
        return self.points.dtype

    def __repr__(self) -> str:
        fields = ", ".join(list(self.point_data) + [f"{k} (cell)" for k in self.cell_data])
        return (
            f"Mesh({self.n_points} points, {self.n_cells} {self.cell_type or 'no'} cells, "
            f"dtype={self.dtype}, device={self.device}{', fields: ' + fields if fields else ''})"
        )

    # -- conversions ----------------------------------------------------------------------------
    def to(self, device=None, dtype=None) -> Mesh:
        """A copy on ``device`` with floating tensors cast to ``dtype`` (indices stay long).

        Like ``Tensor.to``: ``mesh.to(torch.float64)``, ``mesh.to("cuda")``, ``mesh.to("cuda", torch.float32)``
        and the keyword forms all work.
        """
        if isinstance(device, torch.dtype):
            if dtype is not None:
                raise TypeError(f"Mesh.to: two dtypes given ({device} and {dtype}); pass one")
            device, dtype = None, device
        if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise TypeError(f"Mesh.to: dtype must be a floating torch.dtype (e.g. torch.float64), got {dtype!r}")
        if device is not None:
            try:
                device = torch.device(device)
            except (RuntimeError, TypeError) as e:
                raise ValueError(f"Mesh.to: {device!r} is not a device (e.g. 'cpu', 'cuda', 'cuda:1'): {e}") from None
            if device.type == "cuda":
                if not torch.cuda.is_available():
                    raise ValueError(
                        f"Mesh.to: device {str(device)!r} asked but CUDA is not available here "
                        "(no GPU, or a CPU-only torch); use 'cpu'"
                    )
                if device.index is not None and device.index >= torch.cuda.device_count():
                    raise ValueError(
                        f"Mesh.to: device {str(device)!r} asked but only {torch.cuda.device_count()} CUDA device(s) exist"
                    )
            elif device.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
                raise ValueError("Mesh.to: device 'mps' asked but MPS is not available here; use 'cpu'")

        def move(t):
            if t.is_floating_point():
                return t.to(device=device, dtype=dtype)
            return t.to(device=device)

        return Mesh(
            move(self.points),
            None if self.cells is None else self.cells.to(device),
            self.cell_type,
            {k: move(v) for k, v in self.point_data.items()},
            {k: move(v) for k, v in self.cell_data.items()},
        )

    def detach(self) -> Mesh:
        """A copy whose tensors are cut from the autograd graph."""
        return Mesh(
            self.points.detach(),
            self.cells,
            self.cell_type,
            {k: v.detach() for k, v in self.point_data.items()},
            {k: v.detach() for k, v in self.cell_data.items()},
        )

    def _numpy_fields(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """(point fields, cell fields) as detached CPU numpy arrays, for the exporters."""
        point_arrays = {k: v.detach().cpu().numpy() for k, v in self.point_data.items()}
        cell_arrays = {k: v.detach().cpu().numpy() for k, v in self.cell_data.items()}
        return point_arrays, cell_arrays

    def to_trimesh(self):
        """A ``trimesh.Trimesh`` (triangles only); point fields go to ``vertex_attributes``."""
        import trimesh

        if self.cell_type != "triangle" or self.dim != 3:
            raise ValueError("Mesh.to_trimesh: needs a 3-D triangle mesh")
        tm = trimesh.Trimesh(
            vertices=self.points.detach().cpu().numpy(),
            faces=self.cells.cpu().numpy(),
            process=False,
        )
        point_arrays, cell_arrays = self._numpy_fields()
        tm.vertex_attributes.update(point_arrays)
        tm.face_attributes.update(cell_arrays)
        return tm

    @classmethod
    def from_trimesh(cls, tm, dtype=None, device=None) -> Mesh:
        """From a ``trimesh.Trimesh``: points in trimesh's precision (float64) unless ``dtype`` is given;
        vertex/face attributes of matching length become point/cell fields."""
        points = torch.as_tensor(np.asarray(tm.vertices), dtype=dtype, device=device)
        faces = torch.as_tensor(np.asarray(tm.faces, dtype=np.int64), device=device)
        pdata = {}
        for k, v in getattr(tm, "vertex_attributes", {}).items():
            arr = np.asarray(v)
            if arr.shape[:1] == (len(points),) and arr.dtype.kind in "fiub":
                pdata[k] = torch.as_tensor(arr, device=device)
        cdata = {}
        for k, v in getattr(tm, "face_attributes", {}).items():
            arr = np.asarray(v)
            if arr.shape[:1] == (len(faces),) and arr.dtype.kind in "fiub":
                cdata[k] = torch.as_tensor(arr, device=device)
        return cls(points, faces, "triangle", pdata, cdata)

    def to_meshio(self):
        """A ``meshio.Mesh``; fields become numpy arrays."""
        import meshio

        cells = [] if self.cells is None else [(self.cell_type, self.cells.cpu().numpy())]
        point_arrays, cell_arrays = self._numpy_fields()
        return meshio.Mesh(
            self.points.detach().cpu().numpy(),
            cells,
            point_data=point_arrays,
            cell_data={k: [a] for k, a in cell_arrays.items()},
        )

    @classmethod
    def from_meshio(cls, m, dtype=None, device=None, cell_type: str | None = None) -> Mesh:
        """From a ``meshio.Mesh``. Picks the block(s) of ``cell_type`` or, by default, those of the
        highest dimension (tetra > triangle/quad/polygon > line); lower-dimensional blocks (a surface's
        boundary lines, say) are dropped quietly, others with a warning.

        Surface blocks of several kinds (triangles with quads, or polygons) are fan-triangulated into
        one triangle mesh, with a warning that says how many cells were split; cell fields repeat on
        each split cell's triangles. Quads alone stay quads. Points keep their precision unless
        ``dtype`` is given.
        """
        points = np.asarray(m.points)
        blocks = [(i, b) for i, b in enumerate(m.cells) if (b.type in CELL_SIZES or b.type == "polygon") and len(b.data)]
        chosen = None
        if cell_type is not None:
            matches = [(i, b) for i, b in blocks if b.type == cell_type]
            if not matches:
                raise ValueError(f"Mesh.from_meshio: no {cell_type!r} cells in the file")
            chosen = matches
        elif blocks:
            best = max(_ORDER[b.type] for _, b in blocks)
            chosen = [(i, b) for i, b in blocks if _ORDER[b.type] == best]
            if best != 2 or {b.type for _, b in chosen} in ({"triangle"}, {"quad"}):
                kind = chosen[0][1].type
                chosen = [(i, b) for i, b in chosen if b.type == kind]
        if cell_type is None:
            _warn_dropped_blocks(m.cells, chosen)
        pdata = {k: torch.as_tensor(np.asarray(v), device=device) for k, v in m.point_data.items()}
        cdata: dict[str, torch.Tensor]
        if chosen is None:
            cells, ctype, cdata = None, None, {}
        else:
            ctype = chosen[0][1].type
            if len({b.type for _, b in chosen}) > 1 or ctype == "polygon":
                parts, owners, split = [], [], {}
                for i, b in chosen:
                    data = np.asarray(b.data, dtype=np.int64)
                    k = data.shape[1]
                    if k > 3:
                        split[b.type if b.type != "polygon" else f"{k}-gon"] = len(data)
                    # fan: (0, j+1, j+2) for j < k - 2; all first triangles, then all second ones, ...
                    parts += [data[:, [0, j + 1, j + 2]] for j in range(k - 2)]
                    owners += [(i, np.arange(len(data)))] * (k - 2)
                cells = np.concatenate(parts)
                ctype = "triangle"
                cdata = {}
                for k, per_block in m.cell_data.items():
                    cdata[k] = torch.as_tensor(
                        np.concatenate([np.asarray(per_block[i])[rows] for i, rows in owners]), device=device
                    )
                warnings.warn(
                    f"Mesh.from_meshio: triangulated {', '.join(f'{n} {t}' for t, n in split.items())} cells into "
                    "triangles (a Mesh holds one cell type); cell fields repeat on each cell's triangles",
                    UserWarning,
                    stacklevel=3,
                )
            else:
                datas = [np.asarray(b.data) for _, b in chosen]
                # one block: no concatenation copy, and none at all when it already is int64
                cells = np.asarray(datas[0], dtype=np.int64) if len(datas) == 1 else np.concatenate(datas).astype(np.int64)
                cdata = {}
                for k, per_block in m.cell_data.items():
                    arrs = [np.asarray(per_block[i]) for i, _ in chosen]
                    cdata[k] = torch.as_tensor(arrs[0] if len(arrs) == 1 else np.concatenate(arrs), device=device)
        pts = torch.as_tensor(points, device=device)
        if dtype is not None:
            pts = pts.to(dtype)
        return cls(pts, None if cells is None else torch.as_tensor(cells, device=device), ctype, pdata, cdata)

    def to_pyvista(self):
        """A ``pyvista.PolyData`` (triangles, lines or a point set) or ``pyvista.UnstructuredGrid``
        (quads, tetrahedra); fields go to ``point_data`` / ``cell_data``. Needs pyvista."""
        try:
            import pyvista as pv
        except ImportError as e:
            raise ImportError("Mesh.to_pyvista needs pyvista; run `pip install pyvista`") from e
        pts = self.points.detach().cpu().numpy()
        if self.dim == 2:
            pts = np.concatenate([pts, np.zeros((len(pts), 1), pts.dtype)], 1)
        if self.cells is None:
            out = pv.PolyData(pts)
        else:
            cells = self.cells.cpu().numpy()
            k = cells.shape[1]
            packed = np.concatenate([np.full((len(cells), 1), k, dtype=np.int64), cells], 1).ravel()
            if self.cell_type == "triangle":
                out = pv.PolyData(pts, faces=packed)
            elif self.cell_type == "line":
                out = pv.PolyData(pts, lines=packed)
            else:
                assert self.cell_type is not None  # a Mesh with cells has a cell type (checked in __init__)
                vtk_type = {"quad": pv.CellType.QUAD, "tetra": pv.CellType.TETRA}[self.cell_type]
                out = pv.UnstructuredGrid(packed, np.full(len(cells), vtk_type, dtype=np.uint8), pts)
        point_arrays, cell_arrays = self._numpy_fields()
        for k, a in point_arrays.items():
            out.point_data[k] = a
        for k, a in cell_arrays.items():
            out.cell_data[k] = a
        return out

    @classmethod
    def from_pyvista(cls, data, dtype=None, device=None, cell_type: str | None = None) -> Mesh:
        """From a pyvista ``PolyData`` / ``UnstructuredGrid`` (or any dataset pyvista can cast to an
        unstructured grid). Goes through meshio's cell blocks, so the rules of `from_meshio` apply
        (polygons and mixed surface cells are triangulated, with a warning). Needs pyvista."""
        try:
            import pyvista as pv
        except ImportError as e:
            raise ImportError("Mesh.from_pyvista needs pyvista; run `pip install pyvista`") from e

        if not isinstance(data, pv.DataSet):
            raise TypeError(f"Mesh.from_pyvista: expected a pyvista DataSet, got {type(data).__name__}")
        _check_vtk_cells(data)
        grid = data if isinstance(data, pv.UnstructuredGrid) else data.cast_to_unstructured_grid()
        offsets = np.asarray(grid.cell_offsets if hasattr(grid, "cell_offsets") else grid.offset)
        m = meshio_from_vtk_cells(
            np.asarray(grid.points),
            np.asarray(grid.celltypes),
            offsets,
            np.asarray(grid.cell_connectivity),
            {k: np.asarray(data.point_data[k]) for k in data.point_data},
            {k: np.asarray(data.cell_data[k]) for k in data.cell_data},
        )
        return cls.from_meshio(m, dtype=dtype, device=device, cell_type=cell_type)

    def to_pytorch3d(self):
        """A ``pytorch3d.structures.Meshes`` with one mesh (needs pytorch3d installed)."""
        try:
            from pytorch3d.structures import Meshes
        except ImportError as e:  # pragma: no cover - pytorch3d has no wheels here
            raise ImportError("Mesh.to_pytorch3d needs pytorch3d, which is not installed") from e
        if self.cell_type != "triangle":
            raise ValueError("Mesh.to_pytorch3d: needs a triangle mesh")
        return Meshes(verts=[self.points], faces=[self.cells])

    @classmethod
    def from_pytorch3d(cls, meshes, index: int = 0) -> Mesh:
        """Mesh ``index`` of a ``pytorch3d.structures.Meshes`` (duck-typed: no import needed)."""
        return cls(meshes.verts_list()[index], meshes.faces_list()[index], "triangle")
