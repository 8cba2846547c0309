"""Soft rasterizer: analytic silhouettes, exact depth of planes, z-buffer order, gradients, memory."""

import math

import pytest
import torch

from geomsci.core import shapes
from geomsci.core.render import Camera, render
from tests.fresh_python import run_fresh_python

TET = torch.tensor([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1.0]], dtype=torch.float64) * 0.8 - 0.25
TET_FACES = torch.tensor([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])


@pytest.fixture(autouse=True)
def _one_thread():
    """The renderer works on many small tensors, where intra-op threads only cost (a lot, on a
    machine whose cores are shared); run these tests on one thread and restore the setting."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _quad(z, half=0.5, dtype=torch.float64):
    """Square [-half, half]^2 at height z, normal +z (two triangles)."""
    p = torch.tensor([[-half, -half, z], [half, -half, z], [half, half, z], [-half, half, z]], dtype=dtype)
    return p, torch.tensor([[0, 1, 2], [0, 2, 3]])


@pytest.mark.parametrize("ortho", [False, True])
def test_sphere_silhouette_area_matches_analytic_disk(ortho):
    """The silhouette area converges to the projected disk as sigma -> 0 (soft edges shift it by
    O(sqrt(sigma))). Orthographic: a disk of radius r, area pi r^2. Pinhole at distance D: the
    tangent cone has half-angle asin(r / D) and cuts the image plane in a disk of radius
    tan(asin(r / D)) / tan(fov / 2) in NDC units. An icosphere with 5120 faces is inscribed, a few
    1e-4 below; the tolerance is 1%."""
    r, D, fov = 0.5, 3.0, 30.0
    sphere = shapes.icosphere(4, radius=r, dtype=torch.float64)
    eye = torch.tensor([1.0, 2.0, 2.0]) / 3 * D  # a generic direction
    if ortho:
        cam = Camera.look_at(eye.tolist(), ortho_scale=0.8, image_size=256)
        expected = math.pi * (r / 0.8) ** 2
    else:
        cam = Camera.look_at(eye.tolist(), fov=fov, image_size=256)
        expected = math.pi * (math.tan(math.asin(r / D)) / math.tan(math.radians(fov) / 2)) ** 2
    with torch.no_grad():
        sil = render(sphere.points, sphere.cells, cam, sigma=1e-6, channels=("silhouette",))["silhouette"]
    area = float(sil.sum()) * cam.pixel_area
    assert abs(area / expected - 1) < 0.01, (area, expected)


@pytest.mark.parametrize("ortho", [False, True])
def test_plane_depth_and_normals_exact(ortho):
    """A square facing the camera: interior pixels see depth D - z exactly and the normal +z."""
    pts, faces = _quad(0.2)
    cam = Camera.look_at((0, 0, 3.0), up=(0, 1, 0), image_size=(32, 40), **({"ortho_scale": 1.0} if ortho else {"fov": 40}))
    out = render(pts, faces, cam, sigma=1e-5)
    interior = out["silhouette"] > 1 - 1e-9
    assert interior.sum() > 100
    assert torch.allclose(out["depth"][interior], torch.full_like(out["depth"][interior], 2.8), atol=1e-9)
    n = out["normals"][interior]
    assert torch.allclose(n, torch.tensor([0, 0, 1.0], dtype=torch.float64).expand_as(n), atol=1e-9)
    assert float(out["silhouette"][0, 0]) < 1e-9 and float(out["depth"][0, 0]) == 0.0  # corner: background


def test_soft_zbuffer_takes_the_nearer_face():
    near, f1 = _quad(0.5, half=0.3)
    far, f2 = _quad(0.5, half=0.6)
    far = far @ torch.tensor([[1, 0, 0], [0, -1, 0], [0, 0, -1.0]], dtype=torch.float64)  # rotated about x: z = -0.5, normal -z
    pts = torch.cat([near, far])
    faces = torch.cat([f1, f2 + 4])
    cam = Camera.look_at((0, 0, 4.0), up=(0, 1, 0), fov=30, image_size=64)
    out = render(pts, faces, cam, sigma=1e-5, gamma=1e-4)
    c = 32
    assert float(out["depth"][c, c]) == pytest.approx(3.5, abs=1e-6)
    assert out["normals"][c, c].tolist() == pytest.approx([0, 0, 1], abs=1e-6)
    # outside the near square but inside the far one: the far face is seen
    j = 44  # x = 0.39 NDC: near square ends at 0.32, far one at 0.50
    assert float(out["depth"][c, j]) == pytest.approx(4.5, abs=1e-6)
    assert out["normals"][c, j].tolist() == pytest.approx([0, 0, -1], abs=1e-6)


def test_image_orientation_row0_is_top():
    """A triangle at +y and +x appears in the top-right corner."""
    pts = torch.tensor([[0.3, 0.3, 0], [0.9, 0.3, 0], [0.3, 0.9, 0]], dtype=torch.float64)
    cam = Camera.look_at((0, 0, 2.0), up=(0, 1, 0), ortho_scale=1.0, image_size=20)
    sil = render(pts, torch.tensor([[0, 1, 2]]), cam, sigma=1e-5, channels=("silhouette",))["silhouette"]
    rows, cols = (sil > 0.5).nonzero(as_tuple=True)
    assert rows.max() < 10 and cols.min() >= 10


def test_edge_has_half_coverage_and_behind_camera_is_culled():
    pts, faces = _quad(0.0, half=0.5)
    cam = Camera.look_at(
        (0, 0, 2.0), up=(0, 1, 0), ortho_scale=1.0, image_size=(3, 4)
    )  # centres at x = +-0.5 hit the edges... of a
    sil = render(pts, faces, cam, sigma=1e-3, channels=("silhouette",))["silhouette"]
    # pixel centre x = (2 j + 1 - W) / H: j = 1 -> -1/3 (inside), j = 0 -> -1 (outside)
    assert float(sil[1, 1]) > 0.99 and float(sil[1, 0]) < 0.01
    behind = Camera.look_at((0, 0, -2.0), at=(0, 0, -5.0), up=(0, 1, 0), fov=40, image_size=8)
    assert float(render(pts, faces, behind, channels=("silhouette",))["silhouette"].abs().max()) == 0.0


@pytest.mark.parametrize("ortho", [False, True])
def test_silhouette_gradcheck_wrt_vertex_positions(ortho):
    """Full float64 Jacobian of the soft silhouette against central finite differences."""
    cam = Camera.look_at((2.0, 1.5, 1.2), image_size=(7, 8), **({"ortho_scale": 0.8} if ortho else {"fov": 40}))
    p = TET.clone().requires_grad_()
    f = lambda x: render(x, TET_FACES, cam, sigma=3e-2, channels=("silhouette",))["silhouette"]
    assert torch.autograd.gradcheck(f, (p,), eps=1e-6, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("ortho", [False, True])
@pytest.mark.parametrize("channel", ["depth", "normals"])
def test_zbuffer_gradcheck_wrt_vertex_positions(ortho, channel):
    """Depth and normal images (soft z-buffer): gradcheck's fast mode (random projections of the
    Jacobian), with max_pairs=13 forcing many chunks, checkpointing and the online softmax."""
    cam = Camera.look_at((2.0, 1.5, 1.2), image_size=(7, 8), **({"ortho_scale": 0.8} if ortho else {"fov": 40}))
    p = TET.clone().requires_grad_()
    f = lambda x: render(x, TET_FACES, cam, sigma=3e-2, gamma=5e-2, channels=(channel,), max_pairs=13)[channel]
    assert torch.autograd.gradcheck(f, (p,), eps=1e-6, atol=1e-6, rtol=1e-4, fast_mode=True)


def test_silhouette_fitting_recovers_an_ellipsoid():
    """Inverse rendering: the silhouette gradients alone recover the three semi-axes of an ellipsoid
    from three views (a real use of the gradient, not just its agreement with finite differences)."""
    sphere = shapes.icosphere(2)
    cams = [Camera.look_at((2.5 * math.cos(a), 2.5 * math.sin(a), 1.0), fov=40, image_size=40) for a in (0.0, 2.1, 4.2)]
    truth = torch.tensor([0.7, 0.5, 0.4])
    with torch.no_grad():
        targets = [render(sphere.points * truth, sphere.cells, c, channels=("silhouette",))["silhouette"] for c in cams]
    axes = torch.full((3,), 0.55, requires_grad=True)
    opt = torch.optim.Adam([axes], lr=0.02)
    for _ in range(70):
        loss = sum(
            ((render(sphere.points * axes, sphere.cells, c, channels=("silhouette",))["silhouette"] - t) ** 2).mean()
            for c, t in zip(cams, targets)
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert torch.allclose(axes.detach(), truth, atol=5e-3), axes


def test_chunking_does_not_change_the_image():
    mesh = shapes.icosphere(2, radius=0.6, dtype=torch.float64)
    cam = Camera.look_at((1.5, -2.0, 1.0), fov=35, image_size=(24, 30))
    a = render(mesh.points, mesh.cells, cam, sigma=1e-3)
    b = render(mesh.points, mesh.cells, cam, sigma=1e-3, max_pairs=97)
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-12), k


def test_follows_dtype_and_rejects_bad_input():
    pts, faces = _quad(0.0, dtype=torch.float32)
    cam = Camera.look_at((0, 0, 2.0), up=(0, 1, 0), image_size=8)
    assert render(pts, faces, cam)["normals"].dtype == torch.float32
    with pytest.raises(ValueError, match="points must be a float tensor"):
        render(pts[:, :2], faces, cam)
    with pytest.raises(ValueError, match="unknown channels"):
        render(pts, faces, cam, channels=("rgb",))
    with pytest.raises(ValueError, match="parallel to the viewing direction"):
        Camera.look_at((0, 0, 2.0), up=(0, 0, 1))
    with pytest.raises(ValueError, match="fov"):
        Camera.look_at((0, 0, 2.0), up=(0, 1, 0), fov=180)


def test_128px_20k_faces_with_backward_fits_in_2gb():
    """Peak resident memory of a fresh process rendering all channels of a 20 480-face sphere at
    128 x 128 (float32) and back-propagating, above the process's baseline after imports."""
    stdout = run_fresh_python(
        """
        import resource, torch
        torch.set_num_threads(1)
        from geomsci.core.render import Camera, render
        from geomsci.core.shapes import icosphere
        m = icosphere(5)
        cam = Camera.look_at((2.5, 1.0, 1.5), fov=45, image_size=128)
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        p = m.points.clone().requires_grad_()
        out = render(p, m.cells, cam)
        sum(v.mean() for v in out.values()).backward()
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024)
        """,
        timeout=300,
    )
    peak_mb = float(stdout.strip().splitlines()[-1])
    assert peak_mb < 2048, peak_mb


