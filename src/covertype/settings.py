"""One settings object for every part of covertype, read from the environment once.

Variable names are ``COVERTYPE_*`` plus MLflow's own ``MLFLOW_TRACKING_URI``; the README's settings table
(Configuration) lists them all.
Tests build their own ``Settings(...)`` instead of patching the environment.

Settings reach a child process one way: the parent writes them out with :meth:`Settings.to_env` (or a
whole environment with :meth:`Settings.child_environ`) and the child reads them back with
:func:`get_settings`. The local stack, the demo and the API servers' worker processes all do so.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from covertype.schema import CANDIDATE_NAMES


def _default_data_dir() -> Path:
    return Path.cwd() / ".covertype"


class Settings(BaseSettings):
    """Every knob of the system, with its type and default."""

    model_config = SettingsConfigDict(env_prefix="COVERTYPE_", extra="ignore", populate_by_name=True)

    # -- data source and the data API's schedule
    data_source: str | None = Field(
        None, description="path or URL of the dataset; None = scikit-learn download"
    )
    groups: int = Field(10, ge=1, le=1000, description="number of groups the data API serves (1..N)")
    batches: int = Field(10, ge=1, le=10_000, description="batches per group")
    batch_interval: float = Field(300.0, ge=0, description="seconds before a group's next poll moves on")
    sample_fraction: float = Field(
        0.1, gt=0, le=1, description="share of a batch's slice returned by one poll"
    )
    seed: int = Field(42, description="seed for shuffling and sampling")

    # -- local state
    data_dir: Path = Field(
        default_factory=_default_data_dir, description="local data dir of the embedded default"
    )
    state_path: Path | None = Field(None, description="the data API's state (SQLite file)")
    database_url: str | None = Field(None, description="SQLAlchemy URL of the training-data store")
    migration_database_url: str | None = Field(
        None, description="privileged URL `covertype db upgrade` migrates the store with; default the store's"
    )

    # -- ingestion
    data_api_url: str = Field("http://127.0.0.1:8000", description="where ingestion polls")
    group: int = Field(1, ge=1, description="the group this deployment polls")
    http_timeout: float = Field(30.0, gt=0, description="seconds before a data API request times out")
    http_retries: int = Field(5, ge=1, description="attempts for network errors and 5xx answers")
    http_backoff: float = Field(1.0, ge=0, description="seconds before the first retry; doubles each time")

    # -- training
    mlflow_tracking_uri: str | None = Field(
        None, validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "mlflow_tracking_uri")
    )
    mlflow_ui_url: str | None = Field(
        None, description="where browsers reach the MLflow UI; default the tracking URI when it is http(s)"
    )
    experiment_name: str = Field("covertype", description="MLflow experiment")
    model_name: str = Field("covertype", description="registered model name")
    model_alias: str = Field("champion", description="alias the inference API serves")
    snapshot_uri: str | None = Field(None, description="where snapshots go: s3://bucket/prefix or a folder")
    minio_endpoint: str | None = Field(None, description="host:port of MinIO/S3 for snapshots")
    minio_access_key: str | None = None
    minio_secret_key: str | None = None
    minio_secure: bool = False
    holdout_fraction: float = Field(0.2, gt=0, lt=1, description="share of rows held out, chosen by row_hash")
    train_time_budget: float = Field(
        100.0,
        gt=0,
        description="seconds of hyper-parameter search per training, shared equally by the candidates",
    )
    search_rows: int = Field(
        20_000,
        ge=100,
        description="most training rows a candidate's search sees (a stratified sample); the winner is "
        "refit on all of them",
    )
    refit_threads: int | None = Field(
        None,
        ge=1,
        le=64,
        description="threads of the winner's refit on all rows; default: the CPUs this process may use",
    )
    candidates: str = Field(",".join(CANDIDATE_NAMES), description="comma-separated candidates")
    min_new_rows: int = Field(1, ge=0, description="train only when at least this many rows are new")
    promotion_margin: float = Field(0.0, ge=0, description="accuracy a challenger must gain to be promoted")
    final_fit_max_rows: int = Field(
        100_000,
        ge=0,
        description="the served model is refit on every stored row, holdout included, up to this many rows "
        "(0: never); beyond, it is the model fitted without the holdout",
    )
    max_model_mb: float = Field(50.0, gt=0, description="largest ONNX graph (MB) promotion accepts")
    max_batch_ms: float = Field(
        100.0,
        gt=0,
        description="slowest 1,000-row batch (ms) in the ONNX graph, at the inference API's threads, that "
        "promotion accepts",
    )
    training_niceness: int = Field(
        10,
        ge=0,
        le=19,
        description="CPU niceness of the train DAG's search and refit tasks (ingestion and the scheduler go "
        "first)",
    )

    # -- monitoring: the champion tested on every batch before training on it
    drift_threshold: float = Field(
        0.2,
        gt=0,
        description="PSI a feature's shift must exceed, besides being beyond chance, to count as drift",
    )
    drift_significance: float = Field(
        0.001,
        gt=0,
        lt=1,
        description="chance that a clean batch has a feature beyond chance (Holm-corrected chi-square tests)",
    )
    accuracy_drop: float = Field(
        0.03,
        ge=0,
        description="batch accuracy this far below the champion's holdout accuracy calls for training",
    )

    pushgateway_url: str | None = Field(
        None,
        description="Prometheus Pushgateway the batch jobs push their outcomes to (ingestion, training); "
        "empty or unset: no push",
    )

    # -- inference API
    model_poll_interval: float = Field(30.0, gt=0, description="seconds between checks of the champion alias")
    max_batch_records: int = Field(10_000, ge=1, description="largest batch /predict/batch accepts")
    max_body_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024,
        description="largest request body either API reads (413 above it); the default holds a full batch",
    )
    onnx_threads: int = Field(1, ge=1, le=64, description="ONNX Runtime intra-op threads per worker")
    api_token: str | None = Field(
        None, description="token required by the inference API's write operations and the web UI's roll back"
    )
    inference_api_url: str = Field("http://127.0.0.1:8001", description="where the inference API listens")

    # -- web UI: Airflow's REST API (v2) for the Pipeline page's DAG runs
    airflow_api_url: str = Field("http://127.0.0.1:8080", description="Airflow's API server")
    airflow_username: str = Field("admin", description="Airflow login the web UI reads DAG runs with")
    airflow_password: str | None = Field(None, description="password of ``airflow_username``")

    @property
    def state_file(self) -> Path:
        return self.state_path or self.data_dir / "data-api-state.sqlite"

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'covertype.db'}"

    @property
    def migration_database(self) -> str:
        return self.migration_database_url or self.database

    @property
    def tracking_uri(self) -> str:
        # MLflow 3.17 refuses the file store (./mlruns) unless MLFLOW_ALLOW_FILE_STORE is set: use SQLite.
        return self.mlflow_tracking_uri or f"sqlite:///{(self.data_dir / 'mlflow.db').resolve()}"

    @property
    def mlflow_artifacts(self) -> str:
        """Artifact root of experiments created on the embedded (SQLite) tracking store."""
        return (self.data_dir / "mlartifacts").resolve().as_uri()

    @property
    def snapshots(self) -> str:
        return self.snapshot_uri or str(self.data_dir / "snapshots")

    @property
    def candidate_names(self) -> list[str]:
        return [name.strip() for name in self.candidates.split(",") if name.strip()]

    @staticmethod
    def variable(name: str) -> str:
        """The environment variable field ``name`` is read from."""
        return "MLFLOW_TRACKING_URI" if name == "mlflow_tracking_uri" else f"COVERTYPE_{name.upper()}"

    def to_env(self) -> dict[str, str]:
        """Environment variables that make a child process read exactly these settings.

        Paths and URLs left to their defaults are written out resolved, so that a variable of the parent's
        own environment (say a ``COVERTYPE_DATABASE_URL``) cannot leak into the child instead.
        """
        resolved = {
            "state_path": self.state_file,
            "database_url": self.database,
            "mlflow_tracking_uri": self.tracking_uri,
            "snapshot_uri": self.snapshots,
        }
        env = {}
        for name in type(self).model_fields:
            value = resolved.get(name, getattr(self, name))
            if value is not None:
                env[self.variable(name)] = str(value)
        return env

    def child_environ(self, inherited: Mapping[str, str]) -> dict[str, str]:
        """A child process's whole environment: ``inherited`` with these settings in place of its own.

        Every variable a setting is read from is dropped from ``inherited`` first (case-insensitively, as
        they are read), so a setting left ``None`` here cannot come back from the parent's environment.
        """
        own = {self.variable(name) for name in type(self).model_fields}
        return {key: value for key, value in inherited.items() if key.upper() not in own} | self.to_env()


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
