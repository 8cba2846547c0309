"""Mesh file round trips for every supported format, CSV tables, and the one-line errors."""

import numpy as np
import pytest
import torch

import geomsci
from geomsci.core import io, shapes
from geomsci.core.mesh import Mesh

# format -> (point fields kept, cell fields kept, vertex order kept)
FORMATS = {
    "ply": (True, True, True),
    "glb": (True, False, True),
    "obj": (False, False, True),
    "off": (False, False, True),
    "stl": (False, False, False),
    "vtk": (True, True, True),
    "vtu": (True, True, True),
    "msh": (True, True, True),
    "xdmf": (True, True, True),
}


@pytest.fixture
def sphere():
    m = shapes.icosphere(1)  # 42 points, 80 faces, float32
    g = torch.Generator().manual_seed(0)
    m.set_point_field("temperature", torch.rand(m.n_points, generator=g))
    m.set_point_field("velocity", torch.rand(m.n_points, 3, generator=g))
    m.set_cell_field("region", torch.arange(m.n_cells) % 5)
    return m


def _same_up_to_vertex_order(a: Mesh, b: Mesh):
    """Match b's points to a's (STL forgets the order) and compare the face sets."""
    d = torch.cdist(b.points.double(), a.points.double())
    perm = d.argmin(dim=1)  # b index -> a index
    assert d.min(dim=1).values.max() < 1e-6
    assert len(set(perm.tolist())) == a.n_points
    faces_b = {tuple(sorted(f)) for f in perm[b.cells].tolist()}
    faces_a = {tuple(sorted(f)) for f in a.cells.tolist()}
    assert faces_a == faces_b


@pytest.mark.parametrize("ext", sorted(FORMATS))
def test_round_trip(tmp_path, sphere, ext):
    if ext == "xdmf":
        pytest.importorskip("h5py", reason="meshio's XDMF writer needs h5py")
    keeps_point, keeps_cell, keeps_order = FORMATS[ext]
    if keeps_point and keeps_cell:
        path = geomsci.save(sphere, tmp_path / f"sphere.{ext}") or tmp_path / f"sphere.{ext}"
    else:  # fields the format cannot hold are dropped with a warning that names them
        with pytest.warns(UserWarning, match="dropped .*'region \\(cell\\)'"):
            path = geomsci.save(sphere, tmp_path / f"sphere.{ext}") or tmp_path / f"sphere.{ext}"
    back = geomsci.load(path)
    assert back.cell_type == "triangle" and back.n_points == sphere.n_points and back.n_cells == sphere.n_cells
    if not keeps_order:
        _same_up_to_vertex_order(sphere, back)
        return
    assert torch.allclose(back.points.double(), sphere.points.double(), atol=1e-6)
    assert torch.equal(back.cells, sphere.cells)
    if keeps_point:
        assert set(back.point_data) == {"temperature", "velocity"}
        for k, v in sphere.point_data.items():
            assert back.point_data[k].shape == v.shape
            assert torch.allclose(back.point_data[k].double(), v.double(), atol=1e-6)
    if keeps_cell:
        assert set(back.cell_data) == {"region"}
        assert torch.equal(back.cell_data["region"].long(), sphere.cell_data["region"])


@pytest.mark.parametrize("ext", ["vtu", "vtk", "msh", "xdmf"])
def test_round_trip_tetra_and_2d(tmp_path, ext):
    if ext == "xdmf":
        pytest.importorskip("h5py", reason="meshio's XDMF writer needs h5py")
    pts = torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]], dtype=torch.float64)
    tets = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    m = Mesh(pts, tets, "tetra", point_data={"u": pts.sum(1)}, cell_data={"k": torch.tensor([1.5, 2.5], dtype=torch.float64)})
    back = io.load(io.save(m, tmp_path / f"tet.{ext}"), dtype=torch.float64)
    assert back.cell_type == "tetra" and torch.equal(back.cells, tets)
    assert torch.equal(back.points, pts)  # float64 survives exactly
    assert torch.equal(back.point_data["u"], m.point_data["u"]) and torch.equal(back.cell_data["k"], m.cell_data["k"])

    flat = shapes.plane_mesh(3, 2, dim=2, dtype=torch.float64)
    back = io.load(io.save(flat, tmp_path / f"flat.{ext}"), dtype=torch.float64, dim=2)
    assert back.points.shape == (12, 2) and torch.equal(back.points, flat.points) and torch.equal(back.cells, flat.cells)


