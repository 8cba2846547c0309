"""metrics: one Chamfer / F-score / normal-consistency convention. Concentric spheres give the
analytic answer; batched and numpy input equal the plain call; deepmesh's and gshell's metric
functions report exactly core's numbers under their historical keys."""

import numpy as np
import pytest
import torch

from geomsci.core import metrics as M
from geomsci.core.losses import chamfer_distance as chamfer_reexported
from geomsci.core.shapes import icosphere


def test_concentric_spheres_match_the_analytic_distances():
    # every point of one sphere is |r2 - r1| from the other (up to the tessellation's sagitta)
    a, b = icosphere(5, radius=1.0, dtype=torch.float64), icosphere(5, radius=1.1, dtype=torch.float64)
    out = M.surface_metrics(a, b, n=20_000)
    assert out["chamfer_l1"] == pytest.approx(2 * 0.1, rel=2e-2)  # sum of the two one-sided means
    assert out["chamfer_l2"] == pytest.approx(2 * 0.1**2, rel=4e-2)
    assert out["normal_consistency"] == pytest.approx(1.0, abs=2e-3)  # radial normals on both
    assert out["diagonal"] == pytest.approx(2 * 1.1 * np.sqrt(3), rel=1e-2)
    assert out["f_threshold"] == pytest.approx(0.01 * out["diagonal"])
    assert out["f_score"] == out["precision"] == out["recall"] == 0.0  # 0.1 apart > 1% of 3.8
    near = M.surface_metrics(a, b, n=5000, f_threshold=0.15)
    assert near["f_score"] == near["precision"] == near["recall"] == 1.0
    same = M.surface_metrics(a, a, n=5000)
    # independent samples of one surface: the noise floor is about the sample spacing, sqrt(4 pi / n) = 0.05
    assert same["chamfer_l1"] < 0.06 and same["f_score"] > 0.5


def test_chamfer_convention_is_the_sum_of_two_means():
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(300, 3, generator=g, dtype=torch.float64), torch.rand(200, 3, generator=g, dtype=torch.float64)
    d = torch.cdist(x, y)
    cd2, _ = M.chamfer_distance(x, y)
    cd1, _ = M.chamfer_distance(x, y, squared=False)
    assert float(cd2) == pytest.approx(float((d.min(1).values ** 2).mean() + (d.min(0).values ** 2).mean()), rel=1e-12)
    assert float(cd1) == pytest.approx(float(d.min(1).values.mean() + d.min(0).values.mean()), rel=1e-12)
    assert chamfer_reexported is M.chamfer_distance


def test_batched_input_as_pytorch3d_users_pass_it():
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(4, 500, 3, generator=g), torch.rand(4, 300, 3, generator=g)
    nx, ny = torch.randn(4, 500, 3, generator=g), torch.randn(4, 300, 3, generator=g)
    each = [M.chamfer_distance(x[b], y[b], x_normals=nx[b], y_normals=ny[b]) for b in range(4)]
    d, n = M.chamfer_distance(x, y, x_normals=nx, y_normals=ny, batch_reduction=None)
    assert d.shape == (4,) and torch.equal(d, torch.stack([e[0] for e in each]))
    assert torch.equal(n, torch.stack([e[1] for e in each]))
    assert torch.equal(M.chamfer_distance(x, y)[0], d.mean())  # pytorch3d's default: mean over the batch
    assert torch.equal(M.chamfer_distance(x, y, batch_reduction="sum")[0], d.sum())
    with pytest.raises(ValueError, match="same B"):
        M.chamfer_distance(x, y[:3])
    with pytest.raises(ValueError, match="both be"):
        M.chamfer_distance(x, y[0])
    with pytest.raises(ValueError, match="batch_reduction"):
        M.chamfer_distance(x, y, batch_reduction="max")


def test_numpy_arrays_are_accepted_and_converted():
    rng = np.random.default_rng(2)
    x, y = rng.random((400, 3)), rng.random((300, 3))
    d_np, _ = M.chamfer_distance(x, y)
    d_t, _ = M.chamfer_distance(torch.tensor(x), torch.tensor(y))
    assert isinstance(d_np, torch.Tensor) and torch.equal(d_np, d_t)
    assert torch.equal(M.chamfer_distance(x[None], y[None])[0], d_t)  # batched arrays too
    assert torch.equal(M.chamfer_distance(x, torch.tensor(y))[0], d_t)  # mixed
    f_np = M.f_score(x, y, 0.05)
    f_t = M.f_score(torch.tensor(x), torch.tensor(y), 0.05)
    assert all(torch.equal(a, b) for a, b in zip(f_np, f_t))
    with pytest.raises(TypeError, match="x must be a float tensor or numpy array"):
        M.chamfer_distance({"points": x}, y)


def test_subpackage_metrics_report_core_numbers():
    from geomsci.deepmesh.evaluation import surface_metrics as deepmesh_metrics
    from geomsci.gshell.evaluation import evaluate as gshell_evaluate

    a, b = icosphere(3, radius=0.8), icosphere(4, radius=0.85)
    core = M.surface_metrics(a, b, n=4000, seed=3)
    dm = deepmesh_metrics(a, b, n=4000, seed=3)
    gs = gshell_evaluate(a, b, n=4000, seed=3)
    for key in ("chamfer_l2", "chamfer_l1", "f_score", "precision", "recall", "f_threshold", "normal_consistency"):
        assert dm[key] == core[key] == gs[key], key
    assert dm["chamfer"] == core["chamfer_l2"]  # historical keys: deepmesh squared, gshell Euclidean
    assert gs["chamfer"] == core["chamfer_l1"] and gs["fscore"] == core["f_score"]
    assert dm["genus"] == 0 and gs["boundary_loops"] == 0


def test_surface_metrics_bad_input():
    a = icosphere(2)
    with pytest.raises(TypeError, match="pred must be a Mesh"):
        M.surface_metrics(a.points, a)
    from geomsci.core.mesh import Mesh

    with pytest.raises(ValueError, match="target must be a 3-D triangle mesh"):
        M.surface_metrics(a, Mesh(a.points))
