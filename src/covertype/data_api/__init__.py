"""The data API: forest-cover samples handed out per group on a timed schedule (docs/data-api.md).

``create_app(settings)`` builds the FastAPI app; ``covertype data-api`` serves it through
:mod:`covertype.serving`.
"""

from covertype.data_api.app import create_app

__all__ = ["create_app"]
