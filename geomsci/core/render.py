"""A small differentiable soft rasterizer (SoftRas, Liu et al. 2019): silhouette, depth and normal
images of a triangle mesh, differentiable in the vertex positions, same code on CPU and CUDA.

Screen space
------------
Points go to camera coordinates (x right, y up, z = depth along the viewing direction), then to
normalised screen coordinates ("NDC") where the image spans y in [-1, 1] (top to bottom: +1 to -1)
and x in [-W/H, W/H]. Pixel (row i, column j) has its centre at
``x = (2 j + 1 - W) / H``, ``y = (H - 2 i - 1) / H``; one pixel is ``2 / H`` wide. ``sigma`` is a
squared distance in these units, so sigma = 1e-4 blurs edges over about one pixel at H = 128 and
means the same blur at any resolution in NDC terms.

Soft coverage (silhouette)
--------------------------
For pixel p and projected triangle f, with d(p, f) the distance from p to the triangle's edges and
delta = +1 inside, -1 outside::

    D_f(p) = sigmoid(delta * d^2 / sigma)          # -> 1 inside, 1/2 on the edge, -> 0 outside
    S(p)   = 1 - prod_f (1 - D_f(p))               # probability that some face covers p

computed as ``1 - exp(-sum_f softplus(delta d^2 / sigma))`` (stable in the log domain). As in
SoftRas, a pixel on an edge shared by two faces of one layer gets 1 - (1/2)^2 = 3/4, and many
faces along a silhouette push it outwards: areas are exact only as sigma -> 0 (measured: a
sphere's silhouette within 0.2% of the analytic disk at sigma = 1e-6, 256 x 256). A face
only touches pixels within ``sqrt(cutoff * sigma)`` of it (outside that, D < e^-cutoff ~ 2e-9 is
dropped): rendering is a sparse list of (face, pixel) pairs, binned by 16 x 16 pixel tiles and
processed in chunks of whole tiles holding about ``max_pairs`` pairs, so each chunk accumulates
into its own tiles only (no full-image buffer per chunk, no merging across chunks), with gradient
checkpointing (each chunk is recomputed in the backward pass instead of keeping its
intermediates; first-order gradients only), so memory stays bounded (a 128 x 128 image of a 20k-face mesh with its
backward pass takes a few hundred MB).

Soft z-buffer (depth, normals)
------------------------------
Each pair gets the face's depth z_f(p) (perspective-correct barycentric interpolation, barycentrics
clamped to the triangle outside it) and a weight ``w_f ∝ D_f exp(zn_f / gamma)`` with ``zn = (zfar -
z) / (zfar - znear)`` in [0, 1] over the mesh's depth range (near -> 1): a softmax over the faces
at p that goes to the nearest face as gamma -> 0. The images are alpha-premultiplied::

    depth(p)   = S(p) * sum_f w_f z_f(p)           # camera depth, world units; 0 on the background
    normals(p) = S(p) * sum_f w_f n_f              # world-space unit face normals (flat shading)

Faces with a vertex behind the near plane (z <= ``camera.znear``) and faces seen edge-on (zero
projected area) are not drawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .geometry import face_normals

CHANNELS = ("silhouette", "depth", "normals")


@dataclass
class Camera:
    """A look-at camera (use `Camera.look_at`).

    Attributes
    ----------
    eye : (3,) float64 tensor, camera position (world units).
    rotation : (3, 3) float64 tensor whose rows are the camera's right, up and forward unit vectors,
        so ``camera coords = rotation @ (p - eye)``.
    image_size : (H, W) in pixels.
    fov : vertical field of view in radians for a pinhole camera, or None.
    ortho_scale : for an orthographic camera, half the image height in world units, or None.
    znear : faces with a vertex nearer than this depth are not drawn (pinhole only).
    """

    eye: torch.Tensor
    rotation: torch.Tensor
    image_size: tuple[int, int]
    fov: float | None = None
    ortho_scale: float | None = None
    znear: float = 1e-4

    @classmethod
    def look_at(
        cls,
        eye,
        at=(0.0, 0.0, 0.0),
        up=(0.0, 0.0, 1.0),
        fov: float = 40.0,
        ortho_scale: float | None = None,
        image_size=(128, 128),
        znear: float = 1e-4,
    ) -> Camera:
        """Camera at ``eye`` looking at ``at`` with ``up`` pointing up in the image.

        ``fov`` is the vertical field of view in degrees (pinhole). Giving ``ortho_scale`` (half the
        image height in world units) makes an orthographic camera instead and ignores ``fov``.
        ``image_size`` is (H, W) or one int for a square image.
        """
        eye_t = torch.as_tensor(eye, dtype=torch.float64).reshape(3)
        at_t = torch.as_tensor(at, dtype=torch.float64).reshape(3)
        up_t = torch.as_tensor(up, dtype=torch.float64).reshape(3)
        forward = at_t - eye_t
        if forward.norm() == 0:
            raise ValueError(f"Camera.look_at: eye and at are the same point {eye_t.tolist()}")
        forward = forward / forward.norm()
        right = torch.linalg.cross(forward, up_t)
        if right.norm() < 1e-9 * up_t.norm().clamp_min(1e-300):
            raise ValueError(f"Camera.look_at: up={up_t.tolist()} is parallel to the viewing direction; pick another up")
        right = right / right.norm()
        true_up = torch.linalg.cross(right, forward)
        if isinstance(image_size, int):
            image_size = (image_size, image_size)
        H, W = (int(s) for s in image_size)
        if H < 1 or W < 1:
            raise ValueError(f"Camera.look_at: image_size must be positive (H, W), got {image_size!r}")
        if ortho_scale is not None:
            if not ortho_scale > 0:
                raise ValueError(f"Camera.look_at: ortho_scale must be positive, got {ortho_scale!r}")
            return cls(eye_t, torch.stack([right, true_up, forward]), (H, W), None, float(ortho_scale), znear)
        if not 0 < fov < 180:
            raise ValueError(f"Camera.look_at: fov must be in (0, 180) degrees, got {fov!r}")
        return cls(eye_t, torch.stack([right, true_up, forward]), (H, W), math.radians(fov), None, znear)

    @property
    def orthographic(self) -> bool:
        return self.ortho_scale is not None

    def to_camera(self, points: torch.Tensor) -> torch.Tensor:
        """World points (N, 3) -> camera coordinates (N, 3): x right, y up, z depth."""
        R = self.rotation.to(points)
        return (points - self.eye.to(points)) @ R.T

    def project(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """World points (N, 3) -> (screen NDC coordinates (N, 2), depth z (N,)).

        Pinhole: ``(x, y) / (z tan(fov / 2))``; orthographic: ``(x, y) / ortho_scale``.
        """
        c = self.to_camera(points)  # (N, 3)
        z = c[:, 2]
        if self.ortho_scale is not None:  # orthographic
            return c[:, :2] / self.ortho_scale, z
        if self.fov is None:
            raise TypeError("Camera: a pinhole camera needs fov (radians) or an ortho_scale, got neither")
        # points behind the camera get a finite dummy projection; their faces are culled anyway
        zs = torch.where(z > self.znear, z, torch.ones_like(z))
        return c[:, :2] / (zs.unsqueeze(1) * math.tan(self.fov / 2)), z

    def pixel_centers(self, dtype=torch.float32, device=None) -> torch.Tensor:
        """(H * W, 2) NDC coordinates of the pixel centres, row-major from the top-left pixel."""
        H, W = self.image_size
        x = (2 * torch.arange(W, dtype=dtype, device=device) + 1 - W) / H
        y = (H - 2 * torch.arange(H, dtype=dtype, device=device) - 1) / H
        return torch.stack(torch.meshgrid(x, y, indexing="xy"), dim=-1).reshape(-1, 2)

    @property
    def pixel_area(self) -> float:
        """Area of one pixel in NDC units (``(2 / H)^2``)."""
        return (2.0 / self.image_size[0]) ** 2


def _pixel_boxes(tri: torch.Tensor, H: int, W: int, radius: float):
    """Pixel bounding boxes of projected triangles (F, 3, 2), grown by ``radius`` (NDC).

    Returns per face: first column, first row, number of columns, number of rows (all (F,) long).
    """
    lo = tri.min(dim=1).values - radius  # (F, 2)
    hi = tri.max(dim=1).values + radius
    # invert the pixel-centre formulas: j = (x H + W - 1) / 2, i = (H - y H - 1) / 2
    c0 = torch.ceil((lo[:, 0] * H + W - 1) / 2).clamp(0, W).long()
    c1 = torch.floor((hi[:, 0] * H + W - 1) / 2).clamp(-1, W - 1).long()
    r0 = torch.ceil((H - hi[:, 1] * H - 1) / 2).clamp(0, H).long()
    r1 = torch.floor((H - lo[:, 1] * H - 1) / 2).clamp(-1, H - 1).long()
    nc = (c1 - c0 + 1).clamp_min(0)
    nr = (r1 - r0 + 1).clamp_min(0)
    return c0, r0, nc, nr


def _pair_geometry(xy, fids, pix, centers, face_idx):
    """Per (face, pixel) pair: vertex ids f (Q, 3), barycentrics of the pixel centre bary (Q, 3),
    inside (Q,) bool and the squared distance d2 (Q,) from the centre to the triangle's edges."""
    f = face_idx[fids]  # (Q, 3) vertex ids
    v = xy[f]  # (Q, 3, 2) projected corners
    p = centers[pix]  # (Q, 2)
    a, b, c = v[:, 0], v[:, 1], v[:, 2]

    def cross(u, w):
        return u[:, 0] * w[:, 1] - u[:, 1] * w[:, 0]

    area2 = cross(b - a, c - a)  # (Q,) twice the signed projected area (never 0: culled before)
    w0 = cross(b - p, c - p) / area2  # barycentric coordinates of p
    w1 = cross(c - p, a - p) / area2
    w2 = 1 - w0 - w1
    bary = torch.stack([w0, w1, w2], dim=1)  # (Q, 3)
    inside = (bary.detach() >= 0).all(dim=1)

    def seg_d2(s0, s1):  # squared distance from p to the segment s0-s1
        e = s1 - s0
        t = ((p - s0) * e).sum(1) / (e * e).sum(1).clamp_min(1e-30)
        q = s0 + t.clamp(0, 1).unsqueeze(1) * e
        return ((p - q) ** 2).sum(1)

    d2 = torch.minimum(torch.minimum(seg_d2(a, b), seg_d2(b, c)), seg_d2(c, a))  # (Q,)
    return f, bary, inside, d2


