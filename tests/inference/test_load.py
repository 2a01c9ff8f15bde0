"""A short run of ``benchmarks/load_test.py``: both APIs, 16 clients, no failure, flat memory."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from covertype.dataset import load_dataset
from support.inference import registry_settings, train_version
from support.paths import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
from load_test import run_load_test  # noqa: E402

pytestmark = pytest.mark.slow

#: Largest RSS growth (MB) of a server between the middle and the end of the run.
RSS_GROWTH_MB = 30.0


def test_both_apis_answer_every_request_under_load_without_growing(tmp_path: Path, sample_csv: Path) -> None:
    frame: pd.DataFrame = load_dataset(sample_csv).iloc[:3_000]
    settings = registry_settings(tmp_path / "registry")
    train_version(settings, frame, candidates="random_forest")

    report = run_load_test(
        tracking_uri=settings.tracking_uri, workdir=tmp_path, duration=10.0, clients=16, sample=sample_csv
    )

    print(report)
    assert report["failures"] == 0, report["failure_samples"]
    assert report["requests"] > 200
    assert set(report["endpoints"]) >= {
        "POST /predict",
        "POST /predict/batch",
        "GET /model",
        "GET /ready",
        "GET /health",
        "GET /data?group_number=1",
    }
    for server, rss in report["rss_mb"].items():
        assert rss["end"] - rss["middle"] < RSS_GROWTH_MB, f"{server} memory grew: {rss}"
