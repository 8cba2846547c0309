"""Riemannian surface features, wing geometry, a 3-D panel method and Cp learning.

Its public names load on first use (they are listed in ``__init__.pyi``), so that ``import geomsci.wing`` and
``geomsci wing --help`` do not pay for torch."""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
