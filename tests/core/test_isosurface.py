"""geomsci.core.isosurface: the shared bounds/resolution parser, the Grid-returning sampler, and the
degenerate-input audit of marching cubes and marching tetrahedra (level exactly at nodes, planes
through node layers, fields constant on whole faces): no zero-area face, no NaN in the points or
the gradients, and the surface closed and consistently oriented."""

import pytest
import torch

from geomsci.core import geometry as G
from geomsci.core.grid import Grid
from geomsci.core.isosurface import marching_cubes, marching_tetrahedra, parse_bounds, parse_resolution, sample_field
from geomsci.core.tetgrid import tet_grid

F64 = torch.float64
N = 9  # nodes per axis of the audit lattices; integer coordinates 0..8, so levels hit nodes exactly


def _ijk():
    return torch.meshgrid(*(torch.arange(N, dtype=F64),) * 3, indexing="ij")


def _field(name):
    i, j, k = _ijk()
    box = torch.maximum(torch.maximum((i - 4).abs(), (j - 4).abs()), (k - 4).abs())
    return {
        # level exactly at nodes: r^2 = 9 passes through (4+-3, 4, 4), (4+-2, 4+-2, 4+-1), ...
        "sphere through nodes": (i - 4) ** 2 + (j - 4) ** 2 + (k - 4) ** 2 - 9.0,
        # planes through whole node layers, axis-aligned and diagonal
        "plane through a layer": k - 4.0,
        "diagonal plane through nodes": i + j - 8.0,
        # constant (= level) on whole cube faces and cells: a slab and a block of zeros
        "zero slab": ((k - 4).abs() - 1).clamp(min=0),
        "zero block, positive outside": (box - 2).clamp(min=0),
        "zero block, negative outside": -(box - 2).clamp(min=0),
    }[name]


