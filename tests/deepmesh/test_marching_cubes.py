"""marching_cubes: tables, topology (watertight, manifold, outward), geometry against analytic
shapes and scikit-image, gradients against finite differences."""

import numpy as np
import pytest
import torch

from geomsci.core import geometry as G
from geomsci.core.grid import Grid
from geomsci.deepmesh import marching_cubes, tables


def lattice(n, f, lo=-1.0, hi=1.0, dtype=torch.float64, device="cpu"):
    x = torch.linspace(lo, hi, n, dtype=dtype, device=device)
    X, Y, Z = torch.meshgrid(x, x, x, indexing="ij")
    return f(X, Y, Z), (hi - lo) / (n - 1), (lo, lo, lo)


def sphere(X, Y, Z, r=0.7):
    return (X**2 + Y**2 + Z**2).sqrt() - r


def torus(X, Y, Z, R=0.5, r=0.2):
    return (((X**2 + Y**2).sqrt() - R) ** 2 + Z**2).sqrt() - r


def closed_ok(mesh):
    f = mesh.cells
    return G.is_watertight(f) and G.is_manifold(f) and G.is_oriented(f)


def balanced(faces):
    """Closed and oriented as a surface that may be pinched: every directed edge (a, b) is matched by
    as many (b, a) (a manifold closed surface has one of each; a pinched edge two or more)."""
    he = torch.cat([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])  # (3F, 2)
    n = int(faces.max()) + 1
    fwd = torch.bincount(he[:, 0] * n + he[:, 1], minlength=n * n)
    back = torch.bincount(he[:, 1] * n + he[:, 0], minlength=n * n)
    return faces.shape[0] > 0 and bool((fwd == back).all())


def smooth_blob(n, seed, dtype=torch.float64):
    """Random smooth field, positive on the border, so every level set is closed inside the grid."""
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(1, 1, n, n, n, generator=g, dtype=dtype)
    v = torch.nn.functional.avg_pool3d(v, 3, stride=1, padding=1)[0, 0]
    v = v / v.std()
    v[0], v[-1], v[:, 0], v[:, -1], v[:, :, 0], v[:, :, -1] = 1, 1, 1, 1, 1, 1
    return v


# -- tables -----------------------------------------------------------------------------------------
def test_edge_table_is_bourkes():
    # first 16 entries of Bourke's published edgeTable (same corner/edge numbering)
    bourke = [0x0, 0x109, 0x203, 0x30A, 0x406, 0x50F, 0x605, 0x70C, 0x80C, 0x905, 0xA0F, 0xB06, 0xC0A, 0xD03, 0xE09, 0xF00]
    assert tables.EDGE_TABLE[:16] == bourke
    assert tables.EDGE_TABLE[255] == 0 and tables.EDGE_TABLE[0] == 0


def test_triangles_use_exactly_the_crossed_edges():
    for case in range(256):
        used = {e for tri in tables.TRI_TABLE[case] for e in tri}
        crossed = {e for e in range(12) if tables.EDGE_TABLE[case] >> e & 1}
        assert used == crossed, case
        for tri in tables.TRI_TABLE[case]:
            assert len(set(tri)) == 3
    # classic counts on unambiguous base cases: one corner -> 1 triangle, one edge -> 2, a face -> 2
    assert len(tables.TRI_TABLE[1]) == 1 and len(tables.TRI_TABLE[3]) == 2 and len(tables.TRI_TABLE[15]) == 2


def test_every_single_cube_case_is_oriented_and_outward():
    # one cube in a 4^3 lattice padded with outside nodes: every case yields a closed, outward surface
    for case in range(1, 255):
        v = torch.ones(4, 4, 4, dtype=torch.float64)
        for k, (dx, dy, dz) in enumerate(tables.CORNERS):
            if case >> k & 1:
                v[1 + dx, 1 + dy, 1 + dz] = -1.0
        m = marching_cubes(v)
        assert closed_ok(m), case
        assert G.signed_volume(m.points, m.cells) > 0, case


