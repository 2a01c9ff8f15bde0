"""The MLflow model registry: the only package that talks to it.

- :mod:`~covertype.registry.core`: :class:`~covertype.registry.core.Registry`, the registry as one object:
  one client, the model name and its aliases; versions, tags, files. Built once by the composition roots
  (``Registry.from_settings``) and handed to training, monitoring and the UI.
- :mod:`~covertype.registry.runs`: the experiment and its runs (``Registry.runs``).
- :mod:`~covertype.registry.client`: the one place an ``MlflowClient`` is built, on the settings' URIs.
- :mod:`~covertype.registry.tags`: the names of the tags and aliases the registry carries (no MLflow import).
- :mod:`~covertype.registry.aliases`: the operator's promotion (``covertype promote``, the UI's Roll back).
- :mod:`~covertype.registry.queries`: what the web UI's Models page shows (pandas, mlflow-skinny).
- :mod:`~covertype.registry.types`: ``VersionRef``, the ``RegistryReader`` protocol and the errors
  (no MLflow import).
- :mod:`~covertype.registry.reader`: what the inference API reads, over MLflow's REST API with httpx
  (no MLflow import: the inference extra has no MLflow client); a local store is read by the ``Registry``.
- :mod:`~covertype.registry.access`: the MLflow server's users and grants (``python -m``).
- :mod:`~covertype.registry.task_logging`: MLflow's log lines in Airflow task logs at their level (no MLflow
  import; the DAG files call it).

This ``__init__`` imports nothing, so the inference API can use the tags and the REST reader without MLflow.
The promotion *decision* (re-scoring the champion, the size gate) is training's, in
:mod:`covertype.training.promotion`: it needs scikit-learn, which the UI image does not have.
"""
