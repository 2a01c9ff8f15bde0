"""The inference API: serves the registry's champion model and follows it when the alias moves.

``create_app(settings)`` in :mod:`covertype.inference.app` builds the FastAPI application;
``run(settings, host=..., port=..., workers=...)`` in :mod:`covertype.inference.server` serves it.
"""
