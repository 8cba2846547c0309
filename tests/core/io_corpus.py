"""A corpus of mesh files written by other tools, made at test time, and what each tool holds.

Every case writes one file with a third-party writer (meshio, trimesh, gmsh, pyvista, or a hand-made
byte layout for variants no installed tool writes, such as big-endian PLY) and returns what the
writing tool holds: points, cells, fields. `check_case` loads the file with `geomsci.load` and
compares; `corpus_table` runs them all and gives the rows of the table in docs/io.md.

Run ``python tests/core/io_corpus.py`` to print that table (markdown).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Expected:
    """What the writing tool holds."""

    points: np.ndarray  # (N, D)
    cells: np.ndarray | None = None  # (M, k), None for a point set
    cell_type: str | None = None
    point_data: dict = field(default_factory=dict)
    cell_data: dict = field(default_factory=dict)
    ordered: bool = True  # False: the format does not keep the vertex order (STL), match by position
    dtype: str | None = None  # the points' precision geomsci must keep ('float32'/'float64')
    note: str = ""  # what the case shows (goes to the table)
    warns: str | None = None  # a warning load must give (regex), e.g. about triangulated polygons
    error: str | None = None  # a refusal instead of a mesh (regex of the one-line message)
    atol: float = 1e-6


@dataclass
class Case:
    tool: str
    fmt: str  # extension without the dot
    variant: str
    make: Callable[[Path], Expected]  # writes the file at the given path
    needs: str = ""  # optional module the writer needs (importorskip)

    @property
    def id(self) -> str:
        return f"{self.tool}-{self.fmt}-{self.variant}".replace(" ", "_")


# -- shapes shared by the writers -------------------------------------------------------------------
def _surface():
    """A closed triangle surface (icosphere, 42 points, 80 faces) in float64, with fields."""
    import trimesh

    tm = trimesh.creation.icosphere(subdivisions=1, radius=1.5)
    pts = np.asarray(tm.vertices, dtype=np.float64) + np.array([1000.0, -2.0, 0.5])  # precision shows at 1000
    faces = np.asarray(tm.faces, dtype=np.int64)
    rng = np.random.default_rng(0)
    return pts, faces, rng.random(len(pts)), rng.random((len(pts), 3)), np.arange(len(faces)) % 5


def _tets():
    """Five points, two tetrahedra, float64."""
    pts = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]])
    return pts, np.array([[0, 1, 2, 3], [1, 2, 3, 4]])


def _quads():
    """A 3 x 2 grid of quads in the plane z = 0 (12 points, 6 quads)."""
    x, y = np.meshgrid(np.arange(4.0), np.arange(3.0), indexing="xy")
    pts = np.stack([x.ravel(), y.ravel(), np.zeros(x.size)], 1)
    quads = np.array([[j * 4 + i, j * 4 + i + 1, (j + 1) * 4 + i + 1, (j + 1) * 4 + i] for j in range(2) for i in range(3)])
    return pts, quads


def _tri_of_quads(quads):
    return np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])


# -- meshio ----------------------------------------------------------------------------------------
def _meshio_surface(ext, **kwargs):
    def make(path):
        import meshio

        pts, faces, t, v, region = _surface()
        fields = ext in ("vtk", "vtu", "xdmf", "msh", "ply")
        pdata = {"temperature": t, "velocity": v} if fields and ext != "ply" else ({"temperature": t} if fields else {})
        cdata = {"region": [region.astype(np.int32)]} if ext in ("vtk", "vtu", "xdmf") else {}
        if ext == "msh":
            cdata = {"gmsh:physical": [region.astype(np.int32) + 1], "gmsh:geometrical": [np.ones(len(faces), np.int32)]}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            meshio.write(path, meshio.Mesh(pts, [("triangle", faces)], point_data=pdata, cell_data=cdata), **kwargs)
        cd = {k: v[0] for k, v in cdata.items()}
        if ext == "msh":  # meshio writes physical tags in 2.2 only (4.1 needs entity information it does not have)
            cd = {"physical": region + 1} if kwargs.get("file_format") == "gmsh22" else {}
        exp = Expected(
            pts,
            faces,
            "triangle",
            pdata,
            cd,
            ordered=ext != "stl",
            dtype="float32" if ext == "stl" and kwargs.get("binary") else "float64",
            atol=1e-4 if ext == "stl" else _atol(ext, kwargs),
            note="geometry only"
            if ext in ("stl", "obj", "off")
            else "fields kept" + ("; gmsh:physical as 'physical'" if cd.get("physical") is not None else ""),
        )
        if ext == "msh" and not kwargs.get("binary", True):
            exp.error, exp.note = "could not read as MSH", _MESHIO_ASCII_MSH
        return exp

    return make


_MESHIO_ASCII_MSH = (
    "meshio 5.3.5 under numpy 2 writes point data in ASCII .msh as 'np.float64(0.5)': the file is broken, and refused"
)


def _atol(ext, kwargs):
    """meshio's ASCII VTU writer keeps 11 significant digits."""
    return 1e-8 if ext == "vtu" and kwargs.get("binary") is False else 1e-9


