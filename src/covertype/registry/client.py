"""The one place an ``MlflowClient`` is built: on the settings' tracking and registry URI, explicitly.

Getting a client changes no process-wide state (``mlflow.set_tracking_uri``/``set_registry_uri``), so two
settings in one process (tests, the demo) never reach each other's registry.
"""

from __future__ import annotations

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, RESOURCE_DOES_NOT_EXIST, ErrorCode
from mlflow.tracking import MlflowClient

from covertype.settings import Settings


def mlflow_client(settings: Settings) -> MlflowClient:
    """A client on the settings' tracking server, which is also the model registry."""
    return MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)


def does_not_exist(exc: MlflowException) -> bool:
    """Whether MLflow refused because the model (or version, or experiment) does not exist."""
    return bool(exc.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST))


def already_exists(exc: MlflowException) -> bool:
    """Whether MLflow refused to create something that exists already."""
    return bool(exc.error_code == ErrorCode.Name(RESOURCE_ALREADY_EXISTS))
