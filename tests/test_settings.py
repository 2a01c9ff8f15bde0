"""Settings: defaults derived from the data dir, and the environment that hands them to a child process."""

from __future__ import annotations

import os
import subprocess
import sys
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


def _non_default_settings(tmp_path: Path) -> Settings:
    """Every field away from its default: paths, URLs on other ports, short intervals, lists, secrets."""
    return Settings(
        data_source=str(tmp_path / "data set.csv"),
        groups=4,
        batches=7,
        batch_interval=0.25,
        sample_fraction=0.3,
        seed=1234,
        data_dir=tmp_path / "data",
        state_path=tmp_path / "state.sqlite",
        database_url="mysql+pymysql://covertype:p%40ss@db.example:3307/covertype",
        data_api_url="http://10.0.0.5:18000",
        group=3,
        http_timeout=2.5,
        http_retries=2,
        http_backoff=0.1,
        mlflow_tracking_uri="http://mlflow.example:15000",
        mlflow_ui_url="https://mlflow.example/ui",
        experiment_name="exp",
        model_name="forest",
        model_alias="prod",
        snapshot_uri="s3://bucket/prefix",
        minio_endpoint="minio:19000",
        minio_access_key="access",
        minio_secret_key="s3cr=t with spaces & ünïcode",
        minio_secure=True,
        holdout_fraction=0.15,
        train_time_budget=7.5,
        search_rows=12_345,
        refit_threads=3,
        candidates="logreg, hgb,extra_trees",
        min_new_rows=0,
        promotion_margin=0.01,
        final_fit_max_rows=5_000,
        max_model_mb=12.5,
        max_batch_ms=22.5,
        model_poll_interval=0.5,
        max_batch_records=17,
        max_body_bytes=4_096,
        onnx_threads=3,
        api_token="tok$en'\"",
        inference_api_url="http://10.0.0.6:18001",
        airflow_api_url="http://10.0.0.7:18080",
        airflow_username="operator",
        airflow_password="pa:ss",
        migration_database_url="mysql+pymysql://root:r%40@db.example:13306/covertype",
        drift_threshold=0.35,
        drift_significance=0.01,
        training_niceness=5,
        accuracy_drop=0.05,
        pushgateway_url="http://pushgateway.example:19091",
    )


def _settings_of_child(environ: dict[str, str]) -> Settings:
    """What ``get_settings()`` reads in a real child process given ``environ``."""
    code = "from covertype.settings import get_settings; print(get_settings().model_dump_json())"
    result = subprocess.run(
        [sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=120, check=True
    )
    return Settings.model_validate_json(result.stdout)


def test_every_setting_reaches_a_child_process_unchanged(tmp_path: Path) -> None:
    parent = _non_default_settings(tmp_path)
    assert all(
        getattr(parent, name) != field.get_default(call_default_factory=True)
        for name, field in Settings.model_fields.items()
    ), "every field must differ from its default, or the round trip proves nothing for it"

    child = _settings_of_child(parent.child_environ(os.environ))

    assert child == parent
    assert child.candidate_names == ["logreg", "hgb", "extra_trees"]


def test_a_setting_left_unset_does_not_come_back_from_the_parents_environment(tmp_path: Path) -> None:
    parent = Settings(data_dir=tmp_path, data_source=None, api_token=None, mlflow_ui_url=None)
    inherited = {
        **os.environ,
        "COVERTYPE_DATA_SOURCE": "/elsewhere.csv",
        "covertype_api_token": "stale",  # read case-insensitively, so dropped case-insensitively
        "COVERTYPE_MLFLOW_UI_URL": "http://elsewhere",
        "COVERTYPE_MLFLOW_READER_PASSWORD": "kept",  # not a setting: inherited as is
    }

    environ = parent.child_environ(inherited)

    assert environ["COVERTYPE_MLFLOW_READER_PASSWORD"] == "kept"
    assert _settings_of_child(environ).model_dump() == {
        **parent.model_dump(),
        "state_path": parent.state_file,
        "database_url": parent.database,
        "mlflow_tracking_uri": parent.tracking_uri,
        "snapshot_uri": parent.snapshots,
    }
