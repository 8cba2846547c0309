"""Reading and writing mesh files, grid files and CSV tables.

The file extension picks the reader; the content must agree (a PLY named .obj is refused with a line
that says what the file is). Points load in the file's own precision (float64 stays float64; text
formats that declare none, OBJ/OFF/ASCII STL, give float64); ``dtype=`` converts.

=========================  ===============  ===================================================================
extension                  reader           kept
=========================  ===============  ===================================================================
.ply                       geomsci (numpy)  every vertex/face property as a field (nx/ny/nz -> 'normals',
                                            red/green/blue[/alpha] -> 'colors', lists -> (n, k)); ascii and
                                            binary, both byte orders; quads kept, polygons fan-triangulated
.glb                       trimesh          point fields (float32); node transforms applied, no cell fields
.obj                       trimesh          texture coordinates ('uv') and normals ('normals') when present
.off .stl                  trimesh          geometry only; .stl merges its per-triangle corners
.vtk .vtu                  meshio           point and cell fields, any numeric dtype; legacy POLYDATA and
                                            other .vtk meshio refuses go to VTK's reader (child process)
.msh (gmsh 2.2, 4.x)       meshio           point and cell fields; physical groups as cell field 'physical'
.xdmf .xmf                 meshio           point and cell fields (writing needs h5py)
.vtp (read only)           VTK (child)      point and cell fields; needs VTK (pyvista's dependency)
=========================  ===============  ===================================================================

A `Mesh` holds one cell type: surface blocks of several kinds (triangles with quads, polygons) are
fan-triangulated with a warning; lower-dimensional blocks (a surface's boundary lines) are dropped
quietly, others with a warning. Bad input raises ``FileNotFoundError`` or ``ValueError`` with one
line naming the file: corrupt files included (memory capped while parsing, gmsh counts checked
against the file size, VTK's readers isolated in a child process with a time limit). See docs/io.md
for the tested corpus of files from other tools.
"""

from __future__ import annotations

import contextlib
import csv
import io as _io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from .grid import Grid
from .mesh import Mesh

TRIMESH_FORMATS = {".obj": "OBJ", ".ply": "PLY", ".stl": "STL", ".off": "OFF", ".glb": "GLB"}
MESHIO_FORMATS = {".vtk": "VTK", ".vtu": "VTU", ".msh": "MSH", ".xdmf": "XDMF", ".xmf": "XDMF"}
VTK_FORMATS = {".vtp": "VTP"}  # read only, and only with VTK (pyvista's dependency) installed
MESH_EXTENSIONS = tuple(TRIMESH_FORMATS) + tuple(MESHIO_FORMATS) + tuple(VTK_FORMATS)


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or _where(e)
    return text if len(text) < 240 else text[:237] + "..."


def _where(e: BaseException) -> str:
    """For an exception raised without a message (meshio's bare ``ReadError()``): its type and the
    check that raised it, e.g. ``ReadError at _vtu.py:388 (if len(piece_cells["offsets"]) != num_cells:)``."""
    import linecache

    tb = e.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return type(e).__name__
    code, line = tb.tb_frame.f_code, tb.tb_lineno
    check = ""
    for back in range(1, 4):  # the condition just above the bare raise
        text = linecache.getline(code.co_filename, line - back).strip()
        if text.startswith(("if ", "elif ", "assert ", "except")):
            check = f" ({text})"
            break
    return f"{type(e).__name__} at {Path(code.co_filename).name}:{line}{check}"


def _format_of(path: Path) -> tuple[str, str]:
    """(library, format name) for the extension of ``path``; ValueError for an unknown one."""
    ext = path.suffix.lower()
    if ext in TRIMESH_FORMATS:
        return "trimesh", TRIMESH_FORMATS[ext]
    if ext in MESHIO_FORMATS:
        return "meshio", MESHIO_FORMATS[ext]
    if ext in VTK_FORMATS:
        return "vtk", VTK_FORMATS[ext]
    raise ValueError(f"{path}: unknown mesh format {ext or '(no extension)'!r}; use one of {', '.join(MESH_EXTENSIONS)}")


@contextlib.contextmanager
def _quiet(caught: list | None = None):
    """Silence what meshio/trimesh print to stdout/stderr (e.g. about padded points); the warnings
    they raise go to ``caught`` when given (so a reader's "corrupt data, skipping" is not lost)."""
    import warnings

    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null), contextlib.redirect_stderr(null):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            yield
    if caught is not None:
        caught.extend(str(w.message) for w in seen)


def _native(arr) -> np.ndarray:
    """Numpy array in native byte order (VTK stores big-endian; torch needs native)."""
    arr = np.asarray(arr)
    if arr.dtype.byteorder not in ("=", "|"):
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return np.ascontiguousarray(arr)


@contextlib.contextmanager
def _memory_cap(file_size: int):
    """Cap this process's address space while a parser runs, at what it uses now plus 4 GiB plus 32
    times the file size: a corrupt header that declares billions of items then gives a MemoryError at
    once (reported as a one-line error), instead of gigabytes being allocated and filled or the
    machine running out of memory. Linux only; elsewhere a no-op."""
    try:
        import resource

        with open("/proc/self/statm") as fh:
            used = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):
        yield
        return
    cap = used + (4 << 30) + 32 * file_size
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    if soft != resource.RLIM_INFINITY and soft < cap:
        yield
        return
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _numeric(arr: np.ndarray) -> bool:
    return arr.dtype.kind in "fiub"


