"""The MLflow model registry: the only package that talks to it.

- :mod:`~covertype.registry.tags`: the names of the tags and aliases the registry carries (no MLflow import).
- :mod:`~covertype.registry.client`: the one place an ``MlflowClient`` is built, on the settings' URIs.
- :mod:`~covertype.registry.versions`: register, tag, list and download versions; the registered model's tags.
- :mod:`~covertype.registry.aliases`: the champion and challenger aliases, and the operator's promotion.
- :mod:`~covertype.registry.queries`: what the web UI's Models page shows (pandas, mlflow-skinny).
- :mod:`~covertype.registry.reader`: what the inference API reads, over MLflow's REST API with httpx
  (no MLflow import: the inference extra has no MLflow client); a local store goes through
  :mod:`~covertype.registry.local_reader`.
- :mod:`~covertype.registry.access`: the MLflow server's users and grants (``python -m``).
- :mod:`~covertype.registry.task_logging`: MLflow's log lines in Airflow task logs at their level (no MLflow
  import; the DAG files call it).

This ``__init__`` imports nothing, so the inference API can use the tags and the REST reader without MLflow.
The promotion *decision* (re-scoring the champion, the size gate) is training's, in
:mod:`covertype.training.registry`: it needs scikit-learn, which the UI image does not have.
"""
