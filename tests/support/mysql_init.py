"""Helpers of the tests that apply ``mysql-init/`` to the real MariaDB under throw-away names."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pymysql
from sqlalchemy import Engine, inspect

from support.paths import REPO_ROOT

INIT_SQL = REPO_ROOT / "mysql-init" / "init.sql"
PASSWORDS_SH = REPO_ROOT / "mysql-init" / "passwords.sh"
#: Quotes and a backslash: the password script must pass any password through intact.
TRICKY_PASSWORD = 'it\'s a \\ test "pw"'


@dataclass(frozen=True)
class Names:
    """Unique stand-ins for the databases and users that init.sql names, so tests never touch real ones."""

    covertype_db: str
    mlflow_db: str
    covertype_user: str
    mlflow_user: str

    def apply(self, sql: str) -> str:
        sql = sql.replace("`covertype`", f"`{self.covertype_db}`").replace("`mlflow`", f"`{self.mlflow_db}`")
        return sql.replace("'covertype'@", f"'{self.covertype_user}'@").replace(
            "'mlflow'@", f"'{self.mlflow_user}'@"
        )


def statements(sql: str) -> list[str]:
    without_comments = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [statement.strip() for statement in without_comments.split(";") if statement.strip()]


def run_as_root(sql_statements: list[str], *, port: int = 3306) -> None:
    """Run ``sql_statements`` as root on the MariaDB at 127.0.0.1:``port`` (the machine's by default)."""
    with pymysql.connect(host="127.0.0.1", port=port, user="root", autocommit=True) as connection:
        cursor = connection.cursor()
        for statement in sql_statements:
            cursor.execute(statement)


def password_sql(covertype_password: str = TRICKY_PASSWORD, mlflow_password: str = "mlflow-pw") -> str:
    """The SQL passwords.sh hands to the MySQL image's docker_process_sql."""
    script = f'docker_process_sql() {{ cat; }}; source "{PASSWORDS_SH}"'
    env = {
        "MYSQL_COVERTYPE_PASSWORD": covertype_password,
        "MYSQL_MLFLOW_PASSWORD": mlflow_password,
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, check=True).stdout


@contextmanager
def mysql_init_applied(
    covertype_password: str = TRICKY_PASSWORD,
    mlflow_password: str = "mlflow-pw",
    *,
    init_sql: str | None = None,
    port: int = 3306,
) -> Iterator[Names]:
    """init.sql (or ``init_sql``) then passwords.sh applied to the real server (at ``port``) under unique
    names; everything dropped after."""
    names = unique_names()
    try:
        apply_mysql_init(names, covertype_password, mlflow_password, init_sql=init_sql, port=port)
        yield names
    finally:
        drop_applied(names, port=port)


def unique_names() -> Names:
    tag = uuid.uuid4().hex[:8]
    return Names(f"covertype_init_{tag}", f"mlflow_init_{tag}", f"ct_{tag}", f"mf_{tag}")


def apply_mysql_init(
    names: Names,
    covertype_password: str,
    mlflow_password: str,
    *,
    init_sql: str | None = None,
    port: int = 3306,
) -> None:
    """init.sql (or ``init_sql``) then passwords.sh applied under ``names`` (nothing dropped afterwards: for
    a server thrown away with its folder)."""
    run_as_root(statements(names.apply(INIT_SQL.read_text() if init_sql is None else init_sql)), port=port)
    run_as_root(statements(names.apply(password_sql(covertype_password, mlflow_password))), port=port)


def schema_of(engine: Engine) -> dict[str, object]:
    """Every table's columns (name, type, nullability), primary key, unique keys and indexes."""
    inspector = inspect(engine)
    described: dict[str, object] = {}
    for table in sorted(inspector.get_table_names()):
        described[table] = {
            "columns": [
                (c["name"], c["type"].compile(engine.dialect), c["nullable"], c.get("autoincrement"))
                for c in inspector.get_columns(table)
            ],
            "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            "unique": sorted(
                (u["name"], tuple(u["column_names"])) for u in inspector.get_unique_constraints(table)
            ),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in inspector.get_indexes(table)
            ),
        }
    return described


def connect_as(user: str, password: str, database: str) -> pymysql.Connection:
    return pymysql.connect(host="127.0.0.1", port=3306, user=user, password=password, database=database)


def drop_applied(names: Names, *, port: int = 3306) -> None:
    """Drop the databases and users init.sql created under ``names``."""
    run_as_root(
        [
            f"DROP DATABASE IF EXISTS `{names.covertype_db}`",
            f"DROP DATABASE IF EXISTS `{names.mlflow_db}`",
            f"DROP USER IF EXISTS '{names.covertype_user}'@'%'",
            f"DROP USER IF EXISTS '{names.mlflow_user}'@'%'",
        ],
        port=port,
    )
