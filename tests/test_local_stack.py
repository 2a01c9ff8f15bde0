"""`covertype up` (the whole local stack) and `covertype demo` (the whole job headless), run for real."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from covertype.dataset import write_distinct_copies
from covertype.local_stack import Ports, airflow_admin_password, build_services
from covertype.processes import port_is_free, unused_port
from covertype.settings import Settings
from support.local_stack import (
    COVERTYPE,
    AirflowRest,
    GroupWatch,
    PortThief,
    command_lines,
    local_executor_workers,
    process_tree,
    read_until,
    stored_batches,
    up_command,
)
from support.paths import REPO_ROOT

pytestmark = pytest.mark.slow


def _processes_with(marker: str) -> list[int]:
    """PIDs whose environment mentions ``marker`` (our temp data dir): the stack's processes."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _env(tmp_path: Path, sample_csv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COVERTYPE_", "MLFLOW_", "AIRFLOW"))}
    env.update({"COVERTYPE_DATA_DIR": str(tmp_path / "data"), "COVERTYPE_DATA_SOURCE": str(sample_csv)})
    return env


#: The cadence the issue asks for: 8 consecutive batches at a 30 s interval, each stored within 15 s.
INTERVAL, BATCHES, LATEST = 30.0, 8, timedelta(seconds=15)


def test_up_on_other_ports_runs_both_dags_and_stores_every_batch_on_time(
    tmp_path: Path, sample_csv: Path
) -> None:
    """Every port changed (nothing of ours on 8080): tasks reach our Airflow, batches land on time.

    The ingestion DAG runs by itself; ``covertype_train`` is triggered through the REST API while batches
    keep arriving. Ctrl-C then stops everything.
    """
    ports = [unused_port() for _ in range(5)]
    assert 8080 not in ports
    command = up_command(ports, REPO_ROOT / "dags")
    env = _env(tmp_path, sample_csv) | {
        "COVERTYPE_BATCH_INTERVAL": str(INTERVAL),
        "COVERTYPE_BATCHES": str(BATCHES),
        "COVERTYPE_GROUPS": "1",
        "COVERTYPE_CANDIDATES": "logreg",
        "COVERTYPE_TRAIN_TIME_BUDGET": "1",
        # Runs the asset schedules skip at once (no retraining signal can fire); the REST run forces.
        "COVERTYPE_MIN_NEW_ROWS": "1000000",
        "COVERTYPE_ACCURACY_DROP": "1",
        "COVERTYPE_DRIFT_THRESHOLD": "1000",
    }
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path
    )
    watch = GroupWatch(f"http://127.0.0.1:{ports[0]}")

    def start_watch(line: str) -> None:
        if "ready (" in line and "data API" in line:
            watch.start()  # before Airflow's first poll

    text = ""
    try:
        text = read_until(process, "Press Ctrl-C", timeout=300, on_line=start_watch)
        assert "covertype is up" in text, text
        for name in ("data API", "MLflow", "Airflow", "inference API", "UI"):
            assert re.search(rf"^  {name} ready \(\d+\.\d s\)$", text, re.MULTILINE), text
        urls = re.findall(r"(http://\S+)", text)
        assert len(urls) == 5, text
        for url in urls:
            assert httpx.get(url, timeout=30, follow_redirects=True).status_code == 200, url
        password = re.search(r"login admin / (\S+)\)", text)
        assert password, text
        airflow = AirflowRest(f"http://127.0.0.1:{ports[3]}", password.group(1))
        stack = process_tree(process.pid)  # sized to the CPUs, no MLflow job runner
        assert local_executor_workers(stack) <= len(os.sched_getaffinity(0)) + 1
        assert not [line for line in command_lines(stack) if "huey_consumer" in line]

        store = tmp_path / "data" / "covertype.db"
        train_run = None
        deadline = time.monotonic() + 120 + BATCHES * INTERVAL + 120
        while time.monotonic() < deadline:
            stored = {batch for batch, _ in stored_batches(store)}
            if train_run is None and len(stored) >= 3:  # train while batches keep coming
                train_run = airflow.trigger("covertype_train", {"time_budget": 1, "force": True})
            train_state = airflow.run_state("covertype_train", train_run) if train_run else None
            # The watch reads /groups every second: let it see the last batch begin before it stops.
            seen = BATCHES in watch.started
            if len(stored) >= BATCHES and seen and train_state in ("success", "failed"):
                break
            time.sleep(3)
        else:
            pytest.fail(f"batches stored: {stored_batches(store)}, train run {train_run}: {train_state}")

        assert train_run is not None and train_state == "success", airflow.task_states(
            "covertype_train", train_run
        )
        assert set(airflow.task_states("covertype_train", train_run).values()) == {"success"}

        stored_at = stored_batches(store)
        assert [batch for batch, _ in stored_at] == list(range(1, BATCHES + 1))  # in order, none twice
        for batch, _ in stored_at[1:]:
            assert watch.started[batch] >= watch.announced[batch - 1]  # what GET /groups said before
        lags = watch.lags(stored_at)
        assert sorted(lags) == list(range(2, BATCHES + 1))
        assert max(lags.values()) <= LATEST.total_seconds(), (lags, stored_at)
        print(f"seconds from window opening to stored, by batch: {lags}")
    finally:
        watch.stop.set()
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)
    assert process.returncode == 0, text + (process.stdout.read() if process.stdout else "")
    time.sleep(1)
    assert _processes_with(str(tmp_path)) == []
    assert all(port_is_free("127.0.0.1", port) for port in ports)


