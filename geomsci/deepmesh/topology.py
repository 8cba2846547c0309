"""Old import path of ``sdf_fitting`` (fit_to_target) and ``evaluation`` (surface_metrics)."""

from .evaluation import surface_metrics  # noqa: F401
from .sdf_fitting import fit_to_target  # noqa: F401
