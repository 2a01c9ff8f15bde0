"""The machine's services the tests use: MariaDB's admin URL, free TCP ports, a service run for a while."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from covertype.processes import Service

MARIADB_ADMIN_URL = "mysql+pymysql://root@127.0.0.1:3306"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(service: Service, *, timeout: float) -> Iterator[Service]:
    """``service`` started and healthy within ``timeout`` seconds; stopped on the way out."""
    service.start()
    try:
        service.wait_healthy(timeout=timeout)
        yield service
    finally:
        service.stop()
