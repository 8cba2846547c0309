"""geomsci.core: shared datatypes (Mesh, Grid) and device-agnostic, autograd-aware ops.

``Mesh`` and ``Grid`` load on first use, so that light modules (``geomsci.core.errors``,
``geomsci.core.threads``) import without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .grid import Grid
    from .mesh import Mesh


def __getattr__(name: str) -> Any:
    if name == "Mesh":
        from .mesh import Mesh

        return Mesh
    if name == "Grid":
        from .grid import Grid

        return Grid
    raise AttributeError(f"module 'geomsci.core' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | {"Mesh", "Grid"})


__all__ = ["Mesh", "Grid"]
