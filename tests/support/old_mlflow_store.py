"""Fill an MLflow tracking store and a basic-auth database as an OLDER release does; print what it made.

Run by the older release's python (tests/deploy/test_mlflow_upgrade.py's scratch venv), never imported by
the suite: it uses only that release's public API. The environment names the stores:

- ``OLD_STORE_URI``: the tracking and registry store (the MariaDB database compose's MLflow uses);
- ``OLD_ARTIFACT_ROOT``: a folder for the experiment's artifacts;
- ``OLD_AUTH_DB_URI``: the basic-auth database (SQLite, as mlflow/basic_auth.ini has it);
- ``OLD_ADMIN_PASSWORD``, ``OLD_READER_PASSWORD``: the two users' passwords.

The store gets what the pipeline writes: an experiment, candidate runs with params, metric histories and
tags, a logged model registered as version 1, more versions with tags, and aliases. The auth database gets
an admin and a reader with READ on the experiment and the registered model. Prints one JSON document.
"""

from __future__ import annotations

import json
import os
from typing import Any

import mlflow
import numpy as np
from mlflow import MlflowClient
from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore as AuthStore
from sklearn.linear_model import LogisticRegression

MODEL = "covertype"
CANDIDATES = {
    "logreg": {"C": "0.5", "max_iter": "200"},
    "extra_trees": {"n_estimators": "200", "max_features": "sqrt"},
    "random_forest": {"n_estimators": "100", "min_samples_leaf": "2"},
}


def fill_store(uri: str, artifact_root: str) -> dict[str, Any]:
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(uri, uri)
    experiment_id = client.create_experiment(
        "covertype",
        artifact_location=f"file://{artifact_root}",
        tags={"mlflow.experimentKind": "custom_model_development"},
    )
    runs = []
    for index, (name, params) in enumerate(CANDIDATES.items()):
        with mlflow.start_run(experiment_id=experiment_id, run_name=name) as run:
            mlflow.log_params(params)
            history = [(step, 0.6 + 0.1 * index + 0.01 * step) for step in range(3)]
            for step, value in history:
                mlflow.log_metric("accuracy", value, step=step)
            mlflow.log_metric("macro_f1", 0.5 + 0.1 * index)
            tags = {"covertype.candidate": name, "covertype.group": "1"}
            mlflow.set_tags(tags)
            if index == 0:
                features, labels = np.arange(40.0).reshape(20, 2), np.arange(20) % 2
                info = mlflow.sklearn.log_model(
                    LogisticRegression().fit(features, labels), name="model", registered_model_name=MODEL
                )
                logged_model_id = info.model_id
        runs.append(
            {
                "run_id": run.info.run_id,
                "name": name,
                "params": params,
                "metrics": {"accuracy": history, "macro_f1": [(0, 0.5 + 0.1 * index)]},
                "tags": tags,
            }
        )
    client.set_registered_model_tag(MODEL, "covertype.owner", "training")
    for run in runs[1:]:
        client.create_model_version(MODEL, f"{artifact_root}/{run['run_id']}/model", run["run_id"])
    for version, verdict in (("1", "rejected"), ("2", "promoted"), ("3", "promoted")):
        client.set_model_version_tag(MODEL, version, "covertype.promotion", verdict)
    aliases = {"champion": "3", "previous": "2"}
    for alias, version in aliases.items():
        client.set_registered_model_alias(MODEL, alias, version)
    versions = [
        {"version": str(v.version), "run_id": v.run_id, "source": v.source, "tags": v.tags}
        for v in client.search_model_versions(f"name='{MODEL}'")
    ]
    return {
        "experiment_id": experiment_id,
        "runs": runs,
        "model": MODEL,
        "logged_model_id": logged_model_id,
        "versions": sorted(versions, key=lambda v: int(v["version"])),
        "aliases": aliases,
    }


def fill_auth(uri: str, experiment_id: str) -> dict[str, Any]:
    store = AuthStore()
    store.init_db(uri)
    store.create_user("admin", os.environ["OLD_ADMIN_PASSWORD"], is_admin=True)
    store.create_user("covertype-reader", os.environ["OLD_READER_PASSWORD"])
    store.create_experiment_permission(experiment_id, "covertype-reader", "READ")
    store.create_registered_model_permission(MODEL, "covertype-reader", "READ")
    return {"admin": "admin", "reader": "covertype-reader", "permission": "READ"}


def main() -> None:
    store = fill_store(os.environ["OLD_STORE_URI"], os.environ["OLD_ARTIFACT_ROOT"])
    auth = fill_auth(os.environ["OLD_AUTH_DB_URI"], store["experiment_id"])
    print(json.dumps({"mlflow_version": mlflow.__version__, "store": store, "auth": auth}))


if __name__ == "__main__":
    main()
