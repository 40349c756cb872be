"""Presentational widgets. They never import services or I/O libraries."""
