"""Child processes for the local stack and tests: start, wait until healthy and ours, stop the whole group.

Each service runs in its own session (process group) so that stopping it also stops what it spawned
(Airflow standalone starts its parts as subprocesses; uvicorn starts workers).

A health check alone cannot tell our server from another program that took the port between the free-port
check and the bind: a service counts as started only once the socket listening on its port belongs to its
own process tree.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Self

import httpx
import psutil

from covertype.settings import Settings


class PortInUse(RuntimeError):
    """A port a service needs is already taken."""


class ServiceFailed(RuntimeError):
    """A service exited, did not become healthy in time, or another program answers on its port."""


class Interrupted(RuntimeError):
    """SIGINT or SIGTERM arrived while services were starting; ``signum`` is the signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


class StopRequest(threading.Event):
    """An event that SIGINT and SIGTERM set while it is entered (``with``); it remembers the signal."""

    signum: int = signal.SIGINT

    def __enter__(self) -> StopRequest:
        self._previous = {sig: signal.signal(sig, self._receive) for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *_: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _receive(self, signum: int, _frame: FrameType | None) -> None:
        self.signum = signum
        self.set()

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``; raise :class:`Interrupted` as soon as a stop is requested."""
        if self.wait(seconds):
            raise Interrupted(self.signum)


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def unused_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (for internal servers whose port nobody types)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


_ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL|FATAL|Error|error)\b")


def telling_line(path: Path, start: int = 0) -> str:
    """The line of a log (from byte ``start`` on) that best says why a service stopped: its last error line,
    or its last non-blank line (a server's last words are often "shutdown complete", after the error)."""
    try:
        with path.open("rb") as log:
            log.seek(max(start, log.seek(0, os.SEEK_END) - 16_384))
            text = log.read().decode(errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if _ERROR_LINE.search(line)]
    return (errors or lines or [""])[-1]


#: Where cgroup v2 keeps the CPU quota of this process's group: ``<quota> <period>`` or ``max <period>``.
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def usable_cpus(cgroup_cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """The CPUs this process may use: its affinity mask (which ``taskset`` or a cpuset narrows), and at most
    its cgroup's CPU quota rounded up (a container's ``--cpus``, a pod's CPU limit), which the mask
    ignores."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    try:
        quota, period = cgroup_cpu_max.read_text().split()[:2]
        limit = math.ceil(int(quota) / int(period))
    except (OSError, ValueError):  # no cgroup v2 file, or no quota ("max")
        return cpus
    return max(1, min(cpus, limit))


@dataclass
class Service:
    """One long-running child process, the URL that tells when it is ready and the port it listens on.

    The child inherits this process's environment with ``settings`` (when given) in place of the settings
    variables found there, and ``env`` (variables that are no setting) on top.

    As a context manager (``with service:``) it starts, waits up to ``start_timeout`` seconds until healthy,
    and stops the whole process tree on the way out, also on an exception or a failed start.
    """

    name: str
    command: list[str]
    health_url: str
    port: int
    env: dict[str, str] = field(default_factory=dict)
    settings: Settings | None = None
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    start_timeout: float = 120.0
    _log_start: int = field(default=0, init=False, repr=False)  # where this run begins in the appended log
    _tree: list[psutil.Process] = field(default_factory=list, init=False, repr=False)  # seen at terminate

    def __enter__(self) -> Self:
        self.start()
        try:
            self.wait_healthy(self.start_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self._log_start = 0 if isinstance(log, int) else log.tell()
        self.process = subprocess.Popen(
            self.command,
            env=self.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def environment(self) -> dict[str, str]:
        """The child's whole environment."""
        inherited = self.settings.child_environ(os.environ) if self.settings else dict(os.environ)
        return inherited | self.env

    def wait_healthy(self, timeout: float, stop: StopRequest | None = None) -> None:
        """Poll ``health_url`` until it answers 2xx from this service's own socket.

        Fails early when the process dies or another program answers on the port; raises
        :class:`Interrupted` at once when ``stop`` is set.
        """
        stop = stop or StopRequest()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise self._failure(f"exited with code {self.process.returncode}")
            if self._answers():
                if self.listens():
                    return
                raise self._taken_port(stop)
            stop.sleep(0.3)
        raise self._failure(f"did not answer {self.health_url} within {timeout:.0f} s")

    def _answers(self) -> bool:
        try:
            return httpx.get(self.health_url, timeout=2).is_success
        except httpx.HTTPError:
            return False

    def listens(self) -> bool:
        """Whether the socket listening on ``port`` belongs to this service's process or a descendant."""
        if self.process is None:
            return False
        try:
            root = psutil.Process(self.process.pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return False
        for member in tree:
            try:
                connections = member.net_connections(kind="tcp")
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            if any(c.status == psutil.CONN_LISTEN and c.laddr.port == self.port for c in connections):
                return True
        return False

    def _taken_port(self, stop: StopRequest, grace: float = 60.0) -> ServiceFailed:
        """Another program answers on our port: give our process ``grace`` seconds to fail, then stop it.

        Its log then tells why it did not start (typically "address already in use"); a loaded machine may
        take many seconds to import a server before it tries to bind.
        """
        assert self.process is not None
        deadline = time.monotonic() + grace
        while self.process.poll() is None and time.monotonic() < deadline:
            stop.sleep(0.3)
        self.stop(timeout=5)
        return self._failure(f"did not start: another program answers on port {self.port}")

    def _failure(self, what: str) -> ServiceFailed:
        """``what`` happened, with the log's telling line and where the log is."""
        if self.log_path is None:
            return ServiceFailed(f"{self.name} {what}")
        line = telling_line(self.log_path, self._log_start)
        said = f"; its log: {line}" if line else ""
        return ServiceFailed(f"{self.name} {what}{said} (log: {self.log_path})")

    def check_running(self) -> None:
        """Raise :class:`ServiceFailed` (with the log's telling line) when the process has exited."""
        if self.process is not None and self.process.poll() is not None:
            raise self._failure(f"stopped unexpectedly with code {self.process.returncode}")

    def terminate(self) -> None:
        """SIGTERM the whole process group (without waiting); remember every process it started by then."""
        if self.process is not None and self._alive():
            self._tree = descendants(self.process.pid)
            _signal_group(self.process.pid, signal.SIGTERM)

    def reap(self, deadline: float) -> None:
        """Wait until the process group is gone or ``deadline`` (monotonic) passes; SIGKILL what is left,
        descendants in sessions of their own included (Airflow's supervisor starts each task in one: a
        Celery worker's running task outlived its worker's group)."""
        if self.process is None:
            return
        while self._alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        _signal_group(self.process.pid, signal.SIGKILL)
        for process in self._tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        self.process.wait()
        self._tree = []

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the whole process group, then SIGKILL what is left after ``timeout``."""
        stop_all([self], timeout)

    def _alive(self) -> bool:
        """Whether the leader or anything else of its group still runs (the leader is reaped on exit)."""
        assert self.process is not None
        return self.process.poll() is None or _group_alive(self.process.pid)


def stop_all(services: Sequence[Service], timeout: float = 20.0) -> None:
    """SIGTERM every service's process group at once, then SIGKILL what is left after ``timeout`` seconds."""
    for service in services:
        service.terminate()
    deadline = time.monotonic() + timeout
    for service in services:
        service.reap(deadline)


def descendants(pid: int) -> list[psutil.Process]:
    """Every process ``pid`` started, whatever its process group or session (empty once it is gone)."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True
