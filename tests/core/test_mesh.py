"""Mesh and Grid: validation, devices and dtypes, conversions, differentiable trilinear sampling."""

import meshio
import numpy as np
import pytest
import torch

from geomsci.core import shapes
from geomsci.core.grid import Grid
from geomsci.core.mesh import Mesh

PTS = torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])


# -- Mesh validation ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"points": torch.zeros(4)}, r"points must have shape \(N, 2\) or \(N, 3\), got \(4,\)"),
        ({"points": torch.zeros(4, 4)}, r"got \(4, 4\)"),
        ({"points": torch.tensor([[0.0, 0, 0], [float("nan"), 0, 0]])}, r"NaN or inf \(first bad rows: \[1\]\)"),
        ({"points": PTS, "cells": torch.tensor([[0, 1, 4]])}, "cell index 4 out of range for 4 points"),
        ({"points": PTS, "cells": torch.tensor([[0, 1, -1]])}, "negative index"),
        ({"points": PTS, "cells": [[0, 1, 2], [0, 1, 2, 3]]}, r"mixed cell sizes \[3, 4\]"),
        ({"points": PTS, "cells": torch.tensor([0, 1, 2])}, r"cells must have shape \(M, k\)"),
        ({"points": PTS, "cells": torch.tensor([[0, 1, 2]]), "cell_type": "tetra"}, "'tetra' needs 4 vertices per cell, got 3"),
        ({"points": PTS, "cells": torch.tensor([[0, 1, 2]]), "cell_type": "hexahedron"}, "unknown cell_type 'hexahedron'"),
        ({"points": PTS, "cells": torch.zeros(1, 5, dtype=torch.long)}, "cannot infer a cell type for 5"),
        ({"points": PTS, "cells": torch.tensor([[0.0, 1.5, 2.0]])}, "non-integer floats"),
        ({"points": PTS, "cell_type": "triangle"}, "cell_type given without cells"),
        ({"points": PTS, "point_data": {"u": torch.zeros(3)}}, r"point field 'u' has shape \(3,\), expected first dimension 4"),
        ({"points": PTS, "cells": torch.tensor([[0, 1, 2]]), "cell_data": {"k": torch.zeros(2)}}, "cell field 'k'"),
        ({"points": PTS, "cell_data": {"k": torch.zeros(4)}}, "on a point set"),
    ],
)
def test_mesh_validation_names_the_problem(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Mesh(**kwargs)


def test_mesh_basics_and_inference():
    m = Mesh(np.asarray(PTS), np.array([[0, 1, 2, 3]]), "tetra")
    assert m.cell_type == "tetra" and m.cells.dtype == torch.long and m.points.dtype == torch.get_default_dtype()
    with pytest.raises(ValueError, match="quads or tetrahedra.*pass cell_type='quad' or cell_type='tetra'"):
        Mesh(PTS, [[0, 1, 2, 3]])  # 3-D points, 4 vertices per cell: ambiguous, never guessed
    assert Mesh(PTS[:, :2], [[0, 1, 2, 3]]).cell_type == "quad"  # 2-D points: quads (tetrahedra need 3-D)
    with pytest.raises(ValueError, match="tetrahedra need 3-D points"):
        Mesh(PTS[:, :2], [[0, 1, 2, 3]], "tetra")
    assert Mesh(PTS, [[0, 1]]).cell_type == "line"
    assert Mesh(PTS, torch.tensor([[0.0, 1.0, 2.0]])).cells.dtype == torch.long  # integral floats accepted
    assert Mesh(PTS).cells is None and Mesh(PTS).n_cells == 0
    with pytest.raises(ValueError, match="not 'triangle'"):
        Mesh(PTS, [[0, 1, 2, 3]], "tetra").faces  # noqa: B018 (the property raises)
    assert "2 points" in repr(Mesh(PTS[:2]))


def test_mesh_keeps_autograd_and_detach_cuts_it():
    p = PTS.clone().double().requires_grad_()
    m = Mesh(p * 2, torch.tensor([[0, 1, 2]]))
    m.points.sum().backward()
    assert torch.equal(p.grad, torch.full_like(p, 2.0))
    assert not m.detach().points.requires_grad


def test_mesh_to_dtype_keeps_indices_long(device):
    m = shapes.icosphere(1)
    m.set_point_field("u", torch.arange(m.n_points, dtype=torch.float32))
    m.set_point_field("label", torch.arange(m.n_points))
    m.set_cell_field("w", torch.ones(m.n_cells))
    d = m.to(device, torch.float64)
    assert (
        d.points.dtype == torch.float64 and d.point_data["u"].dtype == torch.float64 and d.cell_data["w"].dtype == torch.float64
    )
    assert d.cells.dtype == torch.long and d.point_data["label"].dtype == torch.long
    assert d.points.device.type == device.type and d.cells.device.type == device.type
    back = d.to("cpu", torch.float32)
    assert torch.equal(back.points, m.points) and torch.equal(back.cells, m.cells)


@pytest.mark.gpu
def test_mesh_and_grid_to_cuda():
    m = shapes.torus_mesh().to("cuda")
    assert m.points.is_cuda and m.cells.is_cuda
    g = Grid(torch.rand(3, 3, 3)).to("cuda")
    pts = torch.rand(5, 3, device="cuda") * 2
    assert torch.allclose(g.sample(pts).cpu(), Grid(g.values.cpu()).sample(pts.cpu()))


# -- conversions --------------------------------------------------------------------------------
def test_trimesh_round_trip_with_fields():
    m = shapes.torus_mesh(1.0, 0.3, 12, 8, dtype=torch.float64)
    m.set_point_field("h", m.points[:, 2] * 3)
    m.set_cell_field("id", torch.arange(m.n_cells))
    tm = m.to_trimesh()
    assert tm.is_watertight and tm.euler_number == 0
    assert np.allclose(tm.vertex_attributes["h"], m.point_data["h"].numpy())
    back = Mesh.from_trimesh(tm, dtype=torch.float64)
    assert torch.equal(back.points, m.points) and torch.equal(back.cells, m.cells)
    assert torch.equal(back.point_data["h"], m.point_data["h"]) and torch.equal(back.cell_data["id"], m.cell_data["id"])
    with pytest.raises(ValueError, match="needs a 3-D triangle mesh"):
        shapes.plane_mesh(2, 2, dim=2).to_trimesh()


def test_meshio_round_trip_and_block_choice():
    m = Mesh(
        PTS.double(),
        torch.tensor([[0, 1, 2, 3]]),
        "tetra",
        point_data={"u": torch.arange(4.0)},
        cell_data={"k": torch.tensor([7])},
    )
    mm = m.to_meshio()
    assert mm.cells[0].type == "tetra" and np.array_equal(mm.point_data["u"], [0, 1, 2, 3])
    back = Mesh.from_meshio(mm)
    assert torch.equal(back.points, m.points) and torch.equal(back.cells, m.cells)
    assert torch.equal(back.point_data["u"], m.point_data["u"]) and torch.equal(back.cell_data["k"], m.cell_data["k"])
    # a file with boundary triangles and volume tets: the tets are kept unless asked otherwise
    mixed = meshio.Mesh(
        PTS.numpy(),
        [("triangle", np.array([[0, 1, 2]])), ("tetra", np.array([[0, 1, 2, 3]]))],
        cell_data={"k": [np.array([1.0]), np.array([2.0])]},
    )
    assert Mesh.from_meshio(mixed).cell_type == "tetra" and Mesh.from_meshio(mixed).cell_data["k"].tolist() == [2.0]
    tri = Mesh.from_meshio(mixed, cell_type="triangle")
    assert tri.cell_type == "triangle" and tri.cell_data["k"].tolist() == [1.0]
    with pytest.raises(ValueError, match="no 'quad' cells"):
        Mesh.from_meshio(mixed, cell_type="quad")


def test_pytorch3d_conversion_is_optional():
    try:
        import pytorch3d  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="needs pytorch3d"):
            shapes.icosphere(1).to_pytorch3d()
    else:  # pragma: no cover - not installable here
        m = shapes.icosphere(1)
        assert torch.equal(Mesh.from_pytorch3d(m.to_pytorch3d()).cells, m.cells)


