"""Benchmark of ``covertype up`` at full size: does every retrain finish within one batch interval, and does
every process stay under 3 GB?

Builds a raw 581,012-row file of distinct rows in a temp dir (copies of the shared sample with the road
distance moved: :func:`covertype.dataset.write_distinct_copies`) and starts the whole local stack on it as a
user does (``covertype up``, on free ports), with every row of each batch (``COVERTYPE_SAMPLE_FRACTION=1``),
group 1 only, and otherwise the shipped defaults: the batch interval (300 s), the batches per group (10),
every default candidate and the default training budget. It follows the pipeline until the training that
follows the last batch ends (or ``--timeout``), then stops the stack with Ctrl-C (SIGINT) and records:

* per batch: when its window opened (``GET /groups``), when its rows were stored and the lag, the rows
  stored, and whether the champion scored it (``batch_quality``), when, and how long ``covertype_ingest``'s
  ``ingest_batch`` and ``evaluate_batch`` took (Airflow's REST API);
* per ``covertype_train`` run: queued, start, end, duration and state, each task's duration, the training
  decision, the rows trained on (the MLflow parent run's ``covertype.train_rows``), the registered version
  and the promotion decision;
* every process's peak resident set size (RSS, sampled every 2 s over the process tree of ``covertype up``),
  by role (data-api, inference-api, mlflow, airflow scheduler, ..., "airflow task": LocalExecutor workers
  and the tasks they run, with their children), and the tree's peak total RSS and PSS;
* verdicts: ``every_retrain_within_interval``, ``max_process_rss_gb`` / ``under_3_gb``,
  ``every_batch_stored_and_evaluated`` (a batch stored before the first champion existed cannot be scored:
  it is listed, not counted against).

    uv run --frozen python benchmarks/bench_full_size.py                      # the full run (about an hour)
    uv run --frozen python benchmarks/bench_full_size.py --rows 20000 --interval 45 --batches 3 \\
        --results full_size_smoke                                            # a smoke run (about 5 min)

Writes ``benchmarks/results/<--results>.json`` (default ``full_size.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import create_engine, select

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the helpers the local-stack tests watch the stack with

from results_file import write_results  # noqa: E402

from covertype.dataset import write_distinct_copies  # noqa: E402
from covertype.processes import unused_port  # noqa: E402
from covertype.settings import Settings  # noqa: E402
from covertype.store.tables import batch_quality, ingestion_runs  # noqa: E402
from support.local_stack import (  # noqa: E402
    AirflowRest,
    GroupWatch,
    command_lines,
    process_tree,
    pss_bytes,
    read_until,
    up_command,
)

SAMPLE = REPO.parent / "shared" / "data" / "covtype-sample-15k.csv"
FULL_ROWS = 581_012
GOAL_RSS_GB = 3.0
GB, MB = 1024**3, 1024**2
TRAIN_TASKS = ("check_new_data", "snapshot", "search_candidate", "refit", "register", "promote")
DEFAULTS = Settings.model_fields  # the shipped defaults, whatever this shell's environment says


def stack_env(data_dir: Path, source: Path, interval: float, batches: int) -> dict[str, str]:
    """The user's environment without our settings, plus the benchmark's: only the schedule, the source and
    group 1 are set; training runs on the shipped defaults."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COVERTYPE_", "MLFLOW_", "AIRFLOW"))}
    return env | {
        "COVERTYPE_DATA_DIR": str(data_dir),
        "COVERTYPE_DATA_SOURCE": str(source),
        "COVERTYPE_BATCH_INTERVAL": str(interval),
        "COVERTYPE_BATCHES": str(batches),
        "COVERTYPE_GROUPS": "1",
        "COVERTYPE_SAMPLE_FRACTION": "1",
    }


# -- memory: RSS of every process of the tree, by role ---------------------------------------------------