@torch.no_grad()
def _touching_pairs(xy, fids, pix, centers, face_idx, sigma, cutoff) -> torch.Tensor:
    """(Q,) bool: the pairs `_chunk` keeps (pixel inside the face or within sqrt(cutoff sigma) of
    it). The others contribute exact zeros, so dropping them first changes no value or gradient
    and spares the box corners (a quarter of a small face's pairs) the differentiable pass."""
    _, _, inside, d2 = _pair_geometry(xy, fids, pix, centers, face_idx)
    return inside | (d2 < cutoff * sigma)


def _chunk(xy, z, normals, fids, pix, centers, face_idx, sigma, gamma, znear_n, zrange, ortho, cutoff, P, want_z):
    """Soft coverage and z-buffer sums of one chunk of (face, pixel) pairs.

    Returns ``log_miss`` (P,) = sum over the chunk's pairs of log(1 - D), and when ``want_z``:
    ``m`` (P,) the per-pixel max of the softmax logits (a constant), ``s`` (P,) = sum exp(l - m)
    and ``acc`` (P, 4) = sum exp(l - m) * [z, n_x, n_y, n_z].
    """
    f, bary, inside, d2 = _pair_geometry(xy, fids, pix, centers, face_idx)
    x = torch.where(inside, d2, -d2) / sigma  # delta * d^2 / sigma
    keep = inside | (d2.detach() < cutoff * sigma)  # drop the bounding box's far corners
    # log(1 - D_f) = logsigmoid(-x) = -softplus(x) (F.logsigmoid is slow on CPU for small inputs)
    log_miss_pairs = torch.where(keep, -F.softplus(x), torch.zeros_like(x))
    log_miss = torch.zeros(P, dtype=xy.dtype, device=xy.device).index_add(0, pix, log_miss_pairs)
    if not want_z:
        return (log_miss,)
    # perspective-correct depth at p from barycentrics clamped onto the triangle
    bc = bary.clamp(0, 1)
    bc = bc / bc.sum(1, keepdim=True)
    zf = z[f]  # (Q, 3)
    zp = (bc * zf).sum(1) if ortho else 1.0 / (bc / zf).sum(1)  # (Q,)
    logit = -F.softplus(-x) + (1.0 - (zp - znear_n) / zrange) / gamma  # log D + zn / gamma
    neg_inf = torch.full_like(logit, -math.inf)
    m = torch.full((P,), -math.inf, dtype=xy.dtype, device=xy.device)
    m = m.scatter_reduce(0, pix, torch.where(keep, logit.detach(), neg_inf), reduce="amax")
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    e = torch.exp(torch.where(keep, logit - m[pix], neg_inf))  # (Q,); -inf (not 0 * inf) keeps grads finite
    s = torch.zeros(P, dtype=xy.dtype, device=xy.device).index_add(0, pix, e)
    vals = torch.cat([zp.unsqueeze(1), normals[fids]], dim=1)  # (Q, 4)
    acc = torch.zeros(P, 4, dtype=xy.dtype, device=xy.device).index_add(0, pix, e.unsqueeze(1) * vals)
    return log_miss, m, s, acc


