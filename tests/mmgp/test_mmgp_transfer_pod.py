"""P1 transfer reproduces linear fields exactly (both ways through the disk); mass-weighted POD
reconstructs its training snapshots to the energy threshold."""

import numpy as np
import pytest
import torch

from geomsci.core.geometry import vertex_areas
from geomsci.core.mesh import Mesh
from geomsci.mmgp.morphing import disk_map
from geomsci.mmgp.plates import mesh_polygon, random_plate_mesh
from geomsci.mmgp.pod import WeightedPOD
from geomsci.mmgp.transfer import apply, transfer_operator
from tests.mmgp.polygons import rectangle_boundary


def _square_mesh(seed, h=0.1):
    boundary = rectangle_boundary(1.0, 1.0, 10, 10)
    p, f = mesh_polygon(boundary, h * (1 + 0.3 * seed), np.random.default_rng(seed))
    return Mesh(torch.as_tensor(p), torch.as_tensor(f), "triangle")


def test_linear_field_transfer_exact_between_meshes():
    """Two independent meshes of one square: a linear field goes across, both ways, to round-off."""
    a, b = _square_mesh(0), _square_mesh(1)
    assert a.n_points != b.n_points
    lin = lambda x: 2.0 * x[:, 0] - 3.0 * x[:, 1] + 0.5  # noqa: E731
    for src, dst in ((a, b), (b, a)):
        T, n_out = transfer_operator(src, dst.points)
        assert torch.allclose(apply(T, lin(src.points)), lin(dst.points), atol=1e-12)
        assert torch.allclose(torch.sparse.sum(T, 1).to_dense(), torch.ones(dst.n_points, dtype=torch.float64))


def test_linear_field_transfer_exact_through_the_disk():
    """MMGP's transfer: common-mesh nodes located in a morphed sample. A field linear in the disk
    coordinates comes across exactly at every node inside the sample's disk polygon."""
    rng = np.random.default_rng(4)
    meshes = [random_plate_mesh(rng, h, "plate")[:2] for h in (0.05, 0.07)]
    uv = [disk_map(torch.as_tensor(p), torch.as_tensor(f), n_corners=4) for p, f in meshes]
    sample = Mesh(uv[0], torch.as_tensor(meshes[0][1]), "triangle")
    T, n_out = transfer_operator(sample, uv[1])
    lin = lambda x: 1.5 * x[:, 0] + 0.7 * x[:, 1] - 0.2  # noqa: E731
    err = (apply(T, lin(uv[0])) - lin(uv[1])).abs()
    inside = uv[1].norm(dim=1) < 0.999  # boundary nodes sit on the circle, outside the chords
    assert float(err[inside].max()) < 1e-12
    assert not bool(n_out[inside].any())
    assert float(err.max()) < 0.02  # the clamped boundary nodes stay close


def test_pod_reconstructs_to_energy_threshold():
    g = torch.Generator().manual_seed(0)
    mesh = _square_mesh(0)
    x = mesh.points
    w = vertex_areas(x, mesh.cells)
    # 40 snapshots from a smooth family with decaying spectrum, plus a little noise
    c = torch.randn(40, 6, generator=g, dtype=torch.float64) * torch.tensor([1, 0.5, 0.2, 0.1, 0.03, 0.01], dtype=torch.float64)
    basis = torch.stack([torch.sin((k + 1) * x[:, 0]) * torch.cos(k * x[:, 1]) for k in range(6)], 1)
    snaps = 3.0 + c @ basis.T + 1e-4 * torch.randn(40, x.shape[0], generator=g, dtype=torch.float64)
    for energy in (0.9, 0.99, 0.999, 0.9999):
        pod = WeightedPOD(energy=energy).fit(snaps, w)
        rec = pod.inverse_transform(pod.transform(snaps))
        err = (((snaps - rec) ** 2) * w).sum() / (((snaps - pod.mean_) ** 2) * w).sum()
        assert float(err) <= 1 - energy + 1e-12
        assert float(err) == pytest.approx(1 - pod.captured_, abs=1e-10)
        # minimal: one mode fewer misses the threshold
        k = pod.n_components_
        if k > 1:
            fewer = WeightedPOD(n_modes=k - 1).fit(snaps, w)
            rec = fewer.inverse_transform(fewer.transform(snaps))
            assert float((((snaps - rec) ** 2) * w).sum() / (((snaps - pod.mean_) ** 2) * w).sum()) > 1 - energy
        gram = pod.modes_.T @ (pod.modes_ * w[:, None])  # M-orthonormal modes
        assert torch.allclose(gram, torch.eye(k, dtype=gram.dtype), atol=1e-8)


def test_pod_bad_input():
    with pytest.raises(ValueError, match="energy"):
        WeightedPOD(energy=1.5)
    with pytest.raises(ValueError, match="weights"):
        WeightedPOD().fit(torch.zeros(3, 5), torch.ones(4))
    snaps = torch.rand(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    snaps[1, 2] = float("nan")
    with pytest.raises(ValueError, match="snapshot 1 has NaN or inf"):  # was a LinAlgError from eigh
        WeightedPOD().fit(snaps, torch.ones(4, dtype=torch.float64))
    pod = WeightedPOD().fit(snaps.nan_to_num(), torch.ones(4, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"snapshots must be \(n, 4\), got \(3, 5\)"):
        pod.transform(torch.zeros(3, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"coeffs must be \(n, \d\)"):
        pod.inverse_transform(torch.zeros(3, 9, dtype=torch.float64))


def test_cv_residual_variance_sees_what_the_training_fit_cannot():
    from geomsci.mmgp.pod import cv_residual_variance

    g = torch.Generator().manual_seed(0)
    n, M = 40, 30
    w = torch.rand(M, generator=g, dtype=torch.float64) + 0.5
    low = torch.randn(n, 3, generator=g, dtype=torch.float64) @ torch.randn(3, M, generator=g, dtype=torch.float64)
    # snapshots in a 3-D affine span: 3 modes from any 4 folds already reproduce held-out ones
    assert float(cv_residual_variance(low + 1.0, w, 3).max()) < 1e-20
    # plus independent noise: held-out residuals exceed the in-sample ones (the training fit is optimistic)
    noisy = low + 0.1 * torch.randn(n, M, generator=g, dtype=torch.float64)
    pod = WeightedPOD(n_modes=3).fit(noisy, w)
    in_sample = ((noisy - pod.inverse_transform(pod.transform(noisy))) ** 2).mean(0)
    cv = cv_residual_variance(noisy, w, 3)
    assert cv.shape == (M,) and float(cv.sum()) > float(in_sample.sum())
    assert 0.5 * 0.01 < float(cv.mean()) < 2 * 0.01  # close to the noise variance
