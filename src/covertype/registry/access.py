"""Who may do what on the MLflow server of the full stack (MLflow's built-in ``basic-auth`` app).

The ``champion`` alias is the production switch, so only the training pipeline and an operator may move
it. Run once by the admin (compose service ``mlflow-setup``, ``python -m covertype.registry.access``);
running it again is safe: users that exist get the password from the environment, grants are re-set.

1. As admin, create the experiment and the registered model if they are missing. MLflow lets *any*
   authenticated user create experiments and model names, so the admin takes ours first; otherwise the
   first user to create them would own them.
2. Create (or update) the users and grant them, on the experiment and on the registered model:

   ========== =========== ================ ==============================================
   user       experiment  registered model for
   ========== =========== ================ ==============================================
   training   EDIT        EDIT             the Airflow workers: runs, versions, the alias
   operator   READ        EDIT             the web UI: its pages and roll back (the alias)
   reader     READ        READ             the inference API
   ========== =========== ================ ==============================================

The server's ``default_permission`` (``mlflow/basic_auth.ini``) is ``NO_PERMISSIONS``: a user not
listed here sees nothing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mlflow.exceptions import MlflowException
from mlflow.server.auth.client import AuthServiceClient

from covertype.registry.client import already_exists
from covertype.registry.core import Registry
from covertype.settings import Settings


@dataclass(frozen=True)
class Account:
    """One MLflow user and its permissions on the covertype experiment and registered model."""

    role: str
    username: str
    password: str
    experiment: str
    model: str


#: (role, permission on the experiment, permission on the registered model); see the module docstring.
ROLES: tuple[tuple[str, str, str], ...] = (
    ("training", "EDIT", "EDIT"),
    ("operator", "READ", "EDIT"),
    ("reader", "READ", "READ"),
)


class MissingVariable(RuntimeError):
    """A variable the provisioning needs is not set."""


def accounts_from_env(env: Mapping[str, str]) -> list[Account]:
    """``COVERTYPE_MLFLOW_<ROLE>_USER`` and ``..._PASSWORD`` for every role in :data:`ROLES`."""
    accounts = []
    for role, experiment, model in ROLES:
        names = (f"COVERTYPE_MLFLOW_{role.upper()}_USER", f"COVERTYPE_MLFLOW_{role.upper()}_PASSWORD")
        missing = [name for name in names if not env.get(name)]
        if missing:
            raise MissingVariable(f"{', '.join(missing)} not set")
        accounts.append(Account(role, env[names[0]], env[names[1]], experiment, model))
    return accounts


def ensure_resources(registry: Registry) -> str:
    """The experiment and the registered model, created by the caller (the admin) when missing."""
    experiment_id = registry.runs.ensure_experiment()
    registry.ensure_model()
    return experiment_id


def _grant(auth: AuthServiceClient, username: str, kind: str, resource: str, permission: str) -> None:
    try:
        auth.grant_user_permission(username, kind, resource, permission)
    except MlflowException as exc:
        if not already_exists(exc):
            raise
        auth.revoke_user_permission(username, kind, resource)
        auth.grant_user_permission(username, kind, resource, permission)


def provision(settings: Settings, accounts: Sequence[Account]) -> str:
    """Create the resources, the users and their grants; returns the experiment id."""
    experiment_id = ensure_resources(Registry.from_settings(settings))
    auth = AuthServiceClient(settings.tracking_uri)
    for account in accounts:
        try:
            auth.create_user(account.username, account.password)
        except MlflowException as exc:
            if not already_exists(exc):
                raise
            auth.update_user_password(account.username, account.password)
        _grant(auth, account.username, "experiment", experiment_id, account.experiment)
        _grant(auth, account.username, "registered_model", settings.model_name, account.model)
    return experiment_id


def main() -> None:  # pragma: no cover - exercised as a subprocess by tests/deploy/topology/
    try:
        accounts = accounts_from_env(os.environ)
        settings = Settings()
        experiment_id = provision(settings, accounts)
    except (MissingVariable, MlflowException) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    for account in accounts:
        print(
            f"{account.role}: {account.username} ({account.experiment} on experiment "
            f"{settings.experiment_name} [{experiment_id}], {account.model} on model {settings.model_name})"
        )


if __name__ == "__main__":  # pragma: no cover
    main()
