"""``promote_version`` and ``covertype promote`` on a real (SQLite) MLflow registry with two versions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pandas as pd
import pytest
from typer.testing import CliRunner

from covertype import cli
from covertype.cli import PROMOTED_NOT_RELOADED, PROMOTED_THEN_MOVED
from covertype.dataset import load_dataset
from covertype.inference import model_holder
from covertype.inference.model_holder import ModelHolder
from covertype.processes import unused_port
from covertype.registry import aliases, tags
from covertype.registry.aliases import (
    IncompleteVersion,
    UnknownVersion,
    promote_version,
)
from covertype.registry.client import mlflow_client
from covertype.registry.core import Registry
from covertype.registry.reader import registry_reader
from covertype.settings import Settings
from support.inference import inference_server, registry_settings, train_version

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
    return subprocess.run(
        [COVERTYPE, "promote", *args],
        env=settings.child_environ(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _nowhere(settings: Settings) -> Settings:
    """``settings`` with the inference API on a port nothing listens on."""
    return settings.model_copy(update={"inference_api_url": f"http://127.0.0.1:{unused_port()}"})


def test_rolling_back_moves_the_alias_and_records_the_decision(two_versions: Settings) -> None:
    settings = two_versions
    assert Registry.from_settings(settings).champion_version() == "2"
    result = promote_version(Registry.from_settings(settings), "1", reason="v2 looks worse on Cache")
    assert result == {
        "version": "1",
        "alias": "champion",
        "previous": "2",
        "decision": "rollback",
        "reason": "v2 looks worse on Cache",
    }
    assert Registry.from_settings(settings).champion_version() == "1"
    tags = mlflow_client(settings).get_model_version(settings.model_name, "1").tags
    assert tags["covertype.promotion_decision"] == "rollback"
    assert tags["covertype.promotion_reason"] == "v2 looks worse on Cache"
    assert tags["covertype.training_decision"] == "promoted"  # what training decided is kept
    assert tags["covertype.champion_version"] == "2"

    forward = promote_version(Registry.from_settings(settings), "2")
    assert forward["decision"] == "manual" and forward["previous"] == "1"
    assert forward["reason"] == "manual: champion moved by hand from v1 to v2"
    assert Registry.from_settings(settings).champion_version() == "2"


def test_a_challenger_made_champion_is_no_longer_the_challenger(two_versions: Settings) -> None:
    settings = two_versions
    client = mlflow_client(settings)
    client.set_registered_model_alias(settings.model_name, "challenger", "1")
    promote_version(Registry.from_settings(settings), "1")
    assert client.get_model_version(settings.model_name, "1").aliases == ["champion"]
    promote_version(
        Registry.from_settings(settings), "2"
    )  # leave the module's registry as the other tests expect it


@pytest.mark.parametrize("version", ["7", "abc", ""])
def test_an_unknown_version_is_refused_and_the_champion_stays(two_versions: Settings, version: str) -> None:
    before = Registry.from_settings(two_versions).champion_version()
    with pytest.raises(UnknownVersion, match=r"is not registered \(registered: 1, 2\)"):
        promote_version(Registry.from_settings(two_versions), version)
    assert Registry.from_settings(two_versions).champion_version() == before


def test_a_half_registered_version_is_never_made_champion_by_hand(two_versions: Settings) -> None:
    settings = two_versions
    client = mlflow_client(settings)
    before = Registry.from_settings(settings).champion_version()
    client.set_model_version_tag(
        settings.model_name, "1", tags.REGISTRATION_TAG, tags.REGISTRATION_INCOMPLETE
    )
    try:
        with pytest.raises(IncompleteVersion, match="version 1 of model .* was left half-registered"):
            promote_version(Registry.from_settings(settings), "1")
        assert Registry.from_settings(settings).champion_version() == before
        refused = _cli(settings, "--version", "1")
        assert refused.returncode == 1 and "half-registered" in refused.stderr, refused.stderr
    finally:
        client.delete_model_version_tag(settings.model_name, "1", tags.REGISTRATION_TAG)


def test_cli_promote_prints_the_decision_and_refuses_a_missing_version(two_versions: Settings) -> None:
    before = Registry.from_settings(two_versions).champion_version()
    target = "1" if before == "2" else "2"
    settings = _nowhere(two_versions)
    done = _cli(settings, "--version", target, "--reason", "from the shell")
    assert f'"version": "{target}"' in done.stdout and '"reason": "from the shell"' in done.stdout
    assert Registry.from_settings(two_versions).champion_version() == target
    # No inference API answers: the alias moved, and the command says the API will follow on its own.
    assert done.returncode == PROMOTED_NOT_RELOADED, done.stderr
    assert done.stderr.startswith(
        f"error: champion moved to v{target}, but the inference API at "
        f"{settings.inference_api_url}/model/reload could not be reached: "
    )
    assert done.stderr.rstrip().endswith("picks the version up on its next poll (every 0.5 s)")
    assert "Traceback" not in done.stderr

    refused = _cli(settings, "--version", "42")
    assert refused.returncode == 1
    assert "error: version '42' of model 'covertype' is not registered (registered: 1, 2)" in refused.stderr
    assert "Traceback" not in refused.stderr + refused.stdout
    assert Registry.from_settings(two_versions).champion_version() == target


def test_cli_promote_returns_once_the_inference_api_serves_the_version(two_versions: Settings) -> None:
    """The API polls once an hour here: only the reload ``covertype promote`` asks for can switch it."""
    client = mlflow_client(two_versions)
    client.set_registered_model_alias(two_versions.model_name, two_versions.model_alias, "2")
    settings = two_versions.model_copy(update={"model_poll_interval": 3600.0, "api_token": "s3cret"})
    with inference_server(settings) as url:
        assert httpx.get(f"{url}/ready").json()["detail"] == "serving covertype version 2"
        operator = settings.model_copy(update={"inference_api_url": url})

        done = _cli(operator, "--version", "1")

        assert done.returncode == 0, done.stderr
        assert httpx.get(f"{url}/ready").json()["detail"] == "serving covertype version 1"
        assert json.loads(done.stdout)["served"] == {"url": url, "version": "1"}

        wrong_token = _cli(operator.model_copy(update={"api_token": "guess"}), "--version", "2")
        assert wrong_token.returncode == PROMOTED_NOT_RELOADED
        assert "error: champion moved to v2, but the inference API answered 401: " in wrong_token.stderr
        assert httpx.get(f"{url}/ready").json()["detail"] == "serving covertype version 1"


def test_cli_promote_says_so_when_the_alias_moved_again_before_the_api_reloaded(
    two_versions: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A training run promotes v2 between the operator's roll back to v1 and the reload: the real API
    reloads the alias and serves v2, and ``covertype promote`` exits 4 naming the version served."""
    client = mlflow_client(two_versions)
    client.set_registered_model_alias(two_versions.model_name, two_versions.model_alias, "2")
    settings = two_versions.model_copy(update={"model_poll_interval": 3600.0})
    real_promote = aliases.promote_version

    def then_training_promotes_v2(registry: Registry, version: str, **options: str | None) -> dict[str, str]:
        result = real_promote(registry, version, **options)
        registry.set_alias(registry.serving_alias, "2")
        return result

    with inference_server(settings) as url:
        operator = settings.model_copy(update={"inference_api_url": url})
        monkeypatch.setattr(cli, "get_settings", lambda: operator)
        monkeypatch.setattr(aliases, "promote_version", then_training_promotes_v2)

        done = CliRunner().invoke(cli.app, ["promote", "--version", "1"])

        assert done.exit_code == PROMOTED_THEN_MOVED, done.output
        assert json.loads(done.stdout)["served"] == {"url": url, "version": "2"}
        assert done.stderr == (
            f"error: champion moved to v1, but the inference API at {url} serves v2: the alias moved "
            "again before it reloaded (a training run promoted?)\n"
        )
        assert httpx.get(f"{url}/ready").json()["detail"] == "serving covertype version 2"
    assert Registry.from_settings(two_versions).champion_version() == "2"


