"""The web UI in headless Chromium (Debian's ``/usr/bin/chromium`` driven by Playwright) on a real stack:
data API, SQLite store with ingested batches, MLflow registry with two trained versions, inference API, and
``batch_quality`` rows written by the real test-then-train evaluation of the champion."""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pandas as pd
import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from covertype.dataset import load_dataset
from covertype.processes import Service, unused_port
from covertype.registry.client import mlflow_client
from covertype.registry.core import Registry
from covertype.registry.evidence import HoldoutComparison, accuracy_text
from covertype.schema import COLUMNS, COVER_TYPES, FEATURE_COLUMNS
from covertype.store.engine import store_engine
from covertype.store.quality import batch_quality_rows
from covertype.ui import streamlit_command
from covertype.ui.examples import BUILT_IN_EXAMPLE
from support.ui import OPERATOR_TOKEN, UiStack, add_dag_run, airflow_api_server, ui_stack

pytestmark = pytest.mark.slow

#: Where page screenshots go; ``COVERTYPE_SCREENSHOT_DIR=images`` refreshes the README's pictures.
IMAGES = Path(
    os.environ.get("COVERTYPE_SCREENSHOT_DIR", Path(tempfile.gettempdir()) / "covertype-screenshots")
)
CHROMIUM = "/usr/bin/chromium"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
#: Tall enough for a whole page: Streamlit scrolls inside the page, so full_page shots stop at the viewport.
VIEWPORT = {"width": 1400, "height": 1700}
expect.set_options(timeout=30_000)  # a page's first run in a fresh UI process imports MLflow: seconds


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, sample_csv: Path) -> Iterator[UiStack]:
    with ui_stack(tmp_path_factory.mktemp("ui-stack"), sample_csv) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser page; after the test, no request it made may have left the machine."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(60_000)
    outside: list[str] = []
    context.on(
        "request",
        lambda request: (
            outside.append(request.url)
            if urlsplit(request.url).hostname not in LOOPBACK
            and not request.url.startswith(("data:", "blob:"))
            else None
        ),
    )
    opened = context.new_page()
    yield opened
    context.close()
    assert outside == [], f"requests left the machine: {outside}"


def _open(page: Page, url: str, heading: str) -> None:
    page.goto(url)
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    _settle(page)


def _settle(page: Page) -> None:
    """Wait until Streamlit's script run is over.

    The app root carries the run's state (``data-test-script-state``, what Streamlit's own end-to-end tests
    wait on); the "Running..." widget is no signal, as it shows only after a run has lasted a while.
    """
    page.wait_for_timeout(300)
    expect(page.locator("[data-testid='stApp'][data-test-script-state='notRunning']")).to_have_count(
        1, timeout=60_000
    )
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=60_000)


def _screenshot(page: Page, name: str) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(1_000)  # charts animate in
    page.screenshot(path=str(IMAGES / name), full_page=True)


def _metric_value(page: Page, label: str) -> Locator:
    """The value of the metric card labelled ``label``."""
    label_locator = page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)
    return page.get_by_test_id("stMetric").filter(has=label_locator).get_by_test_id("stMetricValue")


def _cells(page: Page, table_index: int) -> list[str]:
    """The cell texts of a Streamlit data frame (its grid keeps an accessible table in the DOM)."""
    cells = page.get_by_test_id("stDataFrame").nth(table_index).locator("td")
    expect(cells.first).to_be_attached()  # the grid fills its table after it first draws
    return cells.all_text_contents()


