"""interp: point location against scipy's Delaunay.find_simplex, exact P1 transfer of linear fields
(planar triangles, tetrahedra, 3-D surfaces), outside points flagged and warned, gradients."""

import warnings

import numpy as np
import pytest
import torch
from scipy.spatial import Delaunay
from torch.autograd import gradcheck

from geomsci.core.interp import barycentric, interpolate, locate_points, transfer_matrix
from geomsci.core.mesh import Mesh


def delaunay_mesh(points, cell_type):
    tri = Delaunay(points)
    return Mesh(torch.tensor(points), torch.tensor(tri.simplices), cell_type), tri


def graded_2d(n=3000, seed=0):
    """Cells from ~1e-4 to ~1e-1 across: the kind of far-field grading airfoil meshes have."""
    rng = np.random.default_rng(seed)
    p = rng.random((n, 2))
    p[:, 0] = p[:, 0] ** 4
    corners = np.array([[0, 0], [1, 0], [0, 1], [1, 1.0]])
    return delaunay_mesh(np.vstack([p, corners]), "triangle")


def linear(points, coef):
    return points @ torch.tensor(coef, dtype=points.dtype) + 0.5


def test_planar_location_matches_scipy_and_linear_transfer_is_exact():
    mesh, tri = graded_2d()
    rng = np.random.default_rng(1)
    q = torch.tensor(np.vstack([rng.random((4000, 2)), rng.random((500, 2)) ** 4]))
    cell, bary, outside = locate_points(mesh, q)
    ref = tri.find_simplex(q.numpy())
    assert not outside.any() and (ref >= 0).all()
    assert (cell.numpy() == ref).mean() > 0.999  # may differ only for points on a shared edge
    pts = mesh.points[mesh.cells[cell]]  # (P, 3, 2)
    assert torch.allclose((bary.unsqueeze(-1) * pts).sum(1), q, atol=1e-12)
    field = linear(mesh.points, [2.0, -3.0])
    values, outside = interpolate(mesh, field, q)
    assert torch.allclose(values, linear(q, [2.0, -3.0]), atol=1e-12, rtol=0)


def test_vector_fields_and_transfer_matrix():
    mesh, _ = graded_2d(800, seed=2)
    q = torch.tensor(np.random.default_rng(3).random((300, 2)))
    field = torch.stack([linear(mesh.points, [1.0, 1.0]), linear(mesh.points, [-1.0, 4.0])], 1)  # (N, 2)
    values, _ = interpolate(mesh, field, q)
    assert values.shape == (300, 2)
    t, outside = transfer_matrix(mesh, q)
    assert t.shape == (300, mesh.n_points) and t.is_sparse
    assert torch.allclose(torch.sparse.mm(t, field), values, atol=1e-12)
    assert torch.allclose(torch.sparse.sum(t, 1).to_dense(), torch.ones(300, dtype=torch.float64))


def test_tetra_transfer_is_exact_and_outside_matches_scipy():
    rng = np.random.default_rng(4)
    mesh, tri = delaunay_mesh(rng.random((600, 3)), "tetra")
    q = torch.tensor(rng.random((2000, 3)))
    with pytest.warns(UserWarning, match=r"\d+ of 2000 query points lie outside"):
        values, outside = interpolate(mesh, linear(mesh.points, [1.0, -2.0, 0.5]), q)
    ref_out = tri.find_simplex(q.numpy()) < 0
    assert (outside.numpy() == ref_out).all() and ref_out.any()
    assert torch.allclose(values[~outside], linear(q, [1.0, -2.0, 0.5])[~outside], atol=1e-12)


def test_outside_points_flagged_warned_and_clamped():
    # unit square of two triangles; a point right of the square takes the value on the edge x = 1
    mesh = Mesh(torch.tensor([[0, 0], [1, 0], [1, 1], [0, 1.0]]), torch.tensor([[0, 1, 2], [0, 2, 3]]))
    q = torch.tensor([[0.25, 0.5], [1.5, 0.5], [0.5, -2.0]])
    field = torch.tensor([0.0, 1.0, 3.0, 2.0], dtype=torch.float64)  # f = x + 2 y at the vertices
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values, outside = interpolate(mesh, field, q)
    assert outside.tolist() == [False, True, True]
    assert any("2 of 3 query points lie outside the mesh" in str(w.message) for w in caught)
    cell, bary, _ = locate_points(mesh, q)
    assert float(bary.min()) >= 0 and torch.allclose(bary.sum(1), torch.ones(3, dtype=bary.dtype))
    assert float(values[0]) == pytest.approx(1.25)
    assert float(values[1]) == pytest.approx(1.0 + 2 * 0.5)  # its nearest point (1, 0.5)
    assert float(values[2]) == pytest.approx(0.5)  # its nearest point (0.5, 0)


def test_surface_transfer_between_two_sphere_meshes():
    trimesh = pytest.importorskip("trimesh")
    fine = trimesh.creation.icosphere(4)
    coarse = trimesh.creation.uv_sphere(radius=1.0, count=[24, 24])
    mesh = Mesh(torch.tensor(fine.vertices), torch.tensor(fine.faces))
    q = torch.tensor(coarse.vertices)  # off the fine mesh's flat faces by up to ~1e-3
    values, outside = interpolate(mesh, linear(mesh.points, [1.0, 2.0, 3.0]), q)
    assert not outside.any()  # a closed surface has no outside
    assert float((values - linear(q, [1.0, 2.0, 3.0])).abs().max()) < 1e-2  # chord error of the fine mesh