# -- load -------------------------------------------------------------------------------------------
# what a file's first bytes say it is; used to refuse a file whose content contradicts its extension
def _sniff(head: bytes, size: int) -> str | None:
    """Format name the content shows (None when it does not say)."""
    if head.startswith(b"ply") and head[3:4] in (b"\n", b"\r", b" "):
        return "PLY"
    if head.startswith(b"glTF"):
        return "GLB"
    if head.startswith(b"# vtk DataFile"):
        return "VTK"
    if head.startswith(b"$MeshFormat"):
        return "MSH"
    text = head.lstrip()[:400]
    if text.startswith(b"<?xml") or text.startswith(b"<"):
        if b"<VTKFile" in head and b'type="UnstructuredGrid"' in head:
            return "VTU"
        if b"<VTKFile" in head and b'type="PolyData"' in head:
            return "VTP"
        if b"<Xdmf" in head:
            return "XDMF"
        if b"<VTKFile" in head:
            return "VTK XML"
    if size >= 84 and 84 + 50 * int.from_bytes(head[80:84], "little") == size:
        return "STL"
    if head.startswith(b"solid"):
        return "STL"
    if head[:3] in (b"OFF", b"COFF", b"NOFF") or head[:4] in (b"COFF", b"NOFF", b"4OFF"):
        return "OFF"
    return None


_EXT_OF = {
    "PLY": ".ply",
    "GLB": ".glb",
    "VTK": ".vtk",
    "MSH": ".msh",
    "VTU": ".vtu",
    "XDMF": ".xdmf",
    "STL": ".stl",
    "OFF": ".off",
    "VTP": ".vtp",
    "VTK XML": ".vtp/.vts/... (not supported; convert to .vtu)",
}


def _check_content(path: Path, fmt: str) -> None:
    with open(path, "rb") as fh:
        head = fh.read(4096)
    size = path.stat().st_size
    if size == 0:
        raise ValueError(f"{path}: the file is empty; check that it was written completely")
    seen = _sniff(head, size)
    if seen is not None and seen != fmt and not (fmt == "STL" and seen is None):
        if fmt == "OBJ" and seen == "STL" and head.startswith(b"solid"):
            return  # an OBJ may begin with a word 'solid...' only by accident; let the parser decide
        if fmt == "STL" and seen == "OFF":
            return
        raise ValueError(
            f"{path}: the content is a {seen} file, not {fmt} as the extension says; rename it to {_EXT_OF.get(seen, seen)}"
        )
    if fmt == "MSH":
        _check_msh_counts(path, size)
    if fmt == "VTU" and b'format="appended"' in head:
        with open(path, "rb") as fh:
            fh.seek(max(0, size - 4096))
            tail = fh.read()
        if b"</AppendedData>" not in tail and b"</VTKFile>" not in tail:
            raise ValueError(
                f"{path}: the VTU file ends inside its <AppendedData> section (no </AppendedData>, "
                "no </VTKFile>); it was cut short, write it again"
            )
    if fmt in ("OBJ", "OFF") and b"\x00" in head:
        raise ValueError(f"{path}: holds binary data, but {fmt} is a text format; check that it is a valid {fmt} file")


