"""Private Redis and MariaDB servers for the fault harness: the machine's own binaries on free ports, in a
folder of the test, so that a fault (``SHUTDOWN NOSAVE``, SIGKILL) never touches the machine's shared servers.
Redis runs with compose's command (its persistence), MariaDB with the server's defaults.

A server has no HTTP health URL: :class:`TcpService` counts it ready once its port accepts a connection from
its own process.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

from covertype.processes import Service


class TcpService(Service):
    """A :class:`Service` ready once its port accepts a TCP connection (a database server, a broker)."""

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2):
                return True
        except OSError:
            return False


def redis_command(command: list[str], port: int, folder: Path) -> list[str]:
    """Compose's ``redis-server`` ``command`` (its persistence flags) on 127.0.0.1:``port``, its files in
    ``folder`` (the image's /data volume)."""
    folder.mkdir(parents=True, exist_ok=True)
    assert command[0] == "redis-server", command
    return [
        _binary("redis-server"),
        *command[1:],
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(folder),
    ]


def install_mariadb(datadir: Path) -> None:
    """A new MariaDB data folder whose root has no password (as the machine's server), no test database."""
    subprocess.run(
        [
            _binary("mysql_install_db"),
            "--no-defaults",
            f"--datadir={datadir}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--user=root",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def mariadb_command(datadir: Path, port: int) -> list[str]:
    """Debian's mariadbd on 127.0.0.1:``port`` over ``datadir``; its socket and pid file there too."""
    return [
        _binary("mariadbd"),
        "--no-defaults",
        f"--datadir={datadir}",
        f"--port={port}",
        "--bind-address=127.0.0.1",
        f"--socket={datadir / 'mariadb.sock'}",
        f"--pid-file={datadir / 'mariadb.pid'}",
        "--user=root",
        "--skip-log-bin",
        "--innodb-buffer-pool-size=256M",
        "--max-connections=300",
    ]


def _binary(name: str) -> str:
    for folder in ("/usr/sbin", "/usr/bin"):
        if (Path(folder) / name).is_file():
            return str(Path(folder) / name)
    found = shutil.which(name)
    assert found, f"{name} not found: .ci/run installs MariaDB and Redis from Debian's packages"
    return found
