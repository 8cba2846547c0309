"""Losses between point sets and on meshes: nearest neighbours, Chamfer, F-score, and the usual mesh
regularizers (normal consistency, Laplacian smoothing, edge length).

Nearest neighbours are exact and never build a dense (N, M) matrix beyond ``max_memory`` bytes. In
1-3 dimensions they use a uniform hash grid built with sorting (pure torch, so the same code runs on
CPU and CUDA)::

    bin y into cells of side h            query x: look at the 2^D cells nearest to it (its own
    +---+---+---+                         and, per axis, the neighbour on its side) and keep the
    | . |  .|   |                         closest candidate y*. It is exact when |x - y*| is at
    +---+---+---+     h: ~3 points per    most the distance from x to the part of y's bounding
    |  .| x.|.  |     occupied cell, and  box outside that block; the queries that fail are
    +---+---+---+     ~2x the typical     retried on a grid twice as coarse, and at last by
                      nearest distance    chunked brute force.

The search runs without gradients; the returned squared distances are recomputed from the chosen
pairs, so they are differentiable in both point sets.
"""
from __future__ import annotations

import itertools
import math

import torch

from .geometry import _check, _edge_keys, _half_edges, cotangent_weights, edges, face_normals

__all__ = [
    "nearest_neighbors",
    "chamfer_distance",
    "f_score",
    "normal_consistency",
    "laplacian_smoothing",
    "edge_length_loss",
]


