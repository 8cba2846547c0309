"""Second-order jets: a value with its gradient and selected pure second derivatives, and their
forward-mode propagation through a tanh MLP.

A jet of a vector function h: R^d -> R^m at P points is the triple

    value  h        (P, m)
    grad   dh/dx_j  (P, m, d)
    hess   d2h/dx_j^2 for the selected dims j in ``dims``   (P, m, S)

Only *pure* second derivatives d2/dx_j^2 are carried: they are what Laplacians, wave operators
(u_tt) and diffusion terms (u_xx) need, and they propagate through a layer independently of each
other (chain rule below), which keeps the cost at O(S) instead of O(d^2).

Chain rule through ``z = W h + b`` then ``a = tanh(z)`` (per hidden unit, per dim j):

    z_j   = W h_j              zz_jj = W h_jj
    a'    = 1 - a^2            a''   = -2 a a'
    a_j   = a' z_j             a_jj  = a'' z_j^2 + a' z_jj
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Jet:
    """Value, gradient and selected pure second derivatives of an m-channel function.

    Attributes
    ----------
    value : (P, m)
    grad : (P, m, d) or None when only the value was asked for
    hess : (P, m, S) or None; ``hess[..., s]`` is d2/dx_{dims[s]}^2
    dims : tuple of S ints, the input dims whose pure second derivatives are in ``hess``
    """

    value: torch.Tensor
    grad: torch.Tensor | None = None
    hess: torch.Tensor | None = None
    dims: tuple[int, ...] = ()

    # -- scalar accessors used by PDE residuals (channel 0) ------------------------------------
    @property
    def u(self) -> torch.Tensor:
        """(P,) value of channel 0."""
        return self.value[:, 0]

    def d(self, j: int) -> torch.Tensor:
        """(P,) du/dx_j of channel 0."""
        if self.grad is None:
            raise ValueError("Jet.d: this jet carries no gradient; ask for order >= 1")
        return self.grad[:, 0, j]

    def dd(self, j: int) -> torch.Tensor:
        """(P,) d2u/dx_j^2 of channel 0."""
        if self.hess is None or j not in self.dims:
            raise ValueError(f"Jet.dd: d2/dx_{j}^2 not carried; this jet has second derivatives for dims {self.dims}")
        return self.hess[:, 0, self.dims.index(j)]

    def laplacian(self, spatial: tuple[int, ...]) -> torch.Tensor:
        """(P,) sum of d2u/dx_j^2 over ``spatial`` dims."""
        return sum(self.dd(j) for j in spatial)


def linear_jet(jet: Jet, weight: torch.Tensor, bias: torch.Tensor | None) -> Jet:
    """Jet of ``z = h @ weight.T + bias``; weight (m_out, m_in)."""
    value = jet.value @ weight.T  # (P, m_out)
    if bias is not None:
        value = value + bias
    grad = None if jet.grad is None else torch.einsum("pmd,om->pod", jet.grad, weight)  # (P, m_out, d)
    hess = None if jet.hess is None else torch.einsum("pms,om->pos", jet.hess, weight)  # (P, m_out, S)
    return Jet(value, grad, hess, jet.dims)


def tanh_jet(jet: Jet) -> Jet:
    """Jet of ``tanh(z)`` applied elementwise (formulas in the module docstring)."""
    a = torch.tanh(jet.value)  # (P, m)
    if jet.grad is None:
        return Jet(a, None, None, jet.dims)
    a1 = 1.0 - a * a  # (P, m) tanh'
    grad = a1.unsqueeze(-1) * jet.grad  # (P, m, d)
    hess = None
    if jet.hess is not None:
        a2 = -2.0 * a * a1  # (P, m) tanh''
        # slices, not a list index: a list becomes a host tensor copied to the device (not capturable)
        zj = torch.stack([jet.grad[:, :, j] for j in jet.dims], -1)  # (P, m, S)
        hess = a2.unsqueeze(-1) * zj * zj + a1.unsqueeze(-1) * jet.hess
    return Jet(a, grad, hess, jet.dims)


def mlp_jet(jet: Jet, layers: torch.nn.ModuleList) -> Jet:
    """Propagate ``jet`` through Linear layers with tanh between them (none after the last)."""
    for i, layer in enumerate(layers):
        jet = linear_jet(jet, layer.weight, layer.bias)
        if i < len(layers) - 1:
            jet = tanh_jet(jet)
    return jet


def autograd_jet(fn, x: torch.Tensor, order: int, dims: tuple[int, ...]) -> Jet:
    """Jet of a scalar-output ``fn: (P, d) -> (P, 1)`` by autograd (double backward for order 2).

    The reference the closed forms are tested against, and the fallback for models without them.
    Differentiable in the parameters (``create_graph=True``).
    """
    x = x.detach().requires_grad_(True)
    u = fn(x)  # (P, 1)
    if order == 0:
        return Jet(u)
    (g,) = torch.autograd.grad(u.sum(), x, create_graph=True)  # (P, d)
    hess = None
    if order >= 2 and dims:
        cols = []
        for j in dims:
            (gj,) = torch.autograd.grad(g[:, j].sum(), x, create_graph=True)
            cols.append(gj[:, j])
        hess = torch.stack(cols, dim=-1).unsqueeze(1)  # (P, 1, S)
    return Jet(u, g.unsqueeze(1), hess, tuple(dims) if order >= 2 else ())
