"""Airflow's users in compose (FAB auth manager), from .env: airflow-init runs this after migrating.

Each login comes from ``AIRFLOW_<ROLE>_USER`` / ``AIRFLOW_<ROLE>_PASSWORD``, with FAB's built-in roles:

========== ========== ======================================================
login      FAB role   for
========== ========== ======================================================
admin      Admin      whoever runs the stack: users, connections, everything
operator   User       triggers and clears DAG runs
viewer     Viewer     the web UI's Pipeline page: reads DAGs and their runs
========== ========== ======================================================

Idempotent, like ``mlflow-setup``: a user that exists gets the password and the role from the environment
again, so re-running airflow-init after changing .env brings Airflow in line with it. One Python process
instead of ``airflow users create`` / ``reset-password`` per user: each ``airflow`` command takes seconds to
start, and passwords stay off command lines.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

#: (variable prefix, FAB role); see the module docstring.
LOGINS: tuple[tuple[str, str], ...] = (
    ("AIRFLOW_ADMIN", "Admin"),
    ("AIRFLOW_OPERATOR", "User"),
    ("AIRFLOW_VIEWER", "Viewer"),
)


def accounts(environ: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(username, password, role) of each login; a missing or empty variable is an error naming it."""
    missing = [
        f"{prefix}_{part}"
        for prefix, _ in LOGINS
        for part in ("USER", "PASSWORD")
        if not environ.get(f"{prefix}_{part}")
    ]
    if missing:
        raise SystemExit(f"airflow-init: set {', '.join(missing)} (in .env)")
    usernames = [environ[f"{prefix}_USER"] for prefix, _ in LOGINS]
    if len(set(usernames)) != len(usernames):
        raise SystemExit(
            f"airflow-init: the admin, operator and viewer need three different names, got {usernames}"
        )
    return [(environ[f"{prefix}_USER"], environ[f"{prefix}_PASSWORD"], role) for prefix, role in LOGINS]


def main() -> None:
    wanted = accounts(os.environ)
    # Imported here: the FAB provider needs Airflow's configuration, read from the environment on import.
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    with get_application_builder() as appbuilder:
        security = appbuilder.sm
        for username, password, role_name in wanted:
            role = security.find_role(role_name)
            if role is None:
                raise SystemExit(
                    f"airflow-init: FAB has no role {role_name!r}: was `airflow db migrate` run?"
                )
            user = security.find_user(username=username)
            if user is None:
                if not security.add_user(
                    username, username, role_name, f"{username}@airflow.invalid", role, password
                ):
                    raise SystemExit(f"airflow-init: FAB did not create the user {username!r}")
                print(f"Airflow user {username!r} created with role {role_name}")
            else:
                user.roles = [role]
                security.update_user(user)
                security.reset_password(user.id, password)
                print(f"Airflow user {username!r} exists: role {role_name} and password set again")


if __name__ == "__main__":
    main()