def test_float64_obj_and_point_set(tmp_path):
    m = shapes.torus_mesh(dtype=torch.float64)
    back = io.load(io.save(m, tmp_path / "t.obj"), dtype=torch.float64)
    assert (back.points - m.points).abs().max() < 1e-14
    cloud = Mesh(torch.rand(20, 3, generator=torch.Generator().manual_seed(1)))
    for ext in ("ply", "vtu", "vtk", "msh"):
        back = io.load(io.save(cloud, tmp_path / f"cloud.{ext}"))
        assert back.cells is None and torch.allclose(back.points.float(), cloud.points)


def test_save_refuses_what_the_format_cannot_hold(tmp_path):
    tet = Mesh(torch.eye(4, 3), torch.tensor([[0, 1, 2, 3]]), "tetra")
    with pytest.raises(ValueError, match=r"'tetra' cells; save it as \.vtu"):
        io.save(tet, tmp_path / "t.obj")
    with pytest.raises(ValueError, match="unknown mesh format '.xyz'"):
        io.save(tet, tmp_path / "t.xyz")
    with pytest.raises(ValueError, match="expected a geomsci Mesh"):
        io.save(tet.points, tmp_path / "t.vtu")


def test_missing_unknown_and_corrupt_files(tmp_path, sphere):
    with pytest.raises(FileNotFoundError, match="no such file"):
        io.load(tmp_path / "nope.obj")
    (tmp_path / "x.xyz").write_text("1 2 3\n")
    with pytest.raises(ValueError, match=r"unknown mesh format '\.xyz'; use one of \.obj"):
        io.load(tmp_path / "x.xyz")
    with pytest.raises(ValueError, match="is a directory"):
        io.load(tmp_path)
    for ext in FORMATS:
        bad = tmp_path / f"bad.{ext}"
        bad.write_bytes(b"garbage \x00\x01 not a mesh\n1 2 3\n")
        with pytest.raises(ValueError) as info:
            io.load(bad)
        msg = str(info.value)
        assert str(bad) in msg and "\n" not in msg and ext.upper() in msg
    # a truncated binary file
    good = io.save(sphere, tmp_path / "good.ply")
    cut = tmp_path / "cut.ply"
    cut.write_bytes(good.read_bytes()[:400])
    with pytest.raises(ValueError, match="cut.ply"):
        io.load(cut)


def test_table_round_trip(tmp_path):
    cols = {
        "sample": np.array(["s000", "s001", "wing,b"]),
        "mach": np.array([0.7, 0.75, 1 / 3]),
        "n_points": torch.tensor([100, 200, 300]),
        "cd": torch.tensor([0.0123456789012345, -1e-300, 2.5e10], dtype=torch.float64),
    }
    path = io.write_table(tmp_path / "sub" / "table.csv", cols)
    back = io.read_table(path)
    assert list(back) == list(cols)
    assert back["sample"].dtype.kind == "U" and back["sample"].tolist() == ["s000", "s001", "wing,b"]
    assert back["n_points"].dtype == np.int64 and back["n_points"].tolist() == [100, 200, 300]
    assert np.array_equal(back["mach"], cols["mach"])  # full precision
    assert np.array_equal(back["cd"], cols["cd"].numpy())


