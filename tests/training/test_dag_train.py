"""The ``covertype_train`` DAG: it parses as designed, ``dag.test()`` trains, registers and then skips, and
trains again for drift.

Airflow runs in a subprocess with its own ``AIRFLOW_HOME`` (its configuration is read at import), on the
embedded defaults: SQLite store, SQLite MLflow tracking store and local artifacts under a temp data dir.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from covertype.dataset import load_dataset
from covertype.monitoring.retrain import DRIFT
from covertype.registry.tags import TRAINING_REASON_TAG, TRAINING_SIGNAL_TAG
from covertype.settings import Settings
from support.airflow import airflow_env, run_python, run_python_output
from support.prometheus import pushgateway, scraped_samples
from support.retrain import (
    MIN_NEW_ROWS,
    elevation_shifted,
    later_rows,
    shuffled_sample,
    store_and_evaluate,
    train_champion,
)
from support.training import NOTHING_TO_REGISTER, WITH_BROKEN_CANDIDATE, fill_store

PARSE = """
import json, os
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
dag = bag.dags["covertype_train"]
print(json.dumps({
    "errors": {path: str(error) for path, error in bag.import_errors.items()},
    "schedule": [asset.name for asset in dag.timetable.asset_condition.objects],
    "params": sorted(dag.params.keys()),
    "tasks": sorted(t.task_id for t in dag.tasks),
    "mapped": [t.task_id for t in dag.tasks if "Mapped" in type(t).__name__],
    "heavy_imports": sorted(m for m in ("sklearn", "mlflow") if m in __import__("sys").modules),
}))
"""

RUN_TWICE = """
import json, os
from airflow.dag_processing.dagbag import DagBag
from airflow.utils.db import initdb
initdb()
dag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).dags["covertype_train"]
runs = []
for _ in range(2):
    run = dag.test(run_conf={"candidates": "extra_trees,logreg", "time_budget": 1})
    states = {f"{ti.task_id}[{ti.map_index}]": str(ti.state) for ti in run.get_task_instances()}
    runs.append({"state": str(run.state), "tasks": states, "run_id": run.run_id})
print(json.dumps(runs))
"""


XCOM_ROUND_TRIP = """
import json
import re
from types import SimpleNamespace
from airflow.sdk.bases.xcom import BaseXCom
from covertype.model.graph_latency import GraphLatency
from covertype.model.onnx_export import ExportCheck
from covertype.training.snapshot import SnapshotInfo
from covertype.training.steps import (
    CandidateResult, PreparedTraining, PromotionOutcome, Registered, TrainingDecision,
)
from covertype.training.tracking import RunContext

steps = [
    TrainingDecision(True, "forced", "forced", 2000, None, 2000, ("extra_trees", "logreg")),
    PreparedTraining(
        SnapshotInfo("s3://b/s.parquet", "ab" * 32, 2000), "p1", RunContext("d", "r"), "drift", "drift 0.9",
        ("extra_trees", "hgb", "logreg"),
    ),
    CandidateResult("broken", "failed", "r0", error="ValueError: C must be > 0"),
    CandidateResult(
        "logreg", "searched", "r3", params={"C": 0.5, "max_iter": 500}, validation_accuracy=0.7,
        search_seconds=3.5,
    ),
    CandidateResult(
        "extra_trees", "trained", "r1", params={"max_features": 0.7, "criterion": "gini"},
        validation_accuracy=0.8, search_seconds=9.0, model_uri="models:/m-1",
        holdout_accuracy=0.75, holdout_macro_f1=0.5, training_seconds=1.5,
        export=ExportCheck(True, "faithful", 12345, 1.0, 2e-7, GraphLatency(0.25, 0.4, 9.5)),
    ),
    CandidateResult(
        "hgb", "trained", "r2", model_uri="models:/m-2", validation_accuracy=0.9,
        holdout_accuracy=0.85, holdout_macro_f1=0.6, training_seconds=2.0,
        export=ExportCheck(False, "skl2onnx ignores categorical splits"),
    ),
    Registered("3", "r1", "extra_trees", 0.75, ("broken",)),
    PromotionOutcome("3", "champion", True, "first model", 0.75, None, None, "promoted"),
    PromotionOutcome("4", "challenger", False, "does not beat", 0.7, 0.75, "3", "rejected"),
]
same = []
for step in steps:
    stored = json.dumps(BaseXCom.serialize_value(step.to_dict()))  # what the task pushes, as JSON
    pulled = BaseXCom.deserialize_value(SimpleNamespace(value=json.loads(stored)))
    same.append([type(step).__name__, type(step).from_dict(pulled) == step])
