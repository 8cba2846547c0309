"""Wing geometry: sections placed along a tapered, swept, dihedral, twisted planform.

The surface is a structured grid X[i, j] (u along the chord, v along the span) of the right half
wing (y >= 0; the left half is its mirror image)::

      i = 0 ........ n_chord ........ 2 n_chord        (u: lower TE -> LE -> upper TE)
    j = 0        root section at y = 0 (symmetry plane, left open)
    ...          n_span stations, sine-spaced (dense towards the tip)
    j = n_span   tip section
    ...          n_cap rounded cap stations: thickness x cos(phi), offset r sin(phi), phi -> pi/2
    j = last     camber line of the tip: upper and lower rows coincide, so the tip is closed

Chordwise stations are cosine-spaced, which clusters panels at both edges but makes the two
trailing-edge rows parametric singularities of the grid (x_u -> 0, det g -> 0): finite-difference
curvatures there, and at the tip's leading-edge point, are not meaningful (the metric is). With u increasing from the lower TE over the LE to the upper
TE and v from root to tip, x_u x x_v points out of the wing. Lengths in the units of the chord.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass

import torch

from geomsci.core.mesh import Mesh
from geomsci.wing.features import grid_to_mesh
from geomsci.wing.sections import cosine_stations, section


@dataclass(frozen=True)
class Wing:
    """A straight-tapered wing. Angles in degrees, lengths in any unit (span = full tip-to-tip span).

    section : "naca0012", "naca23012", ("cst", upper_weights, lower_weights) or the string
        ``"cst:u0;u1;...;l0;l1;..."`` that :meth:`to_dict` and ``conditions.csv`` write (upper weights first,
        then as many lower weights); checked at construction.
    sweep : leading-edge sweep; dihedral : of the whole half-wing; twist : tip incidence relative to
    the root (linear along the span, about the quarter chord, positive nose up).
    """

    section: object = "naca0012"
    span: float = 8.0
    root_chord: float = 1.0
    taper: float = 1.0
    sweep: float = 0.0
    dihedral: float = 0.0
    twist: float = 0.0

    def __post_init__(self):
        if isinstance(self.section, str) and self.section.lower().startswith("cst:"):
            object.__setattr__(self, "section", parse_cst_spec(self.section))
        try:  # a bad section fails here, not at the first wing_grid
            section(self.section, cosine_stations(4))
        except (ValueError, TypeError) as e:
            raise ValueError(f"Wing: bad section {self.section!r}: {e}") from None
        if not self.span > 0 or not self.root_chord > 0:
            raise ValueError(f"Wing: span and root_chord must be > 0, got span={self.span}, root_chord={self.root_chord}")
        if not 0 < self.taper <= 2:
            raise ValueError(f"Wing: taper must be in (0, 2], got {self.taper}")
        if not math.isfinite(self.twist):
            raise ValueError(f"Wing: twist must be a finite angle in degrees, got {self.twist}")
        for name in ("sweep", "dihedral"):
            if not -60 <= getattr(self, name) <= 60:
                raise ValueError(f"Wing: {name} must be within +-60 degrees, got {getattr(self, name)}")

    @property
    def area(self) -> float:
        """Planform (reference) area of the full wing: b c_r (1 + taper) / 2."""
        return self.span * self.root_chord * (1 + self.taper) / 2

    @property
    def aspect_ratio(self) -> float:
        return self.span**2 / self.area

    @property
    def mean_chord(self) -> float:
        return self.area / self.span

    def to_dict(self) -> dict:
        d = asdict(self)
        d["section"] = (
            self.section
            if isinstance(self.section, str)
            else "cst:" + ";".join(f"{float(w):.4f}" for w in list(self.section[1]) + list(self.section[2]))
        )
        return d


def parse_cst_spec(spec: str) -> tuple:
    """``"cst:u0;...;un;l0;...;ln"`` (as :meth:`Wing.to_dict` writes it) -> ``("cst", upper, lower)``.

    >>> parse_cst_spec("cst:0.2;0.1;-0.1;-0.05")
    ('cst', (0.2, 0.1), (-0.1, -0.05))
    """
    body = spec.split(":", 1)[1]
    try:
        weights = [float(w) for w in body.split(";") if w.strip()]
    except ValueError:
        raise ValueError(f"Wing: CST section {spec!r} must be 'cst:' followed by ';'-separated numbers") from None
    if not weights or len(weights) % 2:
        raise ValueError(
            f"Wing: CST section {spec!r} needs an even, non-zero number of weights (upper then lower), got {len(weights)}"
        )
    n = len(weights) // 2
    return ("cst", tuple(weights[:n]), tuple(weights[n:]))


def wing_grid(wing: Wing, n_chord: int = 20, n_span: int = 10, n_cap: int = 2, dtype=torch.float64, device=None) -> torch.Tensor:
    """Structured surface grid of the right half wing, (2 n_chord + 1, n_span + n_cap + 1, 3).

    n_chord panels per side along the chord (cosine spacing), n_span panels from root to tip (sine
    spacing), n_cap panels in the rounded tip cap (0 leaves the tip open).
    """
    for name, v in (("n_chord", n_chord), ("n_span", n_span), ("n_cap", n_cap)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise ValueError(f"wing_grid: {name} must be an integer number of panels, got {v!r}")
    if n_span < 1 or n_cap < 0:
        raise ValueError(f"wing_grid: need n_span >= 1 and n_cap >= 0, got n_span={n_span}, n_cap={n_cap}")
    x = cosine_stations(n_chord, dtype, device)  # (n_chord + 1,)
    up, lo = section(wing.section, x)  # (n_chord + 1, 2) each, LE first
    loop = torch.cat([lo.flip(0), up[1:]], 0)  # (2 n_chord + 1, 2): lower TE -> LE -> upper TE
    mid = torch.cat([((up + lo) / 2).flip(0), ((up + lo) / 2)[1:]], 0)  # camber point of each loop point
    half_b = wing.span / 2
    eta = torch.sin(math.pi / 2 * torch.arange(n_span + 1, dtype=dtype, device=device) / n_span)  # 0..1
    phi = math.pi / 2 * torch.arange(1, n_cap + 1, dtype=dtype, device=device) / max(n_cap, 1)
    eta_all = torch.cat([eta, torch.ones_like(phi)])  # (nv,)
    thick = torch.cat([torch.ones_like(eta), torch.cos(phi)])  # thickness scale, 0 at the tip line
    tip_c = wing.root_chord * wing.taper
    t_max = (up[:, 1] - lo[:, 1]).max()
    r_cap = 0.5 * t_max * tip_c  # cap radius: half the tip's thickness
    off = torch.cat([torch.zeros_like(eta), r_cap * torch.sin(phi)])  # extra spanwise offset in the cap
    chord = wing.root_chord * (1 - (1 - wing.taper) * eta_all)  # (nv,)
    twist = math.radians(wing.twist) * eta_all
    gam, lam = math.radians(wing.dihedral), math.radians(wing.sweep)
    s = eta_all * half_b  # spanwise distance along the (dihedral) quarter line, (nv,)
    # section in chord units, thinned towards the cap: (nu, nv, 2)
    sec = mid.unsqueeze(1) + thick[None, :, None] * (loop - mid).unsqueeze(1)
    # twist about the quarter chord (nose up positive): dx' = dx cos t + dz sin t, dz' = -dx sin t + dz cos t
    dx, dz = sec[..., 0] - 0.25, sec[..., 1]
    ct, st = torch.cos(twist), torch.sin(twist)
    xs, zs = 0.25 + dx * ct + dz * st, -dx * st + dz * ct
    x_le = s * math.tan(lam)  # (nv,) leading-edge x from the sweep
    X = x_le + chord * xs
    Y = (s + off) * math.cos(gam)
    Z = (s + off) * math.sin(gam) + chord * zs
    return torch.stack([X, Y.expand_as(X), Z], -1)  # (nu, nv, 3)


def wing_mesh(
    wing: Wing, n_chord: int = 20, n_span: int = 10, n_cap: int = 2, mirror: bool = False, dtype=torch.float64, device=None
) -> Mesh:
    """The wing surface as a triangle Mesh (point fields ``"ij"`` and ``"uv"`` keep the grid).

    ``mirror=False`` gives the right half wing (open at the root, as the panel solver uses it);
    ``mirror=True`` the closed full wing without grid fields, e.g. for saving or plotting.
    """
    X = wing_grid(wing, n_chord, n_span, n_cap, dtype, device)
    half = grid_to_mesh(X)
    if not mirror:
        return half
    return mirror_mesh(half)


def mirror_mesh(half: Mesh) -> Mesh:
    """Right half wing -> full wing: reflect y, flip the faces' winding, weld the root and tip seams.

    Point fields are mirrored too (those named like ``"normal"`` get their y component negated).
    """
    if half.cell_type != "triangle" or half.cells is None or half.dim != 3:
        raise ValueError(f"mirror_mesh: needs the 3-D triangle mesh of a half wing (wing_mesh or grid_to_mesh), got {half!r}")
    P = half.points
    refl = P * torch.tensor([1.0, -1.0, 1.0], dtype=P.dtype, device=P.device)
    pts = torch.cat([P, refl], 0)
    faces = torch.cat([half.cells, half.cells.flip(1) + P.shape[0]], 0)
    # weld coincident points (root seam, closed tip and trailing edge): map each point to its first copy
    with torch.no_grad():
        key = torch.round(pts.detach() * 1e9).to(torch.int64)
        _, inv = torch.unique(key, dim=0, return_inverse=True)
        first = torch.full((int(inv.max()) + 1,), pts.shape[0], dtype=torch.long, device=P.device)
        first.scatter_reduce_(0, inv, torch.arange(pts.shape[0], device=P.device), reduce="amin")
        keep = first.sort().values  # (N_unique,) the first copy of each point, in original order
        new_index = torch.searchsorted(keep, first[inv])  # (2N,) rank of each point's first copy
        faces = new_index[faces]
        ok = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
        faces = faces[ok]
    data = {}
    for k, v in half.point_data.items():
        if k in ("ij", "uv"):
            continue
        w = v.clone() if k != "normal" else v * torch.tensor([1.0, -1.0, 1.0], dtype=v.dtype, device=v.device)
        data[k] = torch.cat([v, w], 0)[keep]
    return Mesh(pts[keep], faces, "triangle", data)
