"""Screenshots of the running local stack for README.md, taken with headless Chromium.

Starts ``covertype up`` on the shared sample in a throw-away data dir (short batch interval, quick training),
waits until the ingestion DAG has stored a batch and the training DAG has promoted a champion, then
photographs the Airflow DAG grid and graph, the MLflow experiment and the registered model, and both
APIs' ``/docs`` into ``images/``. Stops the stack at the end.

    uv run python scripts/screenshots.py [--sample ../shared/data/covtype-sample-15k.csv] [--out images]

``--monitoring`` photographs only the web UI's monitoring section (``ui-monitoring.png``) on a replay
that needs no stack: the pipeline's training makes a champion on batch 1 of the shuffled sample, batches
2-9 are stored with Elevation shifted by +250 m from batch 6 on, each is scored by the real
``evaluate_batch`` as it arrives, and a retraining after batch 7 brings a new version in.

Needs Debian's chromium (``apt-get install chromium``); Playwright drives it, no browser download.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from playwright.sync_api import Page, sync_playwright

from covertype.dataset import load_dataset
from covertype.monitoring.evaluation import evaluate_batch
from covertype.processes import Service, unused_port
from covertype.registry.core import Registry
from covertype.settings import Settings
from covertype.store.batches import insert_rows
from covertype.store.engine import create_store_engine
from covertype.training.pipeline import run_training
from covertype.ui import streamlit_command

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def start_stack(data_dir: Path, sample: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """``covertype up`` with Airflow open to everyone as admin (screenshots only), and its printed URLs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COVERTYPE_", "MLFLOW_", "AIRFLOW"))}
    env.update(
        {
            "COVERTYPE_DATA_DIR": str(data_dir),
            "COVERTYPE_DATA_SOURCE": str(sample),
            "COVERTYPE_BATCH_INTERVAL": "60",
            "COVERTYPE_SAMPLE_FRACTION": "1.0",
            "COVERTYPE_TRAIN_TIME_BUDGET": "5",
            "COVERTYPE_MODEL_POLL_INTERVAL": "5",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        }
    )
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "covertype"), "up", "--dags-folder", str(REPO / "dags")],
        env=env,
        cwd=data_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    urls: dict[str, str] = {}
    for line in process.stdout:
        print(line, end="")
        found = re.match(r"\s+(data API|inference API|MLflow UI|Airflow UI|web UI)\s+(http://\S+)", line)
        if found:
            urls[found.group(1)] = found.group(2).removesuffix("/docs")
        if "Press Ctrl-C" in line or "error:" in line:
            break
    if len(urls) < 5:
        process.send_signal(signal.SIGINT)
        raise SystemExit("covertype up did not come up; see its output above")
    return process, urls


def wait_for_champion(tracking_uri: str, timeout: float) -> str:
    """The champion's version once the training DAG has promoted one."""
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return str(client.get_model_version_by_alias("covertype", "champion").version)
        except MlflowException:
            time.sleep(5)
    raise SystemExit(f"no champion after {timeout:.0f} s: check the DAG runs in the Airflow UI")


def shoot(page: Page, url: str, path: Path, *, wait_for: str | None = None) -> None:
    page.goto(url, wait_until="load")
    if wait_for:
        page.get_by_text(wait_for).first.wait_for(timeout=60_000)
    snap(page, path)


def snap(page: Page, path: Path, settle_ms: int = 4000) -> None:
    page.wait_for_timeout(settle_ms)
    page.screenshot(path=str(path))
    print(f"wrote {path}")


def tidy_mlflow(page: Page) -> None:
    """Dismiss MLflow's first-visit pop-overs and its assistant panel."""
    page.wait_for_timeout(3000)
    for name in ("Got it", "Close"):
        button = page.get_by_role("button", name=name)
        if button.count():
            button.first.click()


def shoot_graph(page: Page, url: str, path: Path) -> None:
    """The DAG's graph view (Airflow's keyboard shortcut ``g`` switches the grid to the graph)."""
    page.goto(url, wait_until="networkidle")
    page.wait_for_timeout(1500)
    page.keyboard.press("g")
    snap(page, path)


#: The monitoring replay: rows the first champion trains on, rows per later batch, the first shifted batch.
TRAIN_ROWS, BATCH_ROWS, SHIFT_FROM, RETRAIN_AFTER, LAST_BATCH = 3_000, 800, 6, 7, 9


