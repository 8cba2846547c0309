"""The `GShell` module: learnable s, nu and deformation on a tetrahedral grid.

Two ways to hold the fields (``head``):

- ``"grid"``: one learnable value of s and nu and a 3-vector of deformation per grid vertex
  (DMTet's explicit grid); the deformation moves a vertex by at most half a cell per axis
  (``x + h/2 tanh(d)``).
- ``"mlp"``: a small MLP on Fourier features of the vertex positions predicts residuals
  (ds, dnu, d) added to the initial fields; its last layer starts at zero, so the module starts
  exactly at its initialization either way.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import torch
from torch import nn

from geomsci.core.mesh import Mesh
from geomsci.core.nn import FourierFeatures, linear_layers, mlp, positional_frequencies
from geomsci.core.tetgrid import deform_vertices, tet_edges, tet_grid

from .extract import GShellSurface, extract_gshell
from .regularizers import nu_smoothness_loss, nu_target_loss, sdf_sign_loss


def _init_field(init, points: torch.Tensor, default: Callable[[torch.Tensor], torch.Tensor], name: str) -> torch.Tensor:
    if init is None:
        values = default(points)
    elif callable(init):
        values = init(points)
    elif isinstance(init, (int, float)):
        values = torch.full_like(points[:, 0], float(init))
    else:
        try:
            values = torch.as_tensor(init)
        except (TypeError, ValueError, RuntimeError) as e:
            raise TypeError(
                f"GShell: {name} must be None, a float, a tensor (V,) or a callable, got {type(init).__name__}"
            ) from e
    if not isinstance(values, torch.Tensor):
        raise TypeError(f"GShell: {name} must give a tensor of one value per grid vertex, got {type(values).__name__}")
    values = values.to(dtype=points.dtype, device=points.device)
    if values.shape != (points.shape[0],):
        raise ValueError(f"GShell: {name} must give one value per grid vertex ({points.shape[0]},), got {tuple(values.shape)}")
    if not bool(torch.isfinite(values).all()):  # once, at construction
        raise ValueError(f"GShell: {name} contains NaN or inf; the initial fields must be finite")
    return values


class GShell(nn.Module):
    """Ghost-on-the-Shell: an SDF s (watertight template) and a manifold SDF nu (kept where nu > 0)
    on a deformable tetrahedral grid.

    Parameters
    ----------
    resolution : int, cubes per axis of the tet grid (6 tets per cube)
    bounds : ((xmin, ymin, zmin), (xmax, ymax, zmax)), the grid's box
    init_sdf : None, float, tensor (V,) or callable points (V, 3) -> (V,)
        Initial s; default a sphere of radius 0.6 x the box's half-size around its center.
    init_nu : None, float, tensor (V,) or callable; initial nu (default 0.1: all kept, watertight).
    deform : learn a bounded per-vertex deformation (half a cell at most).
    head : ``"grid"`` or ``"mlp"`` (see module docstring).
    hidden, n_freqs : MLP width and number of Fourier frequencies (``head="mlp"`` only).
    seed : seeds the MLP's initial weights (the grid head has no randomness).
    dtype, device : of the grid and parameters.
    """

    def __init__(
        self,
        resolution: int = 32,
        bounds=((-1.0, -1.0, -1.0), (1.0, 1.0, 1.0)),
        *,
        init_sdf=None,
        init_nu=0.1,
        deform: bool = True,
        head: str = "grid",
        hidden: int = 64,
        n_freqs: int = 4,
        seed: int = 0,
        dtype: torch.dtype | None = None,
        device=None,
    ):
        super().__init__()
        if head not in ("grid", "mlp"):
            raise ValueError(f"GShell: head must be 'grid' or 'mlp', got {head!r}")
        if not isinstance(resolution, numbers.Integral) or isinstance(resolution, bool) or resolution < 1:
            raise ValueError(f"GShell: resolution must be a positive int, got {resolution!r}")
        resolution = int(resolution)
        if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise TypeError(f"GShell: dtype must be a floating torch.dtype (e.g. torch.float32), got {dtype!r}")
        if head == "mlp" and (hidden < 1 or n_freqs < 0):
            raise ValueError(f"GShell: head='mlp' needs hidden >= 1 and n_freqs >= 0, got hidden={hidden}, n_freqs={n_freqs}")
        dtype = dtype or torch.get_default_dtype()
        vertices, tets = tet_grid(resolution, bounds, dtype=dtype, device=device)
        lo = torch.as_tensor(bounds[0], dtype=dtype, device=device)
        hi = torch.as_tensor(bounds[1], dtype=dtype, device=device)
        self.resolution, self.head, self.deform = resolution, head, deform
        self.register_buffer("vertices", vertices)  # (V, 3) undeformed
        self.register_buffer("tets", tets)  # (T, 4)
        self.register_buffer("cell_size", (hi - lo) / resolution)  # (3,)
        self._edges = None
        center, half = (lo + hi) / 2, float((hi - lo).min()) / 2
        s0 = _init_field(init_sdf, vertices, lambda p: (p - center).norm(dim=1) - 0.6 * half, "init_sdf")
        nu0 = _init_field(init_nu, vertices, lambda p: torch.full_like(p[:, 0], 0.1), "init_nu")
        if head == "grid":
            self.sdf = nn.Parameter(s0)
            self.nu = nn.Parameter(nu0)
            self.deformation = nn.Parameter(torch.zeros_like(vertices)) if deform else None
        else:
            gen = torch.Generator(device="cpu").manual_seed(seed)
            self.register_buffer("sdf0", s0)
            self.register_buffer("nu0", nu0)
            self.register_buffer("center", center)
            self.register_buffer("half_size", torch.as_tensor(half, dtype=dtype, device=device))
            # angles 2^k pi x_c, coordinate by coordinate: [x, sin (3 n_freqs), cos (3 n_freqs)]
            self.encoding = FourierFeatures(positional_frequencies(3, n_freqs, coordinate_major=True, dtype=dtype, device=device))
            self.mlp = mlp(
                [self.encoding.out_dim, hidden, hidden],
                nn.Softplus(beta=10),
                init="uniform",
                generator=gen,
                activate_last=True,
                dtype=dtype,
                device=device,
            )
            self.out = linear_layers([hidden, 5], init="zero", dtype=dtype, device=device)[0]  # starts at the initial fields
            self.to(dtype=dtype, device=device)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # state dicts saved before the encoding moved to geomsci.core.nn hold the angles 2^k pi as "freqs"
        if self.head == "mlp" and prefix + "freqs" in state_dict and prefix + "encoding.B" not in state_dict:
            freqs = state_dict.pop(prefix + "freqs")
            state_dict[prefix + "encoding.B"] = positional_frequencies(
                3, freqs.numel(), coordinate_major=True, dtype=freqs.dtype, device=freqs.device
            )
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # -- fields ---------------------------------------------------------------------------------
    def fields(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(deformed vertices (V, 3), s (V,), nu (V,)) of the current parameters."""
        if self.head == "grid":
            s, nu, d = self.sdf, self.nu, self.deformation
        else:
            x = (self.vertices - self.center) / self.half_size  # (V, 3) in [-1, 1]
            o = self.out(self.mlp(self.encoding(x)))  # (V, 5)
            s, nu, d = self.sdf0 + o[:, 0], self.nu0 + o[:, 1], o[:, 2:] if self.deform else None
        v = self.vertices if d is None else deform_vertices(self.vertices, d, self.cell_size)
        return v, s, nu

    @property
    def grid_edges(self) -> torch.Tensor:
        """(E, 2) unique edges of the tet grid (computed once)."""
        if self._edges is None or self._edges.device != self.tets.device:
            self._edges = tet_edges(self.tets)
        return self._edges

    # -- extraction -----------------------------------------------------------------------------
    def surface(self) -> GShellSurface:
        """Full extraction result (open mesh, boundary mask, template, nu at template vertices)."""
        v, s, nu = self.fields()
        return extract_gshell(v, self.tets, s, nu)

    def extract(self) -> Mesh:
        """The open surface {s = 0, nu > 0} as a triangle `Mesh` (point field ``"boundary"``),
        differentiable in the parameters."""
        return self.surface().mesh

    def extract_watertight(self) -> Mesh:
        """The watertight template {s = 0} (nu ignored) as a triangle `Mesh` (point field ``"nu"``)."""
        return self.surface().template

    # -- regularizers ---------------------------------------------------------------------------
    def sdf_sign_loss(self) -> torch.Tensor:
        """BCE sign consistency of s over crossed grid edges (see ``regularizers.sdf_sign_loss``)."""
        _, s, _ = self.fields()
        return sdf_sign_loss(s, self.grid_edges)

    def nu_smoothness_loss(self) -> torch.Tensor:
        """Dirichlet energy of nu over grid edges (see ``regularizers.nu_smoothness_loss``)."""
        _, _, nu = self.fields()
        return nu_smoothness_loss(nu, self.grid_edges)

    @staticmethod
    def nu_loss(surface: GShellSurface, target: torch.Tensor, margin: float = 0.0, delta: float = 0.05) -> torch.Tensor:
        """Open/close Huber terms on nu at template vertices (stop-gradient coefficients) for a
        signed, weighted per-template-vertex target in [-1, 1] (see ``regularizers.nu_target_loss``)."""
        return nu_target_loss(surface.nu_template_sg, target, margin, delta)