def test_flat_surface_in_space_is_exact_and_has_an_outside():
    rng = np.random.default_rng(5)
    uv = np.vstack([rng.random((400, 2)), [[0, 0], [1, 0], [0, 1], [1, 1]]])
    tri = Delaunay(uv)
    frame = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])  # tilted plane z = x + y
    mesh = Mesh(torch.tensor(uv @ frame), torch.tensor(tri.simplices))
    quv = rng.random((500, 2)) * 1.2 - 0.1
    normal = np.array([-1.0, -1.0, 1.0]) / np.sqrt(3)
    q = torch.tensor(quv @ frame + 0.05 * normal)  # off the plane along its normal
    field = linear(mesh.points, [1.0, -1.0, 2.0])
    with pytest.warns(UserWarning, match="outside"):
        values, outside = interpolate(mesh, field, q)
    beyond = (quv < 0).any(1) | (quv > 1).any(1)
    assert (outside.numpy() == beyond).all()
    foot = torch.tensor(quv @ frame)
    err = (values - linear(foot, [1.0, -1.0, 2.0]))[~outside].abs().max()
    assert float(err) < 1e-12, float(err)


def test_annulus_with_a_hole_matches_brute_force():
    # queries whose walk runs into the hole fall back to the bins; points in the hole are outside
    rng = np.random.default_rng(10)
    t = np.linspace(0, 2 * np.pi, 60, endpoint=False)
    ring = np.concatenate([np.stack([np.cos(t), np.sin(t)], 1) * r for r in (0.3, 1.0)])
    pts = np.vstack([ring, rng.uniform(-1, 1, (700, 2))])
    pts = pts[(np.linalg.norm(pts, axis=1) > 0.299) & (np.linalg.norm(pts, axis=1) < 1.001)]
    tri = Delaunay(pts).simplices
    keep = np.linalg.norm(pts[tri].mean(1), axis=1) > 0.3
    mesh = Mesh(torch.tensor(pts), torch.tensor(tri[keep]))
    q = rng.uniform(-1.1, 1.1, (1500, 2))
    # brute force: barycentrics of every query in every triangle
    v = pts[tri[keep]]  # (M, 3, 2)
    e1, e2, d = v[:, 1] - v[:, 0], v[:, 2] - v[:, 0], q[:, None, :] - v[None, :, 0]
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    b1 = (d[..., 0] * e2[:, 1] - d[..., 1] * e2[:, 0]) / det
    b2 = (e1[:, 0] * d[..., 1] - e1[:, 1] * d[..., 0]) / det
    contained = (np.minimum(np.minimum(b1, b2), 1 - b1 - b2) >= -1e-12).any(1)
    cell, bary, outside = locate_points(mesh, torch.tensor(q))
    assert (outside.numpy() == ~contained).all() and (~contained).sum() > 100
    back = (bary.unsqueeze(-1) * mesh.points[mesh.cells[cell]]).sum(1)
    assert torch.allclose(back[~outside], torch.tensor(q)[~outside], atol=1e-12)


def test_gradcheck_interpolation_wrt_field_query_and_mesh():
    mesh, _ = graded_2d(60, seed=6)
    q = torch.tensor(np.random.default_rng(7).random((20, 2)) * 0.8 + 0.1, requires_grad=True)
    field = torch.randn(mesh.n_points, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    field.requires_grad_(True)
    assert gradcheck(lambda f, x: interpolate(mesh, f, x)[0], (field, q))
    simplex = torch.randn(10, 4, 3, dtype=torch.float64, requires_grad=True)
    pts = torch.randn(10, 3, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda s, p: barycentric(s, p)[0], (simplex, pts))


def test_bad_input():
    mesh, _ = graded_2d(50)
    with pytest.raises(ValueError, match=r"query must have shape \(P, 2\)"):
        locate_points(mesh, torch.rand(5, 3))
    with pytest.raises(ValueError, match="field must have shape"):
        interpolate(mesh, torch.rand(7), torch.rand(5, 2))
    quads = Mesh(torch.rand(4, 2), torch.tensor([[0, 1, 2, 3]]), "quad")
    with pytest.raises(ValueError, match="'triangle' or 'tetra'"):
        locate_points(quads, torch.rand(5, 2))


@pytest.mark.gpu
def test_cuda_interpolation_matches_cpu():
    mesh, _ = graded_2d(2000, seed=8)
    q = torch.tensor(np.random.default_rng(9).random((5000, 2)))
    field = linear(mesh.points, [1.0, 3.0])
    v_cpu, o_cpu = interpolate(mesh, field, q)
    v_gpu, o_gpu = interpolate(mesh.to("cuda"), field.cuda(), q.cuda())
    assert torch.equal(o_gpu.cpu(), o_cpu) and torch.allclose(v_gpu.cpu(), v_cpu, atol=1e-12)


@pytest.mark.slow
def test_benchmark_size_interpolation_equals_scipy():
    from scipy.interpolate import LinearNDInterpolator

    rng = np.random.default_rng(12)
    pts = rng.random((50_000, 2))
    pts[:, 0] = pts[:, 0] ** 3
    tri = Delaunay(pts)
    field = np.sin(3 * pts[:, 0]) + pts[:, 1]
    q = rng.random((100_000, 2))
    mesh = Mesh(torch.tensor(pts), torch.tensor(tri.simplices))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values, outside = interpolate(mesh, torch.tensor(field), torch.tensor(q))
    ref = LinearNDInterpolator(tri, field)(q)
    assert (outside.numpy() == np.isnan(ref)).all()
    assert np.abs(values.numpy()[~outside.numpy()] - ref[~np.isnan(ref)]).max() < 1e-12