def test_predict_form_answers_like_the_inference_api(
    stack: UiStack, page: Page, tmp_path: Path, sample_csv: Path
) -> None:
    _open(page, stack.ui_url, "Predict the forest cover type")
    page.get_by_role("button", name="Predict", exact=True).click()
    answer = page.get_by_test_id("stAlertContentSuccess").first
    expect(answer).to_contain_text("(cover type")
    record = {column: BUILT_IN_EXAMPLE[column] for column in FEATURE_COLUMNS}
    expected = httpx.post(f"{stack.inference_url}/predict", json=record, timeout=30).json()
    expect(answer).to_contain_text(f"{expected['cover_type_name']} (cover type {expected['cover_type']})")
    expect(page.get_by_test_id("stMetricValue")).to_have_text(
        f"{expected['probabilities'][expected['cover_type_name']]:.1%}"
    )
    expect(page.get_by_test_id("stVegaLiteChart")).to_have_count(1)

    page.get_by_role("button", name="Example row").click()
    expect(page.get_by_text("Example: a random row of the store")).to_be_visible()

    frame = load_dataset(sample_csv).head(40)
    upload = tmp_path / "locations.csv"
    frame.to_csv(upload, index=False)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(upload))
    expect(page.get_by_text("40 rows classified")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the predictions (CSV)").click()
    saved = tmp_path / "predictions.csv"
    download.value.save_as(saved)
    result = pd.read_csv(saved)
    assert list(result.columns) == [
        *COLUMNS,
        "predicted_cover_type",
        "predicted_cover_type_name",
        "probability",
        "model_version",
    ]
    assert len(result) == 40
    assert result[list(COLUMNS)].astype(str).equals(frame[list(COLUMNS)].reset_index(drop=True).astype(str))
    assert set(result["predicted_cover_type_name"]) <= set(COVER_TYPES.values())
    assert result["probability"].between(0, 1).all()
    _settle(page)
    page.get_by_role("button", name="Predict", exact=True).click()
    _settle(page)
    _screenshot(page, "ui-predict.png")


def test_predict_shows_upload_and_inference_errors_plainly(
    stack: UiStack, page: Page, tmp_path: Path, sample_csv: Path
) -> None:
    _open(page, stack.ui_url, "Predict the forest cover type")
    frame = load_dataset(sample_csv).head(3)
    missing = tmp_path / "missing.csv"
    frame.drop(columns=["Slope"]).to_csv(missing, index=False)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(missing))
    expect(page.get_by_test_id("stAlertContentError")).to_contain_text("missing.csv: missing column(s) Slope")

    unknown_soil = tmp_path / "unknown-soil.csv"
    frame.assign(Soil_Type=["C7745", "C9999", "C7745"]).to_csv(unknown_soil, index=False)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(unknown_soil))
    error = page.get_by_test_id("stAlertContentError")
    expect(error).to_contain_text("unknown-soil.csv: row 2: Soil_Type 'C9999' is not a soil code")

    not_finite = tmp_path / "not-finite.csv"
    frame.astype({"Slope": str}).assign(Slope=["12", "nan", "1e999"]).to_csv(not_finite, index=False)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(not_finite))
    expect(error).to_contain_text("not-finite.csv: row 2: Slope 'nan' is not an integer")
    expect(error).to_contain_text("row 3: Slope '1e999' is not an integer")  # every bad row, not the first
    assert "Traceback" not in page.content()


def test_pipeline_page_shows_failed_and_skipped_runs_and_airflow_dag_runs(
    stack: UiStack, page: Page, tmp_path: Path
) -> None:
    airflow_url = f"http://127.0.0.1:{stack.airflow_port}"
    _open(page, f"{stack.ui_url}/pipeline", "Pipeline")  # Airflow is not up yet: the page says so and goes on
    expect(page.get_by_test_id("stAlertContentWarning")).to_contain_text(
        f"Airflow's DAG runs cannot be shown: the Airflow API at {airflow_url}/auth/token could not be"
    )
    expect(page.get_by_role("heading", name="Ingestion runs", exact=True)).to_be_visible()
    expect(page.get_by_text("The latest 6 polls, newest first")).to_be_visible()
    expect(page.get_by_test_id("stAlertContentError")).to_contain_text(
        "1 of these polls failed; the newest, at"
    )
    expect(page.get_by_test_id("stAlertContentError")).to_contain_text("ConnectError: connection refused")
    schedules, runs, rejected = (_cells(page, index) for index in range(3))
    assert schedules[:2] == ["1", "batch 4 of 5"] and "not started" in schedules
    assert [runs.count(outcome) for outcome in ("stored", "skipped: no new rows", "failed")] == [4, 1, 1]
    assert "598" in runs  # batch 1 stored 598 of 600 rows
    assert any("Elevation -40 is outside 0..5000" in cell for cell in rejected)
    assert any("'C9999' is not" in cell for cell in rejected)
    assert "None" not in schedules + runs + rejected and "—" in schedules and "—" in runs
    expect(page.get_by_test_id("stVegaLiteChart")).to_have_count(3)  # ingestion, accuracy, drift map

    with airflow_api_server(tmp_path / "airflow", stack.airflow_port):
        add_dag_run(airflow_url, "covertype_ingest", "success")
        failed = add_dag_run(airflow_url, "covertype_ingest", "failed")
        add_dag_run(airflow_url, "covertype_train", "success")
        _open(page, f"{stack.ui_url}/pipeline", "Pipeline")
        expect(page.get_by_role("heading", name="Airflow: latest DAG runs")).to_be_visible()
        expect(page.get_by_test_id("stMetricValue").first).to_have_text("failed")  # covertype_ingest
        expect(page.get_by_test_id("stMetricValue").nth(1)).to_have_text("success")  # covertype_train
        expect(page.get_by_test_id("stAlertContentError").first).to_contain_text(
            f"1 of these runs failed; the newest: covertype_ingest {failed}"
        )
        dag_runs = _cells(page, 1)
        assert dag_runs.count("covertype_ingest") == 2 and dag_runs.count("covertype_train") == 1
        assert failed in dag_runs and "None" not in dag_runs
        _screenshot(page, "ui-pipeline.png")


