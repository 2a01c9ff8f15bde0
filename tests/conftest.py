"""Fixtures shared by every test module: the shared sample, free ports, a throw-away MariaDB database."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_CSV = REPO_ROOT.parent / "shared" / "data" / "covtype-sample-15k.csv"
MARIADB_ADMIN_URL = "mysql+pymysql://root@127.0.0.1:3306"


@pytest.fixture(scope="session")
def sample_csv() -> Path:
    """The real 15,000-row UCI sample beside the repository (never copied into it)."""
    if not SAMPLE_CSV.is_file():
        pytest.fail(f"{SAMPLE_CSV} is missing: clone the project with ../shared beside it")
    return SAMPLE_CSV


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """A SQLAlchemy URL of a fresh MariaDB database, dropped after the test."""
    from sqlalchemy import create_engine, text

    name = f"covertype_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(MARIADB_ADMIN_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    except Exception as exc:  # noqa: BLE001 - the reason is reported
        admin.dispose()
        pytest.fail(f"MariaDB on 127.0.0.1:3306 is not usable: {exc}")
    try:
        yield f"{MARIADB_ADMIN_URL}/{name}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


def assert_docs_work_offline(client: object) -> None:
    """``/docs`` loads Swagger UI from the app itself (the machines it runs on may have no internet)."""
    import re

    page = client.get("/docs")  # type: ignore[attr-defined]
    assert page.status_code == 200
    assets = re.findall(r"""(?:src|href)=["']([^"']+\.(?:js|css))["']""", page.text)
    assert assets, page.text
    for asset in assets:
        assert asset.startswith("/"), f"/docs loads {asset} from another host"
        assert client.get(asset).status_code == 200, asset  # type: ignore[attr-defined]
