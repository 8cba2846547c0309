"""Boundary polygons of the mmgp tests' exact-solution meshes."""

import numpy as np


def rectangle_boundary(width: float, height: float, n_x: int, n_y: int) -> np.ndarray:
    """(2 n_x + 2 n_y, 2) counter-clockwise boundary of [0, width] x [0, height], n_x points per horizontal
    side and n_y per vertical side (each side without its end corner)."""
    xs = np.linspace(0, width, n_x + 1)[:-1]
    ys = np.linspace(0, height, n_y + 1)[:-1]
    return np.concatenate(
        [
            np.stack([xs, 0 * xs], 1),
            np.stack([width + 0 * ys, ys], 1),
            np.stack([width - xs, height + 0 * xs], 1),
            np.stack([0 * ys, height - ys], 1),
        ]
    )
