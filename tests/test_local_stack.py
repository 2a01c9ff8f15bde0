"""`covertype up` (the whole local stack) and `covertype demo` (the whole job headless), run for real."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import free_port

from covertype.local_stack import Ports, airflow_admin_password, build_services
from covertype.processes import port_is_free
from covertype.settings import Settings

COVERTYPE = str(Path(sys.executable).parent / "covertype")
REPO_ROOT = Path(__file__).resolve().parents[1]

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


def test_up_answers_on_every_printed_url_and_leaves_no_process(tmp_path: Path, sample_csv: Path) -> None:
    ports = [free_port() for _ in range(5)]
    command = [
        COVERTYPE,
        "up",
        "--data-api-port",
        str(ports[0]),
        "--inference-port",
        str(ports[1]),
        "--mlflow-port",
        str(ports[2]),
        "--airflow-port",
        str(ports[3]),
        "--ui-port",
        str(ports[4]),
        "--dags-folder",
        str(REPO_ROOT / "dags"),
    ]
    process = subprocess.Popen(
        command,
        env=_env(tmp_path, sample_csv),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    output: list[str] = []
    try:
        deadline = time.monotonic() + 300
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            output.append(line)
            if "Press Ctrl-C" in line:
                break
        text = "".join(output)
        assert "covertype is up" in text, text
        urls = re.findall(r"(http://\S+)", text)
        assert len(urls) == 5, text
        assert re.search(r"login admin / \S+", text), text
        for url in urls:
            assert httpx.get(url, timeout=30, follow_redirects=True).status_code == 200, url
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)
    assert process.returncode == 0, "".join(output) + (process.stdout.read() if process.stdout else "")
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


def test_demo_runs_end_to_end_on_the_sample(tmp_path: Path, sample_csv: Path) -> None:
    result = subprocess.run(
        [
            COVERTYPE,
            "demo",
            "--workdir",
            str(tmp_path / "demo"),
            "--interval",
            "0.5",
            "--time-budget",
            "5",
            "--data-api-port",
            str(free_port()),
            "--inference-port",
            str(free_port()),
        ],
        env={**_env(tmp_path, sample_csv), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Batches ingested" in out and "Candidates" in out
    assert "alias champion" in out
    accuracy = re.search(r"Held-out predictions: ([\d.]+)% of (\d+) right", out)
    assert accuracy, out
    assert int(accuracy.group(2)) > 100 and float(accuracy.group(1)) > 60
    assert _processes_with(str(tmp_path)) == []


def test_up_gives_the_ui_its_airflow_url_and_admin_login(tmp_path: Path) -> None:
    """The Pipeline page reads DAG runs from the Airflow that `covertype up` starts, on its port."""
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    ports = Ports(data_api=18000, inference_api=18001, mlflow=15000, airflow=18080, ui=18501)
    services = {s.name: s for s in build_services(settings, ports=ports, dags_folder=REPO_ROOT / "dags")}
    ui = services["UI"].env
    assert ui["COVERTYPE_AIRFLOW_API_URL"] == "http://127.0.0.1:18080"
    assert ui["COVERTYPE_AIRFLOW_USERNAME"] == "admin"
    assert ui["COVERTYPE_AIRFLOW_PASSWORD"] == airflow_admin_password(tmp_path / "airflow")
    without_airflow = build_services(settings, ports=ports, dags_folder=REPO_ROOT / "dags", airflow=False)
    assert "COVERTYPE_AIRFLOW_PASSWORD" not in without_airflow[-1].env