def _balanced(faces):
    """Every directed edge (a, b) matched by as many (b, a): closed and oriented (maybe pinched)."""
    he = torch.cat([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    n = int(faces.max()) + 1
    return bool(
        (
            torch.bincount(he[:, 0] * n + he[:, 1], minlength=n * n) == torch.bincount(he[:, 1] * n + he[:, 0], minlength=n * n)
        ).all()
    )


NAMES = [
    "sphere through nodes",
    "plane through a layer",
    "diagonal plane through nodes",
    "zero slab",
    "zero block, positive outside",
    "zero block, negative outside",
]


def _audit(mesh, grad, open_ok):
    assert torch.isfinite(mesh.points).all() and torch.isfinite(grad).all()
    if mesh.n_cells == 0:
        return
    areas = G.face_areas(mesh.points, mesh.cells)
    assert bool((areas > 1e-9).all()), f"{int((areas <= 1e-9).sum())} zero-area faces"
    if open_ok:  # a plane crosses the lattice: open surface, but consistently oriented
        assert G.is_oriented(mesh.cells)
    else:
        assert _balanced(mesh.cells)


@pytest.mark.parametrize("name", NAMES)
def test_marching_cubes_degenerate_fields(name):
    v = _field(name).requires_grad_(True)
    m = marching_cubes(v, 0.0)
    m.points.square().sum().backward()
    _audit(m, v.grad, open_ok=("plane" in name or "slab" in name))  # these reach the lattice border
    if "plane through a layer" in name:  # the level set is the layer itself: 8 x 8 cells of 2 triangles
        assert m.n_cells == 2 * (N - 1) ** 2 and torch.allclose(m.points[:, 2], torch.full_like(m.points[:, 2], 4.0))
    if name == "zero block, positive outside":  # nodes <= level are inside: the block's surface, area 6 * 4^2
        assert abs(float(G.face_areas(m.points, m.cells).sum().detach()) - 96.0) < 1e-9


@pytest.mark.parametrize("name", NAMES)
def test_marching_tetrahedra_degenerate_fields(name):
    vertices, tets = tet_grid(N - 1, ((0, 0, 0), (N - 1, N - 1, N - 1)), dtype=F64)
    s = _field(name).reshape(-1).clone().requires_grad_(True)
    m = marching_tetrahedra(vertices, tets, s)
    (m.points.square().sum() + m.point_data["edge_weight"].sum()).backward()
    _audit(m, s.grad, open_ok=("plane" in name or "slab" in name))
    # the point fields still describe every point exactly
    e, w = m.point_data["edge"], m.point_data["edge_weight"]
    assert torch.allclose(w[:, :1] * vertices[e[:, 0]] + w[:, 1:] * vertices[e[:, 1]], m.points)
    if name == "zero block, negative outside":  # zeros count as outside for MT: the block's surface
        assert abs(float(G.face_areas(m.points, m.cells).sum().detach()) - 96.0) < 1e-9


def test_welding_can_be_turned_off_and_changes_nothing_off_the_nodes():
    v = _field("sphere through nodes")
    kept = marching_cubes(v, 0.0, weld_nodes=False)
    welded = marching_cubes(v, 0.0)
    assert bool((G.face_areas(kept.points, kept.cells) <= 1e-12).any())  # the zero-area faces it removes
    assert G.is_manifold(kept.cells) and G.is_watertight(kept.cells)
    assert abs(float(G.face_areas(kept.points, kept.cells).sum()) - float(G.face_areas(welded.points, welded.cells).sum())) < 1e-9
    off = v + 0.5  # no node at the level: welding is a no-op, bit for bit
    a, b = marching_cubes(off, 0.0, weld_nodes=False), marching_cubes(off, 0.0)
    assert torch.equal(a.points, b.points) and torch.equal(a.cells, b.cells)


def test_empty_surfaces_stay_in_the_graph():
    v = torch.ones(4, 4, 4, dtype=F64, requires_grad=True)
    m = marching_cubes(v, 0.0)
    assert m.n_points == 0 and m.points.requires_grad
    vertices, tets = tet_grid(2, dtype=F64)
    s = torch.zeros(27, dtype=F64, requires_grad=True)  # zeros are outside for marching tetrahedra
    mt = marching_tetrahedra(vertices, tets, s)
    assert mt.n_points == 0 and mt.points.requires_grad
    with torch.no_grad():
        assert not marching_cubes(v, 0.0).points.requires_grad


def test_parsers_share_one_convention():
    assert torch.equal(parse_bounds(2.0, F64), torch.tensor([[-2.0] * 3, [2.0] * 3], dtype=F64))
    assert torch.equal(parse_bounds((torch.zeros(3), torch.ones(3)), F64), torch.tensor([[0.0] * 3, [1.0] * 3], dtype=F64))
    for bad in (-1.0, 0.0, ((0, 0), (1, 1)), ((0, 0, 1), (1, 1, 1)), ((0, 0, 0), (1, 1, float("nan"))), "box"):
        with pytest.raises(ValueError, match="who: bounds must be"):
            parse_bounds(bad, who="who")
    assert parse_resolution(4) == (4, 4, 4) and parse_resolution((1, 2, 3)) == (1, 2, 3)
    assert parse_resolution(torch.tensor(5)) == (5, 5, 5)
    for bad in (0, True, 2.5, "8", (1, 2), (1, 2, 2.5), None):
        with pytest.raises(ValueError, match="cells per axis"):
            parse_resolution(bad, who="who")


def test_sample_field_returns_a_grid_with_resolution_cells():
    grid = sample_field(lambda p: p[:, 0] + 10 * p[:, 1] + 100 * p[:, 2], ((0, 0, 0), (2, 3, 4)), (2, 3, 4), dtype=F64)
    assert isinstance(grid, Grid) and grid.shape == (3, 4, 5)
    assert torch.equal(grid.spacing, torch.ones(3, dtype=F64)) and torch.equal(grid.origin, torch.zeros(3, dtype=F64))
    assert float(grid.values[1, 2, 3]) == 1 + 20 + 300
    # the same nodes as a tet grid of the same resolution and bounds
    vertices, _ = tet_grid((2, 3, 4), ((0, 0, 0), (2, 3, 4)), dtype=F64)
    assert torch.allclose(grid.node_points(), vertices)
    # marching cubes on the Grid brings its own origin and spacing
    sphere = sample_field(lambda p: p.norm(dim=1) - 0.5, 1.0, 16, dtype=F64)
    radii = marching_cubes(sphere).points.norm(dim=1)
    assert float((radii - 0.5).abs().max()) < 0.01
