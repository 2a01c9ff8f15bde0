"""Stopping a service stops everything it started, also what runs in a session of its own (as Airflow's
supervisor starts each task): nothing is left running after ``covertype up`` or a test's stack stops."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psutil

from covertype.processes import Service, descendants

#: A parent that starts a child in a new session (outside its process group), prints its pid, then sleeps.
PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
print(child.pid, flush=True)
time.sleep(120)
"""


def test_stopping_a_service_stops_a_descendant_in_its_own_session(tmp_path: Path) -> None:
    log = tmp_path / "parent.log"
    service = Service("parent", [sys.executable, "-c", PARENT], "http://127.0.0.1:9/", 9, log_path=log)
    service.start()
    deadline = time.monotonic() + 30
    while not log.read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.1)
    child = psutil.Process(int(log.read_text().split()[0]))
    assert service.process is not None and child in descendants(service.process.pid)
    assert not ended(child)

    service.stop(timeout=2)

    deadline = time.monotonic() + 10
    while not ended(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ended(child), "the child in its own session outlived the service"


def ended(process: psutil.Process) -> bool:
    """Gone, or a zombie: an orphan is reaped by pid 1, which on some machines never reaps."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
