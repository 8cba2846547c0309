"""DeepMesh: differentiable iso-surface extraction (marching cubes) and its applications."""
from .marching_cubes import marching_cubes

__all__ = ["marching_cubes"]
