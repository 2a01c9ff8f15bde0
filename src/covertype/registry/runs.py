"""The tracking side of the registry's client: the experiment, its runs, their figures and files.

:class:`Runs` is :attr:`covertype.registry.core.Registry.runs`; it shares the registry's one client.
Training opens and closes its runs here, monitoring logs its per-batch figures here.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from mlflow.artifacts import download_artifacts
from mlflow.entities import DatasetInput, Metric, Run
from mlflow.tracking import MlflowClient

#: The MLflow UI opens an experiment with this tag on its runs, not on the GenAI view (traces, assistant).
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
#: Run tag MLflow sets on a nested run: the id of its parent.
PARENT_RUN_TAG = "mlflow.parentRunId"


class Runs:
    """The runs of the experiment ``experiment_name`` on the tracking server at ``tracking_uri``.

    ``artifact_location`` is where a new experiment keeps its files (None: the server's choice).
    """

    def __init__(
        self,
        client: MlflowClient,
        *,
        tracking_uri: str,
        experiment_name: str,
        artifact_location: str | None = None,
    ) -> None:
        self.client = client
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        self.artifact_location = artifact_location

    def ensure_experiment(self) -> str:
        """The id of the experiment, created with :data:`EXPERIMENT_KIND` when missing; an existing
        experiment without that tag gets it."""
        experiment = self.client.get_experiment_by_name(self.experiment_name)
        if experiment is not None:
            for key, value in EXPERIMENT_KIND.items():
                if experiment.tags.get(key) != value:
                    self.client.set_experiment_tag(experiment.experiment_id, key, value)
            return str(experiment.experiment_id)
        return str(
            self.client.create_experiment(
                self.experiment_name, artifact_location=self.artifact_location, tags=EXPERIMENT_KIND
            )
        )

    def create(self, experiment_id: str, *, name: str, tags: Mapping[str, str]) -> str:
        """Open (``RUNNING``) a run named ``name`` with ``tags``; its id."""
        return str(self.client.create_run(experiment_id, run_name=name, tags=dict(tags)).info.run_id)

    def get(self, run_id: str) -> Run:
        return self.client.get_run(run_id)

    def experiment_of(self, run_id: str) -> str:
        return str(self.get(run_id).info.experiment_id)

    def log_params(self, run_id: str, params: Mapping[str, object]) -> None:
        for key, value in params.items():
            self.client.log_param(run_id, key, value)

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        self.client.log_inputs(run_id, datasets=list(datasets))

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_tag(run_id, key, value)

    def finish(
        self,
        run_id: str,
        *,
        tags: Mapping[str, str] | None = None,
        metrics: Mapping[str, float] | None = None,
        status: str = "FINISHED",
    ) -> None:
        """Write ``tags`` and ``metrics`` on the run, then close it with ``status``."""
        self.set_tags(run_id, tags or {})
        for key, value in (metrics or {}).items():
            self.client.log_metric(run_id, key, value)
        self.client.set_terminated(run_id, status)

    def running_children(self, parent_run_id: str) -> list[Run]:
        """The runs nested in ``parent_run_id`` that are still ``RUNNING``."""
        return list(
            self.client.search_runs(
                [self.experiment_of(parent_run_id)],
                filter_string=f"tags.{PARENT_RUN_TAG} = '{parent_run_id}' and attributes.status = 'RUNNING'",
            )
        )

    def metrics(self, run_id: str) -> dict[str, float]:
        """The latest value of each metric of the run."""
        return dict(self.get(run_id).data.metrics)

    def metric_steps(self, run_id: str, key: str) -> set[int]:
        """The steps at which the run logged metric ``key``."""
        return {point.step for point in self.client.get_metric_history(run_id, key)}

    def log_metrics(self, run_id: str, metrics: Sequence[Metric]) -> None:
        self.client.log_batch(run_id, metrics=list(metrics))

    def log_text(self, run_id: str, text: str, path: str) -> None:
        self.client.log_text(run_id, text, path)

    def artifact(self, run_id: str, path: str) -> bytes:
        """The bytes of one artifact of a run (through the tracking server when it is one)."""
        with tempfile.TemporaryDirectory(prefix="covertype-artifact-") as folder:
            local = download_artifacts(
                run_id=run_id, artifact_path=path, dst_path=folder, tracking_uri=self.tracking_uri
            )
            return Path(local).read_bytes()
