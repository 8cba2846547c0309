"""spatial: every nearest-neighbour method (kd-tree, torch grid, brute force) equals a numpy brute-force
reference on surfaces, volumes, far-apart and degenerate clouds; the grid (the CUDA path) is run on
CPU here, including its chunked and retry paths; the spatial hash files and expands exactly."""

import numpy as np
import pytest
import torch

from geomsci.core import spatial as S
from geomsci.core.losses import nearest_neighbors as nn_reexported


def brute_nn(x, y):
    d = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)  # (N, M)
    i = d.argmin(1)
    return d[np.arange(len(x)), i], i


def clouds(case, rng):
    if case == "surface":  # two samplings of spheres 5% apart (the typical Chamfer setting)
        x, y = rng.normal(size=(1500, 3)), rng.normal(size=(1200, 3))
        return x / np.linalg.norm(x, axis=1, keepdims=True), 1.05 * y / np.linalg.norm(y, axis=1, keepdims=True)
    if case == "touching":  # the same sphere sampled twice
        x, y = rng.normal(size=(2000, 3)), rng.normal(size=(1800, 3))
        return x / np.linalg.norm(x, axis=1, keepdims=True), y / np.linalg.norm(y, axis=1, keepdims=True)
    if case == "shells_10pct":  # far apart relative to the spacing: the grid must coarsen
        x, y = rng.normal(size=(1500, 3)), rng.normal(size=(1500, 3))
        return x / np.linalg.norm(x, axis=1, keepdims=True), 1.1 * y / np.linalg.norm(y, axis=1, keepdims=True)
    if case == "volume":
        return rng.random((1500, 3)), 2 * rng.random((1000, 3)) - 0.5
    if case == "far_apart":
        return rng.random((800, 3)), rng.random((900, 3)) + np.array([5.0, -3.0, 7.0])
    if case == "planar_2d":
        return rng.random((1500, 2)), rng.random((1300, 2))
    if case == "line_1d":
        return rng.random((900, 1)), rng.random((700, 1))
    if case == "flat_in_3d":  # zero extent along z
        x, y = rng.random((1000, 3)), rng.random((900, 3))
        x[:, 2] = y[:, 2] = 0.5
        return x, y
    if case == "duplicates":
        return rng.random((1000, 3)), np.repeat(rng.random((400, 3)), 3, axis=0)
    return rng.random((300, 5)), rng.random((400, 5))  # dim_5


CASES = [
    "surface",
    "touching",
    "shells_10pct",
    "volume",
    "far_apart",
    "planar_2d",
    "line_1d",
    "flat_in_3d",
    "duplicates",
    "dim_5",
]


@pytest.mark.parametrize("method", ["kdtree", "grid", "brute"])
@pytest.mark.parametrize("case", CASES)
def test_every_method_equals_brute_force(case, method):
    x, y = clouds(case, np.random.default_rng(1))
    d_ref, i_ref = brute_nn(x, y)
    d, i = S.nearest_neighbors(torch.tensor(x), torch.tensor(y), method=method)
    assert np.allclose(d.numpy(), d_ref, rtol=0, atol=1e-12)
    same = i.numpy() == i_ref  # indices agree except at exact distance ties (duplicates)
    assert same.all() or (case == "duplicates" and np.allclose(d_ref[~same], d.numpy()[~same]))
    if method != "kdtree" and case == "duplicates":  # torch methods take the smallest tied index
        assert same.all()


def test_grid_float32_chunked_and_unchunked_agree():
    x, y = clouds("touching", np.random.default_rng(3))
    x, y = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    d0, i0 = S.nearest_neighbors(x, y, method="grid")
    for budget in (2**14, 2**20):  # 16 KB: many passes and the binary-search (sparse) cell look-up
        d1, i1 = S.nearest_neighbors(x, y, method="grid", max_memory=budget)
        assert torch.equal(i0, i1) and torch.equal(d0, d1)
    d_ref, _ = brute_nn(x.double().numpy(), y.double().numpy())
    assert np.allclose(d0.numpy(), d_ref, atol=1e-6)


def test_losses_reexport_and_auto_choice():
    assert nn_reexported is S.nearest_neighbors
    x, y = torch.rand(3000, 3, dtype=torch.float64), torch.rand(2000, 3, dtype=torch.float64)
    assert torch.equal(S.nearest_neighbors(x, y)[1], S.nearest_neighbors(x, y, method="grid")[1])


def test_gradients_flow_through_recomputed_distances():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 3, dtype=torch.float64, generator=g, requires_grad=True)
    y = torch.randn(40, 3, dtype=torch.float64, generator=g, requires_grad=True)
    for method in ("kdtree", "grid", "brute"):
        assert torch.autograd.gradcheck(lambda a, b, m=method: S.nearest_neighbors(a, b, method=m)[0], (x, y))


