"""The registry as one object: one MLflow client, the model's name and its aliases.

:class:`Registry` is built once by whoever composes the work (the CLI, a DAG task, the UI, a test) with
:meth:`Registry.from_settings`, and handed to training, monitoring and the UI. Its methods are the
registered model's: versions, their tags and files, the aliases; a run's figures and files are
:class:`~covertype.registry.runs.Runs` (:attr:`Registry.runs`). It is also the inference API's reader of a
local store (:class:`~covertype.registry.types.RegistryReader`). The client is built on the settings'
explicit URIs, never on MLflow's process-wide ones, so two settings in one process (tests, the demo)
never reach each other's registry.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from mlflow.artifacts import download_artifacts
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from covertype.registry.client import already_exists, does_not_exist, mlflow_client
from covertype.registry.runs import Runs
from covertype.registry.tags import CHALLENGER_ALIAS
from covertype.registry.types import VersionRef
from covertype.settings import Settings

log = logging.getLogger(__name__)


class Registry:
    """The registered model ``model_name`` on the tracking server at ``tracking_uri``, through one client.

    ``serving_alias`` is the alias the inference API serves (``champion``), ``challenger_alias`` the one
    a version gets when it loses against it.
    """

    challenger_alias = CHALLENGER_ALIAS

    def __init__(self, runs: Runs, *, model_name: str, serving_alias: str) -> None:
        self.runs = runs
        self.model_name = model_name
        self.serving_alias = serving_alias
        self._client = runs.client

    @classmethod
    def from_settings(cls, settings: Settings) -> Registry:
        """The registry of the settings' tracking URI, model name and serving alias."""
        runs = Runs(
            mlflow_client(settings),
            tracking_uri=settings.tracking_uri,
            experiment_name=settings.experiment_name,
            # A tracking server chooses its own artifact root; an embedded SQLite store would use ./mlruns.
            artifact_location=settings.mlflow_artifacts
            if settings.tracking_uri.startswith("sqlite:")
            else None,
        )
        return cls(runs, model_name=settings.model_name, serving_alias=settings.model_alias)

    @property
    def tracking_uri(self) -> str:
        return self.runs.tracking_uri

    # --- the aliases ------------------------------------------------------------------------------------
    def aliases(self) -> dict[str, str]:
        """Alias -> version of the model; empty when the model is not registered yet."""
        try:
            found = self._client.get_registered_model(self.model_name).aliases
        except MlflowException as exc:
            if does_not_exist(exc):
                return {}
            raise
        return {alias: str(version) for alias, version in found.items()}

    def champion_version(self) -> str | None:
        """The version the serving alias points at, or None when there is none (or no model) yet."""
        return self.aliases().get(self.serving_alias)

    def champion(self) -> ModelVersion | None:
        """The version the serving alias points at, with its tags and run; None when there is none yet."""
        version = self.champion_version()
        return None if version is None else self.version(version)

    def set_alias(self, alias: str, version: str) -> None:
        """Point ``alias`` at ``version`` (moved from wherever it pointed)."""
        self._client.set_registered_model_alias(self.model_name, alias, version)

    def delete_alias(self, alias: str) -> None:
        self._client.delete_registered_model_alias(self.model_name, alias)

    # --- versions ---------------------------------------------------------------------------------------
    def version(self, version: str) -> ModelVersion:
        """One version of the model: its tags, aliases, run and source."""
        return self._client.get_model_version(self.model_name, version)

    def versions(self) -> list[ModelVersion]:
        """Every version of the model (in the store's order); empty when the model is not registered yet."""
        try:
            return list(self._client.search_model_versions(f"name = '{self.model_name}'"))
        except MlflowException as exc:
            if does_not_exist(exc):
                return []
            raise

    def registered_version_numbers(self) -> set[str]:
        """The version numbers of the model; empty when the model is not registered yet."""
        return {str(version.version) for version in self.versions()}

    def version_tags(self, version: str) -> dict[str, str]:
        return dict(self.version(version).tags)

    def set_version_tags(self, version: str, tags: Mapping[str, str]) -> None:
        """Write ``tags`` on one version (each overwrites a tag of the same name)."""
        for key, value in tags.items():
            self._client.set_model_version_tag(self.model_name, version, key, value)

    def register_logged_model(self, *, model_uri: str, tags: Mapping[str, str]) -> str:
        """Register the logged model ``models:/<model_id>`` as a version of the model, once; its number.

        What ``mlflow.register_model`` does, with this client: the registered model is created on first
        use, and the version points at the logged model's artifacts, its run and its id. The source is the
        logged model's artifact location rather than ``models:/<model_id>``, which MLflow's local (SQL)
        registry store would resolve through the process-wide tracking URI.

        Idempotent: when a version of this logged model exists already (a retried registration whose first
        attempt died after creating it), that version gets ``tags`` and is returned; no second one is made.
        """
        model_id = model_uri.removeprefix("models:/")
        logged = self._client.get_logged_model(model_id)
        self.ensure_model()
        existing = self._version_of_logged_model(model_id, logged.source_run_id, logged.artifact_location)
        if existing is not None:
            log.warning(
                "version %s of %s was registered from %s already (a retried registration): completing tags",
                existing,
                self.model_name,
                model_uri,
            )
            self.set_version_tags(existing, tags)
            return existing
        version = self._client.create_model_version(
            self.model_name,
            source=logged.artifact_location,
            run_id=logged.source_run_id,
            tags=dict(tags),
            model_id=model_id,
        )
        return str(version.version)

    def _version_of_logged_model(self, model_id: str, run_id: str | None, source: str) -> str | None:
        """The (lowest) version registered from the logged model ``model_id`` (of run ``run_id``), or None."""
        of_run = f" and run_id = '{run_id}'" if run_id else ""
        found = self._client.search_model_versions(f"name = '{self.model_name}'{of_run}")
        numbers = [
            int(version.version)
            for version in found
            if version.model_id == model_id or (not version.model_id and version.source == source)
        ]
        return str(min(numbers)) if numbers else None

    def download_version(self, version: str, folder: Path) -> Path:
        """Download the model files of one version into ``folder``; the local path of the model.

        The version's storage location comes from the client, not from a ``models:/`` URI: MLflow resolves
        those through the process-wide registry URI in places, whatever ``registry_uri`` says.
        """
        location = self._client.get_model_version_download_uri(self.model_name, version)
        return Path(
            download_artifacts(artifact_uri=location, dst_path=str(folder), tracking_uri=self.tracking_uri)
        )

    def download_run_artifacts(self, run_id: str, path: str, folder: Path) -> Path:
        """Download the artifacts at ``path`` of run ``run_id`` into ``folder``; their local path."""
        return Path(
            download_artifacts(
                run_id=run_id, artifact_path=path, dst_path=str(folder), tracking_uri=self.tracking_uri
            )
        )

    # --- the registered model ---------------------------------------------------------------------------
    def ensure_model(self) -> None:
        """Create the registered model when it does not exist."""
        try:
            self._client.create_registered_model(self.model_name)
        except MlflowException as exc:
            if not already_exists(exc):
                raise

    def model_tag(self, key: str) -> str | None:
        """One tag of the registered model; None when the tag or the model does not exist."""
        try:
            model = self._client.get_registered_model(self.model_name)
        except MlflowException as exc:
            if does_not_exist(exc):
                return None
            raise
        tag: str | None = model.tags.get(key)
        return tag

    def set_model_tags(self, tags: Mapping[str, str]) -> None:
        for key, value in tags.items():
            self._client.set_registered_model_tag(self.model_name, key, value)

    # --- what the inference API reads of a local store (RegistryReader) ---------------------------------
    def version_by_alias(self, name: str, alias: str) -> VersionRef:
        version = self._client.get_model_version_by_alias(name, alias)
        return VersionRef(version.name, str(version.version), version.run_id or None, dict(version.tags))

    def run_metrics(self, run_id: str) -> dict[str, float]:
        return self.runs.metrics(run_id)

    def run_artifact(self, run_id: str, path: str) -> bytes:
        return self.runs.artifact(run_id, path)
