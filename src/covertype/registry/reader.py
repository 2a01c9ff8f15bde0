"""What the inference API reads from the registry: the alias's version, run metrics, one artifact.

Over HTTP (every deployment: compose, ``covertype up``) it speaks MLflow's REST API with httpx, so the
service installs no MLflow client (which would bring cloudpickle): this module must not import ``mlflow``.
A local tracking URI (the embedded SQLite store of development and tests) is read by
:class:`~covertype.registry.core.Registry` through the ``mlflow`` package where it is installed;
:func:`registry_reader` picks one. The shared types are :mod:`covertype.registry.types` (re-exported here).
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from covertype.registry.types import (
    RegistryError,
    RegistryNotFound,
    RegistryReader,
    RegistryUnreachable,
    VersionRef,
)
from covertype.settings import Settings

__all__ = [
    "RegistryError",
    "RegistryNotFound",
    "RegistryReader",
    "RegistryUnreachable",
    "RestRegistryReader",
    "VersionRef",
    "registry_reader",
    "serving_alias_version",
    "shown_uri",
]


class RestRegistryReader:
    """MLflow's REST API (``/api/2.0/mlflow/...`` and the server's ``/get-artifact``)."""

    def __init__(self, tracking_uri: str, *, timeout: float = 30.0) -> None:
        self._uri = tracking_uri
        self._http = httpx.Client(base_url=tracking_uri.rstrip("/"), timeout=timeout, auth=mlflow_auth())

    def _get(self, path: str, params: dict[str, str]) -> httpx.Response:
        try:
            response = self._http.get(path, params=params)
        except httpx.TransportError as exc:
            raise RegistryUnreachable(
                f"cannot reach the registry at {shown_uri(self._uri)}: {type(exc).__name__}: {exc}"
            ) from exc
        if response.status_code != 200:
            try:
                body = response.json()
                code = body.get("error_code", response.status_code)
                detail = f"{code}: {body.get('message', '')}"
            except ValueError:
                code, detail = response.status_code, f"HTTP {response.status_code}"
            missing = code == "RESOURCE_DOES_NOT_EXIST"
            raise (RegistryNotFound if missing else RegistryError)(f"{path} {params}: {detail}")
        return response

    def alias_version(self, name: str, alias: str) -> str | None:
        """The version ``alias`` of model ``name`` points at; None when there is no such model or alias."""
        try:
            found = self._get("/api/2.0/mlflow/registered-models/get", {"name": name}).json()
        except RegistryNotFound:
            return None
        aliases = found["registered_model"].get("aliases", [])
        return next((str(entry["version"]) for entry in aliases if entry["alias"] == alias), None)

    def version_by_alias(self, name: str, alias: str) -> VersionRef:
        found = self._get("/api/2.0/mlflow/registered-models/alias", {"name": name, "alias": alias})
        version = found.json()["model_version"]
        return VersionRef(
            name=version["name"],
            version=str(version["version"]),
            run_id=version.get("run_id") or None,
            tags={tag["key"]: tag["value"] for tag in version.get("tags", [])},
        )

    def run_metrics(self, run_id: str) -> dict[str, float]:
        run = self._get("/api/2.0/mlflow/runs/get", {"run_id": run_id}).json()["run"]
        return {metric["key"]: float(metric["value"]) for metric in run["data"].get("metrics", [])}

    def run_artifact(self, run_id: str, path: str) -> bytes:
        return self._get("/get-artifact", {"run_uuid": run_id, "path": path}).content


def shown_uri(uri: str) -> str:
    """``uri`` as it may be logged and answered: without a password it may carry (``user:***@host``)."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))


def mlflow_auth() -> httpx.Auth | None:
    """The credentials MLflow's own client would send, from its own variables.

    ``MLFLOW_TRACKING_USERNAME`` and ``MLFLOW_TRACKING_PASSWORD`` (a server run with ``--app-name
    basic-auth``), else ``MLFLOW_TRACKING_TOKEN``.
    """
    username, password = (
        os.environ.get("MLFLOW_TRACKING_USERNAME"),
        os.environ.get("MLFLOW_TRACKING_PASSWORD"),
    )
    if username and password:
        return httpx.BasicAuth(username, password)
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if token:
        return _BearerAuth(token)
    return None


class _BearerAuth(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request


def serving_alias_version(settings: Settings) -> str | None:
    """The version the serving alias points at, None when there is none (or no model) yet.

    Over MLflow's REST API for an http(s) tracking URI, so a caller that finds no champion (the ingest DAG's
    ``evaluate_batch`` before the first training) never pays for importing MLflow (seconds, in every task
    process); a local store is read with the mlflow package, unless its file or folder does not exist yet
    (then it holds no model: ``covertype ingest`` before the first training).
    """
    uri = settings.tracking_uri
    if uri.startswith(("http://", "https://")):
        return RestRegistryReader(uri, timeout=settings.http_timeout).alias_version(
            settings.model_name, settings.model_alias
        )
    if not local_store_exists(uri):
        return None
    from covertype.registry.core import Registry

    return Registry.from_settings(settings).champion_version()


def local_store_exists(uri: str) -> bool:
    """False when ``uri`` is a local tracking store (``sqlite:///`` file, ``file:`` or plain folder) that does
    not exist yet; True for anything else (a server, another database)."""
    if uri.startswith("sqlite:///"):
        path = uri.removeprefix("sqlite:///").split("?", 1)[0]
    elif uri.startswith("file:"):
        path = urlsplit(uri).path
    elif "://" not in uri:
        path = uri
    else:
        return True
    return Path(path).exists()


def registry_reader(settings: Settings) -> RegistryReader:
    """The reader for the settings' tracking URI: REST for http(s), the mlflow package otherwise."""
    uri = settings.tracking_uri
    if uri.startswith(("http://", "https://")):
        return RestRegistryReader(uri, timeout=settings.http_timeout)
    try:
        from covertype.registry.core import Registry
    except ImportError as exc:
        raise RegistryError(
            f"MLFLOW_TRACKING_URI {uri!r} is a local store, which only the mlflow package reads "
            "(the inference extra installs no MLflow client): point it at an MLflow server"
        ) from exc
    return Registry.from_settings(settings)
