"""Floater disk map (bijective, boundary by arc length), RBF morphing (exact landmarks and affine
motions), boundary correspondences for multi-loop 3-D surfaces."""

import math

import numpy as np
import pytest
import torch

from geomsci.core.geometry import boundary_loops
from geomsci.core.mesh import Mesh
from geomsci.mmgp.morphing import (
    boundary_correspondence,
    disk_map,
    flipped_triangles,
    rbf_boundary_morph,
    rbf_morph,
    signed_areas_2d,
)
from geomsci.mmgp.plates import random_plate_mesh


def _meshes():
    rng = np.random.default_rng(1)
    for shape in ("plate", "plate", "plate", "ellipse", "wedge"):
        p, f, _ = random_plate_mesh(rng, rng.uniform(0.04, 0.08), shape)
        yield torch.as_tensor(p), torch.as_tensor(f)


@pytest.mark.parametrize("n_corners", [0, 4])
def test_disk_map_is_bijective_on_generated_meshes(n_corners):
    """Tutte/Floater: positive weights + convex boundary => no triangle flips (every image
    triangle keeps its counter-clockwise orientation), and the images tile the disk polygon."""
    for points, faces in _meshes():
        uv = disk_map(points, faces, n_corners=n_corners)
        assert len(flipped_triangles(uv, faces)) == 0
        loop = boundary_loops(faces)[0]
        # areas add up to the inscribed boundary polygon: no overlaps, no gaps
        q = uv[loop]
        poly = 0.5 * (q[:, 0] * torch.roll(q[:, 1], -1) - torch.roll(q[:, 0], -1) * q[:, 1]).sum()
        assert float(signed_areas_2d(uv, faces).sum()) == pytest.approx(float(poly), rel=1e-10)
        assert torch.allclose(q.norm(dim=1), torch.ones(len(loop), dtype=q.dtype))


def test_disk_boundary_by_arc_length_from_lowest_left():
    points, faces = next(_meshes())
    uv = disk_map(points, faces, theta0=0.0)
    loop = boundary_loops(faces)[0]
    k0 = int(points[loop].sum(1).argmin())
    loop = torch.roll(loop, -k0)
    assert torch.allclose(uv[loop[0]], torch.tensor([1.0, 0.0], dtype=uv.dtype))  # the lowest-left node at theta0
    seg = (torch.roll(points[loop], -1, 0) - points[loop]).norm(dim=1)
    s = torch.cat([seg.new_zeros(1), torch.cumsum(seg, 0)[:-1]]) / seg.sum()
    theta = torch.atan2(uv[loop, 1], uv[loop, 0]) % (2 * math.pi)
    assert torch.allclose(theta[1:], 2 * math.pi * s[1:], atol=1e-12)


def test_disk_map_corners_pinned():
    points, faces = next(_meshes())
    uv = disk_map(points, faces, n_corners=4, theta0=-0.75 * math.pi)
    b = boundary_loops(faces)[0]
    ang = torch.atan2(uv[b, 1], uv[b, 0])
    for target in (-0.75 * math.pi, -0.25 * math.pi, 0.25 * math.pi, 0.75 * math.pi):
        assert float(((ang - target + math.pi) % (2 * math.pi) - math.pi).abs().min()) < 1e-12


def test_disk_map_rejects_two_loops():
    square = torch.tensor([[0, 0], [3, 0], [3, 3], [0, 3], [1, 1], [2, 1], [2, 2], [1, 2]], dtype=torch.float64)
    faces = torch.tensor([[0, 1, 5], [0, 5, 4], [1, 2, 6], [1, 6, 5], [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7]])
    with pytest.raises(ValueError, match="exactly one boundary loop, found 2"):
        disk_map(square, faces)


def test_disk_map_checks_its_input():
    p = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    with pytest.raises(ValueError, match=r"disk_map: points must be a tensor of shape \(N, 2\) or \(N, 3\), got ndarray"):
        disk_map(p.numpy(), torch.tensor([[0, 1, 2]]))
    with pytest.raises(ValueError, match=r"disk_map: faces index out of range: indices span \[0, 5\] for 3 points"):
        disk_map(p, torch.tensor([[0, 1, 5]]))  # was an IndexError


def test_rbf_exact_at_landmarks_and_affine():
    g = torch.Generator().manual_seed(0)
    src = torch.rand(30, 3, generator=g, dtype=torch.float64)
    pts = torch.rand(100, 3, generator=g, dtype=torch.float64)
    A = torch.tensor([[1.1, 0.2, 0.0], [-0.1, 0.9, 0.3], [0.0, 0.1, 1.2]], dtype=torch.float64)
    t = torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64)
    # an affine motion is reproduced exactly everywhere (the polynomial part of the RBF)
    assert torch.allclose(rbf_morph(pts, src, src @ A.T + t), pts @ A.T + t, atol=1e-10)
    tgt = src + 0.05 * torch.sin(3 * src)
    assert torch.allclose(rbf_morph(src, src, tgt), tgt, atol=1e-10)  # interpolates the landmarks
    with pytest.raises(ValueError, match="source and target"):
        rbf_morph(pts, src, tgt[:5])


def _cylinder(radius, height, n_around=24, n_height=6):
    th = torch.arange(n_around, dtype=torch.float64) * 2 * math.pi / n_around
    z = torch.linspace(0, height, n_height, dtype=torch.float64)
    pts = torch.stack(
        [radius * torch.cos(th).repeat(n_height), radius * torch.sin(th).repeat(n_height), z.repeat_interleave(n_around)], 1
    )
    faces = []
    for j in range(n_height - 1):
        for i in range(n_around):
            a, b = j * n_around + i, j * n_around + (i + 1) % n_around
            faces += [[a, b, b + n_around], [a, b + n_around, a + n_around]]
    return Mesh(pts, torch.tensor(faces), "triangle")


