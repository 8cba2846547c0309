"""SDF network, Newtonian drag and the three applications (short runs here; the full runs that
reproduce the numbers in docs/deepmesh.md are marked slow)."""

import importlib.util
import math
from pathlib import Path

import pytest
import torch

from geomsci.core.mesh import Mesh
from geomsci.core.shapes import icosphere, plane_mesh, sphere_sdf
from geomsci.deepmesh import extract_surface
from geomsci.deepmesh.drag import newtonian_drag
from geomsci.deepmesh.evaluation import surface_metrics
from geomsci.deepmesh.sdf_fitting import fit_to_target
from geomsci.deepmesh.sdf_net import SDFNet, eikonal_loss, fit_sdf, mesh_sdf
from geomsci.deepmesh.single_view import silhouette_iou

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_newtonian_drag_of_sphere_and_plate():
    # sphere: D = Cp_max * int_{windward} sin^3 dA = Cp_max * pi R^2 / 2
    s = icosphere(5, 0.7, dtype=torch.float64)
    d = newtonian_drag(s.points, s.cells)
    assert abs(float(d) - math.pi * 0.7**2) / (math.pi * 0.7**2) < 0.005
    # a unit plate facing the flow (normal -x): D = Cp_max * A; turned away from it: 0
    p = plane_mesh(4, 4, dtype=torch.float64)  # in z = 0 with normal +z
    assert abs(float(newtonian_drag(p.points, p.cells, flow=(0, 0, -1))) - 2.0) < 1e-12
    assert float(newtonian_drag(p.points, p.cells, flow=(0, 0, 1))) == 0.0
    x = s.points.clone().requires_grad_(True)
    newtonian_drag(x, s.cells).backward()
    assert torch.isfinite(x.grad).all()


def test_sdfnet_features_and_errors():
    for feats in ("fourier", "positional", "none"):
        net = SDFNet(hidden=16, layers=2, n_freq=4, features=feats)
        assert net(torch.rand(10, 3)).shape == (10,)
    a, b = SDFNet(seed=3), SDFNet(seed=3)
    x = torch.rand(5, 3)
    assert torch.equal(a(x), b(x))  # reproducible by seed
    with pytest.raises(ValueError, match="features"):
        SDFNet(features="hash")
    with pytest.raises(ValueError, match=r"\(P, 3\)"):
        SDFNet()(torch.rand(4, 2))


def test_mesh_sdf_sign_and_value():
    s = icosphere(4, 0.5, dtype=torch.float64)
    d = mesh_sdf(s, torch.tensor([[0.0, 0, 0], [1.0, 0, 0]], dtype=torch.float64))
    assert d[0] < -0.49 and abs(d[1] - 0.5) < 1e-3


def test_fit_sdf_to_sphere():
    net = SDFNet(hidden=32, layers=2, n_freq=4, sigma=0.5)
    hist = fit_sdf(net, lambda p: sphere_sdf(p, 0.5), 1.0, steps=150, batch=512, n_samples=4000)
    assert sum(hist[-10:]) < 0.25 * sum(hist[:10])
    g = torch.Generator().manual_seed(0)
    d = torch.nn.functional.normalize(torch.randn(500, 3, generator=g), dim=1)
    shell = d * (0.3 + 0.4 * torch.rand(500, 1, generator=g))  # 0.3 < |x| < 0.7, around the surface
    with torch.no_grad():
        assert (net(shell) - sphere_sdf(shell, 0.5)).abs().mean() < 0.03
    assert eikonal_loss(net, shell) < 0.15  # |grad s| near 1 after a short fit


def test_topology_split_into_two_components_short():
    """Sphere -> two spheres in a short run: the fitted surface splits into two components."""
    net = SDFNet(hidden=64, layers=3, n_freq=8, sigma=0.5)
    fit_sdf(net, lambda p: sphere_sdf(p, 0.5), 1.0, steps=200, batch=2048)
    a = icosphere(2, 0.3, center=(0.4, 0.0, 0.0))
    b = icosphere(2, 0.3, center=(-0.4, 0.0, 0.0))
    target = Mesh(torch.cat([a.points, b.points]), torch.cat([a.cells, b.cells + a.n_points]))
    fit_to_target(net, target, resolution=32, steps=25, n_points=2000, lr=3e-3)
    with torch.no_grad():
        m = extract_surface(net, 1.0, 32)
    metrics = surface_metrics(m, target, n=4000)
    assert metrics["components"] == 2 and metrics["watertight"]


def test_silhouette_iou():
    a = torch.zeros(4, 4)
    a[:2] = 1
    b = torch.zeros(4, 4)
    b[1:3] = 1
    assert silhouette_iou(a, a) == 1.0
    assert abs(silhouette_iou(a, b) - 1 / 3) < 1e-6


def test_application_bad_inputs_are_named():
    net = SDFNet(hidden=8, layers=1, n_freq=2)
    # dtype/device mismatch: a named TypeError instead of torch's "m1 and m2 ... same dtype"
    with pytest.raises(TypeError, match="points are torch.float64 .* network is torch.float32"):
        net(torch.rand(4, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="hidden must be an int >= 1"):  # was ZeroDivisionError
        SDFNet(hidden=0)
    with pytest.raises(ValueError, match="n_freq must be an int >= 0"):
        SDFNet(n_freq=-1)
    sphere = lambda p: sphere_sdf(p, 0.5)  # noqa: E731
    # bounds of 2 numbers used to train silently on the box [1, 2]^3
    with pytest.raises(ValueError, match="fit_sdf: bounds must be"):
        fit_sdf(net, sphere, [1.0, 2.0], steps=1, batch=16, n_samples=64)
    with pytest.raises(ValueError, match="batch must be an int >= 4"):  # batch 0 gave a NaN loss
        fit_sdf(net, sphere, 1.0, steps=1, batch=0, n_samples=64)
    with pytest.raises(TypeError, match="target must be a closed triangle Mesh or a callable"):
        fit_sdf(net, "sphere", 1.0, steps=1, batch=16, n_samples=64)
    pts, faces = torch.rand(4, 3), torch.tensor([[0, 1, 2], [0, 2, 3]])
    with pytest.raises(ValueError, match="flow must be a nonzero finite 3-vector"):  # was a NaN drag
        newtonian_drag(pts, faces, flow=(0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="flow must be"):
        newtonian_drag(pts, faces, flow=(1.0, 0.0))
    with pytest.raises(ValueError, match="same shape"):
        silhouette_iou(torch.zeros(4, 4), torch.zeros(5, 5))


def _example(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_example_topology_reaches_reported_numbers(tmp_path):
    r = _example("deepmesh_topology").main(["--out", str(tmp_path)])
    assert r["torus"]["after"]["genus"] == 1 and r["torus"]["after"]["f_score"] > 0.99
    assert r["two_spheres"]["after"]["components"] == 2 and r["two_spheres"]["after"]["f_score"] > 0.99


@pytest.mark.slow
def test_example_single_view_reaches_reported_numbers(tmp_path):
    r = _example("deepmesh_single_view").main(["--out", str(tmp_path)])
    assert r["iou_after"] > 0.98 > 0.7 > r["iou_before"]
    assert r["after"]["chamfer"] < 0.3 * r["before"]["chamfer"]


@pytest.mark.slow
def test_example_drag_reaches_reported_numbers(tmp_path):
    r = _example("deepmesh_drag").main(["--out", str(tmp_path)])
    assert r["reduction"] > 0.8 and abs(r["volume"] / r["volume0"] - 1) < 0.02