print(json.dumps(same))
"""


def _airflow_env(home: Path, data_dir: Path) -> dict[str, str]:
    return airflow_env(home, Settings(data_dir=data_dir))


def test_the_dag_parses_as_designed(tmp_path: Path) -> None:
    parsed = run_python(PARSE, _airflow_env(tmp_path / "airflow", tmp_path / "data"), tmp_path)
    assert parsed == {
        "errors": {},
        "schedule": ["covertype_raw"],
        "params": ["candidates", "force", "time_budget"],
        "tasks": ["check_new_data", "promote", "refit", "register", "search_candidate", "snapshot"],
        "mapped": ["search_candidate"],
        "heavy_imports": [],  # nothing heavy at parse time
    }


def test_every_step_result_round_trips_through_airflow_xcom_serialization(tmp_path: Path) -> None:
    """What a task returns is what the next task rebuilds, through Airflow's own XCom (de)serialization."""
    same = run_python(XCOM_ROUND_TRIP, _airflow_env(tmp_path / "airflow", tmp_path / "data"), tmp_path)
    names = ["TrainingDecision", "PreparedTraining", *["CandidateResult"] * 4, "Registered"]
    assert same == [[name, True] for name in [*names, "PromotionOutcome", "PromotionOutcome"]]


@pytest.mark.slow
def test_dag_test_trains_registers_and_then_skips(tmp_path: Path, sample_csv: Path) -> None:
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir)
    fill_store(settings.database, load_dataset(sample_csv).head(2_000))

    first, second = run_python(RUN_TWICE, _airflow_env(tmp_path / "airflow", data_dir), tmp_path)

    assert first["state"] == "success"
    assert first["tasks"] == {
        "check_new_data[-1]": "success",
        "snapshot[-1]": "success",
        "search_candidate[0]": "success",
        "search_candidate[1]": "success",
        "refit[-1]": "success",
        "register[-1]": "success",
        "promote[-1]": "success",
    }
    client = MlflowClient(settings.tracking_uri, registry_uri=settings.tracking_uri)
    champion = client.get_model_version_by_alias("covertype", "champion")
    run = client.get_run(champion.run_id)
    assert run.data.tags["covertype.dag_id"] == "covertype_train"
    assert run.data.tags["covertype.dag_run_id"] == first["run_id"]
    assert run.data.params["time_budget"] == "0.5"  # the run's 1 s, shared by its two candidates
    parent = client.get_run(run.data.tags["mlflow.parentRunId"])
    assert parent.data.params["time_budget"] == "1" and parent.data.params["search_rows"] == "20000"
    assert champion.tags["covertype.promotion_decision"] == "promoted"

    # Same data again: check_new_data skips and so does everything downstream.
    assert second["tasks"]["check_new_data[-1]"] == "skipped"
    assert {state for task, state in second["tasks"].items() if task != "check_new_data[-1]"} <= {"skipped"}
    assert len(client.search_model_versions("name='covertype'")) == 1


RUN_FAILING = (
    WITH_BROKEN_CANDIDATE
    + """
import json, os
from airflow.dag_processing.dagbag import DagBag
from airflow.utils.db import initdb
initdb()
dag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).dags["covertype_train"]
runs = []
for conf in (
    {"candidates": "extra_trees,broken", "time_budget": 1},
    {"candidates": "broken", "time_budget": 1, "force": True},
):
    run = dag.test(run_conf=conf)
    states = {f"{ti.task_id}[{ti.map_index}]": str(ti.state) for ti in run.get_task_instances()}
    runs.append({"state": str(run.state), "tasks": states, "run_id": run.run_id})
print(json.dumps(runs))
"""
)