# -- Grid ---------------------------------------------------------------------------------------
def test_grid_validation():
    with pytest.raises(ValueError, match=r"values must have shape \(X, Y, Z\)"):
        Grid(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="at least 2 nodes per axis"):
        Grid(torch.zeros(3, 1, 3))
    with pytest.raises(ValueError, match="NaN or inf"):
        Grid(torch.full((2, 2, 2), float("inf")))
    with pytest.raises(ValueError, match="spacing must be positive"):
        Grid(torch.zeros(2, 2, 2), spacing=(1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match=r"points must have shape \(P, 3\)"):
        Grid(torch.zeros(2, 2, 2)).sample(torch.zeros(4, 2))


def test_grid_nodes_bounds_and_from_bounds():
    g = Grid.from_bounds(torch.zeros(3, 4, 5, dtype=torch.float64), ((-1, -1, -1), (1, 2, 3)))
    assert torch.allclose(g.bounds, torch.tensor([[-1.0, -1, -1], [1, 2, 3]], dtype=torch.float64))
    nodes = g.node_points()
    assert nodes.shape == (60, 3)
    # x slowest: node (i, j, k) sits at row i * 20 + j * 5 + k
    assert torch.allclose(nodes[1 * 20 + 2 * 5 + 3], g.origin + torch.tensor([1.0, 2, 3], dtype=torch.float64) * g.spacing)


def _linear(points):
    return 0.5 + 2.0 * points[:, 0] - 3.0 * points[:, 1] + 0.25 * points[:, 2]


def test_grid_sample_is_exact_on_linear_fields():
    """Trilinear interpolation reproduces any affine function exactly inside the lattice."""
    g0 = Grid(torch.zeros(4, 5, 6, dtype=torch.float64), origin=(-1.0, 0.5, 2.0), spacing=(0.5, 0.25, 0.4))
    g = Grid(_linear(g0.node_points()).reshape(4, 5, 6), g0.origin, g0.spacing)
    lo, hi = g.bounds
    q = lo + (hi - lo) * torch.rand(200, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    q = torch.cat([q, g.node_points()[:7], hi.unsqueeze(0)])  # include nodes and the far corner
    assert torch.allclose(g.sample(q), _linear(q), atol=1e-12)
    # vector-valued: (X, Y, Z, 2)
    gv = Grid(torch.stack([g.values, -2 * g.values], dim=-1), g.origin, g.spacing)
    assert torch.allclose(gv.sample(q), torch.stack([_linear(q), -2 * _linear(q)], -1), atol=1e-12)
    # outside: clamped to the boundary values
    out = torch.tensor([[-5.0, 0.75, 2.4]], dtype=torch.float64)
    assert torch.allclose(g.sample(out), _linear(torch.tensor([[-1.0, 0.75, 2.4]], dtype=torch.float64)))


def test_grid_sample_gradcheck_values_and_points():
    gen = torch.Generator().manual_seed(1)
    values = torch.rand(3, 4, 3, dtype=torch.float64, generator=gen).requires_grad_()
    # points away from cell faces, where trilinear interpolation is smooth in the points
    pts = (torch.tensor([[0.3, 0.6, 0.2], [1.4, 2.3, 1.7], [0.8, 1.2, 0.4]], dtype=torch.float64) * 0.5).requires_grad_()

    def f(v, p):
        return Grid(v, origin=(0.0, 0.0, 0.0), spacing=0.5).sample(p)

    assert torch.autograd.gradcheck(f, (values, pts), eps=1e-6, atol=1e-8)
    assert torch.autograd.gradgradcheck(f, (values, pts), eps=1e-6, atol=1e-8)


def test_grid_keeps_dtype_and_device(device):
    g = Grid(torch.rand(2, 3, 4, dtype=torch.float64, device=device), origin=(1, 2, 3), spacing=0.1)
    assert g.origin.dtype == torch.float64 and g.origin.device.type == device.type
    assert g.sample(torch.rand(5, 3, dtype=torch.float64, device=device)).dtype == torch.float64
    assert g.to(dtype=torch.float32).values.dtype == torch.float32


def test_mesh_rejects_non_numeric_and_misused_input():
    cases = [
        ({"points": [["a", "b", "c"]]}, "points must be a numeric array"),
        ({"points": [[0.0, 0, 0], [1.0, 1]]}, "ragged nested lists"),
        ({"points": torch.zeros(3, 3, dtype=torch.complex64)}, "points must be real"),  # was: imaginary part dropped
        ({"points": PTS, "cells": torch.ones(1, 3, dtype=torch.bool)}, "integer vertex indices, got dtype torch.bool"),
        ({"points": PTS, "point_data": {"u": ["a", "b", "c", "d"]}}, "point field 'u' must be a numeric array"),
        ({"points": PTS, "point_data": {1: torch.zeros(4)}}, "field names must be strings"),  # broke repr and save
        ({"points": PTS, "point_data": [torch.zeros(4)]}, "point_data must be a mapping"),
    ]
    for kwargs, message in cases:
        with pytest.raises(TypeError, match=message):
            Mesh(**kwargs)
    with pytest.raises(TypeError, match="floating torch.dtype"):
        Mesh(PTS).to(dtype=torch.int64)  # was: silently stayed float32


def test_grid_rejects_bad_origin_spacing_and_points():
    v = torch.zeros(2, 2, 2)
    with pytest.raises(ValueError, match="origin must hold 3 numbers"):
        Grid(v, origin=(0.0, 0.0))
    with pytest.raises(ValueError, match="spacing must be one number or 3"):
        Grid(v, spacing=(1.0, 1.0))
    for kw in ({"spacing": float("nan")}, {"origin": (0.0, float("inf"), 0.0)}):
        with pytest.raises(ValueError, match="must be finite"):
            Grid(v, **kw)
    with pytest.raises(TypeError, match="values must be a numeric array"):
        Grid("abc")
    with pytest.raises(ValueError, match="bounds must be"):
        Grid.from_bounds(v, ((0, 0, 0), (1, 1)))
    with pytest.raises(TypeError, match=r"points must be a float tensor of shape \(P, 3\)"):
        Grid(v).sample(np.zeros((2, 3)))
    out = Grid(torch.rand(2, 2, 2)).sample(torch.tensor([[float("nan"), 0.5, 0.5], [0.5, 0.5, 0.5]]))
    assert torch.isnan(out[0]) and torch.isfinite(out[1])  # was an IndexError from a garbage index


def test_to_takes_a_positional_dtype_and_refuses_missing_devices():
    m = Mesh(PTS.float(), [[0, 1, 2]], point_data={"u": torch.zeros(len(PTS))})
    d = m.to(torch.float64)  # like Tensor.to
    assert d.dtype == torch.float64 and d.point_data["u"].dtype == torch.float64 and d.cells.dtype == torch.long
    assert m.to("cpu", torch.float64).dtype == torch.float64 and m.to(dtype=torch.float64).dtype == torch.float64
    with pytest.raises(TypeError, match="two dtypes"):
        m.to(torch.float64, torch.float32)
    with pytest.raises(ValueError, match="is not a device"):
        m.to("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            m.to("cuda")


def test_pyvista_round_trip():
    pv = pytest.importorskip("pyvista")
    from geomsci.core import shapes

    sphere = shapes.icosphere(1, dtype=torch.float64)
    sphere.set_point_field("t", sphere.points[:, 0].clone())
    sphere.set_cell_field("id", torch.arange(sphere.n_cells))
    poly = sphere.to_pyvista()
    assert isinstance(poly, pv.PolyData) and poly.n_points == sphere.n_points and poly.n_cells == sphere.n_cells
    back = Mesh.from_pyvista(poly)
    assert torch.equal(back.points, sphere.points) and torch.equal(back.cells, sphere.cells)
    assert torch.equal(back.point_data["t"], sphere.point_data["t"]) and torch.equal(back.cell_data["id"], sphere.cell_data["id"])
    tet = Mesh(PTS.clone(), [[0, 1, 2, 3]], "tetra")
    grid = tet.to_pyvista()
    assert isinstance(grid, pv.UnstructuredGrid) and Mesh.from_pyvista(grid).cell_type == "tetra"
    quads = Mesh(PTS.clone()[:, :2], [[0, 1, 2, 3]])
    assert Mesh.from_pyvista(quads.to_pyvista()).cell_type == "quad"
    with pytest.warns(UserWarning, match="triangulated 1 5-gon"):
        pent = Mesh.from_pyvista(pv.PolyData(np.random.default_rng(0).random((5, 3)), faces=[5, 0, 1, 2, 3, 4]))
    assert pent.cell_type == "triangle" and pent.n_cells == 3
    with pytest.raises(TypeError, match="expected a pyvista DataSet"):
        Mesh.from_pyvista(sphere)
