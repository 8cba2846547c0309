"""Units: astronomical (AU, yr, Msun with G = 4 pi^2) and N-body (G = 1) conventions.

The integrators work in whatever units the caller picks; ``G`` is an argument everywhere.
The paper's three-body systems live in AU / yr / Msun, where Kepler's third law reads
P[yr]^2 = a[AU]^3 / M[Msun], i.e. G = 4 pi^2 AU^3 Msun^-1 yr^-2.

N-body units used for the reinforcement-learning observation follow the paper's converter:
mass unit = total mass, length unit = 1 AU, G = 1, so the velocity unit is sqrt(G M / L).
"""

from __future__ import annotations

import math

G_AU = 4.0 * math.pi**2  # AU^3 Msun^-1 yr^-2
KM_S_IN_AU_YR = 365.25 * 86400.0 / 1.495978707e8  # 1 km/s = 0.2109 AU/yr


def nbody_velocity_unit(total_mass: float, length_unit: float = 1.0, G: float = G_AU) -> float:
    """Velocity unit sqrt(G M / L) of N-body units (in the caller's velocity units)."""
    return math.sqrt(G * total_mass / length_unit)
