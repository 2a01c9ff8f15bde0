"""Helpers for the training tests: a store filled with the shared sample, MLflow and S3 stand-in servers."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from covertype.processes import Service
from covertype.registry.core import Registry
from covertype.settings import Settings
from covertype.store.batches import insert_rows
from covertype.store.engine import create_store_engine
from covertype.training import pipeline as run_steps
from covertype.training import tracking
from covertype.training.steps import PreparedTraining

#: Python run first in a test's Airflow or CLI subprocess: a candidate ``broken`` that really fails to
#: train (scikit-learn refuses C=-1 when the search fits it).
WITH_BROKEN_CANDIDATE = """
from covertype.model.pipelines import logreg
from covertype.training.candidates import CANDIDATES, Candidate
CANDIDATES["broken"] = Candidate("broken", logreg, {"C": -1.0}, {"C": [-1.0]})
"""

#: How the MLflow parent run of a training with no candidate to register is closed, in the CLI and the DAG.
NOTHING_TO_REGISTER = "register: NoCandidateTrained: no candidate trained with a faithful ONNX export"

S3_BUCKET = "mlflows3"
S3_KEYS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def fill_store(database_url: str, frame: pd.DataFrame, *, batch_number: int = 1) -> int:
    """Store ``frame``'s canonical rows as ingestion would (tables created); returns the rows inserted."""
    engine = create_store_engine(database_url)
    try:
        with engine.begin() as conn:
            return insert_rows(
                conn,
                frame,
                group_number=1,
                batch_number=batch_number,
                ingested_at=datetime.now(UTC).replace(tzinfo=None),
            )
    finally:
        engine.dispose()


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


@contextmanager
def moto_server(port: int, log_path: Path) -> Iterator[str]:
    """An S3 stand-in (moto) on 127.0.0.1:``port`` with the ``mlflows3`` bucket; yields its URL."""
    import boto3

    url = f"http://127.0.0.1:{port}"
    service = Service(
        "moto",
        [_bin("moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        f"{url}/moto-api/",
        port,
        log_path=log_path,
        start_timeout=60,
    )
    with service:
        boto3.client("s3", endpoint_url=url, **boto_keys()).create_bucket(Bucket=S3_BUCKET)
        yield url


def boto_keys() -> dict[str, str]:
    return {
        "aws_access_key_id": S3_KEYS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": S3_KEYS["AWS_SECRET_ACCESS_KEY"],
        "region_name": S3_KEYS["AWS_DEFAULT_REGION"],
    }


@contextmanager
def mlflow_server(port: int, folder: Path, s3_url: str) -> Iterator[str]:
    """An MLflow tracking server (SQLite backend) serving artifacts from the moto bucket; yields its URL."""
    url = f"http://127.0.0.1:{port}"
    command = [
        _bin("mlflow"),
        "server",
        "--backend-store-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination",
        f"s3://{S3_BUCKET}",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    env = {
        **S3_KEYS,
        "MLFLOW_S3_ENDPOINT_URL": s3_url,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    with Service("mlflow", command, f"{url}/health", port, env=env, log_path=folder / "mlflow.log"):
        yield url


def prepared_training(settings: Settings, registry: Registry) -> PreparedTraining:
    """What ``covertype train --candidates logreg --force`` prepares (the snapshot, the parent run)."""
    decision = run_steps.check_new_data(settings, registry, candidates="logreg", force=True)
    return run_steps.prepare_training(
        settings, registry, context=tracking.RunContext("test", "run"), decision=decision
    )
