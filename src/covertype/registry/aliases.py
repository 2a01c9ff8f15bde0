"""The registry's aliases: the serving alias (``champion``) and ``challenger``, and who moves them.

Training moves them by measurement (:func:`covertype.training.promotion.promote_if_better` calls
``Registry.set_alias``); :func:`promote_version` is the operator's lever beside it, used by
``covertype promote --version N`` and the UI's Roll back. The inference API polls the alias, so it
follows by itself. A hand-made decision is written as tags on the version, like the pipeline's, so the
registry keeps the evidence of who moved the champion and why.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from covertype.registry import tags
from covertype.registry.core import Registry


class RefusedVersion(ValueError):
    """The version asked for cannot be made champion (the message says why)."""


class UnknownVersion(RefusedVersion):
    """The version asked for is not a registered version of the model."""


class IncompleteVersion(RefusedVersion):
    """The version's registration was interrupted (tag ``covertype.registration`` = ``incomplete``)."""


def promote_version(registry: Registry, version: str, *, reason: str | None = None) -> dict[str, Any]:
    """Give ``version`` the serving alias; ``rollback`` when it is older than the champion, else ``manual``.

    Raises :class:`UnknownVersion` (naming the versions that exist) when ``version`` is not registered, and
    :class:`IncompleteVersion` when its registration was interrupted.
    """
    version = str(version).strip()
    known = registry.registered_version_numbers()
    if version not in known:
        listed = ", ".join(sorted(known, key=int)) or "none"
        raise UnknownVersion(
            f"version {version!r} of model {registry.model_name!r} is not registered (registered: {listed})"
        )
    found = registry.version(version)
    if found.tags.get(tags.REGISTRATION_TAG) == tags.REGISTRATION_INCOMPLETE:
        raise IncompleteVersion(
            f"version {version} of model {registry.model_name!r} was left half-registered "
            f"({tags.REGISTRATION_TAG} = {tags.REGISTRATION_INCOMPLETE}: its registration was interrupted); "
            "it is never served"
        )
    previous = registry.champion_version()
    decision = tags.ROLLBACK if previous is not None and int(version) < int(previous) else tags.MANUAL
    why = reason or (
        f"{decision}: champion moved by hand from v{previous} to v{version}"
        if previous
        else f"{decision}: v{version} made champion by hand"
    )
    registry.set_alias(registry.serving_alias, version)
    if registry.challenger_alias in found.aliases:
        registry.delete_alias(registry.challenger_alias)
    earlier = found.tags.get(tags.DECISION_TAG)
    if earlier in tags.TRAINING_DECISIONS:  # keep what the training run decided beside the hand-made decision
        registry.set_version_tags(version, {tags.TRAINING_DECISION_TAG: earlier})
    registry.set_version_tags(
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
        "alias": registry.serving_alias,
        "previous": previous,
        "decision": decision,
        "reason": why,
    }
