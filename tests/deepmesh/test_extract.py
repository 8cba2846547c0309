"""extract_surface: the DeepMesh implicit backward against analytic derivatives and against
finite differences of re-extracted meshes; chunking, narrow band, diagnostics."""

import math

import pytest
import torch

from geomsci.core.geometry import face_areas, signed_volume
from geomsci.core.shapes import sphere_sdf, torus_sdf
from geomsci.deepmesh import extract_surface, sample_grid

F64 = torch.float64


def surface_integral(points, faces):
    """A generic vertex loss: the integral of f(x) = x^2 + z^2 / 2 + 0.3 y + 1 over the mesh."""
    c = points[faces].mean(1)  # (F, 3) centroids
    f = c[:, 0] ** 2 + 0.5 * c[:, 2] ** 2 + 0.3 * c[:, 1] + 1
    return (face_areas(points, faces) * f).sum()


def torus_field(R, r, kind):
    def field(p):
        s = torus_sdf(p, R, r)
        # occupancy-like field: same surface at level 0.5, but |grad s| = sigmoid' / eps != 1
        return s if kind == "sdf" else torch.sigmoid(s / 0.05)

    return field


def test_sphere_radius_gradient_is_one():
    # s = |x| - r: dv/ds = -x/|x|, ds/dr = -1, so every vertex moves radially at unit speed
    r = torch.tensor(0.6, dtype=F64, requires_grad=True)
    mesh, info = extract_surface(lambda p: sphere_sdf(p, r), 1.0, 31, dtype=F64, return_info=True)
    mesh.points.norm(dim=1).mean().backward()
    assert abs(r.grad.item() - 1.0) < 1e-3
    assert info["n_degenerate"] == 0


@pytest.mark.parametrize("kind", ["sdf", "occupancy"])
@pytest.mark.parametrize("loss_name", ["integral", "volume"])
def test_torus_gradients_match_finite_differences(kind, loss_name):
    """dL/d(R, r) from the implicit backward vs central differences of re-extracted meshes (1%)."""
    loss = surface_integral if loss_name == "integral" else signed_volume
    level = 0.0 if kind == "sdf" else 0.5
    res, h = 63, 1e-3  # cells per axis (64 nodes)
    R = torch.tensor(0.55, dtype=F64, requires_grad=True)
    r = torch.tensor(0.22, dtype=F64, requires_grad=True)
    mesh = extract_surface(torus_field(R, r, kind), 1.0, res, level, dtype=F64)
    loss(mesh.points, mesh.cells).backward()
    grad = torch.stack([R.grad, r.grad])
    fd = []
    for d in torch.eye(2, dtype=F64):
        vals = []
        for sign in (1, -1):
            Rp, rp = 0.55 + sign * h * d[0], 0.22 + sign * h * d[1]
            with torch.no_grad():
                m = extract_surface(torus_field(Rp, rp, kind), 1.0, res, level, dtype=F64)
            vals.append(loss(m.points, m.cells))
        fd.append((vals[0] - vals[1]) / (2 * h))
    fd = torch.stack(fd)
    assert torch.allclose(grad, fd, rtol=0.01), (grad, fd)
    if loss_name == "volume":  # and both agree with the analytic V = 2 pi^2 R r^2
        exact = torch.tensor([2 * math.pi**2 * 0.22**2, 4 * math.pi**2 * 0.55 * 0.22], dtype=F64)
        assert torch.allclose(grad, exact, rtol=0.02)


def test_occupancy_needs_the_general_form():
    # with dv/ds = -n (unit normal) the occupancy field's gradient would be off by |grad s|
    R = torch.tensor(0.55, dtype=F64, requires_grad=True)
    mesh, info = extract_surface(torus_field(R, 0.22, "occ"), 1.0, 47, 0.5, dtype=F64, return_info=True)
    signed_volume(mesh.points, mesh.cells).backward()
    general = R.grad.item()
    g_norm = 1.0 / info["dv_ds"].norm(dim=1)  # |grad s| at the vertices
    assert g_norm.min() > 4.0  # sigmoid'(0) / 0.05 = 5: -n alone would be 5x too small
    assert abs(general - 2 * math.pi**2 * 0.22**2) / general < 0.02


def test_latent_code_and_module_parameters_get_gradients():
    class Field(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 1).double()

        def forward(self, p, z):
            return sphere_sdf(p, 0.5) + 0.1 * self.lin(torch.cat([p, z.expand(len(p), 1)], 1)).squeeze(1)

    f = Field()
    z = torch.zeros(1, 1, dtype=F64, requires_grad=True)
    mesh = extract_surface(lambda p: f(p, z), 1.0, 23, dtype=F64)
    mesh.points.square().sum().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in f.parameters())


def test_degenerate_vertices_and_nonfinite_upstream_are_zeroed_and_counted():
    r = torch.tensor(0.6, dtype=F64, requires_grad=True)

    def field(p):  # no gradient in x on the half x < 0: those vertices are degenerate
        s = sphere_sdf(p, r)
        return torch.where(p[:, 0] > 0, s, s.detach() - r + r.detach())

    mesh, info = extract_surface(field, 1.0, 23, dtype=F64, return_info=True)
    n = mesh.n_points
    assert 0.3 * n < info["n_degenerate"] < 0.7 * n
    w = torch.ones(n, 3, dtype=F64)
    w[:5] = float("nan")  # a loss whose gradient is NaN on 5 vertices
    (mesh.points * w).sum().backward()
    assert torch.isfinite(r.grad) and info["n_nonfinite_grad"] == 5


