"""The machine's services the tests use: MariaDB's admin URL."""

from __future__ import annotations

MARIADB_ADMIN_URL = "mysql+pymysql://root@127.0.0.1:3306"
