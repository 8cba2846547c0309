"""losses: exact nearest neighbours under a memory budget, Chamfer and F-score against a brute-force
numpy reference, mesh regularizers on configurations with known values, float64 gradchecks."""

import math

import numpy as np
import pytest
import torch
import trimesh
from torch.autograd import gradcheck

from geomsci.core import losses as L


def brute_nn(x, y):
    d = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)  # (N, M)
    i = d.argmin(1)
    return d[np.arange(len(x)), i], i


def surface_clouds(n, m, seed=0):
    """Points on two slightly different spheres (the typical Chamfer setting)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = rng.normal(size=(m, 3))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y /= np.linalg.norm(y, axis=1, keepdims=True) / 1.05
    return x, y


@pytest.mark.parametrize("case", ["surface", "volume", "far_apart", "planar_2d", "duplicates", "dim_5"])
def test_nearest_neighbors_equal_brute_force(case, device):
    rng = np.random.default_rng(1)
    if case == "surface":
        x, y = surface_clouds(1500, 1200)
    elif case == "volume":
        x, y = rng.random((1500, 3)), 2 * rng.random((1000, 3)) - 0.5
    elif case == "far_apart":
        x, y = rng.random((800, 3)), rng.random((900, 3)) + np.array([5.0, -3.0, 7.0])
    elif case == "planar_2d":
        x, y = rng.random((1500, 2)), rng.random((1300, 2))
    elif case == "duplicates":
        y = np.repeat(rng.random((400, 3)), 3, axis=0)
        x = rng.random((1000, 3))
    else:
        x, y = rng.random((300, 5)), rng.random((400, 5))
    d_ref, i_ref = brute_nn(x, y)
    d, i = L.nearest_neighbors(torch.tensor(x, device=device), torch.tensor(y, device=device))
    assert np.allclose(d.cpu().numpy(), d_ref, rtol=0, atol=1e-12)
    # indices agree except at exact distance ties (duplicates): there the smallest index is taken
    same = i.cpu().numpy() == i_ref
    assert same.all() or (case == "duplicates" and np.allclose(d_ref[~same], d.cpu().numpy()[~same]))


def test_small_memory_budget_gives_identical_results():
    x, y = surface_clouds(2000, 1500, seed=3)
    x, y = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    d0, i0 = L.nearest_neighbors(x, y)
    for budget in (2**15, 2**20):  # 32 KB forces ~100 chunks and the sparse cell look-up
        d1, i1 = L.nearest_neighbors(x, y, max_memory=budget)
        assert torch.equal(i0, i1) and torch.equal(d0, d1)
    # the brute-force path chunked row by row
    xb, yb = torch.rand(500, 6), torch.rand(700, 6)
    assert torch.equal(L.nearest_neighbors(xb, yb)[1], L.nearest_neighbors(xb, yb, max_memory=64)[1])


def test_chamfer_equals_numpy_reference():
    x, y = surface_clouds(700, 500, seed=4)
    rng = np.random.default_rng(5)
    nx, ny = rng.normal(size=x.shape), rng.normal(size=y.shape)
    dxy, ixy = brute_nn(x, y)
    dyx, iyx = brute_nn(y, x)
    tx, ty = torch.tensor(x), torch.tensor(y)
    d, nl = L.chamfer_distance(tx, ty)
    assert nl is None and abs(float(d) - (dxy.mean() + dyx.mean())) < 1e-12
    d, _ = L.chamfer_distance(tx, ty, squared=False)
    assert abs(float(d) - (np.sqrt(dxy).mean() + np.sqrt(dyx).mean())) < 1e-12
    d, _ = L.chamfer_distance(tx, ty, two_sided=False)
    assert abs(float(d) - dxy.mean()) < 1e-12

    def cos(a, b):
        return np.abs((a * b).sum(1)) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)

    ref_nl = (1 - cos(nx, ny[ixy])).mean() + (1 - cos(ny, nx[iyx])).mean()
    _, nl = L.chamfer_distance(tx, ty, x_normals=torch.tensor(nx), y_normals=torch.tensor(ny))
    assert abs(float(nl) - ref_nl) < 1e-12


def test_f_score_equals_numpy_reference():
    x, y = surface_clouds(600, 800, seed=6)
    t = 0.08  # the spheres are 0.05 apart: part of each cloud is within t
    p_ref = (np.sqrt(brute_nn(x, y)[0]) < t).mean()
    r_ref = (np.sqrt(brute_nn(y, x)[0]) < t).mean()
    f_ref = 2 * p_ref * r_ref / (p_ref + r_ref)
    f, p, r = L.f_score(torch.tensor(x), torch.tensor(y), t)
    assert abs(float(p) - p_ref) < 1e-15 and abs(float(r) - r_ref) < 1e-15
    assert abs(float(f) - f_ref) < 1e-12 and 0 < float(f) < 1
    f, p, r = L.f_score(torch.tensor(x), torch.tensor(x), 1e-6)
    assert float(f) == float(p) == float(r) == 1.0
    with pytest.raises(ValueError, match="threshold"):
        L.f_score(torch.tensor(x), torch.tensor(y), 0.0)


def test_gradcheck_chamfer_wrt_both_clouds():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 3, dtype=torch.float64, generator=g, requires_grad=True)
    y = torch.randn(30, 3, dtype=torch.float64, generator=g, requires_grad=True)
    nx = torch.randn(40, 3, dtype=torch.float64, generator=g, requires_grad=True)
    ny = torch.randn(30, 3, dtype=torch.float64, generator=g)
    assert gradcheck(lambda a, b: L.chamfer_distance(a, b)[0], (x, y))
    assert gradcheck(lambda a, b: L.chamfer_distance(a, b, squared=False)[0], (x, y))
    assert gradcheck(lambda a, n: L.chamfer_distance(a, y, x_normals=n, y_normals=ny)[1], (x, nx))


def test_normal_consistency_of_flat_and_folded_pairs():
    p = torch.tensor([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], dtype=torch.float64)
    f = torch.tensor([[0, 1, 2], [1, 3, 2]])
    assert float(L.normal_consistency(p, f)) == pytest.approx(0.0, abs=1e-15)
    # the second face stands upright on the shared edge (0, 1): 1 - cos 90deg = 1
    q = torch.tensor([[0, 0, 0], [1, 0, 0], [0.5, 0.5, 0], [0.5, 0, 1]], dtype=torch.float64)
    g = torch.tensor([[0, 1, 2], [0, 3, 1]])
    assert float(L.normal_consistency(q, g)) == pytest.approx(1.0, abs=1e-12)
    # an edge shared by three faces contributes three pairs
    fin = torch.tensor([[0, 1, 2], [1, 0, 3], [1, 0, 4]])
    r = torch.tensor([[0, 0, 0], [1, 0, 0], [0.5, 1, 0], [0.5, -1, 0], [0.5, 0, 1]], dtype=torch.float64)
    n = torch.nn.functional.normalize(torch.linalg.cross(r[fin[:, 1]] - r[fin[:, 0]], r[fin[:, 2]] - r[fin[:, 0]]), dim=1)
    ref = ((1 - (n[0] * n[1]).sum()) + (1 - (n[0] * n[2]).sum()) + (1 - (n[1] * n[2]).sum())) / 3
    assert float(L.normal_consistency(r, fin)) == pytest.approx(float(ref), abs=1e-12)
    s = trimesh.creation.icosphere(1)
    ps = torch.tensor(s.vertices, requires_grad=True)
    assert gradcheck(lambda a: L.normal_consistency(a, torch.tensor(s.faces)), (ps,))


def test_laplacian_smoothing_against_dense_reference():
    igl = pytest.importorskip("igl")
    s = trimesh.creation.icosphere(1)
    s.vertices += np.random.default_rng(0).normal(scale=0.05, size=s.vertices.shape)
    p, f = torch.tensor(s.vertices), torch.tensor(s.faces)
    adj = np.zeros((len(p), len(p)))
    for a, b in ((0, 1), (1, 2), (2, 0)):
        adj[s.faces[:, a], s.faces[:, b]] = adj[s.faces[:, b], s.faces[:, a]] = 1
    delta = adj @ s.vertices / adj.sum(1, keepdims=True) - s.vertices
    assert float(L.laplacian_smoothing(p, f)) == pytest.approx(np.linalg.norm(delta, axis=1).mean(), rel=1e-12)
    w = igl.cotmatrix(s.vertices, s.faces).toarray()
    np.fill_diagonal(w, 0)
    delta = w @ s.vertices / w.sum(1, keepdims=True) - s.vertices
    assert float(L.laplacian_smoothing(p, f, "cot")) == pytest.approx(np.linalg.norm(delta, axis=1).mean(), rel=1e-10)
    pg = p.clone().requires_grad_(True)
    assert gradcheck(lambda a: L.laplacian_smoothing(a, f), (pg,))
    with pytest.raises(ValueError, match="method must be"):
        L.laplacian_smoothing(p, f, "cotan")


def test_edge_length_loss():
    h = math.sqrt(3) / 2
    p = torch.tensor([[0, 0, 0], [1, 0, 0], [0.5, h, 0]], dtype=torch.float64, requires_grad=True)
    f = torch.tensor([[0, 1, 2]])
    assert L.edge_length_loss(p, f, target=1.0).detach().item() == pytest.approx(0.0, abs=1e-15)
    assert L.edge_length_loss(p, f).detach().item() == pytest.approx(1.0)
    assert gradcheck(lambda a: L.edge_length_loss(a, f, target=0.7), (p,))


def test_bad_input():
    with pytest.raises(ValueError, match="same dimension"):
        L.nearest_neighbors(torch.rand(5, 3), torch.rand(5, 2))
    with pytest.raises(ValueError, match="y is empty"):
        L.nearest_neighbors(torch.rand(5, 3), torch.rand(0, 3))
    with pytest.raises(ValueError, match=r"shape \(N, D\)"):
        L.chamfer_distance(torch.rand(5), torch.rand(5, 3))
    with pytest.raises(ValueError, match="both x_normals and y_normals"):
        L.chamfer_distance(torch.rand(5, 3), torch.rand(5, 3), x_normals=torch.rand(5, 3))
    d, i = L.nearest_neighbors(torch.rand(0, 3), torch.rand(4, 3))
    assert d.shape == (0,) and i.shape == (0,)


def test_non_finite_and_empty_clouds_are_named():
    y = torch.rand(2000, 3, generator=torch.Generator().manual_seed(0))
    x = y.clone()
    x[3] = float("nan")  # the hash-grid search raised an IndexError; brute force gave an index
    with pytest.raises(ValueError, match=r"x contains NaN or inf points \(first bad rows: \[3\]\)"):
        L.nearest_neighbors(x, y)
    with pytest.raises(ValueError, match="y contains NaN or inf"):
        L.chamfer_distance(y[:5], torch.tensor([[float("inf"), 0.0, 0.0]]))
    with pytest.raises(ValueError, match="x is empty"):  # said "y is empty"
        L.chamfer_distance(torch.rand(0, 3), y)
    with pytest.raises(ValueError, match="x is empty"):  # one-sided gave nan
        L.chamfer_distance(torch.rand(0, 3), y, two_sided=False)


@pytest.mark.gpu
def test_cuda_chamfer_matches_cpu():
    x, y = surface_clouds(20000, 15000, seed=9)
    x, y = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    d_cpu, i_cpu = L.nearest_neighbors(x, y)
    d_gpu, i_gpu = L.nearest_neighbors(x.cuda(), y.cuda())
    assert (i_gpu.cpu() == i_cpu).float().mean() > 0.999  # float32 near-ties may differ
    assert torch.allclose(d_gpu.cpu(), d_cpu, atol=1e-6)
    assert torch.allclose(L.chamfer_distance(x.cuda(), y.cuda())[0].cpu(), L.chamfer_distance(x, y)[0], rtol=1e-5)


@pytest.mark.slow
def test_chamfer_at_benchmark_size_equals_kdtree():
    from scipy.spatial import cKDTree

    x, y = surface_clouds(100_000, 100_000, seed=11)
    x, y = x.astype(np.float32), y.astype(np.float32)
    d, i = L.nearest_neighbors(torch.tensor(x), torch.tensor(y))
    d_ref, i_ref = cKDTree(y).query(x)
    assert (i.numpy() == i_ref).mean() > 0.9999  # float32 near-ties may differ
    assert np.allclose(d.numpy(), d_ref**2, atol=1e-6)


def test_numpy_arrays_are_accepted_by_every_loss():
    s = trimesh.creation.icosphere(1)
    p, f = np.asarray(s.vertices), np.asarray(s.faces)
    tp, tf = torch.tensor(p), torch.tensor(f)
    for fn in (L.normal_consistency, L.laplacian_smoothing, L.edge_length_loss):
        assert torch.equal(fn(p, f), fn(tp, tf)), fn.__name__
    x, y = surface_clouds(200, 150)
    assert torch.equal(L.chamfer_distance(x, y)[0], L.chamfer_distance(torch.tensor(x), torch.tensor(y))[0])
    assert torch.equal(L.nearest_neighbors(x, y)[1], L.nearest_neighbors(torch.tensor(x), torch.tensor(y))[1])
