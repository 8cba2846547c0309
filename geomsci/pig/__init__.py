"""geomsci.pig: Physics-Informed Gaussians (PIG), a PINN baseline, a PDE problem library and a trainer.

Its public names load on first use (they are listed in ``__init__.pyi``), so that ``import geomsci.pig`` and
``geomsci pig --help`` do not pay for torch."""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
