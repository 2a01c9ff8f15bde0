"""The ingest DAG's evaluate_batch before the first training: it returns at once, without importing MLflow.

The next ingest run (one at a time) waits for it, and with it the next batch: importing MLflow and ONNX
Runtime took 35-70 s per task on a loaded machine, for nothing to score. Against a real MLflow server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from covertype.processes import Service, unused_port
from covertype.registry.reader import serving_alias_version
from covertype.settings import Settings

#: Run in a fresh interpreter, as an Airflow task process is: which heavy modules the call imported.
PROBE = """
import json, sys
from covertype.monitoring import evaluate_stored_batch
from covertype.settings import get_settings
result = evaluate_stored_batch(get_settings(), 1, 1)
heavy = ("mlflow", "onnxruntime", "pandas", "sklearn")
print(json.dumps({"result": result.to_dict(), "imported": [m for m in heavy if m in sys.modules]}))
"""


@pytest.fixture(scope="module")
def tracking_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("mlflow")
    port = unused_port()
    command = [
        str(Path(sys.executable).parent / "mlflow"),
        *("server", "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}"),
        *("--artifacts-destination", str(folder / "artifacts"), "--host", "127.0.0.1", "--port", str(port)),
        *("--workers", "1"),
    ]
    env = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "PATH": os.environ["PATH"]}
    url = f"http://127.0.0.1:{port}"
    log = folder / "mlflow.log"
    with Service("mlflow", command, f"{url}/health", port, env=env, log_path=log, start_timeout=180):
        yield url


def probe(tracking_uri: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "COVERTYPE_DATA_DIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_without_a_champion_it_skips_and_imports_no_mlflow(tracking_url: str, tmp_path: Path) -> None:
    done = probe(tracking_url, tmp_path)

    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["result"]["status"] == "skipped" and "no champion" in found["result"]["detail"]
    assert found["imported"] == []


def test_an_unreachable_registry_fails_the_task_naming_it(tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{unused_port()}"

    done = probe(nowhere, tmp_path)

    assert done.returncode != 0
    assert f"EvaluationFailed: group 1 batch 1: cannot reach the registry at {nowhere}" in done.stderr


def test_the_rest_lookup_finds_the_alias_once_it_is_set(tracking_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, mlflow_tracking_uri=tracking_url)
    client = MlflowClient(tracking_uri=tracking_url, registry_uri=tracking_url)
    client.create_registered_model(settings.model_name)
    assert serving_alias_version(settings) is None  # a model, no alias yet
    run = client.create_run(client.create_experiment("alias-lookup"))
    source = f"runs:/{run.info.run_id}/model"
    version = client.create_model_version(settings.model_name, source, run.info.run_id)
    client.set_registered_model_alias(settings.model_name, settings.model_alias, version.version)

    assert serving_alias_version(settings) == str(version.version)