def test_chunking_and_narrow_band_do_not_change_the_mesh():
    R = torch.tensor(0.55, dtype=F64)
    f = torus_field(R, 0.22, "sdf")
    with torch.no_grad():
        full = extract_surface(f, 1.0, 48, dtype=F64)
        chunked = extract_surface(f, 1.0, 48, dtype=F64, chunk_size=1000)
        calls = []

        def counting(p):
            calls.append(len(p))
            return f(p)

        band = extract_surface(counting, 1.0, 48, dtype=F64, narrow_band=4)
    assert torch.equal(full.points, chunked.points)
    assert band.n_points == full.n_points and torch.allclose(band.points, full.points)
    assert sum(calls) < 0.5 * 49**3  # 49 nodes per axis  # the band evaluates well under half of the nodes


def test_sample_grid_and_bounds():
    vals = sample_grid(lambda p: p[:, 0] + 2 * p[:, 1], ((0, 0, 0), (1, 2, 3)), (1, 2, 3), dtype=F64)
    assert vals.shape == (2, 3, 4)  # resolution counts cells: one more node per axis
    assert vals[1, 2, 0] == 1 + 2 * 2
    with pytest.raises(ValueError, match="bounds"):
        extract_surface(lambda p: p[:, 0], ((0, 0, 0), (0, 1, 1)), 8)
    with pytest.raises(ValueError, match="resolution"):
        extract_surface(lambda p: p[:, 0], 1.0, 0)
    with pytest.raises(ValueError, match="field must map"):
        extract_surface(lambda p: p, 1.0, 4)
    with pytest.raises(ValueError, match="narrow_band"):
        extract_surface(lambda p: p[:, 0], 1.0, 9, narrow_band=4)


def test_no_grad_mode_returns_plain_mesh():
    r = torch.tensor(0.6, requires_grad=True)
    with torch.no_grad():
        m = extract_surface(lambda p: sphere_sdf(p, r), 1.0, 16)
    assert not m.points.requires_grad and m.points.dtype == torch.float32


@pytest.mark.gpu
def test_extract_cuda_matches_cpu():
    out = []
    for dev in ("cpu", "cuda"):
        r = torch.tensor(0.6, dtype=F64, device=dev, requires_grad=True)
        m = extract_surface(lambda p, r=r: sphere_sdf(p, r), 1.0, 39, dtype=F64, device=dev)
        m.points.norm(dim=1).mean().backward()
        out.append((m.points.detach().cpu(), r.grad.item()))
    assert torch.allclose(out[0][0], out[1][0]) and abs(out[0][1] - out[1][1]) < 1e-9


def test_bad_arguments_are_named():
    import numpy as np

    sphere = lambda p: p.norm(dim=1) - 0.5  # noqa: E731
    # numpy ints are ints; floats and None are refused by name (used to be "'float' object is not iterable")
    assert extract_surface(sphere, 1.0, np.int64(6)).n_cells > 0
    for res in (6.5, None, [6, 6.5, 6]):
        with pytest.raises(ValueError, match="resolution must be an int"):
            extract_surface(sphere, 1.0, res)
    # infinite bounds used to fail later as "marching_cubes: values contain NaN or inf"
    with pytest.raises(ValueError, match="finite max > min"):
        extract_surface(sphere, float("inf"), 6)
    with pytest.raises(ValueError, match="bounds must be"):
        extract_surface(sphere, "unit", 6)
    with pytest.raises(TypeError, match="field must be a callable"):
        extract_surface(3.0, 1.0, 6)
    with pytest.raises(TypeError, match="field must return a tensor"):
        extract_surface(lambda p: sphere(p).numpy(), 1.0, 6)
    for chunk in (0, -1, 10.5):  # 0 was "range() arg 3 must not be zero", -1 "got 0 values"
        with pytest.raises(ValueError, match="chunk_size must be a positive int"):
            extract_surface(sphere, 1.0, 6, chunk_size=chunk)
    with pytest.raises(ValueError, match="narrow_band must be None or an int"):  # 2.5 was silently 2
        extract_surface(sphere, 1.0, 9, narrow_band=2.5)
    with pytest.raises(TypeError, match="dtype must be a floating torch.dtype"):
        extract_surface(sphere, 1.0, 6, dtype=torch.int64)
    with pytest.raises(ValueError, match="level is NaN"):  # used to be an empty mesh
        extract_surface(sphere, 1.0, 6, level=float("nan"))


def test_resolution_counts_cells_like_tet_grid_and_sample_field():
    """One meaning of ``resolution`` (cells per axis) in deepmesh, core.isosurface and core.tetgrid:
    the lattice of ``extract_surface(f, b, n)`` is the vertex set of ``tet_grid(n, b)``."""
    from geomsci.core.isosurface import sample_field
    from geomsci.core.tetgrid import tet_grid

    seen = []

    def field(p):
        seen.append(p.clone())
        return p.norm(dim=1) - 0.5

    extract_surface(field, 1.0, (4, 5, 6), dtype=F64)
    vertices, _ = tet_grid((4, 5, 6), 1.0, dtype=F64)
    assert torch.allclose(seen[0], vertices, rtol=0, atol=1e-15)  # same nodes, same order (x slowest)
    grid = sample_field(field, ((0, 0, 0), (1, 2, 3)), 4, dtype=F64)
    assert grid.shape == (5, 5, 5) and torch.allclose(grid.spacing, torch.tensor([0.25, 0.5, 0.75], dtype=F64))
    assert torch.equal(sample_grid(field, ((0, 0, 0), (1, 2, 3)), 4, dtype=F64), grid.values)