def test_pipeline_page_charts_the_champion_on_each_batch_and_the_drift_map(
    stack: UiStack, page: Page
) -> None:
    """Batches 3 and 4 were scored by the real ``evaluate_batch`` (the stack's champion, its ONNX graph
    and reference profile) as they were stored; the page draws both charts from those rows. (The README's
    picture of them, ``ui-monitoring.png``, comes from ``scripts/screenshots.py --monitoring``: more
    batches, a shift and a new version.)"""
    engine = store_engine(stack.settings)
    try:
        evaluations = batch_quality_rows(engine, group_number=stack.settings.group)
    finally:
        engine.dispose()
    assert [row.batch_number for row in evaluations] == [3, 4]
    assert all(row.feature_psi for row in evaluations)
    latest = evaluations[-1]
    _open(page, f"{stack.ui_url}/pipeline", "Pipeline")
    section = page.get_by_role("heading", name="The champion on each batch, before training on it")
    expect(section).to_be_visible()
    expect(_metric_value(page, "Batches evaluated")).to_have_text("2")
    expect(_metric_value(page, f"Latest batch (4, {latest.rows:,} rows): accuracy")).to_have_text(
        accuracy_text(round(latest.accuracy * latest.rows), latest.rows, with_rows=False)
    )
    expect(_metric_value(page, "Latest drift score")).to_have_text(f"{latest.drift_score:.3f}")
    version = mlflow_client(stack.settings).get_model_version(stack.settings.model_name, latest.model_version)
    run = mlflow_client(stack.settings).get_run(str(version.run_id)).data.metrics
    holdout_rows = int(run["holdout_rows"])
    expect(
        _metric_value(page, f"Holdout accuracy of v{latest.model_version} ({holdout_rows:,} rows)")
    ).to_have_text(
        accuracy_text(round(run["holdout_accuracy"] * holdout_rows), holdout_rows, with_rows=False)
    )
    expect(page.get_by_text("Drift per feature and batch")).to_be_visible()
    expect(page.get_by_text("PSI above COVERTYPE_DRIFT_THRESHOLD (0.2)")).to_be_visible()
    charts = page.get_by_test_id("stVegaLiteChart")
    expect(charts).to_have_count(3)
    for index in (1, 2):  # drawn, not just placed: vega-embed renders into a canvas of some size
        box = charts.nth(index).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 150
    assert "Traceback" not in page.content()


def test_the_models_page_compares_versions_on_the_same_rows_with_their_intervals(
    stack: UiStack, page: Page
) -> None:
    """The time line is the test-then-train accuracy of each batch (``batch_quality``), with its rows and
    interval; the versions table and the area chart compare every version on the newest training's
    holdout rows, which the page names and counts; no accuracy shows more digits than its interval allows."""
    engine = store_engine(stack.settings)
    try:
        evaluations = batch_quality_rows(engine, group_number=stack.settings.group)
    finally:
        engine.dispose()
    _open(page, f"{stack.ui_url}/models", "Models")
    expect(page.get_by_role("heading", name="Champion accuracy per training run")).to_have_count(0)
    expect(
        page.get_by_role("heading", name="The champion on each batch, before training on it")
    ).to_be_visible()
    expect(page.get_by_text("each batch's rows scored by the champion of the moment")).to_be_visible()
    timeline = _cells(page, 2)
    expected = [
        cell
        for row in reversed(evaluations)
        for cell in (
            str(row.batch_number),
            f"v{row.model_version}",
            str(row.rows),
            accuracy_text(round(row.accuracy * row.rows), row.rows, with_rows=False),
        )
    ]
    assert timeline == expected

    labels = mlflow_client(stack.settings).get_model_version(stack.settings.model_name, "2").tags
    latest = HoldoutComparison.from_tag(labels["covertype.holdout_comparison"])
    assert latest.version == "2" and set(latest.correct) == {"1", "2"}
    champion = Registry.from_settings(stack.settings).champion_version()
    assert champion is not None

    expect(_metric_value(page, f"Champion on the latest holdout ({latest.rows:,} rows)")).to_have_text(
        str(latest.text(champion, with_rows=False))
    )
    versions, decisions = _cells(page, 0), _cells(page, 1)
    for version in ("1", "2"):  # both versions on v2's holdout rows, each with its interval
        assert latest.text(version, with_rows=False) in versions
    own_holdout = r"\d+(\.\d)?% \(\d+(\.\d)?–\d+(\.\d)?%\) on [\d,]+ rows"
    assert sum(bool(re.fullmatch(own_holdout, cell)) for cell in versions) == 2, versions
    assert any(
        cell.startswith(("beyond noise (exact McNemar p = ", "within noise (exact McNemar p = "))
        for cell in decisions
    ), decisions
    assert any(f"on the same {latest.rows:,} holdout rows" in cell for cell in decisions)
    shown = versions + decisions
    assert not any(re.search(r"\d\.\d{4}", cell) for cell in shown), shown  # no 4-decimal scores
    expect(
        page.get_by_role("heading", name="Accuracy per wilderness area on the latest holdout")
    ).to_be_visible()
    expect(
        page.get_by_text(f"Every version scored on v2's holdout rows ({latest.rows:,} in all)")
    ).to_be_visible()
    expect(page.get_by_test_id("stVegaLiteChart")).to_have_count(2)  # the time line and the area chart
    assert "Traceback" not in page.content()