def replay_monitoring(data_dir: Path, sample: Path) -> Settings:
    """Store and score the replay's batches in ``data_dir`` (SQLite store and MLflow); its settings."""
    settings = Settings(
        _env_file=None, data_dir=data_dir, mlflow_tracking_uri=f"sqlite:///{data_dir}/mlflow.db"
    )
    rows = load_dataset(sample).sample(frac=1.0, random_state=11).reset_index(drop=True)
    engine = create_store_engine(settings.database)

    def store(number: int, batch: pd.DataFrame) -> None:
        with engine.begin() as connection:
            insert_rows(
                connection,
                batch,
                group_number=1,
                batch_number=number,
                ingested_at=datetime.now(UTC).replace(tzinfo=None),
            )

    try:
        store(1, rows.head(TRAIN_ROWS))
        run_training(
            settings, Registry.from_settings(settings), candidates="random_forest", time_budget=5, force=True
        )
        for number in range(2, LAST_BATCH + 1):
            start = TRAIN_ROWS + (number - 2) * BATCH_ROWS
            batch = rows.iloc[start : start + BATCH_ROWS]
            store(number, batch.assign(Elevation=batch["Elevation"] + 250) if number >= SHIFT_FROM else batch)
            print(evaluate_batch(settings, 1, number).detail)
            if number == RETRAIN_AFTER:
                print(
                    run_training(
                        settings,
                        Registry.from_settings(settings),
                        candidates="random_forest",
                        time_budget=5,
                        force=True,
                    )["promotion"]
                )
    finally:
        engine.dispose()
    return settings


def shoot_monitoring(sample: Path, out: Path) -> None:
    """``ui-monitoring.png``: the Pipeline page's monitoring section on the replay (see the docstring)."""
    with tempfile.TemporaryDirectory(prefix="covertype-monitoring-") as tmp:
        data_dir = Path(tmp)
        settings = replay_monitoring(data_dir, sample)
        port, nowhere = unused_port(), unused_port()  # the data API, the inference API and Airflow are not up
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COVERTYPE_", "MLFLOW_"))} | {
            "COVERTYPE_DATA_DIR": str(data_dir),
            "MLFLOW_TRACKING_URI": settings.tracking_uri,
            "COVERTYPE_DATA_API_URL": f"http://127.0.0.1:{nowhere}",
            "COVERTYPE_INFERENCE_API_URL": f"http://127.0.0.1:{nowhere}",
            "COVERTYPE_AIRFLOW_API_URL": f"http://127.0.0.1:{nowhere}",
        }
        ui = Service(
            "ui",
            streamlit_command(host="127.0.0.1", port=port),
            f"http://127.0.0.1:{port}/_stcore/health",
            port,
            env=env,
            log_path=data_dir / "ui.log",
        )
        with ui, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1250})
            page.goto(f"http://127.0.0.1:{port}/pipeline", wait_until="load")
            section = page.get_by_role("heading", name="The champion on each batch, before training on it")
            section.wait_for(timeout=120_000)
            page.get_by_text("Drift per feature and batch").wait_for(timeout=60_000)
            page.get_by_test_id("stVegaLiteChart").last.wait_for(timeout=60_000)
            section.evaluate("heading => heading.scrollIntoView({block: 'start'})")
            snap(page, out / "ui-monitoring.png")
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sample", type=Path, default=REPO.parent / "shared/data/covtype-sample-15k.csv")
    parser.add_argument("--out", type=Path, default=REPO / "images")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for the first champion")
    parser.add_argument("--monitoring", action="store_true", help="only ui-monitoring.png, from a replay")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.monitoring:
        shoot_monitoring(args.sample.resolve(), args.out)
        return

    with tempfile.TemporaryDirectory(prefix="covertype-screens-") as tmp:
        process, urls = start_stack(Path(tmp), args.sample.resolve())
        try:
            version = wait_for_champion(urls["MLflow UI"], args.timeout)
            print(f"champion: version {version}")
            experiment = MlflowClient(urls["MLflow UI"]).get_experiment_by_name("covertype")
            assert experiment is not None
            airflow = urls["Airflow UI"]
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1600, "height": 950})
                shoot(page, f"{airflow}/dags", args.out / "airflow-dags.png", wait_for="covertype_train")
                shoot(page, f"{airflow}/dags/covertype_train", args.out / "airflow-train-grid.png")
                shoot(page, f"{airflow}/dags/covertype_ingest", args.out / "airflow-ingest-grid.png")
                shoot_graph(page, f"{airflow}/dags/covertype_train", args.out / "airflow-train-graph.png")
                mlflow_ui = urls["MLflow UI"]
                # MLflow 3.17 opens a fresh browser on its GenAI view, whatever the experiment's kind tag says
                experiment_url = f"{mlflow_ui}/#/experiments/{experiment.experiment_id}"
                page.goto(f"{experiment_url}?workflowType=machine_learning", wait_until="load")
                tidy_mlflow(page)
                snap(page, args.out / "mlflow-experiment.png")
                page.goto(f"{mlflow_ui}/#/models/covertype?workflowType=machine_learning", wait_until="load")
                tidy_mlflow(page)
                snap(page, args.out / "mlflow-model.png")
                shoot(page, f"{urls['data API']}/docs", args.out / "data-api-docs.png")
                shoot(page, f"{urls['inference API']}/docs", args.out / "inference-api-docs.png")
                browser.close()
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=120)


if __name__ == "__main__":
    main()
