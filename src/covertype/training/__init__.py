"""Retraining: snapshot the store, train candidate pipelines, log to MLflow, register and promote.

What a model is (features, pipelines, ONNX export) lives in :mod:`covertype.model`; this package runs
the training around it.
"""

#: The candidate model families, by name (light to import, for ``covertype train --help``); each is
#: defined in :data:`covertype.training.candidates.CANDIDATES`.
CANDIDATE_NAMES = ("hgb", "lightgbm", "random_forest", "extra_trees", "logreg")
