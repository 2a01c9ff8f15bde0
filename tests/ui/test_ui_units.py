"""The UI's pure parts: soil and wilderness labels, the CSV round trip, the Models page's frames."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from covertype.dataset import load_dataset
from covertype.registry.queries import champion_history, slice_accuracy
from covertype.schema import COLUMNS, FEATURE_COLUMNS, SOIL_TYPES, WILDERNESS_AREAS
from covertype.store.run_log import ingestion_outcome
from covertype.ui.batch_csv import BadUpload, read_records, records, to_csv, with_predictions
from covertype.ui.charts import ingestion_chart
from covertype.ui.labels import SOIL_NAMES, soil_label, wilderness_label
from covertype.ui.tables import MISSING, readable
from support.hostile_values import NON_FINITE_TOKENS


def test_every_soil_code_has_its_uci_number_and_usfs_name() -> None:
    assert len(SOIL_NAMES) == len(SOIL_TYPES) == 40
    assert soil_label("C7745") == "C7745 — soil type 29: Como - Legault families complex, extremely stony"
    assert soil_label("C2702").startswith("C2702 — soil type 1: Cathedral family")
    assert soil_label("C9999") == "C9999"
    assert [wilderness_label(a) for a in WILDERNESS_AREAS][2] == "Comanche Peak Wilderness Area"


@pytest.fixture(scope="module")
def sample(sample_csv: Path) -> pd.DataFrame:
    return load_dataset(sample_csv).head(5)


@pytest.mark.parametrize("with_target", [True, False])
def test_a_canonical_csv_round_trips_with_the_answers(sample: pd.DataFrame, with_target: bool) -> None:
    columns = list(COLUMNS if with_target else FEATURE_COLUMNS)
    frame = read_records(to_csv(sample[columns[::-1]]))  # any column order
    assert list(frame.columns) == columns
    sent = records(frame)
    assert sent[0] == {
        c: (int(v) if not isinstance(v, str) else v) for c, v in sample.iloc[0][list(FEATURE_COLUMNS)].items()
    }
    answers = [
        {
            "cover_type": 2,
            "cover_type_name": "Lodgepole Pine",
            "probabilities": {"Lodgepole Pine": 0.8, "Aspen": 0.2},
            "model_version": "3",
        }
    ] * len(frame)
    result = pd.read_csv(pd.io.common.BytesIO(to_csv(with_predictions(frame, answers))))
    assert list(result.columns) == [
        *columns,
        "predicted_cover_type",
        "predicted_cover_type_name",
        "probability",
        "model_version",
    ]
    assert result["probability"].tolist() == [0.8] * 5 and result["model_version"].tolist() == [3] * 5


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f.drop(columns=["Slope", "Soil_Type"]), "missing column(s) Slope, Soil_Type"),
        (
            lambda f: f.assign(Elevation=["2596", "x", "1", "2", "3"]),
            "row 2: Elevation 'x' is not an integer",
        ),
        (lambda f: f.assign(Aspect=[1.5, 2, 3, 4, 5]), "row 1: Aspect '1.5' is not an integer"),
        (lambda f: f.head(0), "the file has a header but no rows"),
    ],
)
def test_a_bad_upload_is_refused_with_the_reason(sample: pd.DataFrame, mutate, message: str) -> None:  # noqa: ANN001
    with pytest.raises(BadUpload, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_records(to_csv(mutate(sample)))


@pytest.mark.parametrize("value", [*NON_FINITE_TOKENS, "nan", "inf", "-inf"])
def test_a_non_finite_number_in_an_upload_is_named(sample: pd.DataFrame, value: str) -> None:
    upload = sample.astype({"Hillshade_3pm": str})
    upload.loc[upload.index[3], "Hillshade_3pm"] = value
    with pytest.raises(BadUpload, match=f"^row 4: Hillshade_3pm '{value}' is not an integer$"):
        read_records(to_csv(upload))


def test_every_bad_value_of_an_upload_is_listed_with_its_row_and_column(sample_csv: Path) -> None:
    upload = load_dataset(sample_csv).head(6).astype(str)
    upload.loc[1, "Elevation"] = "x"
    upload.loc[2, ["Slope", "Soil_Type"]] = ["91", "C9999"]
    upload.loc[4, "Wilderness_Area"] = "Yosemite"
    upload.loc[5, "Cover_Type"] = "8"
    with pytest.raises(BadUpload) as refused:
        read_records(to_csv(upload))
    assert str(refused.value).splitlines() == [
        "row 2: Elevation 'x' is not an integer",
        "row 3: Slope '91' is outside 0..90",
        "row 3: Soil_Type 'C9999' is not a soil code (C2702 ... C8776)",
        "row 5: Wilderness_Area 'Yosemite' is not a wilderness area (Rawah, Neota, Commanche, Cache)",
        "row 6: Cover_Type '8' is outside 1..7",
    ]


def test_an_upload_with_many_bad_values_lists_the_first_20_and_counts_the_rest(sample_csv: Path) -> None:
    upload = load_dataset(sample_csv).head(30).assign(Aspect=-1, Hillshade_9am="y" * 1_000)
    with pytest.raises(BadUpload) as refused:
        read_records(to_csv(upload))
    lines = str(refused.value).splitlines()
    assert lines[:3] == [
        "row 1: Aspect '-1' is outside 0..360",
        f"row 1: Hillshade_9am '{'y' * 30}…' is not an integer",
        "row 2: Aspect '-1' is outside 0..360",
    ]
    assert len(lines) == 21 and lines[19].startswith("row 10: Hillshade_9am")
    assert lines[20] == "and 40 more"


def test_an_unreadable_file_is_refused() -> None:
    with pytest.raises(BadUpload, match="not a readable CSV file"):
        read_records(b"")


def _versions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "version": ["3", "2", "1"],
            "training_decision": ["rejected", "promoted", "promoted"],
            "challenger_accuracy": [0.80, 0.85, 0.70],
            "champion_accuracy": [0.86, 0.72, None],
            **{f"accuracy {area}": [0.9, None, 0.5] for area in WILDERNESS_AREAS},
        }
    )


def test_champion_history_follows_each_training_decision() -> None:
    history = champion_history(_versions())
    assert history["training run"].tolist() == ["v1", "v2", "v3"]
    assert history["champion after the run"].tolist() == [0.70, 0.85, 0.86]
    assert history["new version"].tolist() == [0.70, 0.85, 0.80]


def test_champion_history_does_not_credit_a_superseded_run_with_the_champion_it_compared_with() -> None:
    """v4 beat v3's score but a roll back made v1 champion meanwhile: v1 was never scored on v4's holdout."""
    versions = pd.concat(
        [
            pd.DataFrame(
                {
                    "version": ["4"],
                    "training_decision": ["superseded"],
                    "challenger_accuracy": [0.90],
                    "champion_accuracy": [0.86],
                }
            ),
            _versions(),
        ]
    )
    history = champion_history(versions)
    assert history["training run"].tolist() == ["v1", "v2", "v3", "v4"]
    assert history["new version"].tolist() == [0.70, 0.85, 0.80, 0.90]
    assert history["champion after the run"].tolist()[:3] == [0.70, 0.85, 0.86]
    assert math.isnan(history["champion after the run"].iloc[3])


def test_slice_accuracy_skips_versions_without_slices() -> None:
    long = slice_accuracy(_versions())
    assert set(long["version"]) == {"v3", "v1"} and len(long) == 8


@pytest.mark.parametrize(
    ("status", "inserted", "outcome"),
    [
        ("success", 598, "stored"),
        ("success", 0, "skipped: no new rows"),
        ("exhausted", None, "skipped: all batches delivered"),
        ("failed", None, "failed"),
    ],
)
def test_every_poll_has_an_outcome_in_the_dags_words(status: str, inserted: int | None, outcome: str) -> None:
    assert ingestion_outcome(status, inserted) == outcome


def test_tables_show_a_dash_for_missing_values_and_keep_full_columns_numeric() -> None:
    frame = pd.DataFrame(
        {
            "batch": [3, None],
            "accuracy": [0.69501, None],
            "when": pd.to_datetime(["2026-11-25T01:22:03Z", None]),
            "error": [None, "ConnectError"],
            "rows": [600, 0],
        }
    )
    shown = readable(frame)
    assert shown.to_dict(orient="list") == {
        "batch": ["3", MISSING],
        "accuracy": ["0.6950", MISSING],
        "when": ["2026-11-25 01:22:03", MISSING],
        "error": [MISSING, "ConnectError"],
        "rows": [600, 0],
    }
    assert shown["rows"].dtype == "int64"


def test_the_ingestion_chart_keeps_every_poll_apart() -> None:
    runs = pd.DataFrame(
        {
            "started_at": pd.to_datetime(["2026-11-25 01:00:02"] * 3 + ["2026-11-25 01:00:01"]),
            "group_number": [1, 1, 1, 1],
            "batch_number": [None, 3, 3, 2],
            "rows_inserted": [0, 0, 600, 600],
            "duplicates": [0, 600, 0, 0],
            "rejected": [0, 0, 0, 0],
        }
    )  # newest first, as the store reads them
    polls = list(ingestion_chart(runs).data["poll"].unique())
    assert polls == ["01:00:01 g1 b2", "01:00:02 g1 b3", "01:00:02 g1 b3 (2)", "01:00:02 g1 b-"]
