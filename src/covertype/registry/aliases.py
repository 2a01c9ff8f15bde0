"""The registry's aliases: the serving alias (``champion``) and ``challenger``, and who moves them.

Training moves them by measurement (:func:`covertype.training.registry.promote_if_better` calls
:func:`set_alias`); :func:`promote_version` is the operator's lever beside it, used by ``covertype promote
--version N`` and the UI's Roll back. The inference API polls the alias, so it follows by itself. A
hand-made decision is written as tags on the version, like the pipeline's, so the registry keeps the
evidence of who moved the champion and why.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mlflow.exceptions import MlflowException

from covertype.registry import tags
from covertype.registry.client import does_not_exist, mlflow_client
from covertype.registry.versions import registered_version_numbers, set_version_tags, version_tags
from covertype.settings import Settings


class RefusedVersion(ValueError):
    """The version asked for cannot be made champion (the message says why)."""


class UnknownVersion(RefusedVersion):
    """The version asked for is not a registered version of the model."""


class IncompleteVersion(RefusedVersion):
    """The version's registration was interrupted (tag ``covertype.registration`` = ``incomplete``)."""


def champion_version(settings: Settings) -> str | None:
    """The version the serving alias points at, or None when there is none (or no model) yet."""
    try:
        aliases = mlflow_client(settings).get_registered_model(settings.model_name).aliases
    except MlflowException as exc:
        if does_not_exist(exc):
            return None
        raise
    version = aliases.get(settings.model_alias)
    return None if version is None else str(version)


def set_alias(settings: Settings, alias: str, version: str) -> None:
    """Point ``alias`` of the model at ``version`` (moved from wherever it pointed)."""
    mlflow_client(settings).set_registered_model_alias(settings.model_name, alias, version)


def promote_version(settings: Settings, version: str, *, reason: str | None = None) -> dict[str, Any]:
    """Give ``version`` the serving alias; ``rollback`` when it is older than the champion, else ``manual``.

    Raises :class:`UnknownVersion` (naming the versions that exist) when ``version`` is not registered, and
    :class:`IncompleteVersion` when its registration was interrupted.
    """
    version = str(version).strip()
    known = registered_version_numbers(settings)
    if version not in known:
        listed = ", ".join(sorted(known, key=int)) or "none"
        raise UnknownVersion(
            f"version {version!r} of model {settings.model_name!r} is not registered (registered: {listed})"
        )
    if version_tags(settings, version).get(tags.REGISTRATION_TAG) == tags.REGISTRATION_INCOMPLETE:
        raise IncompleteVersion(
            f"version {version} of model {settings.model_name!r} was left half-registered "
            f"({tags.REGISTRATION_TAG} = {tags.REGISTRATION_INCOMPLETE}: its registration was interrupted); "
            "it is never served"
        )
    previous = champion_version(settings)
    decision = tags.ROLLBACK if previous is not None and int(version) < int(previous) else tags.MANUAL
    why = reason or (
        f"{decision}: champion moved by hand from v{previous} to v{version}"
        if previous
        else f"{decision}: v{version} made champion by hand"
    )
    client = mlflow_client(settings)
    set_alias(settings, settings.model_alias, version)
    if tags.CHALLENGER_ALIAS in client.get_model_version(settings.model_name, version).aliases:
        client.delete_registered_model_alias(settings.model_name, tags.CHALLENGER_ALIAS)
    earlier = version_tags(settings, version).get(tags.DECISION_TAG)
    if earlier in tags.TRAINING_DECISIONS:  # keep what the training run decided beside the hand-made decision
        set_version_tags(settings, version, {tags.TRAINING_DECISION_TAG: earlier})
    set_version_tags(
        settings,
        version,
        {
            tags.DECISION_TAG: decision,
            tags.REASON_TAG: why,
            tags.CHAMPION_VERSION_TAG: previous or "",
            tags.PROMOTED_AT_TAG: datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )
    return {
        "version": version,
        "alias": settings.model_alias,
        "previous": previous,
        "decision": decision,
        "reason": why,
    }