@pytest.mark.slow
def test_a_failing_candidate_fails_alone_and_a_failed_task_fails_the_parent_run(
    tmp_path: Path, sample_csv: Path
) -> None:
    """A candidate whose fit raises fails alone; with nothing else to register, the run fails at once.
    The first training's success and the second's failure reach the Pushgateway (the alert's inputs)."""
    data_dir = tmp_path / "data"
    fill_store(Settings(data_dir=data_dir).database, load_dataset(sample_csv).head(1_000))

    with pushgateway(tmp_path) as gateway:
        settings = Settings(data_dir=data_dir, pushgateway_url=gateway)
        mixed, alone = run_python(RUN_FAILING, airflow_env(tmp_path / "airflow", settings), tmp_path)
        pushed = scraped_samples(gateway)

    client = MlflowClient(settings.tracking_uri, registry_uri=settings.tracking_uri)

    def runs_of(dag_run_id: str) -> dict[str, Any]:
        found = client.search_runs(
            [client.get_experiment_by_name("covertype").experiment_id],
            filter_string=f"tags.`covertype.dag_run_id` = '{dag_run_id}'",
        )
        return {run.data.tags.get("covertype.candidate", "parent"): run for run in found}

    # extra_trees + broken: broken fails alone, recorded in its run; the run registers extra_trees.
    assert mixed["state"] == "success", mixed
    assert set(mixed["tasks"].values()) == {"success"}, mixed
    runs = runs_of(mixed["run_id"])
    assert runs["broken"].info.status == "FAILED"
    assert "'C' parameter" in runs["broken"].data.tags["covertype.error"]
    assert runs["broken"].data.tags["mlflow.parentRunId"] == runs["parent"].info.run_id
    assert runs["extra_trees"].info.status == "FINISHED"
    assert runs["parent"].info.status == "FINISHED"
    assert runs["parent"].data.tags["covertype.failed_candidates"] == "broken"
    champion = client.get_model_version_by_alias("covertype", "champion")
    assert (str(champion.version), champion.tags["covertype.candidate"]) == ("1", "extra_trees")

    # broken alone: nothing to register, so register fails (no retry) and the parent run is FAILED.
    assert alone["state"] == "failed", alone
    assert alone["tasks"]["search_candidate[0]"] == "success"
    assert (alone["tasks"]["register[-1]"], alone["tasks"]["promote[-1]"]) == ("failed", "upstream_failed")
    parent = runs_of(alone["run_id"])["parent"]
    assert parent.info.status == "FAILED"
    assert parent.data.tags["covertype.error"].startswith(NOTHING_TO_REGISTER)  # as in the CLI
    assert len(client.search_model_versions("name='covertype'")) == 1

    # promote pushed the first run's success, register's failure callback the second run's failure.
    train = frozenset({("job", "covertype_train"), ("instance", "")})
    success = pushed[("covertype_training_last_success_timestamp_seconds", train)]
    assert pushed[("covertype_training_last_failure_timestamp_seconds", train)] > success > 0


RUN_ONCE = """
import json, os
from airflow.dag_processing.dagbag import DagBag
from airflow.utils.db import initdb
initdb()
dag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).dags["covertype_train"]
run = dag.test(run_conf={"candidates": "logreg", "time_budget": 0.5})
instances = {ti.task_id: ti for ti in run.get_task_instances()}
print(json.dumps({
    "state": str(run.state),
    "run_id": run.run_id,
    "decision": instances["check_new_data"].xcom_pull(task_ids="check_new_data", key="decision"),
}))
"""


