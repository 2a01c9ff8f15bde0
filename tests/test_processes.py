"""Stopping a service stops everything it started, also what runs in a session of its own (as Airflow's
supervisor starts each task): nothing is left running after ``covertype up`` or a test's stack stops.
``with service:`` starts it, waits until healthy and stops it, whatever happens inside. And how many CPUs
a process may use (for the refit's threads)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pytest

from covertype.processes import Service, ServiceFailed, descendants, unused_port, usable_cpus

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

    assert wait_ended(child), "the child in its own session outlived the service"


#: An HTTP server on the port in argv[1] that first starts a grandchild and writes its pid to argv[2].
SERVER = """
import pathlib, subprocess, sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
pathlib.Path(sys.argv[2]).write_text(str(child.pid))
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), SimpleHTTPRequestHandler).serve_forever()
"""


def http_service(tmp_path: Path) -> tuple[Service, Path]:
    """A service answering on a free port that started a grandchild; the file its grandchild's pid goes to."""
    port, pid_file = unused_port(), tmp_path / "grandchild.pid"
    command = [sys.executable, "-c", SERVER, str(port), str(pid_file)]
    service = Service("server", command, f"http://127.0.0.1:{port}/", port, log_path=tmp_path / "server.log")
    service.start_timeout = 60
    return service, pid_file


def test_with_starts_a_healthy_service_and_stops_its_whole_tree(tmp_path: Path) -> None:
    service, pid_file = http_service(tmp_path)

    with service as entered:
        assert entered is service
        assert httpx.get(service.health_url, timeout=5).is_success and service.listens()
        assert service.process is not None
        server = psutil.Process(service.process.pid)
        grandchild = psutil.Process(int(pid_file.read_text()))
        assert not ended(grandchild)

    assert ended(server) and wait_ended(grandchild), "the service's tree outlived the with block"
    with pytest.raises(httpx.TransportError):
        httpx.get(service.health_url, timeout=5)


def test_with_stops_the_service_when_the_block_raises(tmp_path: Path) -> None:
    service, pid_file = http_service(tmp_path)

    with pytest.raises(KeyError), service:
        grandchild = psutil.Process(int(pid_file.read_text()))
        raise KeyError("the test's own failure")

    assert service.process is not None and service.process.returncode is not None
    assert wait_ended(grandchild)


def test_with_a_service_that_exits_at_once_fails_with_its_output(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "import sys; print('cannot open the store', flush=True); sys.exit(3)"]
    service = Service("broken", command, "http://127.0.0.1:9/", 9, log_path=tmp_path / "broken.log")

    with pytest.raises(ServiceFailed, match="broken exited with code 3.*cannot open the store"), service:
        pytest.fail("the block ran although the service never became healthy")

    assert service.process is not None and service.process.returncode == 3


def wait_ended(process: psutil.Process, timeout: float = 10) -> bool:
    """Whether ``process`` ends within ``timeout`` seconds (see :func:`ended`)."""
    deadline = time.monotonic() + timeout
    while not ended(process) and time.monotonic() < deadline:
        time.sleep(0.1)
    return ended(process)


def ended(process: psutil.Process) -> bool:
    """Gone, or a zombie: an orphan is reaped by pid 1, which on some machines never reaps."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [
        ("150000 100000\n", lambda mask: min(mask, 2)),  # --cpus 1.5: two threads can use it
        ("50000 100000\n", lambda mask: 1),
        ("max 100000\n", lambda mask: mask),  # no quota
        (None, lambda mask: mask),  # no cgroup v2 here
    ],
)
def test_usable_cpus_is_the_affinity_mask_within_the_cgroup_quota(
    tmp_path: Path, cpu_max: str | None, expected: Callable[[int], int]
) -> None:
    path = tmp_path / "cpu.max"
    if cpu_max is not None:
        path.write_text(cpu_max)
    assert usable_cpus(path) == expected(len(os.sched_getaffinity(0)))
