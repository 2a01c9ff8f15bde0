"""The ``covertype`` command as typed: help texts and one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from mlflow.tracking import MlflowClient

from covertype.dataset import load_dataset
from covertype.processes import unused_port
from covertype.schema import CANDIDATE_NAMES
from covertype.settings import Settings
from support.data_api import data_api_server, data_api_settings
from support.training import NOTHING_TO_REGISTER, WITH_BROKEN_CANDIDATE, fill_store

COVERTYPE = str(Path(sys.executable).parent / "covertype")


def _run(
    *args: str, tmp_path: Path, command: tuple[str, ...] = (COVERTYPE,), **env: str
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("COVERTYPE_", "MLFLOW_"))}
    return subprocess.run(
        [*command, *args],
        env={**clean, "COVERTYPE_DATA_DIR": str(tmp_path), "COLUMNS": "100", **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def test_help_shows_no_bool_type_and_train_lists_the_candidates(tmp_path: Path) -> None:
    for command in ([], ["ingest"], ["train"], ["up"], ["demo"]):
        result = _run(*command, "--help", tmp_path=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "<bool>" not in result.stdout, result.stdout
        assert "--help" in result.stdout
    train_help = " ".join(_run("train", "--help", tmp_path=tmp_path).stdout.split())
    assert f"from: {', '.join(CANDIDATE_NAMES)}" in train_help


def test_ingest_against_a_dead_data_api_is_one_line_unless_verbose(tmp_path: Path) -> None:
    dead = {"COVERTYPE_DATA_API_URL": f"http://127.0.0.1:{unused_port()}", "COVERTYPE_HTTP_BACKOFF": "0"}

    quiet = _run("ingest", tmp_path=tmp_path, COVERTYPE_HTTP_RETRIES="3", **dead)
    assert quiet.returncode == 1
    [line] = quiet.stderr.splitlines()
    assert (
        line.startswith("error: data API http://127.0.0.1:")
        and "gave up after 3 attempts, last: Conn" in line
    )

    verbose = _run("ingest", "--verbose", tmp_path=tmp_path, COVERTYPE_HTTP_RETRIES="3", **dead)
    assert verbose.returncode == 1
    assert sum("Retrying" in line for line in verbose.stderr.splitlines()) == 2, verbose.stderr
    assert verbose.stderr.splitlines()[-1] == line

    once = _run("ingest", tmp_path=tmp_path, COVERTYPE_HTTP_RETRIES="1", **dead)
    assert "gave up after 1 attempt, last:" in once.stderr and len(once.stderr.splitlines()) == 1


def test_ingest_refuses_a_group_below_1_naming_the_option(tmp_path: Path) -> None:
    dead = {"COVERTYPE_DATA_API_URL": f"http://127.0.0.1:{unused_port()}", "COVERTYPE_HTTP_RETRIES": "1"}

    result = _run("ingest", "--group", "0", tmp_path=tmp_path, **dead)

    assert result.returncode == 2, result.stderr
    assert "Invalid value for '--group'" in result.stderr
    assert "Traceback" not in result.stderr and "data API" not in result.stderr


#: ``covertype ingest`` in a fresh interpreter, saying at exit whether it imported MLflow.
INGEST_REPORTING_MLFLOW = (
    sys.executable,
    "-c",
    "import atexit, sys\n"
    "atexit.register(lambda: print('mlflow imported:', 'mlflow' in sys.modules, file=sys.stderr))\n"
    "from covertype.cli import app\napp()",
)


@pytest.mark.slow
def test_ingest_without_a_champion_imports_no_mlflow(tmp_path: Path, sample_csv: Path) -> None:
    """Issue 24: 8-9 s for a 1-s poll, mostly importing MLflow and creating its store to find no champion."""
    (tmp_path / "api").mkdir()
    api_settings = data_api_settings(tmp_path / "api", sample_csv, groups=1)
    with data_api_server(api_settings, port=unused_port()) as url:
        result = _run(
            "ingest", tmp_path=tmp_path, command=INGEST_REPORTING_MLFLOW, COVERTYPE_DATA_API_URL=url
        )

    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout)["evaluation"]["detail"].startswith("no champion")
    assert result.stderr.splitlines()[-1] == "mlflow imported: False"
    assert not (tmp_path / "mlflow.db").exists()  # the local store _run's data folder would hold


@pytest.mark.slow
def test_train_with_nothing_to_register_fails_its_parent_run_as_the_dag_does(
    tmp_path: Path, sample_csv: Path
) -> None:
    """``covertype train`` with only a candidate that fails: one-line error, exit 1, and the MLflow parent
    run closed FAILED with the tag the DAG's register task leaves (tests/training/test_dag_train.py)."""
    fill_store(Settings(data_dir=tmp_path).database, load_dataset(sample_csv).head(1_000))
    with_broken = (sys.executable, "-c", f"{WITH_BROKEN_CANDIDATE}\nfrom covertype.cli import app\napp()")

    result = _run("train", "--candidates", "broken", tmp_path=tmp_path, command=with_broken)

    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[-1].startswith(
        "error: no candidate trained with a faithful ONNX export"
    )
    # The store the CLI used (its environment has no MLFLOW_ variable), whatever this process has set.
    tracking_uri = Settings(data_dir=tmp_path, mlflow_tracking_uri=None).tracking_uri
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("covertype")
    runs = {
        run.data.tags["covertype.kind"]: run
        for run in client.search_runs(
            [experiment.experiment_id], filter_string="tags.`covertype.dag_id` = 'cli'"
        )
    }
    assert runs["candidate"].info.status == "FAILED"
    assert runs["training"].info.status == "FAILED"
    assert runs["training"].data.tags["covertype.error"].startswith(NOTHING_TO_REGISTER)