def test_rbf_boundary_morph_two_loop_surface():
    """An open cylinder (two boundary loops) morphed onto a wider, taller one: both loops land on the
    reference circles and the surface stays a tube between them."""
    mesh, ref = _cylinder(1.0, 2.0), _cylinder(1.5, 3.0, n_around=40, n_height=9)
    idx, tgt = boundary_correspondence(mesh, ref)
    assert len(idx) == 48
    top = tgt[:, 2] > 1.5
    assert torch.allclose(tgt[top, 2], torch.tensor(3.0, dtype=tgt.dtype)) and torch.allclose(
        tgt[~top, 2], torch.tensor(0.0, dtype=tgt.dtype)
    )
    moved = rbf_boundary_morph(mesh, ref)
    assert torch.allclose(moved.points[idx], tgt, atol=1e-9)
    r = moved.points[idx, :2].norm(dim=1)
    assert float((r - 1.5).abs().max()) < 1.5 * (1 - math.cos(math.pi / 40)) + 1e-9  # on the reference polygon
    one_loop = Mesh(torch.eye(3, dtype=torch.float64), torch.tensor([[0, 1, 2]]), "triangle")
    with pytest.raises(ValueError, match="2 boundary loops, reference has 1"):
        boundary_correspondence(mesh, one_loop)


def test_disk_map_of_a_curved_3d_patch():
    """The mean-value weights use 3-D angles and lengths: a bent plate in space maps without flips."""
    points, faces = next(_meshes())
    lifted = torch.cat([points, (0.3 * torch.sin(2 * points[:, 0]) * torch.cos(points[:, 1]))[:, None]], 1)
    uv = disk_map(lifted, faces)
    assert len(flipped_triangles(uv, faces)) == 0


@pytest.mark.parametrize("split", ["train", "test", "ood_ellipse", "ood_wedge"])
def test_disk_map_bijective_on_every_split(split):
    from geomsci.mmgp.datasets import make_split

    meshes, _, _ = make_split(6, split, seed=7, h_range=(0.06, 0.09))
    for m in meshes:
        for n_corners in (0, 4):
            assert len(flipped_triangles(disk_map(m.points, m.cells, n_corners=n_corners), m.cells)) == 0


def test_default_rbf_common_mesh_is_the_one_onto_which_fewest_samples_fold():
    """Squares with a circular hole (random centre and radius): the RBF morph onto the mesh with most nodes
    (the smallest hole) turns triangles over in 11 of the other 23 samples; the default common mesh folds none, and
    fit says when a chosen common mesh folds training samples."""
    import warnings

    from geomsci.mmgp import MMGPRegressor
    from geomsci.mmgp.families import make_family_split
    from geomsci.mmgp.morphing import folds, least_folding_reference

    meshes, x, y = make_family_split(24, "holed", "train", seed=3)
    largest = int(np.argmax([m.n_points for m in meshes]))
    best, scores = least_folding_reference(meshes)
    assert scores[largest] == 11 and scores[best] == 0 == min(scores.values())
    assert sum(folds(m, meshes[best]) > 0 for m in meshes) == 0
    kw = dict(interval_calibration="none", n_restarts=1, n_iter=20, n_polish=0)
    model = MMGPRegressor(**kw).fit(meshes, x, {"u_max": y[:, 0]})
    assert model.morphing_ == "rbf" and model.common_mesh_index_ == best and model.n_folded_ == 0
    assert not model.fold_counts(meshes).any()
    with pytest.warns(UserWarning, match=r"11 of 24 training samples fold when morphed onto the common mesh"):
        model = MMGPRegressor(common_mesh=largest, **kw).fit(meshes, x, {"u_max": y[:, 0]})
    assert model.n_folded_ == 11 and int((model.fold_counts(meshes) > 0).sum()) == 11
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the default model's new samples of the family do not fold either
        MMGPRegressor(**kw).fit(meshes, x, {"u_max": y[:, 0]}).predict(meshes[:3], x[:3])


def test_rbf_correspondence_sends_corners_to_corners():
    """Rectangles 2 x 1 and 1 x 1 with the same number of nodes per side: by arc length alone the 2 x 1's
    corner (2, 0) lands a third of the way along the square's perimeter, mid-edge; with the corners matched
    every corner lands on a corner, and the morph is the affine stretch (no triangle turned over)."""
    from geomsci.mmgp.families import mesh_loops
    from geomsci.mmgp.morphing import boundary_correspondence
    from tests.mmgp.polygons import rectangle_boundary

    rng = np.random.default_rng(0)
    wide, square = (
        Mesh(*(torch.as_tensor(a) for a in mesh_loops([rectangle_boundary(w, 1.0, 16, 8)], 0.1, rng)), "triangle")
        for w in (2.0, 1.0)
    )
    corners = torch.tensor([[0.0, 0.0], [2.0, 0.0], [2.0, 1.0], [0.0, 1.0]], dtype=wide.points.dtype)
    square_corners = corners * torch.tensor([0.5, 1.0], dtype=corners.dtype)
    for angle, expect_corners in ((30.0, True), (None, False)):
        idx, tgt = boundary_correspondence(wide, square, corner_angle=angle)
        at = {tuple(wide.points[i].tolist()): t for i, t in zip(idx, tgt)}
        landed = torch.stack([at[tuple(c.tolist())] for c in corners])
        assert torch.allclose(landed, square_corners, atol=1e-12) == expect_corners
    morphed = rbf_boundary_morph(wide, square).points
    assert len(flipped_triangles(morphed, wide.cells, reference=wide.points)) == 0
    assert torch.allclose(morphed, wide.points * torch.tensor([0.5, 1.0], dtype=corners.dtype), atol=1e-9)
