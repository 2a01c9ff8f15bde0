"""``promote_version`` and ``covertype promote`` on a real (SQLite) MLflow registry with two versions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from covertype.dataset import load_dataset
from covertype.registry.aliases import UnknownVersion, champion_version, promote_version
from covertype.registry.client import mlflow_client
from covertype.settings import Settings
from support.inference import registry_settings, train_version

COVERTYPE = str(Path(sys.executable).parent / "covertype")


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory: pytest.TempPathFactory, sample_csv: Path) -> Settings:
    """A registry with v1 and v2 (v2 champion, v1 carrying a training decision)."""
    settings = registry_settings(tmp_path_factory.mktemp("registry"))
    frame: pd.DataFrame = load_dataset(sample_csv).head(600)
    first = train_version(settings, frame, candidates="logreg")["registered"]["version"]
    mlflow_client(settings).set_model_version_tag(
        settings.model_name, first, "covertype.promotion_decision", "promoted"
    )
    second = train_version(settings, frame, candidates="logreg")["registered"]["version"]
    mlflow_client(settings).set_registered_model_alias(settings.model_name, settings.model_alias, second)
    return settings


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COVERTYPE_", "MLFLOW_"))}
    env.update({"COVERTYPE_DATA_DIR": str(settings.data_dir), "MLFLOW_TRACKING_URI": settings.tracking_uri})
    return subprocess.run([COVERTYPE, "promote", *args], env=env, capture_output=True, text=True, timeout=120)


def test_rolling_back_moves_the_alias_and_records_the_decision(two_versions: Settings) -> None:
    settings = two_versions
    assert champion_version(settings) == "2"
    result = promote_version(settings, "1", reason="v2 looks worse on Cache")
    assert result == {
        "version": "1",
        "alias": "champion",
        "previous": "2",
        "decision": "rollback",
        "reason": "v2 looks worse on Cache",
    }
    assert champion_version(settings) == "1"
    tags = mlflow_client(settings).get_model_version(settings.model_name, "1").tags
    assert tags["covertype.promotion_decision"] == "rollback"
    assert tags["covertype.promotion_reason"] == "v2 looks worse on Cache"
    assert tags["covertype.training_decision"] == "promoted"  # what training decided is kept
    assert tags["covertype.champion_version"] == "2"

    forward = promote_version(settings, "2")
    assert forward["decision"] == "manual" and forward["previous"] == "1"
    assert forward["reason"] == "manual: champion moved by hand from v1 to v2"
    assert champion_version(settings) == "2"


def test_a_challenger_made_champion_is_no_longer_the_challenger(two_versions: Settings) -> None:
    settings = two_versions
    client = mlflow_client(settings)
    client.set_registered_model_alias(settings.model_name, "challenger", "1")
    promote_version(settings, "1")
    assert client.get_model_version(settings.model_name, "1").aliases == ["champion"]
    promote_version(settings, "2")  # leave the module's registry as the other tests expect it


@pytest.mark.parametrize("version", ["7", "abc", ""])
def test_an_unknown_version_is_refused_and_the_champion_stays(two_versions: Settings, version: str) -> None:
    before = champion_version(two_versions)
    with pytest.raises(UnknownVersion, match=r"is not registered \(registered: 1, 2\)"):
        promote_version(two_versions, version)
    assert champion_version(two_versions) == before


def test_cli_promote_prints_the_decision_and_refuses_a_missing_version(two_versions: Settings) -> None:
    before = champion_version(two_versions)
    target = "1" if before == "2" else "2"
    done = _cli(two_versions, "--version", target, "--reason", "from the shell")
    assert done.returncode == 0, done.stderr
    assert f'"version": "{target}"' in done.stdout and '"reason": "from the shell"' in done.stdout
    assert champion_version(two_versions) == target

    refused = _cli(two_versions, "--version", "42")
    assert refused.returncode == 1
    assert "error: version '42' of model 'covertype' is not registered (registered: 1, 2)" in refused.stderr
    assert "Traceback" not in refused.stderr + refused.stdout
    assert champion_version(two_versions) == target