@pytest.mark.gpu
def test_cuda_matches_cpu():
    mesh = shapes.icosphere(3, radius=0.6, dtype=torch.float64)
    cam = Camera.look_at((1.5, -2.0, 1.0), fov=35, image_size=64)
    p_cpu = mesh.points.clone().requires_grad_()
    p_gpu = mesh.points.cuda().requires_grad_()
    a = render(p_cpu, mesh.cells, cam, sigma=1e-4)
    b = render(p_gpu, mesh.cells.cuda(), cam, sigma=1e-4, max_pairs=2**12)
    for k in a:
        assert torch.allclose(a[k], b[k].cpu(), atol=1e-9), k
    sum(v.sum() for v in a.values()).backward()
    sum(v.sum() for v in b.values()).backward()
    assert torch.allclose(p_cpu.grad, p_gpu.grad.cpu(), atol=1e-7)
    # memory on the device: 20k faces at 128 x 128 with backward
    big = shapes.icosphere(5, device="cuda")
    torch.cuda.reset_peak_memory_stats()
    q = big.points.clone().requires_grad_()
    sum(v.mean() for v in render(q, big.cells, Camera.look_at((2.5, 1.0, 1.5), image_size=128)).values()).backward()
    assert torch.cuda.max_memory_allocated() < 2 * 1024**3


