"""airflow-init/users.py, compose's FAB logins: what it refuses before touching Airflow (the topology
stages run it for real, twice)."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest

from support.compose import ENV_EXAMPLE_PATH, read_env_file
from support.paths import REPO_ROOT


def users_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "airflow_init_users", REPO_ROOT / "airflow-init" / "users.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_env_gives_three_logins_with_least_privilege_roles() -> None:
    accounts = users_script().accounts(read_env_file(ENV_EXAMPLE_PATH))
    assert [(name, role) for name, _, role in accounts] == [
        ("admin", "Admin"),
        ("operator", "User"),
        ("viewer", "Viewer"),
    ]


def test_a_missing_or_empty_login_is_named() -> None:
    env = read_env_file(ENV_EXAMPLE_PATH)
    del env["AIRFLOW_VIEWER_PASSWORD"]
    env["AIRFLOW_OPERATOR_USER"] = ""
    with pytest.raises(SystemExit, match="set AIRFLOW_OPERATOR_USER, AIRFLOW_VIEWER_PASSWORD"):
        users_script().accounts(env)


def test_one_name_for_two_roles_is_refused() -> None:
    env = read_env_file(ENV_EXAMPLE_PATH) | {"AIRFLOW_VIEWER_USER": "admin"}
    with pytest.raises(SystemExit, match="three different names"):
        users_script().accounts(env)
