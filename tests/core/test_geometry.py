"""geometry: areas, volumes and curvature against analytic shapes; topology of known surfaces;
the cotangent Laplacian against libigl; float64 gradchecks."""

import math

import numpy as np
import pytest
import torch
import trimesh
from torch.autograd import gradcheck

from geomsci.core import geometry as G


# ---- test shapes, built here so these tests depend on nothing but trimesh ---------------------
def icosphere(subdivisions, radius=1.0, device="cpu"):
    s = trimesh.creation.icosphere(subdivisions, radius=radius)
    return (torch.tensor(s.vertices, dtype=torch.float64, device=device), torch.tensor(s.faces, dtype=torch.long, device=device))


def grid_faces(n_u, n_v, wrap_u, wrap_v):
    """Two triangles per quad of an (n_u x n_v) vertex grid, index i * n_v + j, optionally periodic."""
    cu = n_u if wrap_u else n_u - 1
    cv = n_v if wrap_v else n_v - 1
    i, j = torch.meshgrid(torch.arange(cu), torch.arange(cv), indexing="ij")
    i, j = i.reshape(-1), j.reshape(-1)
    a = i * n_v + j
    b = ((i + 1) % n_u) * n_v + j
    c = ((i + 1) % n_u) * n_v + (j + 1) % n_v
    d = i * n_v + (j + 1) % n_v
    return torch.cat([torch.stack([a, b, c], 1), torch.stack([a, c, d], 1)])


def torus(R, r, n_major, n_minor):
    """Parametric torus around z, faces oriented outwards."""
    u = torch.arange(n_major, dtype=torch.float64) * 2 * math.pi / n_major
    v = torch.arange(n_minor, dtype=torch.float64) * 2 * math.pi / n_minor
    uu, vv = torch.meshgrid(u, v, indexing="ij")
    p = torch.stack([(R + r * vv.cos()) * uu.cos(), (R + r * vv.cos()) * uu.sin(), r * vv.sin()], -1)
    return p.reshape(-1, 3), grid_faces(n_major, n_minor, True, True)


def open_cylinder(n_around, n_height, radius=1.0, height=2.0):
    t = torch.arange(n_around, dtype=torch.float64) * 2 * math.pi / n_around
    z = torch.linspace(0, height, n_height, dtype=torch.float64)
    tt, zz = torch.meshgrid(t, z, indexing="ij")
    p = torch.stack([radius * tt.cos(), radius * tt.sin(), zz], -1).reshape(-1, 3)
    return p, grid_faces(n_around, n_height, True, False)


def plane(n, size=1.0):
    x = torch.linspace(0, size, n, dtype=torch.float64)
    xx, yy = torch.meshgrid(x, x, indexing="ij")
    return torch.stack([xx, yy], -1).reshape(-1, 2), grid_faces(n, n, False, False)


# ---- areas and volumes ------------------------------------------------------------------------
def test_sphere_area_volume_within_half_percent(device):
    p, f = icosphere(4, radius=2.0, device=device)  # 5120 faces
    assert abs(float(G.surface_area(p, f)) / (4 * math.pi * 4) - 1) < 5e-3
    assert abs(float(G.signed_volume(p, f)) / (4 / 3 * math.pi * 8) - 1) < 5e-3
    assert G.face_areas(p, f).device == p.device


def test_torus_area_volume_within_half_percent():
    R, r = 2.0, 0.5
    p, f = torus(R, r, 128, 64)
    assert abs(float(G.surface_area(p, f)) / (4 * math.pi**2 * R * r) - 1) < 5e-3
    assert abs(float(G.signed_volume(p, f)) / (2 * math.pi**2 * R * r**2) - 1) < 5e-3


def test_vertex_areas_and_mass_matrix_sum_to_area():
    p, f = icosphere(2)
    total = G.surface_area(p, f)
    assert torch.allclose(G.vertex_areas(p, f).sum(), total)
    assert torch.allclose(G.voronoi_areas(p, f).sum(), total)
    m = G.mass_matrix(p, f)
    assert torch.allclose(torch.sparse.sum(m), total)
    # planar (N, 2) mesh: the unit square
    q, g = plane(6)
    assert torch.allclose(G.mass_matrix(q, g).to_dense().diagonal().sum(), torch.tensor(1.0, dtype=torch.float64))


