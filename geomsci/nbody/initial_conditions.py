"""Initial conditions as `geomsci.Mesh` point sets (positions; 'velocities' and 'masses' fields).

- `paper_triple(seed)`: the three-body systems of Saz Ulibarrena & Portegies Zwart (2025), in
  AU, yr, Msun (use G = 4 pi^2). Three 1-Msun bodies: body 0 at the origin moving (0, 10) km/s,
  body 1 at (U(5,20), U(0,10)) AU moving (-10, 0) km/s, body 2 at (U(0,-10), U(5,20)) AU at rest;
  then shifted to the centre-of-mass frame. The same seed gives the same system on every machine
  (numpy's PCG64 with the seed).
- `pythagorean()`: Burrau's problem, masses 3, 4, 5 at rest on the corners of a 3-4-5 triangle
  (N-body units, G = 1).
- `figure_eight()`: the Chenciner-Montgomery choreography (G = 1, m = 1, period 6.32591398).
- `plummer(n, seed)`: a Plummer sphere in Henon units (G = 1, M = 1, E = -1/4), drawn with the
  Aarseth-Henon-Lecar (1974) recipe.
- `kepler_orbit(e)`: a two-body orbit (G = 1, total mass 1, a = 1, period 2 pi) starting at pericentre.
All are 3-D (planar problems have z = 0) and float64 unless ``dtype`` says otherwise.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from geomsci.core.mesh import Mesh

from .units import KM_S_IN_AU_YR

FIGURE_EIGHT_PERIOD = 6.32591398


def to_mesh(x, v, m, dtype=torch.float64, device=None) -> Mesh:
    """Pack positions (N,3), velocities (N,3) and masses (N,) into a point-set `Mesh`."""
    x = torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=dtype, device=device)
    v = torch.as_tensor(np.asarray(v, dtype=np.float64), dtype=dtype, device=device)
    m = torch.as_tensor(np.asarray(m, dtype=np.float64), dtype=dtype, device=device)
    return Mesh(x, point_data={"velocities": v, "masses": m})


def _com_frame(x: np.ndarray, v: np.ndarray, m: np.ndarray):
    M = m.sum()
    return x - (m[:, None] * x).sum(0) / M, v - (m[:, None] * v).sum(0) / M


def paper_triple(seed: int, dtype=torch.float64, device=None) -> Mesh:
    """One of the paper's random three-body systems (AU, AU/yr, Msun). ``seed`` (int >= 0) picks it."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"paper_triple: seed must be a non-negative int, got {seed!r}")
    rng = np.random.default_rng(int(seed))
    lo = np.array([5.0, 0.0, -10.0, 5.0])
    hi = np.array([20.0, 10.0, 0.0, 20.0])
    k = rng.uniform(lo, hi)  # x1, y1, x2, y2 in AU
    x = np.array([[0.0, 0.0, 0.0], [k[0], k[1], 0.0], [k[2], k[3], 0.0]])
    v = np.array([[0.0, 10.0, 0.0], [-10.0, 0.0, 0.0], [0.0, 0.0, 0.0]]) * KM_S_IN_AU_YR
    m = np.ones(3)
    x, v = _com_frame(x, v, m)
    return to_mesh(x, v, m, dtype, device)


def pythagorean(dtype=torch.float64, device=None) -> Mesh:
    """Burrau's three-body problem (G = 1): masses 3, 4, 5 at (1,3), (-2,-1), (1,-1), at rest."""
    x = np.array([[1.0, 3.0, 0.0], [-2.0, -1.0, 0.0], [1.0, -1.0, 0.0]])
    m = np.array([3.0, 4.0, 5.0])
    x, v = _com_frame(x, np.zeros_like(x), m)
    return to_mesh(x, v, m, dtype, device)


def figure_eight(dtype=torch.float64, device=None) -> Mesh:
    """Chenciner & Montgomery (2000) figure-eight orbit of three unit masses (G = 1)."""
    x1 = np.array([0.97000436, -0.24308753, 0.0])
    v3 = np.array([-0.93240737, -0.86473146, 0.0])
    x = np.stack([x1, -x1, np.zeros(3)])
    v = np.stack([-v3 / 2, -v3 / 2, v3])
    return to_mesh(x, v, np.ones(3), dtype, device)


def kepler_orbit(e: float = 0.5, dtype=torch.float64, device=None) -> Mesh:
    """Two bodies (masses 0.5 each, G = 1, a = 1, period 2 pi) starting at pericentre."""
    if not 0 <= e < 1:
        raise ValueError(f"kepler_orbit: eccentricity e must be in [0, 1), got {e}")
    rp = 1.0 - e
    vp = math.sqrt((1 + e) / (1 - e))  # vis-viva with G M = 1, a = 1
    x = np.array([[-rp / 2, 0, 0], [rp / 2, 0, 0]])
    v = np.array([[0, -vp / 2, 0], [0, vp / 2, 0]])
    return to_mesh(x, v, np.array([0.5, 0.5]), dtype, device)


def plummer(n: int, seed: int, dtype=torch.float64, device=None) -> Mesh:
    """Plummer sphere of ``n`` equal masses in Henon units (G = 1, M = 1, virial radius 1)."""
    if n < 2:
        raise ValueError(f"plummer: n must be >= 2, got {n}")
    rng = np.random.default_rng(seed)
    m = np.full(n, 1.0 / n)
    # radius from the cumulative mass M(r) = r^3 (1 + r^2)^(-3/2) (Plummer scale a = 1)
    xm = rng.uniform(1e-6, 0.999, n)
    r = 1.0 / np.sqrt(xm ** (-2.0 / 3.0) - 1.0)
    pos = r[:, None] * _isotropic(rng, n)
    # speed by von Neumann rejection on g(q) = q^2 (1 - q^2)^(7/2), q = v / v_escape
    q = np.empty(n)
    for i in range(n):
        while True:
            x1, x2 = rng.uniform(0, 1), rng.uniform(0, 0.1)
            if x2 < x1 * x1 * (1 - x1 * x1) ** 3.5:
                q[i] = x1
                break
    vesc = np.sqrt(2.0) * (1.0 + r * r) ** -0.25
    vel = (q * vesc)[:, None] * _isotropic(rng, n)
    # to Henon units: length scale 3 pi / 16, velocity scale sqrt(16 / (3 pi))
    pos *= 3 * math.pi / 16
    vel *= math.sqrt(16 / (3 * math.pi))
    pos, vel = _com_frame(pos, vel, m)
    return to_mesh(pos, vel, m, dtype, device)


def _isotropic(rng, n):
    z = rng.uniform(-1, 1, n)
    phi = rng.uniform(0, 2 * math.pi, n)
    s = np.sqrt(1 - z * z)
    return np.stack([s * np.cos(phi), s * np.sin(phi), z], axis=1)


INITIAL_CONDITIONS = {"pythagorean": pythagorean, "figure_eight": figure_eight, "kepler": kepler_orbit}