def test_a_poll_that_read_the_alias_before_a_roll_back_does_not_serve_the_version_rolled_back(
    two_versions: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API serves v1, training has just promoted v2, and an operator rolls back to v1 while the
    API's poll is downloading v2: the API must stay on v1 (it served v2 until its next poll)."""
    settings = two_versions
    client = mlflow_client(settings)
    client.set_registered_model_alias(settings.model_name, settings.model_alias, "1")
    registry = registry_reader(settings)

    class RollBackDuringDownload:
        """The real registry; the operator's roll back lands while a graph of v2 is downloaded."""

        version_by_alias = registry.version_by_alias
        run_metrics = registry.run_metrics

        def run_artifact(self, run_id: str, path: str) -> bytes:
            graph = registry.run_artifact(run_id, path)
            if Registry.from_settings(settings).champion_version() == "2":
                promote_version(Registry.from_settings(settings), "1", reason="v2 misclassifies Cache stands")
            return graph

    monkeypatch.setattr(model_holder, "registry_reader", lambda _: RollBackDuringDownload())
    holder = ModelHolder(settings)
    assert holder.refresh() is True and holder.require().version == "1"
    client.set_registered_model_alias(settings.model_name, settings.model_alias, "2")  # training promotes v2

    assert holder.refresh() is False  # the poll that read v2 before the roll back
    assert Registry.from_settings(settings).champion_version() == "1"
    assert holder.require().version == "1"