def test_up_refuses_a_taken_port_clearly(tmp_path: Path, sample_csv: Path) -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        result = subprocess.run(
            [COVERTYPE, "up", "--no-airflow", "--data-api-port", str(taken)],
            env=_env(tmp_path, sample_csv),
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
    assert result.returncode == 1
    assert f"127.0.0.1:{taken}" in result.stderr and "already in use" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


#: Rows of the full UCI dataset, the default source of a user without the sample.
FULL_ROWS = 581_012


def full_size_copy(sample_csv: Path, target: Path) -> Path:
    """The sample replicated to 581,012 distinct rows (copy k of each row k metres further from a road)."""
    return write_distinct_copies(sample_csv, target, FULL_ROWS)


def test_demo_finishes_within_3_minutes_on_a_full_size_dataset(tmp_path: Path, sample_csv: Path) -> None:
    """`covertype demo` as typed (only the ports changed) on a 581,012-row source: a bounded sample."""
    source = full_size_copy(sample_csv, tmp_path / "covtype-full.csv")  # in the temp dir, never committed
    env = {**_env(tmp_path, sample_csv), "COVERTYPE_DATA_SOURCE": str(source), "COLUMNS": "200"}
    command = [
        COVERTYPE, "demo",
        "--workdir", str(tmp_path / "demo"),
        "--data-api-port", str(unused_port()),
        "--inference-port", str(unused_port()),
    ]  # fmt: skip
    started = time.monotonic()
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    elapsed = time.monotonic() - started

    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    used = re.search(
        r"Used ([\d,]+) of the source's ([\d,]+) rows \(([\d.]+)% of every batch; at most 10,000", out
    )
    assert used, out
    assert used.group(2) == f"{FULL_ROWS:,}"
    assert 9_000 <= int(used.group(1).replace(",", "")) <= 10_000
    assert "25 s of search shared by the candidates (--time-budget)" in out
    assert "Batches ingested" in out and "Candidates" in out and "alias champion" in out
    accuracy = re.search(r"Held-out predictions: ([\d.]+)% of (\d+) right", out)
    assert accuracy, out
    assert int(accuracy.group(2)) >= 1000 and float(accuracy.group(1)) > 60
    assert _processes_with(str(tmp_path)) == []
    print(f"demo on {FULL_ROWS:,} rows: {elapsed:.0f} s")
    assert elapsed < 180, f"the demo took {elapsed:.0f} s"


def test_up_gives_the_ui_its_airflow_url_and_admin_login(tmp_path: Path) -> None:
    """The Pipeline page reads DAG runs from the Airflow that `covertype up` starts, on its port."""
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    ports = Ports(data_api=18000, inference_api=18001, mlflow=15000, airflow=18080, ui=18501)
    services = {s.name: s for s in build_services(settings, ports=ports, dags_folder=REPO_ROOT / "dags")}
    ui = services["UI"].environment()
    assert ui["COVERTYPE_AIRFLOW_API_URL"] == "http://127.0.0.1:18080"
    assert ui["COVERTYPE_AIRFLOW_USERNAME"] == "admin"
    assert ui["COVERTYPE_AIRFLOW_PASSWORD"] == airflow_admin_password(tmp_path / "airflow")
    without_airflow = build_services(settings, ports=ports, dags_folder=REPO_ROOT / "dags", airflow=False)
    assert "COVERTYPE_AIRFLOW_PASSWORD" not in without_airflow[-1].environment()


def _up_without_airflow(tmp_path: Path, sample_csv: Path, ports: list[int]) -> subprocess.Popen[str]:
    """``covertype up --no-airflow`` on ``ports`` (data API, inference API, MLflow, -, UI), output piped."""
    command = [
        COVERTYPE, "up", "--no-airflow",
        "--data-api-port", str(ports[0]),
        "--inference-port", str(ports[1]),
        "--mlflow-port", str(ports[2]),
        "--ui-port", str(ports[4]),
    ]  # fmt: skip
    return subprocess.Popen(
        command,
        env=_env(tmp_path, sample_csv),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )


def _assert_all_gone(tmp_path: Path, ports: list[int]) -> None:
    assert _processes_with(str(tmp_path)) == []
    assert all(port_is_free("127.0.0.1", port) for port in ports)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_start_up_stops_what_started_within_seconds(
    tmp_path: Path, sample_csv: Path, sig: signal.Signals
) -> None:
    """Ctrl-C once the data API answers, while MLflow starts: no "covertype is up", nothing left running."""
    ports = [unused_port() for _ in range(5)]
    process = _up_without_airflow(tmp_path, sample_csv, ports)
    try:
        assert "data API ready" in read_until(process, "data API ready", timeout=120)
        signalled = time.monotonic()
        process.send_signal(sig)
        rest = process.communicate(timeout=30)[0]
        stopped_after = time.monotonic() - signalled
    finally:
        process.kill()
    assert process.returncode == 128 + sig, rest
    assert f"interrupted by {sig.name} while starting" in rest and "covertype is up" not in rest
    assert stopped_after < 10, f"stopped {stopped_after:.1f} s after {sig.name}"
    _assert_all_gone(tmp_path, ports)


def test_a_second_up_on_the_same_state_folder_names_the_running_one(tmp_path: Path, sample_csv: Path) -> None:
    first_ports, second_ports = [unused_port() for _ in range(5)], [unused_port() for _ in range(5)]
    first = _up_without_airflow(tmp_path, sample_csv, first_ports)
    try:
        started = read_until(first, "COVERTYPE_SAMPLE_FRACTION", timeout=120)
        # The quick start's source at the default fraction: say how little of it the pipeline sees.
        assert "each group receives about 1,500 of the source's 15,000 rows (10% of each of its 10" in started
        second = _up_without_airflow(tmp_path, sample_csv, second_ports)
        output = second.communicate(timeout=60)[0]
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    assert second.returncode == 1, output
    folder = (tmp_path / "data").resolve()
    assert f"error: covertype is already running from {folder} (pid {first.pid})" in output
    assert "Traceback" not in output
    _assert_all_gone(tmp_path, first_ports + second_ports)


def test_up_fails_when_another_program_takes_a_port_after_the_check(tmp_path: Path, sample_csv: Path) -> None:
    """The data API's port is taken once the API is launched, before it binds: up names the failure."""
    ports = [unused_port() for _ in range(5)]
    with PortThief(ports[0], ["data-api", "--host", "127.0.0.1", "--port", str(ports[0])]) as thief:
        process = _up_without_airflow(tmp_path, sample_csv, ports)
        try:
            output = process.communicate(timeout=180)[0]
        finally:
            process.kill()
        assert thief.stole.is_set()
    assert process.returncode == 1, output
    assert f"error: data API did not start: another program answers on port {ports[0]}" in output
    assert "address already in use" in output.splitlines()[-1]  # what the API's log says
    assert "ready (" not in output and "Traceback" not in output
    _assert_all_gone(tmp_path, [port for i, port in enumerate(ports) if i != 0])


def test_demo_fails_when_another_program_takes_the_data_api_port(tmp_path: Path, sample_csv: Path) -> None:
    """Issue 21: the demo ingested from whatever answered on its port and exited 0."""
    data_api_port = unused_port()
    command = [
        COVERTYPE, "demo",
        "--workdir", str(tmp_path / "demo"),
        "--data-api-port", str(data_api_port),
        "--inference-port", str(unused_port()),
    ]  # fmt: skip
    with PortThief(data_api_port, ["data-api", "--host", "127.0.0.1", "--port", str(data_api_port)]) as thief:
        result = subprocess.run(
            command, env=_env(tmp_path, sample_csv), capture_output=True, text=True, timeout=300, cwd=tmp_path
        )
        assert thief.stole.is_set()
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"data API did not start: another program answers on port {data_api_port}" in result.stderr
    assert "address already in use" in result.stderr
    assert "Batches ingested" not in result.stdout and "Traceback" not in result.stderr
    assert _processes_with(str(tmp_path)) == []