def test_numpy_input_is_converted():
    x, y = clouds("volume", np.random.default_rng(2))
    d, i = S.nearest_neighbors(x, y)
    assert isinstance(d, torch.Tensor) and d.dtype == torch.float64
    assert np.array_equal(i.numpy(), brute_nn(x, y)[1])
    with pytest.raises(TypeError, match="x must be a float tensor or numpy array"):
        S.nearest_neighbors("points", y)
    with pytest.raises(ValueError, match="method must be one of"):
        S.nearest_neighbors(x, y, method="octree")


def test_spatial_hash_files_and_expands_exactly():
    keys = torch.tensor([5, 2, 5, 9, 2, 5])
    for dense in (0, 10**6):  # binary search over occupied keys, and O(1) tables
        h = S.SpatialHash(keys, n_keys=16, dense_bytes=dense)
        assert h.dense == bool(dense)
        assert h.ukeys.tolist() == [2, 5, 9] and h.ucounts.tolist() == [2, 3, 1]
        start, count = h.lookup(torch.tensor([[5, 3], [-1, 2]]))
        assert count.tolist() == [[3, 0], [0, 2]]
        row, entry = h.candidates(torch.tensor([[5, 3], [-1, 2], [9, 9]]))
        assert row.tolist() == [0, 0, 0, 1, 1, 2, 2]
        assert entry.tolist() == [0, 2, 5, 1, 4, 3, 3]  # stable: equal keys keep their entry order


def test_grid_block_widths_and_retries_are_exact(monkeypatch):
    """Clouds apart take centred 3^D blocks, touching clouds 2^D blocks; queries whose candidate is
    not provably nearest are retried on coarser grids. Every path ends exact."""
    calls = []
    search = S._PointGrid.search

    def spy(self, x, max_memory, width=2):
        best, exact = search(self, x, max_memory, width)
        calls.append((width, x.shape[0], int((~exact).sum())))
        return best, exact

    monkeypatch.setattr(S._PointGrid, "search", spy)
    rng = np.random.default_rng(4)
    for case, width in (("shells_10pct", 3), ("touching", 2)):
        calls.clear()
        x, y = clouds(case, rng)
        _, i = S.nearest_neighbors(torch.tensor(x), torch.tensor(y), method="grid")
        assert np.array_equal(i.numpy(), brute_nn(x, y)[1])
        assert calls[0][0] == width
    monkeypatch.setattr(S, "_FAR_FACTOR_3", 0.8)  # cells too small for most queries: retries
    calls.clear()
    x, y = clouds("touching", rng)
    y = 1.3 * y  # shells 30% apart: the sampled distance, not the point density, sets the cells
    _, i = S.nearest_neighbors(torch.tensor(x), torch.tensor(y), method="grid")
    assert np.array_equal(i.numpy(), brute_nn(x, y)[1])
    assert len(calls) >= 2 and calls[0][2] > 0 and calls[1][1] == calls[0][2]


@pytest.mark.gpu
@pytest.mark.parametrize("gap", [0.0, 0.02])
def test_cuda_grid_matches_kdtree(gap):
    """The CUDA default (the torch grid) against the CPU default (cKDTree) on 200k-point spheres:
    same neighbours up to float32 near-ties, same squared distances; memory reported."""
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(200_000, 3)), rng.normal(size=(200_000, 3))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    y = ((1 + gap) * y / np.linalg.norm(y, axis=1, keepdims=True)).astype(np.float32)
    tx, ty = torch.tensor(x), torch.tensor(y)
    d_cpu, i_cpu = S.nearest_neighbors(tx, ty)
    torch.cuda.reset_peak_memory_stats()
    d_gpu, i_gpu = S.nearest_neighbors(tx.cuda(), ty.cuda())
    print(f"grid NN 200k, gap {gap}: peak {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB")
    assert (i_gpu.cpu() == i_cpu).float().mean() > 0.999
    assert torch.allclose(d_gpu.cpu(), d_cpu, atol=1e-6)


def test_grid_row_gather_path_equals_column_path(monkeypatch):
    """The GPU variant of the candidate search (whole rows gathered, a segment reduction over packed
    (distance, index) keys) run on CPU gives the same neighbours and distances as the CPU variant
    (one coordinate column at a time, a scatter reduction)."""
    x, y = clouds("shells_10pct", np.random.default_rng(5))
    x, y = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    d0, i0 = S.nearest_neighbors(x, y, method="grid")
    monkeypatch.setattr(S, "_ROW_GATHER_DEVICES", ("cuda", "cpu"))
    passes = []
    segment_pass = S._PointGrid._segment_pass
    monkeypatch.setattr(S._PointGrid, "_segment_pass", lambda self, *a: passes.append(1) or segment_pass(self, *a))
    for budget in (None, 2**15):  # one pass per round, and many (the chunked path)
        d1, i1 = S.nearest_neighbors(x, y, method="grid", max_memory=budget)
        assert torch.equal(i0, i1) and torch.equal(d0, d1)
    assert len(passes) > 4  # float32 on the GPU path: the segment reduction ran (no silent fallback)
    xd, yd = x.double(), y.double()  # float64 keeps the scatter reduction
    assert torch.equal(S.nearest_neighbors(xd, yd, method="grid")[1], S.nearest_neighbors(xd, yd, method="brute")[1])
