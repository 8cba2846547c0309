"""GShell module, regularizers, fitting and multiview helpers: small, fast checks."""

import math

import pytest
import torch

from geomsci.core import geometry as G
from geomsci.core.shapes import icosphere
from geomsci.gshell import (
    GShell,
    backproject,
    carving_targets,
    distance_targets,
    extract_gshell,
    fit,
    nu_close_loss,
    nu_open_loss,
    nu_target_loss,
    remove_small_components,
    render_views,
    ring_cameras,
    sdf_sign_loss,
    winding_number,
)
from geomsci.gshell.fit import template_sdf
from geomsci.gshell.targets import hemisphere


def test_grid_head_extract_matches_function_and_is_differentiable():
    m = GShell(10, init_nu=lambda p: p[:, 2] - 0.1)
    mesh = m.extract()
    v, s, nu = m.fields()
    ref = extract_gshell(v, m.tets, s, nu).mesh
    assert torch.equal(mesh.cells, ref.cells) and torch.allclose(mesh.points, ref.points)
    assert len(G.boundary_loops(mesh.cells)) == 1
    wt = m.extract_watertight()
    assert G.is_watertight(wt.cells) and "nu" in wt.point_data
    mesh.points.square().sum().backward()
    for p in (m.sdf, m.nu, m.deformation):
        assert p.grad is not None and p.grad.abs().sum() > 0


def test_mlp_head_starts_at_its_initialization_and_trains():
    grid = GShell(8, init_nu=0.2)
    mlp = GShell(8, init_nu=0.2, head="mlp", hidden=16, seed=0)
    a, b = grid.extract(), mlp.extract()
    assert torch.equal(a.cells, b.cells) and torch.allclose(a.points, b.points, atol=1e-6)
    b.points.sum().backward()
    assert mlp.out.weight.grad.abs().sum() > 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="head"):
        GShell(4, head="transformer")
    with pytest.raises(ValueError, match="init_sdf"):
        GShell(4, init_sdf=torch.zeros(3))
    with pytest.raises(ValueError, match="resolution"):
        GShell(0)
    # a NaN initial field used to give a silently empty surface
    with pytest.raises(ValueError, match="init_nu contains NaN"):
        GShell(4, init_nu=float("nan"))
    with pytest.raises(TypeError, match="init_sdf must be None, a float"):  # was torch's "new(): invalid data type"
        GShell(4, init_sdf="sphere")
    with pytest.raises(TypeError, match="dtype must be a floating"):  # was a nn.Parameter RuntimeError
        GShell(4, dtype=torch.int64)
    with pytest.raises(ValueError, match="hidden >= 1"):  # was ZeroDivisionError
        GShell(4, head="mlp", hidden=0)
    assert GShell(__import__("numpy").int64(3)).resolution == 3  # numpy ints are ints
    with pytest.raises(ValueError, match="elevation"):  # was ZeroDivisionError
        ring_cameras(4, elevations=())


def test_fit_and_evaluate_bad_input():
    from geomsci.core.mesh import Mesh
    from geomsci.gshell import evaluate

    kw = dict(resolution=4, steps=1, polish_steps=0, progress=False)
    # all points equal: used to crash deep in a KD-tree with a huge negative index
    with pytest.raises(ValueError, match="all coincide"):
        fit(Mesh(torch.zeros(20, 3)), **kw)
    with pytest.raises(TypeError, match="target must be a Mesh"):  # was an AttributeError
        fit(torch.rand(20, 3), **kw)
    with pytest.raises(ValueError, match="n_samples must be a positive int"):
        fit(Mesh(torch.rand(20, 3)), n_samples=0, **kw)
    with pytest.raises(ValueError, match="nu_band"):  # close > open was silently accepted
        fit(Mesh(torch.rand(20, 3)), nu_band=(1.0, 0.5), **kw)
    cap = hemisphere(0.7, n_lat=6, n_lon=12)
    with pytest.raises(ValueError, match="target must be a triangle mesh"):  # was a numpy object-array TypeError
        evaluate(cap, Mesh(torch.rand(20, 3)))


