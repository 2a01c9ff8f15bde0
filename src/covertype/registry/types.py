"""What every reader of the registry shares: a version as the inference API needs it, errors, the protocol.

Two implementations read the registry for the inference API:
:class:`~covertype.registry.reader.RestRegistryReader` (MLflow's REST API over httpx, for an MLflow server)
and :class:`~covertype.registry.core.Registry` (the ``mlflow`` client, for a local store);
:func:`~covertype.registry.reader.registry_reader` picks one.
Imports neither ``mlflow`` nor ``httpx``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class VersionRef:
    """One registered model version as the service needs it."""

    name: str
    version: str
    run_id: str | None
    tags: dict[str, str] = field(default_factory=dict)


class RegistryError(RuntimeError):
    """The registry answered with an error (the message carries MLflow's code and text)."""


class RegistryNotFound(RegistryError):
    """The registry has no such model, version or alias (MLflow's ``RESOURCE_DOES_NOT_EXIST``)."""


class RegistryUnreachable(RegistryError):
    """No answer from the registry's address (refused, unknown host, timeout); the message names it."""


class RegistryReader(Protocol):
    """What the inference API reads: the alias's version, a run's metrics, one artifact of a run."""

    def version_by_alias(self, name: str, alias: str) -> VersionRef: ...

    def run_metrics(self, run_id: str) -> dict[str, float]: ...

    def run_artifact(self, run_id: str, path: str) -> bytes: ...