#: (what a command line holds, its role), first match wins; a process matching none takes its parent's role.
ROLES: tuple[tuple[str, str], ...] = (
    ("covertype up", "covertype up"),  # first: its options name the others (--mlflow-port, --airflow-port)
    ("covertype data-api", "data-api"),
    ("covertype inference-api", "inference-api"),
    ("LocalExecutor", "airflow task"),
    ("airflow supervisor:", "airflow task"),
    ("airflow worker --", "airflow task"),
    ("airflow scheduler", "airflow scheduler"),
    ("api_server", "airflow api-server"),
    ("api-server", "airflow api-server"),
    ("dag-processor", "airflow dag-processor"),
    ("dag_processor", "airflow dag-processor"),
    ("dag processor", "airflow dag-processor"),
    ("triggerer", "airflow triggerer"),
    ("serve-logs", "airflow serve-logs"),
    ("airflow standalone", "airflow standalone"),
    ("huey_consumer", "mlflow job consumer"),
    ("mlflow", "mlflow"),
    ("streamlit", "web ui"),
)


#: The title of a process running a task: its task instance's id follows.
TASK_TITLE = "airflow worker -- "


def role_of(line: str) -> str | None:
    return next((role for marker, role in ROLES if marker in line), None)


class MemoryWatch(threading.Thread):
    """Every 2 s: each process's RSS under ``pid``, by role; the peak of each role (its largest process and
    its most processes), and the tree's peak total RSS (and PSS, shared pages split)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.stop = pid, threading.Event()
        self.roles: dict[int, str] = {}
        self.peak_rss: dict[str, int] = {}
        self.peak_count: dict[str, int] = {}
        self.largest: dict[str, Any] = {"rss_bytes": 0}
        self.peak_by_task: dict[
            str, int
        ] = {}  # a running task's title "airflow worker -- <its id>": peak RSS
        self.peak_total_rss = self.peak_total_pss = self.samples = 0

    def run(self) -> None:
        while not self.stop.wait(2.0):
            self.sample()

    def role(self, process: psutil.Process) -> str:
        if process.pid in self.roles:
            return self.roles[process.pid]
        line = " ".join(command_lines([process.pid]))
        role = role_of(line)
        if role is None:  # a helper (multiprocessing, loky, resource tracker): its parent's role
            try:
                parent = process.parent()
            except psutil.Error:
                parent = None
            role = self.role(parent) if parent is not None and parent.pid != process.pid else None
            role = role or f"other: {line[:60]}"
        if role != "airflow task":  # a LocalExecutor worker takes the title of each task it runs: ask again
            self.roles[process.pid] = role
        return role

    def sample(self) -> None:
        pids = process_tree(self.pid)
        total, counts = 0, dict.fromkeys(self.peak_count, 0)
        for pid in pids:
            try:
                process = psutil.Process(pid)
                rss = process.memory_info().rss
                role = self.role(process)
            except psutil.Error:
                continue
            total += rss
            if role == "airflow task":
                line = " ".join(command_lines([pid]))
                if line.startswith(TASK_TITLE):
                    title = line.removeprefix(TASK_TITLE).strip()
                    self.peak_by_task[title] = max(self.peak_by_task.get(title, 0), rss)
            counts[role] = counts.get(role, 0) + 1
            self.peak_rss[role] = max(self.peak_rss.get(role, 0), rss)
            if rss > self.largest["rss_bytes"]:
                line = " ".join(command_lines([pid]))
                self.largest = {"rss_bytes": rss, "role": role, "command": line[:200], "at": _now()}
        for role, count in counts.items():
            self.peak_count[role] = max(self.peak_count.get(role, 0), count)
        self.peak_total_rss = max(self.peak_total_rss, total)
        self.peak_total_pss = max(self.peak_total_pss, pss_bytes(pids))
        self.samples += 1

    def figures(self, task_names: dict[str, str]) -> dict[str, Any]:
        """``task_names``: task instance id -> ``dag.task[i]`` (:attr:`Airflow.task_names`)."""
        largest = dict(self.largest)
        largest["rss_mb"] = round(largest.pop("rss_bytes") / MB)
        title = largest.get("command", "").removeprefix(TASK_TITLE).strip()
        if title in task_names:
            largest["task"] = task_names[title]
        by_task = {task_names.get(title, title): round(rss / MB) for title, rss in self.peak_by_task.items()}
        return {
            "samples": self.samples,
            "peak_rss_mb_by_role": {role: round(rss / MB) for role, rss in sorted(self.peak_rss.items())},
            "peak_processes_by_role": dict(sorted(self.peak_count.items())),
            "largest_process": largest,
            "peak_rss_mb_by_task": dict(sorted(by_task.items(), key=lambda item: -item[1])),
            "peak_tree_rss_mb": round(self.peak_total_rss / MB),
            "peak_tree_pss_mb": round(self.peak_total_pss / MB),
        }


# -- what the stack did: the store, Airflow, MLflow ------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def _utc(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else round((end - start).total_seconds(), 1)


def _plain(value: Any) -> Any:
    """An XCom value as the REST API returns it (native or JSON text, perhaps wrapped by Airflow's serde)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    if isinstance(value, dict) and "__data__" in value:
        return _plain(value["__data__"])
    return value


class Airflow(AirflowRest):
    """The REST calls this benchmark needs beyond the tests': runs with their times, task instances, XComs."""

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        answer = self.http.get(
            f"/dags/{dag_id}/dagRuns", params={"limit": 100, "order_by": "id"}, timeout=30
        ).json()
        return list(answer["dag_runs"])

    def __init__(self, url: str, password: str) -> None:
        super().__init__(url, password)
        self.task_names: dict[str, str] = {}  # task instance id -> dag.task[i] (run id)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """The run's task instances; each one's id is kept with its name in :attr:`task_names`."""
        answer = self.http.get(
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100}, timeout=30
        ).json()
        for ti in answer["task_instances"]:
            index = "" if ti["map_index"] < 0 else f"[{ti['map_index']}]"
            self.task_names[str(ti.get("id"))] = f"{dag_id}.{ti['task_id']}{index} ({run_id})"
        return list(answer["task_instances"])

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        answer = self.http.get(
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}", timeout=30
        )
        return _plain(answer.json()["value"]) if answer.status_code == 200 else None