def test_table_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        io.read_table(tmp_path / "none.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="empty CSV"):
        io.read_table(tmp_path / "empty.csv")
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3\n")
    with pytest.raises(ValueError, match="line 3 has 1 values"):
        io.read_table(tmp_path / "ragged.csv")
    with pytest.raises(ValueError, match="different lengths"):
        io.write_table(tmp_path / "t.csv", {"a": [1, 2], "b": [1]})
    with pytest.raises(ValueError, match="expected a 1-D array"):
        io.write_table(tmp_path / "t.csv", {"a": np.zeros((2, 2))})
    (tmp_path / "ids.csv").write_text("id,n\n007,1\n010,2\n")
    t = io.read_table(tmp_path / "ids.csv")
    assert t["id"].tolist() == ["007", "010"] and t["n"].dtype == np.int64
    (tmp_path / "gaps.csv").write_text("x,y\n1.5,\n2,3\n")
    t = io.read_table(tmp_path / "gaps.csv")
    assert t["x"].tolist() == [1.5, 2.0] and np.isnan(t["y"][0]) and t["y"][1] == 3


def test_save_refuses_fields_that_would_not_come_back(tmp_path):
    m = shapes.icosphere(0)  # 12 points, 20 faces
    n = m.n_points
    cases = [
        ({"z": torch.zeros(n, dtype=torch.complex64)}, "m.vtu", "'z' is complex"),
        ({"T": torch.zeros(n, 3, 3)}, "m.vtu", r"reshape it to \(12, 9\)"),
        ({"id": torch.full((n,), 2**40)}, "m.ply", "outside the int32 range"),  # was stored as 0
        ({"my field": torch.zeros(n)}, "m.ply", "cannot be empty or contain spaces"),  # file unreadable
        ({"red": torch.zeros(n)}, "m.ply", "PLY geometry/colour property"),  # lost on reading
        ({"my field": torch.zeros(n)}, "m.vtk", "VTK field names cannot contain spaces"),  # was meshio's WriteError
    ]
    for fields, name, message in cases:
        with pytest.raises(ValueError, match=message):
            io.save(Mesh(m.points, m.cells, "triangle", fields), tmp_path / name)
        assert not (tmp_path / name).exists()
    with pytest.raises(ValueError, match="no points"):
        io.save(Mesh(torch.zeros(0, 3)), tmp_path / "empty.vtu")
    (tmp_path / "dir.vtu").mkdir()
    with pytest.raises(ValueError, match="is a directory"):
        io.save(m, tmp_path / "dir.vtu")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        io.save(m, tmp_path / "file" / "m.vtu")


def test_mesh_without_cells_saves_readably(tmp_path):
    m = shapes.icosphere(0)
    empty = Mesh(m.points, m.cells[:0], "triangle", {"u": m.points[:, 0]})
    back = io.load(io.save(empty, tmp_path / "e.vtu"))  # was unreadable (meshio: nothing to concatenate)
    assert back.cells is None and back.n_points == m.n_points and set(back.point_data) == {"u"}


def test_load_warns_about_cells_it_cannot_hold(tmp_path):
    import meshio

    pts = np.random.default_rng(0).random((8, 3))
    meshio.write(tmp_path / "hex.vtu", meshio.Mesh(pts, [("hexahedron", np.arange(8)[None])]))
    with pytest.warns(UserWarning, match="dropped 1 hexahedron cells"):
        back = io.load(tmp_path / "hex.vtu")
    assert back.cells is None and back.n_points == 8
    mixed = meshio.Mesh(pts[:5], [("triangle", np.array([[0, 1, 2]])), ("quad", np.array([[1, 2, 3, 4]]))])
    meshio.write(tmp_path / "mixed.vtu", mixed)
    with pytest.warns(UserWarning, match="triangulated 1 quad cells into triangles"):
        back = io.load(tmp_path / "mixed.vtu")  # triangles and quads: one triangle mesh, nothing lost
    assert back.cell_type == "triangle" and back.cells.tolist() == [[0, 1, 2], [1, 2, 3], [1, 3, 4]]
    tets_and_tris = meshio.Mesh(
        pts[:5],
        [("tetra", np.array([[0, 1, 2, 3]])), ("triangle", np.array([[0, 1, 2]])), ("hexahedron", np.arange(8)[None] % 5)],
    )
    meshio.write(tmp_path / "vol.vtu", tets_and_tris)
    with pytest.warns(UserWarning, match="dropped 1 hexahedron cells.*keeping 'tetra' cells"):
        back = io.load(tmp_path / "vol.vtu")  # the boundary triangles go quietly, the hexahedron with a warning
    assert back.cell_type == "tetra" and back.n_cells == 1


def test_load_checks_dtype(tmp_path):
    path = io.save(shapes.icosphere(0), tmp_path / "s.vtu")
    for bad in (torch.int64, "float64"):
        with pytest.raises(TypeError, match="floating torch.dtype"):
            io.load(path, dtype=bad)


def test_table_input_mistakes(tmp_path):
    (tmp_path / "bom.csv").write_text("\ufeffid,a\ns1,1\n", encoding="utf-8")  # spreadsheet export
    assert list(io.read_table(tmp_path / "bom.csv")) == ["id", "a"]
    (tmp_path / "spaced.csv").write_text("id, a\ns1, 7\n")
    t = io.read_table(tmp_path / "spaced.csv")
    assert list(t) == ["id", "a"] and t["a"].dtype == np.int64 and t["a"].tolist() == [7]
    with pytest.raises(ValueError, match="is a directory"):
        io.read_table(tmp_path)
    with pytest.raises(TypeError, match="columns must be a dict"):
        io.write_table(tmp_path / "t.csv", [("a", [1])])
    with pytest.raises(ValueError, match="both named '1'"):
        io.write_table(tmp_path / "t.csv", {1: [1], "1": [2]})


def test_grid_files_round_trip_scalar_and_vector(tmp_path):
    from geomsci.core.grid import Grid

    g = torch.Generator().manual_seed(0)
    scalar = Grid(torch.rand(4, 5, 6, generator=g, dtype=torch.float64), (-1.0, 0.5, 2.0), (0.25, 0.5, 0.125))
    vector = Grid(torch.rand(4, 5, 6, 3, generator=g, dtype=torch.float32), (0.0, 0.0, 0.0), 0.1)
    for grid, channels in ((scalar, None), (vector, ["u", "reference", "error"]), (vector, None)):
        for ext in ("npz", "vtu", "vtk"):
            path = io.save_grid(grid, tmp_path / f"g{grid.values.dim()}{channels is None}.{ext}", channels=channels)
            back = io.load_grid(path)
            assert back.values.shape == grid.values.shape, (ext, back.values.shape)
            assert back.values.dtype == grid.values.dtype  # the file's precision
            assert torch.equal(back.values, grid.values)
            assert torch.allclose(back.origin.double(), grid.origin.double()) and torch.allclose(
                back.spacing.double(), grid.spacing.double()
            )
            if channels and ext == "npz":
                assert io.grid_channels(path) == channels
    # one channel by name; a dtype on request
    path = io.save_grid(vector, tmp_path / "v.npz", channels=["u", "reference", "error"])
    u = io.load_grid(path, "u", dtype=torch.float64)
    assert u.values.shape == (4, 5, 6) and u.dtype == torch.float64 and torch.equal(u.values, vector.values[..., 0].double())


def test_grid_reader_takes_what_pig_solve_writes(tmp_path):
    # geomsci/pig/cli.py writes np.savez(values=(X, Y, Z, 3), origin, spacing, channels=["u", "reference", "error"])
    values = np.random.default_rng(0).random((5, 5, 5, 3)).astype(np.float32)
    path = tmp_path / "helmholtz_solution.npz"
    np.savez(path, values=values, origin=np.zeros(3), spacing=np.full(3, 0.25), channels=np.array(["u", "reference", "error"]))
    grid = io.load_grid(path)
    assert grid.values.shape == (5, 5, 5, 3) and torch.equal(grid.values, torch.from_numpy(values))
    from geomsci.deepmesh.volume_io import read_volume

    v, origin, spacing = read_volume(path, "error")  # the old scalar reader picks a channel by name
    assert v.shape == (5, 5, 5) and np.array_equal(v, values[..., 2]) and np.allclose(spacing, 0.25)
    with pytest.raises(
        ValueError, match=r"vector grid \(5, 5, 5, 3\) with channels \['u', 'reference', 'error'\]; pick one with --key"
    ):
        read_volume(path)


def test_grid_errors_are_one_line(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        io.load_grid(tmp_path / "none.npz")
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(ValueError, match="bad.npz"):
        io.load_grid(tmp_path / "bad.npz")
    np.savez(tmp_path / "nan.npz", values=np.full((3, 3, 3), np.nan))
    with pytest.raises(ValueError, match="NaN/inf"):
        io.load_grid(tmp_path / "nan.npz")
    with pytest.raises(ValueError, match="save_grid writes .npz, .vtu or .vtk"):
        from geomsci.core.grid import Grid

        io.save_grid(Grid(torch.zeros(2, 2, 2)), tmp_path / "g.obj")
    with pytest.raises(ValueError, match="channels must be 3 distinct names"):
        io.save_grid(Grid(torch.zeros(2, 2, 2, 3)), tmp_path / "g.npz", channels=["a", "a", "b"])


def test_content_that_contradicts_the_extension_is_named(tmp_path, sphere):
    ply = io.save(sphere, tmp_path / "s.ply")
    (tmp_path / "s.obj").write_bytes(ply.read_bytes())  # a PLY named .obj (was "No module named 'charset_normalizer'")
    with pytest.raises(ValueError, match=r"s.obj: the content is a PLY file, not OBJ as the extension says; rename it to \.ply"):
        io.load(tmp_path / "s.obj")
    (tmp_path / "bin.obj").write_bytes(b"v 0 0 0\n\x00\x01\x02\xff" * 10)
    with pytest.raises(ValueError, match="holds binary data, but OBJ is a text format"):
        io.load(tmp_path / "bin.obj")
    (tmp_path / "empty.stl").write_bytes(b"")
    with pytest.raises(ValueError, match="the file is empty"):
        io.load(tmp_path / "empty.stl")


def test_broken_vtu_gives_a_detailed_line(tmp_path, sphere):
    import meshio

    good = io.save(sphere, tmp_path / "good.vtu")
    data = good.read_bytes()
    cut = tmp_path / "cut.vtu"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError) as info:
        io.load(cut)
    msg = str(info.value)
    assert "cut.vtu" in msg and "\n" not in msg and "not well-formed at line" in msg and "cut short" in msg, msg
    raw = tmp_path / "raw.vtu"  # appended raw data, cut inside the data section
    meshio.write(raw, sphere.to_meshio(), compression=None)
    raw.write_bytes(raw.read_bytes()[:-400])
    with pytest.raises(ValueError, match="cut short"):
        io.load(raw)
    bad = tmp_path / "bad.vtu"  # a well-formed file whose cell count disagrees with its arrays
    bad.write_bytes(data.replace(b'NumberOfCells="80"', b'NumberOfCells="81"'))
    with pytest.raises(ValueError, match=r"could not read as VTU \((ReadError at _vtu.py:\d+ \(if .+\)|.+)\)") as info:
        io.load(bad)
    assert "ReadError)" not in str(info.value)  # never the bare exception name (issue 16)


def test_float64_files_load_as_float64_and_info_says_so(tmp_path):
    from geomsci.core.summary import describe

    m = shapes.icosphere(1, dtype=torch.float64)
    m = Mesh(m.points + 1000.0, m.cells, "triangle")  # 3e-5 would be lost in float32 at 1000
    for ext in ("vtu", "ply", "obj", "msh", "vtk"):
        back = io.load(io.save(m, tmp_path / f"m.{ext}"))
        assert back.dtype == torch.float64 and torch.equal(back.points, m.points), ext
        assert describe(back)["dtype"] == "float64"
        assert io.load(tmp_path / f"m.{ext}", dtype=torch.float32).dtype == torch.float32  # dtype= still converts
    f32 = io.load(io.save(m.to(torch.float32), tmp_path / "f.ply"))
    assert f32.dtype == torch.float32
    import trimesh

    tm = trimesh.Trimesh(m.points.numpy(), m.cells.numpy(), process=False)
    assert Mesh.from_trimesh(tm).dtype == torch.float64 and Mesh.from_trimesh(tm, dtype=torch.float32).dtype == torch.float32
