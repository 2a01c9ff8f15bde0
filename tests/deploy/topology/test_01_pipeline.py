"""Stage 1: covertype_ingest runs on its schedule, its asset event schedules covertype_train, whose mapped
candidates run on the Celery worker; the champion's artifacts are in the S3 bucket itself; the inference API
answers with that version; its MLflow user is refused moving the alias."""

from __future__ import annotations

import boto3
import httpx
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from sqlalchemy import create_engine, text

from support.topology import Topology, sample_record, tail, wait_for
from support.training import boto_keys

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]


@pytest.mark.timeout(1200)
def test_ingest_trains_on_celery_and_serves_the_champion(
    topology: Topology, monkeypatch: pytest.MonkeyPatch
) -> None:
    stage = topology.stages.stage
    api = topology.admin()
    worker_log = topology.logs / "airflow-worker.log"

    with stage("covertype_ingest on its schedule -> MariaDB"):
        ingest = wait_for(
            lambda: topology.finished_run(api, "covertype_ingest"), timeout=300, what="a covertype_ingest run"
        )
        assert ingest["run_type"] == "scheduled"
        store = create_engine(topology.environment("airflow-worker")["COVERTYPE_DATABASE_URL"])
        assert store.url.username == topology.names.covertype_user  # written as the least-privilege user
        with store.connect() as connection:
            stored = connection.execute(text("SELECT COUNT(*) FROM forest_cover_data")).scalar_one()
            inserted = connection.execute(text("SELECT SUM(rows_inserted) FROM ingestion_runs")).scalar_one()
        store.dispose()
        assert stored > 0 and stored == inserted, (stored, inserted)

    with stage("covertype_train on the asset event, candidates on Celery"):
        train = wait_for(
            lambda: topology.finished_run(api, "covertype_train"), timeout=600, what="a covertype_train run"
        )
        assert train["run_type"] == "asset_triggered"
        tis = api.get(f"/dags/covertype_train/dagRuns/{train['dag_run_id']}/taskInstances").json()
        candidates = {t["map_index"]: t for t in tis["task_instances"] if t["task_id"] == "search_candidate"}
        assert sorted(candidates) == [0, 1] and {t["state"] for t in candidates.values()} == {"success"}
        executed = [
            line
            for line in worker_log.read_text(errors="replace").splitlines()
            if "Executing workload in Celery" in line
        ]
        for ti in candidates.values():  # each mapped candidate went through the broker to the worker
            assert any(f"id=UUID('{ti['id']}')" in line for line in executed), (ti, tail(worker_log))

    mlflow_url = topology.url("mlflow")

    def as_user(role: str) -> MlflowClient:
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", topology.dotenv[f"MLFLOW_{role}_USER"])
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", topology.dotenv[f"MLFLOW_{role}_PASSWORD"])
        return MlflowClient(tracking_uri=mlflow_url, registry_uri=mlflow_url)

    with stage("champion and its artifacts in the S3 bucket"):
        model_name = topology.services["inference-api"]["environment"]["COVERTYPE_MODEL_NAME"]
        training = as_user("TRAINING")
        champion = training.get_model_version_by_alias(model_name, "champion")
        artifacts = training.get_model_version_download_uri(model_name, champion.version)
        assert artifacts.startswith("mlflow-artifacts:/"), artifacts  # proxied by the server
        prefix = artifacts.removeprefix("mlflow-artifacts:").strip("/")
        s3 = boto3.client("s3", endpoint_url=topology.url("minio"), **boto_keys())
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket="mlflows3", Prefix=prefix).get("Contents", [])}
        assert f"{prefix}/MLmodel" in keys, sorted(keys)[:20]
        snapshots = s3.list_objects_v2(Bucket="snapshots").get("Contents", [])
        assert snapshots, "no training snapshot in the snapshots bucket"

    with stage("inference API serves the champion"):
        inference_url = topology.url("inference-api")

        def serving() -> str | None:
            """The version served once it is the current champion (a later training may promote another)."""
            try:
                answer = httpx.get(f"{inference_url}/model", timeout=30)
            except httpx.HTTPError:
                return None
            current = training.get_model_version_by_alias(model_name, "champion").version
            return current if answer.status_code == 200 and answer.json().get("version") == current else None

        served = wait_for(
            serving, timeout=180, what=f"the inference API serving the champion ({champion.version})"
        )
        prediction = httpx.post(f"{inference_url}/predict", json=sample_record(), timeout=60)
        assert prediction.status_code == 200, prediction.text
        assert prediction.json()["model_version"] == served
        assert 1 <= prediction.json()["cover_type"] <= 7

    with stage("auth: the inference API's user cannot move the alias"):
        reader = as_user("READER")
        assert reader.get_model_version_by_alias(model_name, "champion").version
        for attempt in (
            lambda: reader.set_registered_model_alias(model_name, "champion", champion.version),
            lambda: reader.delete_registered_model_alias(model_name, "champion"),
        ):
            with pytest.raises(MlflowException, match="PERMISSION_DENIED|Permission denied"):
                attempt()
        assert reader.get_model_version_by_alias(model_name, "champion").version  # still there
        anonymous = httpx.get(
            f"{mlflow_url}/api/2.0/mlflow/registered-models/get?name={model_name}", timeout=60
        )
        assert anonymous.status_code == 401