def store_rows(store: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Group 1's stored polls (``ingestion_runs`` with new rows) and ``batch_quality`` rows."""
    if not store.is_file():
        return [], []
    engine = create_engine(f"sqlite:///{store}")
    try:
        with engine.connect() as connection:
            polls = connection.execute(
                select(ingestion_runs)
                .where(ingestion_runs.c.group_number == 1, ingestion_runs.c.rows_inserted > 0)
                .order_by(ingestion_runs.c.id)
            ).mappings()
            polls_list = [dict(row) for row in polls]
            scores = connection.execute(
                select(batch_quality).where(batch_quality.c.group_number == 1).order_by(batch_quality.c.id)
            ).mappings()
            scores_list = [dict(row) for row in scores]
    finally:
        engine.dispose()
    return polls_list, scores_list


def task_figures(instances: list[dict[str, Any]]) -> dict[str, Any]:
    """Each task's state and duration (a mapped task's instances as ``name[i]``)."""
    figures = {}
    for ti in sorted(instances, key=lambda ti: (ti["task_id"], ti["map_index"])):
        name = ti["task_id"] if ti["map_index"] < 0 else f"{ti['task_id']}[{ti['map_index']}]"
        duration = ti.get("duration")
        figures[name] = {
            "state": ti["state"],
            "seconds": None if duration is None else round(duration, 1),
            "tries": ti.get("try_number"),
        }
    return figures


def train_runs(airflow: Airflow, mlflow_uri: str) -> list[dict[str, Any]]:
    """Every ``covertype_train`` run: times, state, tasks, decision, rows trained on, version, promotion."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_uri)
    runs = []
    for run in airflow.dag_runs("covertype_train"):
        run_id = run["dag_run_id"]
        start, end = _utc(run.get("start_date")), _utc(run.get("end_date"))
        instances = airflow.task_instances("covertype_train", run_id)
        tasks = task_figures(instances)
        search = [
            figures["seconds"] for name, figures in tasks.items() if name.startswith("search_candidate")
        ]
        decision = airflow.xcom("covertype_train", run_id, "check_new_data", "decision")
        prepared = airflow.xcom("covertype_train", run_id, "snapshot")
        registered = airflow.xcom("covertype_train", run_id, "register")
        promoted = airflow.xcom("covertype_train", run_id, "promote")
        trained = tasks.get("check_new_data", {}).get("state") == "success"
        train_rows: int | str | None = None
        if isinstance(prepared, dict) and prepared.get("parent_run_id"):
            try:
                tags = client.get_run(prepared["parent_run_id"]).data.tags
                train_rows = int(tags["covertype.train_rows"]) if "covertype.train_rows" in tags else None
            except Exception as exc:  # noqa: BLE001 - a figure left out, never the run's results
                train_rows = f"unavailable: {type(exc).__name__}"
        runs.append(
            {
                "run_id": run_id,
                "run_type": run.get("run_type"),
                "state": run["state"],
                "trained": trained,
                "queued_at": _iso(_utc(run.get("queued_at"))),
                "start": _iso(start),
                "end": _iso(end),
                "seconds": _seconds(start, end),
                "tasks": tasks,
                "search_seconds_max": max((s for s in search if s is not None), default=None),
                "signal": decision.get("signal") if isinstance(decision, dict) else None,
                "reason": decision.get("reason") if isinstance(decision, dict) else None,
                "stored_rows": decision.get("rows") if isinstance(decision, dict) else None,
                "train_rows": train_rows,
                "registered_version": registered.get("version") if isinstance(registered, dict) else None,
                "registered_candidate": registered.get("candidate") if isinstance(registered, dict) else None,
                "holdout_accuracy": registered.get("holdout_accuracy")
                if isinstance(registered, dict)
                else None,
                "decision": promoted.get("decision") if isinstance(promoted, dict) else None,
                "alias": promoted.get("alias") if isinstance(promoted, dict) else None,
            }
        )
    return runs


def batch_figures(
    batches: int,
    watch: GroupWatch,
    polls: list[dict[str, Any]],
    scores: list[dict[str, Any]],
    airflow: Airflow,
) -> dict[str, dict[str, Any]]:
    """Per batch 1..``batches``: window opened, stored (lag), rows, scored (when, by which version), and the
    durations of its ``covertype_ingest`` tasks."""
    figures = {}
    for batch in range(1, batches + 1):
        opened = watch.started.get(batch) or watch.announced.get(batch - 1)
        mine = [poll for poll in polls if poll["batch_number"] == batch]
        stored = mine[-1]["finished_at"] if mine else None
        scored = [row for row in scores if row["batch_number"] == batch]
        tasks: dict[str, Any] = {}
        for poll in mine:
            try:
                tasks |= task_figures(airflow.task_instances("covertype_ingest", poll["run_id"]))
            except Exception as exc:  # noqa: BLE001 - a run id that is not Airflow's: no task figures
                tasks["error"] = f"{type(exc).__name__}: {exc}"
        figures[str(batch)] = {
            "window_opened": _iso(opened),
            "stored": _iso(stored),
            "lag_s": _seconds(opened, stored),
            "rows_stored": sum(poll["rows_inserted"] for poll in mine),
            "rows_received": sum(poll["rows_received"] for poll in mine),
            "duplicates": sum(poll["duplicates"] for poll in mine),
            "rejected": sum(poll["rejected"] for poll in mine),
            "ingest_run_ids": [poll["run_id"] for poll in mine],
            "evaluated": bool(scored),
            "evaluated_at": _iso(scored[0]["evaluated_at"]) if scored else None,
            "evaluated_after_stored_s": _seconds(stored, scored[0]["evaluated_at"]) if scored else None,
            "evaluated_by_versions": [row["model_version"] for row in scored],
            "accuracy": round(scored[-1]["accuracy"], 4) if scored else None,
            "drift_status": scored[-1]["drift_status"] if scored else None,
            "ingest_tasks": tasks,
        }
    return figures


# -- the run ---------------------------------------------------------------------------------------------


def last_training_over(airflow: Airflow, polls: list[dict[str, Any]], batches: int) -> tuple[bool, str]:
    """Whether the training that follows the last batch has ended (and why we think so)."""
    last = [poll for poll in polls if poll["batch_number"] == batches]
    if not last:
        return False, "last batch not stored"
    evaluate = {
        ti["task_id"]: ti for ti in airflow.task_instances("covertype_ingest", last[-1]["run_id"])
    }.get("evaluate_batch")
    if evaluate is None or evaluate["state"] not in ("success", "failed", "skipped", "upstream_failed"):
        return False, "last batch not evaluated yet"
    runs = airflow.dag_runs("covertype_train")
    if any(run["state"] not in ("success", "failed") for run in runs):
        return False, "a training is queued or running"
    if evaluate["state"] != "success":
        return True, f"evaluate_batch of the last batch {evaluate['state']}: no asset event, no training"
    event_at = _utc(evaluate["end_date"])
    after = [
        run for run in runs if (queued := _utc(run.get("queued_at"))) and event_at and queued >= event_at
    ]
    if after:
        return True, f"training {after[-1]['dag_run_id']} after the last batch {after[-1]['state']}"
    return False, "no training after the last batch yet"


def run(rows: int, interval: float, batches: int, timeout: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-full-size-") as tmp:
        made = time.monotonic()
        source = write_distinct_copies(SAMPLE, Path(tmp) / "covtype-full-size.csv", rows)
        made_s = round(time.monotonic() - made, 1)
        data_dir = Path(tmp) / "data"
        ports = [unused_port() for _ in range(5)]
        command = up_command(ports, REPO / "dags")
        began = time.monotonic()
        process = subprocess.Popen(
            command,
            env=stack_env(data_dir, source, interval, batches),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=tmp,
        )
        memory = MemoryWatch(process.pid)
        memory.start()
        watch = GroupWatch(f"http://127.0.0.1:{ports[0]}")
        store = data_dir / "covertype.db"
        output_tail: deque[str] = deque(maxlen=40)

        def start_watch(line: str) -> None:
            if "data API ready" in line:
                watch.start()

        over, why, figures = False, "not started", {}
        task_names: dict[str, str] = {}
        per_batch: dict[str, dict[str, Any]] = {}
        trainings: list[dict[str, Any]] = []
        try:
            output = read_until(process, "Press Ctrl-C", timeout=900, on_line=start_watch)
            if "covertype is up" not in output:
                raise SystemExit(f"covertype up did not start:\n{output}")
            up_s = round(time.monotonic() - began, 1)
            assert process.stdout is not None  # stdout=PIPE
            drain = iter(process.stdout.readline, "")  # read on, so a full pipe never blocks the stack
            threading.Thread(target=lambda: output_tail.extend(drain), daemon=True).start()
            password = output.split("login admin / ", 1)[1].split(")", 1)[0]
            mlflow_uri = f"http://127.0.0.1:{ports[2]}"
            data_note = next(
                (line.strip() for line in output.splitlines() if "each group receives" in line), None
            )
            airflow = Airflow(f"http://127.0.0.1:{ports[3]}", password)
            deadline = began + timeout
            interrupted = False
            try:
                while time.monotonic() < deadline and process.poll() is None:
                    time.sleep(10)
                    polls, _ = store_rows(store)
                    said = why
                    try:
                        over, why = last_training_over(airflow, polls, batches)
                    except Exception as exc:  # noqa: BLE001 - Airflow busy for a moment: ask again
                        why = f"asking Airflow: {type(exc).__name__}"
                    if why != said:
                        print(f"{_now()} {len(polls)} batches stored; {why}", flush=True)
                    if over:
                        break
            except KeyboardInterrupt:  # the figures so far are still worth a results file
                interrupted = True
            if not over:
                why = (
                    f"interrupted (Ctrl-C): {why}"
                    if interrupted
                    else f"stack exited ({process.returncode})"
                    if process.poll() is not None
                    else f"timeout: {why}"
                )
            polls, scores = store_rows(store)
            trainings = train_runs(airflow, mlflow_uri)
            per_batch = batch_figures(batches, watch, polls, scores, airflow)
            figures = {"up_seconds": up_s, "data_note": data_note, "mlflow_uri": mlflow_uri}
            task_names = airflow.task_names
        finally:
            watch.stop.set()
            memory.stop.set()
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
        elapsed = round(time.monotonic() - began)
    return verdicts(
        rows=rows,
        interval=interval,
        batches=batches,
        command=command,
        made_s=made_s,
        elapsed=elapsed,
        over=over,
        why=why,
        stack=figures,
        per_batch=per_batch,
        trainings=trainings,
        memory=memory.figures(task_names),
        exit_code=process.returncode,
        output_tail=list(output_tail),
    )


def verdicts(
    *,
    rows: int,
    interval: float,
    batches: int,
    command: list[str],
    made_s: float,
    elapsed: int,
    over: bool,
    why: str,
    stack: dict[str, Any],
    per_batch: dict[str, dict[str, Any]],
    trainings: list[dict[str, Any]],
    memory: dict[str, Any],
    exit_code: int | None,
    output_tail: list[str],
) -> dict[str, Any]:
    retrains = [run for run in trainings if run["trained"]]
    first_champion = min(
        (run["end"] for run in retrains if run["alias"] == "champion" and run["end"]), default=None
    )
    scorable = [  # ISO texts of naive UTC times, in one format: they compare as the times do
        batch
        for batch, figures in per_batch.items()
        if figures["stored"] and first_champion and figures["stored"] > first_champion
    ]
    unscorable = [
        batch for batch, figures in per_batch.items() if batch not in scorable and figures["stored"]
    ]
    scored = sum(per_batch[batch]["evaluated"] for batch in scorable)
    max_rss_mb = max(memory["peak_rss_mb_by_role"].values(), default=0)
    return {
        "settings": {
            "source_rows": rows,
            "batch_interval_s": interval,
            "batches": batches,
            "groups": 1,
            "sample_fraction": 1.0,
            "rows_per_batch": -(-rows // batches),
            "train_time_budget_s": DEFAULTS["train_time_budget"].default,
            "search_rows": DEFAULTS["search_rows"].default,
            "candidates": DEFAULTS["candidates"].default,
            "shipped_defaults": {
                "batch_interval_s": DEFAULTS["batch_interval"].default,
                "batches": DEFAULTS["batches"].default,
            },
        },
        "command": "COVERTYPE_SAMPLE_FRACTION=1 COVERTYPE_GROUPS=1 "
        f"COVERTYPE_BATCH_INTERVAL={interval:g} COVERTYPE_BATCHES={batches} "
        "COVERTYPE_DATA_SOURCE=<temp>/covtype-full-size.csv covertype up " + " ".join(command[2:]),
        "source_file_seconds": made_s,
        "run_seconds": elapsed,
        "finished": over,
        "stopped_because": why,
        "stack_exit_code": exit_code,
        **stack,
        "batches": per_batch,
        "trainings": trainings,
        "memory": memory,
        "verdicts": {
            "retrains": len(retrains),
            "retrain_seconds": [run["seconds"] for run in retrains],
            "every_retrain_within_interval": bool(retrains)
            and all(run["seconds"] is not None and run["seconds"] <= interval for run in retrains),
            "every_retrain_succeeded": bool(retrains) and all(run["state"] == "success" for run in retrains),
            "max_process_rss_gb": round(max_rss_mb / 1024, 2),
            "under_3_gb": max_rss_mb < GOAL_RSS_GB * 1024,
            "every_batch_stored": all(figures["stored"] for figures in per_batch.values()),
            "batches_stored_before_a_champion": unscorable,
            "batches_scored_of_scorable": f"{scored}/{len(scorable)}",
            "every_batch_stored_and_evaluated": all(figures["stored"] for figures in per_batch.values())
            and all(per_batch[batch]["evaluated"] for batch in scorable),
            "max_lag_s": max(
                (f["lag_s"] for f in per_batch.values() if f["lag_s"] is not None), default=None
            ),
        },
        "output_tail": output_tail,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=FULL_ROWS, help="rows of the source file")
    parser.add_argument(
        "--interval", type=float, default=DEFAULTS["batch_interval"].default, help="seconds between batches"
    )
    parser.add_argument("--batches", type=int, default=DEFAULTS["batches"].default, help="batches per group")
    parser.add_argument("--timeout", type=float, default=90 * 60, help="seconds before giving up")
    parser.add_argument("--results", default="full_size", help="results file name (benchmarks/results/)")
    args = parser.parse_args()
    load_before = list(os.getloadavg())
    figures = run(args.rows, args.interval, args.batches, args.timeout)
    path = write_results(args.results, figures, load_before=load_before)
    print(path.read_text())


if __name__ == "__main__":
    main()
