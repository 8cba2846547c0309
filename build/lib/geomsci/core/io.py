"""Reading and writing mesh files and CSV tables.

The file extension picks the library:

=========================  =========  ===============================================================
extension                  library    fields kept
=========================  =========  ===============================================================
.ply                       trimesh    point and cell fields (numeric, stored as float32/int32)
.glb                       trimesh    point fields (float32); no cell fields
.obj .off .stl             trimesh    none (geometry only); .stl does not keep the vertex order
.vtk .vtu                  meshio     point and cell fields, any numeric dtype
.msh (gmsh 2.2 binary)     meshio     point and cell fields (stored as float64)
.xdmf .xmf                 meshio     point and cell fields (data inline as XML; needs h5py)
=========================  =========  ===============================================================

The trimesh formats hold 3-D triangle surfaces (2-D meshes are written with z = 0); the meshio
formats hold any one cell type (triangle, quad, tetra, line) in 2-D or 3-D. Bad input (a missing
file, an unknown extension, a file the reader cannot parse) raises ``FileNotFoundError`` or
``ValueError`` with one line naming the file and what to do.
"""
from __future__ import annotations

import contextlib
import csv
import io as _io
import os
from pathlib import Path
from typing import Mapping

import numpy as np
import torch

from .mesh import Mesh

TRIMESH_FORMATS = {".obj": "OBJ", ".ply": "PLY", ".stl": "STL", ".off": "OFF", ".glb": "GLB"}
MESHIO_FORMATS = {".vtk": "VTK", ".vtu": "VTU", ".msh": "MSH", ".xdmf": "XDMF", ".xmf": "XDMF"}
MESH_EXTENSIONS = tuple(TRIMESH_FORMATS) + tuple(MESHIO_FORMATS)

# PLY properties that trimesh reads as geometry or colour, not as fields
_PLY_RESERVED = {"x", "y", "z", "nx", "ny", "nz", "red", "green", "blue", "alpha", "vertex_indices", "vertex_index"}


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) < 200 else text[:197] + "..."


def _format_of(path: Path) -> tuple[str, str]:
    """(library, format name) for the extension of ``path``; ValueError for an unknown one."""
    ext = path.suffix.lower()
    if ext in TRIMESH_FORMATS:
        return "trimesh", TRIMESH_FORMATS[ext]
    if ext in MESHIO_FORMATS:
        return "meshio", MESHIO_FORMATS[ext]
    raise ValueError(
        f"{path}: unknown mesh format {ext or '(no extension)'!r}; use one of {', '.join(MESH_EXTENSIONS)}"
    )


@contextlib.contextmanager
def _quiet():
    """Silence the warnings meshio prints to stdout/stderr (e.g. about padded points)."""
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null), contextlib.redirect_stderr(null):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield


def _native(arr) -> np.ndarray:
    """Numpy array in native byte order (VTK stores big-endian; torch needs native)."""
    arr = np.asarray(arr)
    if arr.dtype.byteorder not in ("=", "|"):
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return np.ascontiguousarray(arr)


def _numeric(arr: np.ndarray) -> bool:
    return arr.dtype.kind in "fiub"


