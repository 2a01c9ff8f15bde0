"""What both APIs measure of their HTTP traffic, each app in its own Prometheus registry.

:class:`HttpMetrics` holds the registry with the request counter and the latency histogram by endpoint
(``covertype_http_requests_total``, ``covertype_http_request_duration_seconds``); each API's own metrics
class adds its series to that registry. :class:`RequestMetricsMiddleware` feeds the two, and
:func:`metrics_response` is the ``GET /metrics`` answer. Prometheus tells the two APIs apart by the
``job`` label of their scrape config. With several uvicorn workers each worker reports its own.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HttpMetrics:
    """A fresh registry with the request counter and the latency histogram (``buckets`` in seconds)."""

    def __init__(self, buckets: Sequence[float]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "covertype_http_requests",
            "HTTP requests by endpoint and status code",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "covertype_http_request_duration_seconds",
            "Time from request to the end of the response, by endpoint",
            ["endpoint", "method"],
            buckets=tuple(buckets),
            registry=self.registry,
        )


def endpoint_paths(app: Starlette) -> frozenset[str]:
    """The app's endpoint paths (the label values of the request series; mounts and websockets are none)."""
    return frozenset(route.path for route in app.routes if isinstance(route, Route))


def metrics_response(registry: CollectorRegistry) -> Response:
    """The registry in Prometheus's text format."""
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


class RequestMetricsMiddleware:
    """Counts requests and observes latency by endpoint (unknown paths share the label ``other``).

    Each label set's series are looked up once and kept: ``labels()`` checks its values and takes a lock on
    every call, 5 µs of the 8 µs a request's two series cost (measured). These series are never cleared,
    and the cache holds no label set the registry does not hold already.
    """

    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics, endpoints: frozenset[str]) -> None:
        self._app = app
        self._metrics = metrics
        self._endpoints = endpoints
        self._series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status_code = 500

        async def send_recording_status(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, send_recording_status)
        finally:
            path = scope["path"]
            endpoint = path if path in self._endpoints else "other"
            requests, latency = self._series_of(endpoint, scope["method"], status_code)
            requests.inc()
            latency.observe(time.perf_counter() - started)

    def _series_of(self, endpoint: str, method: str, status_code: int) -> tuple[Counter, Histogram]:
        key = (endpoint, method, status_code)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = (
                self._metrics.requests.labels(endpoint, method, str(status_code)),
                self._metrics.latency.labels(endpoint, method),
            )
        return series
