"""Settings: defaults derived from the data dir, and the environment that hands them to a child process."""

from __future__ import annotations

from pathlib import Path

import pytest

from covertype.settings import Settings


def test_paths_and_urls_default_under_the_data_dir(tmp_path: Path) -> None:
    # Explicit Nones: the test process's environment (other tests set MLFLOW_TRACKING_URI) must not count.
    settings = Settings(
        data_dir=tmp_path, state_path=None, database_url=None, mlflow_tracking_uri=None, snapshot_uri=None
    )
    assert settings.state_file == tmp_path / "data-api-state.sqlite"
    assert settings.database == f"sqlite:///{tmp_path / 'covertype.db'}"
    assert settings.tracking_uri == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    assert settings.snapshots == str(tmp_path / "snapshots")


def test_to_env_gives_a_child_the_same_settings_and_shields_it_from_the_parents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = Settings(
        data_dir=tmp_path, groups=3, batch_interval=1.5, data_source="/data/x.csv", api_token="t"
    )
    monkeypatch.setenv("COVERTYPE_DATABASE_URL", "mysql+pymysql://someone@elsewhere/covertype")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://elsewhere:5000")
    for key, value in parent.to_env().items():
        monkeypatch.setenv(key, value)

    child = Settings()

    assert child.model_dump() == {
        **parent.model_dump(),
        "state_path": parent.state_file,
        "database_url": parent.database,
        "mlflow_tracking_uri": parent.tracking_uri,
        "snapshot_uri": parent.snapshots,
    }
