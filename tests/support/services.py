"""The machine's services the tests use: MariaDB's admin URL and free TCP ports."""

from __future__ import annotations

import socket

MARIADB_ADMIN_URL = "mysql+pymysql://root@127.0.0.1:3306"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
