"""A training run's promotion against a user's roll back made while the champion is re-scored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from covertype.dataset import load_dataset
from covertype.registry.aliases import promote_version
from covertype.registry.core import Registry
from covertype.training import promotion
from support.inference import registry_settings, train_version


def test_a_roll_back_made_during_the_comparison_is_not_overwritten(
    tmp_path: Path, sample_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """v2 is champion; training compares v3 with v2 while the user rolls back to v1: v1 stays champion."""
    frame: pd.DataFrame = load_dataset(sample_csv).head(600)
    settings = registry_settings(tmp_path, promotion_margin=1.0)  # v2 and v3 lose: no alias moves by itself
    for _ in range(3):
        train_version(settings, frame, candidates="logreg")
    registry = Registry.from_settings(settings)
    promote_version(registry, "2")
    real_right_answers = promotion._right_answers

    def rolled_back_while_scoring(*args: Any) -> Any:
        scored = real_right_answers(*args)
        promote_version(registry, "1", reason="v2 misclassifies Cache stands")  # the user, meanwhile
        return scored

    monkeypatch.setattr(promotion, "_right_answers", rolled_back_while_scoring)
    outcome = promotion.promote_if_better(
        settings.model_copy(update={"promotion_margin": 0.0}),
        registry,
        version="3",
        holdout_accuracy=1.0,  # v3 claims a perfect score: it beats v2 unless the roll back is noticed
        holdout=frame.tail(200),
    )

    assert registry.champion_version() == "1"
    assert outcome.decision == "superseded" and outcome.alias is None and not outcome.promoted
    assert outcome.champion_version == "2"
    labels = registry.version_tags("3")
    assert labels["covertype.promotion_decision"] == "superseded"
    assert labels["covertype.promotion_reason"].startswith("accuracy ")
    assert " beats champion v2 " in labels["covertype.promotion_reason"]
    assert labels["covertype.promotion_reason"].endswith(
        "; but the champion changed during the comparison (v2 -> v1, a roll back); not promoted"
    )
    assert labels["covertype.champion_version"] == "2"
    rolled_back = registry.version_tags("1")
    assert rolled_back["covertype.promotion_decision"] == "rollback"
