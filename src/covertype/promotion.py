"""Hand-made champion changes: point the serving alias at a chosen registered version.

The training pipeline promotes by measurement (:func:`covertype.training.registry.promote_if_better`);
this is the operator's lever beside it, used by ``covertype promote --version N`` and the UI's Roll back.
The inference API polls the alias, so it follows by itself. The decision is written as tags on the
version, like the pipeline's, so the registry keeps the evidence of who moved the champion and why.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode
from mlflow.tracking import MlflowClient

from covertype.settings import Settings

DECISION_TAG = "covertype.promotion_decision"
#: The decision a training run wrote, kept when a hand-made promotion overwrites ``DECISION_TAG``.
TRAINING_DECISION_TAG = "covertype.training_decision"
TRAINING_DECISIONS = ("promoted", "rejected")
#: Alias of the newest version that lost against the champion; a version made champion stops being it.
CHALLENGER_ALIAS = "challenger"


class UnknownVersion(ValueError):
    """The version asked for is not a registered version of the model."""


def promote_version(settings: Settings, version: str, *, reason: str | None = None) -> dict[str, Any]:
    """Give ``version`` the serving alias; ``rollback`` when it is older than the champion, else ``manual``.

    Raises :class:`UnknownVersion` (naming the versions that exist) when ``version`` is not registered.
    """
    version = str(version).strip()
    mlflow_client = client(settings)
    known = _registered_versions(settings)
    if version not in known:
        listed = ", ".join(sorted(known, key=int)) or "none"
        raise UnknownVersion(
            f"version {version!r} of model {settings.model_name!r} is not registered (registered: {listed})"
        )
    previous = champion_version(settings)
    decision = "rollback" if previous is not None and int(version) < int(previous) else "manual"
    why = reason or (
        f"{decision}: champion moved by hand from v{previous} to v{version}"
        if previous
        else f"{decision}: v{version} made champion by hand"
    )
    mlflow_client.set_registered_model_alias(settings.model_name, settings.model_alias, version)
    if mlflow_client.get_model_version(settings.model_name, version).aliases.count(CHALLENGER_ALIAS):
        mlflow_client.delete_registered_model_alias(settings.model_name, CHALLENGER_ALIAS)
    earlier = mlflow_client.get_model_version(settings.model_name, version).tags.get(DECISION_TAG)
    if earlier in TRAINING_DECISIONS:  # keep what the training run decided beside the hand-made decision
        mlflow_client.set_model_version_tag(settings.model_name, version, TRAINING_DECISION_TAG, earlier)
    for key, value in {
        DECISION_TAG: decision,
        "covertype.promotion_reason": why,
        "covertype.champion_version": previous or "",
        "covertype.promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }.items():
        mlflow_client.set_model_version_tag(settings.model_name, version, key, value)
    return {
        "version": version,
        "alias": settings.model_alias,
        "previous": previous,
        "decision": decision,
        "reason": why,
    }


def client(settings: Settings) -> MlflowClient:
    """A client on the settings' tracking server and model registry."""
    return MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)


def champion_version(settings: Settings) -> str | None:
    """The version the serving alias points at, or None when there is none (or no model) yet."""
    try:
        aliases = client(settings).get_registered_model(settings.model_name).aliases
    except MlflowException as exc:
        if exc.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            return None
        raise
    version = aliases.get(settings.model_alias)
    return None if version is None else str(version)


def _registered_versions(settings: Settings) -> set[str]:
    try:
        versions = client(settings).search_model_versions(f"name = '{settings.model_name}'")
    except MlflowException as exc:
        if exc.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            return set()
        raise
    return {str(v.version) for v in versions}
