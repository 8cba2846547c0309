"""sampling: area-weighted, reproducible, on the surface, and differentiable in the vertices."""

import math

import pytest
import torch
import trimesh
from torch.autograd import gradcheck

from geomsci.core import geometry as G
from geomsci.core.sampling import sample_faces, sample_points


def two_triangles():
    # triangle 0 has area 1/2, triangle 1 area 3/2 (in the plane z = 0)
    p = torch.tensor([[0, 0, 0], [1, 0, 0], [0, 1, 0], [4, 0, 0], [1, 1, 0]], dtype=torch.float64)
    f = torch.tensor([[0, 1, 2], [1, 3, 4]])
    return p, f


def test_faces_drawn_in_proportion_to_area(device):
    p, f = (t.to(device) for t in two_triangles())
    n = 40000
    gen = torch.Generator(device=device).manual_seed(0)
    idx, bary = sample_faces(p, f, n, generator=gen)
    frac = float((idx == 1).double().mean())
    sigma = math.sqrt(0.75 * 0.25 / n)
    assert abs(frac - 0.75) < 5 * sigma
    assert torch.allclose(bary.sum(1), torch.ones(n, dtype=torch.float64, device=device))
    assert float(bary.min()) >= 0


def test_samples_are_uniform_inside_a_triangle():
    # uniform on the triangle (0,0),(1,0),(0,1): E[x] = E[y] = 1/3, P(x + y < 1/2) = 1/4
    p = torch.tensor([[0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=torch.float64)
    f = torch.tensor([[0, 1, 2]])
    s = sample_points(p, f, 40000, generator=torch.Generator().manual_seed(1))
    assert float(s[:, 2].abs().max()) == 0.0
    assert abs(float(s[:, 0].mean()) - 1 / 3) < 0.01 and abs(float(s[:, 1].mean()) - 1 / 3) < 0.01
    assert abs(float((s[:, :2].sum(1) < 0.5).double().mean()) - 0.25) < 0.01


def test_samples_lie_on_the_mesh_with_face_normals():
    s = trimesh.creation.icosphere(2)
    p, f = torch.tensor(s.vertices), torch.tensor(s.faces)
    x, n = sample_points(p, f, 2000, generator=torch.Generator().manual_seed(2), return_normals=True)
    assert x.shape == (2000, 3) and n.shape == (2000, 3)
    assert float(x.norm(dim=1).max()) <= 1 + 1e-12 and float(x.norm(dim=1).min()) > 0.98
    assert torch.allclose(n.norm(dim=1), torch.ones(2000, dtype=torch.float64))
    assert float((n * x).sum(1).min()) > 0.97  # outward, radial
    # each sample is a convex combination of its face's corners, and on that face's plane
    idx, bary = sample_faces(p, f, 2000, generator=torch.Generator().manual_seed(2))
    assert float(bary.min()) >= 0 and torch.allclose(x, (bary.unsqueeze(-1) * p[f[idx]]).sum(1))
    off_plane = ((x - p[f[idx, 0]]) * G.face_normals(p, f)[idx]).sum(1)
    assert float(off_plane.abs().max()) < 1e-12


def test_same_seed_same_samples():
    p, f = two_triangles()
    a = sample_points(p, f, 100, generator=torch.Generator().manual_seed(5))
    b = sample_points(p, f, 100, generator=torch.Generator().manual_seed(5))
    c = sample_points(p, f, 100, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_gradcheck_sampling_wrt_vertices():
    s = trimesh.creation.icosphere(1)
    p = torch.tensor(s.vertices, requires_grad=True)
    f = torch.tensor(s.faces)

    def fn(x):  # fixed generator state: same faces and barycentrics at every evaluation
        return sample_points(x, f, 64, generator=torch.Generator().manual_seed(3), return_normals=True)

    assert gradcheck(fn, (p,))


def test_planar_and_bad_input():
    p = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    f = torch.tensor([[0, 1, 2]])
    with pytest.raises(ValueError, match=r"samples triangle surfaces in 3-D, got points of shape \(3, 2\); pass planar=True"):
        sample_points(p, f, 10)  # a surface sampler silently took 2-D points
    assert sample_points(p, f, 10, planar=True).shape == (10, 2)
    assert sample_points(p, f, 0, planar=True).shape == (0, 2)
    with pytest.raises(ValueError, match="return_normals needs 3-D"):
        sample_points(p, f, 10, return_normals=True, planar=True)
    with pytest.raises(ValueError, match="zero total area"):
        sample_points(torch.zeros(3, 3), f, 10)
    with pytest.raises(ValueError, match="n must be >= 0"):
        sample_points(p, f, -1, planar=True)
    assert G.face_areas(p, f).shape == (1,)


def test_sampling_refuses_fractional_n_and_names_nan_points():
    p = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    f = torch.tensor([[0, 1, 2]])
    for bad in (2.5, "10"):
        with pytest.raises(TypeError, match="n must be an integer"):
            sample_points(p, f, bad, planar=True)  # 2.5 gave 2 samples
    assert sample_points(p, f, 4.0, planar=True).shape == (4, 2)
    with pytest.raises(ValueError, match="points contain NaN or inf"):  # said "zero total area"
        sample_points(torch.tensor([[float("nan"), 0.0], [1.0, 0.0], [0.0, 1.0]]), f, 3, planar=True)


def test_numpy_points_are_accepted():
    p, f = two_triangles()
    a = sample_points(p.numpy(), f.numpy(), 50, generator=torch.Generator().manual_seed(4))
    b = sample_points(p, f, 50, generator=torch.Generator().manual_seed(4))
    assert isinstance(a, torch.Tensor) and torch.equal(a, b)


@pytest.mark.gpu
def test_cuda_sampling_matches_barycentric_formula():
    p, f = (t.cuda() for t in two_triangles())
    gen = torch.Generator(device="cuda").manual_seed(0)
    idx, bary = sample_faces(p, f, 1000, generator=gen)
    x = sample_points(p, f, 1000, generator=torch.Generator(device="cuda").manual_seed(0))
    assert torch.allclose(x, (bary.unsqueeze(-1) * p[f[idx]]).sum(1))
