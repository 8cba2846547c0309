"""geomsci: geometry and scientific machine learning on meshes and PDE surrogates.

``Mesh``, ``Grid``, ``load`` and ``save`` are imported on first use, so that ``import geomsci`` (and
``geomsci --help``) does not pay for torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .core.grid import Grid
    from .core.mesh import Mesh


def load(path, **kwargs) -> Mesh:
    """Read a mesh file (OBJ/PLY/STL/OFF/GLB via trimesh; VTK/VTU/MSH/XDMF via meshio) into a `Mesh`."""
    from .core.io import load as _load

    return _load(path, **kwargs)


def save(mesh: Mesh, path, **kwargs):
    """Write a `Mesh` to a file; the format follows the extension (see `geomsci.core.io`)."""
    from .core.io import save as _save

    return _save(mesh, path, **kwargs)


def __getattr__(name: str) -> Any:
    if name in ("Mesh", "Grid"):  # geomsci.core loads them on first use
        from . import core

        return getattr(core, name)
    raise AttributeError(f"module 'geomsci' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | {"Mesh", "Grid"})


__all__ = ["Mesh", "Grid", "load", "save", "__version__"]
