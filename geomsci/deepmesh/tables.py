"""Moved to :mod:`geomsci.core.mc_tables` (the marching-cubes tables now live in core beside
``geomsci.core.isosurface``); this module re-exports its public names."""

from geomsci.core.mc_tables import (  # noqa: F401
    CORNERS,
    DIAGONALS,
    EDGE_TABLE,
    EDGES,
    FACES,
    LOOP_TABLE,
    MAX_LOOP_SIZE,
    MAX_LOOPS,
    MAX_TRIANGLES,
    TRI_TABLE,
    TRIANGULATIONS,
    admissible,
)
