"""covertype: batch ingestion and retraining for the forest cover-type dataset."""

import os

# MLflow's usage telemetry, failing to start offline, unset an environment variable while the client's
# request read it: a training task failed with KeyError '_MLFLOW_TELEMETRY_SESSION_ID' (the full-size
# benchmark, benchmarks/results/full_size.json). Off in every covertype process unless the user sets it.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed package's metadata on first use (the API apps show it):
    importing :mod:`importlib.metadata` takes a third of ``covertype --help``'s imports."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("covertype")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        found = "0.0.0"
    globals()["__version__"] = found
    return found