# ------------------------------------------------------------------------------------------------
# nearest neighbours
# ------------------------------------------------------------------------------------------------
def _check_cloud(x, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise ValueError(f"{name} must be a float tensor of shape (N, D), got {type(x).__name__}"
                         f"{' of dtype ' + str(x.dtype) if isinstance(x, torch.Tensor) else ''}")
    if x.dim() != 2:
        raise ValueError(f"{name} must have shape (N, D), got {tuple(x.shape)}")
    return x


def _nn_brute(x: torch.Tensor, y: torch.Tensor, max_memory: int) -> torch.Tensor:
    """argmin_j |x_i - y_j|^2 by chunks of rows of the (N, M) distance matrix."""
    n, m = x.shape[0], y.shape[0]
    c = y.mean(0)
    x, y = x - c, y - c  # centre: less cancellation in |x|^2 - 2 x.y + |y|^2
    yy = (y * y).sum(-1)  # (M,)
    rows = max(1, int(max_memory) // (3 * m * x.element_size()))
    out = torch.empty(n, dtype=torch.long, device=x.device)
    for s in range(0, n, rows):
        d = torch.addmm(yy, x[s:s + rows], y.T, alpha=-2.0)  # (rows, M), |x|^2 dropped
        out[s:s + rows] = d.argmin(dim=1)
    return out


class _HashGrid:
    """Points ``y`` (M, D) sorted into the cells of a uniform grid of side ``h``.

    Cell coordinates are shifted by one so that an empty layer of cells surrounds the points: the
    neighbours of any (clamped) query cell are then valid cells and need no bounds check.
    """

    def __init__(self, y: torch.Tensor, lo: torch.Tensor, h: float, max_memory: int):
        d = y.shape[1]
        self.lo, self.h, self.d = lo, h, d
        self.hi = y.max(0).values  # (D,) bounding box of y
        cap = 2 ** (60 // d) - 2
        self.res = torch.clamp(((self.hi - lo) / h).floor().long() + 1, 1, cap)  # (D,) occupied range
        padded = self.res + 2
        strides = [1] * d
        for k in range(d - 2, -1, -1):
            strides[k] = strides[k + 1] * int(padded[k + 1])
        self.strides = torch.tensor(strides, device=y.device)  # (D,)
        self.n_cells = strides[0] * int(padded[0])
        key = self.keys(self.cell_of(y))  # (M,)
        key, self.order = torch.sort(key, stable=True)
        self.ys = y[self.order]  # (M, D) sorted by cell
        self.ys_t = self.ys.T.contiguous()  # (D, M)
        self.ukeys, self.ucounts = torch.unique_consecutive(key, return_counts=True)  # (U,)
        self.ustarts = torch.cumsum(self.ucounts, 0) - self.ucounts
        self.dense = self.n_cells * 16 <= max(max_memory // 2, 64 * y.shape[0])
        if self.dense:  # O(1) look-up tables over all cells
            self.cstart = torch.zeros(self.n_cells, dtype=torch.long, device=y.device)
            self.ccount = torch.zeros(self.n_cells, dtype=torch.long, device=y.device)
            self.cstart[self.ukeys] = self.ustarts
            self.ccount[self.ukeys] = self.ucounts

    def cell_of(self, p: torch.Tensor) -> torch.Tensor:
        """Padded cell coordinates (P, D), clamped to the occupied range 1..res."""
        c = ((p - self.lo) / self.h).floor()
        return torch.minimum(c.clamp_min(0), (self.res - 1).to(c.dtype)).long() + 1

    def keys(self, cells: torch.Tensor) -> torch.Tensor:
        return (cells * self.strides).sum(-1)

    def lookup(self, keys: torch.Tensor):
        """(start, count) in the sorted points of each cell key (count 0 for empty cells)."""
        if self.dense:
            return self.cstart[keys], self.ccount[keys]
        u = self.ukeys.numel()
        pos = torch.searchsorted(self.ukeys, keys).clamp_max(u - 1)
        hit = self.ukeys[pos] == keys
        return self.ustarts[pos], torch.where(hit, self.ucounts[pos], torch.zeros_like(pos))

    def search(self, x: torch.Tensor, max_memory: int):
        """Best candidate in the 2^D block of cells nearest each query, and whether it is provably
        the nearest point of y.

        The block is the query's cell and, along each axis, the neighbour on the side of the
        query's half of the cell. Returns dist2 (P,), index into y (P,), exact (P,) bool.
        """
        p, d = x.shape
        dev = x.device
        offsets = torch.tensor(list(itertools.product((0, 1), repeat=d)), device=dev)  # (K, D)
        okeys = (offsets * self.strides).sum(-1)  # (K,)
        k = offsets.shape[0]
        m_pts = self.ys.shape[0]
        best_d = torch.full((p,), math.inf, dtype=x.dtype, device=dev)
        best_i = torch.zeros(p, dtype=torch.long, device=dev)
        exact = torch.zeros(p, dtype=torch.bool, device=dev)
        block = max(1, int(max_memory) // (k * 64))
        pair_budget = max(1, int(max_memory) // (64 + 2 * d * x.element_size()))
        # distance of each query to the bounding box of y, per axis
        for s in range(0, p, block):
            xb = x[s:s + block]  # (b, D)
            xb_t = xb.T.contiguous()  # (D, b): coordinate columns gather faster
            u = (xb - self.lo) / self.h  # (b, D) position in cell units
            cq = torch.minimum(u.floor().clamp_min(0), (self.res - 1).to(u.dtype))  # unpadded cell
            bl = (cq + torch.where(u - cq >= 0.5, 0.0, -1.0)).long() + 1  # padded lower block cell
            start, cnt = self.lookup(self.keys(bl).unsqueeze(1) + okeys)  # (b, K)
            tot = torch.cumsum(cnt.sum(1), 0)  # (b,) cumulative candidates
            i0 = 0
            while i0 < xb.shape[0]:
                base = int(tot[i0 - 1]) if i0 > 0 else 0
                i1 = int(torch.searchsorted(tot, torch.tensor(base + pair_budget, device=dev), right=True))
                i1 = max(i1, i0 + 1)
                n_pairs = int(tot[i1 - 1]) - base
                if n_pairs > 0:
                    c = cnt[i0:i1].reshape(-1)  # (q*K,)
                    first = torch.cumsum(c, 0) - c
                    j = torch.arange(n_pairs, device=dev) + torch.repeat_interleave(
                        start[i0:i1].reshape(-1) - first, c, output_size=n_pairs)  # (T,) sorted y
                    q = torch.repeat_interleave(torch.arange(i1 - i0, device=dev), c.view(-1, k).sum(1),
                                                output_size=n_pairs)  # (T,) query
                    xc = xb_t[:, i0:i1]  # (D, q)
                    dd = None  # (T,) squared distances, one coordinate column at a time
                    for a in range(d):
                        t = xc[a].index_select(0, q).sub_(self.ys_t[a].index_select(0, j))
                        t.mul_(t)
                        dd = t if dd is None else dd.add_(t)
                    m, arg = _segment_argmin(dd, j, q, i1 - i0, m_pts)
                    best_d[s + i0:s + i1] = m
                    best_i[s + i0:s + i1] = self.order[arg.clamp_max(m_pts - 1)]
                i0 = i1
            # Exactness. A y outside the block lies in the bounding box of y beyond one of the
            # block's faces: its distance to x is at least sqrt(gap_a^2 + sum_{b != a} out_b^2),
            # gap_a = distance from x to that face's plane, out_b = distance to the box along b.
            # Faces at the edge of the occupied range have nothing beyond them.
            edge_lo = self.lo + (bl - 1).to(x.dtype) * self.h  # (b, D) lower block face
            edge_hi = edge_lo + 2 * self.h
            out = torch.clamp_min(torch.maximum(self.lo - xb, xb - self.hi), 0)  # (b, D)
            rest = (out * out).sum(1, keepdim=True) - out * out  # (b, D)
            inf = torch.full_like(xb, math.inf)
            g_lo = torch.where(bl <= 1, inf, (xb - edge_lo).clamp_min(0) ** 2 + rest)
            g_hi = torch.where(bl + 1 >= self.res, inf, (edge_hi - xb).clamp_min(0) ** 2 + rest)
            bound2 = torch.minimum(g_lo.min(1).values, g_hi.min(1).values)  # (b,)
            bd = best_d[s:s + block]
            exact[s:s + block] = torch.isfinite(bd) & (bd <= bound2 * (1 - 1e-5))
        return best_d, best_i, exact


def _segment_argmin(dd: torch.Tensor, j: torch.Tensor, q: torch.Tensor, n_q: int, sentinel: int):
    """Per query q, the smallest dd and (among ties) the smallest j. Returns (min (n_q,), j (n_q,)).

    float32 distances are >= 0, so their bit patterns order like the values: one scatter of the
    packed key ``bits << 32 | j`` does both. Other dtypes take two scatters.
    """
    dev = dd.device
    if dd.dtype == torch.float32 and sentinel < 2**31:
        key = (dd.view(torch.int32).long() << 32) | j  # (T,)
        best = torch.full((n_q,), torch.iinfo(torch.int64).max, dtype=torch.long, device=dev)
        best = best.scatter_reduce(0, q, key, "amin")
        empty = best == torch.iinfo(torch.int64).max
        m = (best >> 32).to(torch.int32).view(torch.float32)
        m = torch.where(empty, torch.full_like(m, math.inf), m)
        arg = torch.where(empty, sentinel, best & 0xFFFFFFFF)
        return m, arg
    m = torch.full((n_q,), math.inf, dtype=dd.dtype, device=dev).scatter_reduce(0, q, dd, "amin")
    cand = torch.where(dd == m.index_select(0, q), j, sentinel)
    arg = torch.full((n_q,), sentinel, dtype=torch.long, device=dev).scatter_reduce(0, q, cand, "amin")
    return m, arg


def _grid_cell_size(y: torch.Tensor, lo: torch.Tensor, max_memory: int, target: float = 3.0) -> float:
    """Cell side giving about ``target`` points per occupied cell (adapts to surfaces or volumes)."""
    m, d = y.shape
    ext = (y.max(0).values - lo).double()
    big = float(ext.max())
    if big == 0.0:
        return 1.0
    vol = float(ext.clamp_min(big * 1e-3).prod())
    h = (vol * target / m) ** (1.0 / d)
    for _ in range(6):
        occ = _occupancy(y, lo, h)
        if target / 1.6 <= occ <= target * 1.6:
            break
        h *= (target / occ) ** 0.5  # exponent 1/2: exact for points on a surface in 3-D
    return h


def _occupancy(y: torch.Tensor, lo: torch.Tensor, h: float) -> float:
    c = ((y - lo) / h).floor().long()  # (M, D)
    c = c - c.min(0).values
    r = c.max(0).values + 1
    key = c[:, 0].clone()
    for k in range(1, c.shape[1]):
        key = key * int(r[k]) + c[:, k]
        if int(r[: k + 1].prod()) > 2**62:  # too fine to key exactly: treat as one point per cell
            return 1e-3
    return y.shape[0] / torch.unique(key).numel()


@torch.no_grad()
def _nn_index(x: torch.Tensor, y: torch.Tensor, max_memory: int) -> torch.Tensor:
    n, m = x.shape[0], y.shape[0]
    d = x.shape[1]
    if d > 3 or m <= 64 or n * m * x.element_size() <= min(max_memory, 2**20):
        return _nn_brute(x, y, max_memory)
    lo = y.min(0).values
    h = _grid_cell_size(y, lo, max_memory)
    # A query passes when its nearest distance is below ~h/2 (its distance to the 2^D block's
    # border). Clouds that lie apart (a shell around a shell) need larger cells: estimate the
    # nearest distances on an evenly strided sample of x by brute force.
    # Queries outside y's bounding box need no such help: the bound there also counts their
    # distance to the box, which a far query's candidate shares.
    sample = x[:: max(1, n // 128)]  # (<= 256, D)
    sample = sample[((sample >= lo) & (sample <= y.max(0).values)).all(1)]
    if sample.shape[0]:
        d_sample = ((sample - y[_nn_brute(sample, y, max_memory)]) ** 2).sum(-1).sqrt()
        h = max(h, 2.2 * float(torch.quantile(d_sample.double(), 0.75)))
    idx = torch.empty(n, dtype=torch.long, device=x.device)
    todo = torch.arange(n, device=x.device)
    while todo.numel():
        grid = _HashGrid(y, lo, h, max_memory)
        if grid.ukeys.numel() < 4 * 3**d:  # so coarse that a block holds ~everything
            break
        _, bi, ok = grid.search(x[todo], max_memory)
        idx[todo[ok]] = bi[ok]
        todo = todo[~ok]
        h *= 2.0
    if todo.numel():
        idx[todo] = _nn_brute(x[todo], y, max_memory)
    return idx


def nearest_neighbors(x: torch.Tensor, y: torch.Tensor, *, max_memory: int = 2**28):
    """Exact nearest neighbour in ``y`` of every point of ``x``.

    Parameters
    ----------
    x : (N, D) float tensor, the queries
    y : (M, D) float tensor, the reference points (same dtype and device)
    max_memory : int, bytes; the search works in chunks whose temporaries stay about this size.
        The result does not depend on it.

    Returns
    -------
    dist2 : (N,) squared Euclidean distance ``|x_i - y_idx_i|^2``, differentiable in x and y
    idx : (N,) long, index into y (the smallest index among exact ties)
    """
    x, y = _check_cloud(x, "x"), _check_cloud(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension D, got x {tuple(x.shape)} and y {tuple(y.shape)}")
    if x.device != y.device or x.dtype != y.dtype:
        raise ValueError(f"x and y must share dtype and device, got {x.dtype}/{x.device} and {y.dtype}/{y.device}")
    if y.shape[0] == 0:
        raise ValueError("y is empty: there is no nearest neighbour to find")
    if int(max_memory) < 1:
        raise ValueError(f"max_memory must be a positive number of bytes, got {max_memory}")
    if x.shape[0] == 0:
        return x.new_zeros(0), torch.zeros(0, dtype=torch.long, device=x.device)
    if not bool(torch.isfinite(x).all() & torch.isfinite(y).all()):  # one host sync for both sets
        for name, c in (("x", x), ("y", y)):  # a NaN/inf point has no nearest neighbour (and breaks the hash grid)
            bad = (~torch.isfinite(c)).any(1).nonzero().flatten()[:5].tolist()
            if bad:
                raise ValueError(f"{name} contains NaN or inf points (first bad rows: {bad}); "
                                 "nearest neighbours need finite points")
    idx = _nn_index(x.detach(), y.detach(), int(max_memory))  # (N,)
    dist2 = ((x - y[idx]) ** 2).sum(-1)  # (N,)
    return dist2, idx


# ------------------------------------------------------------------------------------------------
# point-set losses
# ------------------------------------------------------------------------------------------------
def _safe_sqrt(d2: torch.Tensor) -> torch.Tensor:
    # sqrt with a zero (not NaN) gradient at 0
    pos = d2 > 0
    return torch.where(pos, d2.clamp_min(torch.finfo(d2.dtype).tiny).sqrt(), torch.zeros_like(d2))


def chamfer_distance(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    squared: bool = True,
    two_sided: bool = True,
    x_normals: torch.Tensor | None = None,
    y_normals: torch.Tensor | None = None,
    max_memory: int = 2**28,
):
    """Chamfer distance between point sets x (N, D) and y (M, D).

    ``CD = mean_i d(x_i, y) + mean_j d(y_j, x)`` where d is the squared (``squared=True``) or plain
    Euclidean distance to the nearest point; ``two_sided=False`` keeps only the x -> y term.

    With ``x_normals`` (N, D) and ``y_normals`` (M, D) also returns the normal term
    ``mean_i (1 - |cos(n_i, n_nn(i))|)`` over the same directions (orientation-free, as in
    pytorch3d), else ``None``.

    Returns
    -------
    distance : 0-d tensor; normal_loss : 0-d tensor or None
    """
    if (x_normals is None) != (y_normals is None):
        raise ValueError("pass both x_normals and y_normals, or neither")
    for name, c in (("x", x), ("y", y)):
        if isinstance(c, torch.Tensor) and c.dim() == 2 and c.shape[0] == 0:
            raise ValueError(f"{name} is empty: the Chamfer distance needs at least one point in each set")
    d_xy, i_xy = nearest_neighbors(x, y, max_memory=max_memory)  # (N,)
    if not squared:
        d_xy = _safe_sqrt(d_xy)
    dist = d_xy.mean()
    if two_sided:
        d_yx, i_yx = nearest_neighbors(y, x, max_memory=max_memory)  # (M,)
        if not squared:
            d_yx = _safe_sqrt(d_yx)
        dist = dist + d_yx.mean()
    if x_normals is None:
        return dist, None
    for name, nrm, pts in (("x_normals", x_normals, x), ("y_normals", y_normals, y)):
        if nrm.shape != pts.shape:
            raise ValueError(f"{name} must have the shape of its points {tuple(pts.shape)}, got {tuple(nrm.shape)}")
    cos = torch.nn.functional.cosine_similarity(x_normals, y_normals[i_xy], dim=-1, eps=1e-12)
    nl = (1 - cos.abs()).mean()
    if two_sided:
        cos = torch.nn.functional.cosine_similarity(y_normals, x_normals[i_yx], dim=-1, eps=1e-12)
        nl = nl + (1 - cos.abs()).mean()
    return dist, nl


def f_score(x: torch.Tensor, y: torch.Tensor, threshold: float, *, max_memory: int = 2**28):
    """F-score at a distance threshold (Tatarchenko et al. 2019), x = prediction, y = ground truth.

    ``precision`` = fraction of x within ``threshold`` (Euclidean, strict <) of y,
    ``recall`` = fraction of y within ``threshold`` of x, ``f = 2 P R / (P + R)`` (0 when both are 0).

    Returns
    -------
    (f, precision, recall) as 0-d tensors (no gradient).
    """
    if not (float(threshold) > 0):
        raise ValueError(f"threshold must be a positive distance, got {threshold}")
    with torch.no_grad():
        d_xy, _ = nearest_neighbors(x, y, max_memory=max_memory)
        d_yx, _ = nearest_neighbors(y, x, max_memory=max_memory)
        t2 = float(threshold) ** 2
        p = (d_xy < t2).to(x.dtype).mean()
        r = (d_yx < t2).to(x.dtype).mean()
        f = torch.where(p + r > 0, 2 * p * r / (p + r).clamp_min(torch.finfo(x.dtype).tiny), torch.zeros_like(p))
    return f, p, r


# ------------------------------------------------------------------------------------------------
# mesh regularizers
# ------------------------------------------------------------------------------------------------
def normal_consistency(points: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Mean ``1 - cos(n_a, n_b)`` over all pairs of faces (a, b) that share an edge; a 0-d tensor.

    ::

          v2 ---- v3        n_a = normal of (v0, v1, v2), n_b = normal of (v1, v3, v2)
          | \\  b |         0 for a flat patch, 2 for a folded-over one.
          |  \\   |
          | a \\  |         Assumes consistently oriented faces. An edge shared by k > 2 faces
          v0 ---- v1        contributes all k (k - 1) / 2 pairs. 0 if no edge is shared.
    """
    points, faces = _check(points, faces)
    n = face_normals(points, faces)  # (F, 3)
    with torch.no_grad():
        keys = _edge_keys(_half_edges(faces), points.shape[0])  # (3F,)
        sk, order = torch.sort(keys, stable=True)
        _, counts = torch.unique_consecutive(sk, return_counts=True)
        starts = torch.cumsum(counts, 0) - counts  # group start in sorted order
        grp = torch.repeat_interleave(torch.arange(counts.numel(), device=faces.device), counts)
        pos = torch.arange(sk.numel(), device=faces.device)
        after = starts[grp] + counts[grp] - pos - 1  # later members of the same group
        a = torch.repeat_interleave(pos, after)  # (pairs,)
        b = a + 1 + (torch.arange(a.numel(), device=faces.device)
                     - torch.repeat_interleave(torch.cumsum(after, 0) - after, after))
        fa, fb = order[a] // 3, order[b] // 3
    if fa.numel() == 0:
        return points.new_zeros(())
    return (1 - (n[fa] * n[fb]).sum(-1)).mean()


def laplacian_smoothing(points: torch.Tensor, faces: torch.Tensor, method: str = "uniform") -> torch.Tensor:
    """Mean over vertices of ``|delta_i|``, the offset of each vertex from a weighted average of its
    neighbours, a 0-d tensor (as pytorch3d's ``mesh_laplacian_smoothing``).

    ``method="uniform"``: ``delta_i = mean_{j ~ i} x_j - x_i``.
    ``method="cot"``: ``delta_i = sum_j w_ij x_j / sum_j w_ij - x_i`` with cotangent weights
    ``w_ij`` computed without gradient (differentiating through the weights is unstable).
    Vertices with no neighbours (or a vanishing weight sum) contribute 0.
    """
    points, faces = _check(points, faces, dims=(2, 3))
    if method not in ("uniform", "cot"):
        raise ValueError(f"method must be 'uniform' or 'cot', got {method!r}")
    nv = points.shape[0]
    if method == "uniform":
        with torch.no_grad():
            e = edges(faces)  # (E, 2)
            i = torch.cat([e[:, 0], e[:, 1]])
            j = torch.cat([e[:, 1], e[:, 0]])
            w = torch.ones(i.numel(), dtype=points.dtype, device=points.device)
    else:
        with torch.no_grad():
            wf = cotangent_weights(points.detach(), faces)  # (F, 3) weight of edge opposite corner
            a, b = faces.roll(-1, dims=1).reshape(-1), faces.roll(-2, dims=1).reshape(-1)
            i, j = torch.cat([a, b]), torch.cat([b, a])
            w = torch.cat([wf.reshape(-1), wf.reshape(-1)])
    wsum = torch.zeros(nv, dtype=points.dtype, device=points.device).index_add(0, i, w)  # (N,)
    avg = torch.zeros_like(points).index_add(0, i, w.unsqueeze(1) * points[j])  # (N, D)
    ok = wsum.abs() > 1e-12
    delta = torch.where(ok.unsqueeze(1), avg / torch.where(ok, wsum, 1.0).unsqueeze(1) - points, 0.0)
    return torch.linalg.vector_norm(delta, dim=-1).mean()


def edge_length_loss(points: torch.Tensor, faces: torch.Tensor, target: float = 0.0) -> torch.Tensor:
    """Mean over unique edges of ``(|x_i - x_j| - target)^2``, a 0-d tensor (pytorch3d's
    ``mesh_edge_loss``)."""
    points, faces = _check(points, faces, dims=(2, 3))
    e = edges(faces)  # (E, 2)
    if e.numel() == 0:
        return points.new_zeros(())
    d = points[e[:, 0]] - points[e[:, 1]]  # (E, D)
    length = _safe_sqrt((d * d).sum(-1)) if target != 0.0 else None
    if length is None:
        return (d * d).sum(-1).mean()
    return ((length - float(target)) ** 2).mean()
