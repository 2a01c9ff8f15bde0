"""Child processes for the local stack and tests: start, wait until healthy, stop the whole group.

Each service runs in its own session (process group) so that stopping it also stops what it spawned
(Airflow standalone starts its parts as subprocesses; uvicorn starts workers).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from covertype.settings import Settings


class PortInUse(RuntimeError):
    """A port a service needs is already taken."""


class ServiceFailed(RuntimeError):
    """A service exited or did not become healthy in time."""


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


@dataclass
class Service:
    """One long-running child process and the URL that tells when it is ready.

    The child inherits this process's environment with ``settings`` (when given) in place of the settings
    variables found there, and ``env`` (variables that are no setting) on top.
    """

    name: str
    command: list[str]
    health_url: str
    port: int
    env: dict[str, str] = field(default_factory=dict)
    settings: Settings | None = None
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
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

    def wait_healthy(self, timeout: float) -> None:
        """Poll ``health_url`` until it answers 2xx; fail early when the process dies."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ServiceFailed(
                    f"{self.name} exited with code {self.process.returncode}{self._log_hint()}"
                )
            try:
                if httpx.get(self.health_url, timeout=2).is_success:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise ServiceFailed(
            f"{self.name} did not answer {self.health_url} within {timeout:.0f} s{self._log_hint()}"
        )

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the whole process group, then SIGKILL what is left after ``timeout``."""
        if self.process is None or self.process.poll() is not None and not _group_alive(self.process.pid):
            return
        _signal_group(self.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=timeout)
        deadline = time.monotonic() + 5
        while _group_alive(self.process.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        _signal_group(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def _log_hint(self) -> str:
        return f" (log: {self.log_path})" if self.log_path else ""


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True
