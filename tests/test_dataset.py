"""Loading the dataset: UCI raw (header or not, gzipped or not), course format, and every kind of bad file."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from covertype.dataset import DatasetError, load_dataset, write_distinct_copies
from covertype.schema import COLUMNS, SOIL_TYPES, UCI_COLUMNS, WILDERNESS_AREAS


@pytest.fixture(scope="module")
def sample_lines(sample_csv: Path) -> list[str]:
    """Header and the first 50 data lines of the UCI sample."""
    return sample_csv.read_text().splitlines()[:51]


@pytest.fixture(scope="module")
def expected(sample_csv: Path) -> pd.DataFrame:
    return load_dataset(sample_csv).head(50)


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def _uci_row(*, wilderness: int, soil: int, cover: int = 2, elevation: int = 2800) -> str:
    """A raw UCI line with the one-hot 1 at Wilderness_Area<wilderness> and Soil_Type<soil>."""
    values = [elevation, 45, 10, 100, -5, 1200, 220, 230, 140, 1500]
    values += [int(i == wilderness) for i in range(1, 5)] + [int(i == soil) for i in range(1, 41)] + [cover]
    return ",".join(map(str, values))


def test_the_sample_loads_as_the_canonical_frame(sample_csv: Path) -> None:
    frame = load_dataset(sample_csv)

    assert list(frame.columns) == list(COLUMNS)
    assert len(frame) == 15_000
    assert all(frame[c].dtype == np.int32 for c in COLUMNS[:10])
    assert frame["Cover_Type"].dtype == np.int8
    assert set(frame["Wilderness_Area"]) <= set(WILDERNESS_AREAS)
    assert set(frame["Soil_Type"]) <= set(SOIL_TYPES)
    assert set(frame["Cover_Type"]) == set(range(1, 8))


def test_one_hot_columns_become_names_and_elu_codes(sample_csv: Path) -> None:
    raw = pd.read_csv(sample_csv)
    frame = load_dataset(sample_csv)

    wilderness = raw[[f"Wilderness_Area{i}" for i in range(1, 5)]].to_numpy().argmax(axis=1)
    soil = raw[[f"Soil_Type{i}" for i in range(1, 41)]].to_numpy().argmax(axis=1)
    assert frame["Wilderness_Area"].tolist() == [WILDERNESS_AREAS[i] for i in wilderness]
    assert frame["Soil_Type"].tolist() == [SOIL_TYPES[i] for i in soil]
    assert frame["Elevation"].tolist() == raw["Elevation"].tolist()


def test_known_positions_map_to_known_codes(tmp_path: Path) -> None:
    path = _write(tmp_path / "two.data", [_uci_row(wilderness=3, soil=29), _uci_row(wilderness=1, soil=40)])

    frame = load_dataset(path)

    assert frame[["Wilderness_Area", "Soil_Type"]].values.tolist() == [
        ["Commanche", "C7745"],
        ["Rawah", "C8776"],
    ]


def test_without_header_and_with_data_extension(
    tmp_path: Path, sample_lines: list[str], expected: pd.DataFrame
) -> None:
    frame = load_dataset(_write(tmp_path / "covtype.data", sample_lines[1:]))

    pd.testing.assert_frame_equal(frame, expected)


@pytest.mark.parametrize("lines", [slice(0, None), slice(1, None)], ids=["header", "no-header"])
def test_gzipped(tmp_path: Path, sample_lines: list[str], expected: pd.DataFrame, lines: slice) -> None:
    path = tmp_path / "covtype.data.gz"
    path.write_bytes(gzip.compress(("\n".join(sample_lines[lines]) + "\n").encode()))

    pd.testing.assert_frame_equal(load_dataset(path), expected)


@pytest.mark.parametrize("header", [True, False])
def test_course_format(tmp_path: Path, expected: pd.DataFrame, header: bool) -> None:
    path = tmp_path / "course.csv"
    expected.to_csv(path, index=False, header=header)

    pd.testing.assert_frame_equal(load_dataset(path), expected)


def test_course_format_columns_in_another_order(tmp_path: Path, expected: pd.DataFrame) -> None:
    path = tmp_path / "course.csv"
    expected[list(reversed(COLUMNS))].to_csv(path, index=False)

    pd.testing.assert_frame_equal(load_dataset(path), expected)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"nowhere\.csv: dataset file not found"):
        load_dataset(tmp_path / "nowhere.csv")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "the file is empty"),
        (",".join(UCI_COLUMNS), "the file has no data rows"),
        ("1,2,3\n4,5,6", "expected 55 columns .UCI raw. or 13 columns .course format., found 3"),
    ],
)
def test_empty_and_wrong_shape_files(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)

    with pytest.raises(DatasetError, match=rf"{re.escape(str(path))}: {problem}"):
        load_dataset(path)


def _corrupt(lines: list[str], row: int, column: int, value: str) -> list[str]:
    """``lines`` (header first) with data row ``row`` (1-based) having ``value`` in ``column`` (0-based)."""
    fields = lines[row].split(",")
    fields[column] = value
    return [*lines[:row], ",".join(fields), *lines[row + 1 :]]


@pytest.mark.parametrize(
    ("row", "column", "value", "problem"),
    [
        (3, 0, "abc", "row 3: Elevation 'abc' is not an integer"),
        (4, 1, "12.5", "row 4: Aspect '12.5' is not an integer"),
        (2, 5, "", "row 2: Horizontal_Distance_To_Roadways is empty"),
        (5, 0, "99999", "row 5: Elevation 99999 is outside 0..5000"),
        (6, 54, "8", "row 6: Cover_Type 8 is not in 1..7"),
        (7, 13, "2", r"row 7: the 4 one-hot Wilderness_Area columns must hold exactly one 1"),
    ],
)
def test_a_bad_cell_names_file_row_and_problem(
    tmp_path: Path, sample_lines: list[str], row: int, column: int, value: str, problem: str
) -> None:
    path = _write(tmp_path / "bad.csv", _corrupt(sample_lines, row, column, value))

    with pytest.raises(DatasetError, match=f"{re.escape(str(path))}: {problem}"):
        load_dataset(path)


@pytest.mark.parametrize(("wilderness", "soil"), [(0, 5), (2, 0)], ids=["no-wilderness", "no-soil"])
def test_a_one_hot_block_without_a_1_is_refused(tmp_path: Path, wilderness: int, soil: int) -> None:
    path = _write(
        tmp_path / "bad.data", [_uci_row(wilderness=1, soil=1), _uci_row(wilderness=wilderness, soil=soil)]
    )

    with pytest.raises(DatasetError, match=r"row 2: the \d+ one-hot \w+ columns must hold exactly one 1"):
        load_dataset(path)


def test_two_soil_types_in_one_row_are_refused(tmp_path: Path) -> None:
    fields = _uci_row(wilderness=1, soil=3).split(",")
    fields[14 + 7] = "1"  # Soil_Type8 as well
    path = _write(tmp_path / "bad.data", [",".join(fields)])

    with pytest.raises(DatasetError, match=r"bad\.data: row 1: the 40 one-hot Soil_Type columns"):
        load_dataset(path)


def test_a_row_with_too_few_fields_is_named(tmp_path: Path, sample_lines: list[str]) -> None:
    lines = [*sample_lines[:3], sample_lines[3].rsplit(",", 2)[0], *sample_lines[4:]]
    path = _write(tmp_path / "short.csv", lines)

    with pytest.raises(DatasetError, match=r"short\.csv: row 3: Soil_Type40 is empty"):
        load_dataset(path)


def test_a_row_with_too_many_fields_is_refused(tmp_path: Path, sample_lines: list[str]) -> None:
    lines = [*sample_lines[:3], sample_lines[3] + ",0", *sample_lines[4:]]
    path = _write(tmp_path / "long.csv", lines)

    with pytest.raises(DatasetError, match=r"long\.csv: cannot be parsed as CSV .*line 4"):
        load_dataset(path)


@pytest.mark.parametrize(
    ("column", "value"), [("Soil_Type", "C9999"), ("Wilderness_Area", "Yosemite")], ids=["soil", "wilderness"]
)
def test_course_format_unknown_codes_are_named(
    tmp_path: Path, expected: pd.DataFrame, column: str, value: str
) -> None:
    frame = expected.astype({column: object})
    frame.loc[1, column] = value
    path = tmp_path / "course.csv"
    frame.to_csv(path, index=False)

    with pytest.raises(
        DatasetError, match=f"{re.escape(str(path))}: row 2: {column} '{value}' is not one of its codes"
    ):
        load_dataset(path)


def test_course_format_header_missing_a_column(tmp_path: Path, expected: pd.DataFrame) -> None:
    path = tmp_path / "course.csv"
    expected.rename(columns={"Slope": "Steepness"}).to_csv(path, index=False)

    with pytest.raises(DatasetError, match=f"{re.escape(str(path))}: course-format header lacks Slope"):
        load_dataset(path)


def test_a_binary_file_is_a_dataset_error(tmp_path: Path) -> None:
    path = tmp_path / "binary.csv"
    path.write_bytes(b"\xff\xfe\x00\x81" * 100)

    with pytest.raises(DatasetError, match=f"{re.escape(str(path))}: cannot be"):
        load_dataset(path)


def test_distinct_copies_of_a_raw_file_are_distinct_rows_in_its_format(
    tmp_path: Path, sample_lines: list[str]
) -> None:
    """Copies of a raw file (one line twice) fill exactly ``rows`` distinct lines that load as the sample."""
    sample = _write(tmp_path / "sample.csv", [*sample_lines, sample_lines[1]])
    target = write_distinct_copies(sample, tmp_path / "copies.csv", 120, road_offset=7)

    header, *lines = target.read_text().splitlines()
    assert header == sample_lines[0] and len(lines) == len(set(lines)) == 120
    frame = load_dataset(target)
    original = load_dataset(sample)
    road = "Horizontal_Distance_To_Roadways"
    assert (frame[road].head(50) == original[road].head(50) + 7).all()
    assert (frame[road].iloc[50:100].to_numpy() == original[road].head(50).to_numpy() + 8).all()
    assert frame.drop(columns=road).head(50).equals(original.drop(columns=road).head(50))


def test_distinct_copies_of_a_file_without_rows_are_refused(tmp_path: Path, sample_lines: list[str]) -> None:
    with pytest.raises(DatasetError, match="cannot make 10 rows from 0 data rows"):
        write_distinct_copies(_write(tmp_path / "empty.csv", sample_lines[:1]), tmp_path / "out.csv", 10)
