"""Watching a running ``covertype up`` from outside, as a user would: its output, ``GET /groups``, the
store, Airflow's REST API and its process tree (shared by tests/test_local_stack.py and
benchmarks/bench_local_stack.py)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psutil
from sqlalchemy import create_engine, select

from covertype.store.tables import ingestion_runs

COVERTYPE = str(Path(sys.executable).parent / "covertype")


def up_command(ports: list[int], dags_folder: Path) -> list[str]:
    """``covertype up`` with every port given (data API, inference API, MLflow, Airflow, UI)."""
    return [
        COVERTYPE, "up",
        "--data-api-port", str(ports[0]),
        "--inference-port", str(ports[1]),
        "--mlflow-port", str(ports[2]),
        "--airflow-port", str(ports[3]),
        "--ui-port", str(ports[4]),
        "--dags-folder", str(dags_folder),
    ]  # fmt: skip


def read_until(
    process: subprocess.Popen[str],
    marker: str,
    *,
    timeout: float,
    on_line: Callable[[str], None] | None = None,
) -> str:
    """The process's output up to the first line containing ``marker`` (or its end, or ``timeout``)."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if on_line is not None:
            on_line(line)
        if marker in line:
            break
    return "".join(lines)


class GroupWatch(threading.Thread):
    """Reads ``GET /groups`` every second: when each batch of group 1 began and when the next one opened."""

    def __init__(self, data_api: str) -> None:
        super().__init__(daemon=True)
        self.url, self.stop = f"{data_api}/groups", threading.Event()
        self.started: dict[int, datetime] = {}
        self.announced: dict[int, datetime] = {}  # batch k -> when batch k + 1's window opens

    def run(self) -> None:
        while not self.stop.wait(1.0):
            try:
                group = httpx.get(self.url, timeout=5).json()[0]
            except (httpx.HTTPError, ValueError):
                continue
            if group["batch_number"] is not None:
                self.started.setdefault(group["batch_number"], _utc(group["batch_started_at"]))
                if group["next_batch_at"]:
                    self.announced[group["batch_number"]] = _utc(group["next_batch_at"])

    def lags(self, stored_at: list[tuple[int, datetime]]) -> dict[int, float]:
        """Seconds from each batch's window opening to its rows being stored (from batch 2 on).

        ``stored_at`` comes from :func:`stored_batches`; its times are in whole seconds, cut off.
        """
        return {
            batch: (when - self.announced[batch - 1]).total_seconds()
            for batch, when in stored_at
            if batch - 1 in self.announced
        }


def _utc(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)


def stored_batches(store: Path) -> list[tuple[int, datetime]]:
    """(batch, when stored) of every poll that stored new rows, in the order they were stored."""
    if not store.is_file():
        return []
    engine = create_engine(f"sqlite:///{store}")
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(ingestion_runs.c.batch_number, ingestion_runs.c.finished_at)
                .where(ingestion_runs.c.rows_inserted > 0)
                .order_by(ingestion_runs.c.id)
            ).all()
    finally:
        engine.dispose()
    return [(int(batch), finished) for batch, finished in rows]


class AirflowRest:
    """The Airflow REST API as the UI's Trigger button uses it, logged in as the admin (JWT)."""

    def __init__(self, url: str, password: str) -> None:
        token = httpx.post(f"{url}/auth/token", json={"username": "admin", "password": password}, timeout=30)
        token.raise_for_status()
        self.http = httpx.Client(
            base_url=f"{url}/api/v2", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
        )

    def trigger(self, dag_id: str, conf: dict[str, object]) -> str:
        answer = self.http.post(
            f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["dag_run_id"])

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self.http.get(f"/dags/{dag_id}/dagRuns/{run_id}", timeout=30).json()["state"])

    def runs(self, dag_id: str) -> dict[str, str]:
        """State of each run of ``dag_id``, by run id."""
        answer = self.http.get(f"/dags/{dag_id}/dagRuns", timeout=30).json()
        return {run["dag_run_id"]: run["state"] for run in answer["dag_runs"]}

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        answer = self.http.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", timeout=30).json()
        return {f"{ti['task_id']}[{ti['map_index']}]": ti["state"] for ti in answer["task_instances"]}


def process_tree(pid: int) -> list[int]:
    """``pid`` and every descendant that is still running."""
    try:
        root = psutil.Process(pid)
        return [pid, *(child.pid for child in root.children(recursive=True))]
    except psutil.NoSuchProcess:
        return []


def command_lines(pids: list[int]) -> list[str]:
    """The command line of each process (processes gone meanwhile left out)."""
    lines = []
    for pid in pids:
        try:
            lines.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip())
        except OSError:
            continue
    return lines


def local_executor_workers(pids: list[int]) -> int:
    """Airflow LocalExecutor workers among ``pids``: processes titled ``airflow worker -- LocalExecutor``
    whose parent is not (a worker's running task carries the same title)."""
    workers = 0
    for pid in pids:
        try:
            process = psutil.Process(pid)
            parent = process.parent()
            titled = "LocalExecutor" in " ".join(process.cmdline())
            inherited = parent is not None and "LocalExecutor" in " ".join(parent.cmdline())
        except psutil.Error:
            continue
        workers += titled and not inherited
    return workers


def pss_bytes(pids: list[int]) -> int:
    """Proportional set size summed over ``pids`` (``/proc/<pid>/smaps_rollup``): shared pages split."""
    total = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1]) * 1024
    return total


class PortThief(threading.Thread):
    """Another program that takes ``port`` the moment a process whose command line holds ``command`` starts
    (after any free-port check, before that process binds) and answers 200 to every GET."""

    def __init__(self, port: int, command: list[str]) -> None:
        super().__init__(daemon=True)
        self.port, self.marker = port, "\0".join(command).encode()
        self.server: ThreadingHTTPServer | None = None
        self.stole, self.done = threading.Event(), threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.02):
            if any(self.marker in cmdline for cmdline in _command_lines_now()):
                self.server = ThreadingHTTPServer(("127.0.0.1", self.port), _AnswersOk)
                self.stole.set()
                self.server.serve_forever(poll_interval=0.1)
                return

    def __enter__(self) -> PortThief:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.done.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def _command_lines_now() -> list[bytes]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found.append((entry / "cmdline").read_bytes())
            except OSError:
                continue
    return found


class _AnswersOk(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the handler's required name
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        """Quiet."""
