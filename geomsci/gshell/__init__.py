"""geomsci.gshell: Ghost-on-the-Shell (Liu et al., ICLR 2024), watertight and open meshes from an SDF
and a manifold SDF on a deformable tetrahedral grid, with fitting, multiview reconstruction and a small generative model of open surfaces.

Its public names load on first use (they are listed in ``__init__.pyi``), so that ``import geomsci.gshell`` and
``geomsci gshell --help`` do not pay for torch."""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
