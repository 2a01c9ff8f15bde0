"""Routers of the inference API, one module per resource."""