def test_normals_point_outwards_on_a_sphere():
    p, f = icosphere(3)
    vn = G.vertex_normals(p, f)
    assert torch.allclose(vn.norm(dim=1), torch.ones(len(p), dtype=torch.float64))
    assert float((vn * p).sum(1).min()) > 0.999  # radial
    fn = G.face_normals(p, f)
    centers = p[f].mean(1)
    assert float((fn * centers).sum(1).min()) > 0.99
    raw = G.face_normals(p, f, normalize=False)
    assert torch.allclose(raw.norm(dim=1) / 2, G.face_areas(p, f))


# ---- curvature --------------------------------------------------------------------------------
def test_sphere_curvatures_within_two_percent():
    r = 2.0
    p, f = icosphere(3, radius=r)  # 642 vertices, valence 5 and 6
    h = G.mean_curvature(p, f)
    k = G.gaussian_curvature(p, f)
    assert float((h * r - 1).abs().max()) < 0.02  # H = 1/r at every vertex
    assert float((k * r * r - 1).abs().max()) < 0.02  # K = 1/r^2
    hn = G.mean_curvature_normal(p, f)
    assert float((hn - h.unsqueeze(1) * G.vertex_normals(p, f)).norm(dim=1).max()) < 0.02 / r


def test_gauss_bonnet_is_exact():
    for (p, f), chi in ((icosphere(2), 2), (torus(2.0, 0.7, 24, 12), 0)):
        total = (G.gaussian_curvature(p, f) * G.voronoi_areas(p, f)).sum()
        assert abs(float(total) - 2 * math.pi * chi) < 1e-9


def test_torus_mean_curvature():
    # H(v) = (R + 2 r cos v) / (2 r (R + r cos v)) on the tube angle v
    R, r = 3.0, 1.0
    p, f = torus(R, r, 60, 30)
    cosv = ((p[:, :2].norm(dim=1) - R) / r).clamp(-1, 1)
    exact = (R + 2 * r * cosv) / (2 * r * (R + r * cosv))
    assert float((G.mean_curvature(p, f) - exact).abs().max()) < 0.005 * float(exact.abs().max())


def test_cotangent_laplacian_matches_libigl():
    igl = pytest.importorskip("igl")
    s = trimesh.creation.icosphere(2)
    s.vertices += np.random.default_rng(0).normal(scale=0.02, size=s.vertices.shape)
    p, f = torch.tensor(s.vertices), torch.tensor(s.faces)
    lap = G.cotangent_laplacian(p, f)
    # the layout is built by hand: it must really be coalesced (sorted, unique)
    assert lap.is_coalesced() and torch.equal(
        torch.sparse_coo_tensor(lap.indices(), lap.values(), lap.shape, check_invariants=True).coalesce().indices(), lap.indices()
    )
    ours = lap.to_dense().numpy()
    ref = igl.cotmatrix(s.vertices, s.faces).toarray()
    assert np.abs(ours - ref).max() < 1e-12
    assert np.abs(ours.sum(1)).max() < 1e-12 and np.allclose(ours, ours.T)
    # an open mesh with an unused vertex (its row stays empty)
    q, g = open_cylinder(9, 4)
    q = torch.cat([q, torch.zeros(1, 3, dtype=q.dtype)])
    ref = igl.cotmatrix(q.numpy(), g.numpy()).toarray()
    assert np.abs(G.cotangent_laplacian(q, g).to_dense().numpy() - ref).max() < 1e-12
    # a degenerate face repeating a vertex adds nothing and keeps the layout valid
    bad = G.cotangent_laplacian(q, torch.cat([g, torch.tensor([[0, 0, 1]])]))
    assert bad.is_coalesced() and np.abs(bad.to_dense().numpy() - ref).max() < 1e-12
    torch.sparse_coo_tensor(bad.indices(), bad.values(), bad.shape, check_invariants=True).coalesce()
    assert (
        bad.indices().shape[1]
        == torch.sparse_coo_tensor(bad.indices(), bad.values(), bad.shape, check_invariants=True).coalesce()._nnz()
    )


