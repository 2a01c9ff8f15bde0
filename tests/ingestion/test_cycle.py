"""Ingest, then evaluate: the one function ``covertype ingest`` and the demo run, whose halves are the ingest
DAG's two tasks. Against a real data API; no champion (the scored case: tests/test_demo.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from covertype.ingestion import IngestionResult, NotEvaluated, PollStatus, ingest_and_evaluate
from covertype.processes import unused_port
from covertype.settings import Settings
from support.data_api import data_api_server, data_api_settings


@pytest.fixture(scope="module")
def data_api_url(tmp_path_factory: pytest.TempPathFactory, sample_csv: Path) -> Iterator[str]:
    """Three groups, their first batch open all along."""
    settings = data_api_settings(tmp_path_factory.mktemp("data-api"), sample_csv, batch_interval=3600)
    with data_api_server(settings, port=unused_port()) as url:
        yield url


def test_new_rows_are_scored_and_a_poll_without_any_is_not(data_api_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, data_api_url=data_api_url)  # group 1 by default

    first = ingest_and_evaluate(settings, group=2)
    again = ingest_and_evaluate(settings, group=2)

    assert first.ingestion.group_number == 2 and first.ingestion.rows_inserted > 0
    assert first.evaluation is not None and first.evaluation.status == "skipped"
    assert first.evaluation.detail == "no champion (covertype@champion) to evaluate yet"
    assert first.to_dict()["evaluation"] == {"status": "skipped", "detail": first.evaluation.detail}
    assert again.evaluation is None and "evaluation" not in again.to_dict()
    assert again.ingestion.nothing_new == f"batch 1: no new rows ({first.ingestion.rows_inserted} duplicates)"
    # No champion can be in a local MLflow store that does not exist: it was not opened, hence not created.
    assert not (tmp_path / "mlflow.db").exists()


def test_a_batch_stored_but_not_scored_says_what_was_stored(data_api_url: str, tmp_path: Path) -> None:
    registry = f"http://127.0.0.1:{unused_port()}"  # nothing listens there
    settings = Settings(data_dir=tmp_path, data_api_url=data_api_url, mlflow_tracking_uri=registry)

    with pytest.raises(NotEvaluated) as failed:
        ingest_and_evaluate(settings, group=3)

    assert failed.value.ingestion.group_number == 3 and failed.value.ingestion.rows_inserted > 0
    assert str(failed.value).startswith(f"group 3 batch 1: cannot reach the registry at {registry}")


def test_a_result_comes_back_from_its_xcom_dict() -> None:
    stored = IngestionResult("run", 2, 5, PollStatus.SUCCESS, rows_received=9, rows_inserted=7, duplicates=2)
    delivered = IngestionResult("run", 2, None, PollStatus.EXHAUSTED, detail="group 2: all delivered")

    assert [IngestionResult.from_dict(r.to_dict()) for r in (stored, delivered)] == [stored, delivered]
    assert stored.nothing_new is None
    assert delivered.nothing_new == "all batches were delivered: group 2: all delivered"