def test_sdf_sign_loss_value():
    # one crossed edge (s = -1, 2): BCE(-1, 1) + BCE(2, 0) = softplus(1) + softplus(2)
    sdf = torch.tensor([-1.0, 2.0, 3.0])
    edges = torch.tensor([[0, 1], [1, 2]])
    expected = math.log1p(math.e) + math.log1p(math.e**2)
    assert torch.allclose(sdf_sign_loss(sdf, edges), torch.tensor(expected))
    assert sdf_sign_loss(torch.tensor([1.0, 2.0, 3.0]), edges) == 0


def test_nu_open_close_terms():
    nu = torch.tensor([-0.5, 0.0, 0.02, 1.0])
    # open: relu(nu + 0) -> (0, 0, 0.02, 1); Huber(delta=0.05): 0.5 x^2 below delta, else delta (|x| - delta / 2)
    expected_open = (0.5 * 0.02**2 + 0.05 * (1.0 - 0.025)) / 4
    assert torch.allclose(nu_open_loss(nu), torch.tensor(expected_open))
    expected_close = (0.05 * (0.5 - 0.025) + 0 + 0 + 0) / 4
    assert torch.allclose(nu_close_loss(nu), torch.tensor(expected_close))
    t = torch.tensor([1.0, 0.0, -0.5, -1.0])
    assert torch.allclose(nu_target_loss(nu, t), torch.tensor((expected_close * 4 + 0.5 * 0.5 * 0.02**2 + 0.05 * 0.975) / 4))


def test_distance_targets_band():
    tgt = torch.zeros(1, 3)
    pts = torch.tensor([[0.01, 0, 0], [0.07, 0, 0], [0.5, 0, 0]])
    t = distance_targets(pts, tgt, 0.05, 0.1, band_weight=0.1)
    assert t.tolist() == pytest.approx([1.0, -0.1, -1.0])


def test_winding_number_of_a_sphere_and_an_open_cap():
    s = icosphere(3, 0.5)
    from geomsci.core.sampling import sample_points

    gen = torch.Generator().manual_seed(0)
    p, n = sample_points(s.points, s.cells, 4000, generator=gen, return_normals=True)
    area = torch.full((4000,), 4 * math.pi * 0.25 / 4000)
    q = torch.tensor([[0.0, 0, 0], [0.2, 0.1, 0], [2.0, 0, 0], [0, 0, -1.5]])
    w = winding_number(q, p, n, area)
    assert torch.allclose(w, torch.tensor([1.0, 1.0, 0.0, 0.0]), atol=0.03)
    # the upper half alone: the centre sees half the sphere, w = 1/2
    up = p[:, 2] > 0
    w_half = winding_number(torch.zeros(1, 3), p[up], n[up], area[up])
    assert abs(float(w_half) - 0.5) < 0.03


def test_template_sdf_of_hemisphere_is_a_closed_filling():
    h = hemisphere(0.7, dtype=torch.float32)
    from geomsci.core.sampling import sample_points

    p, n = sample_points(h.points, h.cells, 6000, generator=torch.Generator().manual_seed(0), return_normals=True)
    area = G.surface_area(h.points, h.cells).expand(6000) / 6000
    m = GShell(24)
    m.sdf.data = template_sdf(m.vertices, p, n, area, 2 * 2 / 24)
    t = m.extract_watertight()
    assert G.is_watertight(t.cells) and G.euler_characteristic(t.cells) == 2
    # inside of the bowl is inside the template
    assert float(m.sdf.detach()[torch.argmin((m.vertices - torch.tensor([0, 0, 0.35])).norm(dim=1))]) < 0


def test_remove_small_components():
    a = icosphere(1, 1.0)
    b = icosphere(0, 0.1, center=(3.0, 0, 0))
    from geomsci.core.mesh import Mesh

    both = Mesh(torch.cat([a.points, b.points]), torch.cat([a.cells, b.cells + a.n_points]), "triangle")
    kept = remove_small_components(both, 0.5)
    assert kept.n_points == a.n_points and torch.equal(kept.cells, a.cells)