def _rolled_back_to(stack: UiStack, page: Page) -> str:
    """Sign in as operator on the Models page and roll back to the other version; that version."""
    settings = stack.settings
    before = Registry.from_settings(settings).champion_version()
    assert httpx.get(f"{stack.inference_url}/model", timeout=30).json()["version"] == before
    target = "1" if before == "2" else "2"
    page.get_by_label("Why (recorded on the version)").fill("checked by the UI test")
    page.get_by_role("button", name="Make this version champion").click()
    expect(page.get_by_text(f"v{target} is now champion")).to_be_visible()
    expect(page.get_by_text(f"The inference API serves v{target}.")).to_be_visible()  # reloaded at once
    assert Registry.from_settings(settings).champion_version() == target
    return target


def test_roll_back_needs_the_operator_token_and_the_inference_api_follows(stack: UiStack, page: Page) -> None:
    _open(page, f"{stack.ui_url}/models", "Models")
    expect(page.get_by_role("heading", name="Registered versions")).to_be_visible()
    cells = _cells(page, 0) + _cells(page, 1)
    assert "promoted" in cells and "logreg" in cells
    assert any("open run" in cell or "#/experiments/" in cell for cell in cells), cells  # MLflow UI link
    make_champion = page.get_by_role("button", name="Make this version champion")
    expect(make_champion).to_have_count(0)  # not signed in: no lever

    token = page.get_by_label("Operator token (COVERTYPE_API_TOKEN)")
    token.fill("a-wrong-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("stAlertContentError")).to_contain_text("Wrong operator token")
    expect(make_champion).to_have_count(0)

    token.fill(OPERATOR_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    target = _rolled_back_to(stack, page)
    assert httpx.get(f"{stack.inference_url}/model", timeout=30).json()["version"] == target
    _open(page, f"{stack.ui_url}/models", "Models")
    expect(page.get_by_test_id("stMetricValue").nth(3)).to_have_text(f"v{target}")
    assert "None" not in _cells(page, 0) + _cells(page, 1)
    _screenshot(page, "ui-models.png")


def test_a_ui_without_the_operator_token_is_read_only(stack: UiStack, page: Page, tmp_path: Path) -> None:
    port = unused_port()
    env = {key: value for key, value in stack.env.items() if key != "COVERTYPE_API_TOKEN"}
    service = Service(
        "ui-read-only",
        streamlit_command(host="127.0.0.1", port=port),
        f"http://127.0.0.1:{port}/_stcore/health",
        port,
        env=env,
        log_path=tmp_path / "ui-read-only.log",
        start_timeout=60,
    )
    with service:
        champion = Registry.from_settings(stack.settings).champion_version()
        _open(page, f"http://127.0.0.1:{port}/models", "Models")
        expect(page.get_by_test_id("stAlertContentInfo")).to_contain_text(
            "Roll back is off: this UI is read-only"
        )
        expect(page.get_by_test_id("stAlertContentInfo")).to_contain_text("COVERTYPE_API_TOKEN")
        expect(page.get_by_role("button", name="Make this version champion")).to_have_count(0)
        expect(page.get_by_role("button", name="Sign in")).to_have_count(0)
        assert Registry.from_settings(stack.settings).champion_version() == champion


def test_covertype_ui_serves_the_app_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = unused_port()
    service = Service(
        "ui",
        [str(Path(sys.executable).parent / "covertype"), "ui", "--port", str(port)],
        f"http://127.0.0.1:{port}/_stcore/health",
        port,
        env={"COVERTYPE_DATA_DIR": str(tmp_path)},
        log_path=tmp_path / "ui.log",
        start_timeout=60,
    )
    with service:
        assert "<title>Streamlit</title>" in httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text
        assert service.process is not None
        service.process.terminate()
        assert service.process.wait(timeout=20) == 0
