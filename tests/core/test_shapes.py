"""Analytic shapes: counts, orientation, closed-form areas and volumes, and their SDFs."""

import math

import pytest
import torch

from geomsci.core import shapes


def _area_volume(mesh):
    p = mesh.points.double()
    a, b, c = (p[mesh.cells[:, i]] for i in range(3))
    cr = torch.linalg.cross(b - a, c - a)
    area = 0.5 * cr.norm(dim=1).sum()
    volume = (a * torch.linalg.cross(b, c)).sum() / 6  # divergence theorem, positive for outward faces
    return float(area), float(volume)


def _edge_counts(faces):
    e = torch.cat([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    directed = {tuple(x) for x in e.tolist()}
    undirected = torch.sort(e, dim=1).values
    _, counts = torch.unique(undirected, dim=0, return_counts=True)
    return directed, counts


def test_icosphere_counts_area_volume():
    m = shapes.icosphere(4, radius=2.0, dtype=torch.float64)
    assert (m.n_points, m.n_cells) == (10 * 4**4 + 2, 20 * 4**4)
    assert torch.allclose(m.points.norm(dim=1), torch.full((m.n_points,), 2.0, dtype=torch.float64))
    area, volume = _area_volume(m)
    # inscribed: slightly below 4 pi r^2 and 4/3 pi r^3, within 0.5% at 5120 faces
    assert 0 < 1 - area / (4 * math.pi * 4) < 5e-3
    assert 0 < 1 - volume / (4 / 3 * math.pi * 8) < 5e-3


def test_uv_sphere_and_torus_closed_forms():
    s = shapes.uv_sphere(64, 128)
    area, volume = _area_volume(s)
    assert abs(area / (4 * math.pi) - 1) < 5e-3 and abs(volume / (4 / 3 * math.pi) - 1) < 5e-3
    R, r = 1.0, 0.3
    t = shapes.torus_mesh(R, r, 128, 64, dtype=torch.float64)
    area, volume = _area_volume(t)
    assert abs(area / (4 * math.pi**2 * R * r) - 1) < 5e-3
    assert abs(volume / (2 * math.pi**2 * R * r * r) - 1) < 5e-3


@pytest.mark.parametrize(
    "mesh, boundary_edges",
    [
        (shapes.icosphere(2), 0),
        (shapes.uv_sphere(8, 12), 0),
        (shapes.torus_mesh(1, 0.4, 12, 8), 0),
        (shapes.cylinder_mesh(1, 2, 16, 3, capped=True), 0),
        (shapes.cylinder_mesh(1, 2, 16, 3), 32),
        (shapes.plane_mesh(4, 3), 2 * (4 + 3)),
    ],
)
def test_consistent_orientation_and_boundary(mesh, boundary_edges):
    directed, counts = _edge_counts(mesh.cells)
    # consistently oriented: no directed edge appears twice; manifold: no edge in more than 2 faces
    assert len(directed) == 3 * mesh.n_cells
    assert counts.max() <= 2
    assert int((counts == 1).sum()) == boundary_edges


def test_euler_characteristics():
    def chi(m):
        _, counts = _edge_counts(m.cells)
        return m.n_points - len(counts) + m.n_cells

    assert chi(shapes.icosphere(2)) == 2
    assert chi(shapes.torus_mesh(1, 0.3, 10, 6)) == 0  # genus 1
    assert chi(shapes.cylinder_mesh(1, 1, 10, 2)) == 0  # annulus
    assert chi(shapes.plane_mesh(3, 5)) == 1  # disk


def test_plane_mesh_2d_and_normals_up():
    m = shapes.plane_mesh(3, 2, bounds=((0, 0), (3, 2)), dim=2)
    assert m.points.shape == (12, 2) and m.n_cells == 12
    p = m.points
    a, b, c = (p[m.cells[:, i]] for i in range(3))
    cross_z = (b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0]
    assert torch.allclose(cross_z, torch.ones_like(cross_z))  # counter-clockwise, unit cells -> area 1/2


def test_dtype_device_follow_arguments(device):
    m = shapes.torus_mesh(dtype=torch.float64, device=device)
    assert m.dtype == torch.float64 and m.points.device.type == device.type and m.cells.device.type == device.type


def test_sdfs():
    p = torch.tensor([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.5, 0.0]], dtype=torch.float64)
    assert torch.allclose(shapes.sphere_sdf(p, 1.0), torch.tensor([-1.0, 1.0, -0.5], dtype=torch.float64))
    assert torch.allclose(
        shapes.sphere_sdf(p, 1.0, center=(2, 0, 0)), torch.tensor([1.0, -1.0, math.sqrt(4.25) - 1], dtype=torch.float64)
    )
    # torus: the points of the mesh lie on its zero level set
    t = shapes.torus_mesh(1.0, 0.3, 16, 8, dtype=torch.float64)
    assert shapes.torus_sdf(t.points, 1.0, 0.3).abs().max() < 1e-12
    assert float(shapes.torus_sdf(torch.tensor([[1.0, 0, 0]]), 1.0, 0.3)) == pytest.approx(-0.3)


@pytest.mark.parametrize(
    "call",
    [
        lambda: shapes.icosphere(-1),
        lambda: shapes.icosphere(1.5),
        lambda: shapes.uv_sphere(1, 8),
        lambda: shapes.torus_mesh(1.0, 2.0),
        lambda: shapes.cylinder_mesh(radius=-1),
        lambda: shapes.plane_mesh(2, 2, bounds=((1, 0), (0, 1))),
        lambda: shapes.plane_mesh(2, 2, dim=4),
        lambda: shapes.sphere_sdf(torch.zeros(4, 2)),
    ],
)
def test_bad_arguments_raise(call):
    with pytest.raises(ValueError):
        call()
