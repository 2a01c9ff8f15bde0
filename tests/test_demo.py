"""``covertype demo``'s ingestion: every batch ingested and scored by the champion, as ``covertype ingest``
does (the whole demo as typed: tests/test_local_stack.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from covertype.dataset import load_dataset
from covertype.demo import champion_score, ingest_every_batch
from covertype.ingestion import IngestedBatch
from covertype.processes import unused_port
from covertype.settings import Settings
from covertype.store.engine import create_store_engine
from covertype.store.quality import batch_quality_rows
from support.data_api import data_api_server, data_api_settings
from support.inference import registry_settings, train_version

INTERVAL = 1.0


def ingest_two_batches(tmp_path: Path, sample_csv: Path, **settings: object) -> list[IngestedBatch]:
    """The demo's loop on a data API with one group of two batches, a second apart."""
    api_settings = data_api_settings(tmp_path, sample_csv, groups=1, batches=2, batch_interval=INTERVAL)
    seen: list[IngestedBatch] = []
    with data_api_server(api_settings, port=unused_port()) as url:
        demo = Settings(data_dir=tmp_path / "demo", data_api_url=url, batch_interval=INTERVAL, **settings)
        batches = ingest_every_batch(demo, seen.append)
    assert batches == seen
    assert [b.ingestion.batch_number for b in batches] == [1, 2]
    return batches


def test_each_batch_is_evaluated_before_the_first_training(tmp_path: Path, sample_csv: Path) -> None:
    batches = ingest_two_batches(tmp_path, sample_csv)

    for batch in batches:
        assert batch.evaluation is not None and batch.evaluation.status == "skipped"
        assert champion_score(batch) == "no champion (covertype@champion) to evaluate yet"


@pytest.mark.slow
def test_with_a_champion_each_batch_is_scored(tmp_path: Path, sample_csv: Path) -> None:
    registry = registry_settings(tmp_path / "registry")
    train_version(registry, load_dataset(sample_csv).tail(3_000), candidates="logreg")

    batches = ingest_two_batches(tmp_path, sample_csv, mlflow_tracking_uri=registry.tracking_uri)

    engine = create_store_engine(Settings(data_dir=tmp_path / "demo").database)
    scored = batch_quality_rows(engine)
    engine.dispose()
    assert sorted(row.batch_number for row in scored) == [1, 2]
    for batch in batches:
        assert batch.evaluation is not None and batch.evaluation.quality is not None
        assert champion_score(batch).startswith(f"accuracy {batch.evaluation.quality.accuracy:.4f} (")