def _meshio_cells(ext, kind, **kwargs):
    """tetra / quad / mixed blocks / 2-D / point cloud / duplicates written by meshio."""

    def make(path):
        import meshio

        note, warns, pd, cd = "", None, {}, {}
        if kind == "tetra":
            pts, cells = _tets()
            blocks, ctype, exp_cells = [("tetra", cells)], "tetra", cells
            pd = {"u": pts.sum(1)}
            cd = {"k": np.array([1.5, 2.5])}
            note = "tetrahedra with fields"
        elif kind == "quad":
            pts, cells = _quads()
            blocks, ctype, exp_cells = [("quad", cells)], "quad", cells
            cd = {"id": np.arange(6, dtype=np.int32)}
            note = "quads kept as quads"
        elif kind == "mixed":
            pts, quads = _quads()
            tris = np.array([[0, 1, 5], [0, 5, 4]])
            blocks = [("triangle", tris), ("quad", quads[2:]), ("line", np.array([[0, 1], [1, 2]]))]
            ctype, exp_cells = "triangle", np.concatenate([tris, _tri_of_quads(quads[2:])])
            cd_blocks = [np.array([0, 1], np.int32), np.arange(2, 6, dtype=np.int32), np.array([7, 8], np.int32)]
            cd = {"id": np.concatenate([[0, 1], np.arange(2, 6), np.arange(2, 6)]).astype(np.int32)}  # quads' two halves
            warns, note = "triangulated 4 quad", "triangle + quad + line blocks: quads split in two, lines dropped"
        elif kind == "2d":
            pts3, quads = _quads()
            pts = pts3[:, :2]
            cells = _tri_of_quads(quads)
            blocks, ctype, exp_cells = [("triangle", cells)], "triangle", cells
            pd = {"f": pts[:, 0] * 2}
            note = "2-D points (file pads z = 0; load(dim=2) drops it)"
            pts = pts3
        elif kind == "cloud":
            pts = np.random.default_rng(1).random((30, 3))
            blocks, ctype, exp_cells = [("vertex", np.arange(30)[:, None])], None, None
            pd = {"mass": np.linspace(1, 2, 30)}
            note = "point cloud (vertex cells) -> point set"
        elif kind == "dups":
            spts, faces, *_ = _surface()
            pts = np.concatenate([spts, spts[:3], [[9.0, 9.0, 9.0]]])  # 3 duplicate vertices + 1 unreferenced
            cells = np.concatenate([faces, faces[:2], [[len(spts), len(spts) + 1, len(spts) + 2]]])  # duplicate faces too
            blocks, ctype, exp_cells = [("triangle", cells)], "triangle", cells
            note = "duplicate vertices and faces, an unreferenced vertex: kept as written"
        if kind != "mixed":
            cd_blocks = None
        if ext == "msh":
            cd_blocks, cd = None, {}  # gmsh files hold tags, not named cell fields
        mesh = meshio.Mesh(
            pts if kind != "2d" else pts[:, :2],
            blocks,
            point_data=pd,
            cell_data=({"id": cd_blocks} if cd_blocks else {k: [v] for k, v in cd.items()}),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            meshio.write(path, mesh, **kwargs)
        exp = Expected(pts, exp_cells, ctype, pd, cd, note=note, warns=warns, atol=_atol(ext, kwargs))
        if ext == "msh" and not kwargs.get("binary", True) and pd:
            exp.error, exp.note = "could not read as MSH", _MESHIO_ASCII_MSH
        return exp

    return make


def _meshio_cases():
    cases = []
    for fmt, variants in (
        (
            "vtk",
            [
                ("5.1 binary", dict(binary=True)),
                ("5.1 ascii", dict(binary=False)),
                ("4.2 binary", dict(file_format="vtk42", binary=True)),
                ("4.2 ascii", dict(file_format="vtk42", binary=False)),
            ],
        ),
        (
            "vtu",
            [
                ("binary zlib", dict(binary=True)),
                ("binary lzma", dict(binary=True, compression="lzma")),
                ("binary raw", dict(binary=True, compression=None)),
                ("ascii", dict(binary=False)),
            ],
        ),
        (
            "msh",
            [
                ("4.1 binary", dict(file_format="gmsh", binary=True)),
                ("4.1 ascii", dict(file_format="gmsh", binary=False)),
                ("2.2 binary", dict(file_format="gmsh22", binary=True)),
                ("2.2 ascii", dict(file_format="gmsh22", binary=False)),
            ],
        ),
        ("xdmf", [("XML", dict(data_format="XML")), ("HDF", dict(data_format="HDF")), ("Binary", dict(data_format="Binary"))]),
        ("ply", [("binary", dict(binary=True)), ("ascii", dict(binary=False))]),
        ("stl", [("binary", dict(binary=True)), ("ascii", dict(binary=False))]),
        ("obj", [("", {})]),
        ("off", [("", {})]),
    ):
        for variant, kw in variants:
            needs = "h5py" if fmt == "xdmf" else ""
            cases.append(Case("meshio", fmt, variant or "text", _meshio_surface(fmt, **kw), needs))
            if fmt in ("vtk", "vtu", "msh", "xdmf"):
                for kind in ("tetra", "quad", "mixed", "2d", "cloud", "dups"):
                    if fmt == "msh" and (kind == "cloud" or (kind == "mixed" and "4.1" in variant)):
                        continue  # meshio's gmsh writer refuses these (it needs gmsh entity tags)
                    cases.append(Case("meshio", fmt, f"{variant} {kind}", _meshio_cells(fmt, kind, **kw), needs))
    return cases


# -- trimesh ---------------------------------------------------------------------------------------
def _trimesh_case(kind):
    def make(path):
        import trimesh

        pts, faces, t, v, region = _surface()
        tm = trimesh.Trimesh(pts, faces, process=False)
        if kind in ("ply ascii", "ply binary"):
            enc = kind.split()[1]
            colors = (np.random.default_rng(2).random((len(pts), 4)) * 255).astype(np.uint8)
            tm.visual.vertex_colors = colors
            tm.vertex_attributes["temperature"] = t.astype(np.float32)
            path.write_bytes(tm.export(file_type="ply", encoding=enc, include_attributes=True))
            return Expected(
                pts,
                faces,
                "triangle",
                {"colors": colors, "temperature": t.astype(np.float32)},
                dtype="float32",
                atol=1e-4,
                note="trimesh stores float64 vertices as float; colours -> 'colors' (N, 4) uint8, custom property kept",
            )
        if kind == "obj uv normals":
            uv = np.stack([np.arctan2(pts[:, 1] + 2, pts[:, 0] - 1000), pts[:, 2]], 1) % 1.0
            tm.visual = trimesh.visual.TextureVisuals(uv=uv)
            normals = np.asarray(tm.vertex_normals)
            path.write_text(tm.export(file_type="obj", include_normals=True, include_texture=True, digits=15))
            return Expected(
                pts,
                faces,
                "triangle",
                {"uv": uv, "normals": normals},
                dtype="float64",
                note="v/vt/vn faces: texture coordinates -> 'uv', normals -> 'normals'",
                atol=1e-8,
            )
        if kind == "obj":
            path.write_text(tm.export(file_type="obj", digits=17))
            return Expected(pts, faces, "triangle", dtype="float64", note="float64 kept to the last digit", atol=0)
        if kind == "obj quads":
            qp, quads = _quads()
            path.write_text(
                "".join(f"v {x} {y} {z}\n" for x, y, z in qp)
                + "".join("f " + " ".join(str(i + 1) for i in q) + "\n" for q in quads)
            )
            return Expected(qp, _tri_of_quads(quads), "triangle", ordered=False, note="quads triangulated by trimesh")
        if kind in ("stl ascii", "stl binary"):
            data = tm.export(file_type="stl_ascii" if kind.endswith("ascii") else "stl")
            path.write_bytes(data.encode() if isinstance(data, str) else data)
            return Expected(
                pts,
                faces,
                "triangle",
                ordered=False,
                dtype="float64" if kind.endswith("ascii") else "float32",
                atol=1e-4,
                note="corners merged back into shared vertices",
            )
        if kind == "off":
            path.write_text(tm.export(file_type="off", digits=17))
            return Expected(pts, faces, "triangle", dtype="float64", atol=0)
        if kind == "glb":
            tm.vertex_attributes["temperature"] = t.astype(np.float32)
            path.write_bytes(tm.export(file_type="glb"))
            return Expected(pts, faces, "triangle", {"temperature": t.astype(np.float32)}, dtype="float32", atol=1e-3)
        if kind == "glb scene":
            box = trimesh.creation.box()
            scene = trimesh.Scene()
            shifts = [np.array([0.0, 0, 0]), np.array([5.0, 0, 0]), np.array([0, 0, 7.0])]
            for i, s in enumerate(shifts):
                m = np.eye(4)
                m[:3, 3] = s
                if i == 2:
                    m[:3, :3] = trimesh.transformations.rotation_matrix(np.pi / 2, [0, 0, 1])[:3, :3]
                scene.add_geometry(box, node_name=f"n{i}", geom_name="box", transform=m)  # one geometry, 3 instances
            held = scene.to_geometry()
            path.write_bytes(scene.export(file_type="glb"))
            return Expected(
                np.asarray(held.vertices),
                np.asarray(held.faces),
                "triangle",
                dtype="float32",
                ordered=False,
                atol=1e-5,
                note="3 nodes instancing one box, node transforms applied",
            )
        if kind == "point cloud ply":
            cloud = trimesh.PointCloud(pts)
            path.write_bytes(cloud.export(file_type="ply"))
            return Expected(pts, None, None, dtype="float32", atol=1e-4, note="point cloud -> point set")
        raise ValueError(kind)

    return make


def _trimesh_cases():
    kinds = {
        "ply": ["ply ascii", "ply binary", "point cloud ply"],
        "obj": ["obj", "obj uv normals", "obj quads"],
        "stl": ["stl ascii", "stl binary"],
        "off": ["off"],
        "glb": ["glb", "glb scene"],
    }
    return [Case("trimesh", fmt, k, _trimesh_case(k)) for fmt, ks in kinds.items() for k in ks]


# -- hand-made PLY variants ------------------------------------------------------------------------
def _ply_by_hand(kind):
    def make(path):
        pts, faces, t, v, region = _surface()
        if kind == "big-endian":
            n, f = len(pts), len(faces)
            header = (
                f"ply\nformat binary_big_endian 1.0\nelement vertex {n}\nproperty double x\nproperty double y\n"
                f"property double z\nproperty float nx\nproperty float ny\nproperty float nz\nproperty ushort label\n"
                f"element face {f}\nproperty list uchar uint vertex_indices\nproperty short region\nend_header\n"
            )
            normals = (pts - pts.mean(0)).astype(np.float32)
            label = np.arange(n, dtype=np.uint16)
            vrow = np.empty(
                n, dtype=[("x", ">f8"), ("y", ">f8"), ("z", ">f8"), ("nx", ">f4"), ("ny", ">f4"), ("nz", ">f4"), ("label", ">u2")]
            )
            for i, c in enumerate("xyz"):
                vrow[c] = pts[:, i]
                vrow["n" + c] = normals[:, i]
            vrow["label"] = label
            frow = np.empty(f, dtype=[("n", "u1"), ("v", ">u4", (3,)), ("r", ">i2")])
            frow["n"], frow["v"], frow["r"] = 3, faces, region
            path.write_bytes(header.encode() + vrow.tobytes() + frow.tobytes())
            return Expected(
                pts,
                faces,
                "triangle",
                {"normals": normals, "label": label},
                {"region": region.astype(np.int16)},
                dtype="float64",
                atol=0,
                note="big-endian doubles, normals -> 'normals', ushort/short fields",
            )
        if kind == "polygons ascii":
            qp, quads = _quads()
            polys = [list(q) for q in quads[:4]] + [[2, 3, 7], [6, 7, 11, 10, 9]]
            lines = [
                "ply",
                "format ascii 1.0",
                "comment mixed sizes",
                f"element vertex {len(qp)}",
                "property float x",
                "property float y",
                "property float z",
                f"element face {len(polys)}",
                "property list uchar int vertex_index",
                "property uchar grey",
                "end_header",
            ]
            lines += [" ".join(map(str, p)) for p in qp]
            lines += [f"{len(p)} " + " ".join(map(str, p)) + f" {i * 10}" for i, p in enumerate(polys)]
            path.write_text("\r\n".join(lines) + "\r\n")  # Windows line ends
            tris, owner = [], []
            for i, p in enumerate(polys):
                for k in range(len(p) - 2):
                    tris.append([p[0], p[k + 1], p[k + 2]])
                    owner.append(i)
            return Expected(
                qp,
                np.array(tris),
                "triangle",
                cell_data={"grey": np.array(owner, np.uint8) * 10},
                dtype="float32",
                warns="triangulated 6 polygon",
                note="faces of 3, 4 and 5 vertices, CRLF: fan-triangulated, face property repeated",
            )
        if kind == "quads binary":
            qp, quads = _quads()
            header = (
                f"ply\nformat binary_little_endian 1.0\nelement vertex {len(qp)}\nproperty float x\nproperty float y\n"
                f"property float z\nelement face {len(quads)}\nproperty list uchar int vertex_indices\nend_header\n"
            )
            frow = np.empty(len(quads), dtype=[("n", "u1"), ("v", "<i4", (4,))])
            frow["n"], frow["v"] = 4, quads
            path.write_bytes(header.encode() + qp.astype("<f4").tobytes() + frow.tobytes())
            return Expected(qp, quads, "quad", dtype="float32", note="quads kept as quads")
        raise ValueError(kind)

    return make


# -- gmsh ------------------------------------------------------------------------------------------
def _gmsh_case(dim, version, binary):
    def make(path):
        import gmsh

        gmsh.initialize(interruptible=False)
        try:
            gmsh.option.setNumber("General.Terminal", 0)
            gmsh.model.add("corpus")
            if dim == 2:
                surf = gmsh.model.occ.addRectangle(0, 0, 0, 2.0, 1.0)
                gmsh.model.occ.synchronize()
                gmsh.model.addPhysicalGroup(2, [surf], 7, name="plate")
                edges = [e[1] for e in gmsh.model.getBoundary([(2, surf)], oriented=False)]
                gmsh.model.addPhysicalGroup(1, edges, 3, name="rim")
                gmsh.option.setNumber("Mesh.MeshSizeMax", 0.3)
            else:
                vol = gmsh.model.occ.addBox(0, 0, 0, 1.0, 1.0, 1.0)
                gmsh.model.occ.synchronize()
                gmsh.model.addPhysicalGroup(3, [vol], 11, name="solid")
                gmsh.option.setNumber("Mesh.MeshSizeMax", 0.5)
            gmsh.model.mesh.generate(dim)
            gmsh.option.setNumber("Mesh.MshFileVersion", version)
            gmsh.option.setNumber("Mesh.Binary", int(binary))
            gmsh.write(str(path))
            tags, coords, _ = gmsh.model.mesh.getNodes()
            coords = coords.reshape(-1, 3)
            etype = 2 if dim == 2 else 4
            _, etags, enodes = gmsh.model.mesh.getElements(dim)
            k = 3 if dim == 2 else 4
            types = list(gmsh.model.mesh.getElements(dim)[0])
            conn = enodes[types.index(etype)].reshape(-1, k)
        finally:
            gmsh.finalize()
        # gmsh's node tags -> rows of its coordinate array
        row = np.zeros(int(tags.max()) + 1, dtype=np.int64)
        row[tags.astype(np.int64)] = np.arange(len(tags))
        cells = row[conn.astype(np.int64)]
        used = np.unique(cells)
        remap = np.full(len(coords), -1)
        remap[used] = np.arange(len(used))
        return Expected(
            coords[used],
            remap[cells],
            "triangle" if dim == 2 else "tetra",
            cell_data={"physical": np.full(len(cells), 7 if dim == 2 else 11)},
            ordered=False,
            atol=1e-12,
            dtype="float64",
            note=f"{dim}-D, physical group -> cell field 'physical'" + (", boundary lines dropped" if dim == 2 else ""),
        )

    return make


def _gmsh_cases():
    return [
        Case("gmsh", "msh", f"{v} {'binary' if b else 'ascii'} {d}-D", _gmsh_case(d, v, b), "gmsh")
        for v in (2.2, 4.1)
        for b in (False, True)
        for d in (2, 3)
    ]


# -- pyvista ---------------------------------------------------------------------------------------
def _pyvista_case(kind, ext, binary=True):
    def make(path):
        import pyvista as pv

        if kind == "polydata":
            pd = pv.Sphere(theta_resolution=8, phi_resolution=6)
            if ext != "ply":
                pd.point_data.clear()
            pd.point_data["height"] = pd.points[:, 2].astype(np.float64)
            pd.cell_data["area_id"] = np.arange(pd.n_cells, dtype=np.int32)
            mesh = pd
        else:
            grid = pv.ImageData(dimensions=(3, 3, 2)).cast_to_unstructured_grid().triangulate()
            grid.point_data["u"] = np.asarray(grid.points[:, 0], dtype=np.float64)
            grid.cell_data["cid"] = np.arange(grid.n_cells, dtype=np.int32)
            mesh = grid
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if ext in ("ply", "stl"):
                mesh.save(str(path), binary=binary)
            else:
                mesh.save(str(path), binary=binary)
        pts = np.asarray(mesh.points)
        if kind == "polydata":
            cells = np.asarray(mesh.faces).reshape(-1, 4)[:, 1:]
            ctype = "triangle"
        else:
            cells = np.asarray(mesh.cells).reshape(-1, 5)[:, 1:]
            ctype = "tetra"
        pdata = {k: np.asarray(mesh.point_data[k]) for k in mesh.point_data}
        cdata = {k: np.asarray(mesh.cell_data[k]) for k in mesh.cell_data}
        own = str(pts.dtype)
        if ext == "stl":
            return Expected(
                pts, cells, ctype, ordered=False, dtype="float32" if binary else "float64", atol=1e-5, note="geometry only"
            )
        if ext == "ply":  # VTK's PLY writer stores normals (and colours, texture coordinates), not other arrays
            return Expected(
                pts,
                cells,
                ctype,
                {"normals": pdata["Normals"]},
                {},
                dtype=own,
                note="VTK writes Normals as nx/ny/nz -> 'normals'; other arrays are not written",
            )
        return Expected(pts, cells, ctype, pdata, cdata, dtype=own, note="fields kept")

    return make


def _pyvista_cases():
    cases = []
    for kind in ("polydata", "unstructured"):
        for b in (True, False):
            cases.append(
                Case("pyvista", "vtk", f"legacy {'binary' if b else 'ascii'} {kind}", _pyvista_case(kind, "vtk", b), "pyvista")
            )
    cases += [
        Case("pyvista", "vtu", "binary unstructured", _pyvista_case("unstructured", "vtu"), "pyvista"),
        Case("pyvista", "vtu", "ascii unstructured", _pyvista_case("unstructured", "vtu", False), "pyvista"),
        Case("pyvista", "vtp", "binary polydata", _pyvista_case("polydata", "vtp"), "pyvista"),
        Case("pyvista", "vtp", "ascii polydata", _pyvista_case("polydata", "vtp", False), "pyvista"),
        Case("pyvista", "ply", "binary", _pyvista_case("polydata", "ply"), "pyvista"),
        Case("pyvista", "ply", "ascii", _pyvista_case("polydata", "ply", False), "pyvista"),
        Case("pyvista", "stl", "binary", _pyvista_case("polydata", "stl"), "pyvista"),
        Case("pyvista", "stl", "ascii", _pyvista_case("polydata", "stl", False), "pyvista"),
    ]
    return cases


CASES: list[Case] = (
    _meshio_cases()
    + _trimesh_cases()
    + [Case("by hand", "ply", k, _ply_by_hand(k)) for k in ("big-endian", "polygons ascii", "quads binary")]
    + _gmsh_cases()
    + _pyvista_cases()
)


# -- checking --------------------------------------------------------------------------------------
def _match(expected: np.ndarray, loaded: np.ndarray, atol: float) -> np.ndarray:
    """Loaded point index -> expected point index, by position (a bijection, or AssertionError)."""
    from scipy.spatial import cKDTree

    d, idx = cKDTree(expected).query(loaded)
    assert d.max() <= max(atol, 1e-12) * 10, f"points moved by up to {d.max():.3g}"
    assert len(np.unique(idx)) == len(expected) == len(loaded), "points do not match one to one"
    return idx


def check_case(case: Case, folder: Path) -> str:
    """Write the case's file, load it, compare with what the tool holds; the table's 'result' text."""

    import geomsci

    path = folder / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', case.id)}.{case.fmt}"
    exp = case.make(path)
    if exp.error:
        try:
            geomsci.load(path)
        except ValueError as e:
            msg = str(e)
            assert re.search(exp.error, msg), msg
            assert "\n" not in msg and str(path) in msg
            return "refused: " + msg.replace(str(path), "FILE") + (f" ({exp.note})" if exp.note else "")
        raise AssertionError("expected a refusal")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mesh = geomsci.load(path)
    said = [str(w.message) for w in caught]
    if exp.warns:
        assert any(re.search(exp.warns, s) for s in said), f"expected a warning {exp.warns!r}, got {said}"
    pts = mesh.points.numpy()
    if exp.dtype:
        assert str(mesh.dtype) == f"torch.{exp.dtype}", f"points are {mesh.dtype}, the file holds {exp.dtype}"
    want = exp.points
    if pts.shape[1] == 3 and want.shape[1] == 2:
        want = np.concatenate([want, np.zeros((len(want), 1))], 1)
    if pts.shape[1] == 2 and want.shape[1] == 3 and not want[:, 2].any():  # XDMF keeps 2-D points as 2-D
        want = want[:, :2]
    assert pts.shape == want.shape, f"points {pts.shape}, the tool holds {want.shape}"
    if exp.ordered:
        assert np.allclose(pts, want, atol=exp.atol, rtol=0), f"points differ by {np.abs(pts - want).max():.3g}"
        perm = np.arange(len(pts))
    else:
        perm = _match(want, pts.astype(np.float64), exp.atol)
    if exp.cells is None:
        assert mesh.cells is None, f"expected a point set, got {mesh.cell_type} cells"
    else:
        assert mesh.cell_type == exp.cell_type, f"cell type {mesh.cell_type}, the tool holds {exp.cell_type}"
        cells = perm[mesh.cells.numpy()]
        if exp.ordered:
            assert np.array_equal(cells, exp.cells), "cells differ"
        else:
            got = sorted(map(tuple, np.sort(cells, 1).tolist()))
            assert got == sorted(map(tuple, np.sort(exp.cells, 1).tolist())), "cells differ"
    for kind, want_fields, have in (("point", exp.point_data, mesh.point_data), ("cell", exp.cell_data, mesh.cell_data)):
        missing = set(want_fields) - set(have)
        assert not missing, f"{kind} fields {sorted(missing)} lost (have {sorted(have)})"
        for k, v in want_fields.items():
            got = have[k].numpy()
            v = np.asarray(v)
            if kind == "point" and not exp.ordered:
                v = v[perm]
            assert got.shape == v.shape or got.reshape(v.shape).shape == v.shape, f"{kind} field {k}: {got.shape} vs {v.shape}"
            assert np.allclose(got.reshape(v.shape).astype(np.float64), v.astype(np.float64), atol=max(exp.atol, 1e-6)), (
                f"{kind} field {k} differs"
            )

    def desc(k, v, where=""):
        shape = "x".join(map(str, v.shape[1:]))
        return f"{k}{where} {str(v.dtype)[6:]}{' ' + shape if shape else ''}"

    kept = (
        ", ".join([desc(k, v) for k, v in mesh.point_data.items()] + [desc(k, v, " (cell)") for k, v in mesh.cell_data.items()])
        or "no fields"
    )
    cells = f"{mesh.n_cells} {mesh.cell_type}" if mesh.cells is not None else "no cells (point set)"
    return f"loads: {mesh.n_points} points {str(mesh.dtype)[6:]}, {cells}; {kept}" + (f" ({exp.note})" if exp.note else "")


def table_row(tool, fmt, variant, result) -> str:
    """The markdown row of one case in docs/io.md."""
    return "| " + " | ".join(x.replace("|", "/") for x in (tool, fmt, variant, result)) + " |"


def corpus_table(folder: Path) -> list[tuple[str, str, str, str]]:
    """(tool, format, variant, result) for every case whose writer is installed."""
    import importlib

    rows = []
    for case in CASES:
        if case.needs:
            try:
                importlib.import_module(case.needs)
            except ImportError:
                rows.append((case.tool, case.fmt, case.variant, f"not run ({case.needs} not installed)"))
                continue
        try:
            rows.append((case.tool, case.fmt, case.variant, check_case(case, folder)))
        except Exception as e:  # the table shows a failure; the test fails on it
            rows.append((case.tool, case.fmt, case.variant, f"FAILED: {type(e).__name__}: {e}"))
    return rows


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        rows = corpus_table(Path(tmp))
    print("| tool | format | variant | result |\n|---|---|---|---|")
    for r in rows:
        print(table_row(*r))
