"""Tetrahedral grid and marching tetrahedra: conforming grid, watertight analytic level sets,
float64 gradients against finite differences."""

import math

import pytest
import torch

from geomsci.core.tetgrid import (
    deform_vertices,
    interpolate_on_edges,
    marching_tetrahedra,
    orient_tets,
    tet_edges,
    tet_grid,
)


def _tet_volumes(v, t):
    p = v[t]
    return torch.linalg.det(p[:, 1:] - p[:, :1]) / 6


def test_grid_counts_volumes_and_conformity():
    n = 3
    v, t = tet_grid(n, dtype=torch.float64)
    assert v.shape == ((n + 1) ** 3, 3) and t.shape == (6 * n**3, 4)
    vol = _tet_volumes(v, t)
    # every tet positive, total = box volume 8
    assert (vol > 0).all()
    assert torch.allclose(vol.sum(), torch.tensor(8.0, dtype=torch.float64))
    # conforming: every triangle face is shared by 2 tets, except the 2 per cube face on the box boundary
    faces = torch.cat([t[:, [0, 1, 2]], t[:, [0, 1, 3]], t[:, [0, 2, 3]], t[:, [1, 2, 3]]])
    _, counts = torch.unique(torch.sort(faces, 1).values, dim=0, return_counts=True)
    assert set(counts.tolist()) == {1, 2}
    assert int((counts == 1).sum()) == 6 * n * n * 2
    # vertex order matches Grid.node_points (x slowest)
    from geomsci.core.grid import Grid

    g = Grid.from_bounds(torch.zeros(n + 1, n + 1, n + 1, dtype=torch.float64), ((-1, -1, -1), (1, 1, 1)))
    assert torch.allclose(g.node_points(), v)


def test_tet_edges_euler():
    v, t = tet_grid(2)
    e = tet_edges(t)
    faces = torch.unique(
        torch.sort(torch.cat([t[:, [0, 1, 2]], t[:, [0, 1, 3]], t[:, [0, 2, 3]], t[:, [1, 2, 3]]]), 1).values, dim=0
    )
    # Euler characteristic of a ball: V - E + F - T = 1
    assert v.shape[0] - e.shape[0] + faces.shape[0] - t.shape[0] == 1
    assert (e[:, 0] < e[:, 1]).all()


@pytest.mark.parametrize("n", [16, 40])
def test_sphere_is_watertight_outward_and_accurate(n, device):
    r = 0.7
    v, t = tet_grid(n, dtype=torch.float64, device=device)
    m = marching_tetrahedra(v, t, v.norm(dim=1) - r)
    tm = m.to_trimesh()
    assert tm.is_watertight and tm.is_winding_consistent
    assert tm.euler_number == 2
    assert tm.volume > 0  # outward normals: positive signed volume
    h = 2.0 / n
    # points lie on chords of the sphere: radial error O(h^2)
    radial = (m.points.norm(dim=1) - r).abs().max().item()
    assert radial < h * h
    # area of an inscribed polyhedron: relative error O(h^2)
    assert abs(tm.area / (4 * math.pi * r * r) - 1) < 2 * h * h
    # no unused vertices, welded (one point per crossed edge)
    assert torch.unique(m.cells).numel() == m.n_points
    assert torch.unique(m.point_data["edge"], dim=0).shape[0] == m.n_points


def test_level_and_edge_weights_reproduce_points_and_linear_fields():
    v, t = tet_grid(10, dtype=torch.float64)
    m = marching_tetrahedra(v, t, v[:, 0] + 0.3 * v[:, 1], level=0.25)
    e, w = m.point_data["edge"], m.point_data["edge_weight"]
    assert torch.allclose(w.sum(1), torch.ones_like(w[:, 0]))
    assert ((w >= 0) & (w <= 1)).all()
    assert torch.allclose(interpolate_on_edges(v, e, w), m.points)
    # the level set of a linear field is exact
    assert torch.allclose(m.points[:, 0] + 0.3 * m.points[:, 1], torch.full_like(m.points[:, 0], 0.25))
    # any linear field is carried exactly by the same weights
    nu = 2 * v[:, 2] - v[:, 0] + 0.1
    assert torch.allclose(interpolate_on_edges(nu, e, w), 2 * m.points[:, 2] - m.points[:, 0] + 0.1)
    # normals point towards increasing field (+x)
    p = m.points[m.cells]
    nrm = torch.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0], dim=1)
    assert (nrm[:, 0] > 0).all()


def test_exact_zeros_give_finite_points_and_gradients():
    # the plane z = 0 passes through grid vertices: s is exactly 0 there
    v, t = tet_grid(4, dtype=torch.float32)
    s = v[:, 2].clone().requires_grad_(True)
    m = marching_tetrahedra(v, t, s)
    assert m.n_points > 0 and torch.isfinite(m.points).all()
    assert torch.allclose(m.points[:, 2], torch.zeros_like(m.points[:, 2]), atol=1e-6)
    m.points.sum().backward()
    assert torch.isfinite(s.grad).all()