def test_fit_runs_and_improves_on_a_small_grid():
    tgt = hemisphere(0.7, n_lat=16, n_lon=32)
    res = fit(tgt, resolution=12, steps=4, n_samples=400, polish_steps=5, progress=False, seed=0)
    h = res.history
    assert len(h) == 4 and h[-1]["chamfer"] < h[0]["chamfer"]
    assert res.mesh.n_cells > 0 and "boundary" in res.mesh.point_data
    with pytest.raises(ValueError, match="3-D"):
        fit(__import__("geomsci").Mesh(torch.zeros(4, 2)), steps=1)


def test_backprojection_recovers_the_surface():
    s = icosphere(3, 0.6)
    cams = ring_cameras(2, elevations=(20.0, -20.0), image_size=48)
    imgs = render_views(s, cams)
    p, n = backproject(imgs[0], cams[0])
    assert p.shape[0] > 100
    assert (p.norm(dim=1) - 0.6).abs().mean() < 0.01
    assert ((n * p / p.norm(dim=1, keepdim=True)).sum(1) > 0.9).float().mean() > 0.95  # outward
    # carving: a point far outside is free, a point on the visible surface is seen
    t = carving_targets(torch.cat([p[:1], torch.tensor([[0.8, 0.0, 0.0]])]), imgs, cams, tau=0.03)
    assert t.tolist() == [1.0, -1.0]


@pytest.mark.gpu
def test_gshell_module_on_cuda_matches_cpu():
    cpu = GShell(12, init_nu=lambda p: p[:, 2] - 0.1)
    gpu = GShell(12, init_nu=lambda p: p[:, 2] - 0.1, device="cuda")
    a, b = cpu.extract(), gpu.extract()
    assert torch.equal(a.cells, b.cells.cpu()) and torch.allclose(a.points, b.points.cpu(), atol=1e-5)
    b.points.square().sum().backward()
    assert gpu.nu.grad.is_cuda and torch.isfinite(gpu.nu.grad).all()
    assert float(gpu.sdf_sign_loss().detach()) == pytest.approx(float(cpu.sdf_sign_loss().detach()), rel=1e-4)


def test_small_regions_finds_islands_and_pinholes():
    from geomsci.gshell.fit import small_regions

    s = icosphere(3, 1.0)  # 642 vertices
    p = s.points
    keep = p[:, 2] > -0.5  # a big kept cap and a big removed cap
    keep[torch.argmin((p - torch.tensor([0.0, 0, 1])).norm(dim=1))] = False  # pinhole at the north pole
    keep[torch.argmin((p - torch.tensor([0.0, 0, -1])).norm(dim=1))] = True  # island at the south pole
    flip = small_regions(s.cells, keep, 0.01)
    assert int(flip.sum()) == 2
    assert flip[torch.argmin((p - torch.tensor([0.0, 0, 1])).norm(dim=1))]


def test_clean_surface_closes_a_pinhole_and_drops_an_island():
    from geomsci.core.tetgrid import tet_grid
    from geomsci.gshell.fit import clean_surface

    v, t = tet_grid(24)
    s = v.norm(dim=1) - 0.7
    nu = (v[:, 2] + 0.5).clone()  # keep z > -0.5: one rim
    nu[torch.argmin((v - torch.tensor([0.0, 0.0, 0.7])).norm(dim=1))] = -1.0  # pinhole at the top
    nu[torch.argmin((v - torch.tensor([0.0, 0.0, -0.7])).norm(dim=1))] = 1.0  # island at the bottom
    surf = extract_gshell(v, t, s, nu)
    assert len(G.boundary_loops(surf.mesh.cells)) == 3
    clean = clean_surface(surf, 0.01)
    assert len(G.boundary_loops(clean.cells)) == 1 and G.is_manifold(clean.cells)
