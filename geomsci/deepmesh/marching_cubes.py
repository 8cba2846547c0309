"""Marching cubes moved to :mod:`geomsci.core.isosurface` (beside marching tetrahedra and the shared
bounds/resolution parser); ``geomsci.deepmesh.marching_cubes`` stays importable from here and from
``geomsci.deepmesh``, unchanged."""

from geomsci.core.isosurface import marching_cubes

__all__ = ["marching_cubes"]