def test_planar_laplacian_kills_linear_functions():
    p, f = plane(7)
    lap = G.cotangent_laplacian(p, f)
    u = (2 * p[:, 0] - 3 * p[:, 1] + 1).unsqueeze(1)
    interior = ~G.boundary_vertices(f, len(p))
    assert float(torch.sparse.mm(lap, u)[interior].abs().max()) < 1e-12


def test_uniform_laplacian_is_neighbour_mean_minus_value():
    p, f = icosphere(1)
    lap = G.uniform_laplacian(f, len(p), dtype=torch.float64)
    e = G.edges(f)
    adj = torch.zeros(len(p), len(p), dtype=torch.float64)
    adj[e[:, 0], e[:, 1]] = adj[e[:, 1], e[:, 0]] = 1
    expected = adj / adj.sum(1, keepdim=True) - torch.eye(len(p), dtype=torch.float64)
    assert torch.allclose(lap.to_dense(), expected)


# ---- topology ---------------------------------------------------------------------------------
def test_open_cylinder_has_two_ordered_boundary_loops():
    p, f = open_cylinder(16, 5)
    loops = G.boundary_loops(f)
    assert len(loops) == 2
    edge_set = {tuple(e) for e in G.edges(f).tolist()}
    for loop in loops:
        assert len(loop) == 16
        nxt = torch.roll(loop, -1)
        assert all((min(a, b), max(a, b)) in edge_set for a, b in zip(loop.tolist(), nxt.tolist()))
    assert G.genus(f) == 0 and G.euler_characteristic(f) == 0
    assert not G.is_watertight(f) and G.is_manifold(f) and G.is_oriented(f)
    assert len(G.boundary_edges(f)) == 32


def test_torus_genus_one_and_sphere_genus_zero():
    _, f = torus(2.0, 0.5, 20, 10)
    assert G.genus(f) == 1 and G.euler_characteristic(f) == 0
    assert G.is_watertight(f) and G.is_manifold(f) and G.is_oriented(f)
    _, s = icosphere(2)
    assert G.genus(s) == 0 and G.euler_characteristic(s) == 2 and G.boundary_loops(s) == []
    assert len(G.edges(s)) == 3 * len(s) // 2


def test_two_tori_glued_in_one_mesh():
    _, f = torus(2.0, 0.5, 12, 8)
    both = torch.cat([f, f + 96])
    assert G.genus(both) == 2
    labels = G.connected_components(both, 192 + 1)  # one isolated vertex
    assert labels.unique().numel() == 3
    assert (labels[:96] == labels[0]).all() and (labels[96:192] != labels[0]).all()


def test_manifold_and_orientation_checks_catch_defects():
    bowtie = torch.tensor([[0, 1, 2], [0, 3, 4]])  # two fans meet at vertex 0
    assert not G.is_manifold(bowtie)
    fin = torch.tensor([[0, 1, 2], [1, 0, 3], [0, 1, 4]])  # edge (0, 1) in three faces
    assert not G.is_manifold(fin) and not G.is_oriented(fin)
    _, s = icosphere(1)
    flipped = s.clone()
    flipped[0] = flipped[0, [0, 2, 1]]
    assert G.is_manifold(flipped) and not G.is_oriented(flipped)
    assert G.is_manifold(torch.tensor([[0, 1, 2], [2, 1, 3]]))  # a two-triangle strip