@pytest.mark.slow
def test_dag_test_retrains_for_drift_and_records_why(tmp_path: Path, sample_csv: Path) -> None:
    """A champion (the pipeline's logreg), then a batch 300 m higher that it scores: the DAG trains for drift.

    Too few rows for the new-rows signal and the accuracy signal off (a drop of 1.0 never happens), so
    only the drift of the batch, measured by the real ``evaluate_batch``, can call for training.
    """
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir, min_new_rows=MIN_NEW_ROWS, accuracy_drop=1.0)
    sample = shuffled_sample(sample_csv)
    train_champion(settings, sample)
    quality = store_and_evaluate(settings, elevation_shifted(later_rows(sample, 0, 500)), batch_number=2)

    run = run_python(RUN_ONCE, airflow_env(tmp_path / "airflow", settings), tmp_path)

    assert run["state"] == "success", run
    decision = run["decision"]
    assert (decision["train"], decision["signal"], decision["new_rows"]) == (True, DRIFT, 500)
    assert decision["reason"].startswith(f"drift score {quality.drift_score:.3f} of group 1 batch 2")
    client = MlflowClient(settings.tracking_uri, registry_uri=settings.tracking_uri)
    [parent] = client.search_runs(
        [client.get_experiment_by_name("covertype").experiment_id],
        filter_string=f"tags.`covertype.dag_run_id` = '{run['run_id']}' and tags.`covertype.kind` = "
        "'training'",
    )
    version = client.get_model_version(settings.model_name, parent.data.tags["covertype.registered_version"])
    expected = {TRAINING_SIGNAL_TAG: DRIFT, TRAINING_REASON_TAG: decision["reason"]}
    for recorded in (parent.data.tags, version.tags):
        assert {key: recorded[key] for key in expected} == expected


RUN_EMPTY = """
import json, os
from airflow.dag_processing.dagbag import DagBag
from airflow.utils.db import initdb
initdb()
run = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).dags["covertype_train"].test()
print(json.dumps({ti.task_id: str(ti.state) for ti in run.get_task_instances()}))
"""


RUN_NICENESS = """
import json, os
from airflow.dag_processing.dagbag import DagBag
from airflow.utils.db import initdb
initdb()
dag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).dags["covertype_train"]
before = os.getpriority(os.PRIO_PROCESS, 0)
run = dag.test(run_conf={"candidates": "logreg", "time_budget": 1})
states = {f"{ti.task_id}[{ti.map_index}]": str(ti.state) for ti in run.get_task_instances()}
print(json.dumps({"before": before, "after": os.getpriority(os.PRIO_PROCESS, 0), "tasks": states}))
"""


def test_a_candidate_trains_at_the_configured_niceness(tmp_path: Path, sample_csv: Path) -> None:
    """Training yields the CPU to the ingest runs and the scheduler: its task lowers its own priority.

    ``dag.test()`` runs the tasks in this one process, so its niceness after the run is the candidate's.
    """
    data_dir = tmp_path / "data"
    fill_store(Settings(data_dir=data_dir).database, load_dataset(sample_csv).head(600))
    env = {**_airflow_env(tmp_path / "airflow", data_dir), "COVERTYPE_TRAINING_NICENESS": "7"}

    found = run_python(RUN_NICENESS, env, tmp_path)

    assert found["tasks"]["search_candidate[0]"] == "success", found
    assert found["before"] < 7
    assert found["after"] == 7


@pytest.mark.slow
def test_mlflow_info_lines_are_task_log_lines_at_info_not_raw_stderr(tmp_path: Path) -> None:
    """check_new_data opens a new MLflow store, and MLflow logs it at INFO. Its own stderr handler wrote
    that line past Airflow's logging, and Airflow's task runner records a task's stderr as errors."""
    settings = Settings(data_dir=tmp_path / "data", mlflow_tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    done = run_python_output(RUN_EMPTY, airflow_env(tmp_path / "airflow", settings), tmp_path)

    assert json.loads(done.stdout.splitlines()[-1])["check_new_data"] == "skipped"  # an empty store
    logged = re.compile(
        r"\[info\s*\] Creating initial MLflow database tables\.\.\. \[mlflow\.store\.db\.utils\]"
    )
    assert logged.search(done.stdout), done.stdout[-4000:]
    assert "INFO mlflow" not in done.stdout + done.stderr  # MLflow's own format: its handler wrote it
