"""Read a scalar volume (X, Y, Z) for marching cubes: a thin wrapper over `geomsci.core.io`'s grid reader.

Kept for the deepmesh CLI and for users who imported it; new code should use
``geomsci.core.io.load_grid`` (which returns a `Grid` and also reads vector grids (X, Y, Z, C)).
"""

from __future__ import annotations

import numpy as np

from geomsci.core.io import _read_grid_arrays


def read_volume(path, key: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values (X, Y, Z), origin (3,) and spacing (3,) of a volume file (numpy arrays).

    - ``.npy``: the array; origin 0, spacing 1.
    - ``.npz``: the array named ``key``, or the only array in the file; ``origin`` / ``spacing``
      arrays in the file are used when present. A vector grid (X, Y, Z, C) with ``channels`` names
      (as `save_grid` and ``geomsci pig solve`` write) gives the channel named ``key``.
    - anything meshio reads (.vtu, .vtk, .xdmf, ...): the point field ``key`` (or the only one)
      on points that must form a complete regular lattice.

    Raises
    ------
    FileNotFoundError, ValueError (not 3-D, not a lattice, ambiguous or missing field)
    """
    from pathlib import Path

    values, origin, spacing, _ = _read_grid_arrays(Path(path), key, allow_channels=False)
    return values, origin, spacing
