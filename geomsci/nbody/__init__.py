"""geomsci.nbody: batched N-body integrators and learned time-step control for three-body systems.

Its public names load on first use (they are listed in ``__init__.pyi``), so that ``import geomsci.nbody``
and ``geomsci nbody --help`` do not pay for torch. `TimeStepEnv` (a ``gymnasium.Env``) and the hand-written
controllers `DepthRule` and `ThresholdRule` (which read its observations) need gymnasium, an optional extra;
when gymnasium is installed, importing this package registers `TimeStepEnv` as ``geomsci/TimeStep-v0``.
"""

from importlib.util import find_spec as _find_spec

import lazy_loader as _lazy

_lazy_getattr, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)

ENV_ID = "geomsci/TimeStep-v0"


def __getattr__(name):
    try:
        return _lazy_getattr(name)
    except ModuleNotFoundError as e:
        if e.name == "gymnasium":  # TimeStepEnv and the rules that read its observations
            raise ImportError(f"geomsci.nbody.{name} needs gymnasium: pip install 'geomsci[rl]'") from None
        raise


if _find_spec("gymnasium") is not None:  # register the id without importing the environment module
    import gymnasium as _gym

    if ENV_ID not in _gym.registry:
        _gym.register(id=ENV_ID, entry_point="geomsci.nbody.env:TimeStepEnv")
