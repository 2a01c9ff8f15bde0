"""Registered versions of the model: register a logged model, read and write tags, list, download.

Every call goes through :func:`~covertype.registry.client.mlflow_client`, never through MLflow's
process-wide URIs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from mlflow.artifacts import download_artifacts
from mlflow.exceptions import MlflowException

from covertype.registry.client import already_exists, does_not_exist, mlflow_client
from covertype.settings import Settings

log = logging.getLogger(__name__)


def register_logged_model(settings: Settings, *, model_uri: str, tags: Mapping[str, str]) -> str:
    """Register the logged model ``models:/<model_id>`` as a version of ``settings.model_name``, once.

    What ``mlflow.register_model`` does, with the settings' client: the registered model is created on
    first use, and the version points at the logged model's artifacts, its run and its id. The source is
    the logged model's artifact location rather than ``models:/<model_id>``, which MLflow's local (SQL)
    registry store would resolve through the process-wide tracking URI. Returns the version number.

    Idempotent: when a version of this logged model exists already (a retried registration whose first
    attempt died after creating it), that version gets ``tags`` and is returned; no second one is made.
    """
    client = mlflow_client(settings)
    model_id = model_uri.removeprefix("models:/")
    logged = client.get_logged_model(model_id)
    try:
        client.create_registered_model(settings.model_name)
    except MlflowException as exc:
        if not already_exists(exc):
            raise
    existing = _version_of_logged_model(
        settings, model_id=model_id, run_id=logged.source_run_id, source=logged.artifact_location
    )
    if existing is not None:
        log.warning(
            "version %s of %s was registered from %s already (a retried registration): completing its tags",
            existing,
            settings.model_name,
            model_uri,
        )
        set_version_tags(settings, existing, tags)
        return existing
    version = client.create_model_version(
        settings.model_name,
        source=logged.artifact_location,
        run_id=logged.source_run_id,
        tags=dict(tags),
        model_id=model_id,
    )
    return str(version.version)


def _version_of_logged_model(settings: Settings, *, model_id: str, run_id: str, source: str) -> str | None:
    """The (lowest) version of the model registered from the logged model ``model_id``, or None."""
    found = mlflow_client(settings).search_model_versions(
        f"name = '{settings.model_name}' and run_id = '{run_id}'"
    )
    numbers = [
        int(version.version)
        for version in found
        if version.model_id == model_id or (not version.model_id and version.source == source)
    ]
    return str(min(numbers)) if numbers else None


def registered_version_numbers(settings: Settings) -> set[str]:
    """The version numbers of the model; empty when the model is not registered yet."""
    try:
        versions = mlflow_client(settings).search_model_versions(f"name = '{settings.model_name}'")
    except MlflowException as exc:
        if does_not_exist(exc):
            return set()
        raise
    return {str(version.version) for version in versions}


def version_tags(settings: Settings, version: str) -> dict[str, str]:
    """The tags of one version of the model."""
    return dict(mlflow_client(settings).get_model_version(settings.model_name, version).tags)


def set_version_tags(settings: Settings, version: str, tags: Mapping[str, str]) -> None:
    """Write ``tags`` on one version of the model (each overwrites a tag of the same name)."""
    client = mlflow_client(settings)
    for key, value in tags.items():
        client.set_model_version_tag(settings.model_name, version, key, value)


def download_version(settings: Settings, version: str, folder: Path) -> Path:
    """Download the model files of one version into ``folder``; the local path of the model.

    The version's storage location comes from the client, not from a ``models:/`` URI: MLflow resolves
    those through the process-wide registry URI in places, whatever ``registry_uri`` says.
    """
    location = mlflow_client(settings).get_model_version_download_uri(settings.model_name, version)
    return Path(
        download_artifacts(artifact_uri=location, dst_path=str(folder), tracking_uri=settings.tracking_uri)
    )


def model_tag(settings: Settings, key: str) -> str | None:
    """One tag of the registered model; None when the tag or the model does not exist."""
    try:
        model = mlflow_client(settings).get_registered_model(settings.model_name)
    except MlflowException as exc:
        if does_not_exist(exc):
            return None
        raise
    return model.tags.get(key)


def set_model_tags(settings: Settings, tags: Mapping[str, str]) -> None:
    """Write ``tags`` on the registered model."""
    client = mlflow_client(settings)
    for key, value in tags.items():
        client.set_registered_model_tag(settings.model_name, key, value)
