"""``covertype demo``: the whole job headless, end to end, on the configured source.

A data API with a short interval hands out every batch of one group; each batch is ingested and scored by
the champion (if any yet) through the function ``covertype ingest`` runs, whose halves are the ingestion
DAG's tasks; the training steps the training DAG calls snapshot, train, register
and promote; an inference API serves the champion and predicts held-out rows. Everything lives in a fresh
work folder, so a demo never touches the configured store or registry.
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import httpx
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from covertype.processes import Service
from covertype.schema import FEATURE_COLUMNS, TARGET_COLUMN
from covertype.settings import Settings

if TYPE_CHECKING:
    from covertype.ingestion import IngestedBatch


@dataclass
class DemoSummary:
    """What the demo did, for the closing tables (and tests)."""

    source_rows: int = 0
    sample_fraction: float = 1.0
    max_rows: int = 0
    time_budget: float = 0.0
    batches: list[IngestedBatch] = field(default_factory=list)
    training: dict[str, Any] = field(default_factory=dict)
    holdout_rows: int = 0
    holdout_accuracy: float = 0.0
    samples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rows_stored(self) -> int:
        return sum(b.ingestion.rows_inserted for b in self.batches)


def demo_settings(
    settings: Settings,
    *,
    workdir: Path,
    interval: float,
    sample_fraction: float,
    time_budget: float,
    data_api_port: int,
) -> Settings:
    """The configured settings moved into ``workdir``: own store, registry, snapshots, one group."""
    return settings.model_copy(
        update={
            "data_dir": workdir,
            "state_path": None,
            "database_url": None,
            "mlflow_tracking_uri": None,
            "snapshot_uri": None,
            "groups": 1,
            "group": 1,
            "batch_interval": interval,
            "sample_fraction": sample_fraction,
            "train_time_budget": time_budget,
            "min_new_rows": 1,
            "data_api_url": f"http://127.0.0.1:{data_api_port}",
            "data_source": str(Path(settings.data_source).expanduser().resolve())
            if settings.data_source
            else None,
        }
    )


def bounded_sample(settings: Settings, *, source_rows: int, max_rows: int) -> Settings:
    """``settings`` with a sample fraction small enough that every batch together brings ``max_rows`` at most.

    A poll returns ``floor(slice * fraction)`` rows of a batch's slice, so all batches bring at most
    ``source_rows * fraction`` rows: on the full dataset (581,012 rows) the demo used to ingest every row
    and train on them for 13 minutes.
    """
    fraction = min(settings.sample_fraction, max_rows / max(source_rows, 1))
    return settings.model_copy(update={"sample_fraction": fraction})


def _covertype_service(name: str, command: str, port: int, health: str, settings: Settings) -> Service:
    executable = Path(sys.executable).parent / "covertype"
    return Service(
        name,
        [str(executable), command, "--host", "127.0.0.1", "--port", str(port)],
        f"http://127.0.0.1:{port}{health}",
        port,
        settings=settings.model_copy(update={"model_poll_interval": 2.0}),
        log_path=settings.data_dir / f"{command}.log",
    )


def run_demo(
    settings: Settings, *, console: Console, data_api_port: int, inference_port: int, max_rows: int
) -> DemoSummary:
    """Run every step on at most ``max_rows`` rows; raise on the first failure (services stop either way)."""
    from covertype.dataset import load_dataset
    from covertype.registry.core import Registry
    from covertype.training.pipeline import run_training
    from covertype.training.snapshot import read_snapshot
    from covertype.training.split import split_by_hash

    _quiet_libraries()
    workdir = settings.data_dir
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    with console.status("reading the source"):
        source_rows = len(load_dataset(settings.data_source))
    settings = bounded_sample(settings, source_rows=source_rows, max_rows=max_rows)
    summary = DemoSummary(
        source_rows=source_rows,
        sample_fraction=settings.sample_fraction,
        max_rows=max_rows,
        time_budget=settings.train_time_budget,
    )
    data_api = _covertype_service("data API", "data-api", data_api_port, "/health", settings)
    inference = _covertype_service("inference API", "inference-api", inference_port, "/health", settings)
    columns = [
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ]
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            step = progress.add_task("starting the data API", total=1)
            data_api.start()
            data_api.wait_healthy(120)
            progress.update(step, completed=1)

            step = progress.add_task("ingesting and evaluating batches", total=settings.batches)
            summary.batches = ingest_every_batch(settings, lambda _: progress.update(step, advance=1))

            step = progress.add_task(f"training {', '.join(settings.candidate_names)}", total=1)
            summary.training = run_training(settings, Registry.from_settings(settings))
            progress.update(step, completed=1)

            step = progress.add_task("starting the inference API", total=1)
            inference.start()
            inference.wait_healthy(120)
            _wait_ready(f"http://127.0.0.1:{inference_port}/ready", timeout=120)
            progress.update(step, completed=1)

            step = progress.add_task("predicting held-out rows", total=1)
            snapshot = read_snapshot(summary.training["snapshot"]["uri"], settings)
            _, holdout = split_by_hash(snapshot, settings.holdout_fraction)
            holdout = holdout.head(1000)
            records = cast(list[dict[str, Any]], holdout[list(FEATURE_COLUMNS)].to_dict(orient="records"))
            response = httpx.post(
                f"http://127.0.0.1:{inference_port}/predict/batch", json={"records": records}, timeout=60
            )
            response.raise_for_status()
            predictions = response.json()["predictions"]
            truth = holdout[TARGET_COLUMN].astype(int).tolist()
            summary.holdout_rows = len(predictions)
            summary.holdout_accuracy = sum(
                p["cover_type"] == t for p, t in zip(predictions, truth, strict=True)
            ) / max(len(predictions), 1)
            summary.samples = [
                {**records[i], "actual": truth[i], **predictions[i]} for i in range(min(5, len(predictions)))
            ]
            progress.update(step, completed=1)
    finally:
        inference.stop()
        data_api.stop()
    return summary


def ingest_every_batch(settings: Settings, on_batch: Callable[[IngestedBatch], None]) -> list[IngestedBatch]:
    """Ingest and evaluate the group's batches one window after the other, until all were delivered."""
    from covertype.ingestion import ingest_and_evaluate

    batches: list[IngestedBatch] = []
    while True:
        done = ingest_and_evaluate(settings, group=settings.group, run_id=f"demo__{len(batches) + 1}")
        if done.ingestion.exhausted:
            return batches
        batches.append(done)
        on_batch(done)
        time.sleep(settings.batch_interval)


