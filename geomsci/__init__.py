"""geomsci: geometry and scientific machine learning on meshes and PDE surrogates."""
from .core.grid import Grid
from .core.mesh import Mesh

__version__ = "0.1.0"


def load(path, **kwargs) -> Mesh:
    """Read a mesh file (OBJ/PLY/STL/OFF/GLB via trimesh; VTK/VTU/MSH/XDMF via meshio) into a `Mesh`."""
    from .core.io import load as _load

    return _load(path, **kwargs)


def save(mesh: Mesh, path, **kwargs) -> None:
    """Write a `Mesh` to a file; the format follows the extension (see `geomsci.core.io`)."""
    from .core.io import save as _save

    return _save(mesh, path, **kwargs)


__all__ = ["Mesh", "Grid", "load", "save", "__version__"]
