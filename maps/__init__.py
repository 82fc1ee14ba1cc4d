"""Presentation only: folium maps and reports. Never solves."""
