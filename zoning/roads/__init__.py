"""Road travel: building a drive network from OpenStreetMap and routing on it.

:mod:`.network` builds, saves and loads the routing file (``carezones roads build``);
:mod:`.osm` reads OSM ways (osmnx download or a local extract); :mod:`.speeds` turns UK speed
tags into care-worker speeds; :mod:`.route` snaps points and computes travel-time matrices
(used by :class:`zoning.travel.RoadTravel` in the run path). :mod:`.synthetic_grid` is a
SYNTHETIC grid network for tests and benchmarks only, never real roads.
"""