# -- topology and orientation --------------------------------------------------------------------------
def test_sphere_closed_outward_and_on_the_surface():
    v, h, o = lattice(32, sphere)
    m = marching_cubes(v, spacing=h, origin=o)
    assert closed_ok(m) and G.genus(m.cells, m.n_points) == 0
    vol = G.signed_volume(m.points, m.cells)
    assert abs(vol - 4 / 3 * np.pi * 0.7**3) < 0.01  # outward (positive) and ~ analytic volume
    # vertices lie on the exact sphere up to the linear-interpolation error O(h^2 / r)
    assert (m.points.norm(dim=1) - 0.7).abs().max() < h**2 / 0.7
    # normals point away from the centre
    n = G.face_normals(m.points, m.cells)
    c = m.points[m.cells].mean(1)
    assert ((n * c).sum(1) > 0).all()


def test_torus_and_two_components():
    v, h, o = lattice(40, torus)
    m = marching_cubes(v, spacing=h, origin=o)
    assert closed_ok(m) and G.genus(m.cells, m.n_points) == 1
    two = lambda X, Y, Z: torch.minimum(sphere(X - 0.45, Y, Z, 0.3), sphere(X + 0.45, Y, Z, 0.3))
    v, h, o = lattice(40, two)
    m = marching_cubes(v, spacing=h, origin=o)
    assert closed_ok(m)
    assert G.connected_components(m.cells, m.n_points).unique().numel() == 2


@pytest.mark.parametrize("seed", range(25))
def test_random_blobs_are_watertight_manifold_oriented(seed):
    # random smooth fields exercise the ambiguous faces heavily
    v = smooth_blob(14, seed)
    for level in (-0.3, 0.0, 0.4):
        m = marching_cubes(v, level)
        if m.n_cells:
            assert closed_ok(m), (seed, level)


def test_exact_level_corners_no_nan_no_hole():
    # values in {-1, 0, 1}: a third of the nodes sit exactly on the level
    for seed in range(20):
        g = torch.Generator().manual_seed(seed)
        v = torch.randint(-1, 2, (10, 10, 10), generator=g).double()
        v[0], v[-1], v[:, 0], v[:, -1], v[:, :, 0], v[:, :, -1] = 1, 1, 1, 1, 1, 1
        v.requires_grad_(True)
        m = marching_cubes(v, weld_nodes=False)  # the coincident vertices kept: strictly manifold
        assert torch.isfinite(m.points).all()
        assert closed_ok(m), seed
        m.points.square().sum().backward()
        assert torch.isfinite(v.grad).all()
        # welded (default): no zero-area face, still closed and oriented (pinched where sheets touch)
        v.grad = None
        w = marching_cubes(v)
        assert torch.isfinite(w.points).all() and bool((G.face_areas(w.points, w.cells) > 1e-12).all()), seed
        assert balanced(w.cells) and w.n_points < m.n_points, seed
        w.points.square().sum().backward()
        assert torch.isfinite(v.grad).all()


def test_cube_through_nodes_has_exact_volume():
    # |x|_inf - 0.5 on a lattice with nodes exactly on the cube's faces
    v, h, o = lattice(21, lambda X, Y, Z: torch.maximum(torch.maximum(X.abs(), Y.abs()), Z.abs()) - 0.5)
    m = marching_cubes(v, spacing=h, origin=o)
    assert closed_ok(m)
    assert abs(float(G.signed_volume(m.points, m.cells)) - 1.0) < 1e-12


def test_same_vertices_as_scikit_image():
    from skimage.measure import marching_cubes as sk_mc

    v = smooth_blob(16, 3)
    m = marching_cubes(v, 0.1)
    sv, sf, _, _ = sk_mc(v.numpy(), 0.1)
    # both place one vertex per crossed edge by linear interpolation; scikit-image's Lewiner
    # variant may add a few interior vertices
    assert m.n_points <= len(sv) <= 1.05 * m.n_points
    from scipy.spatial import cKDTree

    d, _ = cKDTree(sv).query(m.points.numpy())
    assert d.max() < 1e-6


def test_grid_input_and_spacing_origin():
    v, h, o = lattice(20, sphere)
    m1 = marching_cubes(Grid(v, origin=o, spacing=h))
    m2 = marching_cubes(v, spacing=h, origin=o)
    assert torch.equal(m1.points, m2.points) and torch.equal(m1.cells, m2.cells)
    m3 = marching_cubes(v, spacing=(h, 2 * h, h), origin=o)
    assert torch.allclose(m3.points[:, 1], (m2.points[:, 1] - o[1]) * 2 + o[1])


