"""The 256-case marching-cubes tables of ``geomsci.core.isosurface``, derived from first principles with a
consistent face rule.

Numbering (Lorensen & Cline 1987, in Paul Bourke's "Polygonising a scalar field" layout)::

         7 ----6----- 6            corner k sits at CORNERS[k] (x, y, z in {0, 1});
        /|          /|             edge e joins EDGES[e] = (a, b);
       7 |         5 |             bit k of the case index is set when corner k is *inside*
      /  11       /  10            (value <= level).
     4 ----4----- 5  |
     |   |        |  |             EDGE_TABLE[case] has bit e set when edge e is crossed, so it
     8   3 ----2--9- 2             equals Bourke's ``edgeTable`` (e.g. EDGE_TABLE[1] == 0x109).
     |  /         | /
     | 3          | 1
     |/           |/
     0 ----0----- 1

Why derive instead of copy.  The classic triangle table resolves the ambiguous faces (two inside
corners on a diagonal) in a way that does not always agree between the two cubes sharing a face,
which leaves cracks.  Here every face is resolved by one rule that depends on that face's four
corner signs only: **inside corners on an ambiguous face are always separated** (the outside ones
are joined).  Both cubes sharing a face therefore draw the same segments on it, and the surface is
closed.  Per cube, the face segments chain into closed loops on the cube's boundary; each loop is
triangulated by a minimum-length triangulation that never uses a diagonal between two crossed edges
of the same cube face (such a diagonal could be drawn by the neighbouring cube too, giving an edge
with four triangles).  Loops are oriented counter-clockwise seen from outside (positive values),
so a field that is negative inside yields outward normals.

Tables (all built once at import, ~50 ms):

- ``EDGE_TABLE``: list[int] of 256 12-bit masks of crossed edges.
- ``TRI_TABLE``: list of 256 lists of triangles, each a tuple of 3 edge indices, oriented outward.
- ``MAX_TRIANGLES``: the longest list (padding size for the tensor form).
- ``LOOP_TABLE``: the same surfaces as closed loops of edge ids, with ``TRIANGULATIONS[n]`` /
  ``DIAGONALS[n]`` (all triangulations of an n-gon) and ``admissible(loop, tri)``, so that the
  triangulation of each loop can be chosen from the actual vertex positions at run time.
"""

from __future__ import annotations

import itertools

import numpy as np

CORNERS = [(0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0), (0, 0, 1), (1, 0, 1), (1, 1, 1), (0, 1, 1)]
EDGES = [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7)]
# Faces: corners in cyclic order and the outward normal of the face (out of the cube).
FACES = [
    ((0, 1, 2, 3), (0, 0, -1)),
    ((4, 5, 6, 7), (0, 0, 1)),
    ((0, 1, 5, 4), (0, -1, 0)),
    ((3, 2, 6, 7), (0, 1, 0)),
    ((0, 3, 7, 4), (-1, 0, 0)),
    ((1, 2, 6, 5), (1, 0, 0)),
]

_EDGE_ID = {frozenset(e): i for i, e in enumerate(EDGES)}
_C = np.asarray(CORNERS, dtype=float)
_MID = np.asarray([(_C[a] + _C[b]) / 2 for a, b in EDGES])  # (12, 3) edge midpoints


def _face_edges(face_corners):
    """Edge ids of a face, edge k joining cyclic corners k and k+1."""
    return [_EDGE_ID[frozenset((face_corners[k], face_corners[(k + 1) % 4]))] for k in range(4)]


_DIST = np.linalg.norm(_MID[:, None] - _MID[None], axis=-1).tolist()  # (12, 12) midpoint distances
_FACE_EDGES = [_face_edges(fc) for fc, _ in FACES]
# two edges "share a face" when some cube face contains both
_same_face_array = np.zeros((12, 12), dtype=bool)
for _fe in _FACE_EDGES:
    for _a, _b in itertools.permutations(_fe, 2):
        _same_face_array[_a, _b] = True
_SAME_FACE = _same_face_array.tolist()


def _face_segments(case: int, face_index: int):
    """Segments (edge_p, edge_q) that the surface draws on one face, oriented so that the loop
    runs counter-clockwise seen from the outside (positive) side of the surface."""
    corners, normal = FACES[face_index]
    inside = [(case >> c) & 1 for c in corners]
    fe = _FACE_EDGES[face_index]
    crossed = [k for k in range(4) if inside[k] != inside[(k + 1) % 4]]
    if len(crossed) == 0:
        return []
    if len(crossed) == 2:
        pairs = [(fe[crossed[0]], fe[crossed[1]])]
    else:  # ambiguous face: cut off each inside corner k (between face edges k-1 and k)
        pairs = [(fe[(k - 1) % 4], fe[k]) for k in range(4) if inside[k]]
    nx, ny, nz = normal
    out = []
    for ep, eq in pairs:
        p, q = _MID[ep], _MID[eq]
        shared = set(EDGES[ep]) & set(EDGES[eq])
        ref = shared.pop() if shared else EDGES[ep][0]
        s = -1.0 if (case >> ref) & 1 else 1.0  # +1 for an outside (positive) reference corner
        # a loop running CCW around the outward surface normal has the positive side on the
        # right of its direction d within the face: s * (c - p) . (n x d) > 0
        dx, dy, dz = q - p
        cx, cy, cz = _C[ref] - p
        # (n x d), dotted with (c - p)
        side = cx * (ny * dz - nz * dy) + cy * (nz * dx - nx * dz) + cz * (nx * dy - ny * dx)
        if s * side > 0:
            out.append((ep, eq))
        else:
            out.append((eq, ep))
    return out


