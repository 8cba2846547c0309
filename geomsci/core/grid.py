"""The `Grid` datatype: a scalar or vector field on a regular 3-D lattice, with differentiable
trilinear sampling.

Lattice node (i, j, k) sits at ``origin + (i, j, k) * spacing``; ``values[i, j, k]`` is the field
there (x index first, like scikit-image's ``marching_cubes`` volume convention).
"""

from __future__ import annotations

import torch


def real_values(values, who: str, expected: str) -> torch.Tensor:
    """``values`` as a real floating tensor (arrays converted, integer and bool cast to the default dtype).

    A TypeError starting ``"{who}: {expected}"`` when it is not numeric; one naming the dtype when it is complex.
    """
    if not isinstance(values, torch.Tensor):
        try:
            values = torch.as_tensor(values)
        except (TypeError, ValueError, RuntimeError) as e:
            raise TypeError(f"{who}: {expected}, got {type(values).__name__} ({e})") from None
    if values.is_complex():
        raise TypeError(f"{who}: values must be real, got dtype {values.dtype}; pass values.real (or .abs()) explicitly")
    if not values.is_floating_point():
        values = values.to(torch.get_default_dtype())
    return values


class Grid:
    """Field values on a regular lattice.

    Parameters
    ----------
    values : float tensor, shape (X, Y, Z) or (X, Y, Z, C)
    origin : 3 floats or tensor (3,), position of node (0, 0, 0). Default (0, 0, 0).
    spacing : float, 3 floats or tensor (3,), distance between neighbouring nodes. Default 1.
    """

    def __init__(self, values, origin=(0.0, 0.0, 0.0), spacing=1.0):
        values = real_values(values, "Grid", "values must be a numeric array of shape (X, Y, Z) or (X, Y, Z, C)")
        if values.dim() not in (3, 4):
            raise ValueError(f"Grid: values must have shape (X, Y, Z) or (X, Y, Z, C), got {tuple(values.shape)}")
        if min(values.shape[:3]) < 2:
            raise ValueError(f"Grid: need at least 2 nodes per axis, got {tuple(values.shape[:3])}")
        if not torch.isfinite(values).all():
            raise ValueError("Grid: values contain NaN or inf")
        self.values = values
        try:
            origin = torch.as_tensor(origin, dtype=values.dtype, device=values.device)
            spacing = torch.as_tensor(spacing, dtype=values.dtype, device=values.device)
        except (TypeError, ValueError, RuntimeError) as e:
            raise TypeError(f"Grid: origin and spacing must be numbers ({e})") from None
        if origin.numel() != 3:
            raise ValueError(f"Grid: origin must hold 3 numbers (x, y, z), got shape {tuple(origin.shape)}")
        if spacing.numel() not in (1, 3):
            raise ValueError(f"Grid: spacing must be one number or 3 (x, y, z), got shape {tuple(spacing.shape)}")
        self.origin = origin.reshape(3)
        self.spacing = spacing.expand(3).clone() if spacing.dim() == 0 or spacing.numel() == 1 else spacing.reshape(3)
        if not (torch.isfinite(self.origin).all() and torch.isfinite(self.spacing).all()):
            raise ValueError(
                f"Grid: origin and spacing must be finite, got origin {self.origin.tolist()}, spacing {self.spacing.tolist()}"
            )
        if (self.spacing <= 0).any():
            raise ValueError(f"Grid: spacing must be positive, got {self.spacing.tolist()}")

    @classmethod
    def from_bounds(cls, values, bounds) -> Grid:
        """Grid whose first and last nodes sit on ``bounds = ((xmin, ymin, zmin), (xmax, ymax, zmax))``."""
        lo = torch.as_tensor(bounds[0], dtype=torch.float64)
        hi = torch.as_tensor(bounds[1], dtype=torch.float64)
        if lo.shape != (3,) or hi.shape != (3,):
            raise ValueError(
                f"Grid.from_bounds: bounds must be ((xmin, ymin, zmin), (xmax, ymax, zmax)), "
                f"got corners of shapes {tuple(lo.shape)} and {tuple(hi.shape)}"
            )
        shape = torch.as_tensor(values.shape[:3], dtype=torch.float64)
        return cls(values, lo.tolist(), ((hi - lo) / (shape - 1)).tolist())

    @property
    def shape(self) -> tuple[int, int, int]:
        """Nodes per axis (X, Y, Z); a vector field's channel axis is not counted."""
        return tuple(self.values.shape[:3])

    @property
    def device(self) -> torch.device:
        """Device of the values (origin and spacing live on the same one)."""
        return self.values.device

    @property
    def dtype(self) -> torch.dtype:
        """Floating dtype of the values (origin and spacing share it)."""
        return self.values.dtype

    @property
    def bounds(self) -> torch.Tensor:
        """(2, 3): lowest and highest node positions."""
        n = torch.as_tensor(self.shape, dtype=self.dtype, device=self.device)
        return torch.stack([self.origin, self.origin + (n - 1) * self.spacing])

    def to(self, device=None, dtype=None) -> Grid:
        return Grid(self.values.to(device=device, dtype=dtype), self.origin.to(device, dtype), self.spacing.to(device, dtype))

    def node_points(self) -> torch.Tensor:
        """(X*Y*Z, 3) node coordinates, in the order of ``values.reshape(-1)`` (x slowest)."""
        axes = [
            self.origin[d] + self.spacing[d] * torch.arange(self.shape[d], dtype=self.dtype, device=self.device) for d in range(3)
        ]
        gx, gy, gz = torch.meshgrid(*axes, indexing="ij")
        return torch.stack([gx, gy, gz], dim=-1).reshape(-1, 3)

    def sample(self, points: torch.Tensor) -> torch.Tensor:
        """Trilinear interpolation at ``points`` (P, 3) -> (P,) or (P, C).

        Differentiable in both ``values`` and ``points``. Points outside the lattice are clamped
        to its boundary (the field is extended by its boundary values); NaN points give NaN.
        """
        if not isinstance(points, torch.Tensor) or not points.is_floating_point():
            raise TypeError(
                f"Grid.sample: points must be a float tensor of shape (P, 3), got {type(points).__name__}"
                f"{' of dtype ' + str(points.dtype) if isinstance(points, torch.Tensor) else ''}"
            )
        if points.dim() != 2 or points.shape[1] != 3:
            raise ValueError(f"Grid.sample: points must have shape (P, 3), got {tuple(points.shape)}")
        n = torch.as_tensor(self.shape, device=points.device)
        # continuous index coordinates, clamped into the lattice
        u = (points - self.origin.to(points)) / self.spacing.to(points)
        u = torch.minimum(torch.clamp(u, min=0.0), (n - 1).to(u))
        # lower corner of the cell, (P, 3); clamp_min(0) only matters for NaN points (floor -> INT_MIN),
        # which thus read a valid cell and give NaN through t instead of an out-of-range index
        i0 = torch.minimum(u.detach().floor().long(), n - 2).clamp_min(0)
        t = u - i0.to(u)  # (P, 3) in [0, 1]
        v = self.values
        out: torch.Tensor | float = 0.0
        for dx in (0, 1):
            wx = t[:, 0] if dx else 1 - t[:, 0]
            for dy in (0, 1):
                wy = t[:, 1] if dy else 1 - t[:, 1]
                for dz in (0, 1):
                    wz = t[:, 2] if dz else 1 - t[:, 2]
                    w = wx * wy * wz
                    corner = v[i0[:, 0] + dx, i0[:, 1] + dy, i0[:, 2] + dz]
                    out = out + (w.unsqueeze(-1) * corner if corner.dim() == 2 else w * corner)
        assert isinstance(out, torch.Tensor)  # the 8 corners were added
        return out

    def __repr__(self) -> str:
        return f"Grid(shape={self.values.shape}, origin={self.origin.tolist()}, spacing={self.spacing.tolist()})"
