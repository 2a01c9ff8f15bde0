"""The inference API's reader of a local tracking store (``sqlite:``, ``file:``): development and tests.

It needs the ``mlflow`` package, which the inference extra does not install:
:func:`~covertype.registry.reader.registry_reader` imports this module only for a local tracking URI.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from mlflow.artifacts import download_artifacts

from covertype.registry.client import mlflow_client
from covertype.registry.reader import VersionRef
from covertype.settings import Settings


class LocalRegistryReader:
    """A local tracking store (``sqlite:``, ``file:``) through the ``mlflow`` package."""

    def __init__(self, settings: Settings) -> None:
        self._uri = settings.tracking_uri
        self._client = mlflow_client(settings)

    def version_by_alias(self, name: str, alias: str) -> VersionRef:
        version = self._client.get_model_version_by_alias(name, alias)
        return VersionRef(version.name, str(version.version), version.run_id or None, dict(version.tags))

    def run_metrics(self, run_id: str) -> dict[str, float]:
        return dict(self._client.get_run(run_id).data.metrics)

    def run_artifact(self, run_id: str, path: str) -> bytes:
        with tempfile.TemporaryDirectory(prefix="covertype-model-") as folder:
            local = download_artifacts(
                run_id=run_id, artifact_path=path, dst_path=folder, tracking_uri=self._uri
            )
            return Path(local).read_bytes()
