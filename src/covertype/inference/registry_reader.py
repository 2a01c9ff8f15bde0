"""What the inference API reads from the MLflow registry: the alias's version, run metrics, one artifact.

Over HTTP (every deployment: compose, ``covertype up``) it speaks MLflow's REST API with httpx, so the
service installs no MLflow client (which would bring cloudpickle). A local tracking URI (the embedded
SQLite store of development and tests) is read through the ``mlflow`` package where it is installed.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx

from covertype.settings import Settings


@dataclass(frozen=True)
class VersionRef:
    """One registered model version as the service needs it."""

    name: str
    version: str
    run_id: str | None
    tags: dict[str, str] = field(default_factory=dict)


class RegistryError(RuntimeError):
    """The registry answered with an error (the message carries MLflow's code and text)."""


class RegistryReader(Protocol):
    def version_by_alias(self, name: str, alias: str) -> VersionRef: ...

    def run_metrics(self, run_id: str) -> dict[str, float]: ...

    def run_artifact(self, run_id: str, path: str) -> bytes: ...


class RestRegistryReader:
    """MLflow's REST API (``/api/2.0/mlflow/...`` and the server's ``/get-artifact``)."""

    def __init__(self, tracking_uri: str, *, timeout: float = 30.0) -> None:
        self._http = httpx.Client(base_url=tracking_uri.rstrip("/"), timeout=timeout, auth=mlflow_auth())

    def _get(self, path: str, params: dict[str, str]) -> httpx.Response:
        response = self._http.get(path, params=params)
        if response.status_code != 200:
            try:
                body = response.json()
                detail = f"{body.get('error_code', response.status_code)}: {body.get('message', '')}"
            except ValueError:
                detail = f"HTTP {response.status_code}"
            raise RegistryError(f"{path} {params}: {detail}")
        return response

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

    def auth_flow(self, request: httpx.Request):  # type: ignore[no-untyped-def]
        request.headers["Authorization"] = self._header
        yield request


class LocalRegistryReader:
    """A local tracking store (``sqlite:``, ``file:``) through the ``mlflow`` package."""

    def __init__(self, tracking_uri: str) -> None:
        try:
            from mlflow import MlflowClient
        except ImportError as exc:
            raise RegistryError(
                f"MLFLOW_TRACKING_URI {tracking_uri!r} is a local store, which only the mlflow package reads "
                "(the inference extra installs no MLflow client): point it at an MLflow server"
            ) from exc
        self._uri = tracking_uri
        self._client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    def version_by_alias(self, name: str, alias: str) -> VersionRef:
        version = self._client.get_model_version_by_alias(name, alias)
        return VersionRef(version.name, str(version.version), version.run_id or None, dict(version.tags))

    def run_metrics(self, run_id: str) -> dict[str, float]:
        return dict(self._client.get_run(run_id).data.metrics)

    def run_artifact(self, run_id: str, path: str) -> bytes:
        from mlflow.artifacts import download_artifacts

        with tempfile.TemporaryDirectory(prefix="covertype-model-") as folder:
            local = download_artifacts(
                run_id=run_id, artifact_path=path, dst_path=folder, tracking_uri=self._uri
            )
            return Path(local).read_bytes()


def registry_reader(settings: Settings) -> RegistryReader:
    """The reader for the settings' tracking URI: REST for http(s), the mlflow package otherwise."""
    uri = settings.tracking_uri
    if uri.startswith(("http://", "https://")):
        return RestRegistryReader(uri, timeout=settings.http_timeout)
    return LocalRegistryReader(uri)