def test_empty_and_dtype():
    m = marching_cubes(torch.ones(5, 5, 5))
    assert m.n_points == 0 and m.n_cells == 0 and m.points.dtype == torch.float32
    v, h, o = lattice(12, sphere, dtype=torch.float32)
    assert marching_cubes(v, spacing=h, origin=o).points.dtype == torch.float32


def test_bad_input():
    with pytest.raises(ValueError, match="shape"):
        marching_cubes(torch.zeros(4, 4))
    with pytest.raises(ValueError, match="NaN"):
        marching_cubes(torch.full((4, 4, 4), float("nan")))
    with pytest.raises(ValueError, match="spacing"):
        marching_cubes(torch.zeros(4, 4, 4), spacing=-1.0)
    with pytest.raises(ValueError, match="deformation"):
        marching_cubes(torch.zeros(4, 4, 4), deformation=torch.zeros(4, 4, 3))


# -- gradients -----------------------------------------------------------------------------------------
def test_gradcheck_values_random_grid():
    g = torch.Generator().manual_seed(0)
    v = torch.randn(5, 5, 5, generator=g, dtype=torch.float64).requires_grad_(True)
    # random values are never within gradcheck's eps of the level: the connectivity is fixed
    assert torch.autograd.gradcheck(lambda x: marching_cubes(x, 0.1).points, (v,))


def test_gradcheck_values_with_exact_level_corners():
    """Nodes exactly at the level: the connectivity is decided by the sign rule at the given
    values (a perturbation of +eps would flip it), so we check the derivative of the edge
    interpolation with that connectivity held fixed (``inside=``), which is what backward computes."""
    g = torch.Generator().manual_seed(1)
    v0 = torch.randint(-2, 3, (5, 5, 5), generator=g).double() * 0.5
    assert (v0 == 0).sum() > 10
    ref = marching_cubes(v0, weld_nodes=False)  # the connectivity that inside= holds fixed (no welding)
    assert torch.isfinite(ref.points).all()

    def fixed_topology(x):
        m = marching_cubes(x, inside=v0 <= 0)
        assert m.n_points == ref.n_points  # the same crossed edges, in the same order
        return m.points

    v = v0.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(fixed_topology, (v,))


def test_gradcheck_deformation():
    g = torch.Generator().manual_seed(2)
    v = torch.randn(4, 4, 4, generator=g, dtype=torch.float64)
    d = (0.1 * torch.randn(4, 4, 4, 3, generator=g, dtype=torch.float64)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda d: marching_cubes(v, 0.0, deformation=d).points, (d,))


def test_no_nan_in_1000_random_grids():
    g = torch.Generator().manual_seed(3)
    for _ in range(1000):
        # half-integer values: many nodes exactly at the level
        v = (torch.randint(-3, 4, (8, 8, 8), generator=g).double() * 0.5).requires_grad_(True)
        m = marching_cubes(v)
        if m.n_points == 0:
            continue
        assert torch.isfinite(m.points).all()
        (m.points * torch.randn(m.points.shape, generator=g, dtype=torch.float64)).sum().backward()
        assert torch.isfinite(v.grad).all()


# -- quality against scikit-image at 64^3 -----------------------------------------------------------
@pytest.mark.parametrize("shape", ["sphere", "torus"])
def test_quality_64_vs_scikit_image(shape):
    from geomsci.deepmesh.quality import skimage_mesh, surface_error

    f = sphere if shape == "sphere" else torus
    v, h, o = lattice(64, f)
    m = marching_cubes(v, spacing=h, origin=o)
    assert closed_ok(m) and G.signed_volume(m.points, m.cells) > 0
    ref = skimage_mesh(v, h, o)
    sdf = lambda p: f(p[:, 0], p[:, 1], p[:, 2])
    ours, theirs = surface_error(m, sdf), surface_error(ref, sdf)
    assert ours <= theirs, (ours, theirs)


