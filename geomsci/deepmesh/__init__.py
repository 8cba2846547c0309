"""DeepMesh: differentiable iso-surface extraction (marching cubes) and its applications."""
from .extract import extract_surface, sample_grid
from .marching_cubes import marching_cubes

__all__ = ["marching_cubes", "extract_surface", "sample_grid"]
