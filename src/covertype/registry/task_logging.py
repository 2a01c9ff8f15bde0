"""MLflow's log lines in an Airflow task's log at their own level, not as errors.

On import, MLflow gives its loggers (``mlflow``, and ``alembic``, ``sqlalchemy.engine`` and ``huey`` for its
stores) a handler of their own that writes to stderr, and stops them propagating. Airflow's task runner
captures a task's stderr and records every line of it as an error, so each of MLflow's INFO lines showed as
``[error]`` in the task logs. In a task, MLflow is told not to configure its logging
(``MLFLOW_CONFIGURE_LOGGING=false``): its loggers propagate to the task's handlers, which record each line
at its level. The store loggers stay at WARNING, as MLflow sets them.

This module imports no MLflow, so a DAG file calls it at parse time, before any task imports MLflow.
"""

from __future__ import annotations

import logging
import os
import sys

#: The loggers MLflow's import configures, and the level each gets here (None: the host's level).
MLFLOW_LOGGERS: dict[str, int | None] = {
    "mlflow": None,
    "alembic": logging.WARNING,
    "sqlalchemy.engine": logging.WARNING,
    "huey": logging.WARNING,
}


def route_mlflow_logging_to_task_log() -> None:
    """Let MLflow's loggers propagate to the Airflow task's handlers instead of writing to stderr.

    Before MLflow is imported, its own configuration is turned off (unless ``MLFLOW_CONFIGURE_LOGGING`` is
    set); after, the handlers its import installed are taken off.
    """
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
    for name, level in MLFLOW_LOGGERS.items():
        logger = logging.getLogger(name)
        if "mlflow" in sys.modules:  # imported already: undo what its import configured
            logger.handlers = []
            logger.propagate = True
            logger.setLevel(logging.NOTSET)
        if level is not None:
            logger.setLevel(level)
