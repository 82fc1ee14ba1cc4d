"""Numeric core: arrays and an adjacency edge list in, a solver-certified result out.

Never imports geopandas, shapely, folium or reads files.
"""
