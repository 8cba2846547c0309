"""Generated plates: valid disk meshes of good quality, varying node counts, reproducible; FE solve
against the exact uniaxial solution."""

import numpy as np
import pytest
import torch

from geomsci.core.geometry import boundary_loops
from geomsci.mmgp.datasets import make_sample, make_split
from geomsci.mmgp.elasticity import solve_plate
from geomsci.mmgp.plates import mesh_polygon, random_plate_mesh, triangle_quality
from tests.mmgp.polygons import rectangle_boundary


@pytest.mark.parametrize("shape", ["plate", "ellipse", "wedge"])
def test_meshes_are_good_disks(shape):
    rng = np.random.default_rng(0)
    counts = set()
    for _ in range(4):
        points, faces, labels = random_plate_mesh(rng, rng.uniform(0.05, 0.08), shape)
        counts.add(len(points))
        assert len(boundary_loops(torch.as_tensor(faces))) == 1
        # a Delaunay triangulation of a jittered, smoothed lattice: no sliver below 20 degrees
        assert triangle_quality(points, faces).min() > 20.0
        assert set(np.unique(labels)) == {0, 1, 2}
    assert len(counts) == 4  # every sample has its own node count


def test_default_sizes_are_1k_to_3k_nodes():
    n = [make_split(1, "train", seed=s)[0][0].n_points for s in range(3)]
    assert all(900 <= k <= 3300 for k in n), n  # "1k to 3k nodes"


def test_reproducible_and_splits_disjoint():
    a, xa, ya = make_split(2, "train", seed=5, h_range=(0.08, 0.1))
    b, xb, yb = make_split(2, "train", seed=5, h_range=(0.08, 0.1))
    c, xc, _ = make_split(2, "test", seed=5, h_range=(0.08, 0.1))
    assert torch.equal(a[1].points, b[1].points) and np.array_equal(xa, xb) and np.array_equal(ya, yb)
    assert not np.allclose(xa, xc)


def test_uniaxial_strain_exact():
    """nu -> 0 on a rectangle clamped at the bottom and pulled by p on top: sigma_yy = p everywhere,
    u2 = p y / E, u1 = 0 and von Mises = p (sigma_zz = 0). P1 reproduces the linear field exactly."""
    boundary = rectangle_boundary(1.0, 1.5, 10, 15)
    points, faces = mesh_polygon(boundary, 0.1, np.random.default_rng(0))
    labels = np.zeros(len(points), dtype=np.int64)
    labels[np.isclose(points[:, 1], 0)] = 1
    labels[np.isclose(points[:, 1], 1.5)] = 2
    p, E = 2.0, 100.0
    r = solve_plate(points, faces, labels, p, E, 1e-9)
    np.testing.assert_allclose(r["u2"], p * points[:, 1] / E, atol=1e-9)
    np.testing.assert_allclose(r["u1"], 0, atol=1e-9)
    np.testing.assert_allclose(r["von_mises"], p, rtol=1e-6)


def test_sample_outputs_consistent():
    mesh, inputs, outputs = make_sample(11, h_range=(0.08, 0.1))
    y = mesh.points[:, 1]
    gauge = (y > 0.15 * (y.max() - y.min())) & (y < y.max() - 0.15 * (y.max() - y.min()))
    assert outputs["max_von_mises"] == pytest.approx(float(mesh.point_data["von_mises"][gauge].max()))
    top = mesh.point_data["label"] == 2
    assert outputs["max_top_u2"] == pytest.approx(float(mesh.point_data["u2"][top].max()))
    assert outputs["max_top_u2"] > 0  # pulled upwards


def test_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        make_split(1, "validation")
    with pytest.raises(ValueError, match="poisson"):
        solve_plate(np.zeros((3, 2)), np.array([[0, 1, 2]]), np.zeros(3, int), 1.0, 1.0, 0.5)