# ---- gradients, devices, errors ---------------------------------------------------------------
def test_gradcheck_areas_normals_volume_curvature():
    p, f = icosphere(1)
    p = p + 0.01 * torch.randn(p.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    p.requires_grad_(True)
    assert gradcheck(lambda x: G.face_areas(x, f), (p,))
    assert gradcheck(lambda x: G.face_normals(x, f), (p,))
    assert gradcheck(lambda x: G.vertex_normals(x, f), (p,))
    assert gradcheck(lambda x: G.signed_volume(x, f), (p,))
    assert gradcheck(lambda x: G.mean_curvature(x, f), (p,))
    assert gradcheck(lambda x: G.cotangent_laplacian(x, f).values(), (p,))


def test_bad_input_raises_clear_errors():
    p, f = icosphere(0)
    with pytest.raises(ValueError, match=r"points must have shape \(N, 3\)"):
        G.face_normals(p[:, :2], f)
    with pytest.raises(ValueError, match=r"faces must have shape \(F, 3\)"):
        G.face_areas(p, f[:, :2])
    with pytest.raises(ValueError, match="out of range"):
        G.face_areas(p[:5], f)
    with pytest.raises(ValueError, match="integer"):
        G.edges(f.double())


def test_topology_refuses_negative_indices():
    f = torch.tensor([[0, 1, 2], [0, 2, -1]])  # -1 wrapped around: a wrong loop, edge or scipy error
    for fn in (G.edges, G.boundary_loops, G.is_manifold, G.genus, G.connected_components):
        with pytest.raises(ValueError, match="vertex indices >= 0, got -1"):
            fn(f)


def test_empty_faces():
    p = torch.zeros(4, 3)
    f = torch.zeros(0, 3, dtype=torch.long)
    assert G.face_areas(p, f).shape == (0,)
    assert G.vertex_areas(p, f).shape == (4,)
    assert G.edges(f).shape == (0, 2) and G.boundary_loops(f) == []


@pytest.mark.gpu
def test_cuda_matches_cpu():
    p, f = icosphere(3)
    pc, fc = p.cuda(), f.cuda()
    for fn in (G.face_normals, G.face_areas, G.vertex_normals, G.mean_curvature, G.gaussian_curvature):
        assert torch.allclose(fn(pc, fc).cpu(), fn(p, f), atol=1e-10)
    assert torch.allclose(G.cotangent_laplacian(pc, fc).to_dense().cpu(), G.cotangent_laplacian(p, f).to_dense())
    assert G.genus(fc) == 0 and len(G.boundary_loops(fc)) == 0


def test_signed_areas_2d_follow_orientation():
    # the unit right triangle has area 1/2: positive counter-clockwise, negative once two vertices swap
    points = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    areas = G.signed_areas_2d(points, torch.tensor([[0, 1, 2], [0, 2, 1]]))
    assert areas.tolist() == [0.5, -0.5]
    with pytest.raises(ValueError):
        G.signed_areas_2d(torch.zeros(3, 3), torch.tensor([[0, 1, 2]]))


def _imperfect_sphere():
    """An icosphere plus what real meshes carry: a duplicate of vertex 0 used by an extra face, an
    isolated vertex, a collinear (zero-area) face, a face with two coincident vertices and a third face
    on an edge (non-manifold)."""
    from geomsci.core import shapes

    m = shapes.icosphere(1, dtype=torch.float64)
    p, f = m.points, m.cells
    n = p.shape[0]
    extra = torch.stack([p[0], p[0] * 2, (p[1] + p[2]) / 2, p[3].clone()])
    a, b, c = f[0].tolist()
    faces = torch.cat([f, torch.tensor([[n, b, c], [1, 2, n + 2], [3, n + 3, 5], [a, b, 7]])])
    return torch.cat([p, extra]), faces, n


def test_imperfect_meshes_give_finite_values_and_gradients():
    """Documented results on imperfect input (docs/io.md): never NaN, in values or gradients."""
    points, faces, n = _imperfect_sphere()
    points = points.clone().requires_grad_(True)
    ops = [
        G.face_normals,
        G.face_areas,
        G.vertex_normals,
        G.vertex_areas,
        G.voronoi_areas,
        G.corner_angles,
        G.cotangent_weights,
        G.mean_curvature_normal,
        G.mean_curvature,
        G.gaussian_curvature,
        G.signed_volume,
        G.surface_area,
    ]
    for op in ops:
        out = op(points, faces)
        (grad,) = torch.autograd.grad(out.sum(), points, allow_unused=True)
        assert torch.isfinite(out).all(), op.__name__
        assert grad is None or torch.isfinite(grad).all(), op.__name__
    zero = faces.shape[0] - 3, faces.shape[0] - 2  # the collinear face and the one with coincident vertices
    points = points.detach()
    for f in zero:
        assert float(G.face_areas(points, faces)[f]) < 1e-15
        assert float(G.face_normals(points, faces)[f].abs().max()) == 0.0  # zero normal, not NaN
        assert float(G.cotangent_weights(points, faces)[f].abs().max()) == 0.0  # no weight from a degenerate face
    isolated = n + 1
    assert float(G.vertex_normals(points, faces)[isolated].abs().max()) == 0.0
    assert float(G.vertex_areas(points, faces)[isolated]) == 0.0
    assert float(G.mean_curvature(points, faces)[isolated]) == 0.0 and float(G.gaussian_curvature(points, faces)[isolated]) == 0.0
    # topology: the duplicate vertex is a distinct vertex (nothing is merged), the third face on an edge
    # makes the mesh non-manifold and not watertight
    assert not G.is_manifold(faces) and not G.is_watertight(faces)
    # the clean part of the mesh keeps its values: the curvature at vertices far from the defects is 1/r
    far = [v for v in range(n) if v not in set(faces[-4:].flatten().tolist()) | set(faces[0].tolist())]
    h = G.mean_curvature(points.detach(), faces)[far]
    clean = G.mean_curvature(points.detach()[:n], faces[:-4])[far]
    assert torch.allclose(
        h[G.vertex_areas(points.detach(), faces)[far] > 0], clean[G.vertex_areas(points.detach(), faces)[far] > 0], atol=0.3
    )


def test_numpy_input_and_planar_points_refused_where_meaningless():
    from geomsci.core import shapes

    m = shapes.icosphere(1, dtype=torch.float64)
    pts, faces = m.points.numpy(), m.cells.numpy()
    assert isinstance(G.surface_area(pts, faces), torch.Tensor)  # numpy arrays are converted (float64 kept)
    assert G.surface_area(pts, faces).dtype == torch.float64
    assert torch.allclose(G.gaussian_curvature(pts, faces), G.gaussian_curvature(m.points, m.cells))
    flat = torch.tensor([[0.0, 0], [1, 0], [0, 1]])
    tri = torch.tensor([[0, 1, 2]])
    for op in (G.surface_area, G.gaussian_curvature, G.mean_curvature, G.face_normals, G.vertex_normals):
        with pytest.raises(ValueError, match=r"\(N, 3\), got \(3, 2\); this quantity is defined for surfaces in 3-D"):
            op(flat, tri)
    assert float(G.face_areas(flat, tri).sum()) == 0.5  # planar areas stay available
    with pytest.raises(ValueError, match="must be a float tensor, got dtype torch.int64"):
        G.surface_area(torch.zeros(3, 3, dtype=torch.long), tri)


def test_cpu_and_generic_laplacian_layouts_agree():
    """The numpy layout (CPU fast path) and the torch layout (every other device) are the same arrays,
    also with a collapsed face (a corner whose opposite edge is a point) and an unused vertex."""
    from geomsci.core.geometry import _symmetric_layout, _symmetric_layout_numpy

    g = torch.Generator().manual_seed(0)
    faces = torch.randint(0, 40, (120, 3), generator=g)
    faces[5] = torch.tensor([3, 3, 7])
    for n in (40, 41):
        fast, generic = _symmetric_layout_numpy(faces, n), _symmetric_layout(faces, n)
        assert len(fast) == len(generic) == 6
        for a, b in zip(fast, generic, strict=True):
            assert torch.equal(a, b.to(a.dtype))


def test_laplacian_layout_is_reused_only_for_unchanged_faces():
    """The cached layout follows the faces tensor: modified in place, or a new vertex count, means a new layout."""
    from geomsci.core.geometry import cotangent_laplacian
    from geomsci.core.shapes import icosphere

    m = icosphere(2, dtype=torch.float64)
    faces = m.faces.clone()
    first = cotangent_laplacian(m.points, faces).to_dense()
    assert torch.equal(cotangent_laplacian(m.points, faces).to_dense(), first)
    faces[:, [1, 2]] = faces[:, [2, 1]].clone()  # same edges, flipped orientation: same matrix
    assert torch.allclose(cotangent_laplacian(m.points, faces).to_dense(), first, atol=1e-12)
    faces[:] = faces.roll(1, dims=0) % 40  # other connectivity, in place
    fresh = cotangent_laplacian(m.points, faces.clone()).to_dense()
    assert torch.equal(cotangent_laplacian(m.points, faces).to_dense(), fresh)
    extra = torch.cat([m.points, torch.zeros(1, 3, dtype=torch.float64)])  # one more (unused) vertex
    assert cotangent_laplacian(extra, faces).shape == (m.n_points + 1, m.n_points + 1)
