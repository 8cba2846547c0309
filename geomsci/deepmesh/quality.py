"""Old import path of ``skimage_reference`` (kept so that existing code keeps working)."""

from .skimage_reference import skimage_mesh, surface_error  # noqa: F401