def _loops(case: int):
    """Closed, oriented loops of crossed edges on the cube boundary."""
    nxt = {}
    for f in range(6):
        for ep, eq in _face_segments(case, f):
            if ep in nxt:  # every crossed edge leaves on exactly one face
                raise AssertionError(f"inconsistent orientation in case {case}")
            nxt[ep] = eq
    loops, seen = [], set()
    for start in sorted(nxt):
        if start in seen:
            continue
        loop, e = [], start
        while e not in seen:
            seen.add(e)
            loop.append(e)
            e = nxt[e]
        if e != start:
            raise AssertionError(f"open loop in case {case}")
        loops.append(loop)
    return loops


def _triangulate(loop):
    """Minimum-total-diagonal-length triangulation of a loop of edge ids that avoids diagonals
    between edges of one cube face; triangles keep the loop's orientation."""
    n = len(loop)
    if n == 3:
        return [tuple(loop)]
    inf = float("inf")

    def diag_cost(i, j):
        if (j - i) % n in (1, n - 1):
            return 0.0  # a side of the polygon, not a diagonal
        if _SAME_FACE[loop[i]][loop[j]]:
            return inf
        return _DIST[loop[i]][loop[j]]

    cost = [[0.0] * n for _ in range(n)]
    split = [[-1] * n for _ in range(n)]
    for gap in range(2, n):
        for i in range(n - gap):
            j = i + gap
            best, arg = inf, -1
            for k in range(i + 1, j):
                c = cost[i][k] + cost[k][j] + diag_cost(i, k) + diag_cost(k, j)
                if c < best:
                    best, arg = c, k
            cost[i][j], split[i][j] = best, arg
    if cost[0][n - 1] == inf:
        raise AssertionError(f"no admissible triangulation of loop {loop}")
    tris = []

    def emit(i, j):
        if j - i < 2:
            return
        k = split[i][j]
        tris.append((loop[i], loop[k], loop[j]))
        emit(i, k)
        emit(k, j)

    emit(0, n - 1)
    return tris


def _all_triangulations(n: int) -> list[list[tuple[int, int, int]]]:
    """Every triangulation of a convex n-gon with vertices 0..n-1, triangles in increasing index
    order (so they keep the polygon's orientation).  Catalan(n - 2) of them."""

    def rec(i, j):
        if j - i < 2:
            return [[]]
        out = []
        for k in range(i + 1, j):
            for left in rec(i, k):
                for right in rec(k, j):
                    out.append([(i, k, j)] + left + right)
        return out

    return rec(0, n - 1)


def _diagonals(tri: list[tuple[int, int, int]], n: int) -> list[tuple[int, int]]:
    """Interior diagonals (i, j) of a triangulation of an n-gon."""
    out = set()
    for t in tri:
        for a, b in ((t[0], t[1]), (t[1], t[2]), (t[0], t[2])):
            if (b - a) % n not in (1, n - 1):
                out.add((a, b))
    return sorted(out)


def admissible(loop, tri) -> bool:
    """A triangulation of ``loop`` is admissible when no diagonal joins two edges of one cube face."""
    n = len(loop)
    return not any(_SAME_FACE[loop[a]][loop[b]] for a, b in _diagonals(tri, n))


def _build():
    edge_table, tri_table = [], []
    for case in range(256):
        mask = 0
        for e, (a, b) in enumerate(EDGES):
            if ((case >> a) & 1) != ((case >> b) & 1):
                mask |= 1 << e
        edge_table.append(mask)
        tris = []
        for loop in _loops(case):
            tris.extend(_triangulate(loop))
        tri_table.append(tris)
    return edge_table, tri_table


EDGE_TABLE, TRI_TABLE = _build()
MAX_TRIANGLES = max(len(t) for t in TRI_TABLE)
# Loop form, for choosing the triangulation of each loop from the actual vertex positions
# (marching_cubes picks, among the admissible triangulations, the one with the shortest
# diagonals -- the classic tables break the many ties of the unit cube arbitrarily):
LOOP_TABLE = [_loops(case) for case in range(256)]  # per case, oriented loops of edge ids
MAX_LOOPS = max(len(ls) for ls in LOOP_TABLE)  # 4
MAX_LOOP_SIZE = max(len(l) for ls in LOOP_TABLE for l in ls)  # 7
TRIANGULATIONS = {n: _all_triangulations(n) for n in range(3, MAX_LOOP_SIZE + 1)}
DIAGONALS = {n: [_diagonals(t, n) for t in TRIANGULATIONS[n]] for n in TRIANGULATIONS}
