"""The `Problem` base class: what a physics-informed solver needs to know about a PDE.

A problem gives

- the domain: a box ``bounds`` (2, d) and a collocation sampler (override for other shapes);
- the PDE residual R(u; x), computed from a `Jet` (value, gradient and the pure second
  derivatives named in ``second_dims``) at collocation points x (P, d), zero at the solution;
- initial/boundary data as a list of `Constraint` (values, first derivatives, or periodic pairs);
- the exact or reference solution and a set of test points for the relative L2 error.

Coordinates are (space..., time) with time last; ``time_dim`` names the time index (or None).
Users add problems by subclassing and filling in the pieces (see ``docs/pig.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from geomsci.pig.jet import Jet


@dataclass
class Constraint:
    """Data term ``weight * mean((D u(x) - D u(x_pair) - target)^2)``.

    x : (n, d) points; target : (n,) values; deriv : None for u, j for du/dx_j;
    x_pair : (n, d) or None, for periodic pairs (the term then compares u(x) with u(x_pair));
    weight : float; name : label in the loss history.
    """

    x: torch.Tensor
    target: torch.Tensor
    deriv: int | None = None
    x_pair: torch.Tensor | None = None
    weight: float = 1.0
    name: str = "data"


def on_device(t: torch.Tensor, device) -> torch.Tensor:
    """``t`` on ``device``, copied once and cached on ``t`` itself (it lives as long as ``t``).

    For the constant tensors of a problem (its bounds, a mesh): samplers that run inside a
    captured CUDA graph may not copy from the host, so the copy is made the first time (the
    warm-up before capture) and reused after."""
    device = torch.device(device)
    if t.device == device:
        return t
    copies = t.__dict__.setdefault("_geomsci_device_copies", {})
    if device not in copies:
        copies[device] = t.to(device)
    return copies[device]


def generator_device(generator: torch.Generator | None) -> torch.device:
    """The device random draws land on: the generator's (the CPU without one)."""
    return torch.device("cpu") if generator is None else generator.device


def uniform_box(bounds: torch.Tensor, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """(n, d) points uniform in the box ``bounds`` (2, d), float64, on the generator's device.

    No host synchronisation: safe inside a captured CUDA graph."""
    device = generator_device(generator)
    b = on_device(bounds, device)
    return b[0] + (b[1] - b[0]) * torch.rand(n, b.shape[1], generator=generator, dtype=torch.float64, device=device)


def box_faces(bounds: torch.Tensor, n: int, dims, generator=None) -> torch.Tensor:
    """(n, d) points uniform on the faces x_j = lo_j or hi_j of the box, for j in ``dims``
    (faces chosen with equal probability), on the generator's device, without host sync."""
    x = uniform_box(bounds, n, generator)
    b = on_device(bounds, x.device)
    dims = list(dims)
    face = torch.randint(0, 2 * len(dims), (n,), generator=generator, device=x.device)
    for f in range(2 * len(dims)):
        j, side = dims[f // 2], f % 2
        x[:, j] = torch.where(face == f, b[side, j], x[:, j])  # a where, not a mask: no data-dependent shape
    return x


def lattice(bounds: torch.Tensor, shape) -> torch.Tensor:
    """(prod(shape), d) nodes of a regular lattice over ``bounds``, first axis slowest."""
    axes = [torch.linspace(float(bounds[0, j]), float(bounds[1, j]), int(s), dtype=torch.float64) for j, s in enumerate(shape)]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(shape))


class Problem:
    """Base class of PDE problems. Subclasses set the class attributes and override the methods.

    Attributes
    ----------
    name : str
    bounds : (2, d) float64 tensor, the bounding box of the domain
    time_dim : int or None, index of the time coordinate (last by convention)
    order : 1 or 2, highest derivative order the residual needs
    second_dims : tuple of dims j whose d2u/dx_j^2 the residual reads
    residual_scale : float, residuals are divided by it so that the PDE term is O(1)
    test_shape : lattice shape of ``test_points`` for box domains (None for meshes)
    """

    name = "problem"
    bounds: torch.Tensor
    time_dim: int | None = None
    order = 2
    second_dims: tuple[int, ...] = ()
    residual_scale = 1.0
    test_shape: tuple[int, ...] | None = None

    @property
    def dim(self) -> int:
        return int(self.bounds.shape[1])

    @property
    def spatial_dims(self) -> tuple[int, ...]:
        return tuple(j for j in range(self.dim) if j != self.time_dim)

    # -- to override ------------------------------------------------------------------------------
    def residual(self, jet: Jet, x: torch.Tensor) -> torch.Tensor:
        """(P,) PDE residual at collocation points ``x`` (P, d) from the model's jet there."""
        raise NotImplementedError

    def constraints(self, n: int, generator: torch.Generator | None = None) -> list[Constraint]:
        """Initial and boundary data, ``n`` points per term, on the generator's device (see
        ``sample_interior``); the list's length and each term's shapes must not change between calls."""
        raise NotImplementedError

    def solution(self, x: torch.Tensor) -> torch.Tensor:
        """(P,) exact or reference solution at ``x`` (P, d)."""
        raise NotImplementedError

    # -- defaults ---------------------------------------------------------------------------------
    def sample_interior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, d) collocation points, uniform in the box, on the generator's device.

        Samplers (this and ``constraints``) must draw on ``generator``'s device with fixed-size
        outputs and no host synchronisation, so that the trainer can capture them in a CUDA graph."""
        return uniform_box(self.bounds, n, generator)

    def test_points(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Points (M, d) and solution values (M,) for the relative L2 error (a lattice by default)."""
        if self.test_shape is None:
            raise ValueError(f"{type(self).__name__}: set test_shape (lattice nodes per dim) or override test_points()")
        x = lattice(self.bounds, self.test_shape)
        return x, self.solution(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim}, bounds={self.bounds.tolist()})"