def test_empty_level_set():
    v, t = tet_grid(3)
    m = marching_tetrahedra(v, t, torch.ones(v.shape[0]))
    assert m.n_points == 0 and m.cells.shape == (0, 3)


def test_bad_input_raises():
    v, t = tet_grid(2)
    with pytest.raises(ValueError, match="sdf"):
        marching_tetrahedra(v, t, torch.zeros(3))
    with pytest.raises(ValueError, match="tets"):
        marching_tetrahedra(v, t.float(), torch.zeros(v.shape[0]))
    with pytest.raises(ValueError, match="resolution"):
        tet_grid(0)
    with pytest.raises(ValueError, match="deformation"):
        deform_vertices(v, torch.zeros(3, 3), 0.5)


def test_orientation_is_combinatorial_under_large_deformation():
    # a deformation of half a cell inverts some tets; triangles must still be consistently oriented
    from geomsci.core import geometry as G

    gen = torch.Generator().manual_seed(3)
    v, t = tet_grid(12, dtype=torch.float64)
    vd = deform_vertices(v, 3 * torch.randn(v.shape, generator=gen, dtype=torch.float64), 2 / 12)
    assert (_tet_volumes(vd, t) < 0).any()
    m = marching_tetrahedra(vd, t, v.norm(dim=1) - 0.6)
    assert G.is_watertight(m.cells) and G.is_oriented(m.cells)
    assert float(G.signed_volume(m.points, m.cells)) > 0


def test_orient_tets():
    v, t = tet_grid(2)
    flipped = t.clone()
    flipped[::3] = flipped[::3][:, [1, 0, 2, 3]]
    fixed = orient_tets(v, flipped)
    assert (_tet_volumes(v, fixed) > 0).all()
    assert torch.equal(torch.sort(fixed, 1).values, torch.sort(t, 1).values)


def test_deformation_is_bounded():
    v, t = tet_grid(4, dtype=torch.float64)
    d = 100 * torch.randn(v.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    vd = deform_vertices(v, d, 0.5)
    assert ((vd - v).abs() <= 0.25 + 1e-12).all()


def test_gradcheck_sdf_and_deformation():
    gen = torch.Generator().manual_seed(0)
    v, t = tet_grid(3, dtype=torch.float64)
    s0 = v.norm(dim=1) - 0.6
    s0 = s0 + 0.05 * torch.randn(s0.shape, generator=gen, dtype=torch.float64)
    s0 = torch.where(s0.abs() < 0.05, s0.sign() * 0.05 + (s0 == 0) * 0.05, s0)  # stay off zero
    d0 = 0.3 * torch.randn(v.shape, generator=gen, dtype=torch.float64)
    topo = marching_tetrahedra(deform_vertices(v, d0, 2 / 3), t, s0)
    wts = torch.randn(topo.points.shape, generator=gen, dtype=torch.float64)

    def f(s, d):
        m = marching_tetrahedra(deform_vertices(v, d, 2 / 3), t, s)
        assert torch.equal(m.cells, topo.cells)  # topology fixed under the finite-difference steps
        return (m.points * wts).sum(), m.point_data["edge_weight"][:, 0].square().sum()

    assert torch.autograd.gradcheck(f, (s0.clone().requires_grad_(), d0.clone().requires_grad_()))


@pytest.mark.gpu
def test_cuda_matches_cpu():
    v, t = tet_grid(12, dtype=torch.float32)
    s = v.norm(dim=1) - 0.6
    m_cpu = marching_tetrahedra(v, t, s)
    m_gpu = marching_tetrahedra(v.cuda(), t.cuda(), s.cuda())
    assert torch.equal(m_cpu.cells, m_gpu.cells.cpu())
    assert torch.allclose(m_cpu.points, m_gpu.points.cpu(), atol=1e-6)


def test_bad_bounds_and_tets_are_named():
    import pytest

    from geomsci.core.tetgrid import marching_tetrahedra, tet_grid

    for bad in (-1.0, 0.0, ((0, 0), (1, 1)), ((0, 0, 0), (1, 1, float("inf"))), ((0, 0, 1), (1, 1, 1)), "box"):
        with pytest.raises(ValueError, match="tet_grid: bounds"):
            tet_grid(2, bad)
    # one bounds convention with deepmesh: a half-width b is the cube [-b, b]^3
    assert torch.equal(tet_grid(2, 1.0)[0], tet_grid(2)[0])
    v, t = tet_grid(1)
    sdf = v.norm(dim=1) - 0.5
    for bad_t in (t - 1, t + 1):  # a -1 (would index from the end) / one past the last vertex
        with pytest.raises(ValueError, match="tets must index the 8 vertices"):
            marching_tetrahedra(v, bad_t, sdf)
