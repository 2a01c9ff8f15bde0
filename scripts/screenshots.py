"""Screenshots of the running local stack for README.md, taken with headless Chromium.

Starts ``covertype up`` on the shared sample in a throw-away data dir (short batch interval, quick training),
waits until the ingestion DAG has stored a batch and the training DAG has promoted a champion, then
photographs the Airflow DAG grid and graph, the MLflow experiment and the registered model, and both
APIs' ``/docs`` into ``images/``. Stops the stack at the end.

    uv run python scripts/screenshots.py [--sample ../shared/data/covtype-sample-15k.csv] [--out images]

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
from pathlib import Path

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from playwright.sync_api import Page, sync_playwright

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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sample", type=Path, default=REPO.parent / "shared/data/covtype-sample-15k.csv")
    parser.add_argument("--out", type=Path, default=REPO / "images")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for the first champion")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

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