class _RecomputedChunk(torch.autograd.Function):
    """Gradient checkpointing of `_chunk`: the forward pass keeps only the shared inputs and (with
    ``keep_pairs``) the chunk's (face, pixel) index lists; otherwise the backward pass regenerates
    them with ``make_pairs``. Then it recomputes the chunk with autograd on. (A plain
    Function rather than ``torch.utils.checkpoint``, whose first call imports torch._dynamo: seconds.)"""

    @staticmethod
    def forward(ctx, xy, z, normals, znear_n, zrange, faces, opts, make_pairs, keep_pairs):
        ctx.save_for_backward(xy, z, normals, znear_n, zrange, faces)
        ctx.opts, ctx.make_pairs = opts, make_pairs
        sigma, gamma, ortho, cutoff, P, want_z = opts
        with torch.no_grad():
            fids, pix, centers = make_pairs()
        ctx.pairs = (fids, pix, centers) if keep_pairs else None  # index tensors, not differentiated
        with torch.no_grad():
            out = _chunk(xy, z, normals, fids, pix, centers, faces, sigma, gamma, znear_n, zrange, ortho, cutoff, P, want_z)
        if len(out) > 1:
            ctx.mark_non_differentiable(out[1])  # the per-pixel max logit is a constant shift
        return out

    @staticmethod
    def backward(ctx, *grads):
        xy, z, normals, znear_n, zrange, faces = ctx.saved_tensors
        diff = [None if t is None else t.detach().requires_grad_(t.requires_grad) for t in (xy, z, normals, znear_n, zrange)]
        sigma, gamma, ortho, cutoff, P, want_z = ctx.opts
        with torch.no_grad():  # the same pairs: they depend on xy's values only
            fids, pix, centers = ctx.pairs if ctx.pairs is not None else ctx.make_pairs()
        ctx.pairs = None
        with torch.enable_grad():
            out = _chunk(
                diff[0], diff[1], diff[2], fids, pix, centers, faces, sigma, gamma, diff[3], diff[4], ortho, cutoff, P, want_z
            )
        pairs = [(o, g) for o, g in zip(out, grads) if g is not None and o.requires_grad]
        wrt = [t for t in diff if t is not None and t.requires_grad]
        got = iter(
            torch.autograd.grad([o for o, _ in pairs], wrt, [g for _, g in pairs], allow_unused=True) if pairs and wrt else []
        )
        grads_in = [next(got) if t is not None and t.requires_grad else None for t in diff]
        return (*grads_in, None, None, None, None)