def _check_msh_counts(path: Path, size: int) -> None:
    """Refuse a gmsh file whose section counts ($Entities, $Nodes, $Elements and the $...Data headers)
    exceed what a file of its size can hold: meshio loops over such counts in Python (a corrupt count
    of 10^20 is a hang) or allocates them whole."""
    data = path.read_bytes()
    fmt_at = data.find(b"$MeshFormat")
    if fmt_at < 0:
        return  # meshio will say so
    words = data[fmt_at + 12 : fmt_at + 60].split()
    try:
        version, binary, word = float(words[0]), words[1] == b"1", int(words[2])
    except (IndexError, ValueError):
        return
    word = word if word in (4, 8) else 8
    for section in (b"$Entities", b"$PartitionedEntities", b"$Nodes", b"$Elements"):
        at = data.find(section + b"\n")
        if at < 0:
            continue
        start = at + len(section) + 1
        if binary and version >= 4:
            raw = data[start : start + 4 * word]
            counts = np.frombuffer(raw[: len(raw) // word * word], dtype=f"<u{word}").tolist()
        else:
            counts = [_int_or(w, -1) for w in data[start : data.find(b"\n", start)].split()[:4]]
        for c in counts[: 4 if section != b"$Nodes" or version >= 4 else 1]:
            if c < 0 or c > size:
                raise ValueError(
                    f"{path}: the {section.decode()} section declares a count of {c}, impossible in a file of "
                    f"{size} bytes; the file is corrupt"
                )
    for section in (b"$NodeData", b"$ElementData", b"$ElementNodeData"):
        at = data.find(section + b"\n")
        if at >= 0:
            first = data[at + len(section) + 1 : at + len(section) + 40].split(b"\n")[0]
            c = _int_or(first.strip(), -1)
            if c < 0 or c > 1000:
                raise ValueError(
                    f"{path}: the {section.decode()} section declares {first[:20]!r} string tags; the file is corrupt"
                )


def _int_or(word: bytes, default: int) -> int:
    try:
        return int(word)
    except ValueError:
        return default


def load(path, *, dtype: torch.dtype | None = None, device=None, dim: int | None = None) -> Mesh:
    """Read a mesh file into a `Mesh`.

    Parameters
    ----------
    path : str or Path; the extension picks the format (see the module docstring).
    dtype : floating dtype of the points. Default ``None``: the file's own precision (float64 stays
        float64, float32 stays float32; text formats that do not declare one, OBJ/OFF/ASCII STL, give
        float64). Fields keep the dtype the file stores.
    device : where the tensors go (default CPU).
    dim : 2 to drop a z coordinate that is zero everywhere (2-D meshes come back from most formats
        with z = 0 added); ``None`` keeps what the file holds.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        Unknown extension, content that contradicts the extension, a file the reader cannot parse,
        or a file without points; always one line that names the file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise ValueError(f"{path}: is a directory, expected a mesh file ({', '.join(MESH_EXTENSIONS)})")
    library, fmt = _format_of(path)
    if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"load: dtype must be a floating torch.dtype (e.g. torch.float64), got {dtype!r}")
    if dim not in (None, 2, 3):
        raise ValueError(f"load: dim must be None, 2 or 3, got {dim!r}")
    _check_content(path, fmt)
    try:
        with _memory_cap(path.stat().st_size):
            mesh = _read(path, library, fmt, dtype, device)
    except (FileNotFoundError, ValueError) as e:
        if str(path) in str(e) and "\n" not in str(e):
            raise
        raise ValueError(f"{path}: could not read as {fmt} ({_one_line(e)}); check that it is a valid {fmt} file") from e
    except MemoryError as e:
        raise ValueError(
            f"{path}: could not read as {fmt} (it declares more data than fits in memory; "
            f"a count in the file is probably corrupt)"
        ) from e
    except (Exception, SystemExit, RecursionError) as e:  # any parser failure: one clear line
        detail = _one_line(e) if not str(e).strip() else f"{type(e).__name__}: {_one_line(e)}"
        raise ValueError(f"{path}: could not read as {fmt} ({detail}); check that it is a valid {fmt} file") from e
    if dim == 2 and mesh.dim == 3:
        if mesh.n_points and bool((mesh.points[:, 2] != 0).any()):
            raise ValueError(f"{path}: dim=2 asked but the points have nonzero z")
        mesh = Mesh(mesh.points[:, :2].contiguous(), mesh.cells, mesh.cell_type, mesh.point_data, mesh.cell_data)
    return mesh


def _read(path: Path, library: str, fmt: str, dtype, device) -> Mesh:
    if fmt == "PLY":
        return _load_ply(path, dtype, device)
    if library == "trimesh":
        with _quiet():
            return _load_trimesh(path, fmt, dtype, device)
    if library == "vtk":
        return _load_vtp(path, dtype, device)
    return _load_meshio(path, dtype, device)  # quiet while parsing; warns about dropped cell blocks


def _points_tensor(arr: np.ndarray, dtype, device) -> torch.Tensor:
    """Points in the file's precision (integers -> float64), or ``dtype`` when given."""
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    t = torch.from_numpy(_native(arr))
    return t.to(device=device, dtype=dtype) if (dtype is not None or device is not None) else t


def _fan(polys: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Fan triangulation of polygons: triangles (T, 3) and the polygon each came from (T,)."""
    sizes = np.fromiter((len(p) for p in polys), dtype=np.int64, count=len(polys))
    if (sizes < 3).any():
        raise ValueError(f"a face has {int(sizes.min())} vertices; faces need at least 3")
    flat = np.concatenate(polys).astype(np.int64) if polys else np.zeros(0, np.int64)
    starts = np.cumsum(sizes) - sizes
    n_tri = sizes - 2
    owner = np.repeat(np.arange(len(polys)), n_tri)
    k = np.arange(n_tri.sum()) - np.repeat(np.cumsum(n_tri) - n_tri, n_tri)  # 0..n-3 within each polygon
    base = starts[owner]
    tris = np.stack([flat[base], flat[base + k + 1], flat[base + k + 2]], 1)
    return tris, owner


_PLY_GROUPS = (
    ("normals", ("nx", "ny", "nz")),
    ("colors", ("red", "green", "blue", "alpha")),
    ("colors", ("red", "green", "blue")),
)


def _ply_fields(props: dict, skip: set, what: str, path: Path) -> dict[str, np.ndarray]:
    """PLY properties -> fields: nx/ny/nz -> 'normals' (n, 3), red/green/blue[/alpha] -> 'colors'
    (n, 3|4), constant-length lists -> (n, k), every other property by its own name."""
    out, used = {}, set(skip)
    for group, names in _PLY_GROUPS:
        if group not in out and all(n in props for n in names) and len({props[n].dtype for n in names}) == 1:
            out[group] = np.stack([props[n] for n in names], 1)
            used.update(names)
    ragged = []
    for name, values in props.items():
        if name in used:
            continue
        if isinstance(values, list):
            ragged.append(name)
            continue
        if values.dtype.kind in "fiub":
            out[name] = values
    if ragged:
        import warnings

        warnings.warn(
            f"{path}: {what} list properties of varying length {ragged} cannot be fields; dropped them", UserWarning, stacklevel=4
        )
    return out


def _load_ply(path: Path, dtype, device) -> Mesh:
    import warnings

    from . import _ply

    elements, data = _ply.read(path.read_bytes())
    if "vertex" not in data:
        raise ValueError(f"{path}: no 'vertex' element; check that it is a valid PLY file")
    vert = data["vertex"]
    if not all(isinstance(vert.get(c), np.ndarray) for c in "xy"):
        raise ValueError(f"{path}: the vertex element has no x and y properties; check that it is a valid PLY file")
    coords = ["x", "y", "z"] if isinstance(vert.get("z"), np.ndarray) else ["x", "y"]
    pts = np.empty((len(vert["x"]), len(coords)), dtype=np.result_type(*[vert[c] for c in coords]))
    for i, c in enumerate(coords):
        pts[:, i] = vert[c]
    if len(pts) == 0:
        raise ValueError(f"{path}: the file holds no points; check that it is a valid PLY file")
    points = _points_tensor(pts, dtype, device)  # pts is a fresh array: no further copy on the CPU
    pfields = _ply_fields(vert, set(coords), "vertex", path)
    others = [e.name for e in elements if e.name not in ("vertex", "face") and e.count]
    if others:
        warnings.warn(f"{path}: kept the vertex and face elements; ignored {others}", UserWarning, stacklevel=3)
    face = data.get("face")
    key = next((k for k in _ply.FACE_LISTS if face is not None and k in face), None)
    if face is None or key is None or len(face[key]) == 0:
        if face is not None and key is None and any(e.name == "face" and e.count for e in elements):
            raise ValueError(f"{path}: the face element has no vertex_indices list; check that it is a valid PLY file")
        return Mesh(points, point_data={k: torch.from_numpy(np.array(v)).to(device) for k, v in pfields.items()})
    cfields = _ply_fields(face, {key}, "face", path)
    lists = face[key]
    if isinstance(lists, np.ndarray) and lists.shape[1] in (3, 4):
        cells, ctype = np.array(lists, dtype=np.int64), "triangle" if lists.shape[1] == 3 else "quad"  # one copy
    else:  # polygons, or faces of several sizes: fan triangulation
        polys = list(lists) if isinstance(lists, np.ndarray) else lists
        cells, owner = _fan(polys)
        ctype = "triangle"
        cfields = {k: v[owner] for k, v in cfields.items()}
        warnings.warn(
            f"{path}: triangulated {len(polys)} polygon faces (of {sorted({len(p) for p in polys})[:6]} "
            f"vertices) into {len(cells)} triangles; cell fields repeat on each polygon's triangles",
            UserWarning,
            stacklevel=3,
        )
    return Mesh(
        points,
        torch.from_numpy(cells).to(device),
        ctype,
        {k: torch.from_numpy(np.array(v)).to(device) for k, v in pfields.items()},  # np.array: own, writable copies
        {k: torch.from_numpy(np.array(v)).to(device) for k, v in cfields.items()},
    )


def _load_trimesh(path: Path, fmt: str, dtype, device) -> Mesh:
    import trimesh

    loaded = trimesh.load(str(path), process=False, file_type=path.suffix.lower()[1:])
    if isinstance(loaded, trimesh.Scene):
        if not loaded.geometry:
            raise ValueError(f"{path}: the {fmt} file holds no geometry; check that it is a valid {fmt} file")
        # every node's geometry moved by its node transform (instances included), concatenated
        loaded = (
            loaded.to_geometry()
            if len(loaded.graph.nodes_geometry) > 1 or _moved(loaded)
            else next(iter(loaded.geometry.values()))
        )
    if isinstance(loaded, trimesh.PointCloud):
        cloud_dtype = np.float32 if fmt in ("GLB",) else np.float64
        return Mesh(_points_tensor(np.asarray(loaded.vertices, dtype=cloud_dtype), dtype, device))
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.vertices) == 0:
        raise ValueError(f"{path}: the {fmt} file holds no triangle mesh; check that it is a valid {fmt} file")
    # the file's own precision: GLB and binary STL hold float32, OBJ/OFF/ASCII STL are text (float64)
    with open(path, "rb") as fh:  # binary STL: 84-byte header + 50 bytes per triangle (its header may say "solid")
        head = fh.read(84)
    size = path.stat().st_size
    binary_stl = fmt == "STL" and size >= 84 and 84 + 50 * int.from_bytes(head[80:84], "little") == size
    own = torch.float32 if fmt == "GLB" or binary_stl else torch.float64
    if fmt == "STL":
        loaded.merge_vertices()  # STL stores three separate corners per triangle
        loaded.face_attributes.clear()  # per-face STL attribute bytes, not fields
    mesh = Mesh.from_trimesh(loaded, dtype=dtype or own, device=device)
    if fmt == "OBJ":
        _obj_fields(path, loaded, mesh)
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


def _moved(scene) -> bool:
    """Whether any geometry node of a scene has a transform other than the identity."""
    for node in scene.graph.nodes_geometry:
        matrix, _ = scene.graph[node]
        if not np.allclose(matrix, np.eye(4)):
            return True
    return False


def _obj_fields(path: Path, tm, mesh: Mesh) -> None:
    """Texture coordinates ('uv', (N, 2)) and normals ('normals', (N, 3)) an OBJ file holds per vertex."""
    with open(path, "rb") as fh:
        text = fh.read()
    uv = getattr(tm.visual, "uv", None)
    if uv is not None and len(uv) == mesh.n_points and b"\nvt " in b"\n" + text:
        mesh.set_point_field("uv", torch.as_tensor(np.asarray(uv, dtype=np.float64), device=mesh.device))
    if b"\nvn " in b"\n" + text and "vertex_normals" in tm._cache:
        mesh.set_point_field("normals", torch.as_tensor(np.asarray(tm.vertex_normals, dtype=np.float64), device=mesh.device))


def _load_meshio(path: Path, dtype, device) -> Mesh:
    import meshio

    # call the format's reader directly: it raises a ReadError that says what is wrong, where
    # meshio.read prints it and calls sys.exit
    reader = {".vtk": meshio.vtk, ".vtu": meshio.vtu, ".msh": meshio.gmsh, ".xdmf": meshio.xdmf, ".xmf": meshio.xdmf}
    said: list[str] = []
    try:
        with _quiet(said):
            m = reader[path.suffix.lower()].read(str(path))
        skipped = [w for w in said if "Skipping" in w or "corrupt" in w.lower()]
        if skipped:  # meshio drops a data array it cannot decode with a mere warning: that is lost data
            raise ValueError(
                f"{path}: a data array is corrupt ({_one_line(ValueError(skipped[0]))}); "
                "check that the file was written completely"
            )
    except ValueError as e:
        if str(path) in str(e):
            raise
        if path.suffix.lower() == ".vtk" and _has("vtk"):
            return _read_with_vtk(path, "legacy", "VTK", dtype, device)
        raise
    except Exception:
        # legacy VTK that meshio does not read (POLYDATA, VTK 9's binary 5.1 layout): VTK's own reader
        if path.suffix.lower() == ".vtk" and _has("vtk"):
            return _read_with_vtk(path, "legacy", "VTK", dtype, device)
        if path.suffix.lower() == ".vtu":
            _diagnose_vtu(path)  # a precise line for XML damage, where meshio's errors are bare
        raise
    if len(m.points) == 0:
        raise ValueError(f"{path}: the file holds no points; check that it is a valid mesh file")
    m.points = _native(m.points)
    # gmsh's physical group tags become the cell field 'physical' (writers without groups store zeros:
    # then it is bookkeeping, dropped); other gmsh tags and non-numeric fields are dropped
    physical = m.cell_data.get("gmsh:physical")
    m.point_data = {k: _native(v) for k, v in m.point_data.items() if not k.startswith("gmsh:") and _numeric(np.asarray(v))}
    m.cell_data = {
        k: [_native(b) for b in v]
        for k, v in m.cell_data.items()
        if not k.startswith("gmsh:") and all(_numeric(np.asarray(b)) for b in v)
    }
    if path.suffix.lower() == ".vtk":  # meshio reads legacy FIELD arrays of one component as (n, 1)
        m.point_data = {k: v[:, 0] if v.ndim == 2 and v.shape[1] == 1 else v for k, v in m.point_data.items()}
        m.cell_data = {k: [b[:, 0] if b.ndim == 2 and b.shape[1] == 1 else b for b in v] for k, v in m.cell_data.items()}
    if physical is not None and any(np.asarray(b).any() for b in physical) and "physical" not in m.cell_data:
        m.cell_data["physical"] = [_native(b) for b in physical]
    return Mesh.from_meshio(m, dtype=dtype, device=device)


def _diagnose_vtu(path: Path) -> None:
    """Raise a ValueError saying where a VTU file's XML breaks (when it has no raw appended data,
    which is legitimately not XML)."""
    import xml.etree.ElementTree as ET

    data = path.read_bytes()
    if b'encoding="raw"' in data[:100_000]:
        return
    try:
        ET.fromstring(data)
    except ET.ParseError as e:
        line, col = e.position
        cut = " (the file ends there: it was cut short)" if "no element found" in str(e) or "unclosed" in str(e) else ""
        raise ValueError(
            f"{path}: could not read as VTU (the XML is not well-formed at line {line}, column {col}: "
            f"{_one_line(e).split(':')[0]}{cut}); check that the file was written completely"
        ) from None


def _load_vtp(path: Path, dtype, device) -> Mesh:
    if not _has("vtk"):
        raise ValueError(f"{path}: reading .vtp needs VTK; run `pip install vtk` (or pyvista), or save the mesh as .vtu")
    return _read_with_vtk(path, "vtp", "VTP", dtype, device)


def _read_with_vtk(path: Path, kind: str, fmt: str, dtype, device) -> Mesh:
    """Read with VTK's own readers in a child process: on a corrupt file they can crash the
    interpreter or loop for long, which in the child becomes a one-line error here."""
    import signal
    import subprocess
    import sys
    import tempfile

    from .mesh import meshio_from_vtk_cells

    size = path.stat().st_size
    limit = 5.0 + size / 5e6  # seconds: VTK reads legacy ASCII at tens of MB/s, so far slower means a corrupt file
    child = Path(__file__).with_name("_vtk_child.py")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "data.npz"

        def cap():  # the same address-space cap as for in-process parsers
            import resource

            resource.setrlimit(resource.RLIMIT_AS, ((6 << 30) + 32 * size, resource.RLIM_INFINITY))

        try:
            run = subprocess.run(
                [sys.executable, str(child), str(path), str(out), kind],
                capture_output=True,
                text=True,
                timeout=limit,
                preexec_fn=cap if os.name == "posix" else None,
                env=dict(os.environ, OMP_NUM_THREADS="1"),
            )
        except subprocess.TimeoutExpired:
            raise ValueError(f"{path}: VTK's reader did not finish within {limit:.0f} s; the file is probably corrupt") from None
        message = " ".join((run.stderr or "").strip().splitlines()[-1:]) if run.stderr.strip() else ""
        if run.returncode < 0:
            name = signal.Signals(-run.returncode).name if -run.returncode in signal.valid_signals() else str(-run.returncode)
            raise ValueError(f"{path}: VTK's reader crashed ({name}) on this file; check that it is a valid {fmt} file")
        if run.returncode != 0:
            raise ValueError(
                f"{path}: could not read as {fmt} ({_one_line(ValueError(message or 'VTK failed'))}); "
                f"check that it is a valid {fmt} file"
            )
        with np.load(out) as z:
            arrays = {k: z[k] for k in z.files}
    m = meshio_from_vtk_cells(
        arrays["points"],
        arrays["types"],
        arrays["offsets"],
        arrays["conn"],
        {k[6:]: v for k, v in arrays.items() if k.startswith("point:")},
        {k[5:]: v for k, v in arrays.items() if k.startswith("cell:")},
    )
    m.points = _native(m.points)
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
    if library == "vtk":
        raise ValueError(f"{path}: .vtp is read-only here; save as .vtu (or mesh.to_pyvista().save({path.name!r}))")
    for kind, fields in (("point", mesh.point_data), ("cell", mesh.cell_data)):
        for k, v in fields.items():
            if v.is_complex():
                raise ValueError(
                    f"{path}: {kind} field {k!r} is complex ({v.dtype}); mesh files hold real values, "
                    "save its real and imaginary parts as two fields"
                )
            if v.dim() > 2:
                raise ValueError(
                    f"{path}: {kind} field {k!r} has shape {tuple(v.shape)}; mesh files hold (n,) or (n, k) "
                    f"fields, reshape it to {(v.shape[0], int(np.prod(v.shape[1:])))} first"
                )
    for parent in (path.parent, *path.parent.parents):
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"{path}: {parent} is a file, not a folder; choose another output path")
            break
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "PLY":
        _save_ply(mesh, path)
    elif library == "trimesh":
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


def _save_ply(mesh: Mesh, path: Path) -> None:
    """Binary little-endian PLY in the points' own precision; every field kept (see `_ply_columns`)."""
    from . import _ply

    _check_ply_fields(mesh, path)
    pts = _np(mesh.points)
    vertex = [(c, pts[:, i]) for i, c in enumerate("xyz"[: mesh.dim])]
    vertex += _ply_columns(mesh.point_data, path, "point")
    faces = None if mesh.cells is None else _np(mesh.cells)
    if faces is not None and mesh.cell_type not in ("triangle", "quad"):
        raise ValueError(
            f"{path}: PLY holds triangle or quad surfaces but the mesh has {mesh.cell_type!r} cells; "
            "save it as .vtu, .vtk, .msh or .xdmf"
        )
    if faces is not None and faces.size and int(faces.max()) >= 2**31:
        raise ValueError(f"{path}: PLY stores vertex indices as int32; the mesh has too many points, save as .vtu")
    face = _ply_columns(mesh.cell_data, path, "cell")
    tmp = path.with_name(path.name + ".part")
    try:
        _ply.write(tmp, vertex, face, faces)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _ply_columns(fields: Mapping[str, torch.Tensor], path: Path, kind: str) -> list[tuple[str, np.ndarray]]:
    """Fields -> PLY properties: 'normals' (n, 3) float -> nx ny nz, 'colors' (n, 3|4) with integers in
    0..255 -> red green blue [alpha] as uchar; other (n,) fields as scalar properties, (n, k) as lists;
    int64 as int32 (range checked), bool as uchar, float64 as double."""
    out = []
    for name, value in fields.items():
        arr = _np(value)
        if arr.dtype == np.int64 or arr.dtype == np.uint64:
            arr = arr.astype(np.int32)
        if name == "normals" and arr.ndim == 2 and arr.shape[1] == 3 and arr.dtype.kind == "f":
            out += [(c, arr[:, i]) for i, c in enumerate(("nx", "ny", "nz"))]
        elif (
            name == "colors"
            and arr.ndim == 2
            and arr.shape[1] in (3, 4)
            and arr.dtype.kind in "iu"
            and (arr.size == 0 or (arr.min() >= 0 and arr.max() <= 255))
        ):
            out += [(c, arr[:, i].astype(np.uint8)) for i, c in enumerate(("red", "green", "blue", "alpha")[: arr.shape[1]])]
        else:
            out.append((name, arr))
    return out


def _save_trimesh(mesh: Mesh, path: Path, fmt: str) -> None:
    import trimesh

    points = _np(mesh.points)
    if mesh.dim == 2:
        points = np.concatenate([points, np.zeros((len(points), 1), points.dtype)], axis=1)
    if mesh.cells is None:
        raise ValueError(f"{path}: a point set (no cells) can be written as .ply, .vtu, .vtk, .msh or .xdmf, not {fmt}")
    if mesh.cell_type != "triangle":
        raise ValueError(
            f"{path}: {fmt} holds triangle surfaces but the mesh has {mesh.cell_type!r} cells; "
            "save it as .vtu, .vtk, .msh or .xdmf"
        )
    tm = trimesh.Trimesh(vertices=points, faces=_np(mesh.cells), process=False)
    if fmt == "GLB":
        _warn_dropped(path, "GLB", [f"{k} (cell)" for k in mesh.cell_data])
        for k, v in mesh.point_data.items():
            tm.vertex_attributes[k] = _np(v).astype(np.float32)
        path.write_bytes(cast(bytes, tm.export(file_type="glb")))  # export's stub: dict | bytes | str
        return
    _warn_dropped(path, fmt, list(mesh.point_data) + [f"{k} (cell)" for k in mesh.cell_data])
    if fmt == "OBJ":
        digits = 17 if mesh.dtype == torch.float64 else 9
        path.write_text(cast(str, tm.export(file_type="obj", digits=digits, include_normals=False, include_texture=False)))
    elif fmt == "OFF":
        digits = 17 if mesh.dtype == torch.float64 else 9
        path.write_text(cast(str, tm.export(file_type="off", digits=digits)))
    elif fmt == "STL":
        path.write_bytes(cast(bytes, tm.export(file_type="stl")))


# PLY property names that the reader groups into 'normals' / 'colors' or uses for geometry
_PLY_RESERVED = {"x", "y", "z", "nx", "ny", "nz", "red", "green", "blue", "alpha", "vertex_indices", "vertex_index"}


def _check_ply_fields(mesh: Mesh, path: Path) -> None:
    """Refuse fields PLY would lose or garble: names with spaces or taken by geometry/colour
    properties, integers outside int32."""
    for kind, fields in (("point", mesh.point_data), ("cell", mesh.cell_data)):
        for k, v in fields.items():
            if k != "".join(k.split()) or k == "" or not k.isascii():
                raise ValueError(
                    f"{path}: PLY property names cannot be empty or contain spaces, got {kind} field {k!r}; "
                    "rename it or save as .vtu"
                )
            if k in _PLY_RESERVED or k.startswith("__n_"):
                raise ValueError(
                    f"{path}: {kind} field {k!r} has the name of a PLY geometry/colour property and would be "
                    "lost; rename it (vectors go as 'normals' (n, 3) or 'colors' (n, 3|4)) or save as .vtu"
                )
            if not v.is_floating_point() and v.numel() and v.dtype != torch.bool:
                lo, hi = int(v.min()), int(v.max())
                if lo < -(2**31) or hi >= 2**31:
                    raise ValueError(
                        f"{path}: {kind} field {k!r} holds integers in [{lo}, {hi}], outside the int32 range "
                        "PLY stores; save as .vtu"
                    )


def _save_meshio(mesh: Mesh, path: Path, fmt: str) -> None:
    import meshio

    points = _np(mesh.points)
    if mesh.dim == 2:  # VTK-family writers want 3-D points; pad here instead of letting meshio warn
        points = np.concatenate([points, np.zeros((len(points), 1), points.dtype)], axis=1)
    cells: list[tuple[str | None, np.ndarray]]
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


# -- grids ------------------------------------------------------------------------------------------
GRID_EXTENSIONS = (".npz", ".npy", ".vtu", ".vtk", ".xdmf", ".xmf", ".msh")


def load_grid(path, key: str | None = None, *, dtype: torch.dtype | None = None, device=None) -> Grid:
    """Read a regular-lattice field into a `Grid`: scalar (X, Y, Z) or vector (X, Y, Z, C).

    - ``.npz``: the array named ``key`` (or the only array besides the metadata), with ``origin``
      (3,) and ``spacing`` (1 or 3) when present, and ``channels`` (C,) naming the last axis of a
      4-D array (what ``save_grid`` and ``geomsci pig solve`` write). When ``key`` names a channel
      instead of an array, that channel comes back as a scalar grid.
    - ``.npy``: the array; origin 0, spacing 1.
    - a meshio lattice (.vtu, .vtk, .xdmf, .msh): points that form a complete regular lattice, the
      point field ``key``; without ``key`` the only field, or all scalar fields as channels.

    Values keep the file's precision unless ``dtype`` is given (integers become the default float).
    Raises FileNotFoundError, or ValueError with one line naming the file.
    """
    path = Path(path)
    values, origin, spacing, _ = _read_grid_arrays(path, key, allow_channels=True)
    t = torch.from_numpy(_native(values))
    if not t.is_floating_point():
        t = t.to(torch.get_default_dtype())
    t = t.to(device=device, dtype=dtype)
    if not torch.isfinite(t).all():
        n_bad = int((~torch.isfinite(t)).sum())
        raise ValueError(f"{path}: the grid holds {n_bad} NaN/inf values")
    try:
        return Grid(t, origin.tolist(), spacing.tolist())
    except ValueError as e:
        raise ValueError(f"{path}: {_one_line(e)}") from None


def grid_channels(path) -> list[str] | None:
    """The channel names a grid file stores for its last axis (``channels`` in an .npz, the field
    names of a multi-field lattice), or None."""
    return _read_grid_arrays(Path(path), None, allow_channels=True)[3]


def save_grid(grid: Grid, path, channels=None) -> Path:
    """Write a `Grid` as ``.npz`` (``values``, ``origin``, ``spacing`` and, for a vector grid, the
    ``channels`` names) or as a meshio lattice (``.vtu``/``.vtk``: one point per node, a scalar
    field per channel, named by ``channels`` or ``values``/``c0``, ``c1``, ...). `load_grid` reads
    both back; values keep their dtype. Returns the path written."""
    if not isinstance(grid, Grid):
        raise ValueError(f"save_grid: expected a geomsci Grid, got {type(grid).__name__}")
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in (".npz", ".vtu", ".vtk"):
        raise ValueError(f"{path}: save_grid writes .npz, .vtu or .vtk, got {ext or '(no extension)'!r}")
    values = grid.values.detach().cpu().numpy()
    n_ch = values.shape[3] if values.ndim == 4 else 0
    if channels is not None:
        channels = [str(c) for c in channels]
        if n_ch == 0 or len(channels) != n_ch or len(set(channels)) != n_ch:
            raise ValueError(
                f"save_grid: channels must be {n_ch} distinct names for values of shape {values.shape}, got {channels}"
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    origin = grid.origin.detach().cpu().numpy().astype(np.float64)
    spacing = grid.spacing.detach().cpu().numpy().astype(np.float64)
    if ext == ".npz":
        extra: dict[str, Any] = {"channels": np.array(channels)} if channels is not None else {}
        with open(path, "wb") as fh:  # an open file: numpy would otherwise append .npz to other names
            np.savez(fh, values=values, origin=origin, spacing=spacing, **extra)
        return path
    pts = grid.node_points().detach().cpu().numpy().astype(np.float64)
    names = channels or ([f"c{i}" for i in range(n_ch)] if n_ch else ["values"])
    fields = {names[0]: values.reshape(-1)} if not n_ch else {nm: values[..., i].reshape(-1) for i, nm in enumerate(names)}
    _save_meshio(
        Mesh(torch.from_numpy(pts), point_data={k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in fields.items()}),
        path,
        MESHIO_FORMATS[ext],
    )
    return path


def _read_grid_arrays(path: Path, key: str | None, allow_channels: bool):
    """(values, origin (3,), spacing (3,), channel names or None) of a grid file, as numpy."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: grid file not found; check the path")
    suffix = path.suffix.lower()
    origin, spacing, names = np.zeros(3), np.ones(3), None
    if suffix in (".npy", ".npz"):
        with open(path, "rb") as fh:
            magic = fh.read(6)
        if magic != b"\x93NUMPY" and magic[:4] != b"PK\x03\x04":
            # np.load would take it for a pickle and suggest allow_pickle=True, which is unsafe and wrong here
            raise ValueError(f"{path.name} is not a numpy {suffix} file; save the volume with numpy.save / numpy.savez")
        try:
            loaded = np.load(path, allow_pickle=False)
        except Exception as e:  # ValueError, OSError, EOFError, zipfile.BadZipFile, ...
            raise ValueError(f"{path.name}: cannot read the array ({_one_line(e)})") from None
        if suffix == ".npz" and not hasattr(loaded, "files"):
            raise ValueError(f"{path.name} holds a single .npy array, not an .npz archive; rename it to .npy")
        if suffix == ".npy" and hasattr(loaded, "files"):
            loaded.close()
            raise ValueError(f"{path.name} is an .npz archive, not a single .npy array; rename it to .npz")
    elif suffix not in GRID_EXTENSIONS:
        raise ValueError(f"{path}: unknown grid format {suffix or '(no extension)'!r}; use one of {', '.join(GRID_EXTENSIONS)}")
    if suffix == ".npy":
        values = loaded
    elif suffix == ".npz":
        try:
            values, origin, spacing, names = _npz_grid(path, loaded, key, allow_channels)
        except Exception as e:  # a damaged member of the archive (zlib, zipfile or numpy errors)
            if path.name in str(e):
                raise
            raise ValueError(f"{path.name}: cannot read the archive ({_one_line(e)})") from None
    else:
        values, origin, spacing, names = _read_meshio_lattice(path, key, allow_channels)
    values = np.asarray(values)
    if values.ndim not in ((3, 4) if allow_channels else (3,)):
        want = "(X, Y, Z) or (X, Y, Z, C)" if allow_channels else "3-D (X, Y, Z)"
        raise ValueError(
            f"volume must be {want}, got shape {values.shape} from {path.name}"
            + ("; pick one channel with --key" if values.ndim == 4 else "")
        )
    if values.dtype.kind not in "fiub":
        raise ValueError(f"volume must be numeric, got dtype {values.dtype} from {path.name}")
    if min(values.shape[:3]) < 2:
        raise ValueError(
            f"volume must have at least 2 nodes per axis to hold a surface, got shape {values.shape} from {path.name}"
        )
    return values, origin, spacing, names


def _npz_grid(path: Path, loaded, key, allow_channels):
    origin, spacing, names = np.zeros(3), np.ones(3), None
    with loaded as data:
        arrays = [n for n in data.files if n not in ("origin", "spacing", "channels")]
        if not arrays:
            raise ValueError(f"{path.name} holds no volume array (only {sorted(data.files)})")
        if "channels" in data.files:
            names = [str(c) for c in np.asarray(data["channels"]).reshape(-1)]
        channel = None
        if key is not None and key not in data.files and names and key in names:
            channel = names.index(key)  # a channel of the (only) 4-D array
            key = None
        if key is None and len(arrays) != 1:
            raise ValueError(f"{path.name} holds arrays {arrays}; pick one with --key (key= in Python)")
        name = key if key is not None else arrays[0]
        if name not in data.files:
            raise ValueError(
                f"{path.name} has no array {name!r}; it holds {arrays}" + (f" and channels {names}" if names else "")
            )
        values = data[name]
        if names is not None and (values.ndim != 4 or values.shape[3] != len(names)):
            raise ValueError(f"{path.name}: 'channels' names {len(names)} channels but {name!r} has shape {values.shape}")
        if channel is not None:
            values, names = values[..., channel], None
        elif not allow_channels and values.ndim == 4:
            raise ValueError(
                f"{path.name}: {name!r} is a vector grid {values.shape}"
                + (f" with channels {names}; pick one with --key" if names else "; a scalar volume is needed")
            )
        if "origin" in data.files:
            origin = np.asarray(data["origin"])
            if origin.size != 3 or origin.dtype.kind not in "fiu" or not np.isfinite(origin).all():
                raise ValueError(f"{path.name}: 'origin' must hold 3 finite numbers, got {origin.tolist()!r}")
            origin = origin.astype(float).reshape(3)
        if "spacing" in data.files:
            spacing = np.asarray(data["spacing"])
            if spacing.size not in (1, 3) or spacing.dtype.kind not in "fiu" or not (np.isfinite(spacing) & (spacing > 0)).all():
                raise ValueError(f"{path.name}: 'spacing' must be one or 3 positive finite numbers, got {spacing.tolist()!r}")
            spacing = np.broadcast_to(spacing.astype(float).reshape(-1), (3,)).copy()
    return values, origin, spacing, names


def _read_meshio_lattice(path: Path, key: str | None, allow_channels: bool):
    # core's reader turns meshio's failures (some of which exit the process) into one-line errors
    m = load(path)
    names = list(m.point_data)
    if not names:
        raise ValueError(f"{path.name} has no point field to extract a surface from")
    if key is not None and key not in m.point_data:
        raise ValueError(f"{path.name} has no point field {key!r}; it holds {names}")
    if key is None and len(names) != 1:
        scalar = [n for n in names if m.point_data[n].dim() == 1]
        if not allow_channels or len(scalar) != len(names):
            raise ValueError(f"{path.name} holds point fields {names}; pick one with --key (key= in Python)")
        field = np.stack([m.point_data[n].numpy() for n in names], -1)  # every scalar field, as channels
        channel_names = names
    else:
        name = key if key is not None else names[0]
        field = m.point_data[name].numpy()
        channel_names = None
        if field.ndim != 1 and not (allow_channels and field.ndim == 2):
            raise ValueError(f"point field {name!r} must be scalar, got shape {field.shape}")
    pts = m.points.double().numpy()
    if pts.shape[1] != 3:
        raise ValueError(f"{path.name}: volume points must be 3-D, got {pts.shape[1]} coordinates")
    axes = [np.unique(np.round(pts[:, d], 9)) for d in range(3)]
    shape = tuple(len(a) for a in axes)
    if int(np.prod(shape)) != len(pts):
        raise ValueError(f"{path.name}: the points do not form a complete regular lattice ({shape} axes, {len(pts)} points)")
    spacing = np.array([(a[-1] - a[0]) / max(len(a) - 1, 1) for a in axes])
    for a, h in zip(axes, spacing):
        if len(a) > 1 and not np.allclose(np.diff(a), h, rtol=1e-6, atol=1e-9):
            raise ValueError(f"{path.name}: the lattice is not uniformly spaced")
    idx = [np.searchsorted(a, np.round(pts[:, d], 9)) for d, a in enumerate(axes)]
    values = np.empty(shape + field.shape[1:], dtype=field.dtype)
    values[idx[0], idx[1], idx[2]] = field
    return values, np.array([a[0] for a in axes]), spacing, channel_names


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
