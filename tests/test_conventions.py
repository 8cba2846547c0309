"""One convention per quantity across subpackages (docs/conventions.md), checked on shapes with known answers.

- Mean curvature: +1/R on a sphere of radius R with outward normals, through every public path.
- Normals: outward on closed surfaces that geomsci makes (marching cubes, G-Shell templates, wing meshes);
  vertex normals area-weighted.
- SDF: negative inside.
"""

import math

import pytest
import torch

from geomsci.core import geometry, shapes

R = 1.5


def _sphere(uv):
    """u = polar angle, v = azimuth: x_u x x_v = R^2 sin(u) * (outward unit vector)."""
    u, v = uv[:, 0], uv[:, 1]
    return R * torch.stack([torch.sin(u) * torch.cos(v), torch.sin(u) * torch.sin(v), torch.cos(u)], -1)


def _sphere_grid(n_u=40, n_v=48):
    """(n_u, n_v, 3) grid of the sphere between polar angles 0.3 and pi - 0.3, periodic in v."""
    u = torch.linspace(0.3, math.pi - 0.3, n_u, dtype=torch.float64)
    v = torch.arange(n_v, dtype=torch.float64) * 2 * math.pi / n_v
    U, V = torch.meshgrid(u, v, indexing="ij")
    return _sphere(torch.stack([U, V], -1).reshape(-1, 2)).reshape(n_u, n_v, 3), u[1] - u[0], 2 * math.pi / n_v


def mean_curvature_by_every_path() -> dict[str, tuple[torch.Tensor, float]]:
    """name -> (mean curvature values at interior points, tolerance) on one sphere of radius R."""
    from geomsci.wing import grid_features, grid_to_mesh, mesh_features, riemannian_features

    out = {}
    ico = shapes.icosphere(4, radius=R, dtype=torch.float64)
    out["core.geometry.mean_curvature (cotangent)"] = (geometry.mean_curvature(ico.points, ico.cells), 1e-4)
    uv = torch.stack([torch.linspace(0.3, 2.8, 50, dtype=torch.float64), torch.linspace(0, 6, 50, dtype=torch.float64)], -1)
    out["wing.riemannian_features(callable) (autograd)"] = (riemannian_features(_sphere, uv).point_data["H"], 1e-10)
    X, du, dv = _sphere_grid()
    fd = grid_features(X, periodic_v=True, du=float(du), dv=dv).point_data["H"].reshape(X.shape[:2])
    out["wing.grid_features (finite differences)"] = (fd[2:-2].reshape(-1), 1e-4)
    grid_mesh = grid_to_mesh(X, periodic_v=True)
    via_ij = riemannian_features(grid_mesh, periodic_v=True).point_data["H"].reshape(X.shape[:2])
    # grid_to_mesh's uv has unit spacing per axis; H does not depend on the chart
    out["wing.riemannian_features(grid Mesh)"] = (via_ij[2:-2].reshape(-1), 1e-4)
    out["wing.mesh_features (local fits)"] = (mesh_features(ico).point_data["H"], 5e-3)
    return out


def test_mean_curvature_of_one_sphere_agrees_through_every_public_path():
    for name, (H, tol) in mean_curvature_by_every_path().items():
        assert H.numel() > 10, name
        assert float((H - 1 / R).abs().max()) < tol, (name, float(H.min()), float(H.max()))


def test_principal_and_gaussian_curvature_signs_agree():
    from geomsci.wing import riemannian_features

    uv = torch.tensor([[0.7, 0.2], [1.4, 2.0]], dtype=torch.float64)
    pd = riemannian_features(_sphere, uv).point_data
    assert torch.allclose(pd["k1"], torch.full_like(pd["k1"], 1 / R)) and torch.allclose(pd["k2"], pd["k1"])
    ico = shapes.icosphere(4, radius=R, dtype=torch.float64)
    assert float((geometry.gaussian_curvature(ico.points, ico.cells) - 1 / R**2).abs().max()) < 2e-3
    # a saddle: K < 0 in both, and H changes sign with the orientation
    flipped = riemannian_features(lambda q: _sphere(q.flip(1)), uv.flip(1)).point_data
    assert torch.allclose(flipped["H"], -pd["H"]) and torch.allclose(flipped["K"], pd["K"])


def test_sdf_negative_inside_and_extracted_surfaces_face_outward():
    from geomsci.core.tetgrid import tet_grid
    from geomsci.deepmesh import extract_surface
    from geomsci.gshell import extract_gshell

    assert float(shapes.sphere_sdf(torch.zeros(1, 3), 0.6)) == pytest.approx(-0.6)
    assert float(shapes.torus_sdf(torch.tensor([[0.55, 0.0, 0.0]]), 0.55, 0.2)) == pytest.approx(-0.2)
    mc = extract_surface(lambda p: shapes.sphere_sdf(p, 0.6), 1.0, 32, dtype=torch.float64)
    v, t = tet_grid(24, dtype=torch.float64)
    template = extract_gshell(v, t, v.norm(dim=1) - 0.6, torch.ones(v.shape[0], dtype=torch.float64)).template
    for name, m in (("deepmesh marching cubes", mc), ("gshell template", template)):
        assert geometry.signed_volume(m.points, m.cells) > 0, name  # outward faces enclose a positive volume
        H = geometry.mean_curvature(m.points.detach(), m.cells)
        assert float(H.median()) == pytest.approx(1 / 0.6, rel=0.05), name


def test_wing_mesh_faces_outward():
    from geomsci.wing import Wing, wing_mesh

    full = wing_mesh(Wing("naca2412", span=4.0), 12, 6, mirror=True)
    assert geometry.is_watertight(full.cells) and geometry.signed_volume(full.points, full.cells) > 0


def test_vertex_normals_are_area_weighted():
    """Two faces at a vertex, one four times the area of the other: the normal leans 4:1 towards the big one."""
    p = torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 2], [0, -2, 0]], dtype=torch.float64)
    faces = torch.tensor([[0, 1, 2], [0, 4, 3]])  # normals +z (area 1/2) and +x... (area 2)
    n = geometry.vertex_normals(p, faces)[0]
    fn = geometry.face_normals(p, faces, normalize=True)
    expect = 0.5 * fn[0] + 2.0 * fn[1]
    assert torch.allclose(n, expect / expect.norm())