_KEEP_PAIR_BYTES = 2**28  # index lists kept for the backward pass up to this size, rebuilt beyond
_TILE = 16  # tile side in pixels: (face, pixel) pairs are binned by tile, and chunks hold whole tiles


@torch.no_grad()
def _tile_chunks(fidx, c0, r0, nc, nr, H: int, W: int, max_pairs: int, dtype: torch.dtype):
    """Bin the (face, pixel) pairs of the faces' pixel boxes by 16 x 16 tiles and cut the tiles,
    in order, into chunks of about ``max_pairs`` pairs (a chunk holds whole tiles, so it may exceed
    the budget by one tile's pairs).

    Returns a list of (n_pix, n_pairs, make) per chunk; ``make()`` builds the chunk's face ids (Q,),
    chunk-local pixel ids (Q,) and pixel centres (n_pix, 2) on demand, so that only one chunk's
    pairs exist at a time. A chunk's pixels are its tiles' pixels, tile-major (tile by tile,
    row-major inside a tile), including the padding of edge tiles beyond the image.
    """
    T = _TILE
    th, tw = -(-H // T), -(-W // T)
    n_tiles = th * tw
    dev = c0.device
    has = (nc > 0) & (nr > 0)
    fidx, c0, r0, nc, nr = fidx[has], c0[has], r0[has], nc[has], nr[has]
    tc0, tr0 = c0 // T, r0 // T
    ntc, ntr = (c0 + nc - 1) // T - tc0 + 1, (r0 + nr - 1) // T - tr0 + 1  # tiles per face box
    per_face = ntc * ntr  # (F',)
    # (face, tile) pairs
    k = torch.repeat_interleave(torch.arange(fidx.numel(), device=dev), per_face)  # (FT,)
    local = torch.arange(k.numel(), device=dev) - (torch.cumsum(per_face, 0) - per_face)[k]
    tr, tc = tr0[k] + local // ntc[k], tc0[k] + local % ntc[k]
    tile = tr * tw + tc  # (FT,)
    cs, rs = torch.maximum(c0[k], tc * T), torch.maximum(r0[k], tr * T)  # the box clipped to the tile
    ncol = torch.minimum(c0[k] + nc[k], (tc + 1) * T) - cs
    nrow = torch.minimum(r0[k] + nr[k], (tr + 1) * T) - rs
    tile, order = torch.sort(tile, stable=True)
    k, cs, rs, ncol, nrow = k[order], cs[order], rs[order], ncol[order], nrow[order]
    count = ncol * nrow  # (FT,) pixels of each (face, tile) pair
    per_tile = torch.zeros(n_tiles, dtype=torch.long, device=dev).index_add_(0, tile, count)
    cum = torch.cumsum(per_tile, 0)
    total = int(cum[-1])  # host sync: the pair count is data-dependent
    # tile boundaries where the running pair count crosses a multiple of max_pairs
    marks = torch.arange(1, -(-max(total, 1) // max_pairs), device=dev) * max_pairs
    cuts = torch.unique(torch.cat([torch.searchsorted(cum, marks, right=True) + 1, torch.tensor([n_tiles], device=dev)]))
    cuts = cuts[(cuts > 0) & (cuts <= n_tiles)]
    ft_cuts = torch.searchsorted(tile, cuts)  # (face, tile) pairs before each cut
    px_cuts = torch.where(cuts > 0, cum[(cuts - 1).clamp_min(0)], torch.zeros_like(cuts))
    bounds = torch.stack([cuts, ft_cuts, px_cuts], 1).tolist()  # one host sync for all chunks
    ti = torch.arange(T * T, device=dev)

    def pairs(t0, t1, f0, f1, n_pairs):
        """(face ids (Q,), chunk-local pixel ids (Q,), pixel centres (n_pix, 2)) of one chunk."""
        # pixel centres of the chunk's tiles (NDC, as Camera.pixel_centers)
        tid = t0 + torch.arange(t1 - t0, device=dev)
        rows = (((tid // tw) * T).unsqueeze(1) + ti // T).to(dtype)  # (n_tiles_chunk, T*T)
        cols = (((tid % tw) * T).unsqueeze(1) + ti % T).to(dtype)
        centers = torch.stack([(2 * cols + 1 - W) / H, (H - 2 * rows - 1) / H], -1).reshape(-1, 2)
        if n_pairs == 0:
            return fidx.new_zeros(0), fidx.new_zeros(0), centers
        c = count[f0:f1]
        j = torch.repeat_interleave(torch.arange(f1 - f0, device=dev), c, output_size=n_pairs)  # (Q,)
        q = torch.arange(n_pairs, device=dev) - (torch.cumsum(c, 0) - c)[j]  # index inside the clipped box
        g = f0 + j
        row, col = rs[g] + q // ncol[g], cs[g] + q % ncol[g]
        pix = (tile[g] - t0) * T * T + (row % T) * T + col % T  # chunk-local, tile-major
        return fidx[k[g]], pix, centers

    chunks = []
    t0 = f0 = p0 = 0
    for t1, f1, p1 in bounds:
        chunks.append(((t1 - t0) * T * T, p1 - p0, (lambda a=(t0, t1, f0, f1, p1 - p0): pairs(*a))))
        t0, f0, p0 = t1, f1, p1
    return chunks


def render(
    points: torch.Tensor,
    faces: torch.Tensor,
    camera: Camera,
    *,
    sigma: float = 1e-4,
    gamma: float = 1e-4,
    channels=CHANNELS,
    cutoff: float = 20.0,
    max_pairs: int | None = None,
) -> dict[str, torch.Tensor]:
    """Soft-rasterize a triangle mesh (see the module docstring for the formulas).

    Parameters
    ----------
    points : (N, 3) float tensor, vertex positions (world units). Gradients flow to it.
    faces : (F, 3) long tensor.
    camera : `Camera`.
    sigma : edge sharpness, a squared distance in NDC units (image height = 2).
    gamma : z-buffer sharpness, in units of the mesh's normalised depth range.
    channels : which of ``"silhouette"``, ``"depth"``, ``"normals"`` to return.
    cutoff : pairs farther than ``sqrt(cutoff * sigma)`` from a face are skipped (D < e^-cutoff).
    max_pairs : (face, pixel) pairs per chunk of tiles; bounds the memory (measured: about 1 KB per
        pair in float32, 2 KB in float64, forward and backward). Default 2^18 on CPU, 2^20 on CUDA
        (fewer, larger kernels). The image does not depend on it beyond round-off.

    Returns
    -------
    dict with ``silhouette`` (H, W) in [0, 1], ``depth`` (H, W) camera depth premultiplied by the
    silhouette, ``normals`` (H, W, 3) premultiplied world-space face normals; on the points' dtype
    and device. Row 0 is the top of the image.
    """
    if points.dim() != 2 or points.shape[1] != 3 or not points.is_floating_point():
        raise ValueError(f"render: points must be a float tensor (N, 3), got {tuple(points.shape)} {points.dtype}")
    if faces.dim() != 2 or faces.shape[1] != 3:
        raise ValueError(f"render: faces must have shape (F, 3), got {tuple(faces.shape)}")
    unknown = set(channels) - set(CHANNELS)
    if unknown or not channels:
        raise ValueError(f"render: unknown channels {sorted(unknown)}; choose from {CHANNELS}")
    if not (sigma > 0 and gamma > 0):
        raise ValueError(f"render: sigma and gamma must be positive, got sigma={sigma}, gamma={gamma}")
    faces = faces.to(device=points.device, dtype=torch.long)
    if max_pairs is None:
        max_pairs = 2**20 if points.device.type == "cuda" else 2**18
    if int(max_pairs) < 1:
        raise ValueError(f"render: max_pairs must be a positive number of pairs, got {max_pairs!r}")
    max_pairs = int(max_pairs)
    H, W = camera.image_size
    dt, dev = points.dtype, points.device
    want_z = "depth" in channels or "normals" in channels

    xy, z = camera.project(points)  # (N, 2), (N,)

    # -- topology and pair bookkeeping (no gradients) ---------------------------------------------
    with torch.no_grad():
        tri = xy[faces]  # (F, 3, 2)
        ab, ac = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
        area2 = ab[:, 0] * ac[:, 1] - ab[:, 1] * ac[:, 0]
        scale = (ab.abs().amax(1) + ac.abs().amax(1)) ** 2
        visible = area2.abs() > 1e-10 * scale  # not seen edge-on
        if not camera.orthographic:
            visible &= (z[faces] > camera.znear).all(dim=1)  # fully in front of the camera
        fidx = visible.nonzero().flatten()  # (F',)
        c0, r0, nc, nr = _pixel_boxes(tri[fidx], H, W, math.sqrt(cutoff * sigma))

    # depth range of the drawn faces, for the z-buffer's normalised depth (differentiable: it is part
    # of the function, so the gradient must see it)
    if fidx.numel():
        zv = z[faces[fidx]]  # (F', 3)
        znear_n, zfar_n = zv.min(), zv.max()
    else:
        znear_n = zfar_n = z.new_zeros(())
    zrange = torch.maximum(zfar_n - znear_n, 1e-6 * (zfar_n.detach().abs() + 1.0))

    normals = face_normals(points, faces) if want_z else None  # (F, 3)
    chunks = _tile_chunks(fidx, c0, r0, nc, nr, H, W, max_pairs, dt)
    use_ckpt = torch.is_grad_enabled() and points.requires_grad and len(chunks) > 1
    # between the passes keep the pairs' index lists (16 B a pair) up to 256 MB, else rebuild them
    keep_pairs = sum(n for _, n, _ in chunks) * 16 <= _KEEP_PAIR_BYTES
    parts: list[tuple[torch.Tensor, ...]] = []  # per chunk of tiles: (log_miss, s, acc) over the chunk's pixels, tile-major
    xy_values = xy.detach()

    def touching(make):
        """The chunk's pairs that touch their face (the others add exact zeros), built on demand."""
        fids, pix, centers = make()
        if fids.numel():
            keep = _touching_pairs(xy_values, fids, pix, centers, faces, sigma, cutoff)
            fids, pix = fids[keep], pix[keep]
        return fids, pix, centers

    for n_pix, n_pairs, make in chunks:
        if n_pairs == 0:
            zero = torch.zeros(n_pix, dtype=dt, device=dev)
            parts.append((zero, zero, torch.zeros(n_pix, 4, dtype=dt, device=dev)) if want_z else (zero,))
            continue
        if use_ckpt:  # the chunk's pairs are rebuilt in the backward pass instead of kept
            opts = (sigma, gamma, camera.orthographic, cutoff, n_pix, want_z)
            res = _RecomputedChunk.apply(xy, z, normals, znear_n, zrange, faces, opts, lambda m=make: touching(m), keep_pairs)
        else:
            fids, pix, centers = touching(make)
            res = _chunk(
                xy,
                z,
                normals,
                fids,
                pix,
                centers,
                faces,
                sigma,
                gamma,
                znear_n,
                zrange,
                camera.orthographic,
                cutoff,
                n_pix,
                want_z,
            )
        # every pixel's pairs lie in one chunk: the softmax needs no merging across chunks, and the
        # per-pixel shift m cancels in acc / s
        parts.append((res[0], res[2], res[3]) if want_z else (res[0],))
    th, tw = -(-H // _TILE), -(-W // _TILE)

    def image(tile_major: torch.Tensor) -> torch.Tensor:
        """(n_tiles * T * T, ...) in tile order -> (H * W, ...) row-major."""
        rest = tile_major.shape[1:]
        t = tile_major.reshape(th, tw, _TILE, _TILE, *rest).transpose(1, 2).reshape(th * _TILE, tw * _TILE, *rest)
        return t[:H, :W].reshape(H * W, *rest)

    out_log_miss = image(torch.cat([q[0] for q in parts]))  # (P,)
    if want_z:
        s_run = image(torch.cat([q[1] for q in parts]))  # (P,)
        acc_run = image(torch.cat([q[2] for q in parts]))  # (P, 4)

    silhouette = 1 - torch.exp(out_log_miss)  # (P,)
    result = {}
    if "silhouette" in channels:
        result["silhouette"] = silhouette.reshape(H, W)
    if want_z:
        blend = acc_run / s_run.clamp_min(torch.finfo(dt).tiny).unsqueeze(1)  # (P, 4), 0 where no face
        blend = blend * silhouette.unsqueeze(1)
        if "depth" in channels:
            result["depth"] = blend[:, 0].reshape(H, W)
        if "normals" in channels:
            result["normals"] = blend[:, 1:].reshape(H, W, 3)
    return result
