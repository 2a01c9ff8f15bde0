"""The inference API: serves the registry's champion model and follows it when the alias moves.

``create_app(settings)`` in :mod:`covertype.inference.app` builds the FastAPI application;
``covertype inference-api`` serves it through :mod:`covertype.serving`.
"""