def champion_score(batch: IngestedBatch) -> str:
    """What the champion scored on ``batch`` before any training saw it, or why it scored nothing."""
    evaluation = batch.evaluation
    if evaluation is None:
        return batch.ingestion.nothing_new or ""
    if evaluation.quality is None:
        return evaluation.detail
    return f"accuracy {evaluation.quality.accuracy:.4f} ({evaluation.quality.drift_summary()})"


def _quiet_libraries() -> None:
    """Keep the progress bars readable: MLflow's advice on pickles and integer schemas is known here."""
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"mlflow\..*")


def _wait_ready(url: str, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not report a loaded model within {timeout:.0f} s")


def print_summary(summary: DemoSummary, console: Console) -> None:
    """The closing tables: what was used, batches, candidates and scores, champion, sample predictions."""
    console.print(
        f"Used {summary.rows_stored:,} of the source's {summary.source_rows:,} rows "
        f"({summary.sample_fraction:.2%} of every batch; at most {summary.max_rows:,}: --max-rows), "
        f"{summary.time_budget:g} s of search shared by the candidates (--time-budget)"
    )
    batches = Table(title="Batches ingested, each scored by the champion first (test-then-train)")
    for name in ("batch", "received", "stored", "duplicates", "rejected"):
        batches.add_column(name, justify="right")
    batches.add_column("champion's score")
    for b in summary.batches:
        poll = b.ingestion
        counts = (poll.batch_number, poll.rows_received, poll.rows_inserted, poll.duplicates, poll.rejected)
        batches.add_row(*(str(n) for n in counts), champion_score(b))
    batches.add_row("total", "", str(summary.rows_stored), "", "", "", style="bold")
    console.print(batches)

    training = summary.training
    candidates = Table(
        title=f"Candidates (snapshot {training['snapshot']['rows']} rows): the best one refit on all rows"
    )
    for name in ("candidate", "validation accuracy", "search s", "holdout accuracy", "macro-F1", "refit s"):
        candidates.add_column(name, justify="right" if name != "candidate" else "left")
    for c in training["candidates"]:
        if c["status"] == "failed":
            candidates.add_row(c["name"], f"failed: {c['error']}", "", "", "", "")
            continue
        searched = [f"{c['validation_accuracy']:.4f}", f"{c['search_seconds']:.1f}"]
        if c["status"] != "trained":
            candidates.add_row(c["name"], *searched, "not refit", "", "")
            continue
        candidates.add_row(
            c["name"],
            *searched,
            f"{c['holdout_accuracy']:.4f}",
            f"{c['holdout_macro_f1']:.4f}",
            f"{c['training_seconds']:.1f}",
        )
    console.print(candidates)

    promotion = training["promotion"]
    console.print(
        "Registered version "
        f"[bold]{training['registered']['version']}[/bold] ({training['registered']['candidate']}): "
        f"{promotion['reason']} -> alias [bold]{promotion['alias']}[/bold]"
    )

    samples = Table(
        title=f"Held-out predictions: {summary.holdout_accuracy:.1%} of {summary.holdout_rows} right"
    )
    for name in (
        "Elevation",
        "Wilderness_Area",
        "Soil_Type",
        "actual",
        "predicted",
        "probability",
        "version",
    ):
        samples.add_column(name)
    for s in summary.samples:
        samples.add_row(
            str(s["Elevation"]),
            s["Wilderness_Area"],
            s["Soil_Type"],
            str(s["actual"]),
            f"{s['cover_type']} {s['cover_type_name']}",
            f"{max(s['probabilities'].values()):.2f}",
            s["model_version"],
        )
    console.print(samples)