@pytest.mark.parametrize("size", [(17, 23), (40, 33)])
def test_tile_binning_equals_all_pairs_on_the_full_image(size):
    """The tiled, chunked renderer against the formulas evaluated on every (face, pixel) pair of the
    whole image in one go (no boxes, no tiles, no chunks): equal within round-off, for image sizes
    that are not multiples of the 16-pixel tile, and for chunks of a few tiles."""
    from geomsci.core.geometry import face_normals
    from geomsci.core.render import _chunk

    mesh = shapes.icosphere(1, radius=0.6, dtype=torch.float64)
    cam = Camera.look_at((1.5, -2.0, 1.0), fov=35, image_size=size)
    sigma, gamma, cutoff = 3e-3, 1e-2, 20.0
    xy, z = cam.project(mesh.points)
    F, P = mesh.n_cells, size[0] * size[1]
    fids = torch.arange(F).repeat_interleave(P)
    pix = torch.arange(P).repeat(F)
    zv = z[mesh.cells]
    log_miss, _, s, acc = _chunk(
        xy,
        z,
        face_normals(mesh.points, mesh.cells),
        fids,
        pix,
        cam.pixel_centers(torch.float64),
        mesh.cells,
        sigma,
        gamma,
        zv.min(),
        zv.max() - zv.min(),
        False,
        cutoff,
        P,
        True,
    )
    sil = 1 - torch.exp(log_miss)
    blend = acc / s.clamp_min(1e-300).unsqueeze(1) * sil.unsqueeze(1)
    for max_pairs in (None, 300):
        out = render(mesh.points, mesh.cells, cam, sigma=sigma, gamma=gamma, cutoff=cutoff, max_pairs=max_pairs)
        assert torch.allclose(out["silhouette"].reshape(-1), sil, atol=1e-12)
        assert torch.allclose(out["depth"].reshape(-1), blend[:, 0], atol=1e-12)
        assert torch.allclose(out["normals"].reshape(-1, 3), blend[:, 1:], atol=1e-12)


def test_pairs_rebuilt_in_backward_give_the_same_gradient(monkeypatch):
    """Large renders rebuild each chunk's (face, pixel) pairs in the backward pass instead of
    keeping them: same image, same gradient."""
    import geomsci.core.render as R

    mesh = shapes.icosphere(2, radius=0.6, dtype=torch.float64)
    cam = Camera.look_at((1.5, -2.0, 1.0), fov=35, image_size=(40, 36))
    grads = []
    for keep_bytes in (2**28, 0):
        monkeypatch.setattr(R, "_KEEP_PAIR_BYTES", keep_bytes)
        p = mesh.points.clone().requires_grad_(True)
        out = render(p, mesh.cells, cam, sigma=1e-3, max_pairs=500)
        (out["silhouette"].square().sum() + out["depth"].sum() + out["normals"].sum()).backward()
        grads.append(p.grad)
    assert torch.allclose(grads[0], grads[1], rtol=0, atol=1e-12)
