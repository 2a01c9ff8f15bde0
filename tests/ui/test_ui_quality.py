"""The Pipeline page's batch-quality frames and charts: accuracy per batch by version, and the drift map."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from covertype.processes import unused_port
from covertype.schema import FEATURE_COLUMNS
from covertype.settings import get_settings
from covertype.store.engine import store_engine
from covertype.store.quality import BatchQuality, DriftStatus, record_batch_quality
from covertype.ui import APP_PATH
from covertype.ui.charts import batch_accuracy_chart, drift_map
from covertype.ui.quality import (
    DRIFTED,
    NO_VERDICT,
    STABLE,
    OwnHoldout,
    batch_accuracy,
    batch_table,
    drift_cells,
    holdout_by_version,
    level_labels,
    version_stints,
)

PIPELINE_PAGE = APP_PATH.with_name("views") / "pipeline.py"


def _row(
    batch: int, version: str, accuracy: float, psi: dict[str, float] | None = None, rows: int = 500
) -> BatchQuality:
    """A row as the evaluation writes it: with PSI, a verdict (features above 0.2 drifted, as if beyond
    chance) or, under 100 rows, none; without PSI, a version without a profile."""
    psi = psi or {}
    status = DriftStatus.NO_PROFILE if not psi else DriftStatus.NOT_ENOUGH_ROWS
    if psi and rows >= 100:
        status = DriftStatus.DRIFTED if max(psi.values()) > 0.2 else DriftStatus.STABLE
    judged = status in (DriftStatus.DRIFTED, DriftStatus.STABLE)
    return BatchQuality(
        group_number=1,
        batch_number=batch,
        model_version=version,
        rows=rows,
        accuracy=accuracy,
        macro_f1=accuracy - 0.1,
        drift_score=max(psi.values()) if judged else None,
        drift_status=status,
        drifted_features=sorted(name for name, value in psi.items() if value > 0.2) if judged else [],
        class_recall={"1": accuracy},
        feature_psi=psi,
        evaluated_at=datetime(2026, 11, 30, tzinfo=UTC),
    )


#: v1 scores batches 2-3, v2 takes over at 4 and 5, v1 again (a roll back) at 6; batch 4 is also
#: scored by v1 first (evaluated before the promotion), so batch 4 has two rows.
ROWS = [
    _row(2, "1", 0.80, {"Elevation": 0.01, "Slope": 0.02}),
    _row(3, "1", 0.70, {"Elevation": 0.45, "Slope": 0.15}),
    _row(4, "1", 0.71, {"Elevation": 0.50, "Slope": 0.12}),
    _row(4, "2", 0.83, {"Elevation": 0.03, "Slope": 0.01}),
    _row(5, "2", 0.84),
    _row(6, "1", 0.69, {"Elevation": 0.60, "Slope": 0.01}),
    _row(7, "1", 0.70, {"Elevation": 0.35, "Slope": 0.25}, rows=60),
]


def test_batch_accuracy_numbers_each_run_of_one_version() -> None:
    frame = batch_accuracy(ROWS)
    assert frame["batch"].tolist() == [2, 3, 4, 4, 5, 6, 7]
    assert frame["version"].tolist() == ["v1", "v1", "v1", "v2", "v2", "v1", "v1"]
    assert frame["stint"].tolist() == [1, 1, 1, 2, 2, 3, 3]
    assert frame["drift_score"].isna().tolist() == [False, False, False, False, True, False, True]


def test_each_batch_accuracy_carries_its_rows_and_interval_at_the_precision_they_allow() -> None:
    frame = batch_accuracy([ROWS[0], ROWS[2]])  # 400 and 355 right of 500 rows
    assert frame["rows"].tolist() == [500, 500]
    assert frame["text"].tolist() == ["80.0% (76.3–83.3%)", "71.0% (66.9–74.8%)"]
    assert frame[["low", "high"]].round(4).values.tolist() == [[0.7627, 0.8327], [0.6687, 0.7481]]
    table = batch_table(frame)
    assert table.columns.tolist() == ["batch", "champion", "rows", "accuracy (95% interval)"]
    assert table["batch"].tolist() == [4, 2]  # newest first


def test_stints_carry_the_holdout_accuracy_and_mark_the_changes() -> None:
    versions = pd.DataFrame(
        {"version": ["2", "1"], "holdout_accuracy": [0.86, None], "holdout_rows": [50.0, 40.0]}
    )
    holdout = holdout_by_version(versions)
    assert holdout == {"2": OwnHoldout(0.86, "86% (74–93%)", 50)}
    stints = version_stints(batch_accuracy(ROWS), holdout)
    assert stints["version"].tolist() == ["v1", "v2", "v1"]
    assert stints[["first_batch", "last_batch"]].values.tolist() == [[2, 4], [4, 5], [6, 7]]
    assert stints["start"].tolist() == [1.5, 3.5, 5.5] and stints["end"].tolist() == [4.5, 5.5, 7.5]
    assert stints["change"].tolist() == [False, True, True]
    assert stints["holdout_accuracy"].isna().tolist() == [True, False, True]
    assert (
        stints["holdout_accuracy"].iloc[1] == 0.86 and stints["holdout"].iloc[1] == "86% (74–93%) on 50 rows"
    )


def test_the_drift_map_shows_each_batchs_latest_evaluation_and_skips_rows_without_psi() -> None:
    cells = drift_cells(ROWS)
    assert sorted(cells["batch"].unique()) == [2, 3, 4, 6, 7]  # batch 5's evaluation has no profile
    batch_4 = cells[cells["batch"] == 4].set_index("feature")
    assert batch_4["version"].unique().tolist() == ["v2"] and batch_4.loc["Elevation", "psi"] == 0.03
    assert drift_cells([ROWS[4]]).empty


def test_the_drift_map_colours_the_verdict_not_the_psi() -> None:
    """Red only where the evaluation flagged the feature; a PSI above the threshold on a batch too small to
    judge is grey, never red (the false alarm of small samples)."""
    levels = drift_cells(ROWS).set_index(["batch", "feature"])["level"]
    assert levels[(3, "Elevation")] == DRIFTED and levels[(3, "Slope")] == STABLE
    assert levels[(2, "Elevation")] == STABLE
    assert levels[(7, "Elevation")] == NO_VERDICT and levels[(7, "Slope")] == NO_VERDICT


def test_the_accuracy_chart_labels_each_version_change() -> None:
    accuracy = batch_accuracy(ROWS)
    holdout = {"1": OwnHoldout(0.78, "78% (74–82%)", 400), "2": OwnHoldout(0.86, "86% (82–89%)", 400)}
    spec = batch_accuracy_chart(accuracy, version_stints(accuracy, holdout)).to_dict()
    layers = spec["layer"]
    assert [layer["mark"]["type"] for layer in layers] == ["line", "rule", "rule", "rule", "text"]
    interval = layers[1]["encoding"]
    assert (interval["y"]["field"], interval["y2"]["field"]) == ("low", "high")  # each point's 95% interval
    labels = spec["datasets"][layers[4]["data"]["name"]]
    assert [label["label"] for label in labels] == ["v2 takes over", "v1 takes over"]
    assert [label["start"] for label in labels] == [3.5, 5.5]


def test_the_drift_map_names_the_threshold_and_paints_drifted_cells_red() -> None:
    spec = drift_map(drift_cells(ROWS), threshold=0.25, features=list(FEATURE_COLUMNS)).to_dict()
    scale = spec["layer"][0]["encoding"]["color"]["scale"]
    assert scale["domain"] == list(level_labels(0.25).values())
    assert scale["domain"][2] == "drifted (beyond chance and PSI > 0.25)" and scale["range"][2] == "#c62828"
    assert scale["domain"][0].startswith("no verdict") and scale["range"][0] == "#e0e0e0"
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["rect", "text"]  # few batches: written


def test_the_drift_maps_legend_shows_each_verdicts_whole_label_one_a_line() -> None:
    """Vega-Lite cuts legend labels at 160 px by default: "no verdict (too few rows, …" said too little."""
    spec = drift_map(drift_cells(ROWS), threshold=0.2, features=list(FEATURE_COLUMNS)).to_dict()
    legend = spec["layer"][0]["encoding"]["color"]["legend"]
    assert (legend["labelLimit"], legend["columns"]) == (0, 1)  # 0: no limit


def test_the_pipeline_page_says_what_is_missing_before_and_without_drift_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page itself (Streamlit's AppTest, in process) on an empty store, then with one evaluation by a
    version without a reference profile; the data API and Airflow are not up, which the page says too."""
    nowhere = f"http://127.0.0.1:{unused_port()}"
    environment = {
        "COVERTYPE_DATA_DIR": str(tmp_path),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "COVERTYPE_DATA_API_URL": nowhere,
        "COVERTYPE_AIRFLOW_API_URL": nowhere,
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    st.cache_resource.clear()
    try:
        page = AppTest.from_file(str(PIPELINE_PAGE), default_timeout=120).run()
        assert not page.exception
        assert any(
            info.value.startswith("No batch evaluated yet: the champion scores each batch as it arrives")
            for info in page.info
        )
        engine = store_engine(get_settings())
        try:
            record_batch_quality(engine, ROWS[4])  # batch 5 by v2, which has no reference profile
        finally:
            engine.dispose()
        page.run()
        assert not page.exception
        infos = [info.value for info in page.info]
        assert not any(text.startswith("No batch evaluated yet") for text in infos)
        assert any(text.startswith("No drift measured") for text in infos)
        assert [metric.value for metric in page.metric][-4:] == ["1", "84.0% (80.5–87.0%)", "—", "—"]
        assert [metric.label for metric in page.metric][-3] == "Latest batch (5, 500 rows): accuracy"

        engine = store_engine(get_settings())
        try:
            record_batch_quality(engine, ROWS[6])  # batch 7, 60 rows: PSI measured, no verdict
        finally:
            engine.dispose()
        page.run()
        assert not page.exception
        assert [metric.value for metric in page.metric][-1] == "too few rows"
        assert any("Grey: no verdict, fewer than 100 rows" in caption.value for caption in page.caption)
    finally:
        get_settings.cache_clear()
        st.cache_resource.clear()
