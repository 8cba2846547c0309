"""Small seeded MLPs and Fourier features, shared by the methods that learn a field.

One builder for the multilayer perceptrons of deepmesh (``SDFNet``), gshell (``GShell(head="mlp")``),
wing (the Cp models) and the others, so that "same seed, same weights" means the same thing everywhere:

- :func:`linear_layers` / :func:`mlp`: ``Linear`` layers of the given sizes, initialized by one of

  ============== ===========================================================================
  ``"torch"``    PyTorch's default (Kaiming-uniform weights, uniform biases), drawn from the
                 *global* RNG (``torch.manual_seed``), as a plain ``nn.Linear``
  ``"uniform"``  weights and biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn from ``generator``
                 layer by layer (weight, then bias) in the layers' dtype on the CPU
  ``"xavier"``   weights ~ N(0, 2 / (fan_in + fan_out)) from ``generator``, biases zero (tanh nets)
  ``"zero"``     weights and biases zero (a residual head that starts at its initialization)
  ============== ===========================================================================

  Weights are drawn on the CPU and then moved, so a seed gives the same network on every device.
- :class:`FourierFeatures`: ``gamma(x) = [x, sin(2 pi x B^T), cos(2 pi x B^T)]`` with a fixed frequency
  matrix B (n_freq, d): Gaussian (random Fourier features, Tancik et al. 2020) or octaves (NeRF's
  positional encoding, frequencies 2^k / 2 cycles per unit, i.e. angles 2^k pi x).

>>> import torch
>>> net = mlp([3, 16, 1], torch.nn.Tanh(), init="uniform", generator=torch.Generator().manual_seed(0))
>>> net(torch.zeros(5, 3)).shape
torch.Size([5, 1])
>>> enc = FourierFeatures(positional_frequencies(3, 4))
>>> enc(torch.zeros(5, 3)).shape, enc.out_dim
(torch.Size([5, 27]), 27)
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["INITS", "linear_layers", "mlp", "FourierFeatures", "gaussian_frequencies", "positional_frequencies"]

INITS = ("torch", "uniform", "xavier", "zero")


def _check_sizes(sizes: Sequence[int], who: str) -> list[int]:
    sizes = list(sizes)
    if len(sizes) < 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes):
        raise ValueError(f"{who}: sizes must be at least two positive ints (inputs, ..., outputs), got {sizes!r}")
    return sizes


@torch.no_grad()
def _initialize(lin: nn.Linear, init: str, generator: torch.Generator | None) -> None:
    fan_out, fan_in = lin.weight.shape
    if init == "uniform":
        bound = 1.0 / math.sqrt(fan_in)
        lin.weight.copy_(torch.empty(lin.weight.shape, dtype=lin.weight.dtype).uniform_(-bound, bound, generator=generator))
        lin.bias.copy_(torch.empty(lin.bias.shape, dtype=lin.bias.dtype).uniform_(-bound, bound, generator=generator))
    elif init == "xavier":
        std = math.sqrt(2.0 / (fan_in + fan_out))
        lin.weight.copy_(torch.randn(fan_out, fan_in, generator=generator, dtype=lin.weight.dtype) * std)
        lin.bias.zero_()
    elif init == "zero":
        lin.weight.zero_()
        lin.bias.zero_()


def linear_layers(
    sizes: Sequence[int],
    *,
    init: str = "torch",
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device=None,
) -> nn.ModuleList:
    """``Linear`` layers sizes[0] -> sizes[1] -> ... -> sizes[-1], initialized by ``init`` (module docstring).

    ``generator`` (a CPU ``torch.Generator``) is required by the seeded inits ``"uniform"`` and ``"xavier"``;
    ``"torch"`` draws from the global RNG like ``nn.Linear`` itself.
    """
    sizes = _check_sizes(sizes, "linear_layers")
    if init not in INITS:
        raise ValueError(f"linear_layers: init must be one of {INITS}, got {init!r}")
    if init in ("uniform", "xavier") and generator is None:
        raise ValueError(
            f"linear_layers: init={init!r} draws from a generator; pass generator=torch.Generator().manual_seed(seed)"
        )
    layers = nn.ModuleList()
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        lin = nn.Linear(fan_in, fan_out, dtype=dtype)  # built on the CPU: the same draws on every device
        _initialize(lin, init, generator)
        layers.append(lin.to(device) if device is not None else lin)
    return layers


def mlp(
    sizes: Sequence[int],
    activation: nn.Module,
    *,
    init: str = "torch",
    generator: torch.Generator | None = None,
    activate_last: bool = False,
    dtype: torch.dtype | None = None,
    device=None,
) -> nn.Sequential:
    """``nn.Sequential(Linear, activation, Linear, activation, ..., Linear)`` for ``sizes`` (module docstring for
    ``init``); the activation module is copied between layers, and follows the last layer too if ``activate_last``.
    Layer k is element ``2 k`` of the sequence (state-dict keys ``"0.weight"``, ``"2.weight"``, ...)."""
    if not isinstance(activation, nn.Module):
        raise TypeError(f"mlp: activation must be an nn.Module such as torch.nn.Tanh(), got {type(activation).__name__}")
    modules: list[nn.Module] = []
    for lin in linear_layers(sizes, init=init, generator=generator, dtype=dtype, device=device):
        modules += [lin, copy.deepcopy(activation)]
    return nn.Sequential(*(modules if activate_last else modules[:-1]))


def gaussian_frequencies(
    in_dim: int, n_freq: int, sigma: float, generator: torch.Generator, *, dtype: torch.dtype = torch.float32, device=None
) -> torch.Tensor:
    """(n_freq, in_dim) random frequencies ~ N(0, sigma^2) in cycles per unit length (drawn in float64 on the CPU)."""
    if not sigma > 0:
        raise ValueError(f"gaussian_frequencies: sigma must be positive, got {sigma!r}")
    B = torch.randn(n_freq, in_dim, generator=generator, dtype=torch.float64) * sigma
    return B.to(dtype=dtype, device=device)


def positional_frequencies(
    in_dim: int, n_octaves: int, *, coordinate_major: bool = False, dtype: torch.dtype = torch.float32, device=None
) -> torch.Tensor:
    """(in_dim n_octaves, in_dim) axis-aligned octaves 2^k / 2 cycles per unit (angles 2^k pi x_c), k < n_octaves.

    Rows run octave by octave (all coordinates of octave 0, then octave 1, ...) or, with
    ``coordinate_major``, coordinate by coordinate (all octaves of x, then of y, ...)."""
    eye = torch.eye(in_dim, dtype=torch.float64)
    rows = (
        [eye[c] * 2.0**k / 2 for c in range(in_dim) for k in range(n_octaves)]
        if coordinate_major
        else [eye[c] * 2.0**k / 2 for k in range(n_octaves) for c in range(in_dim)]
    )
    B = torch.stack(rows) if rows else torch.zeros(0, in_dim, dtype=torch.float64)
    return B.to(dtype=dtype, device=device)


class FourierFeatures(nn.Module):
    """``gamma(x) = [x, sin(2 pi x B^T), cos(2 pi x B^T)]``: (P, d) -> (P, d + 2 n_freq) (without x if
    ``include_input=False``). B (n_freq, d) is a fixed buffer in cycles per unit length, for instance from
    :func:`gaussian_frequencies` or :func:`positional_frequencies`; an empty B gives x alone."""

    B: torch.Tensor  # (n_freq, d) buffer

    def __init__(self, frequencies: torch.Tensor, include_input: bool = True):
        super().__init__()
        if not isinstance(frequencies, torch.Tensor) or frequencies.dim() != 2 or not frequencies.is_floating_point():
            raise ValueError(
                f"FourierFeatures: frequencies must be a float tensor (n_freq, d), got "
                f"{tuple(frequencies.shape) if isinstance(frequencies, torch.Tensor) else type(frequencies).__name__}"
            )
        self.register_buffer("B", frequencies)  # (n_freq, d)
        self.include_input = include_input

    @property
    def in_dim(self) -> int:
        return self.B.shape[1]

    @property
    def out_dim(self) -> int:
        return (self.in_dim if self.include_input else 0) + 2 * self.B.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_dim:
            raise ValueError(f"FourierFeatures: x must have shape (P, {self.in_dim}), got {tuple(x.shape)}")
        proj = 2 * math.pi * x @ self.B.T  # (P, n_freq); (2 pi x) first, then B: octave rows scale exactly
        parts = [x, proj.sin(), proj.cos()] if self.include_input else [proj.sin(), proj.cos()]
        return torch.cat(parts, dim=1)
