"""geomsci.core: shared datatypes (Mesh, Grid) and device-agnostic, autograd-aware ops.

``Mesh`` and ``Grid`` load on first use, so that light modules (``geomsci.core.errors``,
``geomsci.core.threads``) import without torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .grid import Grid
    from .mesh import Mesh


_LAZY = {"Mesh": ".mesh", "Grid": ".grid"}  # name -> module that defines it


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'geomsci.core' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["Mesh", "Grid"]
