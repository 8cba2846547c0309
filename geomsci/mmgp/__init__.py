"""MMGP: mesh-morphing Gaussian-process surrogates for fields and scalars on meshes of varying shape.

Its public names load on first use (they are listed in ``__init__.pyi``), so that ``import geomsci.mmgp`` and
``geomsci mmgp --help`` do not pay for torch."""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