# -- load -------------------------------------------------------------------------------------------
def load(path, *, dtype: torch.dtype | None = None, device=None, dim: int | None = None) -> Mesh:
    """Read a mesh file into a `Mesh`.

    Parameters
    ----------
    path : str or Path; the extension picks the format (see the module docstring).
    dtype : floating dtype of the points (default: torch's default dtype). Fields keep the dtype
        the file stores (float32 fields stay float32).
    device : where the tensors go (default CPU).
    dim : 2 to drop a z coordinate that is zero everywhere (2-D meshes come back from most formats
        with z = 0 added); ``None`` keeps what the file holds.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        Unknown extension, a file the reader cannot parse, or a file without points.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise ValueError(f"{path}: is a directory, expected a mesh file ({', '.join(MESH_EXTENSIONS)})")
    library, fmt = _format_of(path)
    if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"load: dtype must be a floating torch.dtype (e.g. torch.float64), got {dtype!r}")
    dtype = dtype or torch.get_default_dtype()
    try:
        if library == "trimesh":
            with _quiet():
                mesh = _load_trimesh(path, fmt, dtype, device)
        else:
            mesh = _load_meshio(path, dtype, device)  # quiet while parsing; warns about dropped cell blocks
    except (FileNotFoundError, ValueError) as e:
        if str(path) in str(e):
            raise
        raise ValueError(f"{path}: could not read as {fmt} ({_one_line(e)}); check that it is a valid {fmt} file") from e
    except (Exception, SystemExit) as e:  # any parser failure: one clear line
        raise ValueError(f"{path}: could not read as {fmt} ({_one_line(e)}); check that it is a valid {fmt} file") from e
    if dim == 2 and mesh.dim == 3:
        if mesh.n_points and bool((mesh.points[:, 2] != 0).any()):
            raise ValueError(f"{path}: dim=2 asked but the points have nonzero z")
        mesh = Mesh(mesh.points[:, :2].contiguous(), mesh.cells, mesh.cell_type, mesh.point_data, mesh.cell_data)
    elif dim not in (None, 2, 3):
        raise ValueError(f"load: dim must be None, 2 or 3, got {dim!r}")
    return mesh


def _load_trimesh(path: Path, fmt: str, dtype, device) -> Mesh:
    import trimesh

    loaded = trimesh.load(str(path), process=False, file_type=path.suffix.lower()[1:])
    if isinstance(loaded, trimesh.Scene):
        geoms = list(loaded.geometry.values())
        if len(geoms) == 1:
            loaded = geoms[0]
        elif geoms:
            loaded = loaded.to_geometry()
        else:
            raise ValueError(f"{path}: the {fmt} file holds no geometry; check that it is a valid {fmt} file")
    if isinstance(loaded, trimesh.PointCloud):
        return Mesh(torch.as_tensor(np.asarray(loaded.vertices), dtype=dtype, device=device))
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.vertices) == 0:
        raise ValueError(f"{path}: the {fmt} file holds no triangle mesh; check that it is a valid {fmt} file")
    if fmt == "STL":
        loaded.merge_vertices()  # STL stores three separate corners per triangle
        loaded.face_attributes.clear()  # per-face STL attribute bytes, not fields
    mesh = Mesh.from_trimesh(loaded, dtype=dtype, device=device)
    if fmt == "PLY":
        raw = loaded.metadata.get("_ply_raw", {})
        for element, setter, n in (("vertex", mesh.set_point_field, mesh.n_points), ("face", mesh.set_cell_field, mesh.n_cells)):
            data = raw.get(element, {}).get("data")
            if data is None or data.dtype.names is None or len(data) != n:
                continue
            for name in data.dtype.names:
                if name in _PLY_RESERVED:
                    continue
                arr = data[name]
                if arr.dtype.names is not None:  # list property: (count, values)
                    arr = arr[arr.dtype.names[-1]]
                arr = _native(arr)
                if _numeric(arr):
                    setter(name, torch.as_tensor(arr, device=device))
    elif fmt == "GLB":
        # trimesh stores custom glTF attributes with a leading underscore and as (N, k)
        fields = {}
        for name, value in list(mesh.point_data.items()):
            key = name[1:] if name.startswith("_") else name
            fields[key] = value[:, 0] if value.dim() == 2 and value.shape[1] == 1 else value
        mesh.point_data = {}
        for k, v in fields.items():
            mesh.set_point_field(k, v)
    return mesh


def _load_meshio(path: Path, dtype, device) -> Mesh:
    import meshio

    # call the format's reader directly: it raises a ReadError that says what is wrong, where
    # meshio.read prints it and calls sys.exit
    reader = {".vtk": meshio.vtk, ".vtu": meshio.vtu, ".msh": meshio.gmsh, ".xdmf": meshio.xdmf, ".xmf": meshio.xdmf}
    with _quiet():
        m = reader[path.suffix.lower()].read(str(path))
    if len(m.points) == 0:
        raise ValueError(f"{path}: the file holds no points; check that it is a valid mesh file")
    m.points = _native(m.points)
    # drop bookkeeping that meshio adds (gmsh tags) and non-numeric fields
    m.point_data = {k: _native(v) for k, v in m.point_data.items() if not k.startswith("gmsh:") and _numeric(np.asarray(v))}
    m.cell_data = {
        k: [_native(b) for b in v]
        for k, v in m.cell_data.items()
        if not k.startswith("gmsh:") and all(_numeric(np.asarray(b)) for b in v)
    }
    return Mesh.from_meshio(m, dtype=dtype, device=device)


# -- save -------------------------------------------------------------------------------------------
def save(mesh: Mesh, path) -> Path:
    """Write ``mesh`` to ``path``; the extension picks the format (see the module docstring).

    Creates missing parent folders. Fields the format cannot hold are dropped (listed in the module
    docstring). Returns the path written.

    Raises
    ------
    ValueError
        Unknown extension, or a mesh the format cannot hold (e.g. tetrahedra in .obj).
    """
    if not isinstance(mesh, Mesh):
        raise ValueError(f"save: expected a geomsci Mesh, got {type(mesh).__name__}")
    path = Path(path)
    library, fmt = _format_of(path)
    if path.is_dir():
        raise ValueError(f"{path}: is a directory; give a file name such as {path / ('mesh' + path.suffix)}")
    if mesh.n_points == 0:
        raise ValueError(f"{path}: the mesh has no points; a mesh file needs at least one")
    for kind, fields in (("point", mesh.point_data), ("cell", mesh.cell_data)):
        for k, v in fields.items():
            if v.is_complex():
                raise ValueError(f"{path}: {kind} field {k!r} is complex ({v.dtype}); mesh files hold real values, "
                                 "save its real and imaginary parts as two fields")
            if v.dim() > 2:
                raise ValueError(f"{path}: {kind} field {k!r} has shape {tuple(v.shape)}; mesh files hold (n,) or (n, k) "
                                 f"fields, reshape it to {(v.shape[0], int(np.prod(v.shape[1:])))} first")
    for parent in (path.parent, *path.parent.parents):
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"{path}: {parent} is a file, not a folder; choose another output path")
            break
    path.parent.mkdir(parents=True, exist_ok=True)
    if library == "trimesh":
        _save_trimesh(mesh, path, fmt)
    else:
        _save_meshio(mesh, path, fmt)
    return path


def _warn_dropped(path: Path, fmt: str, names: list[str]) -> None:
    if names:
        import warnings

        warnings.warn(
            f"{path}: {fmt} does not store these fields; dropped {', '.join(map(repr, names))}. "
            "Save as .vtu (or .ply for triangle surfaces) to keep them",
            UserWarning,
            stacklevel=4,
        )


def _np(t: torch.Tensor) -> np.ndarray:
    arr = t.detach().cpu().numpy()
    return arr.astype(np.uint8) if arr.dtype == np.bool_ else arr


def _save_trimesh(mesh: Mesh, path: Path, fmt: str) -> None:
    import trimesh
    from trimesh.exchange import ply

    points = _np(mesh.points)
    if mesh.dim == 2:
        points = np.concatenate([points, np.zeros((len(points), 1), points.dtype)], axis=1)
    if mesh.cells is None:
        if fmt != "PLY":
            raise ValueError(f"{path}: a point set (no cells) can be written as .ply, .vtu, .vtk, .msh or .xdmf, not {fmt}")
        _warn_dropped(path, "a PLY point set", list(mesh.point_data))
        path.write_bytes(trimesh.PointCloud(points).export(file_type="ply"))
        return
    if mesh.cell_type != "triangle":
        raise ValueError(
            f"{path}: {fmt} holds triangle surfaces but the mesh has {mesh.cell_type!r} cells; "
            "save it as .vtu, .vtk, .msh or .xdmf"
        )
    tm = trimesh.Trimesh(vertices=points, faces=_np(mesh.cells), process=False)
    if fmt == "PLY":
        _check_ply_fields(mesh, path)

        # PLY has no 64-bit types: store fields as float32 / int32
        def cast(a):
            return a.astype(np.float32) if a.dtype.kind == "f" else a.astype(np.int32)

        for k, v in mesh.point_data.items():
            tm.vertex_attributes[k] = cast(_np(v))
        for k, v in mesh.cell_data.items():
            tm.face_attributes[k] = cast(_np(v))
        path.write_bytes(ply.export_ply(tm, encoding="binary", include_attributes=True))
    elif fmt == "GLB":
        _warn_dropped(path, "GLB", [f"{k} (cell)" for k in mesh.cell_data])
        for k, v in mesh.point_data.items():
            tm.vertex_attributes[k] = _np(v).astype(np.float32)
        path.write_bytes(tm.export(file_type="glb"))
    else:  # geometry only
        _warn_dropped(path, fmt, list(mesh.point_data) + [f"{k} (cell)" for k in mesh.cell_data])
    if fmt == "OBJ":
        digits = 17 if mesh.dtype == torch.float64 else 9
        path.write_text(tm.export(file_type="obj", digits=digits, include_normals=False, include_texture=False))
    elif fmt == "OFF":
        digits = 17 if mesh.dtype == torch.float64 else 9
        path.write_text(tm.export(file_type="off", digits=digits))
    elif fmt == "STL":
        path.write_bytes(tm.export(file_type="stl"))


# PLY vertex properties trimesh reads as texture coordinates when both of a pair are present
_PLY_TEXCOORDS = (("texture_u", "texture_v"), ("u", "v"), ("s", "t"))


def _check_ply_fields(mesh: Mesh, path: Path) -> None:
    """Refuse fields PLY would lose or garble: names with spaces or taken by geometry/colour
    properties, vector fields under texture-coordinate names, integers outside int32."""
    for kind, fields in (("point", mesh.point_data), ("cell", mesh.cell_data)):
        for k, v in fields.items():
            if k != "".join(k.split()) or k == "":
                raise ValueError(f"{path}: PLY property names cannot be empty or contain spaces, got {kind} field {k!r}; "
                                 "rename it or save as .vtu")
            if k in _PLY_RESERVED:
                raise ValueError(f"{path}: {kind} field {k!r} has the name of a PLY geometry/colour property and would be "
                                 "lost; rename it or save as .vtu")
            if not v.is_floating_point() and v.numel():
                lo, hi = int(v.min()), int(v.max())
                if lo < -(2**31) or hi >= 2**31:
                    raise ValueError(f"{path}: {kind} field {k!r} holds integers in [{lo}, {hi}], outside the int32 range "
                                     "PLY stores; save as .vtu")
    for a, b in _PLY_TEXCOORDS:
        if a in mesh.point_data and b in mesh.point_data and (mesh.point_data[a].dim() > 1 or mesh.point_data[b].dim() > 1):
            raise ValueError(f"{path}: PLY readers take point fields {a!r} and {b!r} as texture coordinates, so they must "
                             "both be (N,); rename them or save as .vtu")


def _save_meshio(mesh: Mesh, path: Path, fmt: str) -> None:
    import meshio

    points = _np(mesh.points)
    if mesh.dim == 2:  # VTK-family writers want 3-D points; pad here instead of letting meshio warn
        points = np.concatenate([points, np.zeros((len(points), 1), points.dtype)], axis=1)
    if mesh.cells is None or mesh.n_cells == 0:  # a point set: one 'vertex' cell per point (readers choke on no cells)
        cells = [("vertex", np.arange(mesh.n_points, dtype=np.int64)[:, None])]
    else:
        cells = [(mesh.cell_type, _np(mesh.cells))]
    point_data = {k: _np(v) for k, v in mesh.point_data.items()}
    cell_data = {k: [_np(v)] for k, v in mesh.cell_data.items()}
    kwargs = {}
    if fmt == "MSH":
        kwargs = {"file_format": "gmsh22", "binary": True}
        zeros = np.zeros(len(cells[0][1]), dtype=np.int32)
        cell_data.setdefault("gmsh:physical", [zeros])
        cell_data.setdefault("gmsh:geometrical", [zeros])
    elif fmt == "XDMF":
        try:
            import h5py  # noqa: F401  (meshio's XDMF writer imports it even for inline XML data)
        except ImportError as e:
            raise ValueError(f"{path}: writing XDMF needs h5py; run `pip install h5py` or save as .vtu") from e
        kwargs = {"data_format": "XML"}
    if mesh.cells is not None and mesh.n_cells == 0:
        cell_data = {k: v for k, v in cell_data.items() if k.startswith("gmsh:")}  # empty fields of no cells
    if fmt == "VTK":
        spaced = [k for k in [*point_data, *cell_data] if k != "".join(k.split())]
        if spaced:
            raise ValueError(f"{path}: VTK field names cannot contain spaces, got {spaced[0]!r}; rename it or save as .vtu")
    m = meshio.Mesh(points, cells, point_data=point_data, cell_data=cell_data)
    try:
        with _quiet():
            meshio.write(str(path), m, **kwargs)
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: could not write as {fmt} ({_one_line(e)})") from e
    except Exception as e:  # meshio's WriteError and the like: one clear line, no half-written file
        path.unlink(missing_ok=True)
        raise ValueError(f"{path}: could not write as {fmt} ({_one_line(e)}); save as .vtu instead") from e


# -- CSV tables -------------------------------------------------------------------------------------
def write_table(path, columns: Mapping[str, object]) -> Path:
    """Write named 1-D columns (arrays, tensors or lists of equal length) as CSV with a header row.

    Floats are written with full precision (``repr``), so `read_table` gives back the same numbers.
    """
    path = Path(path)
    if not isinstance(columns, Mapping):
        raise TypeError(f"write_table: columns must be a dict of name -> 1-D array, got {type(columns).__name__}")
    if not columns:
        raise ValueError("write_table: columns is empty; expected a dict of name -> 1-D array")
    cols = {}
    for name, value in columns.items():
        if str(name) in cols:
            raise ValueError(f"write_table: two columns are both named {str(name)!r}; column names must differ")
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        arr = np.asarray(value)
        if arr.ndim != 1:
            raise ValueError(f"write_table: column {name!r} has shape {arr.shape}, expected a 1-D array")
        cols[str(name)] = arr
    lengths = {k: len(v) for k, v in cols.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"write_table: columns have different lengths {lengths}")
    path.parent.mkdir(parents=True, exist_ok=True)
    n = next(iter(lengths.values()))

    def fmt(x):
        if isinstance(x, (float, np.floating)):
            return repr(float(x))
        return str(x.item() if isinstance(x, np.generic) else x)

    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(list(cols))
        for i in range(n):
            w.writerow([fmt(v[i]) for v in cols.values()])
    return path


def _parse_column(values: list[str]) -> np.ndarray:
    """int64 if every entry is an integer written plainly (so ids like "007" stay strings), float64 if
    every entry is a number (empty -> nan), else str."""
    try:
        ints = [int(v) for v in values]
    except ValueError:
        pass
    else:
        if all(str(i) == v for i, v in zip(ints, values)):
            return np.array(ints, dtype=np.int64)
        return np.array(values, dtype=str)
    try:
        return np.array([float(v) if v.strip() != "" else np.nan for v in values], dtype=np.float64)
    except ValueError:
        return np.array(values, dtype=str)


def read_table(path) -> dict[str, np.ndarray]:
    """Read a CSV file with a header row into ``{column name: 1-D numpy array}``.

    Each column becomes int64, float64 (empty cells -> nan) or, if any entry is not a number, a
    string array (e.g. sample ids; integers with leading zeros such as "007" also stay strings).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise ValueError(f"{path}: is a directory, expected a CSV file")
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: drop the byte-order mark spreadsheets write
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not a text CSV file ({_one_line(e)})") from e
    rows = [r for r in csv.reader(_io.StringIO(text), skipinitialspace=True) if r]
    if not rows:
        raise ValueError(f"{path}: empty CSV file; expected a header row of column names")
    header = rows[0]
    if len(set(header)) != len(header):
        raise ValueError(f"{path}: repeated column names in the header {header}")
    for i, r in enumerate(rows[1:], start=2):
        if len(r) != len(header):
            raise ValueError(f"{path}: line {i} has {len(r)} values but the header names {len(header)} columns")
    return {name: _parse_column([r[j] for r in rows[1:]]) for j, name in enumerate(header)}