@pytest.mark.gpu
def test_cuda_matches_cpu():
    v, h, o = lattice(40, torus)
    m_cpu = marching_cubes(v, spacing=h, origin=o)
    vc = v.cuda().requires_grad_(True)
    m_gpu = marching_cubes(vc, spacing=h, origin=o)
    assert m_gpu.points.is_cuda
    assert torch.allclose(m_gpu.points.detach().cpu(), m_cpu.points)
    # same faces up to the triangulation of near-tied loops (rounding may break ties differently)
    assert m_gpu.n_cells == m_cpu.n_cells and closed_ok(m_gpu.detach().to("cpu"))
    a_gpu = float(G.surface_area(m_gpu.points.detach(), m_gpu.cells))
    assert abs(a_gpu - float(G.surface_area(m_cpu.points, m_cpu.cells))) < 1e-9 * a_gpu
    m_gpu.points.sum().backward()
    assert torch.isfinite(vc.grad).all()


@pytest.mark.slow
@pytest.mark.parametrize("n", [128, 256])
@pytest.mark.parametrize("shape", ["sphere", "torus"])
def test_quality_large_vs_scikit_image(shape, n):
    from geomsci.deepmesh.quality import skimage_mesh, surface_error

    f = sphere if shape == "sphere" else torus
    v, h, o = lattice(n, f)
    m = marching_cubes(v, spacing=h, origin=o)
    assert closed_ok(m) and G.signed_volume(m.points, m.cells) > 0
    sdf = lambda p: f(p[:, 0], p[:, 1], p[:, 2])
    assert surface_error(m, sdf) <= surface_error(skimage_mesh(v, h, o), sdf)


def test_bad_input_named_and_explained():
    v = torch.linspace(-1, 1, 4)[:, None, None].expand(4, 4, 4).contiguous()  # crosses 0 between nodes
    # not an array at all: a TypeError naming the argument, not torch's "could not infer dtype"
    with pytest.raises(TypeError, match="grid_or_tensor must be a Grid"):
        marching_cubes(None)
    # complex values would silently lose their imaginary part
    with pytest.raises(TypeError, match="must be real"):
        marching_cubes(v.to(torch.complex64))
    # a NaN level compares False everywhere: it used to return an empty mesh
    with pytest.raises(ValueError, match="level is NaN"):
        marching_cubes(v, level=float("nan"))
    with pytest.raises(ValueError, match="level must be a single float"):
        marching_cubes(v, level=torch.tensor([0.0, 1.0]))
    # NaN/inf spacing or origin used to surface as "Mesh: points contain NaN or inf"
    with pytest.raises(ValueError, match="spacing must be a positive finite"):
        marching_cubes(v, spacing=float("inf"))
    with pytest.raises(ValueError, match="origin must be 3 finite floats"):
        marching_cubes(v, origin=(0.0, float("nan"), 0.0))
    # a numpy deformation is taken like numpy values are
    m = marching_cubes(v, deformation=np.zeros((4, 4, 4, 3)))
    assert torch.equal(m.points, marching_cubes(v).points)
    # a level outside the values' range is no error: the documented empty mesh
    assert marching_cubes(v, level=5.0).n_cells == 0


def test_bool_occupancy_mask_gives_an_outward_surface_halfway_between_nodes():
    from geomsci.core.geometry import signed_volume

    x = torch.linspace(-1, 1, 21, dtype=torch.float64)
    X, Y, Z = torch.meshgrid(x, x, x, indexing="ij")
    mask = X**2 + Y**2 + Z**2 <= 0.6**2  # True inside
    for m in (mask, mask.numpy()):
        mesh = marching_cubes(m, spacing=0.1, origin=(-1, -1, -1))
        assert float(signed_volume(mesh.points.double(), mesh.cells)) > 0.5  # outward (sphere ~0.905, staircase)
        # every vertex sits halfway along a lattice edge: exactly one coordinate is off the lattice by 0.05
        frac = ((mesh.points.double() + 1) / 0.1) % 1.0
        assert torch.allclose((frac - 0.5).abs().min(1).values, torch.zeros(len(frac), dtype=torch.float64), atol=1e-6)
    with pytest.raises(ValueError, match="occupancy mask"):
        marching_cubes(mask, level=0.5)
